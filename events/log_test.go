package events

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestAppendConflict(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		at := time.Now()
		ev := PersonRegistered{PersonID: "P1", Name: "Aiko", Department: "Ops", JoinedOn: domain.MustDate("2020-04-01")}
		p1, dup, err := l.Append(ctx, "P1", 0, "", ev, at, "")
		if err != nil || dup || p1 == 0 {
			t.Fatalf("first append: pos %d dup %v err %v", p1, dup, err)
		}
		// Expected 0 ("no event yet") must be enforced, not ignored.
		if _, _, err := l.Append(ctx, "P1", 0, "", ev, at, ""); !errors.Is(err, ErrConflict) {
			t.Fatalf("append expecting an empty subject: err = %v, want ErrConflict", err)
		}
		if _, _, err := l.Append(ctx, "P1", p1+7, "", ev, at, ""); !errors.Is(err, ErrConflict) || domain.KindOf(err) != domain.KindConflict {
			t.Fatalf("append with a wrong sequence: err = %v (kind %v), want ErrConflict", err, domain.KindOf(err))
		}
		// Another person's subject is independent.
		if _, _, err := l.Append(ctx, "P2", 0, "", PersonRegistered{PersonID: "P2", Name: "B", Department: "Ops", JoinedOn: domain.MustDate("2020-04-01")}, at, ""); err != nil {
			t.Fatal(err)
		}
		p2, _, err := l.Append(ctx, "P1", p1, "", PersonDeparted{PersonID: "P1", EffectiveOn: domain.MustDate("2024-01-01")}, at, "")
		if err != nil || p2 <= p1 {
			t.Fatalf("append with the right sequence: pos %d err %v", p2, err)
		}
		rs, last, err := l.Load(ctx, "P1")
		if err != nil || len(rs) != 2 || last != p2 {
			t.Fatalf("load: %d events, last %d, err %v", len(rs), last, err)
		}
	})
}

func TestProvisioningIsIdempotent(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, nc *nats.Conn) {
		ctx := ctxT(t)
		if _, _, err := l.Append(ctx, "P1", 0, "", PersonDeparted{PersonID: "P1", EffectiveOn: domain.MustDate("2020-01-01")}, time.Now(), ""); err != nil {
			t.Fatal(err)
		}
		before, err := l.stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			again, err := OpenLog(ctx, nc, l.Config())
			if err != nil {
				t.Fatalf("second OpenLog: %v", err)
			}
			after, err := again.stream.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before.Config, after.Config) || !before.Created.Equal(after.Created) || after.State.Msgs != 1 {
				t.Fatalf("second OpenLog changed the stream:\n%+v\n%+v", before.Config, after.Config)
			}
		}
		c := before.Config
		if !c.DenyDelete || !c.DenyPurge || c.AllowDirect || c.Storage != jetstream.FileStorage ||
			c.Duplicates != 2*time.Minute || !slices.Equal(c.Subjects, []string{l.Config().SubjectPrefix + ".*"}) {
			t.Errorf("stream config = %+v", c)
		}
		// A changed setting is applied to the existing stream.
		cfg := l.Config()
		cfg.DuplicateWindow = time.Minute
		changed, err := OpenLog(ctx, nc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := changed.stream.CachedInfo().Config.Duplicates; got != time.Minute {
			t.Errorf("duplicate window after reconfiguring = %v", got)
		}
	})
}

func TestAppendDuplicateMsgID(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		ev := PersonRegistered{PersonID: "P1", Name: "A", Department: "Ops", JoinedOn: domain.MustDate("2020-04-01")}
		p1, dup, err := l.Append(ctx, "P1", 0, "P1:k1", ev, time.Now(), "k1")
		if err != nil || dup {
			t.Fatal(err, dup)
		}
		// A repeat that passes the expected-sequence check is a duplicate.
		p2, dup, err := l.Append(ctx, "P1", p1, "P1:k1", ev, time.Now(), "k1")
		if err != nil || !dup || p2 != p1 {
			t.Fatalf("repeat: pos %d dup %v err %v, want %d true nil", p2, dup, err, p1)
		}
		// With a stale expectation the server answers either way, depending
		// on which check it makes first (version and clustering): the
		// original position as a duplicate, or a conflict. Never a new event.
		p3, dup, err := l.Append(ctx, "P1", 0, "P1:k1", ev, time.Now(), "k1")
		if !(err == nil && dup && p3 == p1) && !errors.Is(err, ErrConflict) {
			t.Fatalf("stale repeat: pos %d dup %v err %v", p3, dup, err)
		}
		if h, _ := l.Head(ctx); h != p1 {
			t.Errorf("head = %d, want %d", h, p1)
		}
	})
}

// appendPeople writes n events for each person, interleaved, and returns
// each person's positions.
func appendPeople(t *testing.T, l *Log, people []string, n int) map[string][]uint64 {
	t.Helper()
	ctx := ctxT(t)
	pos := map[string][]uint64{}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		for _, id := range people {
			var ev Event = PersonTransferred{PersonID: id, Department: fmt.Sprintf("D%d", i), EffectiveOn: domain.MustDate("2024-01-01").AddDays(i)}
			if i == 0 {
				ev = PersonRegistered{PersonID: id, Name: id, Department: "D0", JoinedOn: domain.MustDate("2020-01-01")}
			}
			var last uint64
			if ps := pos[id]; len(ps) > 0 {
				last = ps[len(ps)-1]
			}
			p, _, err := l.Append(ctx, id, last, "", ev, base.Add(time.Duration(i)*time.Minute), "")
			if err != nil {
				t.Fatal(err)
			}
			pos[id] = append(pos[id], p)
		}
	}
	return pos
}

func TestLoad(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		people := []string{"A", "B", "C"}
		// 30 events each: more than loadGetsBeforeConsumer, so both read paths run.
		want := appendPeople(t, l, people, 30)
		for _, id := range people {
			rs, last, err := l.Load(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 30 || last != want[id][29] {
				t.Fatalf("Load(%s): %d events, last %d", id, len(rs), last)
			}
			for i, r := range rs {
				if r.Position != want[id][i] || r.PersonID != id {
					t.Fatalf("Load(%s)[%d] = %d %s, want %d", id, i, r.Position, r.PersonID, want[id][i])
				}
			}
			if p := Fold(rs); p == nil || p.DepartmentOn(domain.MustDate("2030-01-01")) != "D29" {
				t.Errorf("fold of %s = %+v", id, p)
			}
		}
		rs, last, err := l.Load(ctx, "nobody")
		if err != nil || len(rs) != 0 || last != 0 {
			t.Errorf("Load(nobody) = %d events, %d, %v", len(rs), last, err)
		}
		if _, _, err := l.Load(ctx, "a.b"); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("Load(a.b) err = %v", err)
		}
		known, err := l.LoadKnownAt(ctx, "B", time.Date(2025, 1, 1, 0, 4, 30, 0, time.UTC))
		if err != nil || len(known) != 5 {
			t.Errorf("LoadKnownAt = %d events, %v; want 5", len(known), err)
		}
		// Read-your-writes: an append is visible to the very next load.
		for i := range 20 {
			p, _, err := l.Append(ctx, "A", last0(t, l, "A"), "", PersonDeparted{PersonID: "A", EffectiveOn: domain.MustDate("2024-06-01")}, time.Now(), "")
			if err != nil {
				t.Fatal(err)
			}
			if got := last0(t, l, "A"); got != p {
				t.Fatalf("append %d at %d, next load ends at %d", i, p, got)
			}
		}
	})
}

func last0(t *testing.T, l *Log, id string) uint64 {
	t.Helper()
	_, last, err := l.Load(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return last
}

func TestReadAndHead(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		if h, err := l.Head(ctx); err != nil || h != 0 {
			t.Fatalf("head of an empty log = %d, %v", h, err)
		}
		appendPeople(t, l, []string{"A", "B"}, 25)
		head, err := l.Head(ctx)
		if err != nil || head != 50 {
			t.Fatalf("head = %d, %v", head, err)
		}
		var got []uint64
		for after := uint64(0); ; {
			rs, err := l.Read(ctx, after, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) == 0 {
				break
			}
			if len(rs) > 7 {
				t.Fatalf("Read returned %d > 7", len(rs))
			}
			for _, r := range rs {
				got = append(got, r.Position)
			}
			after = rs[len(rs)-1].Position
		}
		if len(got) != 50 || got[0] != 1 || got[49] != 50 || !slices.IsSorted(got) {
			t.Errorf("read positions %v", got)
		}
		rs, err := l.Read(ctx, 10, 1000) // the consumer path, bounded by what exists
		if err != nil || len(rs) != 40 || rs[0].Position != 11 {
			t.Errorf("Read(10, 1000) = %d events, %v", len(rs), err)
		}
	})
}

func TestFollow(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, nc *nats.Conn) {
		ctx := ctxT(t)
		ps := make([]Pending, 0, 1200)
		for i := range 1200 {
			id := fmt.Sprintf("F%d", i%40)
			ps = append(ps, Pending{PersonID: id, Event: PersonDeparted{PersonID: id, EffectiveOn: domain.MustDate("2024-01-01")}, RecordedAt: time.Now()})
		}
		if _, err := l.AppendBatch(ctx, ps); err != nil {
			t.Fatal(err)
		}
		follow := func(after uint64, until uint64, onBatch func()) []uint64 {
			fctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var got []uint64
			err := l.Follow(fctx, after, 100, func(_ context.Context, batch []Recorded) error {
				if len(batch) == 0 || len(batch) > 100 {
					t.Errorf("batch of %d", len(batch))
				}
				for _, r := range batch {
					got = append(got, r.Position)
				}
				if onBatch != nil {
					onBatch()
				}
				if got[len(got)-1] >= until {
					cancel()
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Follow: %v", err)
			}
			return got
		}
		consecutive := func(got []uint64, from, to uint64) {
			t.Helper()
			if uint64(len(got)) != to-from+1 {
				t.Fatalf("followed %d events, want %d..%d", len(got), from, to)
			}
			for i, p := range got {
				if p != from+uint64(i) {
					t.Fatalf("event %d at position %d, want %d", i, p, from+uint64(i))
				}
			}
		}
		consecutive(follow(0, 1200, nil), 1, 1200)
		consecutive(follow(600, 1200, nil), 601, 1200)

		// New events arrive while following, and the follower survives its
		// consumer being deleted under it (it recreates itself).
		var once sync.Once
		got := follow(1190, 1300, func() {
			once.Do(func() {
				for name := range l.stream.ConsumerNames(ctx).Name() {
					_ = l.stream.DeleteConsumer(ctx, name)
				}
				go func() {
					more := make([]Pending, 100)
					for i := range more {
						id := fmt.Sprintf("G%d", i%10)
						more[i] = Pending{PersonID: id, Event: PersonDeparted{PersonID: id, EffectiveOn: domain.MustDate("2024-01-01")}, RecordedAt: time.Now()}
					}
					out, err := l.AppendBatch(ctx, more)
					if err != nil || out[99].Err != nil {
						t.Error(err, out[99].Err)
					}
				}()
			})
		})
		consecutive(got, 1191, 1300)

		// A handler error ends Follow with that error.
		boom := errors.New("boom")
		if err := l.Follow(ctx, 0, 10, func(context.Context, []Recorded) error { return boom }); !errors.Is(err, boom) {
			t.Errorf("Follow returned %v, want the handler's error", err)
		}
	})
}

func TestAppendBatch(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		var ps []Pending
		for i := range 30 {
			for _, id := range []string{"A", "B", "C"} {
				ps = append(ps, Pending{PersonID: id, MsgID: fmt.Sprintf("%s:%d", id, i),
					Event: PersonDeparted{PersonID: id, EffectiveOn: domain.MustDate("2024-01-01")}, RecordedAt: time.Now()})
			}
		}
		// C is expected to be new but is not: its whole part of the batch fails.
		if _, _, err := l.Append(ctx, "C", 0, "", PersonDeparted{PersonID: "C", EffectiveOn: domain.MustDate("2024-01-01")}, time.Now(), ""); err != nil {
			t.Fatal(err)
		}
		out, err := l.AppendBatch(ctx, ps)
		if err != nil {
			t.Fatal(err)
		}
		var last = map[string]uint64{}
		for i, o := range out {
			id := ps[i].PersonID
			if id == "C" {
				if !errors.Is(o.Err, ErrConflict) {
					t.Fatalf("C[%d]: err = %v, want ErrConflict", i, o.Err)
				}
				continue
			}
			if o.Err != nil || o.Duplicate || o.Position <= last[id] {
				t.Fatalf("%s[%d] = %+v after %d", id, i, o, last[id])
			}
			last[id] = o.Position
		}
		// Re-running the batch within the window, expecting each person's
		// current last event, is all duplicates.
		for i := range ps {
			ps[i].ExpectedLastSeq = last[ps[i].PersonID]
		}
		again, err := l.AppendBatch(ctx, ps)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range again {
			if ps[i].PersonID != "C" && (!o.Duplicate || o.Position != out[i].Position) {
				t.Fatalf("rerun[%d] = %+v, want duplicate of %d", i, o, out[i].Position)
			}
		}
		if h, _ := l.Head(ctx); h != 61 {
			t.Errorf("head = %d, want 61", h)
		}
	})
}

func TestEmbeddedListener(t *testing.T) {
	e := startEmbedded(t, 0)
	if u := e.ClientURL(); u != "" {
		t.Errorf("ClientURL without listener = %q", u)
	}
	l, err := StartEmbedded(EmbeddedConfig{Dir: t.TempDir(), Listen: "127.0.0.1:0", SyncInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Shutdown()
	u := l.ClientURL()
	if u == "" || strings.HasSuffix(u, ":4222") || strings.HasSuffix(u, ":0") {
		t.Fatalf("ClientURL = %q", u)
	}
	nc, err := nats.Connect(u)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := OpenLog(ctxT(t), nc, LogConfig{}); err != nil {
		t.Fatal(err)
	}
}

func TestClassifyBothConflictCodes(t *testing.T) {
	for _, code := range []jetstream.ErrorCode{jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant} {
		err := classify("s", fmt.Errorf("nats: %w", &jetstream.APIError{Code: 400, ErrorCode: code, Description: "wrong last sequence"}))
		if !errors.Is(err, ErrConflict) || domain.KindOf(err) != domain.KindConflict {
			t.Errorf("code %d: %v", code, err)
		}
	}
	if err := classify("s", errors.New("timeout")); errors.Is(err, ErrConflict) {
		t.Error("a timeout classified as a conflict")
	}
}

// TestRecordedAtToTheMicrosecond: knowledge time is read back to the
// microsecond, as PostgreSQL keeps it, whatever precision the header
// carries (older events were stamped in nanoseconds), so every read model
// answers a knownAt between two nanoseconds alike.
func TestRecordedAtToTheMicrosecond(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		at := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)
		if _, _, err := l.Append(ctx, "NS", 0, "", PersonRegistered{PersonID: "NS", Name: "N", Department: "Ops", JoinedOn: domain.MustDate("2020-01-01")}, at, ""); err != nil {
			t.Fatal(err)
		}
		rs, _, err := l.Load(ctx, "NS")
		if err != nil || len(rs) != 1 {
			t.Fatalf("Load = %d events, %v", len(rs), err)
		}
		if want := time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC); !rs[0].RecordedAt.Equal(want) {
			t.Errorf("recordedAt %s, want %s", rs[0].RecordedAt.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		}
	})
}

// TestAtAPositionWithoutAnEvent: At and HeaderAt beyond the log's end are
// ErrNoEvent, which a caller tells apart from a log it cannot reach; within
// it they are the event there. HeaderAt reads what the headers say of an
// event this release cannot decode (a newer version), where At fails.
func TestAtAPositionWithoutAnEvent(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, nc *nats.Conn) {
		ctx := ctxT(t)
		r := newRecorder(l)
		for _, id := range []string{"E1", "E2"} {
			if _, err := r.RegisterPerson(ctx, RegisterPerson{ID: id, Name: "n", Department: "Ops", JoinedOn: domain.MustDate("2015-04-01")}); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := l.At(ctx, 2); err != nil || got.PersonID != "E2" || got.Position != 2 {
			t.Fatalf("At(2) = %+v, %v; want E2's registration", got, err)
		}
		if got, err := l.HeaderAt(ctx, 2); err != nil || got.PersonID != "E2" || got.Type != "PersonRegistered" || got.Version != 1 || got.Event != nil {
			t.Fatalf("HeaderAt(2) = %+v, %v; want E2's registration's headers", got, err)
		}
		future := nats.NewMsg(l.Subject("E2"))
		future.Header.Set(HeaderType, "EngagementRecorded")
		future.Header.Set(HeaderVersion, "99")
		future.Header.Set(HeaderRecordedAt, "2030-01-02T03:04:05.123456789Z")
		future.Header.Set(HeaderIdempotencyKey, "k9")
		future.Data = []byte(`{"shape":"of a later release"}`)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsg(ctx, future); err != nil {
			t.Fatal(err)
		}
		if _, err := l.At(ctx, 3); err == nil || errors.Is(err, ErrNoEvent) {
			t.Errorf("At(3) of an unknown version = %v; want a decode error", err)
		}
		want := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
		if got, err := l.HeaderAt(ctx, 3); err != nil || got.PersonID != "E2" || got.Type != "EngagementRecorded" || got.Version != 99 ||
			got.IdempotencyKey != "k9" || !got.RecordedAt.Equal(want) {
			t.Errorf("HeaderAt(3) = %+v, %v; want the headers of version 99, recorded at %s", got, err, want)
		}
		for _, pos := range []uint64{4, 1000} {
			if _, err := l.At(ctx, pos); !errors.Is(err, ErrNoEvent) || errors.Is(err, ErrUnavailable) {
				t.Errorf("At(%d) = %v; want ErrNoEvent", pos, err)
			}
			if _, err := l.HeaderAt(ctx, pos); !errors.Is(err, ErrNoEvent) {
				t.Errorf("HeaderAt(%d) = %v; want ErrNoEvent", pos, err)
			}
		}
	})
}

// TestEmbeddedStartSaysWhyItFails: a start the embedded server cannot make
// (its listen address taken, a storage directory it cannot use) fails at
// once with the server's own words, not with a bare "not ready" after 10 s
// of waiting.
func TestEmbeddedStartSaysWhyItFails(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		cfg  EmbeddedConfig
		want string
	}{
		"listen address taken": {EmbeddedConfig{Dir: t.TempDir(), Listen: taken.Addr().String()}, "address already in use"},
		"storage is a file":    {EmbeddedConfig{Dir: file}, "JetStream"},
	} {
		start := time.Now()
		e, err := StartEmbedded(c.cfg)
		if err == nil {
			e.Shutdown()
			t.Errorf("%s: started", name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || time.Since(start) > 5*time.Second {
			t.Errorf("%s: %v after %s, want an error saying %q at once", name, err, time.Since(start).Round(time.Millisecond), c.want)
		}
	}
}
