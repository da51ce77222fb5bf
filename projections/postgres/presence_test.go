package postgres_test

import (
	"testing"

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
	conn, err := pool.Acquire(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	key := postgres.PresenceKey("careerledger", "itss", 2)
	if _, err := conn.Exec(bg, "SELECT pg_advisory_lock_shared($1)", key); err != nil {
		t.Fatal(err)
	}
	if !present("careerledger", "itss", 2) {
		t.Error("not present while a session holds the lock")
	}
	for _, other := range []struct {
		name, id string
		version  int
	}{{"careerledger", "itss", 1}, {"careerledger", "acme", 2}, {"other", "itss", 2}} {
		if present(other.name, other.id, other.version) {
			t.Errorf("%+v present: another deployment or catalogue", other)
		}
	}
	if _, err := conn.Exec(bg, "SELECT pg_advisory_unlock_shared($1)", key); err != nil {
		t.Fatal(err)
	}
	if present("careerledger", "itss", 2) {
		t.Error("present after the lock was released")
	}
}
