package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// Crash points inside the store's transaction are triggers: armed by the
// test for one Apply, they fail the n-th row written to a table (mid-COPY)
// or the checkpoint's advance (the last statement before COMMIT), either
// with an error or by killing the backend process, which is what a crash of
// the database session looks like. The triggers find their table's entry
// through its key (a name, like TG_TABLE_NAME, so that the comparison can
// use the index): they run inside Apply, which turns sequential scans off,
// and a sequential scan priced that high is JIT-compiled on every row.
const crashSetup = `
CREATE SCHEMA crashtest;
CREATE TABLE crashtest.arm (tbl name PRIMARY KEY, nth int NOT NULL, mode text NOT NULL);
CREATE FUNCTION crashtest.point() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	a record;
	n int;
BEGIN
	SELECT * INTO a FROM crashtest.arm WHERE tbl = TG_TABLE_NAME;
	IF NOT FOUND THEN
		RETURN NEW;
	END IF;
	n := coalesce(nullif(current_setting('crashtest.n_' || TG_TABLE_NAME, true), ''), '0')::int + 1;
	PERFORM set_config('crashtest.n_' || TG_TABLE_NAME, n::text, true);
	IF n < a.nth THEN
		RETURN NEW;
	END IF;
	IF a.mode = 'terminate' THEN
		PERFORM pg_terminate_backend(pg_backend_pid());
		PERFORM pg_sleep(10);
	END IF;
	RAISE EXCEPTION 'crash test: % row %', TG_TABLE_NAME, n;
END $$;
`

var crashTables = []string{"person_events", "people", "memberships", "accomplishments", "level_periods",
	"level_changes", "distribution_periods", "distribution_deltas", "projection_checkpoint"}

func installCrashPoints(t *testing.T, admin *pgxpool.Pool) {
	t.Helper()
	if _, err := admin.Exec(bg, crashSetup); err != nil {
		t.Fatal(err)
	}
	for _, table := range crashTables {
		when := "BEFORE INSERT"
		switch table {
		case "projection_checkpoint":
			// Only the advance, not the row lock taken at the start.
			when = "BEFORE UPDATE OF position"
		case "people":
			// New people are inserted, known ones updated in place.
			when = "BEFORE INSERT OR UPDATE"
		}
		sql := fmt.Sprintf(`CREATE TRIGGER crash %s ON careerledger.%s FOR EACH ROW `, when, table)
		if table == "projection_checkpoint" {
			sql += `WHEN (NEW.position <> OLD.position) `
		}
		if _, err := admin.Exec(bg, sql+`EXECUTE FUNCTION crashtest.point()`); err != nil {
			t.Fatal(err)
		}
	}
}

// faultKind is where a projector run is made to fail.
type faultKind struct {
	name  string
	table string // for trigger faults
	mode  string // "raise" or "terminate" for trigger faults
}

func crashFaults() []faultKind {
	fs := []faultKind{
		{name: "stop after a commit"},      // a clean stop between batches
		{name: "kill the run at random"},   // the run's context cancelled at a random moment
		{name: "load fails"},               // PersonEvents fails: mid-batch, before the transaction
		{name: "fail before apply"},        // the batch is folded but never written
		{name: "cancel apply at random"},   // Apply's context cancelled after a random delay
		{name: "terminate backends"},       // pg_terminate_backend from another connection at a random moment
		{name: "lost commit notification"}, // Apply commits but the projector sees an error
		// The same, for a batch that revealed level changes: they then
		// depend on the next run to go out.
		{name: "lost commit of level changes"},
		// The next run cannot read the changes kept with the checkpoint:
		// it must stop before a batch of its own replaces them.
		{name: "kept changes unreadable"},
	}
	for _, table := range crashTables {
		for _, mode := range []string{"raise", "terminate"} {
			fs = append(fs, faultKind{name: mode + " in " + table, table: table, mode: mode})
		}
	}
	return fs
}

var errInjected = errors.New("injected fault")

// faultyStore wraps the store of one projector run and fails it once, at the
// first opportunity from batch atBatch on.
type faultyStore struct {
	*postgres.Store
	admin   *pgxpool.Pool
	kind    faultKind
	atBatch int
	delay   time.Duration
	target  uint64 // stop the run once this position is applied
	stopRun context.CancelFunc

	mu      sync.Mutex
	batches int
	fired   bool
	kept    []keptBatch // what each ApplyDerived of this run was to keep
}

// keptBatch is a batch's end and the level changes it revealed.
type keptBatch struct {
	position uint64
	changes  []projections.LevelChanged
}

func (s *faultyStore) due() bool { return !s.fired && s.batches+1 >= s.atBatch }

func (s *faultyStore) PersonEvents(ctx context.Context, ids []string) (map[string][]events.Recorded, error) {
	s.mu.Lock()
	if s.kind.name == "load fails" && s.due() {
		s.fired = true
		s.mu.Unlock()
		return nil, errInjected
	}
	s.mu.Unlock()
	return s.Store.PersonEvents(ctx, ids)
}

// LastDerived fails once for "kept changes unreadable", as a database
// that cannot be reached would.
func (s *faultyStore) LastDerived(ctx context.Context) ([]projections.LevelChanged, error) {
	s.mu.Lock()
	if s.kind.name == "kept changes unreadable" && !s.fired {
		s.fired = true
		s.mu.Unlock()
		return nil, errInjected
	}
	s.mu.Unlock()
	return s.Store.LastDerived(ctx)
}

func (s *faultyStore) Apply(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection) error {
	return s.fault(ctx, position, batch, false, func(ctx context.Context) error { return s.Store.Apply(ctx, position, batch, people) })
}

// ApplyDerived is Apply with level changes kept (a projector with a
// Notifier): the same faults strike it.
func (s *faultyStore) ApplyDerived(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection, derived []projections.LevelChanged) error {
	if len(derived) > 0 {
		s.mu.Lock()
		s.kept = append(s.kept, keptBatch{position: position, changes: slices.Clone(derived)})
		s.mu.Unlock()
	}
	return s.fault(ctx, position, batch, len(derived) > 0, func(ctx context.Context) error {
		return s.Store.ApplyDerived(ctx, position, batch, people, derived)
	})
}

// ApplyEvents is a bulk catch-up's batch: the same faults strike it.
func (s *faultyStore) ApplyEvents(ctx context.Context, position uint64, batch []events.Recorded) error {
	return s.fault(ctx, position, batch, false, func(ctx context.Context) error { return s.Store.ApplyEvents(ctx, position, batch) })
}

// fault runs apply, the store's write of a batch, failing it as s.kind says.
// revealing is whether the batch revealed level changes.
func (s *faultyStore) fault(ctx context.Context, position uint64, batch []events.Recorded, revealing bool, apply func(ctx context.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	due := s.due()
	s.batches++
	var err error
	switch {
	case !due || s.kind.name == "load fails" || s.kind.name == "kept changes unreadable" || s.kind.name == "kill the run at random" || s.kind.name == "terminate backends":
		err = apply(ctx)
	case s.kind.name == "stop after a commit":
		if err = apply(ctx); err == nil {
			s.fired = true
			s.stopRun()
		}
	case s.kind.name == "fail before apply":
		s.fired = true
		return errInjected
	case s.kind.name == "cancel apply at random":
		actx, cancel := context.WithCancel(ctx)
		timer := time.AfterFunc(s.delay, cancel)
		err = apply(actx)
		timer.Stop()
		cancel()
		s.fired = err != nil
	case s.kind.name == "lost commit notification":
		if err = apply(ctx); err == nil {
			s.fired = true
			return errInjected
		}
	case s.kind.name == "lost commit of level changes":
		if err = apply(ctx); err == nil && revealing {
			s.fired = true
			return errInjected
		}
	default: // a crash point in the transaction
		nth := 1
		if s.kind.table == "person_events" && len(batch) > 0 {
			nth = 1 + rand.IntN(len(batch))
		}
		if _, err := s.admin.Exec(bg, `INSERT INTO crashtest.arm VALUES ($1, $2, $3)`, s.kind.table, nth, s.kind.mode); err != nil {
			return fmt.Errorf("arm: %w", err)
		}
		err = apply(ctx)
		if _, derr := s.admin.Exec(bg, `DELETE FROM crashtest.arm`); derr != nil {
			return fmt.Errorf("disarm: %w", derr)
		}
		s.fired = err != nil // no row of that table in this batch: try the next one
	}
	if err == nil && position >= s.target {
		s.stopRun()
	}
	return err
}

// TestCrashReplaysToTheSameState kills the projector at every kind of point
// (between batches, mid-batch before the transaction, inside the
// transaction mid-COPY and just before COMMIT, by error, cancellation and
// by killing the database session, and after COMMIT before the projector
// learned of it), restarts a new projector each time as careerd does, while
// events keep arriving, and checks that the result equals a clean rebuild:
// every table, every query, and the events 1..head each exactly once.
// Every run publishes level changes, as careerd's projector does: each
// change a committed batch revealed must have gone out, whichever way its
// run ended (at least once).
func TestCrashReplaysToTheSameState(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	base := pgtest.NewPool(t, postgres.DefaultSchema)
	admin := newPool(t, base, "crash_admin")
	pool := newPool(t, base, "crash_projector")
	installCrashPoints(t, admin)
	store := postgres.New(pool, cat, "")

	r := rand.New(rand.NewPCG(7, 7))
	w := projectionstest.NewWorkload(7, cat, env.Recorder, "C", 20)
	if _, err := w.Run(bg, 250); err != nil {
		t.Fatal(err)
	}
	// More events arrive while the projector crashes and restarts.
	recording := make(chan error, 1)
	go func() {
		_, err := w.Run(bg, 100)
		recording <- err
	}()
	recordingDone := false

	start := time.Now()
	faults := crashFaults()
	fired := map[string]int{}
	const wantFired = 2
	covered := func() bool {
		want := wantFired
		if time.Since(start) > 15*time.Second {
			want = 1 // a slow machine: once each is enough
		}
		for _, f := range faults {
			if fired[f.name] < want {
				return false
			}
		}
		return true
	}
	iters, topUps, leftBehind := 0, 0, 0
	var sent notes            // what every run published
	var committed []keptBatch // what the batches that committed revealed
	diedOwing := 0            // runs that ended with a committed batch's changes unpublished
	caughtUp := 0             // the last run after which the read model held the whole log
	for iter := 0; ; iter++ {
		iters = iter
		if !recordingDone {
			select {
			case err := <-recording:
				if err != nil {
					t.Fatal(err)
				}
				recordingDone = true
			default:
			}
		}
		head, err := env.Log.Head(bg)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := store.Readable(bg)
		if err != nil {
			t.Fatal(err)
		}
		if cp == head && recordingDone {
			caughtUp = iter
			if covered() {
				break
			}
			// Not every fault has fired twice yet: give it more to chew on.
			// (A rare one, on a loaded machine, may need hundreds of runs.)
			if topUps > 400 {
				t.Fatalf("after %d top-ups some faults never fired: %v", topUps, fired)
			}
			topUps++
			if _, err := w.Run(bg, 40); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if iter-caughtUp > 600 {
			t.Fatalf("not caught up after %d restarts (checkpoint %d, head %d, faults fired %v)", iter-caughtUp, cp, head, fired)
		}
		kind := faults[iter%len(faults)]
		ctx, cancel := context.WithCancel(bg)
		fs := &faultyStore{Store: store, admin: admin, kind: kind, atBatch: 1 + r.IntN(3),
			delay: time.Duration(r.IntN(3000)) * time.Microsecond, target: head, stopRun: cancel}
		// Half the runs write rows by COPY, the others in the pipeline
		// (small batches), whatever their size: both must crash cleanly.
		store.CopyAbove = []int{1, -1}[r.IntN(2)]
		// Half the runs would build the secondary indexes after the first
		// people of the empty read model (only the first people written
		// can): whatever crashes, the indexes end as migrated.
		store.ReindexAbove = []int{1, -1}[r.IntN(2)]
		// Half the runs catch up in bulk: their crashes leave people behind
		// that the next run must write before anything else.
		p := &projections.Projector{Catalogue: cat, Source: env.Log, Store: fs, Notifier: &sent, MaxBatch: 2 + r.IntN(10),
			Bulk: r.IntN(2) == 0, Now: func() time.Time { return env.Clock.Peek() }}
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		// The faults that strike from outside, at a random moment.
		outside := make(chan struct{})
		delay := time.Duration(r.IntN(5000)) * time.Microsecond
		switch kind.name {
		case "kill the run at random":
			go func() {
				defer close(outside)
				select {
				case <-time.After(delay):
					fs.mu.Lock()
					fs.fired = true
					fs.mu.Unlock()
					cancel()
				case <-ctx.Done():
				}
			}()
		case "terminate backends":
			go func() {
				defer close(outside)
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return
				}
				var n int
				err := admin.QueryRow(bg, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
					WHERE datname = current_database() AND application_name = 'crash_projector' AND state <> 'idle') k`).Scan(&n)
				if err == nil && n > 0 {
					fs.mu.Lock()
					fs.fired = true
					fs.mu.Unlock()
				}
			}()
		default:
			close(outside)
		}
		var runErr error
		select {
		case runErr = <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("projector run %d (%s) did not end", iter, kind.name)
		}
		cancel()
		<-outside
		if kind.name == "terminate backends" {
			// A backend signalled as it went idle ends after the run,
			// under a connection back in the pool: start the checks below
			// (and the next run, as a restarted process would) on fresh ones.
			pool.Reset()
		}
		fs.mu.Lock()
		if fs.fired {
			fired[kind.name]++
		}
		injected := fs.fired && kind.name != "stop after a commit" && kind.name != "kill the run at random" && kind.name != "terminate backends"
		fs.mu.Unlock()
		if injected && runErr == nil {
			t.Errorf("run %d (%s): the fault fired but Run returned nil", iter, kind.name)
		}
		if !fs.fired && runErr != nil {
			t.Errorf("run %d (%s): Run failed without a fault: %v", iter, kind.name, runErr)
		}
		// Whatever happened, the committed state is whole: the checkpoint
		// says exactly which events are stored.
		var n, hi, cpNow int64
		if err := admin.QueryRow(bg, `SELECT count(*), coalesce(max(position), 0),
			coalesce((SELECT position FROM careerledger.projection_checkpoint), 0) FROM careerledger.person_events`).Scan(&n, &hi, &cpNow); err != nil {
			t.Fatal(err)
		}
		if n != cpNow || hi != cpNow {
			t.Fatalf("after run %d (%s): %d events stored up to %d, checkpoint %d", iter, kind.name, n, hi, cpNow)
		}
		// A run's batches commit in order and it stops at the first that
		// fails: those up to the checkpoint committed.
		fs.mu.Lock()
		for _, k := range fs.kept {
			if k.position <= uint64(cpNow) {
				committed = append(committed, k)
			}
		}
		fs.mu.Unlock()
		if owed, err := store.LastDerived(bg); err != nil {
			t.Fatal(err)
		} else if len(owed) > 0 {
			diedOwing++ // the next run publishes them again
		}
		if behind, err := store.Behind(bg); err != nil {
			t.Fatal(err)
		} else if len(behind) > 0 {
			leftBehind++ // the next run writes them first
		}
	}
	if leftBehind == 0 {
		t.Error("no bulk run stopped with people left behind: their recovery was not exercised")
	}
	t.Logf("%d projector runs in %s, %d top-ups, %d left people behind, %d left level changes to publish again; faults fired: %v",
		iters, time.Since(start), topUps, leftBehind, diedOwing, fired)

	// At least once: every change a committed batch revealed went out, by
	// the run that committed it or, when that run died first, by the next
	// start (here, the one careerd makes after the last run).
	runBriefly(t, env, store, &sent)
	published := map[projections.LevelChangedV2]bool{}
	for _, c := range sent.all() {
		published[c.V2()] = true
	}
	changes := 0
	for _, k := range committed {
		for _, c := range k.changes {
			changes++
			if !published[c.V2()] {
				t.Errorf("the batch ending at %d revealed %+v, which never went out", k.position, c.V2())
			}
		}
	}
	if changes == 0 || diedOwing == 0 {
		t.Errorf("%d changes revealed by committed batches, %d runs left some to publish again: publication was not exercised", changes, diedOwing)
	}

	head, err := env.Log.Head(bg)
	if err != nil {
		t.Fatal(err)
	}
	checkEventsComplete(t, env, store, admin, head)
	sameDefinitions(t, "after the crashes", readModelIndexes(t, admin), readModelIndexes(t, pgtest.NewPool(t, postgres.DefaultSchema)))
	clean := equalsCleanRebuild(t, env, head, admin, store, w.IDs)
	// The standings stored with their explanation at projection time (not
	// ordered by the store: compare them by field).
	stored := func(st *postgres.Store, id string) string {
		fs, catID, version, err := st.StoredStanding(bg, id)
		if err != nil {
			t.Fatalf("stored standing of %s: %v", id, err)
		}
		sort.Slice(fs, func(i, j int) bool { return fs[i].Field < fs[j].Field })
		b, err := json.Marshal(fs)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%s %d %s", catID, version, b)
	}
	for _, id := range w.IDs {
		if got, want := stored(store, id), stored(clean, id); got != want {
			t.Errorf("stored standing of %s:\n got %s\nwant %s", id, got, want)
		}
	}
}
