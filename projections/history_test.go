package projections

import (
	"context"
	"slices"
	"testing"

	"github.com/careerledger/careerledger/events"
)

// keeper is a store caught between two batches: it has written events past
// the checkpoint it answered first.
type keeper struct {
	checkpoint uint64
	events     []events.Recorded
}

func (k *keeper) Checkpoint(context.Context) (uint64, error) { return k.checkpoint, nil }

func (k *keeper) PersonEvents(_ context.Context, ids []string) (map[string][]events.Recorded, error) {
	out := map[string][]events.Recorded{}
	for _, r := range k.events {
		if slices.Contains(ids, r.PersonID) {
			out[r.PersonID] = append(out[r.PersonID], r)
		}
	}
	return out, nil
}

// TestHistoryEndsAtTheCheckpoint: a person's events past the checkpoint
// read first are not given (the log has the rest), so that what is given
// is complete up to the position given with it.
func TestHistoryEndsAtTheCheckpoint(t *testing.T) {
	k := &keeper{checkpoint: 5, events: []events.Recorded{
		{Position: 1, PersonID: "E1"}, {Position: 2, PersonID: "E2"}, {Position: 5, PersonID: "E1"}, {Position: 7, PersonID: "E1"},
	}}
	rs, upTo, err := History(k).PersonHistory(context.Background(), "E1")
	if err != nil || upTo != 5 || len(rs) != 2 || rs[0].Position != 1 || rs[1].Position != 5 {
		t.Errorf("PersonHistory(E1) = %+v, %d, %v; want positions 1 and 5, up to 5", rs, upTo, err)
	}
	if rs, upTo, err := History(k).PersonHistory(context.Background(), "E3"); err != nil || upTo != 5 || len(rs) != 0 {
		t.Errorf("PersonHistory(E3) = %+v, %d, %v; want none, up to 5", rs, upTo, err)
	}
}
