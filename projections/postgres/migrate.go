package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/migrations"
)

// migrateLockKey serialises migrations across every careerd and careerctl
// that share a database, whatever read model they migrate: unlike the
// projector's lock (ProjectorLockKey) it is not per read model, because
// migrations also make what every schema shares (003 creates the btree_gist
// extension in public, and two sessions creating it at once fail on
// pg_extension's unique index).
const migrateLockKey = 0x6361726565726c01

// Migrate applies every migration not yet applied to schema, in order, each
// in its own transaction, under an advisory lock so concurrent starters
// apply each file once. It is safe to call at every start. It makes the
// schema if it does not exist, whatever the registry says: to migrate the
// schema a read model is served from, use MigrateActive.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	return migrate(ctx, pool, schema, nil)
}

// ErrNotServed is MigrateActive's failure when the read model's registry
// row kept moving away from the schema it was about to migrate.
var ErrNotServed = errors.New("the read model is no longer served from this schema")

// MigrateActive applies the migrations (as Migrate does) to the schema that
// serves read model name (careerd's --schema): the one
// public.careerledger_read_models records for name, as careerd reads it at
// its start, which after a rebuild is not the schema named name; or, while
// no instance has recorded one, the schema named name, the one a first
// careerd records. It returns the schema it migrated.
//
// It makes a schema only if, in the transaction that makes it, the
// registry still names it (or names nothing and the schema is name's),
// holding the row against a switch: it never leaves an empty schema for a
// name whose read model lives elsewhere. When a switch moves the read model
// while it waits for the migration lock, it migrates the schema switched
// to; after three such moves it fails with ErrNotServed.
func MigrateActive(ctx context.Context, pool *pgxpool.Pool, name string) (string, error) {
	for tries := 0; ; tries++ {
		schema := name
		a, ok, err := ReadActive(ctx, pool, name)
		if err != nil {
			return "", err
		}
		if ok {
			schema = a.Schema
		}
		err = migrate(ctx, pool, schema, func(ctx context.Context, tx pgx.Tx) error {
			return served(ctx, tx, name, schema)
		})
		if errors.Is(err, ErrNotServed) && tries < 3 {
			continue
		}
		return schema, err
	}
}

// served fails with ErrNotServed unless the registry names schema as read
// model name's (or names nothing for name, and schema is name), and holds
// the registry row until tx ends: a switch waits for it.
func served(ctx context.Context, tx pgx.Tx, name, schema string) error {
	var active string
	err := tx.QueryRow(ctx, `SELECT schema FROM public.careerledger_read_models WHERE name = $1 FOR KEY SHARE`, name).Scan(&active)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		active = name
	case err != nil:
		return err
	}
	if active != schema {
		return fmt.Errorf("%w: read model %s is served from schema %s now", ErrNotServed, name, active)
	}
	return nil
}

// migrate is Migrate; guard, if not nil, runs in the transaction that makes
// the schema, first, and the schema is made only if it returns nil.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, guard func(ctx context.Context, tx pgx.Tx) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrateLockKey)); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrateLockKey)) //nolint:errcheck // released with the session anyway

	s := pgx.Identifier{schema}.Sanitize()
	if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if guard != nil {
			if err := guard(ctx, tx); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+s)
		return err
	}); err != nil {
		return fmt.Errorf("migrate: create schema %s: %w", schema, err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+s+".schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations.Files, "*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		var applied bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+s+".schema_migrations WHERE version = $1)", name).Scan(&applied); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if applied {
			continue
		}
		body, err := migrations.Files.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+s); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO "+s+".schema_migrations (version) VALUES ($1)", name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: apply %s: %w", name, err)
		}
	}
	return nil
}
