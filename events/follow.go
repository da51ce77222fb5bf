package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// followFillWait bounds how long Follow waits, in all, for more events to
// fill a batch once it has one: a caught-up follower hands over single
// events after this delay. Taking an event already delivered is not
// waiting (see filler).
const followFillWait = 2 * time.Millisecond

// followFillCap bounds a batch's filling in wall-clock time, whatever it
// was spent on (decoding a backlog, a collector cycle, the scheduler).
const followFillCap = 25 * time.Millisecond

// followBuffered is how long taking a message that was already delivered
// may take (the consumer's lock, its pending count, a timer) before the
// call counts as waiting.
const followBuffered = 20 * time.Microsecond

// Follow delivers every event with Position > after, in log order, in
// batches of at most maxBatch (a batch is what was already delivered, plus
// what comes within about 2ms of waiting, filled for at most 25ms), and
// then new events as they are
// appended. It runs until ctx is done (and returns nil) or handle returns an
// error (and returns it). It reads through an ordered consumer, which
// recreates itself from the last delivered position after a reset (lost
// heartbeats, a deleted consumer, a reconnect), so no event is skipped or
// repeated.
func (l *Log) Follow(ctx context.Context, after uint64, maxBatch int, handle func(ctx context.Context, batch []Recorded) error) error {
	if maxBatch <= 0 {
		maxBatch = 500
	}
	// No filter: the stream holds the log and nothing else (its one
	// subject is the log's wildcard), and a consumer filtered on that
	// wildcard looks each message up among every person's subject on
	// older servers (nats-server 2.9: seconds per thousand events with
	// thousands of people).
	cons, err := l.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   after + 1,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("follow %s: %w", l.cfg.Stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(max(2*maxBatch, 500)))
	if err != nil {
		return fmt.Errorf("follow %s: %w", l.cfg.Stream, err)
	}
	defer func() {
		it.Stop()
		// Stopped, the consumer would stay on the server until its
		// inactivity threshold (five minutes): a projector restarted once
		// a second while its read model failed left one a second behind.
		if info := cons.CachedInfo(); info != nil {
			l.deleteConsumerLater(info.Name)
		}
	}()

	// next returns the next message; ok is false when none came in time.
	next := func(opt jetstream.NextOpt) (jetstream.Msg, bool, error) {
		m, err := it.Next(opt)
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) {
				return nil, false, nil
			}
			return nil, false, err
		}
		return m, true, nil
	}
	decode := func(m jetstream.Msg) (Recorded, error) {
		md, err := m.Metadata()
		if err != nil {
			return Recorded{}, err
		}
		return l.recordOf(m.Subject(), md.Sequence.Stream, m.Headers(), m.Data(), md.Timestamp)
	}
	f := filler[jetstream.Msg]{
		first:  func() (jetstream.Msg, bool, error) { return next(jetstream.NextContext(ctx)) },
		more:   func(wait time.Duration) (jetstream.Msg, bool, error) { return next(jetstream.NextMaxWait(wait)) },
		decode: decode, wait: followFillWait, buffered: followBuffered, cap: followFillCap, max: maxBatch, last: after,
	}
	for {
		batch, err := f.fill()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("follow %s after %d: %w", l.cfg.Stream, f.last, err)
		}
		if len(batch) == 0 {
			continue
		}
		if err := handle(ctx, batch); err != nil {
			return err
		}
	}
}

// filler cuts a followed log into batches. A batch starts with the first
// event to come (first blocks for it) and takes more until it holds max
// events, or more has waited wait in all, or cap has passed since the first
// event. A call of more counts as waiting only for what it took beyond
// buffered, the cost of taking a message already delivered: so a backlog
// fills whole batches however long decoding it takes (up to cap), while a
// caught-up follower hands over what came within wait. Events at or below
// last (a redelivery) are skipped.
type filler[M any] struct {
	first    func() (m M, ok bool, err error)                   // the next message, blocking
	more     func(wait time.Duration) (m M, ok bool, err error) // ok false: none within wait
	decode   func(M) (Recorded, error)
	wait     time.Duration
	buffered time.Duration
	cap      time.Duration
	max      int
	last     uint64           // the position of the last event put in a batch
	now      func() time.Time // nil: time.Now
}

// fill returns the next batch, empty when first returned no event.
func (f *filler[M]) fill() ([]Recorded, error) {
	m, ok, err := f.first()
	if err != nil || !ok {
		return nil, err
	}
	now := f.now
	if now == nil {
		now = time.Now
	}
	start := now()
	r, err := f.decode(m)
	if err != nil {
		return nil, err
	}
	if r.Position <= f.last {
		return nil, nil
	}
	batch := make([]Recorded, 1, min(f.max, 8)) // grows when events are waiting
	batch[0] = r
	f.last = r.Position
	var waited time.Duration
	for len(batch) < f.max && waited < f.wait {
		t := now()
		if t.Sub(start) >= f.cap {
			break
		}
		m, ok, err := f.more(f.wait - waited)
		if d := now().Sub(t); d > f.buffered {
			waited += d - f.buffered
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		r, err := f.decode(m)
		if err != nil {
			return nil, err
		}
		if r.Position <= f.last {
			continue
		}
		batch = append(batch, r)
		f.last = r.Position
	}
	return batch, nil
}
