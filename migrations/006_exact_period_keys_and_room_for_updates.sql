-- A batch deletes a person's distribution periods that changed by their key
-- (person, field, first day). The index on person_id alone found a
-- person's periods and filtered them; the start index found every period
-- of the field starting that day. This index finds the row itself, and
-- still serves deleting all of a person's periods.
CREATE INDEX distribution_periods_key ON distribution_periods (person_id, field, lower(valid));
DROP INDEX distribution_periods_person;

-- Rows updated in place by nearly every batch: a person's row (position,
-- standing) and the distribution counts of busy months. Room on each page
-- lets PostgreSQL put the new version beside the old one without touching
-- the indexes (a heap-only update). It applies to pages written from now
-- on: a rebuild fills new tables with it.
ALTER TABLE people SET (fillfactor = 80);
ALTER TABLE distribution_deltas SET (fillfactor = 50);
