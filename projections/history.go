package projections

import (
	"context"
	"sort"

	"github.com/careerledger/careerledger/events"
)

// EventKeeper is a store that keeps the log's events by person, written
// with its checkpoint: every store of this package.
type EventKeeper interface {
	Checkpoint(ctx context.Context) (uint64, error)
	PersonEvents(ctx context.Context, ids []string) (map[string][]events.Recorded, error)
}

// History returns st as an events.History: a Recorder reads a person it
// does not know yet from the store, up to the store's checkpoint, and only
// the rest from the log.
func History(st EventKeeper) events.History { return history{st} }

type history struct{ st EventKeeper }

// PersonHistory reads the checkpoint first and the events after it: a
// store writes a batch's events with the checkpoint that covers them, so
// every event up to the checkpoint read is there, and later ones are cut.
func (h history) PersonHistory(ctx context.Context, personID string) ([]events.Recorded, uint64, error) {
	return personHistory(ctx, h.st, personID)
}

func personHistory(ctx context.Context, st EventKeeper, personID string) ([]events.Recorded, uint64, error) {
	upTo, err := st.Checkpoint(ctx)
	if err != nil {
		return nil, 0, err
	}
	byPerson, err := st.PersonEvents(ctx, []string{personID})
	if err != nil {
		return nil, 0, err
	}
	rs := byPerson[personID]
	return rs[:sort.Search(len(rs), func(i int) bool { return rs[i].Position > upTo })], upTo, nil
}

// PersonHistory implements events.History with the serving read model (one
// store for both reads, whatever a switch does meanwhile).
func (s *Switch) PersonHistory(ctx context.Context, personID string) ([]events.Recorded, uint64, error) {
	return personHistory(ctx, s.Current(), personID)
}
