package events

import (
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
)

func TestFold(t *testing.T) {
	t0 := time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	ex := examples()
	rec := func(pos uint64, h int, e Event) Recorded {
		return Recorded{Position: pos, PersonID: "E1001", Type: e.EventType(), Version: 1, RecordedAt: at(h), Event: e}
	}
	rs := []Recorded{
		rec(1, 0, ex[0]), // registered into Infrastructure on 2015-04-01
		rec(2, 1, ex[3]), // engagement
		rec(3, 2, ex[4]), // succession item
		rec(4, 3, ex[6]), // theme assessment
		rec(5, 4, ex[1]), // transfer on 2023-10-01
		rec(6, 5, ex[7]), // engagement amended to ONGOING
		rec(7, 6, ex[8]), // succession item retracted
		rec(8, 7, ex[2]), // departed on 2025-03-31
	}
	p := Fold(rs)
	if p == nil || p.ID != "E1001" || p.Name != "Sato Aiko" || p.JoinedOn != domain.MustDate("2015-04-01") {
		t.Fatalf("Fold = %+v", p)
	}
	for d, want := range map[string]string{
		"2015-03-31": "", "2015-04-01": "Infrastructure", "2023-09-30": "Infrastructure",
		"2023-10-01": "Service Desk", "2025-03-30": "Service Desk", "2025-03-31": "",
	} {
		if got := p.DepartmentOn(domain.MustDate(d)); got != want {
			t.Errorf("DepartmentOn(%s) = %q, want %q", d, got, want)
		}
	}

	now := p.Evidence()
	if len(now.Engagements) != 1 || now.Engagements[0].Outcome != domain.Ongoing || len(now.Successions) != 0 || len(now.Assessments) != 1 {
		t.Errorf("evidence now = %+v", now)
	}
	if _, err := p.Accomplishment("E1001.KLMNOPQRST"); domain.KindOf(err) != domain.KindInvalid {
		t.Errorf("retracted accomplishment: err = %v", err)
	}

	// As known just before the amendment and the retraction.
	then := p.EvidenceKnownAt(at(4))
	if len(then.Engagements) != 1 || then.Engagements[0].Outcome != domain.Successful || len(then.Successions) != 1 {
		t.Errorf("evidence known at +4h = %+v", then)
	}
	if ev := p.EvidenceKnownAt(at(0)); ev.Len() != 0 {
		t.Errorf("evidence known at registration = %+v", ev)
	}

	// The same facts folded from LoadKnownAt-style prefixes agree.
	if q := Fold(rs[:4]); q.Evidence().Len() != 3 {
		t.Errorf("fold of a prefix: %d pieces of evidence", q.Evidence().Len())
	}
}

func TestFoldWithoutRegistration(t *testing.T) {
	if p := Fold(nil); p != nil {
		t.Errorf("Fold(nil) = %+v", p)
	}
	rs := []Recorded{{Position: 1, Event: PersonDeparted{PersonID: "X", EffectiveOn: domain.MustDate("2020-01-01")}}}
	if p := Fold(rs); p != nil {
		t.Errorf("Fold without PersonRegistered = %+v", p)
	}
	// A second registration does not reset the person.
	reg := PersonRegistered{PersonID: "X", Name: "A", Department: "D", JoinedOn: domain.MustDate("2020-01-01")}
	again := reg
	again.Name = "B"
	p := Fold([]Recorded{{Event: reg}, {Event: &again}})
	if p.Name != "A" {
		t.Errorf("second registration renamed the person to %q", p.Name)
	}
}
