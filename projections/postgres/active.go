package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
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

// DropSchema removes a retired read-model schema.
func DropSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	_, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}
