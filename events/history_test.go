package events

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/careerledger/careerledger/domain"
	"github.com/nats-io/nats.go"
)

// logHistory is a History that answers with the log's own events of a
// person up to upTo (the log's head when upTo is 0), as a read model that
// has applied the log that far does; edit makes it a read model that lost,
// gained or moved events, which the Recorder must not believe.
type logHistory struct {
	l     *Log
	upTo  uint64
	edit  func(rs []Recorded, upTo uint64) ([]Recorded, uint64)
	err   error
	block bool // wait until the read is given up, then fail
	reads int
}

func (h *logHistory) PersonHistory(ctx context.Context, personID string) ([]Recorded, uint64, error) {
	h.reads++
	if h.block {
		<-ctx.Done()
		return nil, 0, ctx.Err()
	}
	if h.err != nil {
		return nil, 0, h.err
	}
	upTo := h.upTo
	if upTo == 0 {
		head, err := h.l.Head(ctx)
		if err != nil {
			return nil, 0, err
		}
		upTo = head
	}
	rs, _, err := h.l.Load(ctx, personID)
	if err != nil {
		return nil, 0, err
	}
	rs = slices.DeleteFunc(rs, func(r Recorded) bool { return r.Position > upTo })
	if h.edit != nil {
		rs, upTo = h.edit(rs, upTo)
	}
	return rs, upTo, nil
}

// historyPerson records E1001's registration and two accomplishments under
// keys with one Recorder, then registers E1002 (so that a History's
// position is past E1001's last event, as a read model's usually is), and
// returns the accomplishments' results.
func historyPerson(t *testing.T, l *Log) (first, second Result) {
	t.Helper()
	ctx := ctxT(t)
	r := newRecorder(l)
	mustRegister(t, r, "E1001")
	var err error
	if first, err = r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1001", Accomplishment: sampleEngagement("Backbone migration"), IdempotencyKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	if second, err = r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1001", Accomplishment: sampleEngagement("Mail platform"), IdempotencyKey: "k2"}); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, r, "E1002")
	return first, second
}

// TestARecorderReadsAPersonFromItsHistory: a Recorder that does not know a
// person reads them from its History up to the History's position and the
// rest from the log, and decides as if it had read the log: a retried key
// is its duplicate (told from what the History gave, without reading the
// original), an amendment finds what it amends, and the next append
// expects the person's real last event (no lost race).
func TestARecorderReadsAPersonFromItsHistory(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		first, second := historyPerson(t, l)
		for _, c := range []struct {
			name string
			upTo uint64
		}{{"the history holds everything", 0}, {"the log holds the last event", second.Position - 1}} {
			t.Run(c.name, func(t *testing.T) {
				h := &logHistory{l: l, upTo: c.upTo}
				r := newRecorder(l)
				r.History = h
				dup, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1001", Accomplishment: sampleEngagement("Backbone migration"), IdempotencyKey: "k1"})
				if err != nil || !dup.Duplicate || dup.Position != first.Position || dup.AccomplishmentID != first.AccomplishmentID {
					t.Fatalf("retry of k1 = %+v, %v; want the duplicate of %+v", dup, err, first)
				}
				if got, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1001", Accomplishment: sampleEngagement("again"), IdempotencyKey: "k2"}); !errors.Is(err, errKeyReused) {
					t.Fatalf("k2 reused for another accomplishment: %+v, %v", got, err)
				}
				got, err := r.AmendAccomplishment(ctx, AmendAccomplishment{AccomplishmentID: first.AccomplishmentID, Patch: func(cur domain.Accomplishment) (domain.Accomplishment, error) {
					if cur.Engagement == nil || !strings.HasPrefix(cur.Engagement.Title, "Backbone migration") {
						return cur, errors.New("amended something else")
					}
					cur.Engagement.Title = "Backbone migration (" + c.name + ")"
					return cur, nil
				}})
				if err != nil || got.Duplicate {
					t.Fatalf("amend: %+v, %v", got, err)
				}
				if h.reads != 1 || r.historyReads.Load() != 1 || r.conflicts.Load() != 0 || r.originReads.Load() != 0 {
					t.Errorf("history reads %d (Recorder %d), lost races %d, originals read %d: want 1, 1, 0, 0",
						h.reads, r.historyReads.Load(), r.conflicts.Load(), r.originReads.Load())
				}
			})
		}
	})
}

// TestARecorderDoesNotBelieveAHistoryTheLogContradicts: a History whose
// count of a person's events the log does not confirm (it lost one, or
// holds one the log does not have) is not acted on; one that holds as
// many but others makes a refusal the log does not hold, or an append
// expect the wrong last event, and the Recorder then reads the person
// again from the log alone. A History that fails, or answers what cannot
// be the log's, is not read from at all. Every time the command does what
// it does against the log, single or in a batch.
func TestARecorderDoesNotBelieveAHistoryTheLogContradicts(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		first, second := historyPerson(t, l)
		retracted := func(id string) Event { return AccomplishmentRetracted{AccomplishmentID: id, Reason: "never happened"} }
		for _, c := range []struct {
			name      string
			edit      func(rs []Recorded, upTo uint64) ([]Recorded, uint64)
			believed  bool  // the Recorder folded what the History gave
			conflicts int64 // lost races: an append that expected the History's last event
			target    Result
		}{
			{"other events in the place of an accomplishment's", func(rs []Recorded, upTo uint64) ([]Recorded, uint64) {
				for i := range rs {
					if accomplishmentIDOf(rs[i].Event) == second.AccomplishmentID {
						rs[i].Event = retracted(first.AccomplishmentID)
					}
				}
				return rs, upTo
			}, true, 0, second},
			{"lost events", func(rs []Recorded, upTo uint64) ([]Recorded, uint64) {
				return slices.DeleteFunc(rs, func(r Recorded) bool { return accomplishmentIDOf(r.Event) == first.AccomplishmentID }), upTo
			}, true, 0, first},
			{"an event the log does not have", func(rs []Recorded, upTo uint64) ([]Recorded, uint64) {
				return append(rs, Recorded{Position: upTo + 1, PersonID: "E1001", Event: retracted(first.AccomplishmentID)}), upTo + 1
			}, true, 0, second},
			{"the last event at another position", func(rs []Recorded, upTo uint64) ([]Recorded, uint64) {
				rs[len(rs)-1].Position = upTo + 1
				return rs, upTo + 1
			}, true, 1, second},
			{"events out of order", func(rs []Recorded, upTo uint64) ([]Recorded, uint64) {
				return append(rs, Recorded{Position: rs[len(rs)-1].Position, PersonID: "E1001", Event: retracted(first.AccomplishmentID)}), upTo
			}, false, 0, second},
			{"an event past its position", func(rs []Recorded, upTo uint64) ([]Recorded, uint64) {
				return append(rs, Recorded{Position: upTo + 1, PersonID: "E1001", Event: retracted(first.AccomplishmentID)}), upTo
			}, false, 0, second},
			{"another person's event", func(rs []Recorded, upTo uint64) ([]Recorded, uint64) {
				rs[len(rs)-1].PersonID = "E1002"
				return rs, upTo
			}, false, 0, second},
			{"an event it could not read", func(rs []Recorded, upTo uint64) ([]Recorded, uint64) {
				rs[len(rs)-1].Event = nil
				return rs, upTo
			}, false, 0, second},
			{"a failing history", nil, false, 0, second},
		} {
			t.Run(c.name, func(t *testing.T) {
				history := func() *logHistory {
					if c.edit == nil {
						return &logHistory{l: l, err: errors.New("read model away")}
					}
					return &logHistory{l: l, edit: c.edit}
				}
				check := func(how string, r *Recorder, res Result, err error, title string) {
					t.Helper()
					if err != nil || res.Duplicate {
						t.Fatalf("%s: %+v, %v", how, res, err)
					}
					if got := r.historyReads.Load() == 1; got != c.believed || r.conflicts.Load() != c.conflicts {
						t.Errorf("%s: read from the history: %v, want %v; lost races %d, want %d", how, got, c.believed, r.conflicts.Load(), c.conflicts)
					}
					rs, last, err := l.Load(ctx, "E1001")
					if err != nil || last != res.Position {
						t.Fatalf("%s: the log's last event at %d, the amendment at %d, %v", how, last, res.Position, err)
					}
					if a, err := Fold(rs).Accomplishment(c.target.AccomplishmentID); err != nil || a.Engagement.Title != title {
						t.Errorf("%s: the log's accomplishment: %+v, %v", how, a, err)
					}
				}
				patch := func(title string) func(domain.Accomplishment) (domain.Accomplishment, error) {
					return func(cur domain.Accomplishment) (domain.Accomplishment, error) {
						cur.Engagement.Title = title
						return cur, nil
					}
				}

				r := newRecorder(l)
				r.History = history()
				title := "amended (" + c.name + ")"
				res, err := r.AmendAccomplishment(ctx, AmendAccomplishment{AccomplishmentID: c.target.AccomplishmentID, IdempotencyKey: "amend-" + c.name, Patch: patch(title)})
				check("amend", r, res, err, title)

				b := newRecorder(l)
				b.History = history()
				title = "amended (a batch, " + c.name + ")"
				out := b.RecordBatch(ctx, []Command{AmendAccomplishment{AccomplishmentID: c.target.AccomplishmentID, IdempotencyKey: "batch-" + c.name, Patch: patch(title)}})
				check("batch", b, out[0].Result, out[0].Err, title)
			})
		}
	})
}

// TestARecorderReadsTheLogWhenItsHistoryIsSlow: a History that does not
// answer is given up (the command reads the log and records), and the
// Recorder then reads the log alone for a while instead of waiting for it
// with every person it does not know.
func TestARecorderReadsTheLogWhenItsHistoryIsSlow(t *testing.T) {
	l, _ := openEmbeddedLog(t, LogConfig{})
	ctx := ctxT(t)
	historyPerson(t, l)
	h := &logHistory{l: l, block: true}
	r := newRecorder(l)
	r.History = h
	for _, id := range []string{"E1001", "E1002"} {
		if _, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: id, Accomplishment: sampleEngagement("while the read model is away")}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if h.reads != 1 || r.historyReads.Load() != 0 {
		t.Errorf("history asked %d times, folded %d: want 1 and 0 (paused after it failed)", h.reads, r.historyReads.Load())
	}
}

// TestAHistoryThatDoesNotSayWhoIsNotTrustedWithAPermission: a read model
// projected by a release before the events said who recorded them (it
// stores "" for who) gives a Recorder an accomplishment nobody recorded,
// which every employee may change. The log says who did: an employee's
// amendment or retraction of someone else's accomplishment is refused
// whether the Recorder read the person from the log or from such a
// History, single or in a batch, and the recorder's own goes through.
func TestAHistoryThatDoesNotSayWhoIsNotTrustedWithAPermission(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		alice, bob := WithActor(ctx, "alice"), WithActor(ctx, "bob")
		r0 := newRecorder(l)
		mustRegister(t, r0, "E3001")
		rec, err := r0.RecordAccomplishment(alice, RecordAccomplishment{PersonID: "E3001", Accomplishment: sampleEngagement("Alice's migration")})
		if err != nil {
			t.Fatal(err)
		}
		mustRegister(t, r0, "E3002")
		anonymous := func(rs []Recorded, upTo uint64) ([]Recorded, uint64) {
			for i := range rs {
				rs[i].RecordedBy = "" // as a release before who was kept projects it
			}
			return rs, upTo
		}
		retitle := func(title string) func(domain.Accomplishment) (domain.Accomplishment, error) {
			return func(cur domain.Accomplishment) (domain.Accomplishment, error) {
				cur.Engagement.Title = title
				return cur, nil
			}
		}
		forbidden := func(how string, err error) {
			t.Helper()
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != domain.KindForbidden {
				t.Errorf("%s: %v, want FORBIDDEN (alice recorded it, the log says so)", how, err)
			}
		}
		for _, c := range []struct {
			name    string
			history History
		}{{"the log", nil}, {"a history without who", &logHistory{l: l, edit: anonymous}}} {
			t.Run(c.name, func(t *testing.T) {
				recorder := func() *Recorder {
					r := newRecorder(l)
					if c.history != nil {
						r.History = c.history
					}
					return r
				}
				_, err := recorder().AmendAccomplishment(bob, AmendAccomplishment{AccomplishmentID: rec.AccomplishmentID,
					OnlyBy: "bob", Patch: retitle("Bob's now")})
				forbidden("amend", err)
				_, err = recorder().RetractAccomplishment(bob, RetractAccomplishment{AccomplishmentID: rec.AccomplishmentID,
					OnlyBy: "bob", Reason: "not mine, but gone"})
				forbidden("retract", err)
				out := recorder().RecordBatch(bob, []Command{AmendAccomplishment{AccomplishmentID: rec.AccomplishmentID,
					OnlyBy: "bob", Patch: retitle("Bob's in a batch")}})
				forbidden("batch", out[0].Err)
				rs, _, err := l.Load(ctx, "E3001")
				if err != nil || len(rs) != 2 {
					t.Fatalf("the log holds %d events of E3001 (%v): want the registration and alice's record only", len(rs), err)
				}
			})
		}
		// Alice changes what she recorded, read from such a History too.
		r := newRecorder(l)
		r.History = &logHistory{l: l, edit: anonymous}
		if _, err := r.AmendAccomplishment(alice, AmendAccomplishment{AccomplishmentID: rec.AccomplishmentID,
			OnlyBy: "alice", Patch: retitle("Alice's migration, amended")}); err != nil {
			t.Errorf("alice amends her own: %v", err)
		}
	})
}

// TestAHistoryThatDoesNotSayWhoAmendedIsNotTrustedWithAPermission: as
// TestAHistoryThatDoesNotSayWhoIsNotTrustedWithAPermission, for the last
// amendment: a History that names who recorded an accomplishment but not
// who amended it since (the amendment projected by a release before events
// said who recorded them, in a rolling upgrade) does not let its recorder
// change it after their manager's amendment, single or in a batch. The
// log says the manager amended it.
func TestAHistoryThatDoesNotSayWhoAmendedIsNotTrustedWithAPermission(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		alice, mgr := WithActor(ctx, "alice"), WithActor(ctx, "mgr")
		r0 := newRecorder(l)
		mustRegister(t, r0, "E3101")
		rec, err := r0.RecordAccomplishment(alice, RecordAccomplishment{PersonID: "E3101", Accomplishment: sampleEngagement("Alice's migration")})
		if err != nil {
			t.Fatal(err)
		}
		retitle := func(title string) func(domain.Accomplishment) (domain.Accomplishment, error) {
			return func(cur domain.Accomplishment) (domain.Accomplishment, error) {
				cur.Engagement.Title = title
				return cur, nil
			}
		}
		if _, err := r0.AmendAccomplishment(mgr, AmendAccomplishment{AccomplishmentID: rec.AccomplishmentID, Patch: retitle("Corrected by her manager")}); err != nil {
			t.Fatal(err)
		}
		amendedByNobody := func(rs []Recorded, upTo uint64) ([]Recorded, uint64) {
			for i := range rs {
				if _, ok := deref(rs[i].Event).(AccomplishmentAmended); ok {
					rs[i].RecordedBy = ""
				}
			}
			return rs, upTo
		}
		recorder := func() *Recorder {
			r := newRecorder(l)
			r.History = &logHistory{l: l, edit: amendedByNobody}
			return r
		}
		forbidden := func(how string, err error) {
			t.Helper()
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != domain.KindForbidden || !strings.Contains(de.Message, "last amended by mgr") {
				t.Errorf("%s: %v, want FORBIDDEN naming mgr (the log says mgr amended it last)", how, err)
			}
		}
		_, err = recorder().AmendAccomplishment(alice, AmendAccomplishment{AccomplishmentID: rec.AccomplishmentID,
			OnlyBy: "alice", Patch: retitle("Alice's again")})
		forbidden("amend", err)
		_, err = recorder().RetractAccomplishment(alice, RetractAccomplishment{AccomplishmentID: rec.AccomplishmentID,
			OnlyBy: "alice", Reason: "mine, but corrected"})
		forbidden("retract", err)
		out := recorder().RecordBatch(alice, []Command{AmendAccomplishment{AccomplishmentID: rec.AccomplishmentID,
			OnlyBy: "alice", Patch: retitle("Alice's in a batch")}})
		forbidden("batch", out[0].Err)
		if rs, _, err := l.Load(ctx, "E3101"); err != nil || len(rs) != 3 {
			t.Fatalf("the log holds %d events of E3101 (%v): want the registration, alice's record and mgr's amendment only", len(rs), err)
		}
	})
}
