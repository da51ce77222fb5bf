// Package projectionstest is the read-model contract suite: one set of
// tests that every read model (memory, PostgreSQL) must pass, driven through
// the real recorder, a real embedded JetStream log and the projector.
package projectionstest

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
)

// ReadModel is what the suite exercises: the API's reads and the projector's
// writes.
type ReadModel = projections.ReadModel

// Factory makes a fresh, empty read model for one test.
type Factory func(t *testing.T, cat *domain.Catalogue) ReadModel

// Clock is a test clock that advances one second per reading, so that every
// event has a distinct recorded time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the current time and advances the clock by a second.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

// Advance moves the clock on by d: time passing with nothing recorded.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Peek returns the current time without advancing.
func (c *Clock) Peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Env is a running log, recorder and projector over one read model.
type Env struct {
	T        *testing.T
	Cat      *domain.Catalogue
	Log      *events.Log
	Recorder *events.Recorder
	Store    ReadModel
	Clock    *Clock
	Changes  *projections.Broadcaster
	// Bulk and MaxBatch configure the projectors StartProjector starts
	// (MaxBatch 0: 50).
	Bulk      bool
	BulkAbove uint64
	MaxBatch  int
	// MaxCached is the projectors' Projector.MaxCached.
	MaxCached int
	// Deferred counts the batches stored without their people (Bulk).
	Deferred atomic.Int64
	// Evicted counts the people the projectors dropped from their cache.
	Evicted atomic.Int64
	// committed holds the events the projectors passed to OnCommitted.
	committed struct {
		sync.Mutex
		events []events.Recorded
	}
	cancel context.CancelFunc
	done   chan error
}

// Today is the suite's "today".
var Today = domain.MustDate("2026-06-01")

// Start runs an embedded JetStream server, the recorder and a projector
// into store; everything stops at the end of the test.
func Start(t *testing.T, store ReadModel, cat *domain.Catalogue) *Env {
	t.Helper()
	srv, err := events.StartEmbedded(events.EmbeddedConfig{Dir: t.TempDir(), SyncInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	log, err := events.OpenLog(context.Background(), nc, events.LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{T: t, Cat: cat, Log: log, Store: store, Clock: NewClock(Today.Time().Add(9 * time.Hour)),
		Changes: &projections.Broadcaster{}, done: make(chan error, 1)}
	env.Recorder = events.NewRecorder(log, cat, env.Clock.Now)
	env.StartProjector()
	t.Cleanup(env.StopProjector)
	return env
}

// StartProjector (re)starts the projector from the store's checkpoint.
func (e *Env) StartProjector() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan error, 1)
	p := &projections.Projector{Catalogue: e.Cat, Source: e.Log, Store: e.Store, Notifier: e.Changes,
		Now: func() time.Time { return e.Clock.Peek() }, MaxBatch: cmp.Or(e.MaxBatch, 50), Bulk: e.Bulk, BulkAbove: e.BulkAbove,
		MaxCached: e.MaxCached, OnStored: func(uint64, int) { e.Deferred.Add(1) },
		OnEvicted: func(n int) { e.Evicted.Add(int64(n)) },
		OnCommitted: func(batch []events.Recorded) {
			e.committed.Lock()
			e.committed.events = append(e.committed.events, batch...)
			e.committed.Unlock()
		}}
	go func() { e.done <- p.Run(ctx) }()
}

// StopProjector stops the projector and waits for it.
func (e *Env) StopProjector() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.T.Errorf("projector: %v", err)
	}
	e.cancel = nil
}

// Wait blocks until the store has applied pos.
func (e *Env) Wait(pos uint64) {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Store.WaitFor(ctx, pos); err != nil {
		e.T.Fatalf("read model did not reach position %d: %v", pos, err)
	}
}

// Committed returns the events the projectors have reported as committed
// live (Projector.OnCommitted) once pos is among them, waiting up to 5 s;
// the report follows the commit that Wait waits for.
func (e *Env) Committed(pos uint64) []events.Recorded {
	e.T.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.committed.Lock()
		got := slices.Clone(e.committed.events)
		e.committed.Unlock()
		if slices.ContainsFunc(got, func(r events.Recorded) bool { return r.Position == pos }) {
			return got
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("position %d was not reported committed live; reported: %v", pos, positions(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func positions(rs []events.Recorded) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Position
	}
	return out
}

// Must fails the test on a command error and waits for its projection.
func (e *Env) Must(res events.Result, err error) events.Result {
	e.T.Helper()
	if err != nil {
		e.T.Fatalf("command: %v", err)
	}
	e.Wait(res.Position)
	return res
}

// Register registers a person in dept on joined.
func (e *Env) Register(id, dept, joined string) events.Result {
	e.T.Helper()
	return e.Must(e.Recorder.RegisterPerson(context.Background(), events.RegisterPerson{
		ID: id, Name: "Person " + id, Department: dept, JoinedOn: domain.MustDate(joined)}))
}

// Record records an accomplishment for a person.
func (e *Env) Record(id string, a domain.Accomplishment) events.Result {
	e.T.Helper()
	return e.Must(e.Recorder.RecordAccomplishment(context.Background(), events.RecordAccomplishment{PersonID: id, Accomplishment: a}))
}

// Engagement builds an engagement accomplishment.
func Engagement(field domain.Field, role domain.Role, started, completed string, outcome domain.Outcome, withinBudget bool, cx ...domain.Criterion) domain.Accomplishment {
	e := &domain.Engagement{Field: field, Title: "work", Role: role, StartedOn: domain.MustDate(started),
		Outcome: outcome, WithinBudget: withinBudget, Complexity: cx}
	if completed != "" {
		e.CompletedOn = domain.MustDate(completed)
	}
	return domain.Accomplishment{Engagement: e}
}

// Assessment builds a theme assessment.
func Assessment(theme domain.Theme, p domain.Proficiency, on string) domain.Accomplishment {
	return domain.Accomplishment{Assessment: &domain.ThemeAssessment{Theme: theme, Proficiency: p, AssessedOn: domain.MustDate(on)}}
}

// LevelOf returns the level in field from a standing.
func LevelOf(st domain.Standing, f domain.Field) int {
	for _, fs := range st.Fields {
		if fs.Field == f {
			return fs.Level
		}
	}
	return -1
}
