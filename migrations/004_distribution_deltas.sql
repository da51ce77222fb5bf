-- The distribution on a date is summed from changes instead of counted from
-- periods: counting the periods that contain a date reads one row per
-- person, however good the index. A period adds 1 to its field, department
-- and level on its first day and takes it back on its end (none when open);
-- each such change is summed into the row of its year and of its month. The
-- count on a date D is then the sum of the year rows before D's year and
-- the month rows of D's year before D's month (at most some years + 11 rows
-- per department and level, whatever the number of people), plus the
-- periods that start or end in D's month up to D, found through two new
-- indexes on distribution_periods. Day rows would save that last step but
-- make every write dearer: a day is rarely shared, so nearly every change
-- would be a row of its own.
--
-- distribution_periods stays the per-person source the projector subtracts
-- a person's old periods from; its GiST index goes (btree_gist stays
-- installed: extensions are shared).
--
-- The new table is filled here from distribution_periods, so a schema
-- migrated in place answers at once.

DROP INDEX distribution_periods_valid;

CREATE TABLE distribution_deltas (
    field       text     NOT NULL,
    grain       smallint NOT NULL,  -- 0: a year, 1: a month
    bucket      date     NOT NULL,  -- the first day of the year or month
    department  text     NOT NULL,
    level       int      NOT NULL,
    delta       bigint   NOT NULL,
    PRIMARY KEY (field, grain, bucket, department, level)
);

INSERT INTO distribution_deltas (field, grain, bucket, department, level, delta)
SELECT c.field, g.grain,
       CASE g.grain WHEN 0 THEN date_trunc('year', c.day)::date
                    ELSE date_trunc('month', c.day)::date END,
       c.department, c.level, sum(c.delta)
FROM (SELECT field, department, level, lower(valid) AS day, 1 AS delta FROM distribution_periods
      UNION ALL
      SELECT field, department, level, upper(valid), -1 FROM distribution_periods WHERE NOT upper_inf(valid)) c
CROSS JOIN (VALUES (0::smallint), (1::smallint)) AS g (grain)
GROUP BY 1, 2, 3, 4, 5
HAVING sum(c.delta) <> 0;

CREATE INDEX distribution_periods_starts ON distribution_periods (field, lower(valid)) INCLUDE (department, level);
CREATE INDEX distribution_periods_ends ON distribution_periods (field, upper(valid)) INCLUDE (department, level);

-- The distribution query must find these rows through the primary key from
-- the first query on, before autovacuum has looked at the table.
ANALYZE distribution_deltas;
ANALYZE distribution_periods;
