-- The distribution deltas keep one grain, the month: the year rows doubled
-- the rows every level change wrote, for a count on a date that sums a few
-- thousand month rows well under its bound anyway (docs/projections.md).
DELETE FROM distribution_deltas WHERE grain = 0;
ALTER TABLE distribution_deltas DROP COLUMN grain;
ALTER TABLE distribution_deltas ADD PRIMARY KEY (field, bucket, department, level);

-- A person's latest position is read from their events (the index
-- person_events_person) instead of being rewritten on their row by every
-- batch that holds one of their events.
ALTER TABLE people DROP COLUMN position;

ANALYZE distribution_deltas;
