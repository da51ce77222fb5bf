package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/cmd/internal/secrets"
	"github.com/careerledger/careerledger/projections/postgres"
)

// migrateCommand applies the read-model migrations to the schema a
// PostgreSQL database serves a read model from (careerd's --schema names
// the read model; after a rebuild its schema is another): the one command
// that talks to a store directly.
func migrateCommand(c *cli, args []string) error {
	fs := newFlagSet("migrate")
	fs.SetOutput(c.stderr)
	// The default comes from the environment and holds a password: -h
	// and a flag error show it masked, as careerd does.
	dbURL := c.getenv("DATABASE_URL")
	fs.Var(secrets.MaskedValue{P: &dbURL, Mask: maskURL}, "database-url", "PostgreSQL `URL` ($DATABASE_URL)")
	name := fs.String("schema", postgres.DefaultSchema, "name of the read model, as careerd's --schema")
	create := fs.Bool("create", false, "make the read model --schema names if no read model of that name is recorded and no schema has it, beside the read models recorded (without it, only a database that records none gets one)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if dbURL == "" {
		return usagef("--database-url (or $DATABASE_URL) is required")
	}
	if *name == "" {
		*name = postgres.DefaultSchema // as careerd takes an empty --schema
	}
	if strings.TrimSpace(*name) != *name || strings.IndexFunc(*name, unicode.IsControl) >= 0 {
		return usagef("--schema must name a read model as careerd's --schema does, without spaces around it or control characters, not %q", *name)
	}
	if len(*name) > 63 {
		// careerd refuses it too: PostgreSQL cuts a name at 63 bytes.
		return usagef("--schema must be at most 63 bytes, as careerd's --schema (PostgreSQL cuts a longer name, and read models named alike up to there would share a schema), not %d: %q", len(*name), *name)
	}
	if err := checkDatabaseURL(dbURL); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("database URL %s: %w", maskURL(dbURL), secrets.Redact(err, dbURL))
	}
	defer pool.Close()
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	err = pool.Ping(pctx)
	pcancel()
	if err != nil {
		return fmt.Errorf("cannot reach PostgreSQL at %s: %w", maskURL(dbURL), secrets.Redact(err, dbURL))
	}
	known, err := readModelNames(ctx, pool)
	if err != nil {
		return err
	}
	var existed bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, *name).Scan(&existed); err != nil {
		return fmt.Errorf("is there a schema %s: %w", *name, err)
	}
	if !existed && !slices.Contains(known, *name) && len(known) > 0 && !*create {
		// A misspelt --schema once made an empty read model, and exit 0.
		// The first read model of a database (none recorded) is made
		// without a word more: a first deployment's first migrate.
		return usagef("--schema %s: no read model of that name is recorded and no schema has it (read models recorded here: %s); "+
			"migrate makes a new read model beside recorded ones only with --create", *name, strings.Join(known, ", "))
	}
	schema, err := postgres.MigrateActive(ctx, pool, *name)
	if err != nil {
		return fmt.Errorf("read model %s: %w", *name, err)
	}
	if !existed && !slices.Contains(known, *name) {
		// Right for a first deployment, made ahead of its careerd, or one
		// asked for with --create: said all the same.
		recorded := "none"
		if len(known) > 0 {
			recorded = strings.Join(known, ", ")
		}
		fmt.Fprintf(c.stderr, "careerctl migrate: no read model %s was recorded and no schema of that name existed: made it, empty, for a careerd --schema %s to serve (read models recorded here: %s)\n",
			*name, *name, recorded)
	}
	fmt.Fprintf(c.stdout, "schema %s (read model %s) is migrated\n", schema, *name)
	return nil
}

// readModelNames returns the read models public.careerledger_read_models
// records, none before any careerd recorded one.
func readModelNames(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('public.careerledger_read_models') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return nil, err
	}
	rows, err := pool.Query(ctx, `SELECT name FROM public.careerledger_read_models ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read models: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
