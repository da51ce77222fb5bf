package projections

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// chunkedReader holds people registered one a minute; PersonEvents may fail
// or cancel at a given call.
type chunkedReader struct {
	ids    []string
	at     time.Time // the first registration's recordedAt
	calls  atomic.Int32
	failAt int32 // the call (1-based) that fails; 0: none
	panics bool  // the failing call panics rather than return an error
	onCall func(n int32)
}

func (r *chunkedReader) PeopleEverIn(context.Context, string) ([]string, error) { return r.ids, nil }

func (r *chunkedReader) PersonEvents(ctx context.Context, ids []string) (map[string][]events.Recorded, error) {
	n := r.calls.Add(1)
	if r.onCall != nil {
		r.onCall(n)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n == r.failAt {
		if r.panics {
			panic("a reader's bug")
		}
		return nil, errors.New("the read model is away")
	}
	out := map[string][]events.Recorded{}
	for _, id := range ids {
		i := slices.Index(r.ids, id)
		out[id] = []events.Recorded{{Position: uint64(i + 1), PersonID: id, RecordedAt: r.at.Add(time.Duration(i) * time.Minute),
			Event: events.PersonRegistered{PersonID: id, Name: "N" + id, Department: "ops", JoinedOn: domain.MustDate("2020-01-01")}}}
	}
	return out, nil
}

// A replay reads people's events a chunk at a time, one chunk ahead, and
// works on each chunk's people concurrently: the people still come out
// in order and complete, a failed read is the replay's error, and a
// cancelled replay says so and leaves no reader behind.
func TestAReplayKeepsOrderAcrossChunksAndStops(t *testing.T) {
	cat := domain.DefaultCatalogue()
	n := 2*knownAtChunk + 500
	r := &chunkedReader{at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i := range n {
		r.ids = append(r.ids, fmt.Sprintf("P%05d", i))
	}
	// Known at the registration of the person at index n-2: the last is not.
	knownAt := r.at.Add(time.Duration(n-2) * time.Minute)
	got, err := PeopleKnownAt(context.Background(), r, cat, PeopleFilter{AsOf: domain.MustDate("2026-11-26")}, knownAt)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n-1 {
		t.Fatalf("replayed %d people, want %d", len(got), n-1)
	}
	for i, v := range got {
		if v.ID != r.ids[i] || v.Position != uint64(i+1) || v.Name != "N"+r.ids[i] {
			t.Fatalf("person %d is %s (position %d, name %q), want %s", i, v.ID, v.Position, v.Name, r.ids[i])
		}
	}
	dist, err := DistributionsKnownAt(context.Background(), r, cat, domain.SystemOperation,
		[]domain.Date{domain.MustDate("2026-11-26")}, "", knownAt)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]Cell{{{Department: "ops", Level: 0, Count: n - 1}}}; fmt.Sprint(dist) != fmt.Sprint(want) {
		t.Errorf("distribution %v, want %v", dist, want)
	}

	r.calls.Store(0)
	r.failAt = 2
	if _, err := PeopleKnownAt(context.Background(), r, cat, PeopleFilter{}, knownAt); err == nil || err.Error() != "the read model is away" {
		t.Errorf("a failed read of the second chunk: err %v", err)
	}

	r.calls.Store(0)
	r.failAt = 0
	ctx, cancel := context.WithCancel(context.Background())
	r.onCall = func(n int32) {
		if n == 2 {
			cancel()
		}
	}
	if _, err := PeopleKnownAt(ctx, r, cat, PeopleFilter{}, knownAt); !errors.Is(err, context.Canceled) {
		t.Errorf("a replay cancelled during its second read: err %v", err)
	}
	// Every read had ended before the replay returned: no further read
	// (3: the chunks a replay of 2,500 people reads at most).
	calls := r.calls.Load()
	time.Sleep(50 * time.Millisecond)
	if later := r.calls.Load(); later != calls || calls > 3 {
		t.Errorf("reads after the cancelled replay returned: %d then %d", calls, later)
	}

	// A panic reading, or working on someone, is the replay's error.
	r.onCall, r.failAt, r.panics = nil, 2, true
	r.calls.Store(0)
	if _, err := PeopleKnownAt(context.Background(), r, cat, PeopleFilter{}, knownAt); err == nil || !strings.Contains(err.Error(), "a reader's bug") {
		t.Errorf("a reader that panics: err %v", err)
	}
	r.failAt = 0
	err = replayKnownAt(context.Background(), r, r.ids, knownAt, func(p *domain.Person, _ uint64) (string, bool) {
		if p.ID == r.ids[knownAtChunk+7] {
			panic("a judge's bug")
		}
		return p.ID, true
	}, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "a judge's bug") {
		t.Errorf("work that panics: err %v", err)
	}
}

// inFlightReader is a KnownAtReader whose reads take a while, and which
// counts how many run at once.
type inFlightReader struct {
	ids          []string
	now, highest atomic.Int32
}

func (r *inFlightReader) PeopleEverIn(context.Context, string) ([]string, error) { return r.ids, nil }

func (r *inFlightReader) PersonEvents(ctx context.Context, ids []string) (map[string][]events.Recorded, error) {
	n := r.now.Add(1)
	defer r.now.Add(-1)
	for {
		h := r.highest.Load()
		if n <= h || r.highest.CompareAndSwap(h, n) {
			break
		}
	}
	select {
	case <-time.After(20 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return map[string][]events.Recorded{}, nil
}

// A replay reads up to two chunks at once, as replayKnownAt says, however
// many the cores: each read holds one of the read model's connections, and
// a PostgreSQL pool holds max(4, cores) of them by default, so a replay
// that read one chunk a core (or one more) would take every connection of
// a pool (the projector, /readyz and every other read would wait).
func TestAReplayReadsAtMostTwoChunksAtOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	r := &inFlightReader{}
	for i := range 8 * knownAtChunk {
		r.ids = append(r.ids, fmt.Sprintf("P%05d", i))
	}
	if _, err := PeopleKnownAt(context.Background(), r, domain.DefaultCatalogue(), PeopleFilter{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if h := r.highest.Load(); h > 2 {
		t.Errorf("%d reads at once with GOMAXPROCS 8, want at most 2", h)
	}
}
