package postgres_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events/natstest"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
	"github.com/jackc/pgx/v5/pgxpool"
	"net"
	"strconv"
)

// TestProjectorLockIsPerReadModel: deployments of two names on one database
// (the default one, and "trialfresh" served from a rebuilt schema) project
// at once, each into its own read model; two instances of one name still
// exclude each other, whichever physical schema they look at (a lock taken
// for the name's first schema excludes the projector of its rebuilt one),
// and the second takes over when the first stops.
func TestProjectorLockIsPerReadModel(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	base := pgtest.NewPool(t, postgres.DefaultSchema)
	const name = "trialfresh"
	served := name + "_20261127t094641_ac201d18"
	if err := postgres.Migrate(bg, base, served); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.InitActive(bg, base, name, postgres.Active{Schema: served, CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
		t.Fatal(err)
	}
	newInstance := func(label, schema, deployment string) *instance {
		pool := newPool(t, base, "lock_"+label)
		in := &instance{name: label, pool: pool, store: postgres.New(pool, cat, schema)}
		in.store.Deployment = deployment
		in.store.Logger = slog.New(slog.NewTextHandler(tlogWriter{t, label}, nil))
		return in
	}
	def := newInstance("default", "", "")
	t1 := newInstance("trialfresh-1", served, name)
	t2 := newInstance("trialfresh-2", served, name)
	defLedger, tLedger := &ledger{by: map[uint64]string{}}, &ledger{by: map[uint64]string{}}
	w := projectionstest.NewWorkload(5, cat, env.Recorder, "P", 10)
	record := func(n int) uint64 { return recordWorkload(t, w, n) }

	def.start(env, defLedger)
	t.Cleanup(def.stop)
	t1.start(env, tLedger)
	t.Cleanup(t1.stop)
	head := record(60)
	waitFor(t, def.store, head)
	waitFor(t, t1.store, head)
	if def.applied.Load() == 0 || t1.applied.Load() == 0 {
		t.Fatalf("batches applied: default %d, trialfresh %d; want both read models projected at once",
			def.applied.Load(), t1.applied.Load())
	}

	// Another instance of trialfresh stands by, and so does a projector of
	// the name's first schema (the lock is the name's, not the schema's).
	t2.start(env, tLedger)
	t.Cleanup(t2.stop)
	var other atomic.Bool
	ctx, cancel := context.WithCancel(bg)
	otherDone := make(chan struct{})
	go func() {
		defer close(otherDone)
		postgres.RunExclusive(ctx, newPool(t, base, "lock_first_schema"), name, nil, 20*time.Millisecond, //nolint:errcheck // nil when ctx is done
			func(ctx context.Context) error {
				other.Store(true)
				<-ctx.Done()
				return nil
			})
	}()
	head = record(30)
	waitFor(t, t1.store, head)
	waitFor(t, def.store, head)
	time.Sleep(200 * time.Millisecond) // ten retries of the standbys
	if n := t2.applied.Load(); n != 0 {
		t.Errorf("the second trialfresh instance applied %d batches while the first held the lock", n)
	}
	if other.Load() {
		t.Error("a projector of trialfresh's first schema ran while an instance held trialfresh's lock")
	}
	cancel()
	<-otherDone

	// The first stops: the second takes over.
	t1.stop()
	head = record(30)
	waitFor(t, t2.store, head)
	if t2.applied.Load() == 0 {
		t.Fatal("the second trialfresh instance did not take over")
	}
	if len(tLedger.double) > 0 || len(defLedger.double) > 0 {
		t.Errorf("positions applied twice: trialfresh %v, default %v", tLedger.double, defLedger.double)
	}
}

// TestTheDefaultReadModelKeepsTheOldProjectorLock: the default read model's
// projector lock is the key every release took before the keys were per
// read model, so an instance of such a release holding it keeps a new one
// standing by in a rolling upgrade; a read model of another name takes a
// key of its own.
func TestTheDefaultReadModelKeepsTheOldProjectorLock(t *testing.T) {
	const oldKey = 0x6361726565726c02
	if got := postgres.ProjectorLockKey(postgres.DefaultSchema); got != oldKey {
		t.Fatalf("default read model's key %#x, want the old %#x", got, int64(oldKey))
	}
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	old, err := pgx.ConnectConfig(bg, pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Close(bg) })
	if _, err := old.Exec(bg, "SELECT pg_advisory_lock($1)", int64(oldKey)); err != nil {
		t.Fatal(err)
	}
	runs := func(name string) bool {
		t.Helper()
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		var ran atomic.Bool
		postgres.RunExclusive(ctx, pool, name, nil, 20*time.Millisecond, func(ctx context.Context) error { //nolint:errcheck // nil when ctx is done
			ran.Store(true)
			cancel()
			return nil
		})
		return ran.Load()
	}
	if runs(postgres.DefaultSchema) {
		t.Error("the default read model's projector ran while an old instance held the old lock")
	}
	if !runs("trialfresh") {
		t.Error("trialfresh's projector did not run while an old instance held the default read model's lock")
	}
	for _, n := range []string{"trialfresh", "trialfresh2", "careerledger2", ""} {
		if postgres.ProjectorLockKey(n) == oldKey {
			t.Errorf("read model %q takes the default read model's key", n)
		}
	}
	if postgres.ProjectorLockKey("a") == postgres.ProjectorLockKey("b") {
		t.Error("two names, one key")
	}
}

// TestSilentDatabaseStopsTheProjector: a database that stops answering
// without closing the connection (a frozen server, a network cut) stops the
// projector within the lock session's ping bound: its run is cancelled, as
// after a lost session, instead of waiting for TCP to give up a quarter of
// an hour later; and once the database answers again the projector runs
// again.
func TestSilentDatabaseStopsTheProjector(t *testing.T) {
	postgres.SetLockPingTimeout(t, 300*time.Millisecond)
	pool, proxy := proxiedPool(t, pgtest.NewPool(t, postgres.DefaultSchema))

	ctx, cancel := context.WithCancel(bg)
	runs := make(chan struct{}, 8)
	stopped := make(chan time.Time, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		postgres.RunExclusive(ctx, pool, "silenttrial", nil, 20*time.Millisecond, func(ctx context.Context) error { //nolint:errcheck // nil when ctx is done
			runs <- struct{}{}
			<-ctx.Done()
			stopped <- time.Now()
			return nil
		})
	}()
	t.Cleanup(func() { proxy.Release(); cancel(); <-done })
	select {
	case <-runs:
	case <-time.After(10 * time.Second):
		t.Fatal("the projector never ran")
	}
	held := time.Now()
	proxy.Hold()
	select {
	case at := <-stopped:
		if d := at.Sub(held); d > 5*time.Second {
			t.Errorf("stopped %s after the database fell silent", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the projector still ran 20 s after the database fell silent")
	}
	proxy.Release()
	select {
	case <-runs:
	case <-time.After(20 * time.Second):
		t.Fatal("the projector did not run again once the database answered")
	}
}

// TestAFrozenHolderLosesTheProjectorLock: a holder that stops sending
// anything while its connection stays open (its process stopped or paused:
// here a proxy that holds its bytes, and a ping bound long enough that the
// holder does not give up first) loses the lock to a rival within the lock
// session's idle bound, instead of keeping every instance from projecting
// until it runs again.
func TestAFrozenHolderLosesTheProjectorLock(t *testing.T) {
	postgres.SetLockPingTimeout(t, time.Minute)
	postgres.SetLockIdleTimeout(t, time.Second)
	direct := pgtest.NewPool(t, postgres.DefaultSchema)
	frozen, proxy := proxiedPool(t, direct)

	ctx, cancel := context.WithCancel(bg)
	runs := make(chan string, 8)
	var wg sync.WaitGroup
	run := func(who string, pool *pgxpool.Pool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			postgres.RunExclusive(ctx, pool, "frozentrial", nil, 20*time.Millisecond, func(ctx context.Context) error { //nolint:errcheck // nil when ctx is done
				runs <- who
				<-ctx.Done()
				return nil
			})
		}()
	}
	t.Cleanup(func() { proxy.Release(); cancel(); wg.Wait() })
	run("frozen", frozen)
	select {
	case who := <-runs:
		if who != "frozen" {
			t.Fatalf("%s ran first", who)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the projector never ran")
	}
	proxy.Hold()
	held := time.Now()
	run("rival", direct)
	select {
	case who := <-runs:
		if d := time.Since(held); who != "rival" || d > 8*time.Second {
			t.Errorf("%s ran %s after the holder froze", who, d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the rival still did not project 15 s after the holder froze")
	}
}

// proxiedPool is a pool to base's database through a proxy whose bytes
// the test can hold (a database, or a holder, fallen silent).
func proxiedPool(t *testing.T, base *pgxpool.Pool) (*pgxpool.Pool, *natstest.Proxy) {
	t.Helper()
	cfg := base.Config().Copy()
	proxy := natstest.StartProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	host, port, _ := net.SplitHostPort(proxy.Addr())
	p, _ := strconv.Atoi(port)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
	pool, err := pgxpool.NewWithConfig(bg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, proxy
}
