package events

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// fillClock is the filler's clock in these tests: it moves only when the
// fake feed or decoding says time passed, so that what the filler counts
// as waiting does not depend on the machine's load.
type fillClock struct{ t time.Time }

func (c *fillClock) now() time.Time       { return c.t }
func (c *fillClock) pass(d time.Duration) { c.t = c.t.Add(d) }

// fakeFeed stands in for a consumer: buffered messages come at once (at a
// small cost each), then, if every is set, one more after each such wait;
// otherwise a call waits its whole wait and finds nothing.
type fakeFeed struct {
	clock    *fillClock
	buffered []uint64      // positions already delivered
	cost     time.Duration // of taking a buffered message
	every    time.Duration // a trickle: the next event comes after this wait
	next     uint64        // the trickle's next position
	waited   time.Duration
	waits    int // calls that found nothing
}

func (f *fakeFeed) more(wait time.Duration) (uint64, bool, error) {
	if len(f.buffered) > 0 {
		f.clock.pass(f.cost)
		p := f.buffered[0]
		f.buffered = f.buffered[1:]
		return p, true, nil
	}
	if f.every > 0 && f.every <= wait {
		f.clock.pass(f.every)
		f.next++
		return f.next, true, nil
	}
	f.clock.pass(wait)
	f.waited += wait
	f.waits++
	return 0, false, nil
}

func positions(from, to uint64) []uint64 {
	var out []uint64
	for p := from; p <= to; p++ {
		out = append(out, p)
	}
	return out
}

func newFakeFiller(feed *fakeFeed, decodeTime time.Duration, max int, last uint64) *filler[uint64] {
	if feed.clock == nil {
		feed.clock = &fillClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	return &filler[uint64]{
		first: func() (uint64, bool, error) { return feed.more(time.Millisecond) },
		more:  feed.more,
		decode: func(p uint64) (Recorded, error) {
			feed.clock.pass(decodeTime)
			return Recorded{Position: p}, nil
		},
		wait: followFillWait, buffered: followBuffered, cap: followFillCap, max: max, last: last,
		now: feed.clock.now,
	}
}

// A backlog fills whole batches even when decoding it takes far longer than
// the fill wait: taking a message already delivered is not waiting.
func TestFillerBacklogFillsWholeBatches(t *testing.T) {
	// Taking each of 200 events costs 15µs (3ms in all) and decoding it
	// 10µs: together over twice the 2ms fill wait.
	feed := &fakeFeed{buffered: positions(1, 500), cost: 15 * time.Microsecond}
	f := newFakeFiller(feed, 10*time.Microsecond, 200, 0)
	var sizes []int
	for range 3 {
		b, err := f.fill()
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(b))
		for i, r := range b {
			if i > 0 && r.Position != b[i-1].Position+1 {
				t.Fatalf("batch not in order: %v", b)
			}
		}
	}
	if want := []int{200, 200, 100}; sizes[0] != want[0] || sizes[1] != want[1] || sizes[2] != want[2] {
		t.Errorf("batch sizes %v, want %v", sizes, want)
	}
	if f.last != 500 {
		t.Errorf("last = %d, want 500", f.last)
	}
	// Only the last batch waited for more: once, for what was left of the
	// fill wait.
	if feed.waits != 1 || feed.waited != followFillWait {
		t.Errorf("waited %d times, %s in all, for more events; want once, for at most %s", feed.waits, feed.waited, followFillWait)
	}
}

// A caught-up follower with events trickling in (one every 0.8ms) hands
// over what came within about 2ms of waiting, not a full batch.
func TestFillerTrickleCutAfterFillWait(t *testing.T) {
	feed := &fakeFeed{buffered: []uint64{1}, every: 800 * time.Microsecond, next: 1}
	f := newFakeFiller(feed, 0, 100, 0)
	b, err := f.fill()
	if err != nil {
		t.Fatal(err)
	}
	// The first event, then two more within 2ms of waiting (1.6ms).
	if len(b) != 3 {
		t.Errorf("batch of %d events, want 3 (2ms of waiting at one event every 0.8ms)", len(b))
	}
}

// Filling a batch stops at the cap whatever took the time: here decoding a
// backlog slowly.
func TestFillerCappedInWallTime(t *testing.T) {
	feed := &fakeFeed{buffered: positions(1, 100)}
	f := newFakeFiller(feed, time.Millisecond, 100, 0)
	f.cap = 10 * time.Millisecond
	b, err := f.fill()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 10 {
		t.Errorf("batch of %d events at 1ms of decoding each, want 10 (a 10ms cap)", len(b))
	}
}

// Redelivered events (at or below the last handed over) are skipped, and a
// first call that finds nothing gives an empty batch.
func TestFillerSkipsRedeliveries(t *testing.T) {
	feed := &fakeFeed{buffered: []uint64{5, 6, 5, 6, 7}}
	f := newFakeFiller(feed, 0, 10, 4)
	b, err := f.fill()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 3 || b[0].Position != 5 || b[2].Position != 7 {
		t.Errorf("batch %v, want positions 5, 6, 7", b)
	}
	// 3 was skipped as the first event: an empty batch, nothing consumed
	// beyond it.
	feed = &fakeFeed{buffered: []uint64{3}}
	f = newFakeFiller(feed, 0, 10, 4)
	if b, err := f.fill(); err != nil || len(b) != 0 {
		t.Errorf("fill = %v, %v; want an empty batch", b, err)
	}
	if b, err := f.fill(); err != nil || len(b) != 0 {
		t.Errorf("fill on an empty feed = %v, %v; want an empty batch", b, err)
	}
}

// An error of the feed or of decoding ends the batch with that error.
func TestFillerErrors(t *testing.T) {
	boom := errors.New("boom")
	feed := &fakeFeed{buffered: positions(1, 5)}
	f := newFakeFiller(feed, 0, 10, 0)
	f.decode = func(p uint64) (Recorded, error) {
		if p == 3 {
			return Recorded{}, boom
		}
		return Recorded{Position: p}, nil
	}
	if _, err := f.fill(); !errors.Is(err, boom) {
		t.Errorf("fill = %v, want the decode error", err)
	}
	f = newFakeFiller(&fakeFeed{buffered: positions(1, 5)}, 0, 10, 0)
	f.more = func(time.Duration) (uint64, bool, error) { return 0, false, boom }
	if _, err := f.fill(); !errors.Is(err, boom) {
		t.Errorf("fill = %v, want the feed's error", err)
	}
}

// TestAStoppedFollowLeavesNoConsumer: each Follow ends by deleting its
// consumer, so a projector restarted again and again (once a second while
// its read model fails) does not pile consumers up on the server.
func TestAStoppedFollowLeavesNoConsumer(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		r := newRecorder(l)
		mustRegister(t, r, "E1")
		stop := errors.New("stop")
		for range 5 {
			err := l.Follow(ctxT(t), 0, 10, func(context.Context, []Recorded) error { return stop })
			if !errors.Is(err, stop) {
				t.Fatalf("follow: %v, want the handler's error", err)
			}
		}
		count := func() int {
			n := 0
			for range l.stream.ConsumerNames(ctxT(t)).Name() {
				n++
			}
			return n
		}
		deadline := time.Now().Add(5 * time.Second)
		for count() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d consumers left 5 s after five follows ended", count())
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
