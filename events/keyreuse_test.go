package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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

// TestAnEarlierLongReasonIsAnsweredAsARepeat: a release before the bound
// on a reason's length recorded longer ones; the retry of such a
// retraction under its key is answered as the repeat it is (by
// fingerprint, and by reading the log), while a long reason under a new
// key, or none, is refused and records nothing.
func TestAnEarlierLongReasonIsAnsweredAsARepeat(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		r := newRecorder(l)
		mustRegister(t, r, "E1")
		rec, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1", Accomplishment: sampleEngagement("Backbone")})
		if err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("the customer withdrew the project; ", 50) // 1,750 characters
		pos, _, err := l.Append(ctx, "E1", rec.Position, msgID("E1", "gone"),
			AccomplishmentRetracted{AccomplishmentID: rec.AccomplishmentID, Reason: long}, fakeClock()(), "gone")
		if err != nil {
			t.Fatal(err)
		}
		retract := func(r *Recorder, reason, key string) (Result, error) {
			return r.RetractAccomplishment(ctx, RetractAccomplishment{AccomplishmentID: rec.AccomplishmentID, Reason: reason, IdempotencyKey: key})
		}
		fresh := newRecorder(l)
		for how, r := range map[string]*Recorder{"by fingerprint": fresh, "read from the log": r} {
			if how == "read from the log" {
				forgetPrints(r)
			}
			if res, err := retract(r, long, "gone"); err != nil || !res.Duplicate || res.Position != pos {
				t.Errorf("%s: the retry: %+v, %v; want the repeat of position %d", how, res, err, pos)
			}
			for _, key := range []string{"", "new"} {
				var de *domain.Error
				if _, err := retract(r, long, key); !errors.As(err, &de) || de.Field != "reason" || !strings.Contains(de.Rule, "at most 1000") {
					t.Errorf("%s: a long reason under key %q: %v; want a refusal of the reason's length", how, key, err)
				}
			}
			var de *domain.Error
			if _, err := retract(r, "   ", "blank"); !errors.As(err, &de) || de.Field != "reason" {
				t.Errorf("%s: a blank reason: %v; want a refusal naming reason", how, err)
			}
		}
		if h, err := l.Head(ctx); err != nil || h != pos {
			t.Errorf("head %d, %v; want %d: a refusal recorded something", h, err, pos)
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

// TestARememberedKeyIsToldWithoutReadingTheLog: a request sent with a key
// the Recorder remembers (it recorded the key, or read it with the person)
// is told a repeat or another request by fingerprint, without reading the
// key's first event from the log, one command at a time and in a batch;
// and every answer is the one reading the log gives: each repeat the first
// result, each other request (another mutation, other values, another
// caller's registration) refused naming idempotencyKey, recording nothing.
func TestARememberedKeyIsToldWithoutReadingTheLog(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		day := domain.MustDate
		reg := RegisterPerson{Name: "Secret Sato", Department: "Executive Office", JoinedOn: day("2020-01-01"), IdempotencyKey: "hire-42"}
		dev := RecordAccomplishment{PersonID: "E1", IdempotencyKey: "k-dev", Accomplishment: domain.Accomplishment{Development: &domain.Development{
			Kind: domain.Mentoring, OccurredOn: day("2024-01-01")}}}
		eng := RecordAccomplishment{PersonID: "E1", IdempotencyKey: "k-eng", Accomplishment: sampleEngagement("Backbone migration")}
		move := TransferPerson{PersonID: "E1", Department: "Network", EffectiveOn: day("2024-06-01"), IdempotencyKey: "k-move"}
		leave := RecordDeparture{PersonID: "E1", EffectiveOn: day("2025-03-31"), IdempotencyKey: "k-leave"}
		devID := "E1." + derivedToken("accomplishment:k-dev")
		engID := "E1." + derivedToken("accomplishment:k-eng")
		amend := AmendAccomplishment{AccomplishmentID: devID, IdempotencyKey: "k-amend", Patch: func(cur domain.Accomplishment) (domain.Accomplishment, error) {
			cur.Development.OccurredOn = day("2024-02-01")
			return cur, nil
		}}
		retract := RetractAccomplishment{AccomplishmentID: engID, Reason: "recorded twice", IdempotencyKey: "k-retract"}

		r := newRecorder(l)
		mustRegister(t, r, "E1")
		firsts := map[string]Result{} // person:key -> the first request's result
		for i, c := range []Command{reg, dev, eng, move, amend, retract, leave} {
			var res Result
			var err error
			if i%2 == 0 { // recorded alone, and in a batch
				res, err = r.execute(ctx, c)
			} else {
				out := r.RecordBatch(ctx, []Command{c})
				res, err = out[0].Result, out[0].Err
			}
			if err != nil {
				t.Fatalf("%T: %v", c, err)
			}
			firsts[res.PersonID+":"+idempotencyKeyOf(t, r, c)] = res
		}

		// Each request sent again with a used key, and whether it repeats
		// the key's first request.
		with := func(c Command, key string) Command {
			switch c := c.(type) {
			case RegisterPerson:
				c.IdempotencyKey = key
				return c
			case RecordAccomplishment:
				c.IdempotencyKey = key
				return c
			case TransferPerson:
				c.IdempotencyKey = key
				return c
			case RecordDeparture:
				c.IdempotencyKey = key
				return c
			case AmendAccomplishment:
				c.IdempotencyKey = key
				return c
			case RetractAccomplishment:
				c.IdempotencyKey = key
				return c
			}
			panic(c)
		}
		otherReg := reg
		otherReg.Name = "Mine"
		spaced := reg
		spaced.Department = " Executive Office  "
		otherDev := dev
		otherDev.Accomplishment = domain.Accomplishment{Development: &domain.Development{Kind: domain.Coaching, OccurredOn: day("2024-01-01")}}
		otherEng := eng
		otherEng.Accomplishment = sampleEngagement("Backbone migration")
		otherEng.Accomplishment.Engagement.InstallationSites = nil
		otherMove := move
		otherMove.EffectiveOn = day("2024-06-02")
		otherLeave := leave
		otherLeave.EffectiveOn = day("2025-03-30")
		amendEng := amend
		amendEng.AccomplishmentID = engID
		otherRetract := retract
		otherRetract.Reason = "recorded twice!"
		cases := []struct {
			name    string
			cmd     Command
			repeats string // the person and key of the first request it repeats; "": refused
		}{
			{"the registration", reg, "P" + derivedToken("person:hire-42") + ":hire-42"},
			{"the registration, with spaces", spaced, "P" + derivedToken("person:hire-42") + ":hire-42"},
			{"another caller's registration", otherReg, ""},
			{"the development", dev, "E1:k-dev"},
			{"another development", otherDev, ""},
			{"the engagement", eng, "E1:k-eng"},
			{"an engagement without its sites", otherEng, ""},
			{"the transfer", move, "E1:k-move"},
			{"a transfer on another day", otherMove, ""},
			{"a transfer under a development's key", with(move, "k-dev"), ""},
			{"the amendment", amend, "E1:k-amend"},
			{"an amendment of another accomplishment", amendEng, ""},
			{"an amendment under a development's key", with(amend, "k-dev"), ""},
			{"a development under an amendment's key", with(dev, "k-amend"), ""},
			{"the retraction", retract, "E1:k-retract"},
			{"a retraction for another reason", otherRetract, ""},
			{"the departure", leave, "E1:k-leave"},
			{"a departure on another day", otherLeave, ""},
			{"a departure under a transfer's key", with(leave, "k-move"), ""},
		}
		cmds := make([]Command, len(cases))
		for i, c := range cases {
			cmds[i] = c.cmd
		}
		head := func() uint64 {
			h, err := l.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		before := head()
		check := func(how string, out []BatchResult) {
			t.Helper()
			for i, c := range cases {
				res, err := out[i].Result, out[i].Err
				if c.repeats == "" {
					var de *domain.Error
					if !errors.As(err, &de) || de.Kind != domain.KindInvalid || de.Field != "idempotencyKey" {
						t.Errorf("%s: %s: %+v, %v; want a refusal naming idempotencyKey", how, c.name, res, err)
					}
					continue
				}
				want := firsts[c.repeats]
				want.Duplicate = true
				if err != nil || res != want {
					t.Errorf("%s: %s: %+v, %v; want %+v", how, c.name, res, err, want)
				}
			}
		}
		one := func(r *Recorder) []BatchResult {
			out := make([]BatchResult, len(cmds))
			for i, c := range cmds {
				out[i].Result, out[i].Err = r.execute(ctx, c)
			}
			return out
		}

		check("one at a time, remembered", one(r))
		check("in a batch, remembered", r.RecordBatch(ctx, cmds))
		if n := r.originReads.Load(); n != 0 {
			t.Errorf("%d first events read from the log for keys the Recorder remembers, want 0", n)
		}
		// A Recorder that reads the people (as after a restart) knows their
		// keys from the log, events of earlier versions included.
		restarted := newRecorder(l)
		check("in a batch, after a restart", restarted.RecordBatch(ctx, cmds))
		check("one at a time, after a restart", one(restarted))
		if n := restarted.originReads.Load(); n != 0 {
			t.Errorf("%d first events read from the log after a restart, want 0", n)
		}
		// The same answers from the log, without the fingerprints.
		forgetPrints(r)
		check("one at a time, read from the log", one(r))
		if n, want := r.originReads.Load(), int64(len(cmds)); n != want {
			t.Errorf("%d first events read from the log without fingerprints, want %d", n, want)
		}
		forgetPrints(r)
		check("in a batch, read from the log", r.RecordBatch(ctx, cmds))
		if got := head(); got != before {
			t.Errorf("head %d, want %d: a refused request or a repeat recorded something", got, before)
		}
	})
}

// idempotencyKeyOf returns c's idempotency key.
func idempotencyKeyOf(t *testing.T, r *Recorder, c Command) string {
	t.Helper()
	p, err := c.plan(r)
	if err != nil {
		t.Fatal(err)
	}
	return p.key
}

// forgetPrints drops the fingerprints of every key r remembers, so that
// the key's first event is read from the log.
func forgetPrints(r *Recorder) {
	r.cache.mu.Lock()
	defer r.cache.mu.Unlock()
	for _, e := range r.cache.m {
		e.acquire(context.Background()) //nolint:errcheck // never done
		for k, v := range e.keys {
			v.print = fingerprint{}
			e.keys[k] = v
		}
		e.release()
	}
}

// TestAnEarlierVersionsKeyIsToldByFingerprint: a key whose first event an
// earlier version recorded (an engagement under EngagementRecorded version
// 1, a registration with spaces around its department) is told a repeat or
// another request by the fingerprint of the event as read and upcast, with
// the answers reading the event gives.
func TestAnEarlierVersionsKeyIsToldByFingerprint(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		reg := RegisterPerson{Name: "Sato Aiko", Department: "QA Dept", JoinedOn: domain.MustDate("2020-01-01"), IdempotencyKey: "hire-7"}
		id := "P" + derivedToken("person:hire-7")
		eng := RecordAccomplishment{PersonID: id, Accomplishment: sampleEngagement("Backbone migration"), IdempotencyKey: "k-old"}
		a := cloneAccomplishment(eng.Accomplishment)
		setID(&a, accomplishmentID(id, eng.IdempotencyKey))
		v2 := FromAccomplishment(a).(EngagementRecorded)
		v1 := engagementRecordedV1{AccomplishmentID: v2.AccomplishmentID, Field: v2.Field, Title: v2.Title, Role: v2.Role,
			StartedOn: v2.StartedOn, CompletedOn: v2.CompletedOn, Outcome: v2.Outcome, BudgetKept: v2.WithinBudget, Complexity: v2.Complexity}
		v1.Size.PeakHeadcount, v1.Size.AnnualContractValueYen = v2.PeakHeadcount, v2.AnnualContractValueYen
		v1.Size.InstallationSites, v1.Size.InquiriesPerYear = v2.InstallationSites, v2.InquiriesPerYear
		regBody, err := json.Marshal(PersonRegistered{PersonID: id, Name: reg.Name, Department: " QA Dept ", JoinedOn: reg.JoinedOn})
		if err != nil {
			t.Fatal(err)
		}
		engBody, err := json.Marshal(v1)
		if err != nil {
			t.Fatal(err)
		}
		publishAs(t, l, id, 0, "PersonRegistered", 1, regBody, reg.IdempotencyKey)
		publishAs(t, l, id, 1, "EngagementRecorded", 1, engBody, eng.IdempotencyKey)

		otherReg := reg
		otherReg.Name = "Mine"
		otherEng := eng
		otherEng.Accomplishment = sampleEngagement("Backbone migration, phase 2")
		cmds := []Command{reg, eng, otherReg, otherEng}
		check := func(how string, r *Recorder, reads int64) {
			t.Helper()
			for i, c := range cmds {
				res, err := r.execute(ctx, c)
				switch i {
				case 0:
					if err != nil || !res.Duplicate || res.PersonID != id || res.Position != 1 {
						t.Errorf("%s: the registration again: %+v, %v", how, res, err)
					}
				case 1:
					if err != nil || !res.Duplicate || res.AccomplishmentID != v2.AccomplishmentID || res.Position != 2 {
						t.Errorf("%s: the engagement again: %+v, %v", how, res, err)
					}
				default:
					var de *domain.Error
					if !errors.As(err, &de) || de.Field != "idempotencyKey" {
						t.Errorf("%s: %T under a used key: %+v, %v; want a refusal naming idempotencyKey", how, c, res, err)
					}
				}
			}
			if n := r.originReads.Load(); n != reads {
				t.Errorf("%s: %d first events read from the log, want %d", how, n, reads)
			}
		}
		r := newRecorder(l)
		check("by fingerprint", r, 0)
		forgetPrints(r)
		check("read from the log", r, int64(len(cmds)))
		if h, err := l.Head(ctx); err != nil || h != 2 {
			t.Errorf("head %d, %v; want 2", h, err)
		}
	})
}

// publishAs appends a body as an earlier version wrote it: typ at version
// ver, with a key.
func publishAs(t *testing.T, l *Log, personID string, expected uint64, typ string, ver int, body []byte, key string) {
	t.Helper()
	m := nats.NewMsg(l.Subject(personID))
	m.Data = body
	m.Header.Set(HeaderType, typ)
	m.Header.Set(HeaderVersion, strconv.Itoa(ver))
	m.Header.Set(HeaderRecordedAt, fakeClock()().Format(time.RFC3339Nano))
	m.Header.Set(HeaderIdempotencyKey, key)
	m.Header.Set(jetstream.MsgIDHeader, msgID(personID, key))
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(expected, 10))
	if _, err := l.js.PublishMsg(ctxT(t), m); err != nil {
		t.Fatal(err)
	}
}

// TestAFingerprintIsTheComparedForm: two events have one fingerprint
// exactly when a repeat's comparison takes them for one request (for an
// amendment: the same accomplishment), whether built or read from a body
// of any version; an event whose body would not give it back unchanged
// has none.
func TestAFingerprintIsTheComparedForm(t *testing.T) {
	print := func(e Event) fingerprint {
		t.Helper()
		p, ok := printOf(e)
		if !ok || p == (fingerprint{}) {
			t.Fatalf("no fingerprint for %#v", e)
		}
		return p
	}
	seen := map[fingerprint]Event{}
	for _, e := range examples() {
		p := print(e)
		if other, ok := seen[p]; ok {
			t.Errorf("%#v and %#v have one fingerprint", e, other)
		}
		seen[p] = e
		typ, ver, _, _ := Encode(e)
		for v := 1; v <= ver; v++ {
			body, err := os.ReadFile(filepath.Join("testdata", fmt.Sprintf("%s.v%d.json", typ, v)))
			if err != nil {
				if v < ver && errors.Is(err, os.ErrNotExist) {
					continue
				}
				t.Fatal(err)
			}
			got, err := Decode(typ, v, body)
			if err != nil {
				t.Fatal(err)
			}
			if print(got) != p {
				t.Errorf("%s version %d read from its body has another fingerprint than built", typ, v)
			}
		}
		if a, ok := e.(AccomplishmentAmended); ok {
			same := AccomplishmentAmended{AccomplishmentID: a.AccomplishmentID}
			other := AccomplishmentAmended{AccomplishmentID: "E1001.ZZZZZZZZZZ", Engagement: a.Engagement}
			if print(same) != p || print(&a) != p || print(other) == p {
				t.Error("an amendment's fingerprint is not its accomplishment's")
			}
			continue
		}
		same := sameEvent(e)
		for _, m := range mutations(e) {
			if want, got := same(m), print(m) == p; got != want {
				t.Errorf("%#v\nand %#v:\none fingerprint %v, one request %v", e, m, got, want)
			}
		}
	}
	// Values that run into each other if the encoding does not delimit
	// them.
	e1, e2 := examples()[3].(EngagementRecorded), examples()[3].(EngagementRecorded)
	e1.PeakHeadcount, e1.AnnualContractValueYen = nil, i64(5)
	e2.PeakHeadcount, e2.AnnualContractValueYen = i64(5), nil
	for _, pair := range [][2]Event{
		{PersonRegistered{PersonID: "E1", Name: "ab", Department: "c"}, PersonRegistered{PersonID: "E1", Name: "a", Department: "bc"}},
		{e1, e2},
		{TechnologySuccessionRecorded{Title: "a", Fields: []string{"b", "c"}}, TechnologySuccessionRecorded{Title: "a", Fields: []string{"bc"}}},
		{PersonTransferred{PersonID: "E1"}, PersonDeparted{PersonID: "E1"}},
	} {
		if print(pair[0]) == print(pair[1]) {
			t.Errorf("%#v and %#v have one fingerprint", pair[0], pair[1])
		}
	}
	for _, e := range []Event{
		PersonRegistered{PersonID: "E1", Name: "Sato \xff", Department: "QA", JoinedOn: domain.MustDate("2020-01-01")},
		AccomplishmentRetracted{AccomplishmentID: "E1.ABCDEFGHIJ", Reason: "\xfe"},
		AccomplishmentAmended{AccomplishmentID: "E1.\xff"},
		PersonDeparted{PersonID: "E1", EffectiveOn: domain.NewDate(10000, 1, 1)},
		PersonDeparted{PersonID: "E1", EffectiveOn: domain.NewDate(-5, 1, 1)},
		nil,
	} {
		if p, ok := printOf(e); ok || p != (fingerprint{}) {
			t.Errorf("a fingerprint for %#v, which the log would not give back unchanged", e)
		}
	}
}

// mutations returns copies of a flat event with one field changed each,
// some of them changes a repeat's comparison ignores (spaces around a
// name or a department, a nil list for an empty one).
func mutations(e Event) []Event {
	var out []Event
	orig := reflect.ValueOf(e)
	for i := range orig.NumField() {
		var changes []func(reflect.Value)
		switch f := orig.Field(i); f.Interface().(type) {
		case string:
			s := f.String()
			for _, v := range []string{s + "x", " " + s, s + " ", "", "\t" + s + "\n", "<&>" + s} {
				changes = append(changes, func(v2 reflect.Value) { v2.SetString(v) })
			}
		case bool:
			changes = append(changes, func(v reflect.Value) { v.SetBool(!f.Bool()) })
		case domain.Date:
			d := f.Interface().(domain.Date)
			for _, v := range []domain.Date{d.AddDays(1), d.AddDays(-1), {}} {
				changes = append(changes, func(f reflect.Value) { f.Set(reflect.ValueOf(v)) })
			}
		case *int64:
			n := int64(0)
			if p := f.Interface().(*int64); p != nil {
				n = *p + 1
				changes = append(changes, func(f reflect.Value) { f.Set(reflect.ValueOf((*int64)(nil))) })
				changes = append(changes, func(f reflect.Value) { f.Set(reflect.ValueOf(i64(*p))) })
			}
			changes = append(changes, func(f reflect.Value) { f.Set(reflect.ValueOf(&n)) })
		case []string:
			l := f.Interface().([]string)
			vs := [][]string{nil, {}, append(slices.Clone(l), "X"), slices.Clone(l)}
			if len(l) > 1 {
				vs = append(vs, append([]string{l[1], l[0]}, l[2:]...), l[:1])
			}
			for _, v := range vs {
				changes = append(changes, func(f reflect.Value) { f.Set(reflect.ValueOf(v)) })
			}
		default:
			panic(fmt.Sprintf("mutations: field %s of %T", orig.Type().Field(i).Name, e))
		}
		for _, change := range changes {
			c := reflect.New(orig.Type()).Elem()
			c.Set(orig)
			change(c.Field(i))
			out = append(out, c.Interface().(Event))
		}
	}
	return out
}

// TestWhatAReleaseBeforeTheTextRulesRecorded: a key over MaxKeyLength and
// a title with a control character, which a release before those rules
// recorded, do not lock the record: the retry of that request is answered
// as its repeat, and the accomplishment can be amended as long as the
// amendment keeps its title. A new such key, or a changed such title, is
// refused naming it, and so is such a title with other values under the
// key.
func TestWhatAReleaseBeforeTheTextRulesRecorded(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		r := newRecorder(l)
		reg := mustRegister(t, r, "E1")
		key := strings.Repeat("k", MaxKeyLength+50)
		eng := domain.Engagement{Field: domain.SystemOperation, Title: "Core\tmove", Role: domain.Member,
			StartedOn: domain.MustDate("2020-01-01"), Outcome: domain.Ongoing, WithinBudget: true}
		id := accomplishmentID("E1", key)
		old := EngagementRecorded{AccomplishmentID: id, Field: string(eng.Field), Title: eng.Title, Role: string(eng.Role),
			StartedOn: eng.StartedOn, Outcome: string(eng.Outcome), WithinBudget: true, Complexity: []string{}}
		out, err := l.AppendBatch(ctx, []Pending{{PersonID: "E1", ExpectedLastSeq: reg.Position, MsgID: msgID("E1", key),
			Event: old, RecordedAt: time.Now().UTC(), IdempotencyKey: key}})
		if err != nil || out[0].Err != nil {
			t.Fatalf("append as an earlier release did: %v %+v", err, out)
		}
		refused := func(what, field string, err error) {
			t.Helper()
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != domain.KindInvalid || de.Field != field {
				t.Errorf("%s: %v; want a refusal naming %s", what, err, field)
			}
		}
		for _, r := range []*Recorder{r, newRecorder(l)} { // remembered, and read from the log
			e := eng
			res, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1", IdempotencyKey: key,
				Accomplishment: domain.Accomplishment{Engagement: &e}})
			if err != nil || !res.Duplicate || res.Position != out[0].Position {
				t.Errorf("the retry of the earlier request: %+v, %v; want its repeat at %d", res, err, out[0].Position)
			}
			e2 := eng
			_, err = r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1", IdempotencyKey: key + "x",
				Accomplishment: domain.Accomplishment{Engagement: &e2}})
			refused("a new key over the limit", "idempotencyKey", err)
			e3 := eng
			e3.Role = domain.Lead
			_, err = r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1", IdempotencyKey: key,
				Accomplishment: domain.Accomplishment{Engagement: &e3}})
			refused("other values under the key", "title", err)
		}
		head, _ := l.Head(ctx)
		if _, err := r.AmendAccomplishment(ctx, AmendAccomplishment{AccomplishmentID: id, Patch: func(a domain.Accomplishment) (domain.Accomplishment, error) {
			a.Engagement.Title = "Core\tmove, again"
			return a, nil
		}}); err == nil {
			t.Error("an amendment to another title with a tab was recorded")
		} else {
			refused("a changed title with a tab", "title", err)
		}
		res, err := r.AmendAccomplishment(ctx, AmendAccomplishment{AccomplishmentID: id, Patch: func(a domain.Accomplishment) (domain.Accomplishment, error) {
			a.Engagement.Role = domain.Lead
			return a, nil
		}})
		if err != nil || res.Position <= head {
			t.Fatalf("amending the role of an accomplishment whose old title holds a tab: %+v, %v", res, err)
		}
		rec, err := l.At(ctx, res.Position)
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := rec.Event.(AccomplishmentAmended); !ok || a.Engagement == nil || a.Engagement.Title != "Core\tmove" || a.Engagement.Role != "LEAD" {
			t.Errorf("the amendment recorded %+v; want the title kept as it was and the role LEAD", rec.Event)
		}
	})
}

// TestARegistrationAReleaseBeforeTheTextRulesRecorded: a name or department
// with a control character, which a release before the rule recorded, does
// not make the retry of that registration a refusal: under its key and with
// its very values it is answered as the repeat it is, recording nothing,
// one command at a time or in a batch, whether the Recorder remembers the
// key or reads it from the log. A new such registration, or one with other
// values under that key, is refused naming the field, as without a key.
func TestARegistrationAReleaseBeforeTheTextRulesRecorded(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		joined := domain.MustDate("2019-01-01")
		olds := []RegisterPerson{
			{ID: "E1", Name: "Old\tTimer", Department: "Operations", JoinedOn: joined, IdempotencyKey: "hire-1"},
			{Name: "Old Timer", Department: "Ops\x1b[31m", JoinedOn: joined, IdempotencyKey: "hire-2"}, // the id derived from the key
		}
		pos := make([]uint64, len(olds))
		for i, c := range olds {
			id := c.ID
			if id == "" {
				id = "P" + derivedToken("person:"+c.IdempotencyKey)
				olds[i].ID = "" // as the retry sends it
			}
			out, err := l.AppendBatch(ctx, []Pending{{PersonID: id, MsgID: msgID(id, c.IdempotencyKey), IdempotencyKey: c.IdempotencyKey,
				Event: PersonRegistered{PersonID: id, Name: c.Name, Department: c.Department, JoinedOn: c.JoinedOn}, RecordedAt: time.Now().UTC()}})
			if err != nil || out[0].Err != nil {
				t.Fatalf("append as an earlier release did: %v %+v", err, out)
			}
			pos[i] = out[0].Position
		}
		head, _ := l.Head(ctx)
		refused := func(what, field string, err error) {
			t.Helper()
			refusedUnprintable(t, what, field, err)
		}
		r := newRecorder(l)
		for round := range 2 { // read from the log, then remembered
			for i, c := range olds {
				res, err := r.RegisterPerson(ctx, c)
				if err != nil || !res.Duplicate || res.Position != pos[i] {
					t.Errorf("round %d, the retry of %+v: %+v, %v; want its repeat at %d", round, c, res, err, pos[i])
				}
			}
		}
		out := r.RecordBatch(ctx, []Command{olds[0], olds[1]})
		for i, br := range out {
			if br.Err != nil || !br.Result.Duplicate || br.Result.Position != pos[i] {
				t.Errorf("the retry of %+v in a batch: %+v; want its repeat at %d", olds[i], br, pos[i])
			}
		}
		other := olds[0]
		other.JoinedOn = domain.MustDate("2019-02-01")
		_, err := r.RegisterPerson(ctx, other)
		refused("other values under the key", "name", err)
		other = olds[1]
		other.Name = "Old Timer Jr"
		refused("other values under the key, in a batch", "department", r.RecordBatch(ctx, []Command{other})[0].Err)
		fresh := olds[0]
		fresh.ID, fresh.IdempotencyKey = "E2", "hire-3"
		_, err = r.RegisterPerson(ctx, fresh)
		refused("a new registration with a tab in the name", "name", err)
		fresh.IdempotencyKey = ""
		_, err = r.RegisterPerson(ctx, fresh)
		refused("a registration with a tab in the name, without a key", "name", err)
		fresh = olds[1]
		fresh.IdempotencyKey = "hire-4"
		refused("a new registration with an escape in the department, in a batch", "department", r.RecordBatch(ctx, []Command{fresh})[0].Err)
		// A control character does not excuse another rule.
		long := olds[0]
		long.ID, long.IdempotencyKey, long.Name = "E3", "hire-5", "\x01"+strings.Repeat("n", domain.MaxNameLength)
		if _, err := r.RegisterPerson(ctx, long); err == nil || !strings.Contains(err.Error(), "at most") {
			t.Errorf("a name with a control character and over the bound: %v; want it refused for its length", err)
		}
		if after, _ := l.Head(ctx); after != head {
			t.Errorf("the log moved: head %d -> %d", head, after)
		}
	})
}

// TestTheRetryOfARequestWhoseTextHeldANUL: a title or a name with a NUL,
// which a release before the rule recorded, is read back with U+FFFD in
// its place, while its retry still sends the NUL; the retry, under its key
// and with its very values, is answered as the repeat it is, recording
// nothing, one command at a time or in a batch, whether the Recorder
// remembers the key or reads it from the log. Other values under the key
// are refused naming the field, and so is the NUL under a new key.
func TestTheRetryOfARequestWhoseTextHeldANUL(t *testing.T) {
	forEachBackend(t, LogConfig{}, func(t *testing.T, l *Log, _ *nats.Conn) {
		ctx := ctxT(t)
		reg := RegisterPerson{ID: "E1", Name: "Old\x00Timer", Department: "Operations", JoinedOn: domain.MustDate("2019-01-01"), IdempotencyKey: "hire-1"}
		out, err := l.AppendBatch(ctx, []Pending{{PersonID: "E1", MsgID: msgID("E1", reg.IdempotencyKey), IdempotencyKey: reg.IdempotencyKey,
			Event: PersonRegistered{PersonID: "E1", Name: reg.Name, Department: reg.Department, JoinedOn: reg.JoinedOn}, RecordedAt: time.Now().UTC()}})
		if err != nil || out[0].Err != nil {
			t.Fatalf("append as an earlier release did: %v %+v", err, out)
		}
		regPos := out[0].Position
		key := "eng-1"
		eng := domain.Engagement{Field: domain.SystemOperation, Title: "Core\x00move", Role: domain.Member,
			StartedOn: domain.MustDate("2020-01-01"), Outcome: domain.Ongoing, WithinBudget: true}
		old := EngagementRecorded{AccomplishmentID: accomplishmentID("E1", key), Field: string(eng.Field), Title: eng.Title, Role: string(eng.Role),
			StartedOn: eng.StartedOn, Outcome: string(eng.Outcome), WithinBudget: true, Complexity: []string{}}
		out, err = l.AppendBatch(ctx, []Pending{{PersonID: "E1", ExpectedLastSeq: regPos, MsgID: msgID("E1", key),
			Event: old, RecordedAt: time.Now().UTC(), IdempotencyKey: key}})
		if err != nil || out[0].Err != nil {
			t.Fatalf("append as an earlier release did: %v %+v", err, out)
		}
		engPos := out[0].Position
		if rec, err := l.At(ctx, engPos); err != nil || rec.Event.(EngagementRecorded).Title != "Core\uFFFDmove" {
			t.Fatalf("the old title read back as %+v, %v; want U+FFFD for its NUL", rec.Event, err)
		}
		// A retraction whose reason held a NUL and an escape, which the
		// same releases took.
		const reason = "Entered\x00twice \x1b[1mby mistake"
		out, err = l.AppendBatch(ctx, []Pending{{PersonID: "E1", ExpectedLastSeq: engPos, MsgID: msgID("E1", "ret-1"),
			Event: AccomplishmentRetracted{AccomplishmentID: old.AccomplishmentID, Reason: reason}, RecordedAt: time.Now().UTC(), IdempotencyKey: "ret-1"}})
		if err != nil || out[0].Err != nil {
			t.Fatalf("append as an earlier release did: %v %+v", err, out)
		}
		retPos := out[0].Position
		// A transfer to a department with a NUL and an escape, likewise.
		move := TransferPerson{PersonID: "E1", Department: "Ops\x00\x1b[1mDesk", EffectiveOn: domain.MustDate("2021-01-01"), IdempotencyKey: "move-1"}
		out, err = l.AppendBatch(ctx, []Pending{{PersonID: "E1", ExpectedLastSeq: retPos, MsgID: msgID("E1", move.IdempotencyKey),
			Event: PersonTransferred{PersonID: "E1", Department: move.Department, EffectiveOn: move.EffectiveOn}, RecordedAt: time.Now().UTC(), IdempotencyKey: move.IdempotencyKey}})
		if err != nil || out[0].Err != nil {
			t.Fatalf("append as an earlier release did: %v %+v", err, out)
		}
		movePos := out[0].Position
		retract := func(r *Recorder, key string) (Result, error) {
			return r.RetractAccomplishment(ctx, RetractAccomplishment{AccomplishmentID: old.AccomplishmentID, Reason: reason, IdempotencyKey: key})
		}
		head, _ := l.Head(ctx)
		refused := func(what, field string, err error) {
			t.Helper()
			refusedUnprintable(t, what, field, err)
		}
		record := func(r *Recorder, e domain.Engagement, key string) (Result, error) {
			return r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: "E1", IdempotencyKey: key,
				Accomplishment: domain.Accomplishment{Engagement: &e}})
		}
		r := newRecorder(l)
		for round := range 2 { // read from the log, then remembered
			if res, err := r.RegisterPerson(ctx, reg); err != nil || !res.Duplicate || res.Position != regPos {
				t.Errorf("round %d, the retry of the registration: %+v, %v; want its repeat at %d", round, res, err, regPos)
			}
			if res, err := record(r, eng, key); err != nil || !res.Duplicate || res.Position != engPos {
				t.Errorf("round %d, the retry of the engagement: %+v, %v; want its repeat at %d", round, res, err, engPos)
			}
			if res, err := retract(r, "ret-1"); err != nil || !res.Duplicate || res.Position != retPos {
				t.Errorf("round %d, the retry of the retraction: %+v, %v; want its repeat at %d", round, res, err, retPos)
			}
			if res, err := r.TransferPerson(ctx, move); err != nil || !res.Duplicate || res.Position != movePos {
				t.Errorf("round %d, the retry of the transfer: %+v, %v; want its repeat at %d", round, res, err, movePos)
			}
		}
		elsewhere := move
		elsewhere.IdempotencyKey = "move-2"
		_, err = r.TransferPerson(ctx, elsewhere)
		refused("the department under a new key", "department", err)
		elsewhere.IdempotencyKey = "ret-1"
		_, err = r.TransferPerson(ctx, elsewhere)
		refused("the department under another request's key", "department", err)
		elsewhere.IdempotencyKey = ""
		_, err = r.TransferPerson(ctx, elsewhere)
		refused("the department without a key", "department", err)
		_, err = retract(r, "ret-2")
		refused("the reason under a new key", "reason", err)
		_, err = r.RetractAccomplishment(ctx, RetractAccomplishment{AccomplishmentID: old.AccomplishmentID, Reason: reason})
		refused("the reason without a key", "reason", err)
		// Under a key first used for another request, the reason's own
		// refusal, as a title's or a name's is: it would be refused under
		// any key.
		_, err = retract(r, key)
		refused("the reason under the engagement's key", "reason", err)
		e2 := eng
		batch := newRecorder(l).RecordBatch(ctx, []Command{reg, RecordAccomplishment{PersonID: "E1", IdempotencyKey: key,
			Accomplishment: domain.Accomplishment{Engagement: &e2}}})
		for i, want := range []uint64{regPos, engPos} {
			if br := batch[i]; br.Err != nil || !br.Result.Duplicate || br.Result.Position != want {
				t.Errorf("the retry of command %d in a batch: %+v; want its repeat at %d", i, br, want)
			}
		}
		other := reg
		other.JoinedOn = domain.MustDate("2019-02-01")
		_, err = r.RegisterPerson(ctx, other)
		refused("a registration with other values under the key", "name", err)
		e3 := eng
		e3.Role = domain.Lead
		_, err = record(r, e3, key)
		refused("an engagement with other values under the key", "title", err)
		_, err = record(r, eng, "eng-2")
		refused("the NUL under a new key", "title", err)
		if after, _ := l.Head(ctx); after != head {
			t.Errorf("the log moved: head %d -> %d", head, after)
		}
	})
}

// refusedUnprintable fails t unless err is the refusal of field's control
// characters.
func refusedUnprintable(t *testing.T, what, field string, err error) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindInvalid || de.Field != field || de.Rule != "must not contain control characters" {
		t.Errorf("%s: %v; want the control-character refusal naming %s", what, err, field)
	}
}
