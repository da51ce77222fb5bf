package events

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Pending is one append of a batch (see AppendBatch).
type Pending struct {
	PersonID string
	// ExpectedLastSeq applies to the person's first Pending in the batch
	// (0: the person has no event yet); each later one for the same person
	// expects the position of the last one stored before it (a duplicate
	// stores nothing, so re-running a batch with each person's current last
	// position yields duplicates and then appends what is new).
	ExpectedLastSeq uint64
	MsgID           string // Nats-Msg-Id; "" for none
	Event           Event
	RecordedAt      time.Time
	IdempotencyKey  string
}

// Outcome is what became of one Pending: its position, or why it was not
// appended.
type Outcome struct {
	Position  uint64
	Duplicate bool  // the msg id was seen within the duplicate window; Position is the original's
	Err       error // matches ErrConflict for a lost race; set on every later Pending of that person too
}

// AppendBatch appends many events with asynchronous publishes, for bulk
// import. Every event still carries its expected last subject sequence and
// its msg id, so a batch is as safe as single appends: it runs in waves, the
// k-th wave publishing the k-th pending event of every person at once (with
// a bounded in-flight window) and waiting for their acks, whose positions
// are the expected sequences of the next wave. A person's failed append
// fails the rest of that person's events in the batch (later ones would
// land out of order); other people go on. The outcomes are in the order of
// ps. The error is for the batch as a whole (context done, connection lost);
// outcomes not reached then carry it too.
func (l *Log) AppendBatch(ctx context.Context, ps []Pending) ([]Outcome, error) {
	out := make([]Outcome, len(ps))
	queue := map[string][]int{}
	var people []string
	for i, p := range ps {
		if _, ok := queue[p.PersonID]; !ok {
			people = append(people, p.PersonID)
		}
		queue[p.PersonID] = append(queue[p.PersonID], i)
	}
	expected := make(map[string]uint64, len(people))
	for _, id := range people {
		expected[id] = ps[queue[id][0]].ExpectedLastSeq
	}
	wave := make([]inflight, 0, len(people))
	fail := func(id string, from int, err error) {
		for _, j := range queue[id][from:] {
			if out[j].Err == nil {
				out[j].Err = err
			}
		}
		queue[id] = nil
	}
	for k := 0; ; k++ {
		wave = wave[:0]
		for _, id := range people {
			q := queue[id]
			if k >= len(q) {
				continue
			}
			p := ps[q[k]]
			m, err := l.message(p.PersonID, expected[id], p.MsgID, p.Event, p.RecordedAt, p.IdempotencyKey)
			if err != nil {
				out[q[k]].Err = fmt.Errorf("append for %s: %w", id, err)
				fail(id, k+1, fmt.Errorf("append for %s skipped: an earlier one failed: %w", id, err))
				continue
			}
			fut, err := l.asyncJS.PublishMsgAsync(m, jetstream.WithStallWait(asyncStallWait))
			if err != nil {
				// Could not even send: stop here; acks already in flight are
				// still collected below so their outcomes are right.
				l.collect(ctx, wave, out, expected, queue, k, fail)
				return failRest(out, fmt.Errorf("append batch: %w", err))
			}
			wave = append(wave, inflight{idx: q[k], subject: m.Subject, fut: fut})
		}
		if len(wave) == 0 {
			return out, nil
		}
		if err := l.collect(ctx, wave, out, expected, queue, k, fail); err != nil {
			return failRest(out, err)
		}
	}
}

// inflight is one published append of a wave, waiting for its ack.
type inflight struct {
	idx     int
	subject string
	fut     jetstream.PubAckFuture
}

// collect waits for the acks of one wave.
func (l *Log) collect(ctx context.Context, wave []inflight, out []Outcome, expected map[string]uint64, queue map[string][]int, k int, fail func(string, int, error)) error {
	for _, w := range wave {
		personID := w.subject[len(l.cfg.SubjectPrefix)+1:]
		select {
		case ack := <-w.fut.Ok():
			out[w.idx] = Outcome{Position: ack.Sequence, Duplicate: ack.Duplicate}
			if !ack.Duplicate {
				// A duplicate stored nothing: the subject's last event is
				// still the one this append expected.
				expected[personID] = ack.Sequence
			}
		case err := <-w.fut.Err():
			err = classify(w.subject, err)
			out[w.idx].Err = err
			fail(personID, k+1, fmt.Errorf("append for %s skipped: an earlier one failed: %w", personID, err))
		case <-ctx.Done():
			return fmt.Errorf("append batch: %w", ctx.Err())
		}
	}
	return nil
}

func failRest(out []Outcome, err error) ([]Outcome, error) {
	for i := range out {
		if out[i].Position == 0 && out[i].Err == nil {
			out[i].Err = err
		}
	}
	return out, err
}
