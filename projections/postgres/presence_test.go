package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
)

// An instance's presence is the shared lock of its deployment and
// catalogue, seen by every session of the database while some session
// holds it, and no longer once none does.
func TestCataloguePresent(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	present := func(name, id string, version int) bool {
		t.Helper()
		ok, err := postgres.CataloguePresent(bg, pool, name, id, version)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if present("careerledger", "itss", 2) {
		t.Fatal("present before anyone holds the lock")
	}
	conn, err := pgx.ConnectConfig(bg, pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	if _, err := conn.Exec(bg, postgres.HoldPresenceSQL, "careerledger", "itss", 2); err != nil {
		t.Fatal(err)
	}
	if !present("careerledger", "itss", 2) {
		t.Error("not present while a session holds the lock")
	}
	for _, other := range []struct {
		name, id string
		version  int
	}{{"careerledger", "itss", 1}, {"careerledger", "acme", 2}, {"other", "itss", 2}, {"careerledgeri", "tss", 2}} {
		if present(other.name, other.id, other.version) {
			t.Errorf("%+v present: another deployment or catalogue", other)
		}
	}
	if _, err := conn.Exec(bg, "SELECT pg_advisory_unlock_all()"); err != nil {
		t.Fatal(err)
	}
	if present("careerledger", "itss", 2) {
		t.Error("present after the lock was released")
	}
}

// A serving store whose catalogue is not the one that judged its read
// model commits no batch while an instance of that catalogue runs
// (ErrStandBy, checked in the batch's transaction), and commits once none
// does.
func TestABatchStandsByForTheReadModelsCatalogue(t *testing.T) {
	pool, store := servingStore(t, "standby")
	cat := domain.DefaultCatalogue()
	// The read model as a newer version judged it.
	if _, err := pool.Exec(bg, `UPDATE public.careerledger_read_models SET catalogue_version = $1 WHERE name = 'standby'`, cat.Version()+1); err != nil {
		t.Fatal(err)
	}
	if err := store.ApplyEvents(bg, 1, reg(1, "S1")); err != nil {
		t.Fatalf("no instance of the newer catalogue runs: %v, want the batch applied", err)
	}
	conn, err := pgx.ConnectConfig(bg, pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	if _, err := conn.Exec(bg, postgres.HoldPresenceSQL, "standby", cat.ID(), cat.Version()+1); err != nil {
		t.Fatal(err)
	}
	if err := store.ApplyEvents(bg, 2, reg(2, "S2")); !errors.Is(err, postgres.ErrStandBy) {
		t.Fatalf("an instance of the newer catalogue runs: %v, want ErrStandBy", err)
	}
	if cp, err := store.Checkpoint(bg); err != nil || cp != 1 {
		t.Errorf("checkpoint %d, %v after the refused batch; want 1", cp, err)
	}
	// An instance of the store's own version is no reason to stand by.
	if _, err := conn.Exec(bg, "SELECT pg_advisory_unlock_all()"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(bg, postgres.HoldPresenceSQL, "standby", cat.ID(), cat.Version()); err != nil {
		t.Fatal(err)
	}
	if err := store.ApplyEvents(bg, 2, reg(2, "S2")); err != nil {
		t.Fatalf("only an instance of the store's catalogue runs: %v, want the batch applied", err)
	}
}

// A batch that found no instance of the read model's catalogue running
// keeps that true until it commits: an instance of that catalogue starting
// while the batch is in flight is present only once the batch has
// committed, and the next batch stands by. Neither does the batch's own
// hold of the lock count as a presence.
func TestANewerInstanceIsPresentOnlyAfterTheBatchInFlight(t *testing.T) {
	const name = "inflight"
	pool, store := servingStore(t, name)
	cat := domain.DefaultCatalogue()
	newer := cat.Version() + 1
	if _, err := pool.Exec(bg, `UPDATE public.careerledger_read_models SET catalogue_version = $1 WHERE name = $2`, newer, name); err != nil {
		t.Fatal(err)
	}
	if err := store.ApplyEvents(bg, 1, reg(1, "S1")); err != nil {
		t.Fatal(err)
	}
	connect := func() *pgx.Conn {
		t.Helper()
		conn, err := pgx.ConnectConfig(bg, pool.Config().ConnConfig.Copy())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(bg) })
		return conn
	}
	// The checkpoint's row held, a batch stops after its check.
	blocker := connect()
	tx, err := blocker.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg)
	if _, err := tx.Exec(bg, `SELECT FROM `+name+`.projection_checkpoint FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	applied := make(chan error, 1)
	go func() { applied <- store.ApplyEvents(bg, 2, reg(2, "S2")) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting bool
		// pg_locks is the whole server's: only a wait in this test's own
		// database is the batch's.
		if err := pool.QueryRow(bg, `SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'transactionid' AND NOT l.granted AND a.datname = current_database())`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the batch never waited for the checkpoint's row")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ok, err := postgres.CataloguePresent(bg, pool, name, cat.ID(), newer); err != nil || ok {
		t.Errorf("present while only a batch holds the lock: %v, %v", ok, err)
	}
	instance := connect()
	var got bool
	if err := instance.QueryRow(bg, `SELECT pg_try_advisory_lock_shared(hashtext('careerledger catalogue' || chr(31) || $1::text || chr(31) || $2::text), $3)`,
		name, cat.ID(), newer).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got {
		t.Fatal("an instance of the newer catalogue became present while a batch that found none was in flight")
	}
	present := make(chan error, 1)
	go func() {
		_, err := instance.Exec(bg, postgres.HoldPresenceSQL, name, cat.ID(), newer)
		present <- err
	}()
	select {
	case err := <-present:
		t.Fatalf("present before the batch committed (%v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := tx.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	if err := <-applied; err != nil {
		t.Fatalf("the batch in flight: %v, want it applied", err)
	}
	if err := <-present; err != nil {
		t.Fatal(err)
	}
	if err := store.ApplyEvents(bg, 3, reg(3, "S3")); !errors.Is(err, postgres.ErrStandBy) {
		t.Fatalf("the batch after: %v, want ErrStandBy", err)
	}
}

// A serving store of the read model's catalogue commits no batch while an
// instance of that catalogue writing the read model's (other) format runs:
// a release of a newer format rebuilt the read model, and projects it. It
// commits once none runs, and an instance of its own format, or of
// another catalogue version, is no reason to stand by.
func TestABatchStandsByForTheReadModelsFormat(t *testing.T) {
	const name = "standbyformat"
	pool, store := servingStore(t, name)
	cat := domain.DefaultCatalogue()
	newer := postgres.Format + 1
	if _, err := pool.Exec(bg, `UPDATE public.careerledger_read_models SET format = $1 WHERE name = $2`, newer, name); err != nil {
		t.Fatal(err)
	}
	if err := store.ApplyEvents(bg, 1, reg(1, "S1")); err != nil {
		t.Fatalf("no instance of the newer format runs: %v, want the batch applied", err)
	}
	conn, err := pgx.ConnectConfig(bg, pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	hold := func(version, format int) {
		t.Helper()
		if _, err := conn.Exec(bg, "SELECT pg_advisory_unlock_all()"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(bg, postgres.HoldFormatPresenceSQL, name, cat.ID(), version, format); err != nil {
			t.Fatal(err)
		}
	}
	hold(cat.Version(), newer)
	if ok, err := postgres.FormatPresent(bg, pool, name, cat.ID(), cat.Version(), newer); err != nil || !ok {
		t.Fatalf("FormatPresent = %v, %v while a session holds it", ok, err)
	}
	if err := store.ApplyEvents(bg, 2, reg(2, "S2")); !errors.Is(err, postgres.ErrStandBy) {
		t.Fatalf("an instance of the newer format runs: %v, want ErrStandBy", err)
	}
	if cp, err := store.Checkpoint(bg); err != nil || cp != 1 {
		t.Errorf("checkpoint %d, %v after the refused batch; want 1", cp, err)
	}
	for _, other := range []struct{ version, format int }{{cat.Version(), postgres.Format}, {cat.Version() + 1, newer}} {
		hold(other.version, other.format)
		if ok, err := postgres.FormatPresent(bg, pool, name, cat.ID(), cat.Version(), newer); err != nil || ok {
			t.Fatalf("FormatPresent = %v, %v while only %+v is held", ok, err, other)
		}
	}
	if err := store.ApplyEvents(bg, 2, reg(2, "S2")); err != nil {
		t.Fatalf("no instance of the read model's catalogue and format runs: %v, want the batch applied", err)
	}
}
