package events

import (
	"errors"
	"testing"
	"time"
)

// fakeFeed stands in for a consumer: buffered messages come at once, then
// each call waits its whole wait and finds nothing.
type fakeFeed struct {
	buffered []uint64 // positions already delivered
	waited   time.Duration
	waits    int // calls that found nothing
}

func (f *fakeFeed) next(wait time.Duration) (uint64, bool, error) {
	if len(f.buffered) == 0 {
		time.Sleep(wait)
		f.waited += wait
		f.waits++
		return 0, false, nil
	}
	p := f.buffered[0]
	f.buffered = f.buffered[1:]
	return p, true, nil
}

func positions(from, to uint64) []uint64 {
	var out []uint64
	for p := from; p <= to; p++ {
		out = append(out, p)
	}
	return out
}

func newFakeFiller(feed *fakeFeed, decodeTime time.Duration, wait time.Duration, max int, last uint64) *filler[uint64] {
	return &filler[uint64]{
		first: func() (uint64, bool, error) { return feed.next(time.Millisecond) },
		more:  feed.next,
		decode: func(p uint64) (Recorded, error) {
			if decodeTime > 0 {
				time.Sleep(decodeTime)
			}
			return Recorded{Position: p}, nil
		},
		wait: wait, max: max, last: last,
	}
}

// A backlog fills whole batches even when decoding it takes far longer than
// the fill wait: only waiting for events counts against it.
func TestFillerBacklogFillsWholeBatches(t *testing.T) {
	feed := &fakeFeed{buffered: positions(1, 250)}
	// 100 events of 50µs decoding each: 5ms, over twice the 2ms fill wait.
	f := newFakeFiller(feed, 50*time.Microsecond, followFillWait, 100, 0)
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
	if want := []int{100, 100, 50}; sizes[0] != want[0] || sizes[1] != want[1] || sizes[2] != want[2] {
		t.Errorf("batch sizes %v, want %v", sizes, want)
	}
	if f.last != 250 {
		t.Errorf("last = %d, want 250", f.last)
	}
	// Only the last batch waited for more: once, for what was left of the
	// fill wait.
	if feed.waits != 1 || feed.waited > followFillWait || feed.waited < followFillWait/2 {
		t.Errorf("waited %d times, %s in all, for more events; want once, for at most %s", feed.waits, feed.waited, followFillWait)
	}
}

// Redelivered events (at or below the last handed over) are skipped, and a
// first call that finds nothing gives an empty batch.
func TestFillerSkipsRedeliveries(t *testing.T) {
	feed := &fakeFeed{buffered: []uint64{5, 6, 5, 6, 7}}
	f := newFakeFiller(feed, 0, time.Millisecond, 10, 4)
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
	f = newFakeFiller(feed, 0, time.Millisecond, 10, 4)
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
	f := newFakeFiller(feed, 0, time.Millisecond, 10, 0)
	f.decode = func(p uint64) (Recorded, error) {
		if p == 3 {
			return Recorded{}, boom
		}
		return Recorded{Position: p}, nil
	}
	if _, err := f.fill(); !errors.Is(err, boom) {
		t.Errorf("fill = %v, want the decode error", err)
	}
	f = newFakeFiller(&fakeFeed{buffered: positions(1, 5)}, 0, time.Millisecond, 10, 0)
	f.more = func(time.Duration) (uint64, bool, error) { return 0, false, boom }
	if _, err := f.fill(); !errors.Is(err, boom) {
		t.Errorf("fill = %v, want the feed's error", err)
	}
}
