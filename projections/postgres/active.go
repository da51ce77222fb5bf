package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// registries remembers the pools whose database has the registry tables in
// their current shape: the DDL takes an exclusive lock on them, which must
// not queue behind a switch every time an instance looks at the pointer.
var registries sync.Map // *pgxpool.Pool -> struct{}

func ensureRegistry(ctx context.Context, pool *pgxpool.Pool) error {
	if _, ok := registries.Load(pool); ok {
		return nil
	}
	if _, err := pool.Exec(ctx, activeTable); err != nil {
		return fmt.Errorf("active read model: %w", err)
	}
	registries.Store(pool, struct{}{})
	return nil
}

// ReadActive returns the active read model of deployment name; ok is false
// when none has been recorded yet.
func ReadActive(ctx context.Context, pool *pgxpool.Pool, name string) (a Active, ok bool, err error) {
	if err := ensureRegistry(ctx, pool); err != nil {
		return a, false, err
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

// InitActive records a as deployment name's first read model unless one is
// recorded already (another instance was first), and returns the one that
// is.
func InitActive(ctx context.Context, pool *pgxpool.Pool, name string, a Active) (Active, error) {
	if err := ensureRegistry(ctx, pool); err != nil {
		return a, err
	}
	if _, err := pool.Exec(ctx, `INSERT INTO public.careerledger_read_models (name, schema, catalogue_id, catalogue_version, format)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING`, name, a.Schema, a.CatalogueID, a.CatalogueVersion, a.Format); err != nil {
		return a, fmt.Errorf("record the first read model: %w", err)
	}
	got, _, err := ReadActive(ctx, pool, name)
	return got, err
}

// WriteActive points deployment name at a, and notes the schema it replaces
// as retired (DropRetired drops only those), in one transaction that holds
// the deployment's registry row. A schema that does not exist (dropped as
// retired while this waited for the row) is refused.
func WriteActive(ctx context.Context, pool *pgxpool.Pool, name string, a Active) error {
	if err := ensureRegistry(ctx, pool); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		old, err := lockActive(ctx, tx, name)
		if err != nil {
			return err
		}
		// A statement of its own: it sees what committed while the row
		// was awaited.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, a.Schema).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("schema %s does not exist", a.Schema)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO public.careerledger_read_models (name, schema, catalogue_id, catalogue_version, format)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE
			SET schema = EXCLUDED.schema, catalogue_id = EXCLUDED.catalogue_id,
			    catalogue_version = EXCLUDED.catalogue_version, format = EXCLUDED.format, switched_at = now()`,
			name, a.Schema, a.CatalogueID, a.CatalogueVersion, a.Format); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM public.careerledger_retired_schemas WHERE name = $1 AND schema = $2`, name, a.Schema); err != nil {
			return err
		}
		if old == "" || old == a.Schema {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO public.careerledger_retired_schemas (name, schema) VALUES ($1, $2)
			ON CONFLICT (name, schema) DO UPDATE SET retired_at = now()`, name, old)
		return err
	})
	if err != nil {
		return fmt.Errorf("switch read model: %w", err)
	}
	return nil
}

// lockActive locks deployment name's registry row for the rest of tx (a
// switch or a drop of a retired schema waits for it) and returns its
// active schema ("" before the first).
func lockActive(ctx context.Context, tx pgx.Tx, name string) (string, error) {
	var active string
	err := tx.QueryRow(ctx, `SELECT schema FROM public.careerledger_read_models WHERE name = $1 FOR UPDATE`, name).Scan(&active)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return active, err
}

// DropRetired drops the schemas a switch of deployment name replaced (noted
// by WriteActive) once grace has passed since: instances follow a switch
// within seconds, and queries in flight on the old schema finish first. A
// schema no switch replaced (a rebuild still filling, another
// deployment's) is never touched, nor one a later switch made active
// again. careerd drops a retired schema grace after its switch; this
// catches the ones a process stopped before that. It returns what it
// dropped; a schema it could not drop (a query still holding it) is left
// for the next call and named in the error, after the others were tried.
func DropRetired(ctx context.Context, pool *pgxpool.Pool, name string, grace time.Duration) ([]string, error) {
	if err := ensureRegistry(ctx, pool); err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, `SELECT schema FROM public.careerledger_retired_schemas
		WHERE name = $1 AND retired_at <= now() - $2::interval ORDER BY retired_at`, name, grace)
	if err != nil {
		return nil, err
	}
	retired, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var dropped []string
	var errs []error
	for _, schema := range retired {
		done, err := dropIfRetired(ctx, pool, name, schema, grace)
		if err != nil {
			errs = append(errs, fmt.Errorf("drop retired read-model schema %s: %w", schema, err))
		}
		if done {
			dropped = append(dropped, schema)
		}
	}
	return dropped, errors.Join(errs...)
}

// dropIfRetired drops schema if, with the deployment's registry row held
// (so no switch runs meanwhile), it is still noted as retired for grace and
// is not the active one; the note goes with it.
func dropIfRetired(ctx context.Context, pool *pgxpool.Pool, name, schema string, grace time.Duration) (bool, error) {
	dropped := false
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		active, err := lockActive(ctx, tx, name)
		if err != nil {
			return err
		}
		var still bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM public.careerledger_retired_schemas
			WHERE name = $1 AND schema = $2 AND retired_at <= now() - $3::interval)`, name, schema, grace).Scan(&still); err != nil {
			return err
		}
		if !still || active == schema {
			return nil // switched to, or retired anew, since the list was read
		}
		// A query still reading the schema holds the drop back; rather
		// than hold switches back behind it, try again next time.
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '20s'"); err != nil {
			return err
		}
		if err := dropSchema(ctx, tx, schema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM public.careerledger_retired_schemas WHERE name = $1 AND schema = $2`, name, schema); err != nil {
			return err
		}
		dropped = true
		return nil
	})
	return dropped && err == nil, err
}

// DropUnused drops schema, a read model some rebuild filled but never made
// active (it failed or was stopped), unless a switch made it active after
// all; the registry row is held meanwhile. It first notes the schema as
// retired, so that if the drop fails (a sweep holding the row, a query on
// the schema) DropRetired drops it later.
func DropUnused(ctx context.Context, pool *pgxpool.Pool, name, schema string) error {
	if err := ensureRegistry(ctx, pool); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `INSERT INTO public.careerledger_retired_schemas (name, schema)
		SELECT $1, $2 WHERE $2 IS DISTINCT FROM (SELECT schema FROM public.careerledger_read_models WHERE name = $1)
		ON CONFLICT (name, schema) DO NOTHING`, name, schema); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		active, err := lockActive(ctx, tx, name)
		if err != nil {
			return err
		}
		if active == schema {
			return nil
		}
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '2s'"); err != nil {
			return err
		}
		if err := dropSchema(ctx, tx, schema); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM public.careerledger_retired_schemas WHERE name = $1 AND schema = $2`, name, schema)
		return err
	})
}

// dropSchema removes a read-model schema and everything in it, in tx.
func dropSchema(ctx context.Context, tx pgx.Tx, schema string) error {
	_, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}
