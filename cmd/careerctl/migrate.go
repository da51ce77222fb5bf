package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/projections/postgres"
)

// migrateCommand applies the read-model migrations to the schema a
// PostgreSQL database serves a read model from (careerd's --schema names
// the read model; after a rebuild its schema is another): the one command
// that talks to a store directly.
func migrateCommand(c *cli, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	dbURL := fs.String("database-url", c.getenv("DATABASE_URL"), "PostgreSQL URL ($DATABASE_URL)")
	name := fs.String("schema", postgres.DefaultSchema, "name of the read model, as careerd's --schema")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *dbURL == "" {
		return usagef("--database-url (or $DATABASE_URL) is required")
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("database URL: %w", err)
	}
	defer pool.Close()
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	err = pool.Ping(pctx)
	pcancel()
	if err != nil {
		return fmt.Errorf("cannot reach PostgreSQL at %s: %w", maskPassword(*dbURL), err)
	}
	schema, err := postgres.MigrateActive(ctx, pool, *name)
	if err != nil {
		return fmt.Errorf("read model %s: %w", *name, err)
	}
	fmt.Fprintf(c.stdout, "schema %s (read model %s) is migrated\n", schema, *name)
	return nil
}

// maskPassword hides the password of a URL's user info.
func maskPassword(u string) string {
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil || cfg.ConnConfig.Password == "" {
		return u
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}
