-- Pages of people are ordered by id in byte order, as the memory read model
-- and a list as known at an instant order them, whatever the database's
-- collation (under en-US "a1" sorts before "B1", in bytes after it); the
-- cursor (the last id of a page) is compared in the same order. This index
-- serves that order as the primary key serves the collation's.
CREATE INDEX people_id_bytes ON people ((id COLLATE "C"));
