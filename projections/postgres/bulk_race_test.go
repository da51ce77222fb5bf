package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// These tests run bulk projectors against rivals, as happens when a lock
// session dies under a projector that has not noticed yet: a batch a rival
// already applied must never make a bulk projector believe people are
// written that are not (or the reverse).

// gatedHeadSource is a gatedSource with a Head, so that Bulk defers.
type gatedHeadSource struct {
	*gatedSource
	head uint64
}

func (s *gatedHeadSource) Head(context.Context) (uint64, error) { return s.head, nil }

// TestLaggingBulkRivalLeavesNobodyBehind: TestLaggingRivalTakesOver's
// interleaving, but the old projector is in a bulk catch-up (as careerd's
// live projector is after a long stop) when it loses the lock: it stores
// events 1-3 without their people, and the new projector's batches that it
// believed already applied must not hide that.
func TestLaggingBulkRivalLeavesNobodyBehind(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	store := postgres.New(pool, cat, "")
	rs := recordLaggingRivalLog(t, env)
	run := func(src projections.Source, bulk bool) (context.CancelFunc, chan error) {
		return runRestarting(t, &projections.Projector{Catalogue: cat, Source: src, Store: store, Bulk: bulk,
			Now: func() time.Time { return env.Clock.Peek() }})
	}
	newSrc := &gatedSource{release: make(chan struct{}), batches: [][]events.Recorded{rs[0:1], rs[1:2], rs[2:3], rs[3:5]}}
	stopNew, newDone := run(newSrc, true)
	time.Sleep(50 * time.Millisecond)
	// The old projector, in bulk (head 5), stores events 1-3 without their people.
	oldSrc := &gatedHeadSource{gatedSource: &gatedSource{release: make(chan struct{}), batches: [][]events.Recorded{rs[0:3]}}, head: 5}
	close(oldSrc.release)
	stopOld, oldDone := run(oldSrc, true)
	for {
		cp, _ := store.Checkpoint(bg)
		if cp == 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopOld()
	if err := <-oldDone; err != nil {
		t.Fatal(err)
	}
	close(newSrc.release)
	waitFor(t, store, 5)
	stopNew()
	if err := <-newDone; err != nil {
		t.Fatal(err)
	}
	equalsCleanRebuild(t, env, 5, pool, store, []string{"L1"})
}

// TestRivalBulkProjectorsWithoutLock: two bulk projectors on one database
// with no lock, restarting after every refusal, while events keep coming:
// the result equals a clean rebuild.
func TestRivalBulkProjectorsWithoutLock(t *testing.T) { rivalsWithoutLock(t, true) }

// hookStore runs before once, before its first ApplyEvents.
type hookStore struct {
	*postgres.Store
	once   sync.Once
	before func()
}

func (s *hookStore) ApplyEvents(ctx context.Context, position uint64, batch []events.Recorded) error {
	s.once.Do(s.before)
	return s.Store.ApplyEvents(ctx, position, batch)
}

// TestDeferredBatchAppliedByARival: a bulk projector's deferred batch was
// committed first by a rival, with its people. The bulk projector must not
// go on judging from a cache that missed the rival's rows (here a person's
// timeline the rival rewrote), or stale level rows would stay.
func TestDeferredBatchAppliedByARival(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	store := postgres.New(pool, cat, "")
	must := func(_ events.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: "P", Name: "P", Department: "Ops", JoinedOn: domain.MustDate("2015-01-01")}))
	must(env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "P",
		Accomplishment: projectionstest.Engagement(domain.ServiceDesk, domain.Participant, "2018-01-01", "", domain.Ongoing, false)}))
	res, err := env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "P",
		Accomplishment: projectionstest.Assessment(domain.InformationAssetManagement, domain.Basic, "2019-01-01")})
	if err != nil {
		t.Fatal(err)
	}
	amend := func(on string) {
		must(env.Recorder.AmendAccomplishment(bg, events.AmendAccomplishment{AccomplishmentID: res.AccomplishmentID,
			Patch: func(a domain.Accomplishment) (domain.Accomplishment, error) {
				x := *a.Assessment
				x.AssessedOn = domain.MustDate(on)
				return domain.Accomplishment{Assessment: &x}, nil
			}}))
	}
	amend("2018-03-01")
	amend("2019-01-01")
	must(env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: "Q", Name: "Q", Department: "Ops", JoinedOn: domain.MustDate("2015-01-01")}))
	rs, err := env.Log.Read(bg, 0, 100)
	if err != nil || len(rs) != 6 {
		t.Fatalf("log: %d events, %v", len(rs), err)
	}
	now := func() time.Time { return env.Clock.Peek() }
	runUntil := func(p *projections.Projector, pos uint64) {
		cancel, done := runRestarting(t, p)
		waitFor(t, store, pos)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// Positions 1-2 projected normally.
	runUntil(&projections.Projector{Catalogue: cat, Source: &gatedSource{release: closed(), batches: [][]events.Recorded{rs[0:3]}}, Store: store, Now: now}, 3)
	// B: bulk (head 5), batches [3] [4] [5]. Before its first ApplyEvents, a
	// rival commits position 3 with its people.
	hs := &hookStore{Store: store, before: func() {
		runUntil(&projections.Projector{Catalogue: cat, Source: &gatedSource{release: closed(), batches: [][]events.Recorded{rs[3:4]}}, Store: store, Now: now}, 4)
	}}
	b := &projections.Projector{Catalogue: cat, Store: hs, Now: now, Bulk: true,
		Source: &gatedHeadSource{gatedSource: &gatedSource{release: closed(), batches: [][]events.Recorded{rs[3:4], rs[4:5], rs[5:6]}}, head: 6}}
	runUntil(b, 6)
	equalsCleanRebuild(t, env, 6, pool, store, []string{"P", "Q"})
}

func closed() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// runRestarting runs p in the background, running it again after every
// error (as careerd does), until the returned cancel; done then receives
// the last Run's result.
func runRestarting(t *testing.T, p *projections.Projector) (context.CancelFunc, chan error) {
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() {
		for {
			err := p.Run(ctx)
			if err == nil || ctx.Err() != nil {
				done <- err
				return
			}
			t.Logf("run failed, restarting: %v", err)
		}
	}()
	return cancel, done
}
