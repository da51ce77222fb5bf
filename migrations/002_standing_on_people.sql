-- The current standing moves onto the people row: a batch then writes one
-- row per touched person (an UPDATE) instead of one per field (a DELETE and
-- a COPY of three). Readers of the explanation read people.standing.

DROP TABLE standings;

ALTER TABLE people
    ADD COLUMN catalogue_id      text  NOT NULL DEFAULT '',
    ADD COLUMN catalogue_version int   NOT NULL DEFAULT 0,
    ADD COLUMN standing          jsonb NOT NULL DEFAULT '[]';
