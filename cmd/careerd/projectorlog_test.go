package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/projections/postgres"
)

// cutDatabase makes the database behind pool unreachable for every
// session but keep's (0: none), as a network cut or a stopped server is for
// careerd: it refuses new connections and ends the others. The returned
// func lets them in again; the test's end does so too.
func cutDatabase(t *testing.T, pool *pgxpool.Pool, keep uint32) (restore func()) {
	t.Helper()
	ctx := context.Background()
	cfg := pool.Config().ConnConfig.Copy()
	db := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(ctx) })
	ident := pgx.Identifier{db}.Sanitize()
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> $2", db, keep); err != nil {
		t.Fatal(err)
	}
	var once bool
	restore = func() {
		if once {
			return
		}
		once = true
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident+" ALLOW_CONNECTIONS true"); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(restore)
	return restore
}

// TestAStandbyThatCannotReachPostgreSQLSaysSoOnce: an instance standing by
// (another holds the projector lock) that cannot reach PostgreSQL says so
// once, with the error, not every second as it tries again, and not as a
// projector that stopped, for it did not project; when the database
// answers again it says so once, and takes the lock when it is free.
func TestAStandbyThatCannotReachPostgreSQLSaysSoOnce(t *testing.T) {
	cfg, pool := productionConfig(t)
	ctx := context.Background()
	holder, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release()
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", postgres.ProjectorLockKey(cfg.Schema)); err != nil {
		t.Fatal(err)
	}
	var logs logLines
	startLogging(t, cfg, &logs)
	logs.waitLog(t, "projector lock held by another instance: this instance serves and takes over if that one stops", nil)

	restore := cutDatabase(t, pool, holder.Conn().PgConn().PID())
	const failed = "cannot try for the projector lock; trying again, quietly while it fails"
	rec := logs.waitLog(t, failed, map[string]string{"level": "WARN"})
	if e, _ := rec["err"].(string); e == "" {
		t.Errorf("the failure is logged without its error: %v", rec)
	}
	time.Sleep(3500 * time.Millisecond) // three more tries, a second apart
	if n := len(logs.find(t, failed, nil)); n != 1 {
		t.Errorf("%d failures to try for the lock logged in 3.5 s, want the first alone", n)
	}
	if recs := logs.find(t, "projector stopped", nil); len(recs) > 0 {
		t.Errorf("an instance that did not project logged %d times that its projector stopped: %v", len(recs), recs[0])
	}

	restore()
	logs.waitLog(t, "projector lock: the database answers again", map[string]string{"level": "INFO"})
	time.Sleep(1500 * time.Millisecond)
	if n := len(logs.find(t, "projector lock: the database answers again", nil)); n != 1 {
		t.Errorf("the recovery was logged %d times, want once", n)
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", postgres.ProjectorLockKey(cfg.Schema)); err != nil {
		t.Fatal(err)
	}
	logs.waitLog(t, "projector lock taken: this instance projects", nil)
}

// TestAProjectorThatLosesPostgreSQLSaysTheLockIsLost: the instance that
// projects, cut off from PostgreSQL, says once that its lock is lost, with
// the error, not that it released it, and then nothing more while the
// database stays away; it says when the database answers again and takes
// the lock back. A clean stop releases the lock and says so, without an
// empty error.
func TestAProjectorThatLosesPostgreSQLSaysTheLockIsLost(t *testing.T) {
	cfg, pool := productionConfig(t)
	var logs logLines
	m := startLogging(t, cfg, &logs)
	logs.waitLog(t, "projector lock taken: this instance projects", nil)

	restore := cutDatabase(t, pool, 0)
	const lost = "projector lock lost: this instance stopped projecting; trying for the lock again"
	rec := logs.waitLog(t, lost, map[string]string{"level": "WARN"})
	if e, _ := rec["err"].(string); e == "" {
		t.Errorf("the lost lock is logged without its error: %v", rec)
	}
	time.Sleep(3500 * time.Millisecond)
	if n := len(logs.find(t, lost, nil)); n != 1 {
		t.Errorf("the lost lock was logged %d times, want once", n)
	}
	for _, msg := range []string{"projector lock released", "projector stopped", "cannot try for the projector lock; trying again, quietly while it fails"} {
		if recs := logs.find(t, msg, nil); len(recs) > 0 {
			t.Errorf("a lost lock, and the tries that failed after it, logged %q %d times: %v", msg, len(recs), recs[0])
		}
	}

	restore()
	logs.waitLog(t, "projector lock: the database answers again", map[string]string{"level": "INFO"})
	for deadline := time.Now().Add(10 * time.Second); len(logs.find(t, "projector lock taken: this instance projects", nil)) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the lock was not taken again once the database answered")
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	recs := logs.find(t, "projector lock released", map[string]string{"level": "INFO"})
	if len(recs) != 1 {
		t.Fatalf("a clean stop logged the release %d times, want once", len(recs))
	}
	if _, ok := recs[0]["err"]; ok {
		t.Errorf("the release carries an err attribute: %v", recs[0])
	}
}

// TestAnInstanceThatLostTheLockIsNotAFailingProjector: an instance whose
// projector failed and then lost the projector lock to another stands by;
// its failed runs end with the lock, so /readyz does not call it a failing
// projector while another projects (or none does yet), and a failure
// after it takes the lock again begins a series, logged as the first.
func TestAnInstanceThatLostTheLockIsNotAFailingProjector(t *testing.T) {
	cfg, pool := productionConfig(t)
	ctx := context.Background()
	var logs logLines
	m := startLogging(t, cfg, &logs)
	logs.waitLog(t, "projector lock taken: this instance projects", nil)
	token := adminToken(t)
	register := func(id string) {
		post(t, m.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
			"id": id, "name": "Aiko Sato", "department": "Ops", "joinedOn": "2019-04-01"}})
	}
	register("E1")
	table := pgx.Identifier{postgres.DefaultSchema, "person_events"}.Sanitize()
	away := pgx.Identifier{postgres.DefaultSchema, "person_events_away"}.Sanitize()
	if _, err := pool.Exec(ctx, "ALTER TABLE "+table+" RENAME TO person_events_away"); err != nil {
		t.Fatal(err)
	}
	register("E2") // recorded, not applied: the projector fails
	logs.waitLog(t, "projector failed; restarting from the checkpoint", map[string]string{"level": "ERROR"})

	// The lock's session ends; the test takes the lock before the instance
	// tries again (a second later).
	key := postgres.ProjectorLockKey(cfg.Schema)
	holder, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release()
	if _, err := holder.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND ((classid::bigint << 32) | objid::bigint) = $1`, key); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var got bool
		if err := holder.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock was not free 10 s after its session was ended")
		}
	}
	logs.waitLog(t, "projector lock lost: this instance stopped projecting; trying for the lock again", nil)
	time.Sleep(1500 * time.Millisecond) // a try for the lock, held by another
	if code, body := get(t, "http://"+m.Addr()+"/readyz"); strings.Contains(body, "projector failing") {
		t.Errorf("/readyz of an instance standing by: %d %s, want no failing projector: it projects no more", code, body)
	}

	// It takes the lock back and fails again: a new series, its error
	// logged as a first failure.
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(logs.find(t, "projector lock taken: this instance projects", nil)) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the lock was not taken again")
		}
	}
	for deadline := time.Now().Add(10 * time.Second); len(logs.find(t, "projector failed; restarting from the checkpoint", nil)) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the failure after the lock was taken again was not logged as a first failure:\n%s", logs.String())
		}
	}
	if _, err := pool.Exec(ctx, "ALTER TABLE "+away+" RENAME TO person_events"); err != nil {
		t.Fatal(err)
	}
}
