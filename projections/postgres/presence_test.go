package postgres_test

import (
	"errors"
	"testing"

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
