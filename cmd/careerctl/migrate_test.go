package main

import (
	"bytes"
	"context"
	"strings"
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

// TestMigrateSaysWhenItMakesAReadModel: a --schema no read model or schema
// has is made, empty, on a database that records no read model (a first
// deployment's, ahead of its careerd), and migrate says so; a known one is
// migrated without a word. Beside recorded read models, a name none has
// (misspelt, say) is refused, exit 2, naming --schema, the read models
// recorded and --create, and nothing is made; with --create it is made,
// and said.
func TestMigrateSaysWhenItMakesAReadModel(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local PostgreSQL")
	}
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	code, out, errs := runAgainst("", "migrate", "--database-url", url)
	if code != 0 || out != "schema careerledger (read model careerledger) is migrated\n" ||
		!strings.Contains(errs, "no read model careerledger was recorded and no schema of that name existed: made it, empty, for a careerd --schema careerledger to serve (read models recorded here: none)") {
		t.Fatalf("the first migrate: %d %q %q", code, out, errs)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	cat := domain.DefaultCatalogue()
	if _, err := postgres.InitActive(ctx, pool, postgres.DefaultSchema, postgres.Active{Schema: postgres.DefaultSchema,
		CatalogueID: cat.ID(), CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runAgainst("", "migrate", "--database-url", url); code != 0 || errs != "" || !strings.Contains(out, "is migrated") {
		t.Errorf("migrate of the recorded read model: %d %q %q, want it migrated without a word", code, out, errs)
	}
	code, out, errs = runAgainst("", "migrate", "--database-url", url, "--schema", "carerledger")
	if code != 2 || out != "" || !strings.Contains(errs, "--schema carerledger: no read model of that name is recorded and no schema has it (read models recorded here: careerledger)") ||
		!strings.Contains(errs, "--create") {
		t.Errorf("a misspelt --schema: %d %q %q, want exit 2 naming --schema, the read models recorded and --create", code, out, errs)
	}
	if got := pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = 'carerledger'`); len(got) != 0 {
		t.Errorf("a refused --schema made the schema %v", got)
	}
	code, out, errs = runAgainst("", "migrate", "--database-url", url, "--schema", "second", "--create")
	if code != 0 || !strings.Contains(out, "schema second (read model second) is migrated") ||
		!strings.Contains(errs, "no read model second was recorded and no schema of that name existed") || !strings.Contains(errs, "(read models recorded here: careerledger)") {
		t.Errorf("a new read model with --create: %d %q %q", code, out, errs)
	}
	// Made ahead of its careerd, the schema is there: migrated again
	// without --create.
	if code, out, errs := runAgainst("", "migrate", "--database-url", url, "--schema", "second"); code != 0 || !strings.Contains(out, "schema second (read model second) is migrated") {
		t.Errorf("migrate of a schema made ahead of its careerd: %d %q %q", code, out, errs)
	}
}

// TestMigrateNeverPrintsThePassword: $DATABASE_URL's password is masked in
// -h and in a flag error, as careerd masks it, and a --database-url that
// does not parse is a usage error (exit 2) naming the flag, the password
// masked in it too.
func TestMigrateNeverPrintsThePassword(t *testing.T) {
	migrate := func(env string, args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(append([]string{"migrate"}, args...), func(k string) string {
			if k == "DATABASE_URL" {
				return env
			}
			return ""
		}, nil, &out, &errb)
		return code, out.String() + errb.String()
	}
	const url = "postgres://careerledger:Pa55word@db:5432/careerledger?sslmode=disable"
	if code, out := migrate(url, "-h"); strings.Contains(out, "Pa55word") || !strings.Contains(out, "postgres://careerledger:********@db:5432/careerledger?sslmode=disable") {
		t.Errorf("migrate -h: exit %d, the password shown or the URL not masked:\n%s", code, out)
	}
	// A flag error is its one line, without the usage (and its URL).
	for _, args := range [][]string{{"--no-such-flag"}, {"--schema"}} {
		if code, out := migrate(url, args...); code != 2 || strings.Contains(out, "Pa55word") {
			t.Errorf("migrate %v: exit %d, the password shown:\n%s", args, code, out)
		}
	}
	for _, bad := range []string{"notaurl", "postgres://u:Pa55word@db:badport/career", "host=db port=abc password=Pa55word"} {
		code, out := migrate("", "--database-url", bad)
		if code != 2 || !strings.Contains(out, "--database-url") || !strings.Contains(out, "is not a PostgreSQL connection string") ||
			strings.Contains(out, "Pa55word") {
			t.Errorf("migrate --database-url %s: exit %d, want 2 naming the flag without the password:\n%s", maskURL(bad), code, out)
		}
	}
}
