package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestTheRegistrysUpgradeGivesWayToItsReaders: an instance of this release
// starting beside an older one adds the registry's newer columns, which
// takes the table's exclusive lock. While an older instance's transaction
// holds the registry row (a switch, or the end of a bulk write, for up to
// half a minute), the upgrade must not wait in the lock's queue, where it
// would hold every other instance's look at the registry behind it; once
// the row is free, the upgrade is made.
func TestTheRegistrysUpgradeGivesWayToItsReaders(t *testing.T) {
	url := pgtest.NewDatabase(t)
	open := func() *pgxpool.Pool {
		t.Helper()
		pool, err := pgxpool.New(bg, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	old := open()
	if err := postgres.Migrate(bg, old, "people"); err != nil {
		t.Fatal(err)
	}
	cat := domain.DefaultCatalogue()
	if err := postgres.WriteActive(bg, old, "people", postgres.Active{Schema: "people", CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
		t.Fatal(err)
	}
	// The registry as the older release left it.
	if _, err := old.Exec(bg, `ALTER TABLE public.careerledger_read_models
		DROP COLUMN catch_up_for, DROP COLUMN catch_up_readable, DROP COLUMN catch_up_stored`); err != nil {
		t.Fatal(err)
	}
	holder, err := old.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(bg) //nolint:errcheck // committed below
	if _, err := holder.Exec(bg, `SELECT FROM public.careerledger_read_models WHERE name = 'people' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}

	upgraded := make(chan error, 1)
	go func() {
		_, _, err := postgres.ReadActive(bg, open(), "people") // a new pool: it has not seen the registry
		upgraded <- err
	}()
	reader := open()
	const held = 2 * time.Second
	for start := time.Now(); time.Since(start) < held; {
		time.Sleep(150 * time.Millisecond)
		ctx, cancel := context.WithTimeout(bg, time.Second)
		began := time.Now()
		var schema string
		err := reader.QueryRow(ctx, `SELECT schema FROM public.careerledger_read_models WHERE name = 'people'`).Scan(&schema)
		cancel()
		if err != nil {
			t.Fatalf("an older instance's look at the registry while the upgrade waits for the row, after %v: %v",
				time.Since(began).Round(time.Millisecond), err)
		}
		select {
		case err := <-upgraded:
			t.Fatalf("the upgrade returned (%v) while the row was held", err)
		default:
		}
	}
	if err := holder.Commit(bg); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-upgraded:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the upgrade did not finish once the row was free")
	}
	var cols int
	if err := reader.QueryRow(bg, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.careerledger_read_models'::regclass
		AND attname LIKE 'catch_up_%' AND NOT attisdropped`).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if cols != 3 {
		t.Fatalf("catch-up columns after the upgrade: %d, want 3", cols)
	}
	var n int
	if err := reader.QueryRow(bg, `SELECT count(*) FROM public.careerledger_read_models WHERE name = 'people'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the registry's row after the upgrade: %d (%v)", n, err)
	}
}
