package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/memory"
	"github.com/careerledger/careerledger/projections/postgres"
)

// rebuilder builds a fresh read model from position 0 while the serving one
// keeps answering, then switches over atomically: the way to apply a new
// catalogue version or recover from a damaged read model without downtime.
type rebuilder struct {
	m       *Main
	mu      sync.Mutex
	status  graph.RebuildStatus
	running bool
	// automatic: the current or last rebuild is careerd's own, for its
	// catalogue and format; it switches only if the active read model is
	// not already as new (WriteActiveForward), and is retried when it
	// fails while the active one is older.
	automatic bool
}

var _ graph.Rebuilder = (*rebuilder)(nil)

// RebuildStatus returns the progress of the current or last rebuild.
func (r *rebuilder) RebuildStatus() graph.RebuildStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status.State == "" {
		return graph.RebuildStatus{State: "idle"}
	}
	return r.status
}

// StartRebuild starts a rebuild in the background; only one runs at a time.
// It asks the event log for its head first: a rebuild reads the whole log,
// and one started while the log is unreachable would only fail in
// careerd's log after its caller was told it runs. That error (wrapping
// events.ErrUnavailable) is the caller's answer, and nothing starts.
func (r *rebuilder) StartRebuild(ctx context.Context) (graph.RebuildStatus, error) {
	if r.m.eventLog != nil {
		if _, err := r.m.eventLog.Head(ctx); err != nil {
			return r.RebuildStatus(), err
		}
	}
	return r.start(ctx, false)
}

// startAutomatic starts careerd's own rebuild for its catalogue and format.
func (r *rebuilder) startAutomatic(ctx context.Context) (graph.RebuildStatus, error) {
	return r.start(ctx, true)
}

func (r *rebuilder) start(ctx context.Context, automatic bool) (graph.RebuildStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running {
		return r.status, errors.New("a rebuild is already running")
	}
	// A shutdown stops the rebuild and waits for it, so that the schema
	// it leaves unfinished is dropped while the pool is still open.
	m := r.m
	if m.runCtx != nil && m.runCtx.Err() != nil {
		return r.status, errors.New("careerd is shutting down")
	}
	r.running, r.automatic = true, automatic
	r.status = graph.RebuildStatus{ID: fmt.Sprintf("%016x", rand.Uint64()), State: "running"}
	rctx, stop := context.WithCancel(ctx)
	unhook := func() bool { return false }
	if m.runCtx != nil {
		unhook = context.AfterFunc(m.runCtx, stop)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer unhook()
		defer stop()
		r.run(rctx)
	}()
	return r.status, nil
}

func (r *rebuilder) update(f func(s *graph.RebuildStatus)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.status)
}

func (r *rebuilder) run(ctx context.Context) {
	m := r.m
	start := time.Now()
	err := r.build(ctx, start)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running = false
	if err != nil {
		r.status.State, r.status.Error = "failed", err.Error()
		if ctx.Err() != nil {
			// careerd is stopping: not a failure to alert on.
			m.log.Info("rebuild stopped with careerd; the old read model stays, and the rebuild must be started again", "err", err)
			return
		}
		m.log.Error("rebuild failed; the old read model keeps serving", "err", err)
		return
	}
	r.status.State = "done"
	r.status.ETASeconds = 0
	m.log.Info("rebuild done", "position", r.status.Position, "seconds", time.Since(start).Seconds())
}

// errClaimLost is why a rebuild stops when its claim's session ends: from
// then on another instance's sweep may drop the schema under it.
var errClaimLost = errors.New("rebuild stopped, since a sweep may drop a schema whose claim is lost: start the rebuild again")

func (r *rebuilder) build(ctx context.Context, start time.Time) (err error) {
	m := r.m
	schema, claim, err := m.claimSchema(ctx)
	if err != nil {
		return err
	}
	// Released last: after the switch, or after the drop below.
	defer claim.Release()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-claim.Lost():
			cancel(fmt.Errorf("%w (%w)", errClaimLost, claim.Err()))
		case <-ctx.Done():
		}
	}()
	defer func() {
		if cause := context.Cause(ctx); err != nil && errors.Is(cause, errClaimLost) {
			err = fmt.Errorf("%w; it was at: %v", cause, err)
		}
	}()
	target, err := m.newReadModel(ctx, schema, claim)
	if schema != "" {
		defer func() {
			if err == nil {
				return
			}
			// Never switched to: nobody will. (Stopped by a shutdown, ctx
			// is done: a short one of its own.)
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if derr := postgres.DropUnused(dctx, m.pool, m.Config.Schema, schema); derr != nil {
				m.log.Warn("drop the schema of a rebuild that did not finish", "schema", schema, "err", derr)
			}
		}()
	}
	if err != nil {
		return err
	}
	progress := func(pos uint64, _ int) {
		r.update(func(s *graph.RebuildStatus) {
			s.Position = pos
			if el := time.Since(start).Seconds(); el > 0 {
				s.EventsPerSecond = float64(pos) / el
				if s.Head > pos && s.EventsPerSecond > 0 {
					s.ETASeconds = float64(s.Head-pos) / s.EventsPerSecond
				}
			}
		})
	}
	// Bulk: the new model serves nobody until the switch, so it stores the
	// events first and judges each person once, at the head.
	p := &projections.Projector{Catalogue: m.cat, Source: m.eventLog, Store: target, MaxBatch: 2000, Now: m.now,
		Bulk: true, OnApplied: progress, OnStored: progress, MaxCached: m.Config.maxCached()}
	pctx, stopProjector := context.WithCancel(ctx)
	done := make(chan struct{})
	var runErr error // set before done is closed
	go func() {
		runErr = p.Run(pctx)
		close(done)
	}()
	stop := func() error {
		stopProjector()
		<-done
		return runErr
	}
	m.log.Info("rebuild started", "schema", schema)
	for {
		head, err := m.eventLog.Head(ctx)
		if err != nil {
			stop()
			return err
		}
		// Readable first: the checkpoint, read after it, is at least as
		// far (a batch committed between the two reads would otherwise
		// end the loop on a stale checkpoint, reported as the position).
		readable, err := target.Readable(ctx)
		if err != nil {
			stop()
			return err
		}
		cp, err := target.Checkpoint(ctx)
		if err != nil {
			stop()
			return err
		}
		// The log's head, read first, is at least the checkpoint read after it.
		r.update(func(s *graph.RebuildStatus) { s.Head, s.Position = max(head, cp), cp })
		if readable >= head {
			break
		}
		select {
		case <-done:
			err := runErr
			if err == nil {
				err = errors.New("stopped before the head") // its context was cancelled
			}
			return fmt.Errorf("rebuild projector: %w", err)
		case <-ctx.Done():
			stop()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	r.mu.Lock()
	automatic := r.automatic
	r.mu.Unlock()
	// The rebuild's projector stops where it is; the serving model, which
	// publishes level changes, must hold at least as much before the
	// switch, so that the new model never holds an event the old one did
	// not (its change would go unpublished, and an instance still serving
	// the old model would not show it).
	if err := stop(); err != nil {
		return fmt.Errorf("rebuild projector: %w", err)
	}
	reached, err := target.Readable(ctx)
	if err != nil {
		return err
	}
	wctx, wcancel := context.WithTimeout(ctx, switchCatchUp)
	err = m.store.WaitFor(wctx, reached)
	wcancel()
	if err != nil {
		return fmt.Errorf("the serving read model did not reach the rebuilt one's position %d: %w", reached, err)
	}
	// Then the switch brings the new model up to exactly what the serving
	// one holds once the registry has moved (no batch commits on it after
	// that).
	catchUp := func(ctx context.Context, readable, stored uint64) error {
		return m.catchUpTo(ctx, target, readable, stored)
	}
	// careerd's own rebuild never switches back over one at least as new
	// that another instance switched to meanwhile.
	return m.switchTo(ctx, target, schema, automatic, catchUp)
}

// switchCatchUp bounds how long a switch waits, with the live projector
// paused, for the rebuilt model to apply what the serving one has applied:
// mutations wait meanwhile (their read-your-writes wait follows the
// switch). A variable for tests.
var switchCatchUp = 30 * time.Second

// beforeSet, if not nil, runs as a switch is about to serve the new model:
// tests widen the moment with it.
var beforeSet func()

// olderThanOurs reports whether the active read model a was built by an
// older version of this instance's catalogue, or in an older format by
// this version.
func (m *Main) olderThanOurs(a postgres.Active) bool {
	if a.CatalogueID != m.cat.ID() {
		return false
	}
	return a.CatalogueVersion < m.cat.Version() || (a.CatalogueVersion == m.cat.Version() && a.Format < postgres.Format)
}

// newerThanOurs reports whether the active read model a was built by a
// newer version of this instance's catalogue, or in a newer format by
// this version: what this instance's own rebuild would not switch over.
func (m *Main) newerThanOurs(a postgres.Active) bool {
	if a.CatalogueID != m.cat.ID() {
		return false
	}
	return a.CatalogueVersion > m.cat.Version() || (a.CatalogueVersion == m.cat.Version() && a.Format > postgres.Format)
}

// claimSchema names a new read-model schema beside the serving one and
// claims it (postgres.BeginRebuild): if this process dies before it
// switches to the schema or drops it, the claim ends with its session and
// another instance's sweep drops the schema. "" and nil for the memory
// model.
func (m *Main) claimSchema(ctx context.Context) (string, *postgres.Rebuild, error) {
	if m.pool == nil {
		return "", nil, nil
	}
	// The start time names it for people; the random part keeps two
	// rebuilds started in the same second (two instances on a new
	// catalogue) out of each other's schema.
	schema := rebuildSchemaName(m.Config.Schema, m.now(), rand.Uint32())
	claim, err := postgres.BeginRebuild(ctx, m.pool, m.Config.Schema, schema)
	if err != nil {
		return "", nil, err
	}
	return schema, claim, nil
}

// maxSchemaName is PostgreSQL's limit on a name, in bytes (NAMEDATALEN - 1):
// it cuts a longer one there, in every statement, without an error.
const maxSchemaName = 63

// rebuildSchemaName names a rebuild's schema: the read model's name, the
// start time and a random part, with the name cut (at a character) so that
// the whole fits in maxSchemaName. Uncut, a long name's schema was cut by
// PostgreSQL to the serving schema's own name: the rebuild "filled" the
// schema it was to replace, switched to it, and noted it as retired, so the
// sweep dropped the read model being served a minute later.
func rebuildSchemaName(name string, at time.Time, random uint32) string {
	suffix := fmt.Sprintf("_%s_%08x", at.UTC().Format("20060102t150405"), random)
	for len(name)+len(suffix) > maxSchemaName {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name + suffix
}

// newReadModel returns an empty read model in schema, claimed by
// claimSchema (the memory model for "").
func (m *Main) newReadModel(ctx context.Context, schema string, claim *postgres.Rebuild) (projections.ReadModel, error) {
	if schema == "" {
		return memory.New(m.cat), nil
	}
	if err := claim.Migrate(ctx, m.pool); err != nil {
		return nil, err // the schema may exist, half migrated
	}
	st := m.postgresStore(schema)
	// Nobody queries the new schema before the switch: its head batch may
	// build its indexes after its rows; and it is no deployment's active
	// model yet.
	st.ReindexAbove = postgres.DefaultReindexAbove
	st.Deployment = ""
	return st, nil
}

// switchTo makes target the serving read model and restarts the live
// projector on it (it continues from target's checkpoint). It pauses the
// live projector and holds queries throughout; it moves the registry (with
// PostgreSQL), and then, with catchUp, has target brought up to the final
// positions of the model the switch replaced (readable and stored: see
// catchUpTo), or to those the switch to that model recorded, if further
// (it was still catching up, on another instance, with the one before it),
// so that nothing a query saw before the switch (a write whose mutation
// returned) is missing after it, and a bulk catch-up it was in the middle
// of goes on in bulk. The steps are in docs/projections.md.
func (m *Main) switchTo(ctx context.Context, target projections.ReadModel, schema string, forward bool,
	catchUp func(ctx context.Context, readable, stored uint64) error) error {
	resume := m.pauseLive()
	defer resume()
	old := m.store.Current() // after the pause: a follow may have switched meanwhile
	// Queries wait from here until the new model serves: once the registry
	// moves, writes go to the new model only.
	release := m.store.Hold()
	defer release()
	from := old // the model whose final position the new one catches up to
	var sw postgres.Switched
	if m.pool != nil {
		// From this commit on, no instance's batch commits on the schema
		// it replaces (postgres.Store.Deployment): its position is final.
		// That schema is the registry's, which another instance may have
		// switched to since this one last followed; and it may still be
		// catching up with the one before it (that switch, on another
		// instance, has not served it yet): the positions to reach are
		// then the ones recorded for it, which the switch returns.
		var err error
		sw, err = postgres.SwitchActive(ctx, m.pool, m.Config.Schema,
			postgres.Active{Schema: schema, CatalogueID: m.cat.ID(), CatalogueVersion: m.cat.Version(), Format: postgres.Format}, forward)
		if err != nil {
			return err
		}
		if pg, ok := old.(*postgres.Store); sw.Replaced != "" && (!ok || pg.Schema() != sw.Replaced) {
			from = postgres.New(m.pool, m.cat, sw.Replaced)
		}
	}
	if catchUp != nil {
		readable, stored, err := sw.Readable, sw.Stored, error(nil)
		if !sw.Known {
			// The memory model, or a replaced schema that could not be
			// read in the switch.
			r, s, perr := positions(ctx, from)
			switch {
			case perr == nil:
				readable, stored = max(readable, r), max(stored, s)
			case readable > 0 || stored > 0:
				// It does not answer now either, but the switch to it
				// recorded what it was to be brought up to: the new model
				// reaches that from the log, which needs nothing of it.
				m.log.Warn("read model switch: the replaced model's position could not be read; the new model catches up to the position recorded for it", "schema", schema,
					"replaced", sw.Replaced, "readable", readable, "stored", stored, "err", perr)
			default:
				err = perr
			}
		}
		if err == nil {
			err = catchUp(ctx, readable, stored)
		}
		if err != nil {
			if m.pool == nil {
				return err // nothing switched: the old model serves on
			}
			// The registry names the new schema already, and every
			// instance follows it: serve it too; the live projector brings
			// it up to the head.
			m.log.Warn("read model switch: the new model did not catch up with the old one before serving", "schema", schema, "err", err)
		}
	}
	if pg, ok := target.(*postgres.Store); ok {
		// Serving now: its indexes stay, whatever a later batch writes, and
		// its batches commit only while it is the deployment's active one.
		pg.ReindexAbove = 0
		pg.Deployment = m.Config.Schema
	}
	if beforeSet != nil {
		beforeSet()
	}
	m.store.Set(target)
	release()
	resume() // the live projector starts again, on target
	m.log.Info("read model switched", "schema", schema)
	if pg, ok := old.(*postgres.Store); ok && pg.Schema() != schema {
		// Queries in flight on the old schema finish first. A process that
		// stops before this runs leaves it to sweepRetired.
		grace := m.retiredGrace()
		go func() { // not Close's to wait for: a stop cancels it
			select {
			case <-time.After(grace + time.Second):
				m.dropRetired(m.runCtx, grace)
			case <-m.runCtx.Done():
			}
		}()
	}
	return nil
}

// pauseLive stops the live projector (waiting for its run to end, its last
// batch committed or rolled back) and keeps it from starting again until
// the returned resume is called (once; later calls do nothing). An
// instance that does not project (another holds the projector lock) has
// nothing to stop, and does not start projecting meanwhile.
func (m *Main) pauseLive() (resume func()) {
	m.liveMu.Lock()
	m.projMu.Lock()
	stop, ran := m.projStop, m.projRun
	m.projMu.Unlock()
	if stop != nil {
		stop()
		<-ran
	}
	var once sync.Once
	return func() { once.Do(m.liveMu.Unlock) }
}

// retiredGrace is how long a retired read-model schema outlives its switch:
// every instance follows within seconds, and queries in flight finish.
// sweepRetiredEvery is how often sweepRetired looks for retired schemas
// left behind. Variables for tests.
var (
	retiredGrace      = 30 * time.Second
	sweepRetiredEvery = time.Minute
)

// retiredGrace returns how long a retired schema outlives its switch here:
// retiredGrace, and no less than a request may take (--request-timeout),
// since a query that took the old read model just before the switch reads
// it with several statements until it ends. A --request-timeout of 0 is
// graph.DefaultRequest, as the server bounds requests with. A grace of 0
// (tests) drops at once.
func (m *Main) retiredGrace() time.Duration {
	if retiredGrace == 0 {
		return 0
	}
	request := m.Config.RequestTimeout
	if request <= 0 {
		request = graph.DefaultRequest
	}
	return max(retiredGrace, request)
}

// sweepRetired drops, at start and then every sweepRetiredEvery until ctx
// is done, the schemas a switch retired more than retiredGrace ago that
// are still there (the instance that switched stopped before dropping
// them), and those of rebuilds that died (a restart after a kill cleans
// up at once).
func (m *Main) sweepRetired(ctx context.Context) {
	grace := m.retiredGrace()
	sweep := func(ctx context.Context) { m.dropRetired(ctx, grace) }
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		sweep(ctx)
	}()
	m.every(ctx, sweepRetiredEvery, sweep)
}

// dropRetired drops the schemas a switch retired more than grace ago, and
// those of rebuilds that died without a switch or a clean-up.
func (m *Main) dropRetired(ctx context.Context, grace time.Duration) {
	sweep := func(what string, drop func(ctx context.Context) ([]string, error)) {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		dropped, err := drop(sctx)
		if err != nil && ctx.Err() == nil { // not when careerd stops
			m.log.Warn("drop "+what+"; trying again later", "err", err)
		}
		if len(dropped) > 0 {
			m.log.Info("dropped "+what, "schemas", dropped)
		}
	}
	sweep("retired read-model schemas", func(ctx context.Context) ([]string, error) {
		return postgres.DropRetired(ctx, m.pool, m.Config.Schema, grace)
	})
	sweep("the schemas of rebuilds that died", func(ctx context.Context) ([]string, error) {
		return postgres.DropAbandoned(ctx, m.pool, m.Config.Schema)
	})
}

// staleRetryEvery is how soon an instance whose own rebuild for a newer
// catalogue version or read-model format failed starts it again; each
// further failure doubles the wait, up to staleRetryMax. Variables for
// tests.
var (
	staleRetryEvery = time.Minute
	staleRetryMax   = time.Hour
)

// retryStaleRebuild starts careerd's own rebuild again, until ctx is done,
// after it failed, while the active read model is still built by an older
// version of this instance's catalogue (or in an older format) and no
// other rebuild of the deployment is running. Only forward: an instance
// never rebuilds again by itself towards an older catalogue (an old
// instance still running in a rolling upgrade) or another catalogue.
func (m *Main) retryStaleRebuild(ctx context.Context) {
	wait, next := staleRetryEvery, time.Now().Add(staleRetryEvery)
	m.every(ctx, min(staleRetryEvery, 5*time.Second), func(ctx context.Context) {
		m.rebuild.mu.Lock()
		last, automatic := m.rebuild.status, m.rebuild.automatic
		m.rebuild.mu.Unlock()
		if last.State != "failed" || !automatic || time.Now().Before(next) {
			return
		}
		active, ok, err := postgres.ReadActive(ctx, m.pool, m.Config.Schema)
		if err != nil || !ok || !m.olderThanOurs(active) {
			return
		}
		if running, err := postgres.RebuildRunning(ctx, m.pool, m.Config.Schema); err != nil || running {
			return // another instance's may well switch: look again later
		}
		m.log.Warn("this instance's rebuild for its catalogue and format failed; starting it again",
			"last_error", last.Error, "next_wait", (2 * wait).String())
		if _, err := m.rebuild.startAutomatic(ctx); err != nil {
			m.log.Error("rebuild", "err", err)
		}
		wait = min(2*wait, staleRetryMax)
		next = time.Now().Add(wait)
	})
}

// followEvery is how often an instance looks for a switch another
// instance made. A variable for tests.
var followEvery = 500 * time.Millisecond

// followActive switches this instance to the read model another instance
// rebuilt and activated.
func (m *Main) followActive(ctx context.Context) {
	// At once, when a switch commits: an instance still serving the old
	// model would not show the writes the new one takes from then on.
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		presence := postgres.Presence{Name: m.Config.Schema, CatalogueID: m.cat.ID(), Version: m.cat.Version(), Format: postgres.Format}
		postgres.ListenSwitches(ctx, m.pool, m.Config.Schema, presence, func() { m.followNow(ctx) })
	}()
	// And every followEvery, should a notification be lost.
	m.every(ctx, followEvery, func(ctx context.Context) { m.followNow(ctx) })
}

// followNow switches this instance to the deployment's active read model
// if it serves another one: as a switch does, its projector stops on the
// old model, and the new one serves once it holds what the old one had
// (whose position is final: the registry moved, so no batch commits on it
// any more), or what the switch recorded for it, if further; only the
// record when the old model cannot be read.
// It reports whether it switched.
func (m *Main) followNow(ctx context.Context) bool {
	active, ok, err := postgres.ReadActive(ctx, m.pool, m.Config.Schema)
	if err != nil || !ok {
		return false
	}
	if cur, isPG := m.store.Current().(*postgres.Store); !isPG || cur.Schema() == active.Schema {
		return false
	}
	// Queries wait from the moment the switch is seen (they would read a
	// model that no longer takes writes) until the new one serves.
	release := m.store.Hold()
	defer release()
	resume := m.pauseLive()
	defer resume()
	// Again under the pause: a switch of this instance's own may have run.
	if active, ok, err = postgres.ReadActive(ctx, m.pool, m.Config.Schema); err != nil || !ok {
		return false
	}
	cur, isPG := m.store.Current().(*postgres.Store)
	if !isPG || cur.Schema() == active.Schema {
		return false
	}
	target := m.postgresStore(active.Schema)
	// The positions the switch recorded for the new model: those of the
	// model it replaced, or further (that one was still catching up with
	// the one before it). This instance's old model may be behind them
	// (it served the one before without a catch-up), or gone: the retired
	// schema's sweep drops it while a slow follower still serves it.
	recReadable, recStored, recorded, rerr := postgres.ReadCatchUp(ctx, m.pool, m.Config.Schema, active.Schema)
	recorded = recorded && rerr == nil && (recReadable > 0 || recStored > 0) // 0: nothing known when it switched
	readable, stored, err := positions(ctx, cur)
	switch {
	case err == nil:
		readable, stored = max(readable, recReadable), max(stored, recStored)
	case recorded:
		// The log holds what the record names: the new model reaches it
		// without the old one.
		m.log.Warn("following the read model switch: the old model's position could not be read; the new model catches up to the position recorded for it", "schema", active.Schema,
			"old_schema", cur.Schema(), "readable", recReadable, "stored", recStored, "err", err)
		readable, stored, err = recReadable, recStored, nil
	default:
		// Neither the old model's final position nor a record: the new
		// one serves as its projector has brought it.
		m.log.Warn("following the read model switch: the old model's position could not be read, so the new model did not catch up with it; serving it anyway", "schema", active.Schema,
			"old_schema", cur.Schema(), "err", errors.Join(err, rerr))
	}
	if err == nil {
		if err := m.catchUpTo(ctx, target, readable, stored); err != nil {
			m.log.Warn("following the read model switch: the new model did not catch up with the old one; serving it anyway", "schema", active.Schema, "err", err)
		}
	}
	m.store.Set(target)
	release()
	resume()
	m.log.Info("followed the read model switch", "schema", active.Schema)
	return true
}

// positions returns the final readable position of the model a switch
// replaces and its checkpoint: they differ when it was in the middle of a
// bulk catch-up (events stored whose people are not judged yet).
func positions(ctx context.Context, from projections.Store) (readable, stored uint64, err error) {
	// Final: no batch commits on it any more. Readable first all the same,
	// so that the checkpoint is never read behind it.
	if readable, err = from.Readable(ctx); err != nil {
		return 0, 0, err
	}
	if stored, err = from.Checkpoint(ctx); err != nil {
		return 0, 0, err
	}
	return readable, max(readable, stored), nil
}

// catchUpTo brings target, for at most switchCatchUp, up to what the model
// it replaces holds: readable up to readable, and its events stored up to
// stored. Up to readable it projects the log with projectors of its own
// that publish nothing (what they apply was published from the model
// target replaces) and stop there; a projector that loses a race to
// another one writing target (the switching instance's rebuild, catching
// up) starts again. Beyond it, up to stored, the old model was in the
// middle of a bulk catch-up: target stores those events as that catch-up
// did, judging nobody (storeUnjudged), so that the live projector finds
// people behind and finishes the catch-up in bulk, as it would have on the
// old model after a restart, publishing none of it. Brought up to
// readable only, it found a short backlog and nobody behind, and published
// the catch-up's level changes as news.
func (m *Main) catchUpTo(ctx context.Context, target projections.ReadModel, readable, stored uint64) error {
	cctx, cancel := context.WithTimeout(ctx, switchCatchUp)
	defer cancel()
	for {
		at, err := target.Readable(cctx)
		if err != nil {
			return err
		}
		if at >= readable {
			break
		}
		p := &projections.Projector{Catalogue: m.cat, Source: m.eventLog, Store: target, Now: m.now, MaxCached: m.Config.maxCached()}
		p.StopAfter(readable)
		if err := p.Run(cctx); err != nil && !errors.Is(err, projections.ErrCheckpointMoved) {
			return err
		}
		if err := cctx.Err(); err != nil {
			return err
		}
	}
	return m.storeUnjudged(cctx, target, stored)
}

// storeUnjudged stores in target the log's events after its checkpoint up
// to stored, as a bulk catch-up stores them (Store.ApplyEvents): the
// people they touch are left behind, for the live projector to judge in
// bulk. A batch refused because another instance's catch-up moved the
// checkpoint first is read again from there; refused with the checkpoint
// where it was, it is an error.
func (m *Main) storeUnjudged(ctx context.Context, target projections.Store, stored uint64) error {
	refused, refusedAt := false, uint64(0)
	for {
		at, err := target.Checkpoint(ctx)
		if err != nil {
			return err
		}
		if at >= stored {
			return nil
		}
		if refused && at == refusedAt {
			return fmt.Errorf("store the events after %d up to %d unjudged: refused at a checkpoint that did not move", at, stored)
		}
		batch, err := m.eventLog.Read(ctx, at, int(min(stored-at, projections.DefaultMaxBatch)))
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(batch, func(r events.Recorded) bool { return r.Position > stored }); i >= 0 {
			batch = batch[:i]
		}
		if len(batch) == 0 {
			return fmt.Errorf("the log holds no event after %d up to %d, where the read model switched from stored events", at, stored)
		}
		err = target.ApplyEvents(ctx, batch[len(batch)-1].Position, batch)
		switch {
		case errors.Is(err, projections.ErrCheckpointMoved):
			refused, refusedAt = true, at
		case err != nil:
			return fmt.Errorf("store the events after %d up to %d unjudged: %w", at, stored, err)
		default:
			refused = false
		}
	}
}
