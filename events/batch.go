package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/nats-io/nats.go"
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
// its msg id, so a batch is as safe as single appends. Each person's events
// form a chain: a person's next event is published as soon as the ack of
// the previous one arrives (its position is the next one's expected
// sequence), so at most one event per person is in flight, while the chains
// of many people run at once in a bounded in-flight window that is refilled
// ack by ack (no person waits for anybody else's acks). A person's failed
// append fails the rest of that person's events in the batch (later ones
// would land out of order); other people go on. The outcomes are in the
// order of ps. The error is for the batch as a whole (context done,
// connection lost); outcomes not reached then carry it too.
func (l *Log) AppendBatch(ctx context.Context, ps []Pending) ([]Outcome, error) {
	b := newChains(ps)
	b.by = ActorFrom(ctx)
	for {
		if b.rhead < len(b.ready) && ctx.Err() != nil {
			return failRest(b.out, fmt.Errorf("append batch: %w", ctx.Err()))
		}
		// Fill the window with the events whose turn it is.
		for b.rhead < len(b.ready) && len(b.flying)-b.fhead < asyncMaxPending {
			i := b.ready[b.rhead]
			b.rhead++
			m, err := b.message(l, i)
			if err != nil {
				b.fail(i, fmt.Errorf("append for %s: %w", ps[i].PersonID, err))
				continue
			}
			fut, err := l.asyncJS.PublishMsgAsync(m)
			if errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				// The window of the Log's async context is full (other
				// batches share it; nothing was sent): wait longer for room.
				// Passing the option only then spares an allocation per
				// publish.
				fut, err = l.asyncJS.PublishMsgAsync(m, stallWait)
			}
			if err != nil {
				return b.unsent(ctx, err)
			}
			b.push(inflight{idx: i, subject: m.Subject, fut: fut})
		}
		if b.fhead == len(b.flying) {
			return b.out, nil
		}
		// Wait for the oldest ack (acks come back in publish order), then
		// take the later ones already there, readying each person's next
		// event, so that the window is refilled in one go.
		if !b.take(ctx, true) {
			return failRest(b.out, fmt.Errorf("append batch: %w", ctx.Err()))
		}
		for b.fhead < len(b.flying) && b.take(ctx, false) {
		}
	}
}

// stallWait is how long a publish may wait for room in the asynchronous
// window (made once: an option allocates).
var stallWait = jetstream.WithStallWait(asyncStallWait)

// chains is the state of one AppendBatch.
type chains struct {
	ps  []Pending
	out []Outcome
	by  string // who every event is recorded by (ActorFrom)
	// next[i] is the index of the same person's Pending after ps[i] (-1
	// at the end of the person's chain); person[i] indexes subjects.
	next     []int32
	person   []int32
	subjects []string // per person; "" until the first publish
	// expected[i] is the expected last sequence of ps[i] once it is ready.
	expected []uint64
	// ready holds the Pendings whose turn it is (the next one of each
	// chain), from rhead on; flying holds the published ones in publish
	// order, from fhead on. Each Pending enters each at most once.
	ready  []int32
	rhead  int
	flying []inflight
	fhead  int
}

// inflight is one published append, waiting for its ack.
type inflight struct {
	idx     int32
	subject string
	fut     jetstream.PubAckFuture
}

func newChains(ps []Pending) *chains {
	n := len(ps)
	b := &chains{ps: ps, out: make([]Outcome, n), next: make([]int32, n), person: make([]int32, n),
		expected: make([]uint64, n), ready: make([]int32, 0, n), flying: make([]inflight, 0, min(n, asyncMaxPending+1))}
	people := make(map[string]int32, min(n, 1<<16))
	var last []int32 // per person, the last Pending of the chain so far
	for i := range ps {
		b.next[i] = -1
		k, ok := people[ps[i].PersonID]
		if !ok {
			k = int32(len(last))
			people[ps[i].PersonID] = k
			last = append(last, int32(i))
			b.ready = append(b.ready, int32(i))
			b.expected[i] = ps[i].ExpectedLastSeq
		} else {
			b.next[last[k]] = int32(i)
			last[k] = int32(i)
		}
		b.person[i] = k
	}
	b.subjects = make([]string, len(last))
	return b
}

// message builds the message of ps[i], checking the person id once per
// person.
func (b *chains) message(l *Log, i int32) (*nats.Msg, error) {
	p := &b.ps[i]
	subj := b.subjects[b.person[i]]
	if subj == "" {
		if !personIDOK(p.PersonID) {
			return nil, domain.ValidatePersonID(p.PersonID)
		}
		subj = l.Subject(p.PersonID)
		b.subjects[b.person[i]] = subj
	}
	return buildMessage(subj, b.expected[i], p.MsgID, p.Event, p.RecordedAt, p.IdempotencyKey, b.by)
}

// push adds a published append to the window.
func (b *chains) push(f inflight) {
	if b.fhead > 0 && len(b.flying) == cap(b.flying) {
		// Reuse the room of the acks already taken.
		n := copy(b.flying, b.flying[b.fhead:])
		clear(b.flying[n:])
		b.flying, b.fhead = b.flying[:n], 0
	}
	b.flying = append(b.flying, f)
}

// take takes the oldest ack of the window, waiting for it if wait is set;
// it returns false when it did not (not there yet, or ctx done).
func (b *chains) take(ctx context.Context, wait bool) bool {
	f := b.flying[b.fhead]
	var ack *jetstream.PubAck
	var err error
	if wait {
		select {
		case ack = <-f.fut.Ok():
		case err = <-f.fut.Err():
		case <-ctx.Done():
			return false
		}
	} else {
		select {
		case ack = <-f.fut.Ok():
		case err = <-f.fut.Err():
		default:
			return false
		}
	}
	if err != nil {
		err = classify(f.subject, err)
	}
	b.settle(f.idx, ack, err, true)
	b.flying[b.fhead] = inflight{}
	b.fhead++
	return true
}

// drain waits for every ack still in flight, without publishing more, so
// that their outcomes are right when the batch stops early.
func (b *chains) drain(ctx context.Context) {
	for ; b.fhead < len(b.flying); b.fhead++ {
		f := b.flying[b.fhead]
		select {
		case ack := <-f.fut.Ok():
			b.settle(f.idx, ack, nil, false)
		case err := <-f.fut.Err():
			b.settle(f.idx, nil, classify(f.subject, err), false)
		case <-ctx.Done():
			return
		}
	}
}

// settle records the outcome of ps[i]; on success (and with goOn) the
// person's next Pending becomes ready, expecting this one's position.
func (b *chains) settle(i int32, ack *jetstream.PubAck, err error, goOn bool) {
	if err != nil {
		b.fail(i, err)
		return
	}
	b.out[i] = Outcome{Position: ack.Sequence, Duplicate: ack.Duplicate}
	if j := b.next[i]; j >= 0 && goOn {
		// A duplicate stored nothing: the subject's last event is still
		// the one this append expected.
		b.expected[j] = b.expected[i]
		if !ack.Duplicate {
			b.expected[j] = ack.Sequence
		}
		b.ready = append(b.ready, j)
	}
}

// fail gives ps[i] the error and every later Pending of the person the
// error of being skipped.
func (b *chains) fail(i int32, err error) {
	b.out[i].Err = err
	var skipped error
	for j := b.next[i]; j >= 0; j = b.next[j] {
		if b.out[j].Err == nil {
			if skipped == nil {
				skipped = fmt.Errorf("append for %s skipped: an earlier one failed: %w", b.ps[i].PersonID, err)
			}
			b.out[j].Err = skipped
		}
	}
}

// unsent ends a batch whose next publish could not even be sent (err):
// acks already in flight are collected so their outcomes are right; one
// still unanswered when ctx ends was sent, so it (and the rest of its
// person's chain) may have been recorded: ErrUnconfirmed, never the
// "nothing was recorded" of ErrUnavailable, which only what was never sent
// gets.
func (b *chains) unsent(ctx context.Context, err error) ([]Outcome, error) {
	b.drain(ctx)
	for ; b.fhead < len(b.flying); b.fhead++ {
		f := b.flying[b.fhead]
		b.fail(f.idx, fmt.Errorf("append %s: %w: %w", f.subject, ErrUnconfirmed, context.Cause(ctx)))
	}
	if refusedUnsent(err) {
		err = unavailable(err)
	}
	return failRest(b.out, fmt.Errorf("append batch: %w", err))
}

func failRest(out []Outcome, err error) ([]Outcome, error) {
	for i := range out {
		if out[i].Position == 0 && out[i].Err == nil {
			out[i].Err = err
		}
	}
	return out, err
}
