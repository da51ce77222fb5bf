package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/careerledger/careerledger/domain"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/memory"
	"github.com/careerledger/careerledger/projections/postgres"
)

// rebuildLagDist runs scenarios 5 (rebuild), 6 (live lag) and 7
// (distribution): they share one generated log and its PostgreSQL read
// model.
func (b *bench) rebuildLagDist(ctx context.Context) error {
	cfg := b.cfg
	progress("rebuild: starting the embedded server (sync interval 2m)")
	env, err := startNATS(ctx, filepath.Join(b.dir, "rebuild"), 2*time.Minute)
	if err != nil {
		return err
	}
	defer env.close()
	people, head, err := b.generate(ctx, env.log)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	pool := b.db.pool
	if err := postgres.Migrate(ctx, pool, postgres.DefaultSchema); err != nil {
		return err
	}

	// 5. Baseline first, then the real projector, which keeps running for
	// the live-lag scenario.
	var baseline, baseCPU time.Duration
	if cfg.runs("rebuild") {
		c0 := cpuTime()
		progress("rebuild: baseline projector (Follow, decode, one INSERT per event, one transaction per batch with a checkpoint)")
		if baseline, err = baselineProject(ctx, pool, env.log, head, cfg.maxBatch); err != nil {
			return fmt.Errorf("baseline projector: %w", err)
		}
		baseCPU = cpuTime() - c0
		progress("rebuild: baseline: %d events in %s (%s)", head, fmtDur(baseline), fmtRate(rate(int(head), baseline), "ev"))
		if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
			return err
		}
	}
	progress("rebuild: real projector (projections.Projector + postgres.Store)")
	pg := postgres.New(pool, b.cat, "")
	pg.ReindexAbove = postgres.DefaultReindexAbove // as careerctl rebuild's new schema
	// As careerd's serving store, which the live-lag scenario measures:
	// each batch checks that the registry still names its schema.
	if err := serveAsDeployment(ctx, b, pool, pg, postgres.DefaultSchema); err != nil {
		return err
	}
	ts := &timedStore{Store: pg, Fields: b.cat.Fields()}
	c0 := cpuTime()
	pr, err := projectToHead(ctx, b, env.log, ts, head)
	if err != nil {
		return err
	}
	defer pr.stop()
	realTook := pr.took
	realCPU := cpuTime() - c0
	b.projectorRate = rate(int(head), realTook)
	ts.mu.Lock()
	rowsWritten := ts.rows
	ts.mu.Unlock()
	progress("rebuild: real: %d events in %s (%s)", head, fmtDur(realTook), fmtRate(rate(int(head), realTook), "ev"))
	if cfg.runs("rebuild") {
		realRate, baseRate := rate(int(head), realTook), rate(int(head), baseline)
		ratio := realRate / baseRate
		b.add(row{
			Scenario: fmt.Sprintf("5 Rebuild %d events / %d people into PostgreSQL", head, len(people)),
			Measured: fmtRate(realRate, "ev") + " (" + fmtDur(realTook) + ")",
			Baseline: fmtRate(baseRate, "ev") + " (" + fmtDur(baseline) + ")",
			Ratio:    fmtRatio(ratio), Goal: ">= 60% and > 20k ev/s",
			Verdict: verdict(ratio >= 0.60 && realRate > 20000),
			Note: fmt.Sprintf("Log generated with AppendBatch on an embedded server (sync interval 2m), %d people per chunk interleaved (registrations, engagements, assessments, succession, development, transfers, amendments, retractions). Real: Projector (batches of %d) into postgres.Store, %s. Baseline: Log.Follow (the same ordered consumer and decoding), one INSERT per event into a person_events copy (same indexes) queued in a pgx batch, plus a checkpoint upsert, one transaction per batch of %d. CPU of this Go process (projector, decoding, NATS server): real %s (%.0f%% of the wall time, %s per event), baseline %s (%.0f%%, %s per event); the rest of the wall time is PostgreSQL. The real store wrote %.1f rows per event (%d rows inserted or updated: the event, a person's row when their standing changed, and what else changed, distribution deltas not counted), the baseline 1.",
				cfg.chunk, cfg.maxBatch, bulkNote(!cfg.noBulk), cfg.maxBatch,
				fmtDur(realCPU), 100*realCPU.Seconds()/realTook.Seconds(), fmtDur(realCPU/time.Duration(head)),
				fmtDur(baseCPU), 100*baseCPU.Seconds()/max(baseline.Seconds(), 1e-9), fmtDur(baseCPU/time.Duration(head)),
				float64(rowsWritten)/float64(head), rowsWritten),
		})
	}

	// 6. Live lag.
	if cfg.runs("lag") {
		if err := b.lag(ctx, env, ts, people); err != nil {
			return fmt.Errorf("lag: %w", err)
		}
	}
	pr.stop()

	// 7. Distribution.
	if cfg.runs("dist") {
		if err := b.distribution(ctx, env, pool, ts.Store, len(people)); err != nil {
			return fmt.Errorf("distribution: %w", err)
		}
	}
	return nil
}

// bulkNote says how the real projector judged people.
func bulkNote(bulk bool) string {
	if bulk {
		return "in bulk: a COPY of the events and the checkpoint per batch until the head it started from; there, in the last batch's transaction, each person judged once and their rows copied, and one upsert of the distribution deltas"
	}
	return "-no-bulk: per batch a COPY of the events and, per touched person (re-judged), an update of its row and the rows that changed, an upsert of the distribution deltas, the checkpoint, in one transaction"
}

// generate fills the log with about cfg.events events over cfg.people
// people, chunk by chunk (not measured), and returns the people and the
// log's head.
func (b *bench) generate(ctx context.Context, l *events.Log) ([]string, uint64, error) {
	cfg := b.cfg
	g := newGen(4, b.cat)
	perPerson := cfg.events / cfg.people
	people := make([]string, 0, cfg.people)
	progress("rebuild: generating about %d events over %d people (%d per person on average)", cfg.events, cfg.people, perPerson)
	start := time.Now()
	total := 0
	for from := 0; from < cfg.people; from += cfg.chunk {
		to := min(from+cfg.chunk, cfg.people)
		ids := make([]string, 0, to-from)
		logs := make([][]events.Event, 0, to-from)
		for i := from; i < to; i++ {
			id := fmt.Sprintf("P%07d", i)
			ids = append(ids, id)
			logs = append(logs, g.personEvents(id, g.eventsPer(perPerson)))
		}
		ps := pendings(ids, logs, time.Now())
		out, err := l.AppendBatch(ctx, ps)
		if err != nil {
			return nil, 0, err
		}
		for _, o := range out {
			if o.Err != nil {
				return nil, 0, o.Err
			}
		}
		total += len(ps)
		people = append(people, ids...)
		progress("rebuild: generated %d events, %d people (%s)", total, len(people), fmtRate(rate(total, time.Since(start)), "ev"))
	}
	head, err := l.Head(ctx)
	return people, head, err
}

// baselineSchema holds the simplest projector's table.
const baselineSchema = "bench_baseline"

// baselineProject is the simplest possible projector: follow the log,
// decode, insert each event in a person_events copy, one transaction per
// batch with a checkpoint row. It returns the time to reach head.
func baselineProject(ctx context.Context, pool *pgxpool.Pool, l *events.Log, head uint64, maxBatch int) (time.Duration, error) {
	for _, ddl := range []string{
		`CREATE SCHEMA ` + baselineSchema,
		`CREATE TABLE ` + baselineSchema + `.person_events (position bigint PRIMARY KEY, person_id text NOT NULL, type text NOT NULL,
			version int NOT NULL, recorded_at timestamptz NOT NULL, idempotency_key text NOT NULL DEFAULT '', body json NOT NULL)`,
		`CREATE INDEX person_events_person ON ` + baselineSchema + `.person_events (person_id, position)`,
		`CREATE TABLE ` + baselineSchema + `.checkpoint (name text PRIMARY KEY, position bigint NOT NULL)`,
	} {
		if _, err := pool.Exec(ctx, ddl); err != nil {
			return 0, err
		}
	}
	const insert = `INSERT INTO ` + baselineSchema + `.person_events (position, person_id, type, version, recorded_at, idempotency_key, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	const checkpoint = `INSERT INTO ` + baselineSchema + `.checkpoint (name, position) VALUES ('baseline', $1)
		ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position`
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var took time.Duration
	next := head / 10
	err := l.Follow(fctx, 0, maxBatch, func(ctx context.Context, batch []events.Recorded) error {
		last := batch[len(batch)-1].Position
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			pb := &pgx.Batch{}
			for _, r := range batch {
				typ, version, body, err := events.Encode(r.Event)
				if err != nil {
					return err
				}
				pb.Queue(insert, int64(r.Position), r.PersonID, typ, version, r.RecordedAt, r.IdempotencyKey, body)
			}
			pb.Queue(checkpoint, int64(last))
			return tx.SendBatch(ctx, pb).Close()
		})
		if err != nil {
			return err
		}
		if last >= next && last < head {
			progress("rebuild: baseline at %d/%d", last, head)
			next += head / 10
		}
		if last >= head {
			took = time.Since(start)
			cancel()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if took == 0 {
		return 0, errors.Join(ctx.Err(), errors.New("stopped before the head"))
	}
	return took, nil
}

// timedStore is the PostgreSQL store with the commit time of every applied
// batch noted while tracking.
type timedStore struct {
	*postgres.Store
	mu       sync.Mutex
	tracking bool
	commits  []commit
	// stamped: while tracking, each event's time from the log server's
	// stamp to the report of its commit, as careerd's live-lag histogram
	// takes it (Projector.OnCommitted).
	stamped []time.Duration
	rows    int64 // rows written by the applied batches (events + people's rows)
	Fields  []domain.Field
}

// serveAsDeployment records schema as deployment schema's active read model
// and makes pg check it in every batch, as careerd's serving store does.
func serveAsDeployment(ctx context.Context, b *bench, pool *pgxpool.Pool, pg *postgres.Store, schema string) error {
	a, err := postgres.InitActive(ctx, pool, schema, postgres.Active{Schema: schema, CatalogueID: b.cat.ID(),
		CatalogueVersion: b.cat.Version(), Format: postgres.Format})
	if err != nil {
		return err
	}
	if a.Schema != schema {
		return fmt.Errorf("the benchmark database's registry names schema %s for %s, not %s", a.Schema, schema, schema)
	}
	pg.Deployment = schema
	return nil
}

// rowsOf counts the rows Store.Apply inserts or updates for a batch: the
// events, and what each touched person's Delta says changed (a new person
// is written whole; a known one's row when their standing changed).
func rowsOf(batch []events.Recorded, people []projections.PersonProjection, fields []domain.Field) int64 {
	n := int64(len(batch))
	for _, pp := range people {
		d := pp.Delta
		d.New = d.New || d.Whole
		if d.New || d.Standing {
			n++ // the person's row, which carries the standing
		}
		if d.New || d.Memberships {
			n += int64(len(pp.Person.Memberships))
		}
		if d.New {
			n += int64(len(pp.Accomplishments))
		} else {
			n += int64(len(d.Accomplishments))
		}
		if d.New || d.Levels {
			n += int64(len(pp.Periods) + len(pp.Changes))
		}
		if d.New || d.Memberships || d.Levels {
			n += int64(len(projections.DistributionPeriodsOf(fields, pp.Person.Memberships, pp.Periods)))
		}
	}
	return n
}

type commit struct {
	position uint64
	start    time.Time // when Apply was called
	at       time.Time // when it returned, committed
	size     int
}

// Apply implements projections.Store.
func (t *timedStore) Apply(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection) error {
	return t.ApplyDerived(ctx, position, batch, people, nil)
}

// ApplyDerived implements projections.DerivedKeeper (a projector with a
// Notifier writes through it), timed as Apply.
func (t *timedStore) ApplyDerived(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection, derived []projections.LevelChanged) error {
	start := time.Now()
	err := t.Store.ApplyDerived(ctx, position, batch, people, derived)
	if err == nil {
		at := time.Now()
		t.mu.Lock()
		if t.tracking {
			t.commits = append(t.commits, commit{position: position, start: start, at: at, size: len(batch)})
		} else {
			// The rebuild's row count; not while a live-lag window is
			// measured, where it would add its own work to the projector's.
			t.rows += rowsOf(batch, people, t.Fields)
		}
		t.mu.Unlock()
	}
	return err
}

// ApplyEvents implements projections.Store.
func (t *timedStore) ApplyEvents(ctx context.Context, position uint64, batch []events.Recorded) error {
	err := t.Store.ApplyEvents(ctx, position, batch)
	if err == nil {
		t.mu.Lock()
		t.rows += int64(len(batch))
		t.mu.Unlock()
	}
	return err
}

func (t *timedStore) track(on bool) []commit {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tracking = on
	out := t.commits
	if on {
		t.commits, t.stamped = nil, nil
	}
	return out
}

// committedLive is the projector's OnCommitted: it notes each event's lag
// as careerd's live-lag histogram observes it.
func (t *timedStore) committedLive(batch []events.Recorded) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.tracking {
		return
	}
	for _, r := range batch {
		if !r.StoredAt.IsZero() {
			t.stamped = append(t.stamped, max(now.Sub(r.StoredAt), 0))
		}
	}
}

// stamps returns the lags committedLive noted in the last tracking.
func (t *timedStore) stamps() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stamped
}

// runningProjector is a Projector running in the background.
type runningProjector struct {
	caughtUp chan struct{} // closed once head is applied
	finished chan struct{} // closed when Run returned, with err set
	err      error
	took     time.Duration // from start to head
	stop     func()
}

// startProjector runs a projector of l into st and notes when it reaches
// head.
func startProjector(ctx context.Context, b *bench, l *events.Log, st projections.Store, head uint64) (*runningProjector, error) {
	pctx, cancel := context.WithCancel(ctx)
	rp := &runningProjector{caughtUp: make(chan struct{}), finished: make(chan struct{})}
	rp.stop = func() {
		cancel()
		<-rp.finished
	}
	start := time.Now()
	next := head / 10
	p := &projections.Projector{Catalogue: b.cat, Source: b.source(l), Store: st, MaxBatch: b.cfg.maxBatch, Bulk: !b.cfg.noBulk,
		MaxCached: b.cfg.maxCached,
		OnCommitted: func(batch []events.Recorded) {
			if ts, ok := st.(*timedStore); ok {
				ts.committedLive(batch)
			}
		},
		OnStored: func(pos uint64, _ int) {
			if pos >= next && pos < head {
				progress("projector stored %d/%d (people judged at the head)", pos, head)
				next += head / 10
			}
		},
		OnApplied: func(pos uint64, _ int) {
			if pos >= next && pos < head {
				progress("projector at %d/%d", pos, head)
				next += head / 10
			}
			if pos >= head && rp.took == 0 {
				rp.took = time.Since(start)
				close(rp.caughtUp)
			}
		}}
	go func() {
		rp.err = p.Run(pctx)
		close(rp.finished)
	}()
	return rp, nil
}

// projectToHead starts a projector of l into st and waits until it has
// applied head; it keeps running until stopped.
func projectToHead(ctx context.Context, b *bench, l *events.Log, st projections.Store, head uint64) (*runningProjector, error) {
	pr, err := startProjector(ctx, b, l, st, head)
	if err != nil {
		return nil, err
	}
	select {
	case <-pr.caughtUp:
		return pr, nil
	case <-pr.finished:
		return nil, fmt.Errorf("projector stopped: %v", pr.err)
	case <-ctx.Done():
		pr.stop()
		return nil, ctx.Err()
	}
}

// memoryRebuild projects the log into a memory store and returns it and
// the time it took.
func (b *bench) memoryRebuild(ctx context.Context, l *events.Log, head uint64) (*memory.Store, time.Duration, error) {
	mem := memory.New(b.cat)
	pr, err := projectToHead(ctx, b, l, mem, head)
	if err != nil {
		return nil, 0, fmt.Errorf("memory: %w", err)
	}
	pr.stop()
	return mem, pr.took, nil
}

// timedSource is the log with the time each batch reached the projector
// noted while its timedStore tracks.
type timedSource struct {
	*events.Log
	mu         sync.Mutex
	deliveries []delivery
}

type delivery struct {
	last uint64    // the batch's last position
	at   time.Time // when Follow handed it over
}

// source returns the log the projectors follow, timed.
func (b *bench) source(l *events.Log) projections.Source {
	if b.timed == nil || b.timed.Log != l {
		b.timed = &timedSource{Log: l}
	}
	return b.timed
}

// Follow implements projections.Source.
func (t *timedSource) Follow(ctx context.Context, after uint64, maxBatch int, handle func(ctx context.Context, batch []events.Recorded) error) error {
	return t.Log.Follow(ctx, after, maxBatch, func(ctx context.Context, batch []events.Recorded) error {
		if len(batch) > 0 {
			t.mu.Lock()
			t.deliveries = append(t.deliveries, delivery{last: batch[len(batch)-1].Position, at: time.Now()})
			t.mu.Unlock()
		}
		return handle(ctx, batch)
	})
}

// take returns the deliveries noted since the last take.
func (t *timedSource) take() []delivery {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.deliveries
	t.deliveries = nil
	return out
}
