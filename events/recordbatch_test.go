package events

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/nats-io/nats.go"
)

// mixedBatch is a batch of every kind of command over a few people, with
// refused commands in the middle: E3 exists before the batch (with an
// engagement recorded under key "pre"), E1 and a generated person are
// registered in it, E9 never exists.
func mixedBatch() []Command {
	d := domain.MustDate
	e1a1 := accomplishmentID("E1", "a1")
	e1a2 := accomplishmentID("E1", "a2")
	e1a3 := accomplishmentID("E1", "a3")
	gen := "P" + derivedToken("person:gen")
	ongoingWithEnd := sampleEngagement("bad")
	ongoingWithEnd.Engagement.Outcome = domain.Ongoing
	retitle := func(title string) func(domain.Accomplishment) (domain.Accomplishment, error) {
		return func(cur domain.Accomplishment) (domain.Accomplishment, error) {
			switch {
			case cur.Engagement != nil:
				cur.Engagement.Title = title
			case cur.Succession != nil:
				cur.Succession.Title = title
			}
			return cur, nil
		}
	}
	return []Command{
		RegisterPerson{ID: "E1", Name: "Sato Aiko", Department: "Infrastructure", JoinedOn: d("2015-04-01"), IdempotencyKey: "r1"},
		RecordAccomplishment{PersonID: "E1", Accomplishment: sampleEngagement("Backbone migration"), IdempotencyKey: "a1"},
		RecordAccomplishment{PersonID: "E1", Accomplishment: domain.Accomplishment{Succession: &domain.SuccessionItem{Kind: domain.Book, Title: "Ops", OccurredOn: d("2023-01-01"), Fields: []domain.Field{domain.NetworkOperation}}}, IdempotencyKey: "a2"},
		RecordAccomplishment{PersonID: "E1", Accomplishment: domain.Accomplishment{Development: &domain.Development{Kind: domain.Coaching, OccurredOn: d("2023-02-01")}}, IdempotencyKey: "a3"},
		RecordAccomplishment{PersonID: "E1", Accomplishment: domain.Accomplishment{Assessment: &domain.ThemeAssessment{Theme: domain.StressManagement, Proficiency: domain.Practice, AssessedOn: d("2023-03-01")}}, IdempotencyKey: "a4"},
		RegisterPerson{ID: "E2", Name: "Ito Ken", Department: "Ops", JoinedOn: d("2019-01-01")},                      // no key
		RecordAccomplishment{PersonID: "E9", Accomplishment: sampleEngagement("nobody"), IdempotencyKey: "z1"},       // unknown person
		RegisterPerson{ID: "E1", Name: "Again", Department: "Ops", JoinedOn: d("2020-01-01"), IdempotencyKey: "r1b"}, // taken
		AmendAccomplishment{AccomplishmentID: e1a1, Patch: retitle("Backbone migration (phase 1)"), IdempotencyKey: "m1"},
		RetractAccomplishment{AccomplishmentID: e1a2, Reason: "duplicate entry", IdempotencyKey: "x1"},
		AmendAccomplishment{AccomplishmentID: e1a2, Patch: retitle("gone"), IdempotencyKey: "m2"},   // retracted
		RecordAccomplishment{PersonID: "E1", Accomplishment: ongoingWithEnd, IdempotencyKey: "bad"}, // catalogue
		TransferPerson{PersonID: "E1", Department: "Service Desk", EffectiveOn: d("2023-10-01"), IdempotencyKey: "t1"},
		TransferPerson{PersonID: "E1", Department: "Nowhere", EffectiveOn: d("2015-03-31"), IdempotencyKey: "t2"},          // before joining
		RecordAccomplishment{PersonID: "E1", Accomplishment: sampleEngagement("Backbone migration"), IdempotencyKey: "a1"}, // repeat in the batch
		RetractAccomplishment{AccomplishmentID: e1a3, IdempotencyKey: "x2"},                                                // no reason
		RecordAccomplishment{PersonID: "E3", Accomplishment: sampleEngagement("Monitoring"), IdempotencyKey: "b1"},
		AmendAccomplishment{AccomplishmentID: accomplishmentID("E3", "pre"), Patch: retitle("Pre (amended)"), IdempotencyKey: "b2"},
		RegisterPerson{Name: "Generated", Department: "Ops", JoinedOn: d("2020-01-01"), IdempotencyKey: "gen"},
		RecordAccomplishment{PersonID: gen, Accomplishment: domain.Accomplishment{Development: &domain.Development{Kind: domain.Coaching, OccurredOn: d("2024-02-01")}}, IdempotencyKey: "g1"},
		RecordDeparture{PersonID: "E1", EffectiveOn: d("2025-03-31"), IdempotencyKey: "d1"},
		RecordDeparture{PersonID: "E9", EffectiveOn: d("2025-03-31")}, // unknown person
		RetractAccomplishment{AccomplishmentID: "nonsense", Reason: "x"},
		TransferPerson{PersonID: "E2", Department: "Ops 2", EffectiveOn: d("2024-01-01"), IdempotencyKey: "t3"},
	}
}

// batchPeople are the people mixedBatch touches.
var batchPeople = []string{"E1", "E2", "E3", "E9", "P" + derivedToken("person:gen")}

// preBatch writes what mixedBatch expects to exist, with a Recorder of its
// own (so that the Recorder under test does not remember it).
func preBatch(t *testing.T, l *Log) {
	t.Helper()
	r := newRecorder(l)
	mustRegister(t, r, "E3")
	if _, err := r.RecordAccomplishment(ctxT(t), RecordAccomplishment{PersonID: "E3", Accomplishment: sampleEngagement("Pre"), IdempotencyKey: "pre"}); err != nil {
		t.Fatal(err)
	}
}

// runSingly runs the commands one by one with the single-command methods.
func runSingly(ctx context.Context, r *Recorder, cmds []Command) []BatchResult {
	out := make([]BatchResult, len(cmds))
	for i, c := range cmds {
		var res Result
		var err error
		switch c := c.(type) {
		case RegisterPerson:
			res, err = r.RegisterPerson(ctx, c)
		case TransferPerson:
			res, err = r.TransferPerson(ctx, c)
		case RecordDeparture:
			res, err = r.RecordDeparture(ctx, c)
		case RecordAccomplishment:
			res, err = r.RecordAccomplishment(ctx, c)
		case AmendAccomplishment:
			res, err = r.AmendAccomplishment(ctx, c)
		case RetractAccomplishment:
			res, err = r.RetractAccomplishment(ctx, c)
		}
		out[i] = BatchResult{Result: res, Err: err}
	}
	return out
}

// sameOutcome compares two results of one command on different logs: the
// same error (message and domain kind and field), or the same result but
// for the position.
func sameOutcome(a, b BatchResult) bool {
	if (a.Err == nil) != (b.Err == nil) {
		return false
	}
	if a.Err != nil {
		var da, db *domain.Error
		return a.Err.Error() == b.Err.Error() && errors.As(a.Err, &da) == errors.As(b.Err, &db) &&
			(da == nil || *da == *db)
	}
	a.Result.Position, b.Result.Position = 0, 0
	return a.Result == b.Result
}

// storedEvents returns a person's events without what depends on the log
// they are in (positions, recorded times).
type storedEvent struct {
	Type, Key string
	Event     Event
}

func storedEvents(t *testing.T, l *Log, personID string) []storedEvent {
	t.Helper()
	rs, _, err := l.Load(ctxT(t), personID)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]storedEvent, len(rs))
	for i, rec := range rs {
		out[i] = storedEvent{rec.Type, rec.IdempotencyKey, rec.Event}
	}
	return out
}

func TestRecordBatchEqualsSingleCommands(t *testing.T) {
	single, _ := openEmbeddedLog(t, LogConfig{})
	batch, _ := openEmbeddedLog(t, LogConfig{})
	preBatch(t, single)
	preBatch(t, batch)
	ctx := ctxT(t)
	want := runSingly(ctx, newRecorder(single), mixedBatch())
	got := newRecorder(batch).RecordBatch(ctx, mixedBatch())
	if len(got) != len(want) {
		t.Fatalf("%d results for %d commands", len(got), len(want))
	}
	refused := 0
	for i := range want {
		if want[i].Err != nil {
			refused++
		}
		if !sameOutcome(got[i], want[i]) {
			t.Errorf("command %d (%T): batch %+v, single %+v", i, mixedBatch()[i], got[i], want[i])
		}
		if got[i].Err == nil && got[i].Result.Position == 0 {
			t.Errorf("command %d: no position", i)
		}
	}
	if refused != 8 {
		t.Errorf("%d refused commands, want 8 (the test lost its refusals)", refused)
	}
	// The repeat within the batch answers with the original.
	if got[14].Result != (Result{Position: got[1].Result.Position, PersonID: "E1", AccomplishmentID: got[1].Result.AccomplishmentID, Duplicate: true}) {
		t.Errorf("repeat within the batch = %+v, original %+v", got[14].Result, got[1].Result)
	}
	for _, id := range batchPeople {
		if s, b := storedEvents(t, single, id), storedEvents(t, batch, id); !reflect.DeepEqual(s, b) {
			t.Errorf("%s: batch stored\n%+v\nsingle commands stored\n%+v", id, b, s)
		}
	}
	// The batch's positions are where its events are.
	for i, res := range got {
		if res.Err != nil || res.Result.Duplicate {
			continue
		}
		rec, err := batch.At(ctx, res.Result.Position)
		if err != nil || rec.PersonID != res.Result.PersonID || rec.IdempotencyKey != keyOf(mixedBatch()[i]) {
			t.Errorf("command %d: position %d holds %+v (%v)", i, res.Result.Position, rec, err)
		}
	}
}

func keyOf(c Command) string {
	p, err := c.plan(newRecorder(nil))
	if err != nil {
		return ""
	}
	return p.key
}

// TestRecordBatchRepeated runs a batch again: on the same Recorder, on a
// new one, and after the dedupe window. Nothing new is recorded; every
// command with a key is answered with its first result.
func TestRecordBatchRepeated(t *testing.T) {
	forEachBackend(t, LogConfig{DuplicateWindow: time.Second}, func(t *testing.T, l *Log, _ *nats.Conn) {
		preBatch(t, l)
		ctx := ctxT(t)
		r := newRecorder(l)
		first := r.RecordBatch(ctx, mixedBatch())
		head, _ := l.Head(ctx)
		check := func(name string, again []BatchResult) {
			t.Helper()
			for i, c := range mixedBatch() {
				f, a := first[i], again[i]
				switch {
				case f.Err != nil || keyOf(c) == "":
					// Refused, or without a key: decided again (E2's
					// registration is now refused as taken).
					if a.Err == nil {
						t.Errorf("%s: command %d: %+v, first %+v", name, i, a, f)
					}
				default:
					f.Result.Duplicate = true
					if a.Err != nil || a.Result != f.Result {
						t.Errorf("%s: command %d: %+v, want %+v", name, i, a, f)
					}
				}
			}
			if after, _ := l.Head(ctx); after != head {
				t.Errorf("%s: the repeat recorded %d events", name, after-head)
			}
		}
		check("same recorder", r.RecordBatch(ctx, mixedBatch()))
		check("new recorder", newRecorder(l).RecordBatch(ctx, mixedBatch()))
		time.Sleep(1200 * time.Millisecond)
		check("after the window", newRecorder(l).RecordBatch(ctx, mixedBatch()))
		check("singly after the window", runSingly(ctx, newRecorder(l), mixedBatch()))
	})
}

// TestRecordBatchConcurrentWriter writes to one person from a batch and,
// at the same time, with single commands from another Recorder (another
// careerd) and from the batch's own Recorder: nothing is lost, nothing is
// stored twice, and the batch's events keep their order.
func TestRecordBatchConcurrentWriter(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		rb, other := NewRecorder(l, testCatalogue, time.Now), NewRecorder(l, testCatalogue, time.Now)
		mustRegister(t, other, "X")
		const n = 300
		cmds := make([]Command, 0, n+20)
		for i := range n {
			cmds = append(cmds, RecordAccomplishment{PersonID: "X", Accomplishment: sampleEngagement("batch " + strconv.Itoa(i)), IdempotencyKey: "b" + strconv.Itoa(i)})
			if i%15 == 0 {
				cmds = append(cmds, RegisterPerson{ID: "Y" + strconv.Itoa(i), Name: "n", Department: "d", JoinedOn: domain.MustDate("2020-01-01"), IdempotencyKey: "r"})
			}
		}
		done := make(chan struct{})
		var wg sync.WaitGroup
		var singles sync.Map // key -> Result
		for w, r := range []*Recorder{other, rb} {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-done:
						if i > 0 {
							return
						}
					default:
					}
					// A busy user, not a tight loop: a batch that loses a race
					// reads the person again whole, which under -race on a
					// loaded machine took longer than two writers 3 ms apart
					// left it, and it gave up after 30 lost races in a row.
					time.Sleep(10 * time.Millisecond)
					key := fmt.Sprintf("s%d-%d", w, i)
					res, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "X", Accomplishment: sampleEngagement(key), IdempotencyKey: key})
					if err != nil {
						t.Error(err)
						return
					}
					singles.Store(key, res)
				}
			})
		}
		got := rb.RecordBatch(ctx, cmds)
		close(done)
		wg.Wait()
		byKey := map[string]Result{}
		for i, res := range got {
			if res.Err != nil || res.Result.Duplicate {
				t.Fatalf("batch command %d: %+v", i, res)
			}
			if c, ok := cmds[i].(RecordAccomplishment); ok {
				byKey[c.IdempotencyKey] = res.Result
			}
		}
		nSingles := 0
		singles.Range(func(k, v any) bool {
			byKey[k.(string)] = v.(Result)
			nSingles++
			return true
		})
		rs, _, err := l.Load(ctx, "X")
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1+n+nSingles {
			t.Fatalf("%d events, want %d", len(rs), 1+n+nSingles)
		}
		seen := map[string]bool{}
		nextBatch := 0
		for _, rec := range rs[1:] {
			res, ok := byKey[rec.IdempotencyKey]
			if !ok || seen[rec.IdempotencyKey] || res.Position != rec.Position {
				t.Fatalf("event %d with key %q: result %+v, seen before %v", rec.Position, rec.IdempotencyKey, res, seen[rec.IdempotencyKey])
			}
			seen[rec.IdempotencyKey] = true
			if rec.IdempotencyKey[0] == 'b' {
				if rec.IdempotencyKey != "b"+strconv.Itoa(nextBatch) {
					t.Fatalf("batch event %s out of order (want b%d)", rec.IdempotencyKey, nextBatch)
				}
				nextBatch++
			}
		}
		// A lost race drops what the batch folded in ahead of its acks:
		// what the recorders remember of X is the log up to some point (the
		// other's later appends are caught up with before the next
		// decision), never an event the log does not hold there.
		want := changeIDs(Fold(rs))
		for name, r := range map[string]*Recorder{"batch": rb, "other": other} {
			e := r.cache.entry("X")
			// A command may still be folding its event. Waited for without
			// the test's deadline: given up on, the entry would be read
			// unlocked and release would take the fold's turn (or block).
			e.acquire(context.Background()) //nolint:errcheck // never done
			if e.known {
				if got := changeIDs(e.person); len(got) > len(want) || !reflect.DeepEqual(got, want[:len(got)]) {
					t.Errorf("the %s recorder remembers %d changes of X that are not the first of the log's %d", name, len(got), len(want))
				}
			}
			e.release()
		}
		t.Logf("%d batch events, %d single commands; lost races: batch recorder %d, other %d", n, nSingles, rb.conflicts.Load(), other.conflicts.Load())
		if rb.conflicts.Load()+other.conflicts.Load() == 0 {
			t.Error("no lost races: the test did not test concurrency")
		}
	})
}

// TestRecordBatchLarge records 10,000 commands over 1,000 people in one
// batch: ten per person, interleaved across people.
func TestRecordBatchLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 events")
	}
	// The fsync interval keeps the test quick; durability is not its point.
	l, err := OpenLog(context.Background(), connectEmbedded(t, startEmbedded(t, 2*time.Minute)), LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	const people, per = 1000, 10
	var cmds []Command
	for k := range per {
		for p := range people {
			id := "L" + strconv.Itoa(p)
			if k == 0 {
				cmds = append(cmds, RegisterPerson{ID: id, Name: "n", Department: "d", JoinedOn: domain.MustDate("2020-01-01"), IdempotencyKey: "k0"})
				continue
			}
			cmds = append(cmds, RecordAccomplishment{PersonID: id, Accomplishment: sampleEngagement("job"), IdempotencyKey: "k" + strconv.Itoa(k)})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	got := newRecorder(l).RecordBatch(ctx, cmds)
	t.Logf("%d commands over %d people in %v", len(cmds), people, time.Since(start))
	for i, res := range got {
		if res.Err != nil || res.Result.Duplicate || res.Result.Position == 0 {
			t.Fatalf("command %d: %+v", i, res)
		}
	}
	// Read the whole log: every event once, each person's in command order.
	next := map[string]int{}
	var after uint64
	total := 0
	for {
		rs, err := l.Read(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			break
		}
		for _, rec := range rs {
			if want := "k" + strconv.Itoa(next[rec.PersonID]); rec.IdempotencyKey != want {
				t.Fatalf("%s: event %d has key %s, want %s", rec.PersonID, rec.Position, rec.IdempotencyKey, want)
			}
			if res := got[next[rec.PersonID]*people+mustAtoi(t, rec.PersonID[1:])]; res.Result.Position != rec.Position {
				t.Fatalf("%s %s: at %d, reported %d", rec.PersonID, rec.IdempotencyKey, rec.Position, res.Result.Position)
			}
			next[rec.PersonID]++
			total++
		}
		after = rs[len(rs)-1].Position
	}
	if total != people*per || len(next) != people {
		t.Fatalf("%d events for %d people, want %d for %d", total, len(next), people*per, people)
	}
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRecordBatchDecidesFromTheLog shows a batch confirms what it remembers:
// a person registered meanwhile by another Recorder is found, although this
// Recorder remembers the person as unknown.
func TestRecordBatchDecidesFromTheLog(t *testing.T) {
	l, _ := openEmbeddedLog(t, LogConfig{})
	ctx := ctxT(t)
	r, other := newRecorder(l), newRecorder(l)
	if _, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1", Accomplishment: sampleEngagement("x")}); domain.KindOf(err) != domain.KindNotFound {
		t.Fatalf("before registration: %v", err)
	}
	mustRegister(t, other, "E1")
	got := r.RecordBatch(ctx, []Command{
		RecordAccomplishment{PersonID: "E1", Accomplishment: sampleEngagement("y"), IdempotencyKey: "y"},
		RegisterPerson{ID: "E1", Name: "n", Department: "d", JoinedOn: domain.MustDate("2020-01-01")},
	})
	if got[0].Err != nil || got[0].Result.AccomplishmentID != accomplishmentID("E1", "y") {
		t.Errorf("record = %+v", got[0])
	}
	var de *domain.Error
	if !errors.As(got[1].Err, &de) || de.Field != "id" {
		t.Errorf("register a taken id = %+v", got[1])
	}
	if res := r.RecordBatch(ctx, nil); len(res) != 0 {
		t.Errorf("empty batch: %+v", res)
	}
	if res := r.RecordBatch(ctx, []Command{nil}); res[0].Err == nil {
		t.Error("a nil command was accepted")
	}
}

// TestTwoRecordersOnOnePerson is two careerd instances writing to one
// person: each Recorder's memory is stale after the other's write, so every
// write after the first loses a race, catches up and goes through once.
func TestTwoRecordersOnOnePerson(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		rs := []*Recorder{NewRecorder(l, testCatalogue, time.Now), NewRecorder(l, testCatalogue, time.Now)}
		mustRegister(t, rs[0], "E1")
		const n = 40
		positions := map[uint64]string{}
		for i := range n { // strictly interleaved
			key := "k" + strconv.Itoa(i)
			res, err := rs[i%2].RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1", Accomplishment: sampleEngagement(key), IdempotencyKey: key})
			if err != nil || res.Duplicate {
				t.Fatalf("write %d: %+v, %v", i, res, err)
			}
			positions[res.Position] = key
		}
		// rs[1] knew nothing of E1 at its first write (it read the log
		// then); every later write of each found its memory stale once.
		if c0, c1 := rs[0].conflicts.Load(), rs[1].conflicts.Load(); c0 != n/2-1 || c1 != n/2-1 {
			t.Errorf("lost races: %d and %d, want %d each", c0, c1, n/2-1)
		}
		// A repeat through the other Recorder is answered, not stored.
		for i := range n {
			key := "k" + strconv.Itoa(i)
			res, err := rs[(i+1)%2].RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1", Accomplishment: sampleEngagement(key), IdempotencyKey: key})
			if err != nil || !res.Duplicate || positions[res.Position] != key {
				t.Fatalf("repeat %d: %+v, %v", i, res, err)
			}
		}
		// And concurrently: both write 100 at once.
		var wg sync.WaitGroup
		for w, r := range rs {
			wg.Go(func() {
				for i := range 100 {
					key := fmt.Sprintf("c%d-%d", w, i)
					if _, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1", Accomplishment: sampleEngagement(key), IdempotencyKey: key}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		events, _, err := l.Load(ctx, "E1")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, rec := range events[1:] {
			if seen[rec.IdempotencyKey] {
				t.Fatalf("%s stored twice", rec.IdempotencyKey)
			}
			seen[rec.IdempotencyKey] = true
		}
		if len(seen) != n+200 {
			t.Fatalf("%d events, want %d", len(seen), n+200)
		}
	})
}

// TestRecorderForgetsPeople shows the memory is bounded and that a
// forgotten person is read again correctly.
func TestRecorderForgetsPeople(t *testing.T) {
	l, _ := openEmbeddedLog(t, LogConfig{})
	ctx := ctxT(t)
	r := newRecorder(l)
	r.cache = newPersonCache(3)
	for round := range 3 {
		for p := range 10 {
			id := "F" + strconv.Itoa(p)
			if round == 0 {
				mustRegister(t, r, id)
			}
			if _, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: id, Accomplishment: sampleEngagement("x")}); err != nil {
				t.Fatal(err)
			}
			if n := r.cache.len(); n > 3 {
				t.Fatalf("%d people remembered, cap 3", n)
			}
		}
	}
	if c := r.conflicts.Load(); c != 0 {
		t.Errorf("%d lost races with a single writer", c)
	}
	for p := range 10 {
		if rs, _, _ := l.Load(ctx, "F"+strconv.Itoa(p)); len(rs) != 4 {
			t.Errorf("F%d: %d events, want 4", p, len(rs))
		}
	}
}

// changeIDs lists the accomplishment each of p's changes records or
// retracts, in order.
func changeIDs(p *domain.Person) []string {
	var out []string
	for _, c := range p.Changes() {
		id := c.RetractedID
		if id == "" {
			id = c.Accomplishment.ID()
		}
		out = append(out, id)
	}
	return out
}

// TestBatchCutShortLeavesNoPhantom: a batch cut short (its context done)
// after folding an event in ahead of its acknowledgement must not leave
// that event in what the Recorder remembers, even when the next command is
// a registration of the same (taken) id, which decides without reading an
// unknown person: a retraction of the accomplishment that never reached
// the log is then refused.
func TestBatchCutShortLeavesNoPhantom(t *testing.T) {
	l, _ := openEmbeddedLog(t, LogConfig{})
	ctx := ctxT(t)
	r := newRecorder(l)
	mustRegister(t, r, "E1")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	got := r.RecordBatch(cctx, []Command{RecordAccomplishment{PersonID: "E1", Accomplishment: sampleEngagement("k1"), IdempotencyKey: "k1"}})
	if got[0].Err == nil {
		t.Fatalf("a batch under a cancelled context went through: %+v", got[0])
	}
	if _, err := r.RegisterPerson(ctx, RegisterPerson{ID: "E1", Name: "n", Department: "d", JoinedOn: domain.MustDate("2020-01-01")}); err == nil {
		t.Fatal("registering a taken id succeeded")
	}
	id := accomplishmentID("E1", "k1")
	if res, err := r.RetractAccomplishment(ctx, RetractAccomplishment{AccomplishmentID: id, Reason: "phantom"}); err == nil {
		t.Errorf("retracted %s at %d, which the log never recorded", id, res.Position)
	}
}
