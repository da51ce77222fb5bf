package derived_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/events/natstest"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/derived"
	"github.com/careerledger/careerledger/projections/memory"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	pt "github.com/careerledger/careerledger/projections/projectionstest"
)

var bg = context.Background()

// conn is a client connection to s that reconnects forever and buffers
// nothing while it reconnects (as one does once its reconnect buffer is
// full): a publication while the server is away fails.
type conn struct {
	*nats.Conn
	disconnected chan struct{}
}

func connect(t *testing.T, s *natstest.Server) *conn {
	t.Helper()
	c := &conn{disconnected: make(chan struct{}, 16)}
	nc, err := nats.Connect(s.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond),
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { c.disconnected <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c.Conn = nc
	return c
}

// waitDisconnected waits until c has noticed the server went away.
func (c *conn) waitDisconnected(t *testing.T) {
	t.Helper()
	select {
	case <-c.disconnected:
	case <-time.After(5 * time.Second):
		t.Fatal("the client never noticed the server went away")
	}
}

// runBus runs bus until the end of the test (or an earlier Close).
func runBus(t *testing.T, nc *nats.Conn, bus *derived.Bus) {
	t.Helper()
	ctx, cancel := context.WithCancel(bg)
	go bus.Run(ctx) //nolint:errcheck // stopped by Close
	t.Cleanup(func() { cancel(); bus.Close() })
	select {
	case <-bus.Running():
	case <-time.After(5 * time.Second):
		t.Fatal("bus did not start")
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// logBuffer is a log the bus writes to while the test reads it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// count returns how many records of the log have the message msg.
func (l *logBuffer) count(t *testing.T, msg string) int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range bytes.Split(bytes.TrimSpace(l.buf.Bytes()), []byte("\n")) {
		var rec struct{ Msg string }
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		if rec.Msg == msg {
			n++
		}
	}
	return n
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("waited 5 s for %s", what)
}

const retrying = "publish level changes; retrying until NATS takes them"

func levelChange(pos uint64, on string, from, to int) projections.LevelChanged {
	return projections.LevelChanged{PersonID: "E1", Department: "Ops", Position: pos,
		Change: domain.LevelChange{Field: domain.ServiceDesk, On: domain.MustDate(on), From: from, To: to}}
}

// Level changes NATS refuses (the server away, the connection's reconnect
// buffer used up) are published once it is back: every one, once, in
// order. The failure is logged once per call, however many attempts fail.
func TestAPublicationNATSRefusedIsRetriedUntilItGoesThrough(t *testing.T) {
	s := natstest.Start(t)
	nc := connect(t, s)
	var logs logBuffer
	var failed atomic.Int64
	var a collector
	bus, err := derived.New(nc.Conn, derived.Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), OnPublishFailed: func() { failed.Add(1) }}, a.add)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, nc.Conn, bus)

	first := levelChange(10, "2024-04-01", 1, 2)
	second := levelChange(11, "2024-05-01", 2, 3)
	third := levelChange(12, "2024-06-01", 3, 4)
	withdrawn := second
	withdrawn.Position, withdrawn.Withdrawn = 12, true
	bus.LevelChanged(bg, []projections.LevelChanged{first})
	a.wait(t, 1)

	s.Stop()
	nc.waitDisconnected(t)
	bus.LevelChanged(bg, []projections.LevelChanged{second})
	bus.LevelChanged(bg, []projections.LevelChanged{withdrawn, third})
	waitFor(t, "three failed attempts", func() bool { return failed.Load() >= 3 })
	if got, want := bus.Pending(), []projections.LevelChanged{second, withdrawn, third}; !reflect.DeepEqual(got, want) {
		t.Errorf("pending while NATS is away: %+v, want %+v", got, want)
	}
	fctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
	if err := bus.Flush(fctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush while NATS is away = %v, want the deadline", err)
	}
	cancel()

	s.Start()
	want := []projections.LevelChanged{first, second, withdrawn, third}
	if got := a.wait(t, len(want)); !reflect.DeepEqual(got, want) {
		t.Errorf("received %+v, want %+v", got, want)
	}
	fctx, cancel = context.WithTimeout(bg, 5*time.Second)
	defer cancel()
	if err := bus.Flush(fctx); err != nil {
		t.Errorf("Flush once NATS is back = %v", err)
	}
	if got := bus.Pending(); len(got) != 0 {
		t.Errorf("pending once NATS is back: %+v", got)
	}
	time.Sleep(100 * time.Millisecond)
	a.mu.Lock()
	if len(a.got) != len(want) {
		t.Errorf("received %d changes, want %d (each once): %+v", len(a.got), len(want), a.got)
	}
	a.mu.Unlock()
	if n := logs.count(t, retrying); n != 2 {
		t.Errorf("logged %d publication failures for 2 calls over %d failed attempts, want 2", n, failed.Load())
	}
	if n := logs.count(t, "published level changes after failed attempts"); n != 1 {
		t.Errorf("logged the recovery %d times, want once", n)
	}
}

// Closing the bus ends the retries: no attempt after it, and Flush says
// what was left.
func TestClosingTheBusStopsItsRetries(t *testing.T) {
	s := natstest.Start(t)
	nc := connect(t, s)
	var failed atomic.Int64
	var a collector
	bus, err := derived.New(nc.Conn, derived.Config{OnPublishFailed: func() { failed.Add(1) }}, a.add)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, nc.Conn, bus)
	s.Stop()
	nc.waitDisconnected(t)
	bus.LevelChanged(bg, []projections.LevelChanged{levelChange(10, "2024-04-01", 1, 2)})
	waitFor(t, "two failed attempts", func() bool { return failed.Load() >= 2 })

	closed := make(chan struct{})
	go func() { bus.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close waited for the retries")
	}
	attempts := failed.Load()
	time.Sleep(min(2*derived.RetryMin<<attempts, derived.RetryMax) + 100*time.Millisecond) // past the next attempt's time
	if n := failed.Load(); n != attempts {
		t.Errorf("%d attempts after Close", n-attempts)
	}
	if err := bus.Flush(bg); !errors.Is(err, derived.ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
	if got := bus.Pending(); len(got) != 1 {
		t.Errorf("pending after Close: %+v, want the change", got)
	}
}

// A full queue drops its oldest changes, counted, and keeps the newest.
func TestAFullQueueDropsTheOldest(t *testing.T) {
	s := natstest.Start(t)
	nc := connect(t, s)
	var dropped atomic.Int64
	var a collector
	bus, err := derived.New(nc.Conn, derived.Config{MaxPending: 2, OnDropped: func(n int) { dropped.Add(int64(n)) }}, a.add)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, nc.Conn, bus)
	s.Stop()
	nc.waitDisconnected(t)
	cs := []projections.LevelChanged{levelChange(10, "2024-04-01", 1, 2), levelChange(11, "2024-05-01", 2, 3), levelChange(12, "2024-06-01", 3, 4)}
	bus.LevelChanged(bg, cs[:1])
	bus.LevelChanged(bg, cs[1:])
	bus.LevelChanged(bg, cs[1:]) // queued already: not again
	if got := bus.Pending(); !reflect.DeepEqual(got, cs[1:]) || dropped.Load() != 1 {
		t.Errorf("pending %+v, %d dropped; want %+v, 1 dropped", got, dropped.Load(), cs[1:])
	}
	s.Start()
	if got := a.wait(t, 2); !reflect.DeepEqual(got, cs[1:]) {
		t.Errorf("received %+v, want %+v", got, cs[1:])
	}
}

// With the PostgreSQL store, level changes NATS has not taken yet are
// kept with every batch the projector commits meanwhile, and are not
// marked published by a stop: a projector that dies while they wait
// loses none of them, and the next start publishes them, in order.
func TestChangesWaitingForNATSOutliveTheProjector(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := pt.Start(t, memory.New(cat), cat) // the log
	env.StopProjector()
	rec := func(res events.Result, err error) uint64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	// E1's levels change with the third and the fourth event.
	rec(env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: "E1", Name: "Person E1", Department: "Ops", JoinedOn: domain.MustDate("2015-01-01")}))
	var head uint64
	for _, acc := range []domain.Accomplishment{
		pt.Engagement(domain.SystemOperation, domain.Member, "2016-01-01", "2017-01-01", domain.Successful, true,
			domain.OperationRequirements, domain.OperationSystems),
		pt.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01"),
		pt.Assessment(domain.ServiceLevelManagement, domain.Practice, "2017-06-01"),
	} {
		head = rec(env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "E1", Accomplishment: acc}))
	}
	store := postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")

	// The derived events' NATS is away (the log's is not).
	s := natstest.Start(t)
	nc := connect(t, s)
	var failed atomic.Int64
	var lost collector
	bus, err := derived.New(nc.Conn, derived.Config{OnPublishFailed: func() { failed.Add(1) }}, lost.add)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, nc.Conn, bus)
	s.Stop()
	nc.waitDisconnected(t)

	project := func(notifier projections.Notifier) (stop func()) {
		ctx, cancel := context.WithCancel(bg)
		p := &projections.Projector{Catalogue: cat, Source: env.Log, Store: store, Notifier: notifier, MaxBatch: 1,
			Now: func() time.Time { return env.Clock.Peek() }}
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		return func() {
			t.Helper()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("projector: %v", err)
			}
		}
	}
	reach := func(pos uint64) {
		t.Helper()
		waitFor(t, "the checkpoint", func() bool { cp, err := store.Checkpoint(bg); return err == nil && cp >= pos })
	}
	stop := project(bus)
	reach(head)
	// The projector queues a batch's changes after it commits the batch.
	var waiting []projections.LevelChanged
	twoBatches := func() bool {
		waiting = bus.Pending()
		return len(waiting) >= 2 && waiting[0].Position != waiting[len(waiting)-1].Position
	}
	waitFor(t, "the changes of two batches waiting for NATS", twoBatches)
	if kept, err := store.LastDerived(bg); err != nil || !reflect.DeepEqual(kept, waiting) {
		t.Errorf("kept with the last batch: %+v, %v; want everything waiting %+v", kept, err, waiting)
	}
	// A batch that reveals nothing keeps them too.
	quiet := rec(env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: "E2", Name: "Person E2", Department: "Ops", JoinedOn: domain.MustDate("2015-01-01")}))
	reach(quiet)
	if kept, err := store.LastDerived(bg); err != nil || !reflect.DeepEqual(kept, waiting) {
		t.Errorf("kept with a batch that revealed nothing: %+v, %v; want %+v", kept, err, waiting)
	}
	// The process dies: its bus with what it held, then the projector.
	bus.Close()
	stop()
	if kept, err := store.LastDerived(bg); err != nil || !reflect.DeepEqual(kept, waiting) {
		t.Errorf("kept after a stop with changes unpublished: %+v, %v; want %+v", kept, err, waiting)
	}
	if failed.Load() == 0 {
		t.Error("no attempt failed: the test proves nothing")
	}

	// NATS back, the next start publishes them, once, in order.
	s.Start()
	nc2 := connect(t, s)
	var got collector
	bus2, err := derived.New(nc2.Conn, derived.Config{}, got.add)
	if err != nil {
		t.Fatal(err)
	}
	runBus(t, nc2.Conn, bus2)
	stop = project(bus2)
	if all := got.wait(t, len(waiting)); !reflect.DeepEqual(all, waiting) {
		t.Errorf("the next start published %+v, want %+v", all, waiting)
	}
	// Stopped with everything handed over, nothing stays kept.
	stop()
	if kept, err := store.LastDerived(bg); err != nil || len(kept) != 0 {
		t.Errorf("kept after a clean stop: %+v, %v; want none", kept, err)
	}
	got.mu.Lock()
	if len(got.got) != len(waiting) {
		t.Errorf("received %d changes, want %d: %+v", len(got.got), len(waiting), got.got)
	}
	got.mu.Unlock()
}
