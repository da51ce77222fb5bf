package projections

import (
	"slices"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// personState is one person's events and their fold, kept by the projector
// between batches so that a batch re-evaluates each affected person once.
type personState struct {
	last   uint64 // the position of the last event folded
	seen   uint64 // the projector's batch count when the person last appeared
	person *domain.Person
	views  []AccomplishmentView // kept up to date event by event
	// viewsShared: a projection handed views to a store, which keeps them;
	// an element is then changed in a copy (appending is safe: the store's
	// slice ends before the new element).
	viewsShared bool
	viewIndex   map[string]int
	// What the store holds for this person, to write only what changed.
	stored      bool
	whole       bool // the store's rows may be missing or stale: rewrite them all
	rowsKnown   bool // memberships and changes are exactly what this run wrote for the person
	memberships []domain.Membership
	// placed: memberships is what the person's placements give now (no
	// registration, transfer or departure folded since), so a projection
	// takes it as it is instead of working it out again.
	placed   bool
	changes  []domain.LevelChange // the timeline as last projected
	periods  []domain.LevelPeriod // periodsOf(changes)
	standing domain.Standing      // as last projected
	touched  map[string]bool      // accomplishments changed since the last projection; true: the store has a row for it
}

func newPersonState(rs []events.Recorded) *personState {
	st := &personState{viewIndex: map[string]int{}, touched: map[string]bool{}}
	for _, r := range rs {
		st.apply(r)
	}
	return st
}

func (st *personState) apply(r events.Recorded) {
	if r.Position <= st.last {
		// Already folded: the person was loaded from a store that a rival
		// projector (one that has not yet noticed it lost the lock) had
		// advanced past this batch. Folding it again would duplicate it.
		return
	}
	st.last = r.Position
	var a domain.Accomplishment
	var recorded bool
	st.person, a, recorded = events.ApplyRecorded(st.person, r)
	if _, retraction := r.Event.(events.AccomplishmentRetracted); !recorded && !retraction {
		st.placed = false // perhaps a change of department
	}
	if st.person != nil {
		st.foldView(r, a, recorded)
	}
}

// ownView returns the i-th view to change in place, copying the views
// first if a store holds them.
func (st *personState) ownView(i int) *AccomplishmentView {
	if st.viewsShared {
		st.views, st.viewsShared = slices.Clone(st.views), false
	}
	return &st.views[i]
}

// foldView updates the accomplishment views with one event; a is the
// accomplishment it recorded into the person (recorded false if none),
// shared with the person.
func (st *personState) foldView(r events.Recorded, a domain.Accomplishment, recorded bool) {
	switch e := r.Event.(type) {
	case events.AccomplishmentRetracted:
		if i, ok := st.viewIndex[e.AccomplishmentID]; ok {
			v := st.ownView(i)
			v.Retracted = true
			v.RetractionReason = e.Reason
			v.RetractedBy = r.RecordedBy
			st.touch(e.AccomplishmentID)
		}
	case events.AccomplishmentAmended:
		if i, ok := st.viewIndex[e.AccomplishmentID]; ok {
			if recorded {
				v := st.ownView(i)
				v.Accomplishment = a
				v.AmendedAt = r.RecordedAt
				v.AmendedBy = r.RecordedBy
				v.VersionPosition = r.Position
				st.touch(e.AccomplishmentID)
			}
		}
	default:
		if recorded {
			id := a.ID()
			if i, seen := st.viewIndex[id]; seen {
				// Recorded again after a retraction: the new record replaces it.
				*st.ownView(i) = AccomplishmentView{ID: id, PersonID: st.person.ID, Accomplishment: a,
					Position: r.Position, VersionPosition: r.Position, RecordedAt: r.RecordedAt, RecordedBy: r.RecordedBy}
				st.touch(id)
			} else {
				st.viewIndex[id] = len(st.views)
				st.views = append(st.views, AccomplishmentView{ID: id, PersonID: st.person.ID, Accomplishment: a,
					Position: r.Position, VersionPosition: r.Position, RecordedAt: r.RecordedAt, RecordedBy: r.RecordedBy})
				st.touched[id] = false // new since the store last saw the person: no row to replace
			}
		}
	}
}

// touch notes that an accomplishment the store may hold a row for changed.
func (st *personState) touch(id string) {
	if _, fresh := st.touched[id]; !fresh {
		st.touched[id] = true
	}
}

// PersonProjection is everything the read model stores for one person,
// computed from their whole event history, and what changed since the
// store last saw them.
type PersonProjection struct {
	Person          PersonView
	Accomplishments []AccomplishmentView
	Periods         []domain.LevelPeriod
	Changes         []domain.LevelChange
	Standing        domain.Standing // as of the day of projection: levels and attainedOn, no explanation
	Delta           Delta
	// Prior is what the store holds for the person when the projector
	// knows it exactly (it wrote it in this run), so a store may write only
	// the rows that differ; nil: unknown, replace the person's rows.
	Prior *Prior
}

// Prior is the part of a person's previous projection a store needs to
// write only what changed.
type Prior struct {
	Memberships []domain.Membership
	Periods     []domain.LevelPeriod
	Changes     []domain.LevelChange
}

// Delta says which parts of a person's rows changed since the store last
// saw them, so a store may rewrite only those. A store may also ignore it
// and replace the person whole.
type Delta struct {
	New             bool     // the store has no rows for the person yet
	Whole           bool     // the store may hold any rows for the person: replace them all
	Memberships     bool     // department periods changed
	Accomplishments []string // ids of accomplishments recorded, amended or retracted
	Added           []string // those among them recorded for the first time: the store has no row to replace
	Levels          bool     // level periods and changes changed
	Standing        bool     // a level or attainedOn of the current standing changed
}

// project computes a person's read model rows. today is the date of the
// levels kept as the current standing; queries (any date, and every
// explanation) evaluate on read.
func project(cat *domain.Catalogue, st *personState, today domain.Date) PersonProjection {
	p := st.person
	out := PersonProjection{Person: PersonView{ID: p.ID, Name: p.Name, JoinedOn: p.JoinedOn}}
	// Most batches only add accomplishments: the memberships and, when the
	// timeline did not change, the level periods are those of the last
	// projection (the store only reads them, so they are shared).
	if st.placed {
		out.Person.Memberships = st.memberships
	} else {
		out.Person.Memberships = p.Memberships()
	}
	out.Person.Position = st.last
	// The store keeps the views while the state moves on: they are shared
	// up to their current length, and copied before a change (ownView).
	out.Accomplishments = st.views[:len(st.views):len(st.views)]
	st.viewsShared = true
	// The explanation is evaluated on read (for any date and knownAt):
	// only the levels are kept, and judged without it, from the derivations
	// the person keeps between batches.
	out.Standing, out.Changes = cat.JudgePersonLevels(p, today)
	if slices.Equal(st.changes, out.Changes) {
		out.Periods = st.periods
	} else {
		out.Periods = periodsOf(out.Changes)
	}
	out.Delta = Delta{
		New:         !st.stored,
		Memberships: !st.stored || !slices.Equal(st.memberships, out.Person.Memberships),
		Levels:      !st.stored || !slices.Equal(st.changes, out.Changes),
		Standing:    !st.stored || !sameStanding(st.standing, out.Standing),
	}
	if st.whole {
		out.Delta = Delta{Whole: true, Memberships: true, Levels: true, Standing: true}
		if len(st.views) > 0 {
			out.Delta.Accomplishments = make([]string, 0, len(st.views))
		}
		for _, v := range st.views {
			out.Delta.Accomplishments = append(out.Delta.Accomplishments, v.ID)
		}
	} else if len(st.touched) > 0 {
		// One array for both lists: Accomplishments from its start, Added
		// from its end, so that neither grows by steps.
		ids := make([]string, len(st.touched)+countAdded(st.touched))
		acc, added := ids[:0:len(st.touched)], ids[len(st.touched):len(st.touched)]
		for id, replaces := range st.touched {
			acc = append(acc, id)
			if !replaces {
				added = append(added, id)
			}
		}
		slices.Sort(added)
		out.Delta.Accomplishments = acc
		if len(added) > 0 {
			out.Delta.Added = added
		}
	}
	if st.rowsKnown && !st.whole {
		out.Prior = &Prior{Memberships: st.memberships, Periods: st.periods, Changes: st.changes}
	}
	slices.Sort(out.Delta.Accomplishments)
	return out
}

// countAdded counts the accomplishments of touched new to the store.
func countAdded(touched map[string]bool) int {
	n := 0
	for _, replaces := range touched {
		if !replaces {
			n++
		}
	}
	return n
}

// periodsOf turns a timeline into level periods (levels >= 1 only).
func periodsOf(changes []domain.LevelChange) []domain.LevelPeriod {
	n := 0
	for _, c := range changes {
		if c.To > 0 {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]domain.LevelPeriod, 0, n)
	// Each field has at most one open period. The fields are few: a short
	// list on the stack does what a map would, without one.
	type openPeriod struct {
		field domain.Field
		at    int // index in out
	}
	var buf [8]openPeriod
	open := buf[:0]
	for _, c := range changes {
		for k := range open {
			if open[k].field == c.Field {
				out[open[k].at].To = c.On
				open[k] = open[len(open)-1]
				open = open[:len(open)-1]
				break
			}
		}
		if c.To > 0 {
			open = append(open, openPeriod{c.Field, len(out)})
			out = append(out, domain.LevelPeriod{Field: c.Field, Level: c.To, From: c.On})
		}
	}
	return out
}

// newChanges returns the changes in after that are not in before: the level
// changes a batch revealed, published as derived events (and, with the
// arguments swapped, those it withdrew).
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
// queries with it, so they cannot disagree. When nothing was known of the
// person at knownAt (their registration was recorded later) the standing
// is every field judged on no evidence (level 0, with what the next level
// asks), as for a person with no evidence, and known is false: which is
// not an error.
func StandingOf(cat *domain.Catalogue, rs []events.Recorded, asOf domain.Date, knownAt time.Time) (_ domain.Standing, known bool) {
	var p *domain.Person
	for _, r := range rs {
		if !knownAt.IsZero() && r.RecordedAt.After(knownAt) {
			continue // recorded later: unknown at knownAt
		}
		p = events.Apply(p, r)
	}
	if p == nil {
		return cat.Evaluate(domain.Evidence{}, asOf), false
	}
	return cat.Evaluate(p.Evidence(), asOf), true
}

// sameStanding reports whether two standings say the same thing.
func sameStanding(a, b domain.Standing) bool {
	if a.CatalogueID != b.CatalogueID || a.CatalogueVersion != b.CatalogueVersion || a.AsOf != b.AsOf || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Fields {
		x, y := a.Fields[i], b.Fields[i]
		if x.Field != y.Field || x.Level != y.Level || x.AttainedOn != y.AttainedOn {
			return false
		}
	}
	return true
}
