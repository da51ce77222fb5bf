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

// batches is a Source that hands out fixed batches, each once its gate
// (if any) returns, then waits.
type batches struct {
	list  [][]events.Recorded
	gates map[int]func(ctx context.Context) error // before the batch of that index
}

func (b batches) Follow(ctx context.Context, after uint64, _ int, handle func(context.Context, []events.Recorded) error) error {
	for i, batch := range b.list {
		if batch[len(batch)-1].Position <= after {
			continue
		}
		if gate := b.gates[i]; gate != nil {
			if err := gate(ctx); err != nil {
				return nil
			}
		}
		if err := handle(ctx, batch); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// slowStore holds the Apply of one position until released.
type slowStore struct {
	*memory.Store
	hold    uint64
	release chan struct{}
}

func (s *slowStore) Apply(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection) error {
	if position == s.hold {
		<-s.release
	}
	return s.Store.Apply(ctx, position, batch, people)
}

// A person whose events are in a batch still being applied must not be
// dropped from the projector's cache: loaded again from the store before
// that batch commits, they would miss its events.
func TestEvictionSparesPeopleOfABatchBeingApplied(t *testing.T) {
	cat := domain.DefaultCatalogue()
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	rec := func(pos uint64, person string, e events.Event) events.Recorded {
		return events.Recorded{Position: pos, PersonID: person, RecordedAt: at.Add(time.Duration(pos) * time.Minute), Event: e}
	}
	reg := func(pos uint64, id string) events.Recorded {
		return rec(pos, id, events.PersonRegistered{PersonID: id, Name: id, Department: "ops", JoinedOn: domain.MustDate("2020-01-01")})
	}
	dev := func(pos uint64, id, acc string) events.Recorded {
		return rec(pos, id, events.SubordinateDevelopmentRecorded{AccomplishmentID: id + "." + acc, Kind: string(domain.Mentoring),
			OccurredOn: domain.MustDate("2025-01-01")})
	}
	store := &slowStore{Store: memory.New(cat), hold: 2, release: make(chan struct{})}
	src := batches{list: [][]events.Recorded{
		{reg(1, "X"), reg(2, "Y")},
		{reg(3, "Z")},
		{dev(4, "X", "a"), dev(5, "Y", "a")},
		{dev(6, "Z", "a")}, // once everything before it committed: X and Y can go
	}, gates: map[int]func(context.Context) error{3: func(ctx context.Context) error { return store.WaitFor(ctx, 5) }}}
	evicted := make(chan int, 10)
	p := &projections.Projector{Catalogue: cat, Source: src, Store: store, MaxCached: 1,
		Now: func() time.Time { return at.Add(time.Hour) }, OnEvicted: func(n int) { evicted <- n }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// The batch of X and Y is held; the projector prepares the next ones
	// meanwhile (one is queued, the next is being prepared).
	time.Sleep(100 * time.Millisecond)
	close(store.release)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := store.WaitFor(wctx, 6); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"X", "Y", "Z"} {
		page, err := store.Accomplishments(context.Background(), id, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 {
			t.Errorf("%s has %d accomplishments, want 1: the projector lost events of a batch being applied", id, len(page.Items))
		}
	}
	close(evicted)
	n := 0
	for e := range evicted {
		n += e
	}
	if n < 2 {
		t.Errorf("%d people were evicted, want X and Y at least: the test does not exercise the bound", n)
	}
}
