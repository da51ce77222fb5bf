// Package postgres is the PostgreSQL read model (pgx): the production store
// for people (with their current standing), accomplishments, level periods
// and level changes, applied by the projector one transaction per batch
// together with the checkpoint.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
)

// DefaultSchema is the PostgreSQL schema that holds the read models.
const DefaultSchema = "careerledger"

const checkpointName = "read_models"

// Store is the PostgreSQL read model.
type Store struct {
	pool   *pgxpool.Pool
	cat    *domain.Catalogue
	schema string
	signal projections.PositionSignal
	// PollInterval is how often WaitFor re-reads the checkpoint when another
	// instance is projecting.
	PollInterval time.Duration
	// Logger receives the projector lock's complaints; nil = discard.
	Logger *slog.Logger
	// CopyAbove is the number of rows of one table from which a batch
	// copies them (COPY) instead of inserting them in its pipeline; 0 =
	// DefaultCopyAbove for a bulk batch and DefaultJudgedCopyAbove for a
	// judged one, negative = always insert.
	CopyAbove int
	// ReindexAbove, when positive, is the number of people from which a
	// batch that writes the first people of an empty read model drops the
	// secondary indexes of the tables it fills and builds them again once
	// its rows are in, in its transaction; 0 or negative = never. The drop
	// locks those tables against readers until the commit: set it only on
	// a read model nobody queries yet (a rebuild's new schema), for
	// instance to DefaultReindexAbove.
	ReindexAbove int
	// Deployment, when set, is the deployment (the registry row of
	// public.careerledger_read_models) whose active read model this store
	// serves: each batch then commits only while the registry still names
	// the store's schema, and fails with ErrNotActive once a switch moved
	// it, so a model switched away from never advances past what the
	// switch caught the new one up to. Set it on serving stores, not on a
	// rebuild's model before its switch.
	Deployment string

	sqls   sync.Map // template -> statement: see sql
	prober prober   // see acquire
}

// ErrNotActive is a batch's failure on a store whose deployment's registry
// no longer names its schema: another instance switched the read model.
var ErrNotActive = errors.New("the read model was switched away from this schema")

// queueActiveCheck queues, when the store serves a deployment, the check
// that the registry still names its schema. It takes the registry row in
// key-share mode: a switch (which holds the row for update) waits for a
// batch in flight, and a batch that comes after it sees the new schema.
// With the row it checks that the store may project into it: judged by
// the store's catalogue, or no instance of the catalogue that judged it
// running (ErrStandBy otherwise).
func (s *Store) queueActiveCheck(b *pgx.Batch) {
	if s.Deployment == "" {
		return
	}
	b.Queue(activeCheckSQL, s.Deployment, s.schema, s.cat.ID(), s.cat.Version(), Format).QueryRow(func(row pgx.Row) error {
		var n int
		var standBy bool
		if err := row.Scan(&n, &standBy); err != nil {
			return fmt.Errorf("read-model registry: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("%w %s (deployment %s)", ErrNotActive, s.schema, s.Deployment)
		}
		if standBy {
			return fmt.Errorf("%w (deployment %s)", ErrStandBy, s.Deployment)
		}
		return nil
	})
}

// activeCheckSQL is queueActiveCheck's statement: the rows of the registry
// naming deployment $1 with schema $2, and whether a store of catalogue
// ($3, $4) writing format $5 stands by for it. When the catalogues differ
// it asks for the presence lock of the read model's catalogue exclusively,
// for the transaction: refused while an instance of it runs; granted
// otherwise, and then held until the batch commits, so that an instance of
// that catalogue starting meanwhile waits for the batch to end before it is
// present, and the next batch stands by. When only the formats differ it
// asks so for the format presence of the read model's catalogue and format.
// (CASE, unlike AND, never takes a lock it does not need.)
var activeCheckSQL = `SELECT count(*), coalesce(bool_or(CASE WHEN a.catalogue_id = $3 AND a.catalogue_version = $4 THEN
		CASE WHEN a.format = $5 THEN false
		ELSE NOT pg_try_advisory_xact_lock(hashtext(` + fmt.Sprintf(formatPresenceText, "$1::text", "a.catalogue_id", "a.catalogue_version") + `), a.format) END
	ELSE NOT pg_try_advisory_xact_lock(hashtext(` + fmt.Sprintf(presenceText, "$1::text", "a.catalogue_id") + `), a.catalogue_version) END), false)
	FROM (SELECT catalogue_id, catalogue_version, format FROM public.careerledger_read_models WHERE name = $1 AND schema = $2 FOR KEY SHARE) a`

// RunExclusive runs fn while this process holds the projector lock of the
// store's read model: its Deployment, or its schema when it serves none
// (see the package function RunExclusive).
func (s *Store) RunExclusive(ctx context.Context, retry time.Duration, fn func(ctx context.Context) error) error {
	name := s.Deployment
	if name == "" {
		name = s.schema
	}
	return RunExclusive(ctx, s.pool, name, s.Logger, retry, fn)
}

// New returns a store on pool using schema ("" = DefaultSchema). The schema
// must have been migrated (Migrate).
func New(pool *pgxpool.Pool, cat *domain.Catalogue, schema string) *Store {
	if schema == "" {
		schema = DefaultSchema
	}
	return &Store{pool: pool, cat: cat, schema: schema, PollInterval: 10 * time.Millisecond,
		prober: prober{cfg: pool.Config().ConnConfig.Config.Copy()}}
}

// Schema returns the PostgreSQL schema the store reads and writes.
func (s *Store) Schema() string { return s.schema }

// q qualifies the {s}. placeholders in a statement with the store's schema.
func (s *Store) q(sql string) string {
	return strings.ReplaceAll(sql, "{s}", pgx.Identifier{s.schema}.Sanitize())
}

// Checkpoint returns the position of the last applied event.
func (s *Store) Checkpoint(ctx context.Context) (uint64, error) {
	pos, err := read(ctx, s, func(q querier) (int64, error) {
		var pos int64
		err := q.QueryRow(ctx, s.q(`SELECT position FROM {s}.projection_checkpoint WHERE name = $1`), checkpointName).Scan(&pos)
		return pos, err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	return uint64(pos), nil
}

// Readable returns the position up to which every person's rows are
// written: the checkpoint, or where a bulk catch-up started deferring them.
func (s *Store) Readable(ctx context.Context) (uint64, error) {
	pos, err := read(ctx, s, func(q querier) (int64, error) {
		var pos int64
		err := q.QueryRow(ctx, s.q(`SELECT coalesce(people_from, position) FROM {s}.projection_checkpoint WHERE name = $1`),
			checkpointName).Scan(&pos)
		return pos, err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("readable position: %w", err)
	}
	return uint64(pos), nil
}

// Behind returns the people with events stored by ApplyEvents and not
// written since.
func (s *Store) Behind(ctx context.Context) ([]string, error) {
	return read(ctx, s, func(q querier) ([]string, error) { return s.behind(ctx, q) })
}

func (s *Store) behind(ctx context.Context, q querier) ([]string, error) {
	var from *int64
	err := q.QueryRow(ctx, s.q(`SELECT people_from FROM {s}.projection_checkpoint WHERE name = $1`), checkpointName).Scan(&from)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && from == nil {
		return nil, nil // nobody deferred: the common case costs one row
	}
	if err != nil {
		return nil, fmt.Errorf("people behind: %w", err)
	}
	rows, err := q.Query(ctx, s.q(`SELECT DISTINCT person_id FROM {s}.person_events WHERE position > $1 ORDER BY 1`), *from)
	if err != nil {
		return nil, fmt.Errorf("people behind: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("people behind: %w", err)
	}
	return ids, nil
}

// WaitFor blocks until position has been applied (by this process or any
// other projecting into the same database) or ctx is done.
func (s *Store) WaitFor(ctx context.Context, position uint64) error {
	for {
		if s.signal.Position() >= position {
			return nil
		}
		cp, err := s.Readable(ctx)
		if err != nil {
			return err
		}
		if cp >= position {
			s.signal.Advance(cp)
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, s.PollInterval)
		err = s.signal.Wait(wctx, position)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// PersonEvents returns the stored events of the given people, in order.
func (s *Store) PersonEvents(ctx context.Context, ids []string) (map[string][]events.Recorded, error) {
	return read(ctx, s, func(q querier) (map[string][]events.Recorded, error) { return s.personEvents(ctx, q, ids) })
}

func (s *Store) personEvents(ctx context.Context, q querier, ids []string) (map[string][]events.Recorded, error) {
	ids = storableIDs(ids)
	rows, err := q.Query(ctx, s.q(`SELECT position, person_id, type, version, recorded_at, idempotency_key, recorded_by, body
		FROM {s}.person_events WHERE person_id = ANY($1) ORDER BY person_id, position`), ids)
	if err != nil {
		return nil, fmt.Errorf("person events: %w", err)
	}
	out := make(map[string][]events.Recorded, len(ids))
	var r events.Recorded
	var pos int64
	var body []byte
	_, err = pgx.ForEachRow(rows, []any{&pos, &r.PersonID, &r.Type, &r.Version, &r.RecordedAt, &r.IdempotencyKey, &r.RecordedBy, &body}, func() error {
		ev, err := events.Decode(r.Type, r.Version, body)
		if err != nil {
			return fmt.Errorf("event %d: %w", pos, err)
		}
		rec := r
		rec.Position = uint64(pos)
		rec.Event = ev
		out[r.PersonID] = append(out[r.PersonID], rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("person events: %w", err)
	}
	return out, nil
}

// FirstRecordedAt returns when each of ids' first stored event was
// recorded (people with none are left out): one probe of the index on
// (person_id, position) per person, however many events each has.
func (s *Store) FirstRecordedAt(ctx context.Context, ids []string) (map[string]time.Time, error) {
	return read(ctx, s, func(q querier) (map[string]time.Time, error) {
		ids := storableIDs(ids)
		rows, err := q.Query(ctx, s.q(`SELECT i.id, e.recorded_at FROM unnest($1::text[]) AS i(id)
			CROSS JOIN LATERAL (SELECT recorded_at FROM {s}.person_events
				WHERE person_id = i.id ORDER BY position LIMIT 1) e`), ids)
		if err != nil {
			return nil, fmt.Errorf("first recorded at: %w", err)
		}
		out := make(map[string]time.Time, len(ids))
		var id string
		var at time.Time
		_, err = pgx.ForEachRow(rows, []any{&id, &at}, func() error {
			out[id] = at
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("first recorded at: %w", err)
		}
		return out, nil
	})
}

// LastEventUpTo returns the stored event at the highest position at or
// below pos, its Event left undecoded (nil), and false when the store
// holds none there: what a start compares with the log's event at that
// position, to tell a read model of this log from one of another.
func (s *Store) LastEventUpTo(ctx context.Context, pos uint64) (events.Recorded, bool, error) {
	r, err := read(ctx, s, func(q querier) (events.Recorded, error) {
		var r events.Recorded
		var at int64
		err := q.QueryRow(ctx, s.q(`SELECT position, person_id, type, version, recorded_at, idempotency_key
			FROM {s}.person_events WHERE position <= $1 ORDER BY position DESC LIMIT 1`), int64(pos)).
			Scan(&at, &r.PersonID, &r.Type, &r.Version, &r.RecordedAt, &r.IdempotencyKey)
		r.Position = uint64(at)
		return r, err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return events.Recorded{}, false, nil
	}
	if err != nil {
		return events.Recorded{}, false, fmt.Errorf("the last stored event up to position %d: %w", pos, err)
	}
	return r, true, nil
}

// Apply stores a projected batch and advances the checkpoint in one
// transaction. Events at or below the committed checkpoint are skipped, so
// replaying a batch after a crash changes nothing. An empty batch at the
// checkpoint writes people only.
func (s *Store) Apply(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection) error {
	return s.ApplyDerived(ctx, position, batch, people, nil)
}

// ApplyDerived is Apply that also keeps the level changes the batch
// revealed with the checkpoint (projections.DerivedKeeper).
func (s *Store) ApplyDerived(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection, derived []projections.LevelChanged) error {
	var kept []byte // NULL: nothing to publish again
	if len(derived) > 0 {
		var err error
		if kept, err = encodeDerived(position, derived); err != nil {
			return err
		}
	}
	err := s.inBatch(ctx, position, batch, false, func(w *writes) error {
		var rebuilt []index
		if n := s.ReindexAbove; n > 0 && len(people) >= n {
			var err error
			if rebuilt, err = s.indexesToRebuild(ctx, w); err != nil {
				return err
			}
		}
		for _, ix := range rebuilt {
			w.queue("DROP INDEX " + pgx.Identifier{s.schema, ix.name}.Sanitize())
		}
		if err := s.replacePeople(ctx, w, people); err != nil {
			return err
		}
		for _, ix := range rebuilt {
			w.queue(ix.def)
		}
		w.queue(s.q(`UPDATE {s}.projection_checkpoint SET position = $2, people_from = NULL, last_derived = $3::jsonb,
			updated_at = now() WHERE name = $1`), checkpointName, int64(position), kept)
		return nil
	})
	if err != nil {
		return err
	}
	s.signal.Advance(position)
	return nil
}

// LastDerived returns the level changes kept with the batch that ends at
// the checkpoint (projections.DerivedKeeper).
func (s *Store) LastDerived(ctx context.Context) ([]projections.LevelChanged, error) {
	type row struct {
		position int64
		kept     []byte
	}
	r, err := read(ctx, s, func(q querier) (row, error) {
		var r row
		err := q.QueryRow(ctx, s.q(`SELECT position, last_derived FROM {s}.projection_checkpoint WHERE name = $1`),
			checkpointName).Scan(&r.position, &r.kept)
		return r, err
	})
	position, kept := r.position, r.kept
	if errors.Is(err, pgx.ErrNoRows) || err == nil && kept == nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("last level changes: %w", err)
	}
	at, changes, err := decodeDerived(kept)
	if err != nil {
		return nil, err
	}
	if at != uint64(position) {
		return nil, nil // left by a release that does not keep them
	}
	return changes, nil
}

// Published forgets the changes kept with the batch ending at position if
// they are still the kept ones (projections.DerivedKeeper).
func (s *Store) Published(ctx context.Context, position uint64) error {
	_, err := s.pool.Exec(ctx, s.q(`UPDATE {s}.projection_checkpoint SET last_derived = NULL
		WHERE name = $1 AND position = $2 AND last_derived IS NOT NULL`), checkpointName, int64(position))
	if err != nil {
		return fmt.Errorf("mark the level changes at %d published: %w", position, err)
	}
	return nil
}

// keptDerived is the stored form of the level changes of a batch: version
// 1 holds projections.LevelChangedV1 bodies (written before withdrawals),
// version 2 projections.LevelChangedV2 ones. A batch's changes are kept
// in the oldest version that holds them all (1 unless one is withdrawn),
// so that a release that reads only version 1 reads what holds no
// withdrawal; this release reads both.
type keptDerived struct {
	Version  int               `json:"version"`
	Position uint64            `json:"position"`
	Changes  []json.RawMessage `json:"changes"`
}

func encodeDerived(position uint64, derived []projections.LevelChanged) ([]byte, error) {
	k := keptDerived{Version: 1, Position: position, Changes: make([]json.RawMessage, len(derived))}
	for _, c := range derived {
		k.Version = max(k.Version, projections.VersionFor(c))
	}
	for i, c := range derived {
		b, err := projections.EncodeLevelChanged(k.Version, c)
		if err != nil {
			return nil, fmt.Errorf("encode the level changes of the batch ending at %d: %w", position, err)
		}
		k.Changes[i] = b
	}
	b, err := json.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("encode the level changes of the batch ending at %d: %w", position, err)
	}
	return b, nil
}

// decodeDerived reads a kept value of any version this release knows,
// version 1 upcast (its changes are announcements).
func decodeDerived(b []byte) (position uint64, changes []projections.LevelChanged, err error) {
	var k keptDerived
	if err := json.Unmarshal(b, &k); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", projections.ErrDerivedUnreadable, err)
	}
	if k.Version < 1 || k.Version > projections.LevelChangedVersion {
		return 0, nil, fmt.Errorf("%w: version %d is unknown", projections.ErrDerivedUnreadable, k.Version)
	}
	changes = make([]projections.LevelChanged, len(k.Changes))
	for i, body := range k.Changes {
		if changes[i], err = projections.DecodeLevelChanged(k.Version, body); err != nil {
			return 0, nil, fmt.Errorf("%w: change %d: %w", projections.ErrDerivedUnreadable, i, err)
		}
	}
	return k.Position, changes, nil
}

// ApplyEvents stores a batch's events and advances the checkpoint in one
// transaction, leaving the people they touch to a later Apply; people_from
// keeps where that started. A bulk batch reveals no level change, but the
// changes kept with the checkpoint it moves may not have reached the
// notifier yet (published again at the start, still waiting for NATS):
// they stay kept, moved to the new position, until a batch that keeps its
// own replaces them or a stop marks them published. (A value left by a
// release that does not keep them, of another position, is dropped.)
func (s *Store) ApplyEvents(ctx context.Context, position uint64, batch []events.Recorded) error {
	return s.inBatch(ctx, position, batch, true, func(w *writes) error {
		w.queue(s.q(`UPDATE {s}.projection_checkpoint SET people_from = coalesce(people_from, position),
				position = $2, updated_at = now(),
				last_derived = CASE WHEN jsonb_typeof(last_derived) = 'object' AND last_derived->'position' = to_jsonb(position)
					THEN jsonb_set(last_derived, '{position}', to_jsonb($2::bigint)) END
			WHERE name = $1`), checkpointName, int64(position))
		return nil
	})
}

// inBatch runs the transaction of a batch ending at position: it locks the
// checkpoint, skips a batch already applied, refuses one that does not
// follow the checkpoint, writes the new events, then what rest queues.
//
// A live batch is small and its statements are many (a dozen tables and
// deletes): each one waiting for its answer costs a round trip, and a
// round trip (system calls and wake-ups on both sides) costs more than the
// statement on a busy machine, and is where a busy machine makes a batch
// wait. So a batch that follows the checkpoint (nearly all) takes two
// round trips (followingBatch): one pipeline of BEGIN, a guarded lock of
// the checkpoint and every write, then COMMIT. Any other goes through
// lockedBatch, which locks the checkpoint first and then decides: three.
// Large row sets (a rebuild's) are copied in between (writes.insert).
func (s *Store) inBatch(ctx context.Context, position uint64, batch []events.Recorded, deferring bool, rest func(w *writes) error) error {
	follows := position // the checkpoint this batch follows
	if len(batch) > 0 {
		follows = batch[0].Position - 1
	}
	done, err := s.followingBatch(ctx, follows, batch, deferring, rest)
	if err != nil || done {
		return err
	}
	return s.lockedBatch(ctx, position, batch, deferring, rest)
}

// errNotFollowing is the guard of followingBatch failing: the checkpoint
// is not where the batch follows.
var errNotFollowing = errors.New("the checkpoint is not where the batch follows")

// followingBatch is the common case of inBatch in two round trips: one
// pipeline begins, locks the checkpoint only if the batch follows it (a
// guard that fails otherwise, which aborts everything queued after it) and
// writes; then COMMIT. done is false when the checkpoint was elsewhere:
// nothing was written, and lockedBatch decides.
func (s *Store) followingBatch(ctx context.Context, follows uint64, batch []events.Recorded, deferring bool, rest func(w *writes) error) (done bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("apply: %w", err)
	}
	defer conn.Release()
	defer func() {
		if err != nil || !done {
			rollback(ctx, conn)
		}
	}()
	w := &writes{conn: conn, schema: s.schema, copyAbove: s.copyAbove(deferring)}
	w.queue(begin)
	w.queue(setLocals)
	s.queueActiveCheck(&w.b)
	w.queue(s.q(`SELECT 1 / count(*) FROM (SELECT FROM {s}.projection_checkpoint WHERE name = $1 AND position = $2 FOR UPDATE) c`),
		checkpointName, int64(follows)).Fn = func(br pgx.BatchResults) error {
		var pgErr *pgconn.PgError
		// 22012 division_by_zero: the guard found no checkpoint to follow.
		if _, err := br.Exec(); errors.As(err, &pgErr) && pgErr.Code == "22012" {
			return errNotFollowing
		} else if err != nil {
			return fmt.Errorf("lock checkpoint: %w", err)
		}
		return nil
	}
	if len(batch) > 0 {
		if err := s.writeEvents(ctx, w, batch, follows); err != nil {
			return notFollowing(err)
		}
	}
	if err := rest(w); err != nil {
		return notFollowing(err)
	}
	if err := w.flush(ctx); err != nil {
		return notFollowing(err)
	}
	// COMMIT goes on its own, after the writes have answered: queued with
	// them it would reach the server even if this run were stopped while
	// they ran, and commit after the run had returned, under the next one.
	if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	return true, nil
}

// notFollowing turns the guard's failure into done == false.
func notFollowing(err error) (bool, error) {
	if errors.Is(err, errNotFollowing) {
		return false, nil
	}
	return false, err
}

// begin starts a batch transaction. Read committed, PostgreSQL's default,
// named so that a server or role defaulting to another level does not
// change it: each statement of a batch must see what committed before it
// (the head batch reads the index definitions after locking their tables,
// not as they were when the transaction began).
const begin = "BEGIN ISOLATION LEVEL READ COMMITTED"

// setLocals are the settings of a batch transaction.
//
// Every statement of a batch finds its rows by key. While a rebuild fills
// tables from empty, the planner has no statistics yet and would scan them
// whole, once per batch: forbid that. With scans priced out, a plan's cost
// can pass the JIT threshold and compile for a statement that touches a
// few rows: no JIT.
//
// The statements are the same every batch, their row counts small and
// their keys unique: the generic plan is the plan, so PostgreSQL need not
// plan each execution again to compare (it did, for the unnest joins).
//
// The commit need not wait for its WAL flush: the log is the durable
// record, and the checkpoint commits with the batch, so a database crash
// that loses the last commits loses them whole and the projector applies
// them again.
const setLocals = `SELECT set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true),
	set_config('plan_cache_mode', 'force_generic_plan', true), set_config('synchronous_commit', 'off', true)`

// rollback ends whatever transaction conn is in; a connection it cannot
// roll back is closed (which rolls back), and Release discards it.
func rollback(ctx context.Context, conn *pgxpool.Conn) {
	if conn.Conn().IsClosed() || conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(rctx, "ROLLBACK"); err != nil {
		conn.Conn().Close(rctx) //nolint:errcheck // closing rolls back
	}
}

// lockedBatch is inBatch when the checkpoint is not where the batch
// follows, or the row is missing: it locks the checkpoint whatever its
// position and decides.
func (s *Store) lockedBatch(ctx context.Context, position uint64, batch []events.Recorded, deferring bool, rest func(w *writes) error) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	defer conn.Release()
	defer func() { rollback(ctx, conn) }() // after a COMMIT: nothing to do
	var current int64
	var peopleFrom *int64
	lock := &pgx.Batch{}
	lock.Queue(begin)
	lock.Queue(setLocals)
	s.queueActiveCheck(lock)
	lock.Queue(s.q(`INSERT INTO {s}.projection_checkpoint (name, position) VALUES ($1, 0)
		ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING position, people_from`), checkpointName).
		QueryRow(func(row pgx.Row) error { return row.Scan(&current, &peopleFrom) })
	if err := conn.SendBatch(ctx, lock).Close(); err != nil {
		return fmt.Errorf("lock checkpoint: %w", err)
	}
	if uint64(current) > position || uint64(current) == position && len(batch) > 0 {
		if deferring || peopleFrom != nil || len(batch) == 0 {
			return fmt.Errorf("%w: checkpoint %d with people behind, batch ends at %d", projections.ErrCheckpointMoved, current, position)
		}
		return nil // already applied (a replay after a crash, or a rival projector)
	}
	if uint64(current) < position && len(batch) == 0 || len(batch) > 0 && batch[0].Position != uint64(current)+1 {
		// The log has no gaps, so a batch that does not start right after
		// the checkpoint was folded from a stale view: another projector
		// moved the checkpoint. Refuse it; the projector restarts from the
		// committed checkpoint.
		start := position
		if len(batch) > 0 {
			start = batch[0].Position
		}
		return fmt.Errorf("%w: checkpoint %d, batch starts at %d", projections.ErrCheckpointMoved, current, start)
	}
	w := &writes{conn: conn, schema: s.schema, copyAbove: s.copyAbove(deferring)}
	if len(batch) > 0 {
		if err := s.writeEvents(ctx, w, batch, uint64(current)); err != nil {
			return err
		}
	}
	if err := rest(w); err != nil {
		return err
	}
	if err := w.flush(ctx); err != nil {
		return err
	}
	// COMMIT goes on its own, after the writes have answered: queued with
	// them it would reach the server even if this run were stopped while
	// they ran, and commit after the run had returned, under the next one.
	if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// DefaultCopyAbove is the number of rows from which a bulk batch (a
// catch-up storing events, their people judged later) copies a table's new
// rows (COPY) rather than inserting them in the batch's pipeline.
const DefaultCopyAbove = 500

// DefaultJudgedCopyAbove is the same for a judged batch: the live path,
// where latency counts, a backlog, and the people a catch-up judges at
// once. Each COPY waits for what is queued before it and takes two round
// trips of its own, which a live batch of a few hundred events paid in
// lag; from 2,000 rows of a table (more than careerd's live batches of at
// most 1,000 events usually write to one) COPY is the cheaper way.
const DefaultJudgedCopyAbove = 2000

// DefaultReindexAbove is the ReindexAbove of a rebuild's new read model:
// from 10,000 people, the batch writing the first people (the head of the
// bulk catch-up, where every person is written at once) builds the
// secondary indexes of the tables it fills after its rows are in, rather
// than keeping them up to date row by row: on the rows of 20,000 people,
// 1.8 s against 3.0 s of PostgreSQL's time.
const DefaultReindexAbove = 10_000

// reindexTables are the tables a batch fills with people's rows.
var reindexTables = []string{"memberships", "accomplishments", "level_periods", "level_changes", "distribution_periods"}

// index is a secondary index: its name and its definition.
type index struct{ name, def string }

// indexesToRebuild returns the non-unique indexes of reindexTables that back
// no constraint, when the read model holds nobody yet, and none otherwise.
// It runs in the batch's transaction, after what w queued (the checkpoint's
// lock among it): nobody else writes people meanwhile. It locks the tables
// before reading their indexes' definitions (the drops lock most of them
// anyway), so a definition changed by someone else in the meantime is the
// one built again.
func (s *Store) indexesToRebuild(ctx context.Context, w *writes) ([]index, error) {
	if err := w.flush(ctx); err != nil {
		return nil, err
	}
	var empty bool
	if err := w.conn.QueryRow(ctx, s.q(`SELECT NOT EXISTS (SELECT FROM {s}.people)`)).Scan(&empty); err != nil {
		return nil, fmt.Errorf("is the read model empty: %w", err)
	}
	if !empty {
		return nil, nil
	}
	tables := make([]string, len(reindexTables))
	for i, t := range reindexTables {
		tables[i] = pgx.Identifier{s.schema, t}.Sanitize()
	}
	if _, err := w.conn.Exec(ctx, "LOCK TABLE "+strings.Join(tables, ", ")+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return nil, fmt.Errorf("lock the tables whose indexes are built after their rows: %w", err)
	}
	rows, err := w.conn.Query(ctx, `SELECT ic.relname, pg_get_indexdef(i.indexrelid)
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = $1 AND t.relname = ANY($2) AND NOT i.indisunique
		AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY ic.relname`, s.schema, reindexTables)
	if err != nil {
		return nil, fmt.Errorf("secondary indexes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var ix index
		err := r.Scan(&ix.name, &ix.def)
		return ix, err
	})
	if err != nil {
		return nil, fmt.Errorf("secondary indexes: %w", err)
	}
	return out, nil
}

func (s *Store) copyAbove(deferring bool) int {
	switch {
	case s.CopyAbove < 0:
		return 0
	case s.CopyAbove > 0:
		return s.CopyAbove
	case deferring:
		return DefaultCopyAbove
	}
	return DefaultJudgedCopyAbove
}

// writes collects a batch transaction's statements and sends them as one
// pipeline; an insert of many rows is a COPY, sent after what is queued
// before it so that the statements still run in order.
type writes struct {
	conn      *pgxpool.Conn
	schema    string
	copyAbove int
	b         pgx.Batch
	// zeroDeltas are the distribution deltas a flushed statement brought to
	// 0; the flush deletes them (deleteZeroDelta) before it returns.
	zeroDeltas      []deltaKey
	deleteZeroDelta string
}

// queue adds a statement to the pipeline; it runs, in order, at the next
// flush. Its error names the statement and the table it writes.
func (w *writes) queue(sql string, args ...any) *pgx.QueuedQuery {
	q := w.b.Queue(sql, args...)
	q.Fn = func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("%s: %w", statementName(sql), err)
		}
		return nil
	}
	return q
}

// statementName is a statement's verb and the table it writes, for error
// messages.
func statementName(sql string) string {
	f := strings.Fields(sql)
	for i, t := range f {
		switch strings.ToUpper(t) {
		case "INTO", "FROM", "UPDATE":
			if i+1 < len(f) {
				return f[0] + " " + f[i+1]
			}
		}
	}
	return f[0]
}

// flush sends the queued statements and waits for all of them, then
// deletes the distribution deltas they brought to 0.
func (w *writes) flush(ctx context.Context) error {
	for w.b.Len() > 0 {
		err := w.conn.SendBatch(ctx, &w.b).Close()
		w.b = pgx.Batch{}
		if err != nil {
			return err
		}
		for _, k := range w.zeroDeltas {
			w.queue(w.deleteZeroDelta, k.field, k.bucket.Time(), k.department, int32(k.level))
		}
		w.zeroDeltas = nil
	}
	return nil
}

// column is a column of a table and its SQL type, for unnest.
type column struct{ name, typ string }

// insert writes rows (values in columns order) into table: queued as one
// INSERT of unnested column arrays, or, from copyAbove rows on, copied
// after sending what is queued.
func (w *writes) insert(ctx context.Context, table string, cols []column, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if w.copies(len(rows)) {
		return w.copy(ctx, table, cols, pgx.CopyFromRows(rows))
	}
	w.queue(insertSQL(w.schema, table, cols), unnestColumns(len(rows), len(cols), func(r, c int) any { return rows[r][c] })...)
	return nil
}

// insertRows is insert of the rows of a rowBuf.
func (w *writes) insertRows(ctx context.Context, table string, cols []column, rows *rowBuf) error {
	n := rows.len()
	if n == 0 {
		return nil
	}
	if w.copies(n) {
		return w.copy(ctx, table, cols, pgx.CopyFromSlice(n, func(i int) ([]any, error) { return rows.row(i), nil }))
	}
	w.queue(insertSQL(w.schema, table, cols), unnestColumns(n, len(cols), func(r, c int) any { return rows.vals[r*len(cols)+c] })...)
	return nil
}

// copies reports whether n rows of a table are copied rather than inserted.
func (w *writes) copies(n int) bool { return w.copyAbove > 0 && n >= w.copyAbove }

// copy sends what is queued, then copies the rows of src into table.
func (w *writes) copy(ctx context.Context, table string, cols []column, src pgx.CopyFromSource) error {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	if err := w.flush(ctx); err != nil {
		return err
	}
	if _, err := w.conn.CopyFrom(ctx, pgx.Identifier{w.schema, table}, names, src); err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	return nil
}

// insertSQLs caches the INSERT ... SELECT FROM unnest statement of each
// schema and table.
var insertSQLs sync.Map // schema + "." + table -> string

func insertSQL(schema, table string, cols []column) string {
	key := schema + "." + table
	if sql, ok := insertSQLs.Load(key); ok {
		return sql.(string)
	}
	names := make([]string, len(cols))
	params := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
		params[i] = fmt.Sprintf("$%d::%s[]", i+1, c.typ)
	}
	sql := fmt.Sprintf("INSERT INTO %s (%s) SELECT * FROM unnest(%s)", pgx.Identifier{schema, table}.Sanitize(),
		strings.Join(names, ", "), strings.Join(params, ", "))
	insertSQLs.Store(key, sql)
	return sql
}

// eventColumns are the columns of person_events a batch writes.
var eventColumns = []column{{"position", "bigint"}, {"person_id", "text"}, {"type", "text"}, {"version", "int"},
	{"recorded_at", "timestamptz"}, {"idempotency_key", "text"}, {"recorded_by", "text"}, {"body", "json"}}

func (s *Store) writeEvents(ctx context.Context, w *writes, batch []events.Recorded, after uint64) error {
	rows := make([][]any, 0, len(batch))
	for _, r := range batch {
		if r.Position <= after {
			continue
		}
		// Stored at the current schema version: upcast once, read fast.
		typ, version, body, err := events.Encode(r.Event)
		if err != nil {
			return fmt.Errorf("encode event %d: %w", r.Position, err)
		}
		rows = append(rows, []any{int64(r.Position), r.PersonID, typ, int32(version), r.RecordedAt, r.IdempotencyKey, r.RecordedBy, body})
	}
	return w.insert(ctx, "person_events", eventColumns, rows)
}

// replacePeople writes what changed of each person: a new person whole;
// for a known one, the people row (which carries the standing), and only the
// memberships, accomplishments and level rows its Delta names. Rows are
// deleted and copied in set-based statements, a handful per batch
// whatever its size. The distribution deltas are adjusted by the difference
// between the distribution periods deleted and those copied.
func (s *Store) replacePeople(ctx context.Context, w *writes, people []projections.PersonProjection) error {
	if len(people) == 0 {
		return nil
	}
	// known: stored people whose standing changed (a person's name never
	// does, and their latest position is read from their events).
	var known, memberIDs, levelIDs, accIDs, distIDs, wholeIDs []string
	// gone: rows of a known prior projection that are no longer projected.
	var gone rowKeys
	// knownDocs holds the standings of known people one after the other,
	// knownEnds where each ends; freshDocs those of the others.
	var knownDocs, freshDocs []byte
	var knownEnds []int
	// Sized for the batch: a live batch's people have one accomplishment
	// each; the people written whole (a rebuild's head batch holds every
	// person of the log) have all their rows counted, since growing
	// buffers of millions of values copies them again and again (a
	// quarter of a rebuild of a million events).
	n := len(people)
	var nPersons, nMembers, nAccs, nPeriods, nChanges int
	for i := range people {
		if pp := &people[i]; pp.Delta.New || pp.Delta.Whole {
			nPersons++
			nMembers += len(pp.Person.Memberships)
			nAccs += len(pp.Accomplishments)
			nPeriods += len(pp.Periods)
			nChanges += len(pp.Changes)
		}
	}
	persons, members := newRowBuf(len(tableColumns["people"]), nPersons), newRowBuf(len(tableColumns["memberships"]), nMembers)
	accs := newRowBuf(len(tableColumns["accomplishments"]), max(n, nAccs))
	periods, changes := newRowBuf(len(tableColumns["level_periods"]), nPeriods), newRowBuf(len(tableColumns["level_changes"]), nChanges)
	// Each field has distribution periods over every membership, level 0
	// included; a level period splits at each change of department.
	nDists := nPeriods + len(s.cat.Fields())*nMembers
	dists := newRowBuf(len(tableColumns["distribution_periods"]), nDists)
	// What the batch changes in distribution_deltas: up to two changes for
	// each distribution period.
	deltas := distributionDeltas{changes: make([]deltaChange, 0, 2*nDists)}
	freshDocs = make([]byte, 0, 192*nPersons) // a standing is 100-200 bytes
	catID, catVersion := s.cat.ID(), s.cat.Version()
	fields := s.cat.Fields()
	names := newFieldNames(fields)
	for i := range people {
		pp := &people[i]
		p := &pp.Person
		d := &pp.Delta
		pid := any(p.ID) // boxed once for all the person's rows
		// A person the store may hold any rows of is deleted (with every row
		// that refers to it) and written as new.
		fresh := d.New || d.Whole
		if d.Whole {
			wholeIDs = append(wholeIDs, p.ID)
		}
		switch {
		case fresh:
			start := len(freshDocs)
			freshDocs = appendStanding(freshDocs, pp.Standing)
			// Capped: appending to freshDocs never writes into it.
			standing := freshDocs[start:len(freshDocs):len(freshDocs)]
			persons.add(pid, p.Name, pgDate(p.JoinedOn), catID, catVersion, standing)
		case d.Standing:
			known = append(known, p.ID)
			knownDocs = appendStanding(knownDocs, pp.Standing)
			knownEnds = append(knownEnds, len(knownDocs))
		}
		if fresh || d.Memberships {
			if !fresh {
				memberIDs = append(memberIDs, p.ID)
			}
			for _, m := range p.Memberships {
				members.add(pid, m.Department, pgDate(m.From), nullDate(m.To))
			}
		}
		if fresh {
			for i := range pp.Accomplishments {
				addAccomplishment(&accs, pid, &pp.Accomplishments[i])
			}
		} else {
			// Only the accomplishments the Delta names, found from the end:
			// the views of a person with a long history are not walked for
			// the one or two a batch usually adds.
			for _, id := range d.Accomplishments {
				if _, added := slices.BinarySearch(d.Added, id); !added { // a row to replace
					accIDs = append(accIDs, id)
				}
				for i := len(pp.Accomplishments) - 1; i >= 0; i-- {
					if a := &pp.Accomplishments[i]; a.ID == id {
						addAccomplishment(&accs, pid, a)
						break
					}
				}
			}
		}
		// With the prior projection known, only the level periods, changes
		// and distribution periods that differ are deleted and written, and
		// the deltas take the difference; otherwise the person's rows are
		// replaced and the deleted periods come back to be subtracted.
		prior := pp.Prior
		if fresh {
			prior = nil
		}
		if fresh || d.Memberships || d.Levels {
			now := projections.DistributionPeriodsOf(fields, p.Memberships, pp.Periods)
			var was []projections.DistributionPeriod
			switch {
			case prior != nil:
				was = projections.DistributionPeriodsOf(fields, prior.Memberships, prior.Periods)
			case !d.New:
				distIDs = append(distIDs, p.ID)
			}
			removed, added := diff(was, now)
			for _, dp := range removed {
				gone.dists = append(gone.dists, rowKey{p.ID, string(dp.Field), dp.From})
				deltas.addPeriod(dp, -1)
			}
			for _, dp := range added {
				dists.add(pid, names.of(dp.Field), dp.Department, dp.Level, dateRange(dp.From, dp.To))
				deltas.addPeriod(dp, +1)
			}
		}
		if fresh || d.Levels {
			var wasPeriods []domain.LevelPeriod
			var wasChanges []domain.LevelChange
			if prior != nil {
				wasPeriods, wasChanges = prior.Periods, prior.Changes
			} else if !fresh {
				levelIDs = append(levelIDs, p.ID)
			}
			removed, added := diff(wasPeriods, pp.Periods)
			for _, lp := range removed {
				gone.periods = append(gone.periods, rowKey{p.ID, string(lp.Field), lp.From})
			}
			for _, lp := range added {
				periods.add(pid, names.of(lp.Field), lp.Level, pgDate(lp.From), nullDate(lp.To))
			}
			removedChanges, addedChanges := diff(wasChanges, pp.Changes)
			for _, c := range removedChanges {
				gone.changes = append(gone.changes, rowKey{p.ID, string(c.Field), c.On})
			}
			for _, c := range addedChanges {
				changes.add(pid, names.of(c.Field), pgDate(c.On), c.From, c.To)
			}
		}
	}
	{ // what changed of people already stored, in one pipeline with the rest
		if len(known) > 0 {
			// One string holds every document: one allocation, not one each.
			all := string(knownDocs)
			knownStandings := make([]string, len(known))
			start := 0
			for i, end := range knownEnds {
				knownStandings[i], start = all[start:end], end
			}
			w.queue(s.sql(sqlUpdateStandings), known, knownStandings, catID, catVersion)
		}
		if len(memberIDs) > 0 {
			w.queue(s.sql(`DELETE FROM {s}.memberships WHERE person_id = ANY($1)`), memberIDs)
		}
		if len(accIDs) > 0 {
			w.queue(s.sql(`DELETE FROM {s}.accomplishments WHERE id = ANY($1)`), accIDs)
		}
		if len(levelIDs) > 0 {
			w.queue(s.sql(`DELETE FROM {s}.level_periods WHERE person_id = ANY($1)`), levelIDs)
			w.queue(s.sql(`DELETE FROM {s}.level_changes WHERE person_id = ANY($1)`), levelIDs)
		}
		if len(distIDs) > 0 {
			// The periods a person had leave the distribution: they come back
			// to be subtracted from the deltas.
			w.queue(s.sql(`DELETE FROM {s}.distribution_periods WHERE person_id = ANY($1)
				RETURNING field, department, level, lower(valid), upper(valid)`), distIDs).Query(func(rows pgx.Rows) error {
				var dp projections.DistributionPeriod
				var field string
				var from time.Time
				var to *time.Time // NULL: open
				_, err := pgx.ForEachRow(rows, []any{&field, &dp.Department, &dp.Level, &from, &to}, func() error {
					dp.Field, dp.From, dp.To = domain.Field(field), domain.DateOf(from), dateOf(to)
					deltas.addPeriod(dp, -1)
					return nil
				})
				return err
			})
		}
		for _, g := range []struct {
			sql  string
			keys []rowKey
		}{{sqlDeleteGonePeriods, gone.periods}, {sqlDeleteGoneChanges, gone.changes}, {sqlDeleteGoneDists, gone.dists}} {
			if len(g.keys) > 0 {
				ids, fs, ds := gone.columns(g.keys)
				w.queue(s.sql(g.sql), ids, fs, ds)
			}
		}
		if len(wholeIDs) > 0 { // their distribution periods are in distIDs
			for _, sql := range sqlDeleteWhole {
				w.queue(s.sql(sql), wholeIDs)
			}
		}
		if len(distIDs) > 0 {
			// The deltas below subtract what these deletes return.
			if err := w.flush(ctx); err != nil {
				return err
			}
		}
	}
	if c := deltas.columns(); len(c.deltas) > 0 {
		// One statement for the batch: a row some period already counted in
		// is added to, any other is inserted. A row the batch brings to 0
		// is deleted after it (as a rebuild never writes one: the read
		// model stays equal to one, row for row): the upsert answers those
		// keys, rarely any, and flush deletes each by its key. An upsert
		// cannot delete, and a MERGE joins the batch's keys with the
		// table, which a generic plan made while the table was empty (a
		// rebuild's first batches) did by hashing the whole table for
		// every later batch: 10-13 ms a batch against 0.4.
		q := w.queue(s.sql(sqlUpsertDeltas), c.fields, dateArray(c.buckets), c.departments, c.levels, c.deltas)
		q.Fn = func(br pgx.BatchResults) error {
			rows, err := br.Query()
			if err != nil {
				return fmt.Errorf("%s: %w", statementName(sqlUpsertDeltas), err)
			}
			var k deltaKey
			var bucket time.Time
			var level int32
			_, err = pgx.ForEachRow(rows, []any{&k.field, &bucket, &k.department, &level}, func() error {
				k.bucket, k.level = domain.DateOf(bucket), int(level)
				w.zeroDeltas = append(w.zeroDeltas, k)
				return nil
			})
			if err != nil {
				return fmt.Errorf("%s: %w", statementName(sqlUpsertDeltas), err)
			}
			return nil
		}
		w.deleteZeroDelta = s.sql(sqlDeleteZeroDelta)
	}
	for _, in := range []struct {
		table string
		rows  *rowBuf
	}{{"people", &persons}, {"memberships", &members}, {"accomplishments", &accs}, {"level_periods", &periods},
		{"level_changes", &changes}, {"distribution_periods", &dists}} {
		if err := w.insertRows(ctx, in.table, tableColumns[in.table], in.rows); err != nil {
			return err
		}
	}
	return nil
}

// The statements of replacePeople whose text is not written in place.
const (
	// sqlUpsertDeltas adds a batch's summed changes (none of them 0, their
	// keys unique) to distribution_deltas and answers the keys of the rows
	// it brought to 0.
	sqlUpsertDeltas = `WITH d AS (INSERT INTO {s}.distribution_deltas AS d (field, bucket, department, level, delta)
			SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::int[], $5::bigint[])
			ON CONFLICT (field, bucket, department, level) DO UPDATE SET delta = d.delta + EXCLUDED.delta
			RETURNING field, bucket, department, level, delta)
		SELECT field, bucket, department, level FROM d WHERE delta = 0`
	// sqlDeleteZeroDelta deletes one row of distribution_deltas by its key
	// if it is 0.
	sqlDeleteZeroDelta = `DELETE FROM {s}.distribution_deltas
		WHERE field = $1 AND bucket = $2 AND department = $3 AND level = $4 AND delta = 0`
	sqlUpdateStandings = `UPDATE {s}.people SET standing = u.standing::jsonb, catalogue_id = $3, catalogue_version = $4
				FROM unnest($1::text[], $2::text[]) AS u(id, standing) WHERE people.id = u.id`
	sqlDeleteGone = `DELETE FROM {s}.%s t USING unnest($1::text[], $2::text[], $3::date[]) AS k(person_id, field, day)
					WHERE t.person_id = k.person_id AND t.field = k.field AND %s = k.day`
)

var (
	sqlDeleteGonePeriods = fmt.Sprintf(sqlDeleteGone, "level_periods", "t.valid_from")
	sqlDeleteGoneChanges = fmt.Sprintf(sqlDeleteGone, "level_changes", "t.changed_on")
	sqlDeleteGoneDists   = fmt.Sprintf(sqlDeleteGone, "distribution_periods", "lower(t.valid)")
	sqlDeleteWhole       = func() []string {
		var out []string
		for _, table := range []string{"people", "memberships", "accomplishments", "level_periods", "level_changes"} {
			col := "person_id"
			if table == "people" {
				col = "id"
			}
			out = append(out, `DELETE FROM {s}.`+table+` WHERE `+col+` = ANY($1)`)
		}
		return out
	}()
)

// sql is q of a statement the store sends every batch, kept once made: a
// live batch queues a dozen of them.
func (s *Store) sql(template string) string {
	if sql, ok := s.sqls.Load(template); ok {
		return sql.(string)
	}
	sql := s.q(template)
	s.sqls.Store(template, sql)
	return sql
}

// addAccomplishment adds an accomplishments row, in tableColumns' order.
func addAccomplishment(rows *rowBuf, personID any, a *projections.AccomplishmentView) {
	var amended, reason any // NULL: never amended, not retracted
	if !a.AmendedAt.IsZero() {
		amended = timestamptz(a.AmendedAt)
	}
	if a.Retracted {
		reason = a.RetractionReason
	}
	rows.add(a.ID, personID, string(a.Accomplishment.Kind()), int64(a.Position), timestamptz(a.RecordedAt),
		amended, a.Retracted, reason, int64(a.VersionPosition), a.RecordedBy, a.AmendedBy, a.RetractedBy)
}

// tableColumns are the columns a batch writes of each read-model table, in
// the order of the rows replacePeople builds.
var tableColumns = map[string][]column{
	"people": {{"id", "text"}, {"name", "text"}, {"joined_on", "date"}, {"catalogue_id", "text"},
		{"catalogue_version", "int"}, {"standing", "jsonb"}},
	"memberships": {{"person_id", "text"}, {"department", "text"}, {"valid_from", "date"}, {"valid_to", "date"}},
	"accomplishments": {{"id", "text"}, {"person_id", "text"}, {"kind", "text"}, {"position", "bigint"},
		{"recorded_at", "timestamptz"}, {"amended_at", "timestamptz"}, {"retracted", "boolean"},
		{"retraction_reason", "text"}, {"version_position", "bigint"}, {"recorded_by", "text"}, {"amended_by", "text"},
		{"retracted_by", "text"}},
	"level_periods": {{"person_id", "text"}, {"field", "text"}, {"level", "int"}, {"valid_from", "date"}, {"valid_to", "date"}},
	"level_changes": {{"person_id", "text"}, {"field", "text"}, {"changed_on", "date"}, {"from_level", "int"}, {"to_level", "int"}},
	"distribution_periods": {{"person_id", "text"}, {"field", "text"}, {"department", "text"}, {"level", "int"},
		{"valid", "daterange"}},
}

// rowKey finds one of a person's level periods, level changes or
// distribution periods: unique per person, field and start (or date).
type rowKey struct {
	personID, field string
	day             domain.Date
}

// rowKeys are the rows of known prior projections to delete.
type rowKeys struct{ periods, changes, dists []rowKey }

func (rowKeys) columns(keys []rowKey) (ids, fields []string, days pgtype.FlatArray[pgtype.Date]) {
	ids, fields, days = make([]string, len(keys)), make([]string, len(keys)), make(pgtype.FlatArray[pgtype.Date], len(keys))
	for i, k := range keys {
		ids[i], fields[i], days[i] = k.personID, k.field, pgDate(k.day)
	}
	return ids, fields, days
}

// diff returns the elements of was not in now and of now not in was, each
// in its slice's order. An element repeated counts as often as it occurs:
// the added are the occurrences in now beyond those in was, the last ones;
// the removed the occurrences in was beyond those in now, the first ones.
func diff[T comparable](was, now []T) (removed, added []T) {
	if len(was) > 64 || len(was)*len(now) > 1024 {
		return diffMap(was, now)
	}
	// A person's periods are a few: matching each of now with the last
	// unmatched equal one of was (leaving the first ones unmatched) costs
	// less than hashing them.
	var matched [64]bool
	for _, x := range now {
		j := len(was) - 1
		for ; j >= 0; j-- {
			if !matched[j] && was[j] == x {
				matched[j] = true
				break
			}
		}
		if j < 0 {
			added = append(added, x)
		}
	}
	for i, x := range was {
		if !matched[i] {
			removed = append(removed, x)
		}
	}
	return removed, added
}

// diffMap is diff of long slices.
func diffMap[T comparable](was, now []T) (removed, added []T) {
	in := make(map[T]int, len(was))
	for _, x := range was {
		in[x]++
	}
	for _, x := range now {
		if in[x] > 0 {
			in[x]--
			continue
		}
		added = append(added, x)
	}
	for _, x := range was {
		if in[x] > 0 {
			in[x]--
			removed = append(removed, x)
		}
	}
	return removed, added
}

// storedLevel is one field of the standing kept on a person's row: the
// level and since when, as of the day of projection. The explanation is
// evaluated on read.
type storedLevel struct {
	Field      domain.Field `json:"field"`
	Level      int          `json:"level"`
	AttainedOn *domain.Date `json:"attainedOn,omitempty"`
}

func storedLevelsOf(st domain.Standing) []storedLevel {
	out := make([]storedLevel, len(st.Fields))
	for i, f := range st.Fields {
		out[i] = storedLevel{Field: f.Field, Level: f.Level}
		if !f.AttainedOn.IsZero() {
			out[i].AttainedOn = &f.AttainedOn
		}
	}
	return out
}

// dateRange is the [from, to) daterange of a period (to zero = open).
func dateRange(from, to domain.Date) pgtype.Range[pgtype.Date] {
	r := pgtype.Range[pgtype.Date]{Lower: pgtype.Date{Time: from.Time(), Valid: true}, LowerType: pgtype.Inclusive, Valid: true}
	if to.IsZero() {
		r.UpperType = pgtype.Unbounded
	} else {
		r.Upper, r.UpperType = pgtype.Date{Time: to.Time(), Valid: true}, pgtype.Exclusive
	}
	return r
}

func dateOf(t *time.Time) domain.Date {
	if t == nil {
		return domain.Date{}
	}
	return domain.DateOf(*t)
}
