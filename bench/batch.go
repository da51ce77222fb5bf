package main

import (
	"context"
	"fmt"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// batchRunner is the bulk-import path measured in scenario 4.
type batchRunner struct {
	name string
	note string
	run  func(ctx context.Context, people []string, logs [][]events.Event) (int, error)
}

// batchImpl returns the command path for bulk imports: Recorder.RecordBatch
// with one command per event (a fresh Recorder per import, so that nothing
// is remembered from an earlier round).
func batchImpl(b *bench, env *natsEnv) batchRunner {
	return batchRunner{
		name: "Recorder.RecordBatch",
		note: "RecordBatch of one command per event (RegisterPerson, TransferPerson, RecordAccomplishment, each with an idempotency key), a new Recorder per import",
		run: func(ctx context.Context, people []string, logs [][]events.Event) (int, error) {
			var cmds []events.Command
			for i, p := range people {
				for j, e := range logs[i] {
					c, err := commandOf(p, e, fmt.Sprintf("import-%s-%d", p, j))
					if err != nil {
						return 0, err
					}
					cmds = append(cmds, c)
				}
			}
			rec := events.NewRecorder(env.log, b.cat, nil)
			for i, r := range rec.RecordBatch(ctx, cmds) {
				if r.Err != nil {
					return 0, fmt.Errorf("command %d: %w", i, r.Err)
				}
			}
			return len(cmds), nil
		},
	}
}

// commandOf is the command that records e for person p.
func commandOf(p string, e events.Event, key string) (events.Command, error) {
	switch v := e.(type) {
	case events.PersonRegistered:
		return events.RegisterPerson{ID: p, Name: v.Name, Department: v.Department, JoinedOn: v.JoinedOn, IdempotencyKey: key}, nil
	case events.PersonTransferred:
		return events.TransferPerson{PersonID: p, Department: v.Department, EffectiveOn: v.EffectiveOn, IdempotencyKey: key}, nil
	case events.PersonDeparted:
		return events.RecordDeparture{PersonID: p, EffectiveOn: v.EffectiveOn, IdempotencyKey: key}, nil
	}
	if a, ok := events.ToAccomplishment(e); ok {
		return events.RecordAccomplishment{PersonID: p, Accomplishment: a, IdempotencyKey: key}, nil
	}
	return nil, fmt.Errorf("no command records a %s", e.EventType())
}

// importEvents is a new person's log as a bulk import carries it: a
// registration, then accomplishments and the odd transfer (no amendments or
// retractions: those name accomplishment ids the import does not know yet).
func (g *gen) importEvents(personID string, n int) []events.Event {
	joined := domain.MustDate("2008-04-01").AddDays(g.r.IntN(12 * 365))
	out := []events.Event{events.PersonRegistered{PersonID: personID,
		Name: "Person " + personID, Department: pick(g.r, departments), JoinedOn: joined}}
	for len(out) < n {
		if g.r.IntN(100) < 6 {
			out = append(out, events.PersonTransferred{PersonID: personID, Department: pick(g.r, departments), EffectiveOn: g.date(joined)})
			continue
		}
		out = append(out, events.FromAccomplishment(g.accomplishment(personID+"."+g.token(), joined)))
	}
	return out
}
