package memory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/memory"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// bulkWatch is a memory store that notes, as each write of people
// begins, what the projector's BulkWrite reports.
type bulkWatch struct {
	*memory.Store
	p      *projections.Projector
	mu     sync.Mutex
	writes []string // "<people written>:<BulkWrite's people, or none>"
}

func (b *bulkWatch) note(people int) {
	if people == 0 {
		return
	}
	seen := "none"
	if since, n, ok := b.p.BulkWrite(); ok && !since.After(time.Now()) {
		seen = fmt.Sprint(n)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes = append(b.writes, fmt.Sprintf("%d:%s", people, seen))
}

func (b *bulkWatch) Apply(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection) error {
	b.note(len(people))
	return b.Store.Apply(ctx, position, batch, people)
}

// TestBulkWriteReportsTheWriteAtTheHeadOfABulkCatchUp: while the batch
// that reaches the head of a bulk catch-up writes everyone it judged,
// BulkWrite reports it and how many people; once it returns, and while
// later batches are applied as they come, BulkWrite reports nothing. A
// watcher of progress (careerd's /readyz) takes that write, which moves
// no position until it commits, for progress.
func TestBulkWriteReportsTheWriteAtTheHeadOfABulkCatchUp(t *testing.T) {
	cat := domain.DefaultCatalogue()
	e := projectionstest.Start(t, memory.New(cat), cat)
	const people = 7
	var last uint64
	for i := range people {
		e.Register(fmt.Sprintf("E%d", i), "Ops", "2020-01-01")
		last = e.Record(fmt.Sprintf("E%d", i), projectionstest.Assessment(domain.StressManagement, domain.Basic, "2021-03-01")).Position
	}
	e.StopProjector()
	store := &bulkWatch{Store: memory.New(cat)}
	p := &projections.Projector{Catalogue: cat, Source: e.Log, Store: store, Now: e.Clock.Peek, Bulk: true, MaxBatch: 4}
	store.p = p
	if _, _, ok := p.BulkWrite(); ok {
		t.Error("BulkWrite reports a write before Run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	wait := func(pos uint64) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer wcancel()
		if err := store.WaitFor(wctx, pos); err != nil {
			t.Fatalf("the read model did not reach %d: %v", pos, err)
		}
	}
	wait(last)
	// The write returns just after the read model shows it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		_, n, ok := p.BulkWrite()
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BulkWrite reports a write of %d people once the catch-up is written", n)
		}
	}
	res, err := e.Recorder.RecordAccomplishment(context.Background(), events.RecordAccomplishment{PersonID: "E0",
		Accomplishment: projectionstest.Assessment(domain.ServiceSupportManagement, domain.Basic, "2021-04-01")})
	if err != nil {
		t.Fatal(err)
	}
	wait(res.Position)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	want := []string{fmt.Sprintf("%d:%d", people, people), "1:none"}
	if fmt.Sprint(store.writes) != fmt.Sprint(want) {
		t.Errorf("writes of people and what BulkWrite said as each began: %v, want %v", store.writes, want)
	}
}

// heldEvents is a memory store whose storing of a deferred batch ending at
// or after from is held until release is closed.
type heldEvents struct {
	*memory.Store
	from    uint64
	held    chan struct{} // closed once a store is held
	release chan struct{}
	once    sync.Once
}

func (h *heldEvents) ApplyEvents(ctx context.Context, position uint64, batch []events.Recorded) error {
	if position >= h.from {
		h.once.Do(func() { close(h.held) })
		select {
		case <-h.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return h.Store.ApplyEvents(ctx, position, batch)
}

// TestBulkWriteIsNotReportedWhileTheWriteBeforeItHangs: the batch that
// reaches a bulk catch-up's head may be judged while the deferred batch
// before it is still being stored; BulkWrite reports the head's write
// only once it begins, so that a hung store of events before it is seen
// as the stall it is (careerd's /readyz), not taken for the head's write
// for up to --ready-max-write.
func TestBulkWriteIsNotReportedWhileTheWriteBeforeItHangs(t *testing.T) {
	cat := domain.DefaultCatalogue()
	e := projectionstest.Start(t, memory.New(cat), cat)
	var last uint64
	for i := range 7 {
		e.Register(fmt.Sprintf("E%d", i), "Ops", "2020-01-01")
		last = e.Record(fmt.Sprintf("E%d", i), projectionstest.Assessment(domain.StressManagement, domain.Basic, "2021-03-01")).Position
	}
	e.StopProjector()
	// Batches of 4 up to the head (14): the last deferred one ends at 12.
	store := &heldEvents{Store: memory.New(cat), from: last - 4, held: make(chan struct{}), release: make(chan struct{})}
	p := &projections.Projector{Catalogue: cat, Source: e.Log, Store: store, Now: e.Clock.Peek, Bulk: true, MaxBatch: 4}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case <-store.held:
	case <-time.After(10 * time.Second):
		t.Fatal("no deferred batch reached the held store")
	}
	// Meanwhile the follower judges the head batch and hands it over.
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if _, n, ok := p.BulkWrite(); ok {
			t.Fatalf("BulkWrite reports a write of %d people while the store of the events before it hangs", n)
		}
	}
	close(store.release)
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := store.WaitFor(wctx, last); err != nil {
		t.Fatalf("the read model did not reach %d: %v", last, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
