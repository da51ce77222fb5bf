package projections

import (
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// A projection hands its accomplishment views to the store, which keeps
// them while the projector folds on: later amendments, retractions and
// re-recordings must not show through them, and later recordings must not
// lengthen them.
func TestProjectedViewsStayAsProjected(t *testing.T) {
	cat := domain.DefaultCatalogue()
	today := domain.MustDate("2026-11-26")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pos := uint64(0)
	rec := func(e events.Event) events.Recorded {
		pos++
		at = at.Add(time.Minute)
		return events.Recorded{Position: pos, PersonID: "P1", RecordedAt: at, Event: e}
	}
	dev := func(id, kind string) events.SubordinateDevelopmentRecorded {
		return events.SubordinateDevelopmentRecorded{AccomplishmentID: id, Kind: kind, OccurredOn: domain.MustDate("2025-05-01")}
	}
	st := newPersonState([]events.Recorded{
		rec(events.PersonRegistered{PersonID: "P1", Name: "P", Department: "ops", JoinedOn: domain.MustDate("2020-01-01")}),
		rec(dev("P1.a", string(domain.Mentoring))),
		rec(dev("P1.b", string(domain.Mentoring))),
	})
	first := project(cat, st, today)
	if len(first.Accomplishments) != 2 {
		t.Fatalf("projected %d accomplishments, want 2", len(first.Accomplishments))
	}
	d := dev("P1.a", string(domain.Coaching))
	st.apply(rec(events.AccomplishmentAmended{AccomplishmentID: "P1.a", Development: &d}))
	st.apply(rec(events.AccomplishmentRetracted{AccomplishmentID: "P1.b", Reason: "wrong"}))
	st.apply(rec(dev("P1.c", string(domain.Mentoring))))
	if a := first.Accomplishments[0]; a.AmendedAt != (time.Time{}) || a.Accomplishment.Development.Kind != domain.Mentoring {
		t.Errorf("the amendment showed through the earlier projection: %+v", a)
	}
	if b := first.Accomplishments[1]; b.Retracted {
		t.Errorf("the retraction showed through the earlier projection: %+v", b)
	}
	if len(first.Accomplishments) != 2 {
		t.Errorf("the earlier projection grew to %d", len(first.Accomplishments))
	}
	second := project(cat, st, today)
	if len(second.Accomplishments) != 3 || !second.Accomplishments[1].Retracted ||
		second.Accomplishments[0].Accomplishment.Development.Kind != domain.Coaching {
		t.Errorf("the next projection does not show the changes: %+v", second.Accomplishments)
	}
	st.apply(rec(dev("P1.b", string(domain.Mentoring)))) // recorded again after its retraction
	if !second.Accomplishments[1].Retracted {
		t.Errorf("the re-recording showed through the earlier projection")
	}
}
