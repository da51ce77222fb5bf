package memory_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/memory"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// A projector that resumes on a read model behind the events it reported
// (careerd switching to a rebuilt model) folds them again but reports each
// event's live lag once.
func TestProjectorReportsEachEventOnceAcrossRuns(t *testing.T) {
	cat := domain.DefaultCatalogue()
	e := projectionstest.Start(t, memory.New(cat), cat)
	e.StopProjector()
	var mu sync.Mutex
	var got []uint64
	p := &projections.Projector{Catalogue: cat, Source: e.Log, Now: e.Clock.Peek,
		OnCommitted: func(batch []events.Recorded) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range batch {
				got = append(got, r.Position)
			}
		}}
	// run projects into store until it has applied pos, then stops.
	run := func(store *memory.Store, pos uint64) {
		t.Helper()
		p.Store = store
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := store.WaitFor(wctx, pos)
		wcancel()
		cancel()
		if rerr := <-done; rerr != nil {
			t.Fatalf("projector: %v", rerr)
		}
		if err != nil {
			t.Fatalf("the read model did not reach %d: %v", pos, err)
		}
	}
	ctx := context.Background()
	record := func(a domain.Accomplishment) uint64 {
		t.Helper()
		res, err := e.Recorder.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: "E1", Accomplishment: a})
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	if _, err := e.Recorder.RegisterPerson(ctx, events.RegisterPerson{ID: "E1", Name: "Person E1", Department: "Ops",
		JoinedOn: domain.MustDate("2015-01-01")}); err != nil {
		t.Fatal(err)
	}
	record(projectionstest.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01"))
	run(memory.New(cat), record(projectionstest.Assessment(domain.StressManagement, domain.Basic, "2016-03-01")))
	// A second read model, empty: positions 1-3 are folded again, live
	// (Bulk is off), and must not be reported again; position 4 is news.
	behind := memory.New(cat)
	run(behind, 3)
	run(behind, record(projectionstest.Assessment(domain.ServiceLevelManagement, domain.Practice, "2017-06-01")))
	mu.Lock()
	defer mu.Unlock()
	if want := []uint64{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("reported %v, want %v", got, want)
	}
}

// TestAProjectorStopsAfterAPosition: with StopAfter, Run applies the log
// up to that position, not a batch beyond it, and returns by itself.
func TestAProjectorStopsAfterAPosition(t *testing.T) {
	cat := domain.DefaultCatalogue()
	e := projectionstest.Start(t, memory.New(cat), cat)
	e.StopProjector()
	ctx := context.Background()
	if _, err := e.Recorder.RegisterPerson(ctx, events.RegisterPerson{ID: "E1", Name: "Person E1", Department: "Ops",
		JoinedOn: domain.MustDate("2015-01-01")}); err != nil {
		t.Fatal(err)
	}
	for _, on := range []string{"2016-01-01", "2016-02-01", "2016-03-01", "2016-04-01"} {
		if _, err := e.Recorder.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: "E1",
			Accomplishment: projectionstest.Assessment(domain.ServiceSupportManagement, domain.Basic, on)}); err != nil {
			t.Fatal(err)
		}
	}
	store := memory.New(cat)
	p := &projections.Projector{Catalogue: cat, Source: e.Log, Store: store, Now: e.Clock.Peek, MaxBatch: 100}
	p.StopAfter(3)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return at the position to stop after")
	}
	if cp, err := store.Checkpoint(ctx); err != nil || cp != 3 {
		t.Errorf("checkpoint %d (%v), want 3 of the log's 5", cp, err)
	}
}
