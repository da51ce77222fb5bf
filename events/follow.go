package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// followFillWait bounds how long Follow waits to fill a batch once it has
// one event: a caught-up follower hands over single events after this delay.
const followFillWait = 2 * time.Millisecond

// Follow delivers every event with Position > after, in log order, in
// batches of at most maxBatch (a batch is whatever is buffered, never
// waiting more than about 2ms to fill one), and then new events as they are
// appended. It runs until ctx is done (and returns nil) or handle returns an
// error (and returns it). It reads through an ordered consumer, which
// recreates itself from the last delivered position after a reset (lost
// heartbeats, a deleted consumer, a reconnect), so no event is skipped or
// repeated.
func (l *Log) Follow(ctx context.Context, after uint64, maxBatch int, handle func(ctx context.Context, batch []Recorded) error) error {
	if maxBatch <= 0 {
		maxBatch = 500
	}
	cons, err := l.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{l.wild},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    after + 1,
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
	defer it.Stop()

	last := after
	// next returns the next event; ok is false when none came in time.
	next := func(opt jetstream.NextOpt) (r Recorded, ok bool, err error) {
		m, err := it.Next(opt)
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) {
				return Recorded{}, false, nil
			}
			return Recorded{}, false, err
		}
		md, err := m.Metadata()
		if err != nil {
			return Recorded{}, false, err
		}
		r, err = l.recordOf(m.Subject(), md.Sequence.Stream, m.Headers(), m.Data(), md.Timestamp)
		return r, err == nil, err
	}
	for {
		r, ok, err := next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("follow %s after %d: %w", l.cfg.Stream, last, err)
		}
		if !ok || r.Position <= last {
			continue
		}
		batch := make([]Recorded, 1, min(maxBatch, 8)) // grows when events are waiting
		batch[0] = r
		last = r.Position
		deadline := time.Now().Add(followFillWait)
		for len(batch) < maxBatch {
			wait := time.Until(deadline)
			if wait <= 0 {
				break
			}
			r, ok, err := next(jetstream.NextMaxWait(wait))
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("follow %s after %d: %w", l.cfg.Stream, last, err)
			}
			if !ok {
				break
			}
			if r.Position <= last {
				continue
			}
			batch = append(batch, r)
			last = r.Position
		}
		if err := handle(ctx, batch); err != nil {
			return err
		}
	}
}
