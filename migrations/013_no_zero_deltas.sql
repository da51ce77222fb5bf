-- A distribution delta whose changes cancel out is deleted by the batch
-- that brings it to 0, as a rebuild never writes one; the rows an earlier
-- release left at 0 go now. They counted for nothing: only their number
-- grew.
DELETE FROM distribution_deltas WHERE delta = 0;
