-- Level periods are read by person only (a person's history, and the
-- people filter on a minimum level, through the primary key). The index on
-- (field, valid_from) served the distribution before distribution_periods
-- and the deltas took it over (003, 004); since then nothing reads it, and
-- every level change a batch writes or deletes still paid for it.
DROP INDEX IF EXISTS level_periods_field_from;
