package events

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/careerledger/careerledger/domain"
)

// TestAKeyReusedForAnotherRequestIsRefused: an idempotency key answers a
// repeat of its first request with that request's result, and refuses any
// other request sent with it (another mutation, other values, another
// caller's registration), recording nothing, whether the Recorder remembers
// the key or reads it from the log, one command at a time or in a batch.
func TestAKeyReusedForAnotherRequestIsRefused(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		reg := RegisterPerson{Name: "Secret Sato", Department: "Executive Office", JoinedOn: domain.MustDate("2020-01-01"), IdempotencyKey: "hire-42"}
		mine := RegisterPerson{Name: "Mine", Department: "Data Center", JoinedOn: domain.MustDate("2025-01-01"), IdempotencyKey: "hire-42"}
		dev := RecordAccomplishment{PersonID: "E1", IdempotencyKey: "k-1", Accomplishment: domain.Accomplishment{Development: &domain.Development{
			Kind: domain.Mentoring, OccurredOn: domain.MustDate("2024-01-01")}}}
		otherDev := dev
		otherDev.Accomplishment = domain.Accomplishment{Development: &domain.Development{Kind: domain.Coaching, OccurredOn: domain.MustDate("2024-01-01")}}
		move := TransferPerson{PersonID: "E1", Department: "Other", EffectiveOn: domain.MustDate("2025-01-01"), IdempotencyKey: "k-1"}

		refused := func(t *testing.T, what string, res Result, err error) {
			t.Helper()
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != domain.KindInvalid || de.Field != "idempotencyKey" {
				t.Errorf("%s: %+v, %v; want a refusal naming idempotencyKey", what, res, err)
			}
		}
		head := func() uint64 {
			h, err := l.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return h
		}

		r := newRecorder(l)
		first, err := r.RegisterPerson(ctx, reg)
		if err != nil {
			t.Fatal(err)
		}
		mustRegister(t, r, "E1")
		firstDev, err := r.RecordAccomplishment(ctx, dev)
		if err != nil {
			t.Fatal(err)
		}
		before := head()
		for _, rec := range []*Recorder{r, newRecorder(l)} { // remembered, then read from the log
			res, err := rec.RegisterPerson(ctx, mine)
			refused(t, "another registration under a used key", res, err)
			res, err = rec.TransferPerson(ctx, move)
			refused(t, "a transfer under a development's key", res, err)
			res, err = rec.RecordAccomplishment(ctx, otherDev)
			refused(t, "another development under a used key", res, err)
			if res, err := rec.RegisterPerson(ctx, reg); err != nil || !res.Duplicate || res.PersonID != first.PersonID || res.Position != first.Position {
				t.Errorf("a repeat of the registration: %+v, %v; want %+v as a duplicate", res, err, first)
			}
			if res, err := rec.RecordAccomplishment(ctx, dev); err != nil || !res.Duplicate || res.AccomplishmentID != firstDev.AccomplishmentID {
				t.Errorf("a repeat of the development: %+v, %v; want %+v as a duplicate", res, err, firstDev)
			}
			// In a batch: against the log, and against an earlier command
			// of the same batch.
			again := dev
			again.IdempotencyKey = "k-2"
			changed := otherDev
			changed.IdempotencyKey = "k-2"
			out := rec.RecordBatch(ctx, []Command{mine, move, again, changed, again})
			refused(t, "batch: another registration", out[0].Result, out[0].Err)
			refused(t, "batch: a transfer", out[1].Result, out[1].Err)
			if out[2].Err != nil {
				t.Errorf("batch: a new development: %v", out[2].Err)
			}
			refused(t, "batch: another development under the batch's own key", out[3].Result, out[3].Err)
			if out[4].Err != nil || !out[4].Result.Duplicate || out[4].Result.AccomplishmentID != out[2].Result.AccomplishmentID {
				t.Errorf("batch: a repeat of the batch's own command: %+v", out[4])
			}
		}
		if got, want := head(), before+1; got != want { // the one new development
			t.Errorf("head %d, want %d: a refused request recorded something", got, want)
		}
	})
}

// TestNamesAndDepartmentsAreTrimmed: spaces around a name or a department
// are not kept, so "QA Dept " and "QA Dept" are one department.
func TestNamesAndDepartmentsAreTrimmed(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		r := newRecorder(l)
		if _, err := r.RegisterPerson(ctx, RegisterPerson{ID: "E1", Name: " Sato Aiko\t", Department: "QA Dept ", JoinedOn: domain.MustDate("2020-01-01")}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.TransferPerson(ctx, TransferPerson{PersonID: "E1", Department: "  Network", EffectiveOn: domain.MustDate("2021-01-01")}); err != nil {
			t.Fatal(err)
		}
		rs, _, err := l.Load(ctx, "E1")
		if err != nil || len(rs) != 2 {
			t.Fatalf("%d events, %v", len(rs), err)
		}
		if reg, ok := deref(rs[0].Event).(PersonRegistered); !ok || reg.Name != "Sato Aiko" || reg.Department != "QA Dept" {
			t.Errorf("recorded %+v", rs[0].Event)
		}
		if tr, ok := deref(rs[1].Event).(PersonTransferred); !ok || tr.Department != "Network" {
			t.Errorf("recorded %+v", rs[1].Event)
		}
		if _, err := r.TransferPerson(ctx, TransferPerson{PersonID: "E1", Department: "   ", EffectiveOn: domain.MustDate("2021-01-01")}); err == nil {
			t.Error("a department of spaces was recorded")
		}
	})
}

// TestWhatAnEarlierVersionRecordedStillWorks: a retry of a registration an
// earlier version recorded with spaces around its department is its
// repeat, not another request; and a development an earlier version
// recorded of the person themself can still be amended, as long as the
// amendment keeps its subordinate.
func TestWhatAnEarlierVersionRecordedStillWorks(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		cmd := RegisterPerson{Name: "Sato Aiko", Department: "QA Dept ", JoinedOn: domain.MustDate("2020-01-01"), IdempotencyKey: "hire-7"}
		id := "P" + derivedToken("person:hire-7")
		at := fakeClock()()
		if _, _, err := l.Append(ctx, id, 0, msgID(id, "hire-7"), PersonRegistered{PersonID: id, Name: cmd.Name,
			Department: cmd.Department, JoinedOn: cmd.JoinedOn}, at, "hire-7"); err != nil {
			t.Fatal(err)
		}
		dev := id + ".OLDSELFDEV"
		if _, _, err := l.Append(ctx, id, 1, "", SubordinateDevelopmentRecorded{AccomplishmentID: dev, Kind: "MENTORING",
			OccurredOn: domain.MustDate("2021-01-01"), SubordinateID: id}, at, ""); err != nil {
			t.Fatal(err)
		}
		r := newRecorder(l)
		if res, err := r.RegisterPerson(ctx, cmd); err != nil || !res.Duplicate || res.PersonID != id {
			t.Errorf("the retry of an earlier version's registration: %+v, %v; want a duplicate of %s", res, err, id)
		}
		if _, err := r.AmendAccomplishment(ctx, AmendAccomplishment{AccomplishmentID: dev, Patch: func(cur domain.Accomplishment) (domain.Accomplishment, error) {
			cur.Development.OccurredOn = domain.MustDate("2021-02-01")
			return cur, nil
		}}); err != nil {
			t.Errorf("amending the date of an earlier self-development: %v", err)
		}
	})
}

// TestReadingTheWholeLogInPages: an export pages through the log with
// Read; every event comes, the last partial page included, whatever the
// server's pending count says (nats-server 2.9 overstates it for a
// filtered consumer), and no page waits for events that do not come.
func TestReadingTheWholeLogInPages(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		r := newRecorder(l)
		var cmds []Command
		const people = 3000
		for i := range people {
			cmds = append(cmds, RegisterPerson{ID: fmt.Sprintf("X%02d", i), Name: "n", Department: "Ops", JoinedOn: domain.MustDate("2020-01-01")})
		}
		for k := range 3 {
			for i := range people {
				cmds = append(cmds, RecordAccomplishment{PersonID: fmt.Sprintf("X%02d", i), Accomplishment: domain.Accomplishment{
					Development: &domain.Development{Kind: domain.Mentoring, OccurredOn: domain.MustDate("2021-01-01").AddDays(k)}}})
			}
		}
		for _, res := range r.RecordBatch(ctx, cmds) {
			if res.Err != nil {
				t.Fatal(res.Err)
			}
		}
		head, err := l.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var after uint64
		for {
			page, err := l.Read(ctx, after, 1000)
			if err != nil {
				t.Fatalf("read after %d: %v", after, err)
			}
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				if e.Position != after+1 {
					t.Fatalf("after %d came %d", after, e.Position)
				}
				after = e.Position
			}
		}
		if after != head {
			t.Errorf("read up to %d of a log whose head is %d", after, head)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("reading %d events took %s: a page waited for events that did not come", head, took)
		}
	})
}
