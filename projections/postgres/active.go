package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
//   - 4: an evidence window of months or years ends on the month's last day
//     when the month is shorter (domain.EvidenceWindow.ExpiresOn), no longer
//     in the month after; only a catalogue with such a window judges
//     otherwise than format 3, but every schema is rebuilt once.
const Format = 4

const activeTable = `CREATE TABLE IF NOT EXISTS public.careerledger_read_models (
	name              text PRIMARY KEY,
	schema            text NOT NULL,
	catalogue_id      text NOT NULL,
	catalogue_version int NOT NULL,
	switched_at       timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.careerledger_read_models ADD COLUMN IF NOT EXISTS format int NOT NULL DEFAULT 1;
-- The positions the switch to the active schema (catch_up_for) brought it
-- up to, or is bringing it up to: see SwitchActive.
ALTER TABLE public.careerledger_read_models ADD COLUMN IF NOT EXISTS catch_up_for text;
ALTER TABLE public.careerledger_read_models ADD COLUMN IF NOT EXISTS catch_up_readable bigint;
ALTER TABLE public.careerledger_read_models ADD COLUMN IF NOT EXISTS catch_up_stored bigint;
CREATE TABLE IF NOT EXISTS public.careerledger_retired_schemas (
	name       text NOT NULL,
	schema     text NOT NULL,
	retired_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (name, schema)
);
CREATE TABLE IF NOT EXISTS public.careerledger_rebuilds (
	name       text NOT NULL,
	schema     text NOT NULL,
	lock_id    int NOT NULL, -- the claim: advisory lock (rebuildLockClass, lock_id)
	started_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (name, schema)
)`

// registries remembers the pools whose database has the registry tables in
// their current shape: the DDL takes an exclusive lock on them, which must
// not queue behind a switch every time an instance looks at the pointer.
var registries sync.Map // *pgxpool.Pool -> struct{}

// registryLockKey serialises the registry's DDL: two instances starting on
// a new database at once would otherwise both create its tables, and one
// fail on the catalogue's unique index. A key of its own: an instance's
// first look at the pointer must not wait for a long migration.
const registryLockKey = 0x6361726565726c03

// registryShape tells whether the registry's tables are there in their
// current shape: the DDL locks its tables exclusively even when it has
// nothing to do, which would hold every instance's look at the pointer
// back behind each start (and a start behind a switch in progress).
const registryShape = `SELECT to_regclass('public.careerledger_rebuilds') IS NOT NULL
	AND to_regclass('public.careerledger_retired_schemas') IS NOT NULL
	AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('public.careerledger_read_models')
		AND attname = 'format' AND NOT attisdropped)
	AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('public.careerledger_read_models')
		AND attname = 'catch_up_stored' AND NOT attisdropped)`

func ensureRegistry(ctx context.Context, pool *pgxpool.Pool) error {
	if _, ok := registries.Load(pool); ok {
		return nil
	}
	var current bool
	if err := pool.QueryRow(ctx, registryShape).Scan(&current); err != nil {
		return fmt.Errorf("active read model: %w", err)
	}
	if current {
		registries.Store(pool, struct{}{})
		return nil
	}
	for wait := registryRetry; ; wait = min(2*wait, time.Second) {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(registryLockKey)); err != nil {
				return err
			}
			// The instance this one waited for may have made them.
			if err := tx.QueryRow(ctx, registryShape).Scan(&current); err != nil || current {
				return err
			}
			if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = "+registryLockTimeout); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, activeTable)
			return err
		})
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == lockNotAvailable {
			// Another transaction holds a registry table (a switch, or an
			// older release's end of a bulk write, can hold its row for
			// half a minute). Waiting in the lock's queue would hold every
			// other look at the registry behind this DDL's exclusive lock:
			// give way, and try again.
			select {
			case <-ctx.Done():
				return fmt.Errorf("active read model: the registry's tables stayed in use: %w", ctx.Err())
			case <-time.After(wait):
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("active read model: %w", err)
		}
		registries.Store(pool, struct{}{})
		return nil
	}
}

// registryLockTimeout bounds how long the registry's DDL waits for its
// tables' exclusive lock, and so how long it can hold others' reads of the
// registry queued behind it; registryRetry is the first pause before it
// tries again (doubling up to a second).
const (
	registryLockTimeout = "'200ms'"
	registryRetry       = 50 * time.Millisecond
	lockNotAvailable    = "55P03"
)

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

// ReadCatchUp returns the positions the switch to schema recorded that it
// brings the model in schema up to (readable and stored: see Switched), if
// the registry row of deployment name still holds them for schema: ok is
// false when it holds none, or holds those of another schema (a later
// switch, or one by an earlier release, which records none). An instance
// following a switch brings the new model up to them when it cannot read
// the model it served (dropped, damaged) or finds it behind them.
func ReadCatchUp(ctx context.Context, pool *pgxpool.Pool, name, schema string) (readable, stored uint64, ok bool, err error) {
	if err := ensureRegistry(ctx, pool); err != nil {
		return 0, 0, false, err
	}
	var r, s int64
	err = pool.QueryRow(ctx, `SELECT coalesce(catch_up_readable, 0), coalesce(catch_up_stored, 0)
		FROM public.careerledger_read_models WHERE name = $1 AND catch_up_for = $2`, name, schema).Scan(&r, &s)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("read model catch-up positions: %w", err)
	}
	return uint64(r), uint64(max(r, s)), true, nil
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
	_, err := writeActive(ctx, pool, name, a, false)
	return err
}

// Switched is what SwitchActive replaced, and the positions the read model
// it made active must be brought up to before it serves.
type Switched struct {
	// Replaced is the schema the switch replaced ("" before the first).
	Replaced string
	// Readable and Stored are the positions the new model must reach
	// before it serves: readable up to Readable, its events stored up to
	// Stored (beyond Readable when the replaced model was in the middle of
	// a bulk catch-up). They are the replaced model's own, read with the
	// registry row held, or, if further, those the switch to it recorded:
	// a replaced model may itself still be catching up with the one before
	// it (its switch, on another instance, has moved the registry and not
	// yet served it), and a write that model acknowledged must not go
	// missing either.
	Readable, Stored uint64
	// Known is false when the replaced model's own positions could not be
	// read (its schema gone or damaged, or no switch replaced one):
	// Readable and Stored are then only those recorded, if any.
	Known bool
}

// SwitchActive is WriteActive, or WriteActiveForward when forward, that
// also returns what the switch replaced and the positions to catch up to
// (Switched), read with the registry row held: once the switch commits, no
// serving store's batch commits on the replaced schema (Store.Deployment),
// so its position is final but for the catch-up of a switch to it still
// in progress, whose target the registry recorded. The switch records the
// positions it returns for the schema it made active, for the next switch.
func SwitchActive(ctx context.Context, pool *pgxpool.Pool, name string, a Active, forward bool) (Switched, error) {
	return writeActive(ctx, pool, name, a, forward)
}

// WriteActiveForward is WriteActive for a rebuild to a newer catalogue
// version or format: it switches only if, with the registry row held, the
// active read model is not already of a's catalogue at a's version or a
// newer one (another instance's rebuild switched first), and returns
// ErrAsNew otherwise.
func WriteActiveForward(ctx context.Context, pool *pgxpool.Pool, name string, a Active) error {
	_, err := writeActive(ctx, pool, name, a, true)
	return err
}

// ErrAsNew: the active read model is already as new as the one a forward
// switch would make active.
var ErrAsNew = errors.New("the active read model is already of this catalogue version and format, or newer")

func writeActive(ctx context.Context, pool *pgxpool.Pool, name string, a Active, forward bool) (sw Switched, err error) {
	if err := ensureRegistry(ctx, pool); err != nil {
		return sw, err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// For update: it waits for the serving store's batches in flight
		// (they hold the row for key share), and those after it see the
		// new schema.
		old, err := lockActiveFor(ctx, tx, name, "UPDATE")
		if err != nil {
			return err
		}
		sw = Switched{Replaced: old}
		if forward {
			var cur Active
			err := tx.QueryRow(ctx, `SELECT catalogue_id, catalogue_version, format FROM public.careerledger_read_models WHERE name = $1`, name).
				Scan(&cur.CatalogueID, &cur.CatalogueVersion, &cur.Format)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if err == nil && cur.CatalogueID == a.CatalogueID && (cur.CatalogueVersion > a.CatalogueVersion ||
				(cur.CatalogueVersion == a.CatalogueVersion && cur.Format >= a.Format)) {
				return ErrAsNew
			}
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
		if old != "" && old != a.Schema {
			if sw.Readable, sw.Stored, sw.Known, err = catchUpTarget(ctx, tx, name, old); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO public.careerledger_read_models (name, schema, catalogue_id, catalogue_version, format)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE
			SET schema = EXCLUDED.schema, catalogue_id = EXCLUDED.catalogue_id,
			    catalogue_version = EXCLUDED.catalogue_version, format = EXCLUDED.format, switched_at = now()`,
			name, a.Schema, a.CatalogueID, a.CatalogueVersion, a.Format); err != nil {
			return err
		}
		if old != "" && old != a.Schema {
			// For the next switch, which may come while the new model is
			// still being brought up to these positions (another
			// instance's, and it reads the new model's own behind them).
			if _, err := tx.Exec(ctx, `UPDATE public.careerledger_read_models
				SET catch_up_for = $2, catch_up_readable = $3, catch_up_stored = $4 WHERE name = $1`,
				name, a.Schema, int64(sw.Readable), int64(sw.Stored)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM public.careerledger_retired_schemas WHERE name = $1 AND schema = $2`, name, a.Schema); err != nil {
			return err
		}
		// Instances listening (ListenSwitches) follow at the commit.
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, switchChannel, name); err != nil {
			return err
		}
		// Neither the schema switched to nor the one retired is a rebuild
		// any more: the one has no grace to keep, the other keeps its own.
		if _, err := tx.Exec(ctx, `DELETE FROM public.careerledger_rebuilds WHERE name = $1 AND schema IN ($2, $3)`, name, a.Schema, old); err != nil {
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
		return Switched{}, fmt.Errorf("switch read model: %w", err)
	}
	return sw, nil
}

// catchUpTarget returns the positions a model replacing schema old must
// reach before it serves (Switched), in tx, which holds deployment name's
// registry row for update: the serving stores' batches on old have
// committed or wait to fail. They are old's own readable position and
// checkpoint, read in one statement (known is false if they cannot be
// read: its schema dropped or damaged, which must not keep a rebuild from
// replacing it), or, if further, those recorded by the switch that made
// old active: until that switch's catch-up is done (on another instance),
// old's own are behind what the model before it acknowledged, and that
// catch-up, which checks no registry, goes on writing old after this
// switch commits, up to those recorded positions and no further. Recorded
// positions hold only for the schema they were recorded for (a switch by
// an earlier release moved the registry without recording any).
func catchUpTarget(ctx context.Context, tx pgx.Tx, name, old string) (readable, stored uint64, known bool, err error) {
	var recReadable, recStored int64
	err = tx.QueryRow(ctx, `SELECT coalesce(catch_up_readable, 0), coalesce(catch_up_stored, 0)
		FROM public.careerledger_read_models WHERE name = $1 AND catch_up_for = $2`, name, old).Scan(&recReadable, &recStored)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, false, err
	}
	var ownReadable, ownStored int64
	// A savepoint: a failure here must not fail the switch.
	sp, err := tx.Begin(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	err = sp.QueryRow(ctx, `SELECT coalesce(people_from, position), position FROM `+pgx.Identifier{old}.Sanitize()+`.projection_checkpoint
		WHERE name = $1`, checkpointName).Scan(&ownReadable, &ownStored)
	switch {
	case err == nil || errors.Is(err, pgx.ErrNoRows): // no row: nothing projected yet
		known = true
		err = sp.Commit(ctx)
	default:
		ownReadable, ownStored = 0, 0
		err = sp.Rollback(ctx)
	}
	if err != nil {
		return 0, 0, false, err
	}
	readable = uint64(max(ownReadable, recReadable))
	stored = uint64(max(ownStored, recStored, ownReadable, recReadable))
	return readable, stored, known, nil
}

// switchChannel is the PostgreSQL notification channel a switch notifies,
// with the deployment's name as payload.
const switchChannel = "careerledger_read_models"

// ListenSwitches calls switched each time a switch of deployment name's
// read model commits (on any instance), until ctx is done. It listens on a
// session of its own, outside the pool, and opens it again a second after
// it fails; switched also runs after each (re)connection, since a switch
// may have committed while nobody listened. The session holds presence
// (the zero Presence: none) from before it listens. It returns when ctx
// is done.
func ListenSwitches(ctx context.Context, pool *pgxpool.Pool, name string, presence Presence, switched func()) {
	for ctx.Err() == nil {
		listenSwitches(ctx, pool, name, presence, switched)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func listenSwitches(ctx context.Context, pool *pgxpool.Pool, name string, presence Presence, switched func()) {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))   //nolint:errcheck // the session ends either way
	conn.Exec(ctx, "SET idle_session_timeout = 0") //nolint:errcheck // older servers have no such timeout
	if presence != (Presence{}) {
		// The format's presence first: a session holding the catalogue's
		// alone is an instance of a release before format presences
		// (OlderReleasesPresent), which this one never is, even for a
		// moment.
		if presence.Format > 0 {
			if _, err := conn.Exec(ctx, holdFormatPresenceSQL, presence.Name, presence.CatalogueID, presence.Version, presence.Format); err != nil {
				return
			}
		}
		if _, err := conn.Exec(ctx, holdPresenceSQL, presence.Name, presence.CatalogueID, presence.Version); err != nil {
			return
		}
	}
	if _, err := conn.Exec(ctx, "LISTEN "+switchChannel); err != nil {
		return
	}
	switched()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return
		}
		if n.Payload == name {
			switched()
		}
	}
}

// lockActive locks deployment name's registry row for the rest of tx (a
// switch or a drop of a retired schema waits for it) and returns its
// active schema ("" before the first).
//
// It locks for no-key update: that waits for a switch and keeps others
// off, but not the serving store's batches (they hold the row for key
// share), so a sweep dropping a schema does not stall the live projector.
func lockActive(ctx context.Context, tx pgx.Tx, name string) (string, error) {
	return lockActiveFor(ctx, tx, name, "NO KEY UPDATE")
}

// lockActiveFor is lockActive with the lock mode ("UPDATE" for a switch).
func lockActiveFor(ctx context.Context, tx pgx.Tx, name, mode string) (string, error) {
	var active string
	err := tx.QueryRow(ctx, `SELECT schema FROM public.careerledger_read_models WHERE name = $1 FOR `+mode, name).Scan(&active)
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
	return dropEach(ctx, pool, "retired read-model schema", func(schema string) (bool, error) {
		return dropIfRetired(ctx, pool, name, schema, grace)
	}, `SELECT schema FROM public.careerledger_retired_schemas
		WHERE name = $1 AND retired_at <= now() - $2::interval ORDER BY retired_at`, name, grace)
}

// dropEach lists schemas with query and args, and drops each with drop,
// which decides again under the registry row lock. It returns what was
// dropped, and the errors of the others (what: what they are), joined.
func dropEach(ctx context.Context, pool *pgxpool.Pool, what string, drop func(schema string) (bool, error), query string, args ...any) ([]string, error) {
	rows, err := pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	listed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var dropped []string
	var errs []error
	for _, schema := range listed {
		done, err := drop(schema)
		if err != nil {
			errs = append(errs, fmt.Errorf("drop %s %s: %w", what, schema, err))
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
		dropped = true
		return dropBriefly(ctx, tx, name, schema)
	})
	return dropped && err == nil, err
}

// dropBriefly drops schema in tx (which holds the registry row) unless it
// must wait: a query still reading the schema holds the drop back, and
// rather than hold switches back behind it, a sweep tries again next time.
func dropBriefly(ctx context.Context, tx pgx.Tx, name, schema string) error {
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '20s'"); err != nil {
		return err
	}
	return dropSchema(ctx, tx, name, schema)
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
	if err := NoteRetired(ctx, pool, name, schema); err != nil {
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
		return dropBriefly(ctx, tx, name, schema)
	})
}

// NoteRetired notes schema as retired by deployment name unless it is the
// active one or noted already, for DropRetired to drop once the grace has
// passed.
func NoteRetired(ctx context.Context, pool *pgxpool.Pool, name, schema string) error {
	if err := ensureRegistry(ctx, pool); err != nil {
		return err
	}
	_, err := pool.Exec(ctx, `INSERT INTO public.careerledger_retired_schemas (name, schema)
		SELECT $1, $2 WHERE $2 IS DISTINCT FROM (SELECT schema FROM public.careerledger_read_models WHERE name = $1)
		ON CONFLICT (name, schema) DO NOTHING`, name, schema)
	return err
}

// dropSchema removes a read-model schema of deployment name and everything
// in it, and the registry's notes of it, in tx.
func dropSchema(ctx context.Context, tx pgx.Tx, name, schema string) error {
	if _, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM public.careerledger_retired_schemas WHERE name = $1 AND schema = $2`, name, schema); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM public.careerledger_rebuilds WHERE name = $1 AND schema = $2`, name, schema)
	return err
}

// rebuildLockClass is the first half of the advisory lock a live rebuild
// holds for as long as it runs (the second is the lock_id its claim row
// stores): its session ending (the process killed, the connection lost)
// releases it. Two-key advisory locks never meet the single-key ones of
// migrations and of the projector.
const rebuildLockClass = 0x636c7262

// claimHeartbeat is how often a rebuild's claim checks that its session
// (and so its lock) is still there.
const claimHeartbeat = time.Second

// Rebuild is a rebuild's claim on the schema it fills: while it is held,
// DropAbandoned leaves the schema alone; once its session ends without a
// switch to the schema, the schema is abandoned.
type Rebuild struct {
	conn   *pgx.Conn // a session of its own, outside the pool
	name   string    // the deployment
	schema string
	lost   chan struct{}
	err    error // why the claim was lost, set before lost is closed
	stop   chan struct{}
	done   chan struct{}
}

// BeginRebuild claims schema, which must not exist yet, for a rebuild of
// deployment name: it takes the rebuild's lock on a session of its own
// (not one of the pool's), then notes the schema and the lock among the
// rebuilds, so that a rebuild whose process dies before it switches or
// cleans up is found and dropped (DropAbandoned). Stop the rebuild when
// Lost is closed: its schema may be dropped from then on. Release the
// claim when the rebuild has switched or dropped its schema.
func BeginRebuild(ctx context.Context, pool *pgxpool.Pool, name, schema string) (*Rebuild, error) {
	if err := ensureRegistry(ctx, pool); err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("claim rebuild schema: %w", err)
	}
	fail := func(err error) (*Rebuild, error) {
		conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the session and its lock end either way
		return nil, fmt.Errorf("claim rebuild schema %s: %w", schema, err)
	}
	// The session idles between heartbeats for as long as the rebuild
	// runs: a server-wide idle timeout must not end it (PostgreSQL 14+).
	conn.Exec(ctx, "SET idle_session_timeout = 0") //nolint:errcheck // older servers have no such timeout
	var id int32
	var got, exists bool
	if err := conn.QueryRow(ctx, `SELECT hashtext($1), pg_try_advisory_lock($2, hashtext($1)),
		EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, schema, int32(rebuildLockClass)).Scan(&id, &got, &exists); err != nil {
		return fail(err)
	}
	if exists {
		return fail(errors.New("the schema exists already"))
	}
	if !got {
		return fail(errors.New("another rebuild holds it (or one whose schema name hashes alike)"))
	}
	if _, err := conn.Exec(ctx, `INSERT INTO public.careerledger_rebuilds (name, schema, lock_id) VALUES ($1, $2, $3)`,
		name, schema, id); err != nil {
		return fail(err)
	}
	r := &Rebuild{conn: conn, name: name, schema: schema, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go r.watch()
	return r, nil
}

// Migrate makes the claimed schema and applies the migrations to it
// (Migrate), making the schema only while the claim is noted: a sweep that
// found the claim's session gone and ended the claim before the schema
// existed would otherwise leave a schema nobody claims.
func (r *Rebuild) Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate(ctx, pool, r.schema, r.held)
}

// errClaimEnded is held's error: the claim's row is gone.
var errClaimEnded = errors.New("its claim was ended (by a sweep that found the claim's session gone) before the schema was made")

// held locks the claim's row in tx, so that no sweep ends the claim before
// tx ends (dropIfAbandoned locks the row first), or fails if it is gone.
func (r *Rebuild) held(ctx context.Context, tx pgx.Tx) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM public.careerledger_rebuilds WHERE name = $1 AND schema = $2 FOR SHARE`,
		r.name, r.schema).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return errClaimEnded
	}
	return err
}

// watch closes lost when the claim's session is gone: a PostgreSQL
// restart, an administrator's pg_terminate_backend, a proxy closing an
// idle connection.
func (r *Rebuild) watch() {
	defer close(r.done)
	t := time.NewTicker(claimHeartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := r.conn.Ping(ctx)
			cancel()
			if err != nil {
				r.err = fmt.Errorf("the claim on schema %s was lost: its PostgreSQL session ended or did not answer within 5 s: %w", r.schema, err)
				close(r.lost)
				return
			}
		}
	}
}

// Lost is closed when the claim's session ended under a running rebuild:
// the schema is no longer protected, and the rebuild should stop. Never
// closed for a nil claim (the memory read model's rebuild).
func (r *Rebuild) Lost() <-chan struct{} {
	if r == nil {
		return nil
	}
	return r.lost
}

// Err says why the claim was lost, once Lost is closed; nil before.
func (r *Rebuild) Err() error {
	select {
	case <-r.Lost():
		return r.err
	default:
		return nil
	}
}

// Release gives the claim up at once (a sweep right after it sees the
// schema abandoned) and ends its session.
func (r *Rebuild) Release() {
	if r == nil || r.conn == nil {
		return
	}
	close(r.stop)
	<-r.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.conn.Exec(ctx, "SELECT pg_advisory_unlock_all()") //nolint:errcheck // the session's end releases it too
	r.conn.Close(ctx)                                   //nolint:errcheck // the session and its lock end either way
	r.conn = nil
}

// RebuildRunning reports whether a rebuild of deployment name holds its
// claim now, on any instance.
func RebuildRunning(ctx context.Context, pool *pgxpool.Pool, name string) (bool, error) {
	if err := ensureRegistry(ctx, pool); err != nil {
		return false, err
	}
	var running bool
	err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM public.careerledger_rebuilds r JOIN pg_locks l
		ON l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid::bigint = $2 AND l.objid::bigint = r.lock_id::bigint & 4294967295
		WHERE r.name = $1)`, name, int64(rebuildLockClass)).Scan(&running)
	return running, err
}

// DropAbandoned drops the schemas of deployment name's rebuilds that
// ended without a switch to them or a clean-up of their own: the process
// was killed, or lost its session. A rebuild still running holds its claim
// (BeginRebuild), and its schema is left alone; so is a schema a switch
// made active. It returns what it dropped; a schema it could not drop is
// left for the next call and named in the error.
func DropAbandoned(ctx context.Context, pool *pgxpool.Pool, name string) ([]string, error) {
	if err := ensureRegistry(ctx, pool); err != nil {
		return nil, err
	}
	return dropEach(ctx, pool, "abandoned rebuild schema", func(schema string) (bool, error) {
		return dropIfAbandoned(ctx, pool, name, schema)
	}, `SELECT schema FROM public.careerledger_rebuilds WHERE name = $1 ORDER BY started_at`, name)
}

// dropIfAbandoned drops schema if, with the deployment's registry row held
// (so no switch runs meanwhile), it is still claimed by a rebuild (a
// switch to it ends the claim in its own transaction), is not the active
// one, and its claim's lock is free: the rebuild's session is gone.
func dropIfAbandoned(ctx context.Context, pool *pgxpool.Pool, name, schema string) (bool, error) {
	dropped := false
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		active, err := lockActive(ctx, tx, name)
		if err != nil {
			return err
		}
		var id int32
		// FOR UPDATE: a rebuild making the schema holds the row until the
		// schema exists (Rebuild.Migrate), so the drop below sees it.
		err = tx.QueryRow(ctx, `SELECT lock_id FROM public.careerledger_rebuilds WHERE name = $1 AND schema = $2 FOR UPDATE`, name, schema).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // switched to, or cleaned up, since the list was read
		}
		if err != nil {
			return err
		}
		if active == schema { // made active without ending the claim (the pointer set by hand): no longer a rebuild
			_, err := tx.Exec(ctx, `DELETE FROM public.careerledger_rebuilds WHERE name = $1 AND schema = $2`, name, schema)
			return err
		}
		var free bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1, $2)", int32(rebuildLockClass), id).Scan(&free); err != nil {
			return err
		}
		if !free {
			return nil // still running
		}
		dropped = true
		return dropBriefly(ctx, tx, name, schema)
	})
	return dropped && err == nil, err
}
