package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	pt "github.com/careerledger/careerledger/projections/projectionstest"
)

// notes collects the level changes a projector publishes.
type notes struct {
	mu  sync.Mutex
	got []projections.LevelChanged
}

func (n *notes) LevelChanged(_ context.Context, cs []projections.LevelChanged) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, cs...)
}

func (n *notes) all() []projections.LevelChanged {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]projections.LevelChanged(nil), n.got...)
}

var errDied = errors.New("died after the commit, before publishing")

// diesAfterCommit is a store that, once armed, commits the next batch
// that reveals level changes and then fails: the projector dies between a
// commit and the publication.
type diesAfterCommit struct {
	*postgres.Store
	armed atomic.Bool
}

func (s *diesAfterCommit) ApplyDerived(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection, derived []projections.LevelChanged) error {
	if err := s.Store.ApplyDerived(ctx, position, batch, people, derived); err != nil {
		return err
	}
	if len(derived) > 0 && s.armed.CompareAndSwap(true, false) {
		return errDied
	}
	return nil
}

var errUnreachable = errors.New("the database is unreachable")

// unreadableKept is a store whose kept level changes cannot be read.
type unreadableKept struct{ *projections.Switch }

func (unreadableKept) LastDerived(context.Context) ([]projections.LevelChanged, error) {
	return nil, errUnreachable
}

// startPublishing runs a projector of source into store, publishing to
// n; stop cancels it and checks that it stopped cleanly.
func startPublishing(t *testing.T, env *pt.Env, source projections.Source, store projections.Store, n *notes) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(bg)
	p := &projections.Projector{Catalogue: env.Cat, Source: source, Store: store, Notifier: n, MaxBatch: 1,
		Now: func() time.Time { return env.Clock.Peek() }}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("projector: %v", err)
		}
	}
}

// publishUntil runs a projector of env's log into store, publishing to n,
// until its checkpoint is head and n holds want changes, and stops it.
func publishUntil(t *testing.T, env *pt.Env, store projections.Store, n *notes, head uint64, want int) {
	t.Helper()
	defer startPublishing(t, env, env.Log, store, n)()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		cp, err := store.Checkpoint(bg)
		if err != nil {
			t.Fatal(err)
		}
		if cp >= head && len(n.all()) >= want {
			return
		}
	}
	t.Fatalf("projector did not reach %d with %d changes published (has %d)", head, want, len(n.all()))
}

// followed is a Source that tells when a projector starts following it:
// by then the projector has published again what it would.
type followed struct {
	projections.Source
	started chan struct{}
}

func (f *followed) Follow(ctx context.Context, after uint64, maxBatch int, handle func(context.Context, []events.Recorded) error) error {
	close(f.started)
	return f.Source.Follow(ctx, after, maxBatch, handle)
}

// runBriefly starts a projector of env's log into store and stops it once
// it follows the log.
func runBriefly(t *testing.T, env *pt.Env, store projections.Store, n *notes) {
	t.Helper()
	src := &followed{Source: env.Log, started: make(chan struct{})}
	stop := startPublishing(t, env, src, store, n)
	select {
	case <-src.started:
	case <-time.After(10 * time.Second):
		t.Error("the projector never followed the log")
	}
	stop()
}

// withoutPosition drops what depends on how the log was cut into batches.
func withoutPosition(cs []projections.LevelChanged) []projections.LevelChanged {
	out := make([]projections.LevelChanged, len(cs))
	for i, c := range cs {
		c.Position = 0
		out[i] = c
	}
	return out
}

// A projector that dies between a batch's commit and the publication of
// the level changes it revealed publishes them when it starts again: at
// least once, not at most once. One that stopped cleanly does not.
func TestLevelChangesOutliveADeathBetweenCommitAndPublication(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	rec := func(res events.Result, err error) uint64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	registered := rec(env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: "E1", Name: "Person E1", Department: "Ops", JoinedOn: domain.MustDate("2015-01-01")}))

	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	dying := &diesAfterCommit{Store: postgres.New(pool, cat, "")}
	store := projections.NewSwitch(dying) // as careerd serves it
	// The registration first: the batch that dies then follows a
	// checkpoint, as nearly every live batch does.
	var before notes
	publishUntil(t, env, store, &before, registered, 0)

	var head uint64
	for _, a := range []domain.Accomplishment{
		pt.Engagement(domain.SystemOperation, domain.Member, "2016-01-01", "2017-01-01", domain.Successful, true,
			domain.OperationRequirements, domain.OperationSystems),
		pt.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01"),
		pt.Assessment(domain.ServiceLevelManagement, domain.Practice, "2017-06-01"),
	} {
		head = rec(env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "E1", Accomplishment: a}))
	}

	// What a projector that does not die publishes: level 2 in each field,
	// then level 3 in one (waiting for all four, since the checkpoint can
	// reach the head before the last batch's changes are handed over).
	var clean notes
	publishUntil(t, env, postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, ""), &clean, head, 4)
	want := withoutPosition(clean.all())
	for _, c := range withoutPosition(before.all()) {
		want = slices.DeleteFunc(want, func(w projections.LevelChanged) bool { return w == c })
	}
	if len(want) == 0 {
		t.Fatal("the accomplishments revealed no level change: the test proves nothing")
	}

	dying.armed.Store(true)
	var first notes
	p := &projections.Projector{Catalogue: cat, Source: env.Log, Store: store, Notifier: &first, MaxBatch: 1,
		Now: func() time.Time { return env.Clock.Peek() }}
	rctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	if err := p.Run(rctx); !errors.Is(err, errDied) {
		t.Fatalf("Run = %v, want the death after the commit (nil: it never died)", err)
	}
	if got := first.all(); len(got) != 0 {
		t.Fatalf("published %+v before dying", got)
	}
	kept, err := dying.LastDerived(bg)
	if err != nil || len(kept) == 0 {
		t.Fatalf("LastDerived after the death = %+v, %v; want the dead batch's changes", kept, err)
	}
	// A start that cannot read them (the database unreachable) ends there:
	// going on, its first batch would replace them unpublished.
	cp, err := store.Checkpoint(bg)
	if err != nil {
		t.Fatal(err)
	}
	var blind notes
	p = &projections.Projector{Catalogue: cat, Source: env.Log, Store: unreadableKept{store}, Notifier: &blind, MaxBatch: 1,
		Now: func() time.Time { return env.Clock.Peek() }}
	if err := p.Run(rctx); !errors.Is(err, errUnreachable) {
		t.Fatalf("Run over kept changes it cannot read = %v, want %v", err, errUnreachable)
	}
	if now, err := store.Checkpoint(bg); err != nil || now != cp || len(blind.all()) != 0 {
		t.Fatalf("that run moved the checkpoint from %d to %d (%v) or published %+v", cp, now, err, blind.all())
	}
	if again, err := dying.LastDerived(bg); err != nil || !reflect.DeepEqual(again, kept) {
		t.Fatalf("LastDerived after that run = %+v, %v; want %+v", again, err, kept)
	}
	// Started again, the projector publishes what the committed batch
	// revealed, then the rest.
	var again notes
	publishUntil(t, env, store, &again, head, len(want))
	if got := withoutPosition(again.all()); !reflect.DeepEqual(got, want) {
		t.Errorf("after the restart published %+v, want %+v", got, want)
	}
	// It stopped cleanly: the next start publishes nothing again.
	var third notes
	runBriefly(t, env, store, &third)
	if got := third.all(); len(got) != 0 {
		t.Errorf("a start after a clean stop published %+v again", got)
	}
	if got, err := dying.LastDerived(bg); err != nil || len(got) != 0 {
		t.Errorf("LastDerived after a clean stop = %+v, %v; want none", got, err)
	}
}

// A withdrawal is kept with its batch like an announcement: a projector
// that dies between the commit of the batch that withdraws a change and
// its publication publishes it, withdrawn, when it starts again.
func TestWithdrawalsOutliveADeathBetweenCommitAndPublication(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	pos := recordLevels(t, env)
	dying := &diesAfterCommit{Store: postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")}
	level3 := domain.LevelChange{Field: domain.SystemOperation, On: domain.MustDate("2017-06-01"), From: 2, To: 3}
	var announced notes
	publishUntil(t, env, dying, &announced, pos[3], 4)
	if !slices.ContainsFunc(announced.all(), func(c projections.LevelChanged) bool { return c.Change == level3 && !c.Withdrawn }) {
		t.Fatalf("published %+v, want the change to level 3 announced", announced.all())
	}
	// The theme assessment that made level 3 is retracted.
	rs, err := env.Log.Read(bg, pos[2], 1)
	if err != nil || len(rs) != 1 {
		t.Fatalf("read %d: %+v, %v", pos[3], rs, err)
	}
	theme, ok := rs[0].Event.(events.ThemeAssessed)
	if !ok {
		t.Fatalf("event %d is %T, want the theme assessment", pos[3], rs[0].Event)
	}
	res, err := env.Recorder.RetractAccomplishment(bg, events.RetractAccomplishment{AccomplishmentID: theme.AccomplishmentID, Reason: "entered twice"})
	if err != nil {
		t.Fatal(err)
	}

	dying.armed.Store(true)
	var first notes
	p := &projections.Projector{Catalogue: cat, Source: env.Log, Store: dying, Notifier: &first, MaxBatch: 1,
		Now: func() time.Time { return env.Clock.Peek() }}
	rctx, cancel := context.WithTimeout(bg, 5*time.Second)
	defer cancel()
	if err := p.Run(rctx); !errors.Is(err, errDied) {
		t.Fatalf("Run = %v, want the death after the commit (nil: the retraction's batch revealed nothing)", err)
	}
	want := []projections.LevelChanged{{PersonID: "E1", Department: "Ops", Change: level3, Position: res.Position, Withdrawn: true}}
	if kept, err := dying.LastDerived(bg); err != nil || !reflect.DeepEqual(kept, want) {
		t.Fatalf("LastDerived after the death = %+v, %v; want %+v", kept, err, want)
	}
	var again notes
	publishUntil(t, env, dying, &again, res.Position, 1)
	if got := again.all(); !reflect.DeepEqual(got, want) {
		t.Errorf("after the restart published %+v, want %+v", got, want)
	}
}

// What LastDerived makes of what is kept: nothing after a batch without
// changes, nothing for another position than the checkpoint's,
// ErrDerivedUnreadable (which a projector logs, and goes on) for what it
// cannot read.
func TestLastDerivedReadsOnlyTheCheckpointsBatch(t *testing.T) {
	env, res, pool, store := registeredE1(t)
	var n notes
	publishUntil(t, env, store, &n, res.Position, 0)
	set := func(value string) {
		t.Helper()
		if _, err := pool.Exec(bg, `UPDATE `+postgres.DefaultSchema+`.projection_checkpoint SET last_derived = `+value); err != nil {
			t.Fatal(err)
		}
	}
	change := `{"personId": "E1", "field": "SERVICE_DESK", "on": "2017-06-01", "from": 2, "to": 3, "position": 1}`
	set(`'{"version": 1, "position": 999, "changes": [` + change + `]}'`)
	if got, err := store.LastDerived(bg); err != nil || len(got) != 0 {
		t.Errorf("LastDerived with another position = %+v, %v; want none", got, err)
	}
	set(`jsonb_build_object('version', 1, 'position', position, 'changes', jsonb_build_array('` + change + `'::jsonb))`)
	if got, err := store.LastDerived(bg); err != nil || len(got) != 1 || got[0].PersonID != "E1" || got[0].Change.To != 3 {
		t.Errorf("LastDerived at the checkpoint's position = %+v, %v; want the kept change", got, err)
	}
	withdrawal := `{"personId": "E1", "field": "SERVICE_DESK", "on": "2017-06-01", "from": 2, "to": 3, "position": 1, "withdrawn": true}`
	set(`jsonb_build_object('version', 2, 'position', position, 'changes', jsonb_build_array('` + withdrawal + `'::jsonb))`)
	if got, err := store.LastDerived(bg); err != nil || len(got) != 1 || got[0].Change.To != 3 || !got[0].Withdrawn {
		t.Errorf("LastDerived of a kept withdrawal (version 2) = %+v, %v; want it withdrawn", got, err)
	}
	// Version 1 knows no withdrawals: a "withdrawn" in it is not read.
	set(`jsonb_build_object('version', 1, 'position', position, 'changes', jsonb_build_array('` + withdrawal + `'::jsonb))`)
	if got, err := store.LastDerived(bg); err != nil || len(got) != 1 || got[0].Withdrawn {
		t.Errorf("LastDerived of version 1 = %+v, %v; want an announcement", got, err)
	}
	if err := store.Published(bg, res.Position+1); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.LastDerived(bg); len(got) != 1 {
		t.Errorf("Published at another position forgot the kept change")
	}
	if err := store.Apply(bg, res.Position, nil, nil); err != nil { // the people at the checkpoint again
		t.Fatal(err)
	}
	if got, err := store.LastDerived(bg); err != nil || len(got) != 0 {
		t.Errorf("LastDerived after a batch without changes = %+v, %v; want none", got, err)
	}
	for _, bad := range []string{`'{"version": 9, "position": 0}'`, `'[]'`,
		`jsonb_build_object('version', 2, 'position', position, 'changes', jsonb_build_array('[]'::jsonb))`} {
		set(bad)
		if _, err := store.LastDerived(bg); !errors.Is(err, projections.ErrDerivedUnreadable) {
			t.Errorf("LastDerived of %s = %v, want ErrDerivedUnreadable", bad, err)
		}
	}
	// A projector starting over it logs and projects on.
	head, err := env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "E1",
		Accomplishment: pt.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01")})
	if err != nil {
		t.Fatal(err)
	}
	publishUntil(t, env, store, &n, head.Position, 0)
}

// stallsFrom is a store whose ApplyDerived calls after the first n wait
// for their context to end and fail: a stop with a batch in flight.
type stallsFrom struct {
	*postgres.Store
	n     int
	calls atomic.Int32
}

func (s *stallsFrom) ApplyDerived(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection, derived []projections.LevelChanged) error {
	if int(s.calls.Add(1)) > s.n {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Store.ApplyDerived(ctx, position, batch, people, derived)
}

// recordLevels records a registration and three accomplishments that
// change E1's levels (in their third and fourth events), one at a time.
func recordLevels(t *testing.T, env *pt.Env) []uint64 {
	t.Helper()
	var out []uint64
	rec := func(res events.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Position)
	}
	rec(env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: "E1", Name: "Person E1", Department: "Ops", JoinedOn: domain.MustDate("2015-01-01")}))
	for _, a := range []domain.Accomplishment{
		pt.Engagement(domain.SystemOperation, domain.Member, "2016-01-01", "2017-01-01", domain.Successful, true,
			domain.OperationRequirements, domain.OperationSystems),
		pt.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01"),
		pt.Assessment(domain.ServiceLevelManagement, domain.Practice, "2017-06-01"),
	} {
		rec(env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "E1", Accomplishment: a}))
	}
	return out
}

// stopAtStored runs p until store's checkpoint is pos, then stops it: a
// bulk catch-up interrupted once it stored its deferred batches.
func stopAtStored(t *testing.T, p *projections.Projector, store *postgres.Store, pos uint64) {
	t.Helper()
	cancel, done := runRestarting(t, p)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		cp, err := store.Checkpoint(bg)
		if err != nil {
			t.Fatal(err)
		}
		if cp == pos {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bulk run stored up to %d, want %d", cp, pos)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// levelsLog starts a log holding recordLevels' four events and reads them
// back: the log, their positions and the events.
func levelsLog(t *testing.T, cat *domain.Catalogue) (*pt.Env, []uint64, []events.Recorded) {
	t.Helper()
	env := startLog(t, cat)
	pos := recordLevels(t, env)
	rs, err := env.Log.Read(bg, 0, 10)
	if err != nil || len(rs) != 4 {
		t.Fatalf("log: %d events, %v", len(rs), err)
	}
	return env, pos, rs
}

// A projector stopped while a batch is in flight has published the
// batches it committed: the next start publishes nothing again.
func TestStopWithABatchInFlightMarksThePublishedOnes(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	pos := recordLevels(t, env)
	store := &stallsFrom{Store: postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, ""), n: 3}
	var n notes
	ctx, cancel := context.WithCancel(bg)
	p := &projections.Projector{Catalogue: cat, Source: env.Log, Store: store, Notifier: &n, MaxBatch: 1,
		Now: func() time.Time { return env.Clock.Peek() }}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// Batches 1-3 commit (the third reveals changes); the fourth stalls.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		cp, err := store.Checkpoint(bg)
		if err != nil {
			t.Fatal(err)
		}
		if cp == pos[2] && store.calls.Load() > 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint %d after %d writes, want %d and the fourth in flight", cp, store.calls.Load(), pos[2])
		}
	}
	if len(n.all()) == 0 {
		t.Fatal("the third batch revealed no level change: the test proves nothing")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if kept, err := store.LastDerived(bg); err != nil || len(kept) != 0 {
		t.Errorf("after a stop with a batch in flight LastDerived = %+v, %v; want none (published)", kept, err)
	}
}

// The tail of an interrupted bulk catch-up is history however short: it is
// caught up in bulk, and publishes nothing, also when it comes in one batch
// (its head batch is then its first: no deferred batch before it, which
// was all that kept a head batch quiet).
func TestTailOfAnInterruptedBulkCatchUpIsNotNews(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env, pos, rs := levelsLog(t, cat)
	now := func() time.Time { return env.Clock.Peek() }
	for name, tail := range map[string][][]events.Recorded{
		"in two batches": {rs[2:3], rs[3:4]},
		"in one batch":   {rs[2:4]},
	} {
		t.Run(name, func(t *testing.T) {
			store := postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")
			// A bulk catch-up to 4 stores 1 and 2 (their people deferred) and stops.
			var first notes
			b1 := &projections.Projector{Catalogue: cat, Store: store, Notifier: &first, Now: now, Bulk: true,
				Source: &gatedHeadSource{gatedSource: &gatedSource{release: closed(), batches: [][]events.Recorded{rs[0:1], rs[1:2]}}, head: pos[3]}}
			stopAtStored(t, b1, store, pos[1])
			// Resumed with a backlog of two events, well within BulkAbove.
			var second notes
			b2 := &projections.Projector{Catalogue: cat, Store: store, Notifier: &second, Now: now, Bulk: true, BulkAbove: 100,
				Source: &gatedHeadSource{gatedSource: &gatedSource{release: closed(), batches: tail}, head: pos[3]}}
			cancel, done := runRestarting(t, b2)
			waitFor(t, store, pos[3])
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := append(first.all(), second.all()...); len(got) != 0 {
				t.Errorf("an interrupted bulk catch-up and its tail published %+v", got)
			}
		})
	}
}

// A fresh read model's catch-up is history even when the whole log comes
// in one batch: before, that batch was projected as news (the memory read
// model published the log's level changes again at every start).
func TestAFreshCatchUpInOneBatchIsNotNews(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env, pos, rs := levelsLog(t, cat)
	store := postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")
	var got notes
	b := &projections.Projector{Catalogue: cat, Store: store, Notifier: &got, Now: func() time.Time { return env.Clock.Peek() },
		Bulk: true, BulkAbove: 100,
		Source: &gatedHeadSource{gatedSource: &gatedSource{release: closed(), batches: [][]events.Recorded{rs}}, head: pos[3]}}
	cancel, done := runRestarting(t, b)
	waitFor(t, store, pos[3])
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if all := got.all(); len(all) != 0 {
		t.Errorf("a fresh read model's catch-up in one batch published %+v", all)
	}
}

// Events recorded after the head a bulk catch-up started from are news,
// also when they come in the batch that reaches that head: that batch ends
// the catch-up at the head, and the events after it are applied as they
// come, publishing what they change, as when they come in a batch of their
// own. Before, the head batch judged them with the catch-up's history and
// published none of their changes (since fresh and interrupted catch-ups
// publish nothing, also when the head batch is the first).
func TestLiveEventsInTheHeadBatchAreNews(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env, pos, rs := levelsLog(t, cat)
	now := func() time.Time { return env.Clock.Peek() }
	// Each catch-up reads its head at 3: event 4 (system operation to
	// level 3) is recorded after it started, live.
	run := func(t *testing.T, store *postgres.Store, head uint64, batches ...[]events.Recorded) []projections.LevelChanged {
		t.Helper()
		var got notes
		p := &projections.Projector{Catalogue: cat, Store: store, Notifier: &got, Now: now, Bulk: true, BulkAbove: 100,
			Source: &gatedHeadSource{gatedSource: &gatedSource{release: closed(), batches: batches}, head: head}}
		cancel, done := runRestarting(t, p)
		waitFor(t, store, batches[len(batches)-1][len(batches[len(batches)-1])-1].Position)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return got.all()
	}
	fresh := func(t *testing.T) *postgres.Store {
		return postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")
	}
	want := run(t, fresh(t), pos[2], rs[0:3], rs[3:4])
	if len(want) == 0 {
		t.Fatal("event 4 in a batch of its own after the catch-up published nothing")
	}
	for _, c := range want {
		if c.Position != pos[3] {
			t.Fatalf("the catch-up to 3 published %+v", c)
		}
	}
	t.Run("fresh, the head batch its first", func(t *testing.T) {
		if got := run(t, fresh(t), pos[2], rs[0:4]); !reflect.DeepEqual(got, want) {
			t.Errorf("published %+v, want %+v", got, want)
		}
	})
	t.Run("fresh, after a deferred batch", func(t *testing.T) {
		if got := run(t, fresh(t), pos[2], rs[0:1], rs[1:4]); !reflect.DeepEqual(got, want) {
			t.Errorf("published %+v, want %+v", got, want)
		}
	})
	t.Run("the tail of an interrupted catch-up", func(t *testing.T) {
		store := fresh(t)
		// A bulk catch-up to 4 stores 1 (its person deferred) and stops.
		b1 := &projections.Projector{Catalogue: cat, Store: store, Now: now, Bulk: true,
			Source: &gatedHeadSource{gatedSource: &gatedSource{release: closed(), batches: [][]events.Recorded{rs[0:1]}}, head: pos[3]}}
		stopAtStored(t, b1, store, pos[0])
		if got := run(t, store, pos[2], rs[1:4]); !reflect.DeepEqual(got, want) {
			t.Errorf("published %+v, want %+v", got, want)
		}
	})
}

// recordsDuringRecovery is a store that, as the people a stopped bulk
// catch-up left behind are written (the batch without events at the
// checkpoint), has record called first: an event recorded while that
// write runs (32 s at a million events).
type recordsDuringRecovery struct {
	*postgres.Store
	record func()
}

func (s *recordsDuringRecovery) ApplyDerived(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection, derived []projections.LevelChanged) error {
	if len(batch) == 0 && len(people) > 0 && s.record != nil {
		s.record()
		s.record = nil
	}
	return s.Store.ApplyDerived(ctx, position, batch, people, derived)
}

// An event recorded while a projector writes the people an interrupted
// bulk catch-up left behind is news: the catch-up's tail is what the log
// held when the run started. Before, the head was read after that write,
// and the event was judged with the tail's history, its change never
// published.
func TestAnEventRecordedDuringTheRecoveryIsNews(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	must := func(res events.Result, err error) uint64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	must(env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: "E1", Name: "Person E1", Department: "Ops", JoinedOn: domain.MustDate("2015-01-01")}))
	for _, a := range []domain.Accomplishment{
		pt.Engagement(domain.SystemOperation, domain.Member, "2016-01-01", "2017-01-01", domain.Successful, true,
			domain.OperationRequirements, domain.OperationSystems),
		pt.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01"),
	} {
		must(env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "E1", Accomplishment: a}))
	}
	rs, err := env.Log.Read(bg, 0, 10)
	if err != nil || len(rs) != 3 {
		t.Fatalf("log: %d events, %v", len(rs), err)
	}
	store := postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")
	now := func() time.Time { return env.Clock.Peek() }
	// A bulk catch-up to 3 stores 1 and 2 (their person deferred) and stops.
	b1 := &projections.Projector{Catalogue: cat, Store: store, Now: now, Bulk: true,
		Source: &gatedHeadSource{gatedSource: &gatedSource{release: closed(), batches: [][]events.Recorded{rs[0:1], rs[1:2]}}, head: rs[2].Position}}
	stopAtStored(t, b1, store, rs[1].Position)
	// The next run writes E1, left behind, and while it does E1's change
	// to level 3 in system operation is recorded.
	var live uint64
	var got notes
	b2 := &projections.Projector{Catalogue: cat, Source: env.Log, Notifier: &got, Now: now, Bulk: true, BulkAbove: 100,
		Store: &recordsDuringRecovery{Store: store, record: func() {
			live = must(env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "E1",
				Accomplishment: pt.Assessment(domain.ServiceLevelManagement, domain.Practice, "2017-06-01")}))
		}}}
	cancel, done := runRestarting(t, b2)
	waitFor(t, store, rs[2].Position+1)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []projections.LevelChanged{{PersonID: "E1", Department: "Ops", Position: live,
		Change: domain.LevelChange{Field: domain.SystemOperation, On: domain.MustDate("2017-06-01"), From: 2, To: 3}}}
	if all := got.all(); !reflect.DeepEqual(all, want) {
		t.Errorf("published %+v, want only the change recorded during the recovery, %+v", all, want)
	}
}

// stoppedAtBehind is a store whose projector is stopped as it looks for
// people left behind: right after it published the kept changes again,
// before it follows the log.
type stoppedAtBehind struct {
	*postgres.Store
	stop context.CancelFunc
}

func (s stoppedAtBehind) Behind(ctx context.Context) ([]string, error) {
	s.stop()
	<-ctx.Done()
	return nil, ctx.Err()
}

// A projector stopped after it published the kept changes again, before it
// follows the log, marks them published as a stop after a batch does: the
// next start does not publish them once more.
func TestAStopRightAfterPublishingAgainMarksThemPublished(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	reg, err := env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: "E1", Name: "Person E1", Department: "Ops", JoinedOn: domain.MustDate("2015-01-01")})
	if err != nil {
		t.Fatal(err)
	}
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	dying := &diesAfterCommit{Store: postgres.New(pool, cat, "")}
	var before notes
	publishUntil(t, env, dying, &before, reg.Position, 0)
	if _, err := env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "E1",
		Accomplishment: pt.Engagement(domain.SystemOperation, domain.Member, "2016-01-01", "2017-01-01", domain.Successful, true,
			domain.OperationRequirements, domain.OperationSystems)}); err != nil {
		t.Fatal(err)
	}
	res, err := env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "E1",
		Accomplishment: pt.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01")})
	if err != nil {
		t.Fatal(err)
	}
	dying.armed.Store(true)
	rctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	var first notes
	p := &projections.Projector{Catalogue: cat, Source: env.Log, Store: dying, Notifier: &first, MaxBatch: 10,
		Now: func() time.Time { return env.Clock.Peek() }}
	if err := p.Run(rctx); !errors.Is(err, errDied) {
		t.Fatalf("Run = %v, want the death after the commit", err)
	}
	kept, err := dying.LastDerived(bg)
	if err != nil || len(kept) == 0 || kept[0].Position != res.Position {
		t.Fatalf("kept after the death: %+v, %v; want the changes of the batch ending at %d", kept, err, res.Position)
	}

	sctx, stop := context.WithCancel(bg)
	defer stop()
	var again notes
	p = &projections.Projector{Catalogue: cat, Source: env.Log, Store: stoppedAtBehind{Store: dying.Store, stop: stop}, Notifier: &again,
		Now: func() time.Time { return env.Clock.Peek() }}
	if err := p.Run(sctx); err != nil {
		t.Fatalf("Run stopped before following = %v", err)
	}
	if got := again.all(); !reflect.DeepEqual(got, kept) {
		t.Fatalf("published again %+v, want %+v", got, kept)
	}
	if got, err := dying.LastDerived(bg); err != nil || len(got) != 0 {
		t.Errorf("kept after that stop: %+v, %v; want none (the next start would publish them once more)", got, err)
	}
}

// The changes kept with the checkpoint outlive a bulk catch-up's batches
// (which reveal none): published again at the start, they may still wait
// for NATS, and a stop then must leave them for the next start.
func TestKeptChangesOutliveABulkBatch(t *testing.T) {
	env, reg, _, store := registeredE1(t)
	var n notes
	publishUntil(t, env, store, &n, reg.Position, 0) // the projector stopped at the registration
	kept := []projections.LevelChanged{{PersonID: "E1", Department: "Ops", Position: reg.Position,
		Change: domain.LevelChange{Field: domain.SystemOperation, On: domain.MustDate("2016-02-01"), From: 0, To: 2}}}
	if err := store.ApplyDerived(bg, reg.Position, nil, nil, kept); err != nil { // the changes kept at the checkpoint
		t.Fatal(err)
	}
	next, err := env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "E1",
		Accomplishment: pt.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01")})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := env.Log.Read(bg, reg.Position, 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("the event after the checkpoint: %+v, %v", recs, err)
	}
	if err := store.ApplyEvents(bg, next.Position, recs); err != nil {
		t.Fatal(err)
	}
	if got, err := store.LastDerived(bg); err != nil || !reflect.DeepEqual(got, kept) {
		t.Errorf("kept after a bulk batch: %+v, %v; want %+v", got, err, kept)
	}
	if err := store.Published(bg, next.Position); err != nil {
		t.Fatal(err)
	}
	if got, err := store.LastDerived(bg); err != nil || len(got) != 0 {
		t.Errorf("kept after they were published: %+v, %v; want none", got, err)
	}
}

// registeredE1 starts a log with E1 registered in it, and a PostgreSQL
// store of the test's own.
func registeredE1(t *testing.T) (*pt.Env, events.Result, *pgxpool.Pool, *postgres.Store) {
	t.Helper()
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	res, err := env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: "E1", Name: "Person E1", Department: "Ops", JoinedOn: domain.MustDate("2015-01-01")})
	if err != nil {
		t.Fatal(err)
	}
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	return env, res, pool, postgres.New(pool, cat, "")
}
