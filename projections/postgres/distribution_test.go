package postgres_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// checkDistributionMatchesPeriods asserts that on each date, for every field,
// the distribution summed from the deltas equals a count of the
// distribution periods that contain the date: for all departments, and for
// one department in turn.
func checkDistributionMatchesPeriods(t *testing.T, pool *pgxpool.Pool, store *postgres.Store, cat *domain.Catalogue, dates []domain.Date) {
	t.Helper()
	departments := projectionstest.Departments()
	for i, d := range dates {
		for _, f := range cat.Fields() {
			for _, dept := range []string{"", departments[i%len(departments)]} {
				got, err := store.Distribution(bg, f, d, dept)
				if err != nil {
					t.Fatal(err)
				}
				rows, err := pool.Query(bg, `SELECT department, level, count(*) FROM careerledger.distribution_periods
					WHERE field = $1 AND valid @> $2::date AND ($3 = '' OR department = $3) GROUP BY 1, 2 ORDER BY 1, 2`,
					string(f), d.Time(), dept)
				if err != nil {
					t.Fatal(err)
				}
				want, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (projections.Cell, error) {
					var c projections.Cell
					return c, row.Scan(&c.Department, &c.Level, &c.Count)
				})
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s on %s (department %q):\n deltas  %v\n periods %v", f, d, dept, got, want)
				}
			}
		}
	}
}

// boundaryDates returns the dates where a sum of deltas could go wrong: the
// bounds of stored distribution periods and the day before each (n of them
// at random), the ends and starts of years, of February in leap and common
// years and of other months, and a day before any period.
func boundaryDates(t *testing.T, pool *pgxpool.Pool, r *rand.Rand, n int) []domain.Date {
	t.Helper()
	rows, err := pool.Query(bg, `SELECT DISTINCT d FROM (SELECT lower(valid) AS d FROM careerledger.distribution_periods
		UNION SELECT upper(valid) FROM careerledger.distribution_periods WHERE NOT upper_inf(valid)) b ORDER BY d`)
	if err != nil {
		t.Fatal(err)
	}
	bounds, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil {
		t.Fatal(err)
	}
	if len(bounds) == 0 {
		t.Fatal("no distribution periods")
	}
	var out []domain.Date
	for _, i := range r.Perm(len(bounds))[:min(n, len(bounds))] {
		d := domain.DateOf(bounds[i])
		out = append(out, d, d.AddDays(-1))
	}
	for y := 2011; y <= 2027; y++ {
		for _, md := range []string{"01-01", "02-28", "03-01", "04-30", "05-01", "07-31", "08-01", "12-31"} {
			out = append(out, domain.MustDate(fmt.Sprintf("%d-%s", y, md)))
		}
	}
	for _, d := range []string{"2012-02-29", "2016-02-29", "2020-02-29", "2024-02-29", "2005-06-15", "2040-01-01"} {
		out = append(out, domain.MustDate(d))
	}
	return append(out, projectionstest.Today)
}

// TestDistributionDeltasFollowPeriods projects people in small batches,
// round after round, so that transfers, departures and back-dated
// recordings, amendments and retractions rewrite their periods again and
// again; after each round the deltas must still answer what the periods
// say.
func TestDistributionDeltasFollowPeriods(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	store := postgres.New(pool, cat, "")
	r := rand.New(rand.NewPCG(11, 12))
	w := projectionstest.NewWorkload(11, cat, env.Recorder, "D", 25)
	for round := 0; round < 4; round++ {
		head, err := w.Run(bg, 150)
		if err != nil {
			t.Fatal(err)
		}
		catchUp(t, env, store, head, 1+r.IntN(8))
		checkDistributionMatchesPeriods(t, pool, store, cat, boundaryDates(t, pool, r, 60))
	}
}

// TestMigrationBackFillsDistributionDeltas takes a projected schema back to
// what migration 003 left (no deltas, the GiST index on the periods), then
// migrates it again (004 back-fills year and month rows, 007 keeps the
// month rows): the back-filled deltas must answer as the periods do,
// equal (but for rows that cancelled out) what the projector had written,
// and keep being maintained by the projector from there.
func TestMigrationBackFillsDistributionDeltas(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	store := postgres.New(pool, cat, "")
	r := rand.New(rand.NewPCG(21, 22))
	w := projectionstest.NewWorkload(21, cat, env.Recorder, "M", 30)
	head, err := w.Run(bg, 400)
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, env, store, head, 7)
	projected := dumpTables(t, pool)["distribution_deltas"]

	if _, err := pool.Exec(bg, `
		DROP TABLE careerledger.distribution_deltas;
		DROP INDEX careerledger.distribution_periods_starts, careerledger.distribution_periods_ends;
		CREATE INDEX distribution_periods_valid ON careerledger.distribution_periods USING gist (field, valid) INCLUDE (department, level);
		ALTER TABLE careerledger.people ADD COLUMN position bigint NOT NULL DEFAULT 0;
		DELETE FROM careerledger.schema_migrations
		WHERE version IN ('004_distribution_deltas.sql', '007_month_deltas_and_positions_on_read.sql')`); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(bg, pool, postgres.DefaultSchema); err != nil {
		t.Fatal(err)
	}
	var gist bool
	if err := pool.QueryRow(bg, `SELECT to_regclass('careerledger.distribution_periods_valid') IS NOT NULL`).Scan(&gist); err != nil {
		t.Fatal(err)
	}
	if gist {
		t.Error("the GiST index on distribution_periods is still there")
	}
	if got := dumpTables(t, pool)["distribution_deltas"]; got != projected {
		t.Errorf("back-filled deltas differ from the projected ones:\n got %.2000s\nwant %.2000s", got, projected)
	}
	checkDistributionMatchesPeriods(t, pool, store, cat, boundaryDates(t, pool, r, 100))

	head, err = w.Run(bg, 200)
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, env, store, head, 5)
	checkDistributionMatchesPeriods(t, pool, store, cat, boundaryDates(t, pool, r, 100))
}
