-- The departments that registrations and transfers name, for the analytics
-- as known at an instant: the people a department's distribution then
-- replays are those any placement ever put in it (PeopleEverIn), found
-- through this index rather than by reading every event. Only placements
-- are indexed: one or two rows a person.
CREATE INDEX person_events_placements ON person_events ((body->>'department'), person_id)
    WHERE type IN ('PersonRegistered', 'PersonTransferred');
