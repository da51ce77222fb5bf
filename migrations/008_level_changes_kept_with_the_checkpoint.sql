-- The level changes the last batch revealed, kept in its transaction with
-- the checkpoint it moved ({"version": 1, "position": the batch's last
-- position, "changes": [...]}), so that a projector that dies between the
-- commit and their publication publishes them when it starts again. NULL
-- after a batch that revealed none or was written without them, and once a
-- projector that stopped cleanly has published them. A release before this
-- one never writes the column; the position inside tells a value it left
-- behind from the current one.
ALTER TABLE projection_checkpoint ADD COLUMN last_derived jsonb;
