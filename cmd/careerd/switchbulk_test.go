package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// midBulkSwitch is a deployment whose serving read model is in the middle
// of a bulk catch-up, as the tail of a catch-up that was stopped and
// started again leaves it: events stored up to its checkpoint whose people
// are not judged yet (its readable position is where that started), and
// the log beyond. A restart would finish that catch-up in bulk, publishing
// none of it. The projector lock is held by the test until release, so
// that nothing projects but the test.
type midBulkSwitch struct {
	m        *Main
	old      *postgres.Store
	readable uint64 // the old model's readable position
	stored   uint64 // its checkpoint
	head     uint64 // the log's head
	release  func() // hands the projector lock to careerd
}

// appendLevelOne appends a registration, an engagement and an assessment
// for id, which take them to level 1 in system operation with the last
// event, and returns the positions.
func appendLevelOne(t *testing.T, m *Main, id string) []uint64 {
	t.Helper()
	ctx := context.Background()
	var out []uint64
	last := uint64(0)
	for _, e := range []events.Event{
		events.PersonRegistered{PersonID: id, Name: "n", Department: "Ops", JoinedOn: domain.MustDate("2019-04-01")},
		events.EngagementRecorded{AccomplishmentID: id + ".e", Field: "SYSTEM_OPERATION", Title: "Night shift", Role: "PARTICIPANT",
			StartedOn: domain.MustDate("2023-01-01"), Outcome: "ONGOING", WithinBudget: true, Complexity: []string{}},
		events.ThemeAssessed{AccomplishmentID: id + ".t", Theme: "SERVICE_SUPPORT_MANAGEMENT", Proficiency: "BASIC", AssessedOn: domain.MustDate("2023-02-01")},
	} {
		pos, _, err := m.eventLog.Append(ctx, id, last, "", e, time.Now(), "")
		if err != nil {
			t.Fatalf("append for %s: %v", id, err)
		}
		out = append(out, pos)
		last = pos
	}
	return out
}

func newMidBulkSwitch(t *testing.T) *midBulkSwitch {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := postgres.ProjectorLockKey(cfg.Schema)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key) //nolint:errcheck // the session ends with the release anyway
			conn.Release()
		}
	}
	t.Cleanup(release)
	m := start(t, cfg)
	old, ok := m.store.Current().(*postgres.Store)
	if !ok {
		t.Fatalf("the serving store is a %T, want a postgres store", m.store.Current())
	}
	s := &midBulkSwitch{m: m, old: old, release: release}
	// A1 is projected (judged); A2's events are stored unjudged by a bulk
	// catch-up that has not reached its head; A3's are beyond its
	// checkpoint.
	s.readable = appendLevelOne(t, m, "A1")[2]
	s.stored = appendLevelOne(t, m, "A2")[2]
	s.head = appendLevelOne(t, m, "A3")[2]
	p := &projections.Projector{Catalogue: m.cat, Source: m.eventLog, Store: old, Now: m.now}
	p.StopAfter(s.readable)
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	deferred, err := m.eventLog.Read(ctx, s.readable, int(s.stored-s.readable))
	if err != nil || len(deferred) != int(s.stored-s.readable) {
		t.Fatalf("read the log after %d: %d events, %v", s.readable, len(deferred), err)
	}
	if err := old.ApplyEvents(ctx, s.stored, deferred); err != nil {
		t.Fatal(err)
	}
	if r, err := old.Readable(ctx); err != nil || r != s.readable {
		t.Fatalf("the old model is readable up to %d (%v), want %d", r, err, s.readable)
	}
	return s
}

// newTarget returns a rebuild's read model that has reached the old
// model's readable position (a rebuild reaches the log's head, and
// switches once the serving model is readable as far).
func (s *midBulkSwitch) newTarget(t *testing.T) (projections.ReadModel, string) {
	t.Helper()
	ctx := context.Background()
	schema, claim, err := s.m.claimSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(claim.Release)
	target, err := s.m.newReadModel(ctx, schema, claim)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.m.catchUpTo(ctx, target, s.readable, s.readable); err != nil {
		t.Fatal(err)
	}
	return target, schema
}

// announcedAfterTheSwitch hands the projector lock to careerd, now serving
// the new model, waits until it is readable up to the log's head, appends
// A4's level change and returns every level change published until A4's.
func (s *midBulkSwitch) announcedAfterTheSwitch(t *testing.T, sub <-chan projections.LevelChanged) []projections.LevelChanged {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s.release()
	if err := s.m.store.WaitFor(ctx, s.head); err != nil {
		t.Fatalf("the new model did not reach the head %d: %v", s.head, err)
	}
	marker := appendLevelOne(t, s.m, "A4")[2]
	var got []projections.LevelChanged
	for {
		select {
		case c := <-sub:
			got = append(got, c)
			if c.PersonID == "A4" {
				// Anything published twice would come by now too.
				time.Sleep(300 * time.Millisecond)
				for {
					select {
					case c := <-sub:
						got = append(got, c)
					default:
						return got
					}
				}
			}
		case <-ctx.Done():
			t.Fatalf("A4's level change (position %d) was not published; got %+v", marker, got)
		}
	}
}

// checkOnlyTheMarker fails unless the only level changes published after
// the switch are A4's, each once: the catch-up the old model was in the
// middle of (A2's events stored, A3's beyond) is history, as a restart
// would have it, not news.
func checkOnlyTheMarker(t *testing.T, got []projections.LevelChanged) {
	t.Helper()
	var news []string
	seen := map[string]bool{}
	ok := len(got) > 0
	for _, c := range got {
		n := fmt.Sprintf("%s %s %d->%d on %s at %d", c.PersonID, c.Change.Field, c.Change.From, c.Change.To, c.Change.On, c.Position)
		news = append(news, n)
		ok = ok && c.PersonID == "A4" && !c.Withdrawn && !seen[n]
		seen[n] = true
	}
	if !ok {
		t.Errorf("published after the switch: %q; want only A4's level changes, each once (the bulk catch-up's A2 and A3 are not news)", news)
	}
}

// TestASwitchDuringABulkCatchUpAnnouncesNoneOfIt: a rebuild switches while
// the serving model is in the middle of a bulk catch-up. The new model
// holds what the old one held, its stored events included, and the live
// projector finishes the catch-up on it in bulk, as after a restart: it
// publishes no level change of the catch-up, and what comes after as
// before. Before, the new model was brought up to the old one's readable
// position only, and the live projector, finding a short backlog and
// nobody behind, published the catch-up's changes as news.
func TestASwitchDuringABulkCatchUpAnnouncesNoneOfIt(t *testing.T) {
	s := newMidBulkSwitch(t)
	target, schema := s.newTarget(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := s.m.broadcast.Subscribe(ctx)
	catchUp := func(ctx context.Context, readable, stored uint64) error {
		return s.m.catchUpTo(ctx, target, readable, stored)
	}
	if err := s.m.switchTo(ctx, target, schema, false, catchUp); err != nil {
		t.Fatal(err)
	}
	checkNewModelHoldsTheOld(t, s, target)
	checkOnlyTheMarker(t, s.announcedAfterTheSwitch(t, sub))
}

// TestAFollowDuringABulkCatchUpAnnouncesNoneOfIt: the same, for an
// instance following another's switch.
func TestAFollowDuringABulkCatchUpAnnouncesNoneOfIt(t *testing.T) {
	s := newMidBulkSwitch(t)
	_, schema := s.newTarget(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := s.m.broadcast.Subscribe(ctx)
	// Another instance's switch, which moved the registry and caught the
	// new model up with the readable position only.
	if _, err := postgres.SwitchActive(ctx, s.m.pool, s.m.Config.Schema, postgres.Active{Schema: schema,
		CatalogueID: s.m.cat.ID(), CatalogueVersion: s.m.cat.Version(), Format: postgres.Format}, false); err != nil {
		t.Fatal(err)
	}
	// It follows at the notification (or here, whichever comes first).
	deadline := time.Now().Add(10 * time.Second)
	for cur, _ := s.m.store.Current().(*postgres.Store); cur == nil || cur.Schema() != schema; cur, _ = s.m.store.Current().(*postgres.Store) {
		if time.Now().After(deadline) {
			t.Fatal("the instance did not follow the switch")
		}
		s.m.followNow(ctx)
	}
	checkNewModelHoldsTheOld(t, s, s.m.store.Current())
	checkOnlyTheMarker(t, s.announcedAfterTheSwitch(t, sub))
}

// checkNewModelHoldsTheOld: the model switched to is readable where the
// old one was, and stores what it stored.
func checkNewModelHoldsTheOld(t *testing.T, s *midBulkSwitch, target projections.Store) {
	t.Helper()
	ctx := context.Background()
	readable, err := target.Readable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := target.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if readable != s.readable || stored != s.stored {
		t.Errorf("the new model is readable up to %d and stores up to %d; the old one %d and %d", readable, stored, s.readable, s.stored)
	}
}

// TestAFollowerThatCannotReadTheOldModelSaysSo: an instance following
// another's switch whose old model is gone (dropped, unreachable) cannot
// bring the new model up to it; it serves the new one all the same, and
// says so. Before, it logged only that it had followed the switch.
func TestAFollowerThatCannotReadTheOldModelSaysSo(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	logs := &logLines{}
	m := startLogging(t, cfg, logs)
	old, ok := m.store.Current().(*postgres.Store)
	if !ok {
		t.Fatalf("the serving store is a %T, want a postgres store", m.store.Current())
	}
	ctx := context.Background()
	schema, claim, err := m.claimSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(claim.Release)
	if _, err := m.newReadModel(ctx, schema, claim); err != nil {
		t.Fatal(err)
	}
	// The instance's own follow (its listener, its half-second look) waits
	// until the old model is gone: it would otherwise follow in between.
	m.liveMu.Lock()
	if _, err := postgres.SwitchActive(ctx, m.pool, m.Config.Schema, postgres.Active{Schema: schema,
		CatalogueID: m.cat.ID(), CatalogueVersion: m.cat.Version(), Format: postgres.Format}, false); err != nil {
		m.liveMu.Unlock()
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{old.Schema()}.Sanitize()+" CASCADE")
	m.liveMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for cur, _ := m.store.Current().(*postgres.Store); cur == nil || cur.Schema() != schema; cur, _ = m.store.Current().(*postgres.Store) {
		if time.Now().After(deadline) {
			t.Fatal("the instance did not follow the switch")
		}
		m.followNow(ctx)
	}
	const msg = "following the read model switch: the old model's position could not be read, so the new model did not catch up with it; serving it anyway"
	if len(logs.find(t, msg, map[string]string{"schema": schema, "old_schema": old.Schema()})) == 0 {
		t.Errorf("no warning that the new model serves without catching up; logs:\n%s", logs.String())
	}
}
