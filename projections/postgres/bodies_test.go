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

// TestEventBodiesAreJSONInNewReadModels: a new read model keeps event
// bodies as json; migration 012 changes an empty person_events of an older
// schema to json and leaves one that holds events as jsonb (no rewrite of
// the largest table, and nothing changed under an instance of the previous
// release). On a jsonb table the projector goes on writing (in the
// pipeline and by COPY) and reading as before: the events read back, the
// people placed in each department and the whole read model equal a clean
// rebuild's (json).
func TestEventBodiesAreJSONInNewReadModels(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	store := postgres.New(pool, cat, "")

	bodyType := func() string {
		t.Helper()
		var typ string
		if err := pool.QueryRow(bg, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
			WHERE attrelid = 'careerledger.person_events'::regclass AND attname = 'body'`).Scan(&typ); err != nil {
			t.Fatal(err)
		}
		return typ
	}
	back := func() { // to what migration 011 left
		t.Helper()
		if _, err := pool.Exec(bg, `
			ALTER TABLE careerledger.person_events ALTER COLUMN body TYPE jsonb USING body::jsonb;
			DELETE FROM careerledger.schema_migrations WHERE version = '012_event_bodies_as_json.sql'`); err != nil {
			t.Fatal(err)
		}
		// Statements prepared on json bodies would fail once ("cached plan
		// must not change result type"): the pool starts anew, as an
		// instance of the previous release would have.
		pool.Reset()
		if typ := bodyType(); typ != "jsonb" {
			t.Fatalf("taken back to %s, want jsonb", typ)
		}
	}
	if typ := bodyType(); typ != "json" {
		t.Fatalf("a new read model keeps bodies as %s, want json", typ)
	}
	back()
	if err := postgres.Migrate(bg, pool, postgres.DefaultSchema); err != nil {
		t.Fatal(err)
	}
	if typ := bodyType(); typ != "json" {
		t.Fatalf("an empty table migrated: bodies are %s, want json", typ)
	}

	w := projectionstest.NewWorkload(31, cat, env.Recorder, "J", 30)
	head, err := w.Run(bg, 300)
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, env, store, head, 7)
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

	back()
	if err := postgres.Migrate(bg, pool, postgres.DefaultSchema); err != nil {
		t.Fatal(err)
	}
	if typ := bodyType(); typ != "jsonb" {
		t.Fatalf("a table holding events migrated: bodies are %s, want jsonb as they were", typ)
	}
	gotEvents, err := store.PersonEvents(bg, ids)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotEvents, wantEvents) {
		t.Error("the events read back from jsonb differ from those read from json")
	}
	if got := placed(); !reflect.DeepEqual(got, wantPlaced) {
		t.Errorf("people placed in each department, read from jsonb:\n got %v\nwant %v", got, wantPlaced)
	}
	// Writes into jsonb: in the pipeline, then by COPY (every table's rows
	// from the first one on).
	head, err = w.Run(bg, 150)
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, env, store, head, 5)
	store.CopyAbove = 1
	head, err = w.Run(bg, 150)
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, env, store, head, 40)
	equalsCleanRebuild(t, env, head, pool, store, ids)
}

// TestPreviousReleaseCopiesAfterTheMigration copies an event into a jsonb
// table, as the previous release's bulk batches do, migrates the schema,
// and copies again on the same connection. pgx keeps the description of
// the table it took before the first COPY and encodes the body as binary
// jsonb, which a json column would refuse on that connection for as long
// as it lives: the migration leaves a table holding events as it is.
func TestPreviousReleaseCopiesAfterTheMigration(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	if _, err := pool.Exec(bg, `
		ALTER TABLE careerledger.person_events ALTER COLUMN body TYPE jsonb USING body::jsonb;
		DELETE FROM careerledger.schema_migrations WHERE version = '012_event_bodies_as_json.sql'`); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	table := pgx.Identifier{postgres.DefaultSchema, "person_events"}
	cols := []string{"position", "person_id", "type", "version", "recorded_at", "idempotency_key", "recorded_by", "body"}
	departed := func(pos int64) pgx.CopyFromSource {
		return pgx.CopyFromRows([][]any{{pos, "E1", "PersonDeparted", int32(1), time.Now(), "", "",
			[]byte(`{"personId":"E1","effectiveOn":"2026-01-31"}`)}})
	}
	if _, err := conn.CopyFrom(bg, table, cols, departed(1)); err != nil {
		t.Fatalf("a copy before the migration: %v", err)
	}
	if err := postgres.Migrate(bg, pool, postgres.DefaultSchema); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.CopyFrom(bg, table, cols, departed(2)); err != nil {
		t.Errorf("a copy after the migration, on a connection that copied before it: %v", err)
	}
}
