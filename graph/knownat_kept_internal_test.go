package graph

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/memory"
)

// askedAfter records the positions a kept answer's checks ask about.
type askedAfter struct {
	ReadModel
	asked *[]uint64
}

func (a askedAfter) EarliestRecordedAfter(ctx context.Context, position uint64) (time.Time, bool, error) {
	*a.asked = append(*a.asked, position)
	return a.ReadModel.EarliestRecordedAfter(ctx, position)
}

// TestAKeptAnswerIsCheckedAgainstWhatWasStoredSinceTheLastCheck: during a
// bulk catch-up (events stored, their people not written: Readable stays
// where it began), a kept answer as known at an instant is still answered
// again while what is stored was recorded after it, and each check asks
// only about the events stored since the one before, not about every
// event the catch-up has stored (a scan of all of them, each page).
func TestAKeptAnswerIsCheckedAgainstWhatWasStoredSinceTheLastCheck(t *testing.T) {
	ctx := context.Background()
	store := memory.New(domain.DefaultCatalogue())
	knownAt := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pos := uint64(0)
	store1 := func(at time.Time) {
		t.Helper()
		pos++
		id := fmt.Sprintf("E%d", pos)
		if err := store.ApplyEvents(ctx, pos, []events.Recorded{{Position: pos, PersonID: id, RecordedAt: at, Type: "PersonRegistered", Version: 1,
			Event: events.PersonRegistered{PersonID: id, Name: "Person " + id, Department: "Ops", JoinedOn: domain.MustDate("2020-01-01")}}}); err != nil {
			t.Fatal(err)
		}
	}
	store1(knownAt.Add(-time.Hour))
	var asked []uint64
	rm := askedAfter{store, &asked}
	var kept knownAtKept[string, int]
	replays := 0
	ask := func() int {
		t.Helper()
		v, err := kept.answer(ctx, rm, "k", knownAt, 1, func() (int, error) { replays++; return replays, nil })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ask()
	var checkedUpTo []uint64 // the checkpoint as each check began
	for range 3 {
		store1(knownAt.Add(time.Hour)) // recorded after the instant: the answer stands
		checkedUpTo = append(checkedUpTo, pos)
		if v := ask(); v != 1 || replays != 1 {
			t.Fatalf("after events recorded after the instant: answer %d, %d replays; want the first, kept", v, replays)
		}
	}
	if r, _ := store.Readable(ctx); r != 0 {
		t.Fatalf("Readable %d: want 0, a bulk catch-up under way", r)
	}
	// The first check asks from the replay's position (1); each later one
	// from what the previous check covered.
	want := []uint64{1, checkedUpTo[0], checkedUpTo[1]}
	if fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Errorf("checks asked about the events after %v; want after %v", asked, want)
	}
	// One stored later but recorded before the instant: replayed.
	store1(knownAt.Add(-time.Minute))
	if v := ask(); v != 2 || replays != 2 {
		t.Errorf("after an event recorded before the instant: answer %d, %d replays; want a new replay", v, replays)
	}
}

// TestAKeptAnswerIsNotGivenAgainFromAnotherReadModel: once the Switch
// serves another read model (a rebuild's, perhaps of a damaged one), an
// answer replayed on the one before is replayed again, not given from
// what that one held; the new model's answer is kept in its turn.
func TestAKeptAnswerIsNotGivenAgainFromAnotherReadModel(t *testing.T) {
	ctx := context.Background()
	cat := domain.DefaultCatalogue()
	knownAt := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	reg := events.Recorded{Position: 1, PersonID: "E1", RecordedAt: knownAt.Add(-time.Hour), Type: "PersonRegistered", Version: 1,
		Event: events.PersonRegistered{PersonID: "E1", Name: "Person E1", Department: "Ops", JoinedOn: domain.MustDate("2020-01-01")}}
	stores := []*memory.Store{memory.New(cat), memory.New(cat)}
	for _, s := range stores {
		if err := s.ApplyEvents(ctx, 1, []events.Recorded{reg}); err != nil {
			t.Fatal(err)
		}
	}
	sw := projections.NewSwitch(stores[0])
	var kept knownAtKept[string, int]
	replays := 0
	ask := func() int {
		t.Helper()
		v, err := kept.answer(ctx, sw, "k", knownAt, 1, func() (int, error) { replays++; return replays, nil })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v, w := ask(), ask(); v != 1 || w != 1 {
		t.Fatalf("asked twice on one model: %d then %d, want 1 twice (kept)", v, w)
	}
	sw.Set(stores[1])
	if v := ask(); v != 2 {
		t.Errorf("after the switch: answer %d, want 2 (replayed on the model now serving)", v)
	}
	if v := ask(); v != 2 {
		t.Errorf("asked again after the switch: answer %d, want 2 (kept)", v)
	}
}

// TestRequestsForOneAnswerShareItsReplay: requests for an answer as known
// at an instant that come while it is being replayed wait for that replay
// and are answered from it, instead of each replaying it; a replay that
// fails leaves the next request to replay it.
func TestRequestsForOneAnswerShareItsReplay(t *testing.T) {
	ctx := context.Background()
	store := memory.New(domain.DefaultCatalogue())
	knownAt := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var kept knownAtKept[string, int]
	var replays atomic.Int64
	release := make(chan struct{})
	slow := func() (int, error) {
		replays.Add(1)
		<-release
		return 7, nil
	}
	var wg sync.WaitGroup
	answers := make([]int, 5)
	for i := range answers {
		wg.Go(func() {
			v, err := kept.answer(ctx, store, "k", knownAt, 1, slow)
			if err != nil {
				t.Error(err)
			}
			answers[i] = v
		})
	}
	time.Sleep(100 * time.Millisecond) // the others come while the first replays
	close(release)
	wg.Wait()
	if n := replays.Load(); n != 1 || fmt.Sprint(answers) != "[7 7 7 7 7]" {
		t.Errorf("five requests at once: %d replays, answers %v; want one replay, its answer for all", n, answers)
	}
	// A failed replay is not kept: the next request replays.
	fail := func() (int, error) { return 0, fmt.Errorf("read failed") }
	if _, err := kept.answer(ctx, store, "other", knownAt, 1, fail); err == nil {
		t.Fatal("a failing replay answered")
	}
	if v, err := kept.answer(ctx, store, "other", knownAt, 1, func() (int, error) { return 8, nil }); err != nil || v != 8 {
		t.Errorf("after a failed replay: %d, %v; want a new replay's 8", v, err)
	}
}
