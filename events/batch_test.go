package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func departed(id string) Event {
	return PersonDeparted{PersonID: id, EffectiveOn: domain.MustDate("2024-01-01")}
}

// Another writer appends to one person while a batch is on that person's
// chain: that person's append after the interference fails with
// ErrConflict and the rest of that person's events are skipped with the
// same cause, while everybody else's chain completes.
func TestAppendBatchConflictMidChain(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, nc *nats.Conn) {
		ctx := ctxT(t)
		const perPerson = 40
		people := []string{"A", "B", "C", "D", "E"}
		var ps []Pending
		for i := range perPerson {
			for _, id := range people {
				ps = append(ps, Pending{PersonID: id, MsgID: fmt.Sprintf("%s:%d", id, i), Event: departed(id), RecordedAt: time.Now()})
			}
		}
		// The other writer appends to C (without expecting a sequence) as
		// soon as it sees C's third event of the batch go by.
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		var seen atomic.Int32
		interfered := make(chan error, 1)
		sub, err := nc.Subscribe(l.Subject("C"), func(*nats.Msg) {
			if seen.Add(1) != 3 {
				return
			}
			m, err := l.message("C", 0, "other-writer", departed("C"), time.Now(), "", "")
			if err == nil {
				delete(m.Header, jetstream.ExpectedLastSubjSeqHeader)
				_, err = js.PublishMsg(ctx, m)
			}
			interfered <- err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}

		out, err := l.AppendBatch(ctx, ps)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-interfered:
			if err != nil {
				t.Fatalf("other writer: %v", err)
			}
		case <-ctx.Done():
			t.Fatal("the other writer never wrote")
		}
		last := map[string]uint64{}
		stored := map[string]int{}
		conflictAt := -1 // C's k-th event that lost the race
		k := 0
		for i, o := range out {
			id := ps[i].PersonID
			if id != "C" {
				if o.Err != nil || o.Duplicate || o.Position <= last[id] {
					t.Fatalf("%s[%d] = %+v after %d", id, i, o, last[id])
				}
				last[id] = o.Position
				stored[id]++
				continue
			}
			switch {
			case conflictAt < 0 && o.Err == nil:
				if o.Duplicate || o.Position <= last[id] {
					t.Fatalf("C[%d] = %+v after %d", k, o, last[id])
				}
				last[id] = o.Position
				stored[id]++
			case conflictAt < 0:
				if !errors.Is(o.Err, ErrConflict) || o.Position != 0 || strings.Contains(o.Err.Error(), "skipped") {
					t.Fatalf("C[%d]: %+v, want the lost race", k, o)
				}
				conflictAt = k
			default:
				if !errors.Is(o.Err, ErrConflict) || o.Position != 0 || !strings.Contains(o.Err.Error(), "skipped") {
					t.Fatalf("C[%d] after the lost race at %d: %+v, want skipped with ErrConflict", k, conflictAt, o)
				}
			}
			k++
		}
		t.Logf("C lost the race at its event %d", conflictAt)
		if conflictAt < 3 {
			t.Fatalf("C's chain lost a race at %d, want after its third event (out of %d)", conflictAt, perPerson)
		}
		for _, id := range people {
			if want := perPerson; id == "C" {
				want = conflictAt
				if stored[id] != want {
					t.Errorf("%s: %d stored, want %d", id, stored[id], want)
				}
			} else if stored[id] != want {
				t.Errorf("%s: %d stored, want %d", id, stored[id], want)
			}
		}
		if h, _ := l.Head(ctx); h != uint64(4*perPerson+conflictAt+1) {
			t.Errorf("head = %d, want %d", h, 4*perPerson+conflictAt+1)
		}
		// What C has in the log is the batch's prefix and the other write.
		rs, _, err := l.Load(ctx, "C")
		if err != nil || len(rs) != conflictAt+1 {
			t.Fatalf("Load(C) = %d events, %v; want %d", len(rs), err, conflictAt+1)
		}
	})
}

// More people than the in-flight window: every chain still completes in
// order, and re-running the batch is all duplicates.
func TestAppendBatchMorePeopleThanWindow(t *testing.T) {
	l, err := OpenLog(context.Background(), connectEmbedded(t, startEmbedded(t, 2*time.Minute)), LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	const people, perPerson = asyncMaxPending + 500, 3
	var ps []Pending
	for i := range perPerson {
		for p := range people {
			id := fmt.Sprintf("W%d", p)
			ps = append(ps, Pending{PersonID: id, MsgID: fmt.Sprintf("%s:%d", id, i), Event: departed(id), RecordedAt: time.Now()})
		}
	}
	// A bad person id fails that person's events only.
	ps[7].PersonID = "bad id"
	ps[7+people].PersonID = "bad id"
	out, err := l.AppendBatch(ctx, ps)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]uint64{}
	for i, o := range out {
		id := ps[i].PersonID
		if id == "bad id" {
			if o.Err == nil || (i == 7) == strings.Contains(o.Err.Error(), "skipped") {
				t.Fatalf("bad id [%d]: %+v", i, o)
			}
			continue
		}
		if o.Err != nil || o.Duplicate || o.Position <= last[id] {
			t.Fatalf("%s[%d] = %+v after %d", id, i, o, last[id])
		}
		last[id] = o.Position
	}
	if h, _ := l.Head(ctx); h != uint64(len(ps)-2) {
		t.Errorf("head = %d, want %d", h, len(ps)-2)
	}
	for i := range ps {
		ps[i].ExpectedLastSeq = last[ps[i].PersonID]
	}
	again, err := l.AppendBatch(ctx, ps)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range again {
		if ps[i].PersonID != "bad id" && (!o.Duplicate || o.Position != out[i].Position) {
			t.Fatalf("rerun[%d] = %+v, want duplicate of %d", i, o, out[i].Position)
		}
	}
}

// A cancelled context ends the batch with its error, on every outcome not
// reached.
func TestAppendBatchCancelled(t *testing.T) {
	l, err := OpenLog(context.Background(), connectEmbedded(t, startEmbedded(t, 2*time.Minute)), LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ps := []Pending{{PersonID: "A", Event: departed("A"), RecordedAt: time.Now()}, {PersonID: "A", Event: departed("A"), RecordedAt: time.Now()}}
	out, err := l.AppendBatch(ctx, ps)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(out[0].Err, context.Canceled) || !errors.Is(out[1].Err, context.Canceled) {
		t.Errorf("outcomes %+v", out)
	}
}
