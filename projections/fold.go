package projections

import (
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// personState is one person's events and their fold, kept by the projector
// between batches so that a batch re-evaluates each affected person once.
type personState struct {
	events  []events.Recorded
	person  *domain.Person
	changes []domain.LevelChange // the timeline as last projected
}

func newPersonState(rs []events.Recorded) *personState {
	st := &personState{}
	for _, r := range rs {
		st.apply(r)
	}
	return st
}

func (st *personState) apply(r events.Recorded) {
	if n := len(st.events); n > 0 && r.Position <= st.events[n-1].Position {
		// Already folded: the person was loaded from a store that a rival
		// projector (one that has not yet noticed it lost the lock) had
		// advanced past this batch. Folding it again would duplicate it.
		return
	}
	st.events = append(st.events, r)
	st.person = events.Apply(st.person, r)
}

// PersonProjection is everything the read model stores for one person,
// computed from their whole event history.
type PersonProjection struct {
	Person          PersonView
	Accomplishments []AccomplishmentView
	Periods         []domain.LevelPeriod
	Changes         []domain.LevelChange
	Standing        domain.Standing // as of the day of projection
}

// project computes a person's read model rows. today bounds the standing
// stored with its explanation; queries for other dates evaluate on read.
func project(cat *domain.Catalogue, st *personState, today domain.Date) PersonProjection {
	p := st.person
	out := PersonProjection{Person: PersonView{
		ID: p.ID, Name: p.Name, JoinedOn: p.JoinedOn, Memberships: p.Memberships(),
	}}
	if n := len(st.events); n > 0 {
		out.Person.Position = st.events[n-1].Position
	}
	out.Accomplishments = accomplishmentViews(p.ID, st.events)
	ev := p.Evidence()
	out.Standing, out.Changes = cat.Judge(ev, today)
	out.Periods = periodsOf(out.Changes)
	return out
}

func accomplishmentViews(personID string, rs []events.Recorded) []AccomplishmentView {
	var out []AccomplishmentView
	index := map[string]int{}
	for _, r := range rs {
		switch e := r.Event.(type) {
		case events.AccomplishmentRetracted:
			if i, ok := index[e.AccomplishmentID]; ok {
				out[i].Retracted = true
				out[i].RetractionReason = e.Reason
			}
		case events.AccomplishmentAmended:
			if i, ok := index[e.AccomplishmentID]; ok {
				if a, ok := events.ToAccomplishment(e); ok {
					out[i].Accomplishment = a
					out[i].AmendedAt = r.RecordedAt
				}
			}
		default:
			if a, ok := events.ToAccomplishment(r.Event); ok {
				index[a.ID()] = len(out)
				out = append(out, AccomplishmentView{
					ID: a.ID(), PersonID: personID, Accomplishment: a,
					Position: r.Position, RecordedAt: r.RecordedAt,
				})
			}
		}
	}
	return out
}

// periodsOf turns a timeline into level periods (levels >= 1 only).
func periodsOf(changes []domain.LevelChange) []domain.LevelPeriod {
	var out []domain.LevelPeriod
	open := map[domain.Field]int{} // field -> index of its open period
	for _, c := range changes {
		if i, ok := open[c.Field]; ok {
			out[i].To = c.On
			delete(open, c.Field)
		}
		if c.To > 0 {
			open[c.Field] = len(out)
			out = append(out, domain.LevelPeriod{Field: c.Field, Level: c.To, From: c.On})
		}
	}
	return out
}

// newChanges returns the changes in after that are not in before: the level
// changes a batch revealed, published as derived events.
func newChanges(before, after []domain.LevelChange) []domain.LevelChange {
	seen := make(map[domain.LevelChange]bool, len(before))
	for _, c := range before {
		seen[c] = true
	}
	var out []domain.LevelChange
	for _, c := range after {
		if !seen[c] {
			out = append(out, c)
		}
	}
	return out
}

// StandingOf evaluates a person's standing on asOf from their events, as the
// system knew them at knownAt (zero = now). Both stores answer standing
// queries with it, so they cannot disagree.
func StandingOf(cat *domain.Catalogue, rs []events.Recorded, asOf domain.Date, knownAt time.Time) (domain.Standing, bool) {
	var p *domain.Person
	for _, r := range rs {
		if !knownAt.IsZero() && r.RecordedAt.After(knownAt) {
			continue // recorded later: unknown at knownAt
		}
		p = events.Apply(p, r)
	}
	if p == nil {
		return domain.Standing{}, false
	}
	return cat.Evaluate(p.Evidence(), asOf), true
}
