package main

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/events/natstest"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestASwitchOverAModelStillCatchingUpMissesNothing: two rebuilds, on two
// instances of one deployment, switch one right after the other. Instance
// A switches from the serving model S0 to S1, and is still bringing S1 up
// to S0's final position when instance B, whose switch waited for A's,
// switches from S1 to S2. S1 is then behind writes S0 acknowledged, and
// B must bring S2 up to S0's final positions (readable and stored: S0 is
// in the middle of a bulk catch-up), which A's switch recorded, not to
// S1's. Before, B caught S2 up to S1 as it was, and served it on B
// without them: a person S0 showed was not found.
func TestASwitchOverAModelStillCatchingUpMissesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, cfg, a, b, s0 := twoInstancesLateToFollow(t)

	// Both rebuilds reach A1's events (and S0 was readable there).
	reached, readable, stored := midBulkCatchUp(ctx, t, a, s0)
	s1, schema1 := rebuiltTo(ctx, t, a, reached)
	s2, schema2 := rebuiltTo(ctx, t, b, reached)

	// A's switch takes the registry row first, B's waits for it: both
	// rebuilds finished at once. A's catch-up waits until B has switched.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // only a lock to give back
	if _, err := tx.Exec(ctx, `SELECT FROM public.careerledger_read_models WHERE name = $1 FOR UPDATE`, cfg.Schema); err != nil {
		t.Fatal(err)
	}
	goOn := make(chan struct{})
	catching, aDone := switchHeldInCatchUp(ctx, a, s1, schema1, goOn)
	bDone := make(chan error, 1)
	awaitRowWaiters(t, pool, 1)
	go func() {
		bDone <- b.switchTo(ctx, s2, schema2, false, func(ctx context.Context, r, s uint64) error {
			return b.catchUpTo(ctx, s2, r, s)
		})
	}()
	awaitRowWaiters(t, pool, 2)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-catching:
		if got != [2]uint64{readable, stored} {
			t.Errorf("A's switch catches S1 up to %v, want S0's final positions %v", got, [2]uint64{readable, stored})
		}
	case err := <-aDone:
		t.Fatalf("A's switch ended before its catch-up: %v", err)
	case <-ctx.Done():
		t.Fatal("A's switch did not reach its catch-up")
	}
	select {
	case err := <-bDone:
		if err != nil {
			t.Fatalf("B's switch: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("B's switch did not end while A's caught up")
	}
	if active, _, _ := postgres.ReadActive(ctx, pool, cfg.Schema); active.Schema != schema2 {
		t.Fatalf("the active schema is %s, want B's %s (B's switch after A's)", active.Schema, schema2)
	}
	if cur, _ := b.store.Current().(*postgres.Store); cur == nil || cur.Schema() != schema2 {
		t.Fatalf("B serves %v, want %s", b.store.Current(), schema2)
	}
	// S1 is still where its rebuild left it.
	if r, err := s1.Readable(ctx); err != nil || r != reached {
		t.Fatalf("S1 is readable up to %d (%v) during A's catch-up, want %d", r, err, reached)
	}
	// S0, which S2 replaced through S1, was final at readable and stored.
	checkServesS0sFinal(ctx, t, b, s2, "S2", readable, stored)

	close(goOn)
	select {
	case err := <-aDone:
		if err != nil {
			t.Fatalf("A's switch: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("A's switch did not end")
	}
}

// holdProjectorLock takes deployment name's projector lock on a session
// of pool until the returned release (once; later calls do nothing).
func holdProjectorLock(t *testing.T, pool *pgxpool.Pool, name string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := postgres.ProjectorLockKey(name)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		conn.Release()
		t.Fatal(err)
	}
	released := false
	return func() {
		if !released {
			released = true
			conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key) //nolint:errcheck // the session ends with the release anyway
			conn.Release()
		}
	}
}

// awaitRowWaiters waits until n sessions of pool's database wait for a
// row lock (a tuple's, or the transaction holding it).
func awaitRowWaiters(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting int
		if err := pool.QueryRow(context.Background(), `SELECT count(DISTINCT l.pid) FROM pg_locks l
			JOIN pg_stat_activity a ON a.pid = l.pid AND a.datname = current_database()
			WHERE NOT l.granted AND l.locktype IN ('transactionid', 'tuple')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions wait for a row lock, want %d", waiting, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestASwitchOverAnUnreadableModelStillReachesTheRecordedPositions: a
// switch replaces a model (S1) that the switch before it (S0 to S1, on an
// instance that died before its catch-up ran) recorded was to be brought
// up to S0's final positions, and S1's own positions cannot be read (its
// checkpoint gone). Those recorded positions are known all the same: the
// new model (S2) is brought up to them from the log before it serves,
// which needs nothing of S1, and a person S0 showed is found. Before, the
// switch gave up its catch-up when S1 did not answer after the commit
// either, and served S2 where its rebuild had left it.
func TestASwitchOverAnUnreadableModelStillReachesTheRecordedPositions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, cfg, a, b, s0 := twoInstancesLateToFollow(t)
	reached := appendLevelOne(t, a, "A1")[2]
	final := appendLevelOne(t, a, "A2")[2]
	p := &projections.Projector{Catalogue: a.cat, Source: a.eventLog, Store: s0, Now: a.now}
	p.StopAfter(final)
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, schema1 := rebuiltTo(ctx, t, a, reached)
	s2, schema2 := rebuiltTo(ctx, t, b, reached)

	// The switch to S1, whose instance died before bringing S1 up to S0.
	sw, err := postgres.SwitchActive(ctx, pool, cfg.Schema, postgres.Active{Schema: schema1, CatalogueID: a.cat.ID(),
		CatalogueVersion: a.cat.Version(), Format: postgres.Format}, false)
	if err != nil || sw.Readable != final {
		t.Fatalf("the switch to S1: %+v, %v; want it to record S0's final position %d", sw, err, final)
	}
	// S1's own positions cannot be read any more.
	if _, err := pool.Exec(ctx, `DROP TABLE `+pgx.Identifier{schema1}.Sanitize()+`.projection_checkpoint`); err != nil {
		t.Fatal(err)
	}
	if err := b.switchTo(ctx, s2, schema2, false, func(ctx context.Context, r, s uint64) error {
		return b.catchUpTo(ctx, s2, r, s)
	}); err != nil {
		t.Fatalf("B's switch: %v", err)
	}
	if got, err := s2.Readable(ctx); err != nil || got != final {
		t.Errorf("S2 serves on B readable up to %d (%v); the switch to S1 recorded S0's final position, %d", got, err, final)
	}
	_, res := post(t, b.Addr(), adminToken(t), `query { person(id: "A2") { id } }`, nil)
	var got struct{ Person *struct{ ID string } }
	if len(res.Errors) > 0 || json.Unmarshal(res.Data, &got) != nil || got.Person == nil {
		t.Errorf("B after its switch: A2, whom S0 showed, is missing: %s %+v", res.Data, res.Errors)
	}
}

// TestAFollowerWhoseOldModelIsGoneReachesTheRecordedPositions: instance
// A switches from S0 to S1 and is still bringing S1 up to S0's final
// positions (readable and stored: S0 is in the middle of a bulk catch-up)
// when instance B, slow to follow, finds S0 gone (the retired schema's
// sweep dropped it). B cannot read its old model's positions, but A's
// switch recorded them: B brings S1 up to them from the log before it
// serves S1, and a person S0 showed is found on B. Before, B served S1
// where its rebuild had left it, without that person, until a projector
// caught it up.
func TestAFollowerWhoseOldModelIsGoneReachesTheRecordedPositions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logs := &logLines{}
	pool, cfg, a, b, s0 := twoInstancesLateToFollowLogging(t, logs)
	if cur, _ := b.store.Current().(*postgres.Store); cur == nil || cur.Schema() != s0.Schema() {
		t.Fatalf("B serves %v, want S0 (%s)", b.store.Current(), s0.Schema())
	}
	// The rebuild reaches A1's events.
	reached, readable, stored := midBulkCatchUp(ctx, t, a, s0)
	s1, schema1 := rebuiltTo(ctx, t, a, reached)

	// B is slow to follow: its live projector's pause waits (its queries
	// are held from the moment it sees the switch).
	b.liveMu.Lock()
	var unlockOnce sync.Once
	unlockB := func() { unlockOnce.Do(b.liveMu.Unlock) }
	defer unlockB()

	// A's switch, whose catch-up waits until B has followed.
	goOn := make(chan struct{})
	var goOnce sync.Once
	letAGoOn := func() { goOnce.Do(func() { close(goOn) }) }
	defer letAGoOn()
	catching, aDone := switchHeldInCatchUp(ctx, a, s1, schema1, goOn)
	select {
	case got := <-catching:
		if got != [2]uint64{readable, stored} {
			t.Fatalf("A's switch catches S1 up to %v, want S0's final positions %v", got, [2]uint64{readable, stored})
		}
	case err := <-aDone:
		t.Fatalf("A's switch ended before its catch-up: %v", err)
	case <-ctx.Done():
		t.Fatal("A's switch did not reach its catch-up")
	}

	// The sweep drops S0 while B still serves it.
	dropped, err := postgres.DropRetired(ctx, pool, cfg.Schema, 0)
	if err != nil || !slices.Contains(dropped, s0.Schema()) {
		t.Fatalf("the sweep dropped %v (%v), want S0 (%s)", dropped, err, s0.Schema())
	}
	unlockB()
	deadline := time.Now().Add(10 * time.Second)
	for cur, _ := b.store.Current().(*postgres.Store); cur == nil || cur.Schema() != schema1; cur, _ = b.store.Current().(*postgres.Store) {
		if time.Now().After(deadline) {
			t.Fatal("B did not follow the switch")
		}
		b.followNow(ctx)
	}

	// Nothing projects (the test holds the projector lock) and A's
	// catch-up has not run: what S1 holds, B's follow brought it.
	// A's switch recorded S0's final positions.
	checkServesS0sFinal(ctx, t, b, s1, "S1", readable, stored)
	const msg = "following the read model switch: the old model's position could not be read; the new model catches up to the position recorded for it"
	if len(logs.find(t, msg, map[string]string{"schema": schema1, "old_schema": s0.Schema(),
		"readable": strconv.FormatUint(readable, 10), "stored": strconv.FormatUint(stored, 10)})) == 0 {
		t.Errorf("no warning naming the recorded positions B caught up to; logs:\n%s", logs.String())
	}

	letAGoOn()
	select {
	case err := <-aDone:
		if err != nil {
			t.Fatalf("A's switch: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("A's switch did not end")
	}
}

// switchHeldInCatchUp starts a's switch to target (schema): its catch-up
// sends the positions it is to reach on catching, then waits until goOn
// is closed before it catches up; done gets the switch's result.
func switchHeldInCatchUp(ctx context.Context, a *Main, target projections.ReadModel, schema string, goOn <-chan struct{}) (catching <-chan [2]uint64, done <-chan error) {
	c, d := make(chan [2]uint64, 1), make(chan error, 1)
	go func() {
		d <- a.switchTo(ctx, target, schema, false, func(ctx context.Context, r, s uint64) error {
			c <- [2]uint64{r, s}
			select {
			case <-goOn:
			case <-ctx.Done():
				return ctx.Err()
			}
			return a.catchUpTo(ctx, target, r, s)
		})
	}()
	return c, d
}

// midBulkCatchUp records level-one evidence for A1 to A4 through a and
// leaves s0 in the middle of a bulk catch-up: A2's events judged
// (readable), A3's stored unjudged (stored), A4's not reached. reached is
// the position of A1's, for a rebuild to stop at.
func midBulkCatchUp(ctx context.Context, t *testing.T, a *Main, s0 *postgres.Store) (reached, readable, stored uint64) {
	t.Helper()
	reached = appendLevelOne(t, a, "A1")[2]
	readable = appendLevelOne(t, a, "A2")[2]
	stored = appendLevelOne(t, a, "A3")[2]
	appendLevelOne(t, a, "A4")
	p := &projections.Projector{Catalogue: a.cat, Source: a.eventLog, Store: s0, Now: a.now}
	p.StopAfter(readable)
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	deferred, err := a.eventLog.Read(ctx, readable, int(stored-readable))
	if err != nil || len(deferred) != int(stored-readable) {
		t.Fatalf("read the log after %d: %d events, %v", readable, len(deferred), err)
	}
	if err := s0.ApplyEvents(ctx, stored, deferred); err != nil {
		t.Fatal(err)
	}
	return reached, readable, stored
}

// checkServesS0sFinal: model, served on b, is readable up to readable
// and stores up to stored (S0's final positions, from midBulkCatchUp), and
// b finds A2, whom S0 showed.
func checkServesS0sFinal(ctx context.Context, t *testing.T, b *Main, model projections.ReadModel, name string, readable, stored uint64) {
	t.Helper()
	gotReadable, err := model.Readable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gotStored, err := model.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if gotReadable != readable || gotStored != stored {
		t.Errorf("%s serves on B readable up to %d, storing up to %d; S0 was final at %d and %d",
			name, gotReadable, gotStored, readable, stored)
	}
	_, res := post(t, b.Addr(), adminToken(t), `query { person(id: "A2") { id } }`, nil)
	var got struct{ Person *struct{ ID string } }
	if len(res.Errors) > 0 || json.Unmarshal(res.Data, &got) != nil || got.Person == nil {
		t.Errorf("B on %s: A2, whom S0 showed, is missing: %s %+v", name, res.Data, res.Errors)
	}
}

// twoInstancesLateToFollow starts two careerd instances A and B on one
// database and one embedded JetStream server, with nothing projecting but
// the test (it holds the projector lock) and each following another's
// switch only on its notification, not on the periodic check: the
// database's pool, their configuration, the two instances and the
// PostgreSQL model A serves.
func twoInstancesLateToFollow(t *testing.T) (*pgxpool.Pool, Config, *Main, *Main, *postgres.Store) {
	t.Helper()
	return twoInstancesLateToFollowLogging(t, io.Discard)
}

// twoInstancesLateToFollowLogging is twoInstancesLateToFollow with B
// logging to logsB.
func twoInstancesLateToFollowLogging(t *testing.T, logsB io.Writer) (*pgxpool.Pool, Config, *Main, *Main, *postgres.Store) {
	t.Helper()
	every := followEvery
	followEvery = time.Hour
	t.Cleanup(func() { followEvery = every })
	server := natstest.Start(t)
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	env := map[string]string{"NATS_URL": server.URL(), "DATABASE_URL": pgtest.URL(pool),
		"CAREER_AUTH_SECRET": "test-secret", "CAREER_HTTP_ADDR": "127.0.0.1:0"}
	cfg, err := ParseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(holdProjectorLock(t, pool, cfg.Schema))
	a, b := start(t, cfg), startLogging(t, cfg, logsB)
	s0, ok := a.store.Current().(*postgres.Store)
	if !ok {
		t.Fatalf("the serving store is a %T, want a postgres store", a.store.Current())
	}
	return pool, cfg, a, b, s0
}

// rebuiltTo is a rebuild on m brought up to position reached, not yet
// switched to: the new model and its schema.
func rebuiltTo(ctx context.Context, t *testing.T, m *Main, reached uint64) (projections.ReadModel, string) {
	t.Helper()
	schema, claim, err := m.claimSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(claim.Release)
	target, err := m.newReadModel(ctx, schema, claim)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.catchUpTo(ctx, target, reached, reached); err != nil {
		t.Fatal(err)
	}
	return target, schema
}
