package postgres_test

import (
	"testing"

	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
)

// An earlier release left distribution deltas whose changes cancelled out
// at 0; migration 013 deletes them and keeps every other row.
func TestMigrationDeletesZeroDeltas(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	if _, err := pool.Exec(bg, `
		INSERT INTO careerledger.distribution_deltas (field, bucket, department, level, delta) VALUES
			('SYSTEM_OPERATION', '2020-01-01', 'Ops', 2, 0),
			('SYSTEM_OPERATION', '2020-02-01', 'Ops', 2, 3),
			('SERVICE_DESK', '2020-01-01', 'Desk', 1, -1);
		DELETE FROM careerledger.schema_migrations WHERE version = '013_no_zero_deltas.sql'`); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(bg, pool, postgres.DefaultSchema); err != nil {
		t.Fatal(err)
	}
	var rows, zeros int
	if err := pool.QueryRow(bg, `SELECT count(*), count(*) FILTER (WHERE delta = 0) FROM careerledger.distribution_deltas`).Scan(&rows, &zeros); err != nil {
		t.Fatal(err)
	}
	if rows != 2 || zeros != 0 {
		t.Errorf("after the migration: %d rows, %d at 0; want the 2 non-zero rows alone", rows, zeros)
	}
}
