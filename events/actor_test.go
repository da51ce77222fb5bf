package events

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/careerledger/careerledger/domain"
)

// TestEventsSayWhoRecordedThem: every event appended under WithActor, by a
// single command or a batch, carries who in HeaderRecordedBy, which every
// read gives back as RecordedBy; one appended without says nobody. A
// header holds one line: control characters are dropped, and the actor is
// cut to MaxActorLength bytes on a character boundary.
func TestEventsSayWhoRecordedThem(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		r := newRecorder(l)
		reg, err := r.RegisterPerson(WithActor(ctx, "hr.ito\r\nCareer-Event-Type: forged"), RegisterPerson{ID: "E1", Name: "n", Department: "Ops", JoinedOn: domain.MustDate("2015-04-01")})
		if err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("é", 200) // 400 bytes
		rec, err := r.RecordAccomplishment(WithActor(ctx, long), RecordAccomplishment{PersonID: "E1", Accomplishment: sampleEngagement("t")})
		if err != nil {
			t.Fatal(err)
		}
		anon, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1", Accomplishment: sampleEngagement("u")})
		if err != nil {
			t.Fatal(err)
		}
		batch := r.RecordBatch(WithActor(ctx, "import-bot"), []Command{
			RegisterPerson{ID: "E2", Name: "n", Department: "Ops", JoinedOn: domain.MustDate("2015-04-01")},
			RecordAccomplishment{PersonID: "E2", Accomplishment: sampleEngagement("v")},
		})
		want := map[uint64]string{reg.Position: "hr.itoCareer-Event-Type: forged", rec.Position: strings.Repeat("é", 128), anon.Position: ""}
		for _, b := range batch {
			if b.Err != nil {
				t.Fatal(b.Err)
			}
			want[b.Result.Position] = "import-bot"
		}
		for pos, who := range want {
			got, err := l.At(ctx, pos)
			if err != nil {
				t.Fatal(err)
			}
			if got.RecordedBy != who {
				t.Errorf("event %d recorded by %q, want %q", pos, got.RecordedBy, who)
			}
			m, err := l.stream.GetMsg(context.Background(), pos)
			if err != nil {
				t.Fatal(err)
			}
			if vs, ok := m.Header[HeaderRecordedBy]; ok != (who != "") || (ok && (len(vs) != 1 || vs[0] != who)) {
				t.Errorf("event %d: %s header %q, want %q", pos, HeaderRecordedBy, vs, who)
			}
			if typ := m.Header.Values(HeaderType); len(typ) != 1 || typ[0] == "forged" {
				t.Errorf("event %d: %s header %q", pos, HeaderType, typ)
			}
		}
		// Load says the same as At.
		rs, _, err := l.Load(ctx, "E1")
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range rs {
			if rr.RecordedBy != want[rr.Position] {
				t.Errorf("Load: event %d recorded by %q, want %q", rr.Position, rr.RecordedBy, want[rr.Position])
			}
		}
	})
}
