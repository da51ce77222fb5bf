package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

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
ALTER TABLE public.careerledger_read_models ADD COLUMN IF NOT EXISTS format int NOT NULL DEFAULT 1;
CREATE TABLE IF NOT EXISTS public.careerledger_retired_schemas (
	name       text NOT NULL,
	schema     text NOT NULL,
	retired_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (name, schema)
)`

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
	// One statement: the switch, and the schema it replaces noted as
	// retired (DropRetired drops only those, never one a switch made
	// active again).
	_, err := pool.Exec(ctx, `WITH old AS (
			SELECT schema FROM public.careerledger_read_models WHERE name = $1 FOR UPDATE
		), switched AS (
			INSERT INTO public.careerledger_read_models (name, schema, catalogue_id, catalogue_version, format)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE
			SET schema = EXCLUDED.schema, catalogue_id = EXCLUDED.catalogue_id,
			    catalogue_version = EXCLUDED.catalogue_version, format = EXCLUDED.format, switched_at = now()
			RETURNING schema
		), unretired AS (
			DELETE FROM public.careerledger_retired_schemas WHERE name = $1 AND schema = $2
		)
		INSERT INTO public.careerledger_retired_schemas (name, schema)
		SELECT $1, old.schema FROM old WHERE old.schema <> $2
		ON CONFLICT (name, schema) DO UPDATE SET retired_at = now()`,
		name, a.Schema, a.CatalogueID, a.CatalogueVersion, a.Format)
	if err != nil {
		return fmt.Errorf("switch read model: %w", err)
	}
	return nil
}

// DropRetired drops the schemas a switch of deployment name replaced (noted
// by WriteActive) once grace has passed since: instances follow a switch
// within seconds, and queries in flight on the old schema finish first. A
// schema no switch replaced (a rebuild still filling, another
// deployment's) is never touched, nor one a later switch made active
// again. careerd drops a retired schema grace after its switch; this
// catches the ones a process stopped before that. It returns what it
// dropped.
func DropRetired(ctx context.Context, pool *pgxpool.Pool, name string, grace time.Duration) ([]string, error) {
	if _, err := pool.Exec(ctx, activeTable); err != nil {
		return nil, fmt.Errorf("active read model: %w", err)
	}
	rows, err := pool.Query(ctx, `SELECT r.schema FROM public.careerledger_retired_schemas r
		WHERE r.name = $1 AND r.retired_at <= now() - $2::interval
		  AND r.schema IS DISTINCT FROM (SELECT schema FROM public.careerledger_read_models WHERE name = $1)
		ORDER BY r.retired_at`, name, grace)
	if err != nil {
		return nil, err
	}
	retired, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, schema := range retired {
		// The drop and forgetting it in one transaction, which takes the
		// registry row first: a switch back to this schema waits for it.
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var active string
			err := tx.QueryRow(ctx, `SELECT schema FROM public.careerledger_read_models WHERE name = $1 FOR UPDATE`, name).Scan(&active)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if active == schema {
				return nil // switched back to since the list was read
			}
			// A query still reading the schema holds the drop back; rather
			// than hold switches back behind it, try again next time.
			if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '5s'"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `DELETE FROM public.careerledger_retired_schemas WHERE name = $1 AND schema = $2`, name, schema)
			return err
		})
		if err != nil {
			return dropped, fmt.Errorf("drop retired read-model schema %s: %w", schema, err)
		}
		dropped = append(dropped, schema)
	}
	return dropped, nil
}

// DropSchema removes a retired read-model schema.
func DropSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	_, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}
