-- Read models folded from the CAREER event log. Every table can be dropped
-- and rebuilt from the log; the checkpoint says how far the fold has gone.

CREATE TABLE projection_checkpoint (
    name        text PRIMARY KEY,
    position    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The log, per person, as the projector saw it: the source for "as known at"
-- judgments and for re-folding a person without reading the stream.
CREATE TABLE person_events (
    position        bigint PRIMARY KEY,
    person_id       text NOT NULL,
    type            text NOT NULL,
    version         int NOT NULL,
    recorded_at     timestamptz NOT NULL,
    idempotency_key text NOT NULL DEFAULT '',
    body            jsonb NOT NULL
);
CREATE INDEX person_events_person ON person_events (person_id, position);

CREATE TABLE people (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    joined_on    date NOT NULL,
    position     bigint NOT NULL
);

-- Department membership over valid time; valid_to is exclusive, NULL = open.
CREATE TABLE memberships (
    person_id   text NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    department  text NOT NULL,
    valid_from  date NOT NULL,
    valid_to    date,
    PRIMARY KEY (person_id, valid_from)
);
CREATE INDEX memberships_department ON memberships (department, valid_from);

-- Accomplishments as currently known; retracted ones stay, marked.
CREATE TABLE accomplishments (
    id            text PRIMARY KEY,
    person_id     text NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    kind          text NOT NULL,
    position      bigint NOT NULL,
    recorded_at   timestamptz NOT NULL,
    amended_at    timestamptz,
    retracted     boolean NOT NULL DEFAULT false,
    retraction_reason text,
    body_type     text NOT NULL,  -- the event type and version body is encoded as
    body_version  int NOT NULL,
    body          jsonb NOT NULL
);
CREATE INDEX accomplishments_person ON accomplishments (person_id, position);

-- A person's level in a field over valid time (levels >= 1 only; no row on a
-- date means level 0). valid_to is exclusive, NULL = open.
CREATE TABLE level_periods (
    person_id   text NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    field       text NOT NULL,
    level       int NOT NULL,
    valid_from  date NOT NULL,
    valid_to    date,
    PRIMARY KEY (person_id, field, valid_from)
);
CREATE INDEX level_periods_field_from ON level_periods (field, valid_from) INCLUDE (person_id, level, valid_to);

-- The history of level changes, per person and field.
CREATE TABLE level_changes (
    person_id   text NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    field       text NOT NULL,
    changed_on  date NOT NULL,
    from_level  int NOT NULL,
    to_level    int NOT NULL,
    PRIMARY KEY (person_id, field, changed_on)
);

-- The current standing with its explanation, and which catalogue judged it.
CREATE TABLE standings (
    person_id          text NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    field              text NOT NULL,
    level              int NOT NULL,
    attained_on        date,
    catalogue_id       text NOT NULL,
    catalogue_version  int NOT NULL,
    explanation        jsonb NOT NULL,
    PRIMARY KEY (person_id, field)
);
CREATE INDEX standings_field_level ON standings (field, level);
