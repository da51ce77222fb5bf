package main

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
)

// TestMigrateFollowsARebuild: after a rebuild switched the default read
// model to a new schema and the old one was dropped, migrate applies a
// migration the served schema lacks to that schema, says which, and does
// not make the name's own schema again, empty.
func TestMigrateFollowsARebuild(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local PostgreSQL")
	}
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	cat := domain.DefaultCatalogue()
	name := postgres.DefaultSchema
	active := func(schema string) postgres.Active {
		return postgres.Active{Schema: schema, CatalogueID: cat.ID(), CatalogueVersion: cat.Version(), Format: postgres.Format}
	}
	// The first read model, then a rebuild as careerd makes one: claim,
	// migrate, switch, and the sweep drops the schema it replaced.
	if err := postgres.Migrate(ctx, pool, name); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.InitActive(ctx, pool, name, active(name)); err != nil {
		t.Fatal(err)
	}
	rebuilt := name + "_20261127t094641_ac201d18"
	claim, err := postgres.BeginRebuild(ctx, pool, name, rebuilt)
	if err != nil {
		t.Fatal(err)
	}
	if err := claim.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.SwitchActive(ctx, pool, name, active(rebuilt), false); err != nil {
		t.Fatal(err)
	}
	claim.Release()
	if _, err := postgres.DropRetired(ctx, pool, name, 0); err != nil {
		t.Fatal(err)
	}
	// The served schema as a release before 012 left it.
	if _, err := pool.Exec(ctx, `ALTER TABLE `+rebuilt+`.person_events ALTER COLUMN body TYPE jsonb USING body::jsonb;
		DELETE FROM `+rebuilt+`.schema_migrations WHERE version = '012_event_bodies_as_json.sql'`); err != nil {
		t.Fatal(err)
	}

	code, out, errs := runAgainst("", "migrate", "--database-url", url)
	if want := "schema " + rebuilt + " (read model careerledger) is migrated\n"; code != 0 || out != want {
		t.Fatalf("migrate: %d %q %q, want %q", code, out, errs, want)
	}
	var bodyType string
	if err := pool.QueryRow(ctx, `SELECT data_type FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = 'person_events' AND column_name = 'body'`, rebuilt).Scan(&bodyType); err != nil {
		t.Fatal(err)
	}
	if bodyType != "json" {
		t.Errorf("the served schema's event bodies are %s, want json (012 applied)", bodyType)
	}
	if got := pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = $1`, name); len(got) != 0 {
		t.Errorf("migrate made the dropped schema %s again", name)
	}
}
