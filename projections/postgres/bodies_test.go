package postgres_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// TestMigrationKeepsEventBodiesAsText takes a projected schema back to
// jsonb bodies (what migration 011 left) and migrates it again: the bodies
// become json and decode to the same events, the people placed in each
// department are found through the partial index as before, an insert as
// the previous release sends it (bodies unnested from jsonb[]) still
// lands, and the projector goes on to a read model equal to a clean
// rebuild.
func TestMigrationKeepsEventBodiesAsText(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	store := postgres.New(pool, cat, "")
	w := projectionstest.NewWorkload(31, cat, env.Recorder, "J", 30)
	head, err := w.Run(bg, 300)
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, env, store, head, 7)

	bodyType := func() string {
		t.Helper()
		var typ string
		if err := pool.QueryRow(bg, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
			WHERE attrelid = 'careerledger.person_events'::regclass AND attname = 'body'`).Scan(&typ); err != nil {
			t.Fatal(err)
		}
		return typ
	}
	if typ := bodyType(); typ != "json" {
		t.Fatalf("a new schema keeps bodies as %s, want json", typ)
	}
	rows, err := pool.Query(bg, `SELECT id FROM careerledger.people ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) == 0 {
		t.Fatalf("people: %v %v", ids, err)
	}
	departments := append([]string{""}, projectionstest.Departments()...)
	placed := func() map[string][]string {
		t.Helper()
		out := map[string][]string{}
		for _, d := range departments {
			got, err := store.PeopleEverIn(bg, d)
			if err != nil {
				t.Fatal(err)
			}
			out[d] = got
		}
		return out
	}
	wantEvents, err := store.PersonEvents(bg, ids)
	if err != nil {
		t.Fatal(err)
	}
	wantPlaced := placed()

	if _, err := pool.Exec(bg, `
		ALTER TABLE careerledger.person_events ALTER COLUMN body TYPE jsonb USING body::jsonb;
		DELETE FROM careerledger.schema_migrations WHERE version = '012_event_bodies_as_json.sql'`); err != nil {
		t.Fatal(err)
	}
	if typ := bodyType(); typ != "jsonb" {
		t.Fatalf("taken back to %s, want jsonb", typ)
	}
	if err := postgres.Migrate(bg, pool, postgres.DefaultSchema); err != nil {
		t.Fatal(err)
	}
	if typ := bodyType(); typ != "json" {
		t.Fatalf("migrated bodies are %s, want json", typ)
	}
	var valid bool
	if err := pool.QueryRow(bg, `SELECT indisvalid FROM pg_index
		WHERE indexrelid = 'careerledger.person_events_placements'::regclass`).Scan(&valid); err != nil || !valid {
		t.Fatalf("the placements index after the migration: valid %v, %v", valid, err)
	}
	gotEvents, err := store.PersonEvents(bg, ids)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotEvents, wantEvents) {
		t.Error("the events read back after the migration differ from those before")
	}
	if got := placed(); !reflect.DeepEqual(got, wantPlaced) {
		t.Errorf("people placed in each department after the migration:\n got %v\nwant %v", got, wantPlaced)
	}

	// The previous release's insert, in a transaction rolled back.
	tx, err := pool.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(bg, `INSERT INTO careerledger.person_events (position, person_id, type, version, recorded_at, idempotency_key, recorded_by, body)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::text[], $7::text[], $8::jsonb[])`,
		[]int64{int64(head) + 1000}, []string{ids[0]}, []string{"PersonDeparted"}, []int32{1}, []time.Time{time.Now()},
		[]string{""}, []string{""}, []string{`{"leftOn": "2026-01-31"}`})
	if rerr := tx.Rollback(bg); rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		t.Errorf("an insert of jsonb bodies, as the previous release sends it: %v", err)
	}

	head, err = w.Run(bg, 150)
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, env, store, head, 5)
	equalsCleanRebuild(t, env, head, pool, store, ids)
}
