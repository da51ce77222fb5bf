package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// diesAfterCommit is a store whose first ApplyDerived commits and then
// fails: the projector dies between a commit and the publication.
type diesAfterCommit struct {
	*postgres.Store
	died atomic.Bool
}

func (s *diesAfterCommit) ApplyDerived(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection, derived []projections.LevelChanged) error {
	if err := s.Store.ApplyDerived(ctx, position, batch, people, derived); err != nil {
		return err
	}
	if s.died.CompareAndSwap(false, true) {
		return errDied
	}
	return nil
}

// publishUntil runs a projector of env's log into store, publishing to n,
// until its checkpoint is head and n holds want changes, and stops it.
func publishUntil(t *testing.T, env *pt.Env, store projections.Store, n *notes, head uint64, want int) {
	t.Helper()
	ctx, cancel := context.WithCancel(bg)
	p := &projections.Projector{Catalogue: env.Cat, Source: env.Log, Store: store, Notifier: n, MaxBatch: 1000,
		Now: func() time.Time { return env.Clock.Peek() }}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("projector: %v", err)
		}
	}()
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
// least once, not at most once.
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
	rec(env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: "E1", Name: "Person E1", Department: "Ops", JoinedOn: domain.MustDate("2015-01-01")}))
	var head uint64
	for _, a := range []domain.Accomplishment{
		pt.Engagement(domain.SystemOperation, domain.Member, "2016-01-01", "2017-01-01", domain.Successful, true,
			domain.OperationRequirements, domain.OperationSystems),
		pt.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01"),
		pt.Assessment(domain.ServiceLevelManagement, domain.Practice, "2017-06-01"),
	} {
		head = rec(env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: "E1", Accomplishment: a}))
	}

	// What a projector that does not die publishes.
	var clean notes
	publishUntil(t, env, postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, ""), &clean, head, 1)
	want := withoutPosition(clean.all())

	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	dying := &diesAfterCommit{Store: postgres.New(pool, cat, "")}
	store := projections.NewSwitch(dying) // as careerd serves it
	var first notes
	p := &projections.Projector{Catalogue: cat, Source: env.Log, Store: store, Notifier: &first, MaxBatch: 1000,
		Now: func() time.Time { return env.Clock.Peek() }}
	rctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	if err := p.Run(rctx); !errors.Is(err, errDied) {
		t.Fatalf("Run = %v, want the death after the commit (nil: it never died)", err)
	}
	if cp, err := dying.Checkpoint(bg); err != nil || cp == 0 {
		t.Fatalf("checkpoint %d, %v: the batch did not commit", cp, err)
	}
	if got := first.all(); len(got) != 0 {
		t.Fatalf("published %+v before dying", got)
	}
	// Started again, the projector publishes what the committed batch
	// revealed, then the rest.
	var again notes
	publishUntil(t, env, store, &again, head, len(want))
	if got := withoutPosition(again.all()); !reflect.DeepEqual(got, want) {
		t.Errorf("after the restart published %+v, want %+v", got, want)
	}

	// A batch written without changes (here: the people at the checkpoint
	// again) leaves nothing to publish again.
	if err := dying.Store.Apply(bg, head, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := dying.LastDerived(bg); err != nil || len(got) != 0 {
		t.Errorf("LastDerived after a batch without changes = %+v, %v; want none", got, err)
	}
	// Changes kept with another position than the checkpoint's (left by a
	// release that does not write the column) are not published again.
	if _, err := pool.Exec(bg, `UPDATE `+postgres.DefaultSchema+`.projection_checkpoint SET last_derived =
		'{"position": 1, "changes": [{"personId": "E1", "field": "SERVICE_DESK", "on": "2017-06-01", "from": 2, "to": 3, "position": 1}]}'`); err != nil {
		t.Fatal(err)
	}
	if got, err := dying.LastDerived(bg); err != nil || len(got) != 0 {
		t.Errorf("LastDerived with a stale position = %+v, %v; want none", got, err)
	}
	if _, err := pool.Exec(bg, `UPDATE `+postgres.DefaultSchema+`.projection_checkpoint SET last_derived = jsonb_set(last_derived, '{position}', to_jsonb(position))`); err != nil {
		t.Fatal(err)
	}
	if got, err := dying.LastDerived(bg); err != nil || len(got) != 1 || got[0].PersonID != "E1" || got[0].Change.To != 3 {
		t.Errorf("LastDerived at the checkpoint's position = %+v, %v; want the kept change", got, err)
	}
}
