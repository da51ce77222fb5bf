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
// has applied the log that far does; lose and extra make it a read model
// that lost or gained events, which the Recorder must not believe.
type logHistory struct {
	l     *Log
	upTo  uint64
	lose  string     // an accomplishment whose events to leave out
	extra []Recorded // events the log does not have, appended
	err   error
	reads int
}

func (h *logHistory) PersonHistory(ctx context.Context, personID string) ([]Recorded, uint64, error) {
	h.reads++
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
	rs = slices.DeleteFunc(rs, func(r Recorded) bool { return h.lose != "" && accomplishmentIDOf(r.Event) == h.lose })
	return append(rs, h.extra...), upTo, nil
}

// historyPerson records E1001's registration and two accomplishments under
// keys with one Recorder, and returns the accomplishments' results.
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
	return first, second
}

// TestARecorderReadsAPersonFromItsHistory: a Recorder that does not know a
// person reads them from its History up to the History's position and the
// rest from the log, and decides as if it had read the log: a retried key
// is its duplicate, an amendment finds what it amends, and the next append
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
				if h.reads != 1 || r.historyReads.Load() != 1 || r.conflicts.Load() != 0 {
					t.Errorf("history reads %d (Recorder %d), lost races %d: want 1, 1, 0", h.reads, r.historyReads.Load(), r.conflicts.Load())
				}
			})
		}
	})
}

// TestARecorderDoesNotBelieveAHistoryTheLogContradicts: a History that
// lost an accomplishment's events makes a refusal that the log does not hold, and
// one that holds an event the log does not have makes an append expect the
// wrong last event; either way the Recorder reads the person again from
// the log alone and decides right. A History that fails, or answers what
// cannot be the log's, is not read from at all.
func TestARecorderDoesNotBelieveAHistoryTheLogContradicts(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		first, second := historyPerson(t, l)
		for _, c := range []struct {
			name      string
			h         func(head uint64) *logHistory
			believed  bool
			conflicts int64 // lost races: the append that expected the phantom
			target    Result
		}{
			{"lost events", func(uint64) *logHistory { return &logHistory{l: l, lose: first.AccomplishmentID} }, true, 0, first},
			{"an event the log does not have", func(head uint64) *logHistory {
				return &logHistory{l: l, upTo: head + 1, extra: []Recorded{{Position: head + 1, PersonID: "E1001",
					Event: AccomplishmentRetracted{AccomplishmentID: first.AccomplishmentID, Reason: "never happened"}}}}
			}, true, 1, second},
			{"a failing history", func(uint64) *logHistory { return &logHistory{l: l, err: errors.New("read model away")} }, false, 0, second},
			{"events out of order", func(head uint64) *logHistory {
				return &logHistory{l: l, extra: []Recorded{{Position: head, PersonID: "E1001",
					Event: AccomplishmentRetracted{AccomplishmentID: first.AccomplishmentID, Reason: "never happened"}}}}
			}, false, 0, second},
		} {
			t.Run(c.name, func(t *testing.T) {
				head, err := l.Head(ctx)
				if err != nil {
					t.Fatal(err)
				}
				r := newRecorder(l)
				r.History = c.h(head)
				id := c.target.AccomplishmentID
				res, err := r.AmendAccomplishment(ctx, AmendAccomplishment{AccomplishmentID: id, IdempotencyKey: "amend-" + c.name, Patch: func(cur domain.Accomplishment) (domain.Accomplishment, error) {
					cur.Engagement.Title = "amended (" + c.name + ")"
					return cur, nil
				}})
				if err != nil || res.Duplicate {
					t.Fatalf("amend: %+v, %v", res, err)
				}
				if got := r.historyReads.Load() == 1; got != c.believed || r.conflicts.Load() != c.conflicts {
					t.Errorf("read from the history: %v, want %v; lost races %d, want %d", got, c.believed, r.conflicts.Load(), c.conflicts)
				}
				rs, last, err := l.Load(ctx, "E1001")
				if err != nil || last != res.Position {
					t.Fatalf("log: last %d, amendment at %d, %v", last, res.Position, err)
				}
				a, err := Fold(rs).Accomplishment(id)
				if err != nil || a.Engagement.Title != "amended ("+c.name+")" {
					t.Errorf("the log's accomplishment: %+v, %v", a, err)
				}

				// A batch reads people as single commands do (after an event
				// that comes later than what the History loses).
				later, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1001", Accomplishment: sampleEngagement("later (" + c.name + ")")})
				if err != nil {
					t.Fatal(err)
				}
				b := newRecorder(l)
				b.History = c.h(later.Position)
				out := b.RecordBatch(ctx, []Command{AmendAccomplishment{AccomplishmentID: id, IdempotencyKey: "batch-" + c.name, Patch: func(cur domain.Accomplishment) (domain.Accomplishment, error) {
					cur.Engagement.Title = "amended (a batch, " + c.name + ")"
					return cur, nil
				}}})
				if out[0].Err != nil || out[0].Result.Duplicate {
					t.Fatalf("batch amend: %+v", out[0])
				}
				if got := b.historyReads.Load() == 1; got != c.believed || b.conflicts.Load() != c.conflicts {
					t.Errorf("batch: read from the history: %v, want %v; lost races %d, want %d", got, c.believed, b.conflicts.Load(), c.conflicts)
				}
				if rs, last, err = l.Load(ctx, "E1001"); err != nil || last != out[0].Result.Position {
					t.Fatalf("log after the batch: last %d, amendment at %d, %v", last, out[0].Result.Position, err)
				}
				if a, err = Fold(rs).Accomplishment(id); err != nil || a.Engagement.Title != "amended (a batch, "+c.name+")" {
					t.Errorf("the log's accomplishment after the batch: %+v, %v", a, err)
				}
			})
		}
	})
}
