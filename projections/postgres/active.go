package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Active says which schema serves a deployment's read models and which
// catalogue judged it. A rebuild fills a fresh schema and then moves this
// pointer in one statement; every instance follows the pointer.
type Active struct {
	Schema           string
	CatalogueID      string
	CatalogueVersion int
	Format           int // the read-model format the schema was built in
}

// Format is the read-model format this code builds. A schema of an older
// format is rebuilt (beside the serving one), because a migration can add a
// table but not fill it with what only the projector computes. A migration
// that fills what it adds from the tables already there (004) keeps the
// format.
//
//   - 2: distribution periods, accomplishments read from their event.
//   - 3: the standing on a person's row holds levels and attainedOn only.
const Format = 3

const activeTable = `CREATE TABLE IF NOT EXISTS public.careerledger_read_models (
	name              text PRIMARY KEY,
	schema            text NOT NULL,
	catalogue_id      text NOT NULL,
	catalogue_version int NOT NULL,
	switched_at       timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.careerledger_read_models ADD COLUMN IF NOT EXISTS format int NOT NULL DEFAULT 1`

// ReadActive returns the active read model of deployment name; ok is false
// when none has been recorded yet.
func ReadActive(ctx context.Context, pool *pgxpool.Pool, name string) (a Active, ok bool, err error) {
	if _, err := pool.Exec(ctx, activeTable); err != nil {
		return a, false, fmt.Errorf("active read model: %w", err)
	}
	err = pool.QueryRow(ctx, `SELECT schema, catalogue_id, catalogue_version, format FROM public.careerledger_read_models WHERE name = $1`, name).
		Scan(&a.Schema, &a.CatalogueID, &a.CatalogueVersion, &a.Format)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, false, nil
	}
	if err != nil {
		return a, false, fmt.Errorf("active read model: %w", err)
	}
	return a, true, nil
}

// WriteActive points deployment name at a.
func WriteActive(ctx context.Context, pool *pgxpool.Pool, name string, a Active) error {
	if _, err := pool.Exec(ctx, activeTable); err != nil {
		return fmt.Errorf("active read model: %w", err)
	}
	_, err := pool.Exec(ctx, `INSERT INTO public.careerledger_read_models (name, schema, catalogue_id, catalogue_version, format)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE
		SET schema = EXCLUDED.schema, catalogue_id = EXCLUDED.catalogue_id,
		    catalogue_version = EXCLUDED.catalogue_version, format = EXCLUDED.format, switched_at = now()`,
		name, a.Schema, a.CatalogueID, a.CatalogueVersion, a.Format)
	if err != nil {
		return fmt.Errorf("switch read model: %w", err)
	}
	return nil
}

// DropRetired drops the schemas of deployment name that a switch retired:
// the deployment's first schema (named name) and those a rebuild named
// name_<UTC start time> before the active one, once the active one has
// served for grace (instances follow a switch within seconds; queries in
// flight on the old schema finish first). A schema newer than the active
// one is a rebuild still filling and stays. It returns what it dropped.
// careerd drops a retired schema grace after its switch; this catches the
// ones a process stopped before that.
func DropRetired(ctx context.Context, pool *pgxpool.Pool, name string, grace time.Duration) ([]string, error) {
	var active string
	var served bool
	err := pool.QueryRow(ctx, `SELECT schema, now() - switched_at >= $2 FROM public.careerledger_read_models WHERE name = $1`,
		name, grace).Scan(&active, &served)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !served) {
		return nil, nil
	}
	var undefined *pgconn.PgError
	if errors.As(err, &undefined) && undefined.Code == "42P01" { // no registry yet
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("active read model: %w", err)
	}
	rows, err := pool.Query(ctx, `SELECT nspname FROM pg_namespace WHERE nspname = $1 OR left(nspname, length($1) + 1) = $1 || '_'`, name)
	if err != nil {
		return nil, err
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, s := range schemas {
		if s == active || !retiredBy(name, s, active) {
			continue
		}
		if err := DropSchema(ctx, pool, s); err != nil {
			return dropped, fmt.Errorf("drop retired read-model schema %s: %w", s, err)
		}
		dropped = append(dropped, s)
	}
	return dropped, nil
}

// retiredBy reports whether schema s of deployment name came before the
// active schema: the first one, or a rebuild's started earlier.
func retiredBy(name, s, active string) bool {
	stamp := func(schema string) (time.Time, bool) {
		if schema == name {
			return time.Time{}, true // the first: before every rebuild
		}
		t, err := time.Parse("20060102t150405", strings.TrimPrefix(schema, name+"_"))
		return t, err == nil && strings.HasPrefix(schema, name+"_")
	}
	st, ok := stamp(s)
	at, aok := stamp(active)
	return ok && aok && st.Before(at)
}

// DropSchema removes a retired read-model schema.
func DropSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	_, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}
