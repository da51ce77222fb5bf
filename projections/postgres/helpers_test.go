package postgres_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/memory"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

var bg = context.Background()

// startLog runs the harness's embedded log, recorder and clock with no
// projector of its own (the harness's projector is stopped at once, before
// anything is recorded; its memory store stays unused).
func startLog(t *testing.T, cat *domain.Catalogue) *projectionstest.Env {
	t.Helper()
	env := projectionstest.Start(t, memory.New(cat), cat)
	env.StopProjector()
	return env
}

// newPool opens another pool on the database of pool, as another careerd
// instance would.
func newPool(t *testing.T, pool *pgxpool.Pool, appName string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(bg, pgtest.URL(pool)+"&application_name="+appName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// catchUp projects the log into store until its checkpoint reaches head.
func catchUp(t *testing.T, env *projectionstest.Env, store projections.Store, head uint64, maxBatch int) {
	t.Helper()
	ctx, cancel := context.WithCancel(bg)
	p := &projections.Projector{Catalogue: env.Cat, Source: env.Log, Store: store, MaxBatch: maxBatch,
		Now: func() time.Time { return env.Clock.Peek() }}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("projector: %v", err)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cp, err := store.Checkpoint(bg)
		if err != nil {
			t.Fatal(err)
		}
		if cp >= head {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("projector stuck at %d of %d", cp, head)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// cleanRebuild folds the whole log up to head into a fresh database.
func cleanRebuild(t *testing.T, env *projectionstest.Env, head uint64) (*postgres.Store, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	store := postgres.New(pool, env.Cat, "")
	catchUp(t, env, store, head, 1000)
	return store, pool
}

// checkEventsComplete asserts that person_events holds exactly the log's
// events 1..head, each once, with the checkpoint at head.
func checkEventsComplete(t *testing.T, env *projectionstest.Env, store *postgres.Store, pool *pgxpool.Pool, head uint64) {
	t.Helper()
	var n, lo, hi, cp int64
	err := pool.QueryRow(bg, `SELECT count(*), coalesce(min(position), 0), coalesce(max(position), 0),
		(SELECT position FROM careerledger.projection_checkpoint) FROM careerledger.person_events`).Scan(&n, &lo, &hi, &cp)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(n) != head || lo != 1 || uint64(hi) != head || uint64(cp) != head {
		t.Fatalf("person_events: %d rows, positions %d..%d, checkpoint %d; want %d rows 1..%d", n, lo, hi, cp, head, head)
	}
	all, err := env.Log.Read(bg, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]events.Recorded{}
	var ids []string
	for _, r := range all {
		if _, ok := want[r.PersonID]; !ok {
			ids = append(ids, r.PersonID)
		}
		want[r.PersonID] = append(want[r.PersonID], r)
	}
	got, err := store.PersonEvents(bg, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		g, w := projectionstest.NormalizeEvents(got[id]), projectionstest.NormalizeEvents(want[id])
		if len(g) != len(w) {
			t.Errorf("%s: %d stored events, %d in the log", id, len(g), len(w))
			continue
		}
		for i := range w {
			if g[i].Position != w[i].Position || g[i].PersonID != w[i].PersonID || g[i].Type != w[i].Type ||
				!g[i].RecordedAt.Equal(w[i].RecordedAt) || g[i].IdempotencyKey != w[i].IdempotencyKey ||
				!reflect.DeepEqual(g[i].Event, w[i].Event) {
				t.Errorf("%s event %d: stored %+v, log %+v", id, i, g[i], w[i])
			}
		}
	}
}

// readModelTables are the tables a projection writes, with the columns to
// compare (all but bookkeeping times).
var readModelTables = map[string]string{
	"projection_checkpoint": "name, position",
	// A body compared as JSON: a body migrated from jsonb (012) prints as
	// jsonb printed it, one projected since as the recorder encoded it.
	"person_events":        "position, person_id, type, version, recorded_at, idempotency_key, recorded_by, body::jsonb AS body",
	"people":               "*",
	"memberships":          "*",
	"accomplishments":      "*",
	"level_periods":        "*",
	"level_changes":        "*",
	"distribution_periods": "*",
	"distribution_deltas":  "*",
}

// dumpTables returns every read-model table as sorted JSON rows.
func dumpTables(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	out := map[string]string{}
	for table, cols := range readModelTables {
		var s string
		err := pool.QueryRow(bg, `SELECT coalesce(json_agg(r ORDER BY r::text)::text, '') FROM (SELECT `+cols+
			` FROM careerledger.`+table+`) r`).Scan(&s)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		out[table] = s
	}
	return out
}

func compareTables(t *testing.T, got, want map[string]string) {
	t.Helper()
	for table := range readModelTables {
		if got[table] != want[table] {
			t.Errorf("table %s differs from a clean rebuild:\n got %.2000s\nwant %.2000s", table, got[table], want[table])
		}
	}
}

// snapshotQueries asks about every person on several dates and as known at
// several points of the log.
func snapshotQueries(t *testing.T, env *projectionstest.Env, ids []string) projectionstest.Queries {
	t.Helper()
	all, err := env.Log.Read(bg, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	q := projectionstest.Queries{IDs: append(append([]string(nil), ids...), "nobody"), Departments: projectionstest.Departments(),
		Dates: []domain.Date{projectionstest.Today, domain.MustDate("2015-06-30"), domain.MustDate("2018-01-01"),
			domain.MustDate("2020-07-01"), domain.MustDate("2023-03-15"), domain.MustDate("2025-12-31")}}
	for _, i := range []int{len(all) / 4, len(all) / 2, 3 * len(all) / 4} {
		q.KnownAt = append(q.KnownAt, all[i].RecordedAt)
	}
	return q
}

// equalsCleanRebuild checks that the read model a projector left in pool
// (store reads it) equals a clean rebuild of the log up to head: every
// table, and every query about ids. It returns the clean read model.
func equalsCleanRebuild(t *testing.T, env *projectionstest.Env, head uint64, pool *pgxpool.Pool, store *postgres.Store, ids []string) *postgres.Store {
	t.Helper()
	clean, cleanPool := cleanRebuild(t, env, head)
	compareTables(t, dumpTables(t, pool), dumpTables(t, cleanPool))
	q := snapshotQueries(t, env, ids)
	projectionstest.CompareSnapshots(t, projectionstest.Snapshot(t, store, q), projectionstest.Snapshot(t, clean, q))
	return clean
}

// recordWorkload records n more commands of w and returns the log's
// position of the last.
func recordWorkload(t *testing.T, w *projectionstest.Workload, n int) uint64 {
	t.Helper()
	last, err := w.Run(bg, n)
	if err != nil {
		t.Fatal(err)
	}
	return last
}
