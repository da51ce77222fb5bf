package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/memory"
)

// The store keeps the decoded events, never the log's bodies a batch
// carries (they hold on to the messages' buffers), whether the batch is
// projected or only stored.
func TestKeepsNoBodies(t *testing.T) {
	cat := domain.DefaultCatalogue()
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	registered := func(pos uint64, id string) events.Recorded {
		return events.Recorded{Position: pos, PersonID: id, Type: "PersonRegistered", Version: 1, RecordedAt: at,
			Event: events.PersonRegistered{PersonID: id, Name: "Person " + id, Department: "Ops", JoinedOn: domain.MustDate("2015-01-01")},
			Body:  []byte(`{"personId": "` + id + `"}`)}
	}
	transferred := func(pos uint64, id string) events.Recorded {
		return events.Recorded{Position: pos, PersonID: id, Type: "PersonTransferred", Version: 1, RecordedAt: at,
			Event: events.PersonTransferred{PersonID: id, Department: "Network", EffectiveOn: domain.MustDate("2020-04-01")},
			Body:  []byte(`{"personId": "` + id + `"}`)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	check := func(s *memory.Store, id string) {
		t.Helper()
		got, err := s.PersonEvents(ctx, []string{id})
		if err != nil || len(got[id]) != 2 {
			t.Fatalf("PersonEvents(%s) = %d events, %v; want 2", id, len(got[id]), err)
		}
		for _, r := range got[id] {
			if r.Body != nil {
				t.Errorf("event %d of %s keeps the body %q", r.Position, id, r.Body)
			}
		}
	}

	stored := memory.New(cat)
	if err := stored.ApplyEvents(ctx, 2, []events.Recorded{registered(1, "B"), transferred(2, "B")}); err != nil {
		t.Fatal(err)
	}
	check(stored, "B")

	projected := memory.New(cat)
	pctx, stop := context.WithCancel(ctx)
	p := &projections.Projector{Catalogue: cat, Store: projected, Now: func() time.Time { return at },
		Source: batches{list: [][]events.Recorded{{registered(1, "A")}, {transferred(2, "A")}}}}
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	if err := projected.WaitFor(ctx, 2); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	check(projected, "A")
}
