package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// ledger records which instance wrote which positions. Under the projector
// lock it is exact: the checkpoint read before an Apply is the one the
// Apply starts from.
type ledger struct {
	mu     sync.Mutex
	by     map[uint64]string
	double []string
}

// ledgerStore notes the positions each successful Apply wrote.
type ledgerStore struct {
	*postgres.Store
	name   string
	ledger *ledger
}

func (s *ledgerStore) Apply(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection) error {
	return s.ApplyDerived(ctx, position, batch, people, nil)
}

// ApplyDerived is Apply with level changes kept (a projector with a
// Notifier): noted the same way.
func (s *ledgerStore) ApplyDerived(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection, derived []projections.LevelChanged) error {
	before, err := s.Store.Checkpoint(ctx)
	if err != nil {
		return err
	}
	if err := s.Store.ApplyDerived(ctx, position, batch, people, derived); err != nil {
		return err
	}
	s.ledger.mu.Lock()
	defer s.ledger.mu.Unlock()
	for _, r := range batch {
		if r.Position <= before {
			continue
		}
		if prev, ok := s.ledger.by[r.Position]; ok {
			s.ledger.double = append(s.ledger.double, fmt.Sprintf("%d by %s and %s", r.Position, prev, s.name))
		}
		s.ledger.by[r.Position] = s.name
	}
	return nil
}

type tlogWriter struct {
	t    *testing.T
	name string
}

func (w tlogWriter) Write(b []byte) (int, error) {
	w.t.Logf("instance %s: %s", w.name, b)
	return len(b), nil
}

// instance is one careerd's projector: RunExclusive on its own pool.
type instance struct {
	name    string
	pool    *pgxpool.Pool
	store   *postgres.Store
	applied atomic.Int64 // batches committed (OnApplied)
	cancel  context.CancelFunc
	done    chan struct{}
}

func (in *instance) start(env *projectionstest.Env, l *ledger) {
	ctx, cancel := context.WithCancel(bg)
	in.cancel, in.done = cancel, make(chan struct{})
	go func() {
		defer close(in.done)
		in.store.RunExclusive(ctx, 20*time.Millisecond, func(ctx context.Context) error { //nolint:errcheck // nil when ctx is done
			p := &projections.Projector{Catalogue: env.Cat, Source: env.Log, MaxBatch: 7,
				Store:     &ledgerStore{Store: in.store, name: in.name, ledger: l},
				Now:       func() time.Time { return env.Clock.Peek() },
				OnApplied: func(uint64, int) { in.applied.Add(1) }}
			return p.Run(ctx)
		})
	}()
}

func (in *instance) stop() {
	in.cancel()
	<-in.done
}

func waitFor(t *testing.T, store *postgres.Store, pos uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, 15*time.Second)
	defer cancel()
	if err := store.WaitFor(ctx, pos); err != nil {
		cp, _ := store.Checkpoint(bg)
		t.Fatalf("read model stuck at %d, want %d: %v", cp, pos, err)
	}
}

// TestTwoProjectorsRace runs two instances' projectors against one database
// while events are recorded: exactly one projects, no position is applied
// twice, the result equals a clean rebuild; when the one projecting is
// stopped the other takes over; and when the database kills the projecting
// instance's lock session (both may then briefly project at once) the
// result still equals a clean rebuild.
func TestTwoProjectorsRace(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	base := pgtest.NewPool(t, postgres.DefaultSchema)
	admin := newPool(t, base, "race_admin")
	l := &ledger{by: map[uint64]string{}}
	var ins []*instance
	for _, name := range []string{"A", "B"} {
		pool := newPool(t, base, "race_"+name)
		in := &instance{name: name, pool: pool, store: postgres.New(pool, cat, "")}
		in.store.Logger = slog.New(slog.NewTextHandler(tlogWriter{t, name}, nil))
		ins = append(ins, in)
		in.start(env, l)
		t.Cleanup(in.stop)
	}
	w := projectionstest.NewWorkload(11, cat, env.Recorder, "R", 20)
	record := func(n int) uint64 { return recordWorkload(t, w, n) }
	checkLedger := func(head uint64) {
		t.Helper()
		// A batch's commit is seen (waitFor) a moment before its store
		// returns and notes it in the ledger: give the note that moment.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			l.mu.Lock()
			_, noted := l.by[head]
			l.mu.Unlock()
			if noted {
				break
			}
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.double) > 0 {
			t.Errorf("positions applied twice: %v", l.double)
		}
		for pos := uint64(1); pos <= head; pos++ {
			if _, ok := l.by[pos]; !ok {
				t.Errorf("position %d never applied", pos)
			}
		}
	}

	// Phase 1: both run; one holds the lock and projects everything.
	head := record(150)
	waitFor(t, ins[0].store, head)
	waitFor(t, ins[1].store, head)
	a, b := ins[0].applied.Load(), ins[1].applied.Load()
	if (a > 0) == (b > 0) {
		t.Fatalf("batches applied: A %d, B %d; want exactly one instance projecting", a, b)
	}
	holder, other := ins[0], ins[1]
	if b > 0 {
		holder, other = ins[1], ins[0]
	}
	checkLedger(head)
	checkEventsComplete(t, env, holder.store, admin, head)
	_, cleanPool := cleanRebuild(t, env, head)
	compareTables(t, dumpTables(t, admin), dumpTables(t, cleanPool))

	// Phase 2: the holder stops; the other takes over.
	holder.stop()
	stoppedAt := holder.applied.Load()
	head = record(50)
	waitFor(t, other.store, head)
	if holder.applied.Load() != stoppedAt {
		t.Errorf("the stopped instance kept projecting")
	}
	if other.applied.Load() == 0 {
		t.Fatalf("instance %s did not take over", other.name)
	}
	checkLedger(head)
	t.Logf("phase 2: %s projected %d batches, then %s took over with %d", holder.name, stoppedAt, other.name, other.applied.Load())

	// Phase 3: the stopped instance comes back as a standby; the database
	// then kills the lock session of the projecting one while events keep
	// coming. The standby takes the lock within its retry; the old holder
	// notices only at its next ping, so for a while both project.
	holder.start(env, l)
	before := holder.applied.Load() // a standby applies nothing
	recorded := make(chan uint64, 1)
	go func() {
		// Keep recording until the standby has taken over (or long enough
		// to fail): a fixed amount can be projected whole by the old
		// holder before the standby's next try.
		var last uint64
		for i := 0; i < 6 || holder.applied.Load() == before && i < 300; i++ {
			l, err := w.Run(bg, 20)
			if err != nil {
				t.Error(err)
				break
			}
			last = l
		}
		recorded <- last
	}()
	time.Sleep(20 * time.Millisecond)
	var killed int
	if err := admin.QueryRow(bg, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) k`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Errorf("killed %d lock sessions, want 1", killed)
	}
	head = <-recorded
	waitFor(t, other.store, head)
	waitFor(t, holder.store, head)
	if holder.applied.Load() == before {
		t.Errorf("instance %s did not take over after the lock session of %s died", holder.name, other.name)
	}
	t.Logf("phase 3: %s applied %d batches after the kill", holder.name, holder.applied.Load()-before)

	checkEventsComplete(t, env, holder.store, admin, head)
	equalsCleanRebuild(t, env, head, admin, holder.store, w.IDs)
}

// TestRivalProjectorsWithoutLock runs two projectors against one database
// with no lock at all, as happens for a moment when a lock session dies
// under a projector that has not noticed yet: the store's Apply must make
// the rival's stale batches no-ops, and the result must equal a clean
// rebuild.
func TestRivalProjectorsWithoutLock(t *testing.T) { rivalsWithoutLock(t, false) }

// rivalsWithoutLock runs two projectors (bulk or not) against one database
// with no lock, restarting each after every refusal, while events keep
// coming in several bursts, and compares the result with a clean rebuild.
func rivalsWithoutLock(t *testing.T, bulk bool) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	base := pgtest.NewPool(t, postgres.DefaultSchema)
	w := projectionstest.NewWorkload(13, cat, env.Recorder, "W", 12)
	if _, err := w.Run(bg, 40); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	var wg sync.WaitGroup
	var stores []*postgres.Store
	var failures atomic.Int64
	for i, batch := range []int{3, 5} {
		store := postgres.New(newPool(t, base, fmt.Sprintf("rival_%d", i)), cat, "")
		stores = append(stores, store)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				p := &projections.Projector{Catalogue: cat, Source: env.Log, Store: store, MaxBatch: batch, Bulk: bulk,
					Now: func() time.Time { return env.Clock.Peek() }}
				if err := p.Run(ctx); err != nil {
					failures.Add(1)
					t.Logf("rival %d: %v (restarting)", i, err)
				}
			}
		}()
	}
	for _, n := range []int{200, 40, 40, 40, 40, 40} {
		if _, err := w.Run(bg, n); err != nil {
			t.Fatal(err)
		}
	}
	head, err := env.Log.Head(bg)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, stores[0], head)
	cancel()
	wg.Wait()
	checkEventsComplete(t, env, stores[0], base, head)
	equalsCleanRebuild(t, env, head, base, stores[0], w.IDs)
	if n := failures.Load(); n > 0 {
		t.Logf("rival runs failed and restarted %d times", n)
	}
}

// gatedSource delivers fixed batches (the part of each after the follower's
// start), once release is closed; then it waits for ctx.
type gatedSource struct {
	release chan struct{}
	batches [][]events.Recorded
}

func (s *gatedSource) Follow(ctx context.Context, after uint64, _ int, handle func(context.Context, []events.Recorded) error) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil
	}
	for _, b := range s.batches {
		var rest []events.Recorded
		for _, r := range b {
			if r.Position > after {
				rest = append(rest, r)
			}
		}
		if len(rest) == 0 {
			continue
		}
		if err := handle(ctx, rest); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// recordLaggingRivalLog records the five events of one person the lagging
// rival tests project: a registration, three assessments and a transfer.
func recordLaggingRivalLog(t *testing.T, env *projectionstest.Env) []events.Recorded {
	t.Helper()
	if _, err := env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: "L1", Name: "Person L1", Department: "Ops",
		JoinedOn: domain.MustDate("2015-01-01")}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"2016-01-01", "2017-01-01", "2018-01-01"} {
		if _, err := env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "L1",
			Accomplishment: projectionstest.Assessment(domain.StressManagement, domain.Basic, d)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Recorder.TransferPerson(bg, events.TransferPerson{PersonID: "L1", Department: "Net",
		EffectiveOn: domain.MustDate("2019-01-01")}); err != nil {
		t.Fatal(err)
	}
	rs, err := env.Log.Read(bg, 0, 100)
	if err != nil || len(rs) != 5 {
		t.Fatalf("log: %d events, %v", len(rs), err)
	}
	return rs
}

// TestLaggingRivalTakesOver is the interleaving a takeover produces: the
// new projector has read the checkpoint when the old one, not yet aware
// that it lost the lock, commits more batches; the new one then loads a
// person from the store (already holding those batches), replays the same
// events as no-ops, and finally projects on its own. It must neither fold
// an event twice nor fail.
func TestLaggingRivalTakesOver(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	store := postgres.New(pool, cat, "")
	rs := recordLaggingRivalLog(t, env)
	newProjector := func(src projections.Source) (*projections.Projector, context.CancelFunc, chan error) {
		ctx, cancel := context.WithCancel(bg)
		p := &projections.Projector{Catalogue: cat, Source: src, Store: store, Now: func() time.Time { return env.Clock.Peek() }}
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		return p, cancel, done
	}
	// The new projector reads checkpoint 0 and waits for its first batch.
	newSrc := &gatedSource{release: make(chan struct{}), batches: [][]events.Recorded{rs[0:1], rs[1:2], rs[2:3], rs[3:5]}}
	_, stopNew, newDone := newProjector(newSrc)
	time.Sleep(50 * time.Millisecond)
	// Meanwhile the old one commits the first three events.
	oldSrc := &gatedSource{release: make(chan struct{}), batches: [][]events.Recorded{rs[0:3]}}
	close(oldSrc.release)
	_, stopOld, oldDone := newProjector(oldSrc)
	waitFor(t, store, 3)
	stopOld()
	if err := <-oldDone; err != nil {
		t.Fatal(err)
	}
	// The new one goes on: positions 1-3 are no-ops, 4-5 its own.
	close(newSrc.release)
	select {
	case err := <-newDone:
		t.Fatalf("the new projector failed: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the new projector did not reach position 5")
	case <-func() chan struct{} {
		c := make(chan struct{})
		go func() {
			ctx, cancel := context.WithTimeout(bg, 5*time.Second)
			defer cancel()
			if store.WaitFor(ctx, 5) == nil {
				close(c)
			}
		}()
		return c
	}():
	}
	stopNew()
	if err := <-newDone; err != nil {
		t.Fatal(err)
	}
	equalsCleanRebuild(t, env, 5, pool, store, []string{"L1"})
}
