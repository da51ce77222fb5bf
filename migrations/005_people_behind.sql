-- A bulk catch-up (a rebuild) stores events first and judges the people
-- they touch once, when it reaches the head. people_from marks such a
-- stretch: the people rows reflect the events up to it only, and the people
-- with events after it are rewritten whole before anything else (NULL: the
-- rows reflect every stored event).
ALTER TABLE projection_checkpoint ADD COLUMN people_from bigint;

-- The projector is the only writer, and it writes a person's rows in the
-- transaction that writes the person: the foreign keys checked nothing it
-- does not already guarantee, at the price of a lookup (and a row lock on
-- the person) for every row written. They go; a person is deleted with an
-- explicit delete of each table's rows.
ALTER TABLE memberships DROP CONSTRAINT IF EXISTS memberships_person_id_fkey;
ALTER TABLE accomplishments DROP CONSTRAINT IF EXISTS accomplishments_person_id_fkey;
ALTER TABLE level_periods DROP CONSTRAINT IF EXISTS level_periods_person_id_fkey;
ALTER TABLE level_changes DROP CONSTRAINT IF EXISTS level_changes_person_id_fkey;
ALTER TABLE distribution_periods DROP CONSTRAINT IF EXISTS distribution_periods_person_id_fkey;
