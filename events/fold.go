package events

import (
	"time"
	"unique"

	"github.com/careerledger/careerledger/domain"
)

// Recorded is an event as stored in the log, with what the log knows about
// it.
type Recorded struct {
	Position       uint64    // the stream sequence: a total order over all people
	PersonID       string    // from the subject
	Type           string    // the type name header
	Version        int       // the schema version it was written under (Event is upcast)
	RecordedAt     time.Time // when the system learned the fact (transaction time)
	IdempotencyKey string    // the caller's key, "" when none
	RecordedBy     string    // who recorded it (HeaderRecordedBy), "" when not told
	Event          Event     // the decoded event, at its current version
	// StoredAt is when the log's server stored the event, by its clock:
	// just before it acknowledged the append (and before any fsync). Set on
	// what the log returns (Follow, Read, Load, At); zero on what a Recorder
	// folds itself.
	StoredAt time.Time
}

// Subject returns the subject of a person's events: "<prefix>.<personID>",
// e.g. "career.person.P1".
func Subject(prefix, personID string) string { return prefix + "." + personID }

// ToAccomplishment returns the accomplishment an EngagementRecorded,
// TechnologySuccessionRecorded, SubordinateDevelopmentRecorded, ThemeAssessed
// or AccomplishmentAmended event carries, and false for any other event.
func ToAccomplishment(e Event) (domain.Accomplishment, bool) {
	switch v := deref(e).(type) {
	case EngagementRecorded:
		return domain.Accomplishment{Engagement: engagementOf(v)}, true
	case TechnologySuccessionRecorded:
		return domain.Accomplishment{Succession: successionOf(v)}, true
	case SubordinateDevelopmentRecorded:
		return domain.Accomplishment{Development: &domain.Development{
			ID: v.AccomplishmentID, Kind: domain.DevelopmentKind(canon(v.Kind)),
			OccurredOn: v.OccurredOn, SubordinateID: v.SubordinateID}}, true
	case ThemeAssessed:
		return domain.Accomplishment{Assessment: &domain.ThemeAssessment{
			ID: v.AccomplishmentID, Theme: domain.Theme(canon(v.Theme)),
			Proficiency: domain.Proficiency(canon(v.Proficiency)), AssessedOn: v.AssessedOn}}, true
	case AccomplishmentAmended:
		var inner Event
		switch {
		case v.Engagement != nil:
			inner = *v.Engagement
		case v.Succession != nil:
			inner = *v.Succession
		case v.Development != nil:
			inner = *v.Development
		case v.Assessment != nil:
			inner = *v.Assessment
		default:
			return domain.Accomplishment{}, false
		}
		a, ok := ToAccomplishment(inner)
		if ok {
			setID(&a, v.AccomplishmentID) // the amendment's id is the authority
		}
		return a, ok
	}
	return domain.Accomplishment{}, false
}

// canon returns the one long-lived copy of a value drawn from a small set
// (a field, role, outcome, criterion, kind, theme or proficiency): a
// decoded string is a heap object of its own, and a person's folded
// accomplishments would otherwise keep one per value for as long as the
// person is cached, for the collector to mark on every cycle.
func canon(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}

// engagementBox holds an engagement with its numbers and criteria, and
// sharedStrings its id and title, so that what a cached person keeps of
// an engagement is two heap objects rather than up to eight.
type engagementBox struct {
	e  domain.Engagement
	n  [4]int64
	cx [8]domain.Criterion
}

func engagementOf(v EngagementRecorded) *domain.Engagement {
	b := &engagementBox{}
	id, title := sharedStrings(v.AccomplishmentID, v.Title)
	b.e = domain.Engagement{
		ID: id, Field: domain.Field(canon(v.Field)), Title: title,
		Role: domain.Role(canon(v.Role)), StartedOn: v.StartedOn, CompletedOn: v.CompletedOn,
		Outcome: domain.Outcome(canon(v.Outcome)), WithinBudget: v.WithinBudget,
		PeakHeadcount: boxInt(&b.n[0], v.PeakHeadcount), AnnualContractValueYen: boxInt(&b.n[1], v.AnnualContractValueYen),
		InstallationSites: boxInt(&b.n[2], v.InstallationSites), InquiriesPerYear: boxInt(&b.n[3], v.InquiriesPerYear),
		Complexity: canonSlice(b.cx[:], v.Complexity),
	}
	return &b.e
}

// canonSlice returns vals interned, in room when it is large enough (else
// in an array of their own), capped at their number so that an append
// copies rather than writes into the room.
func canonSlice[T ~string](room []T, vals []string) []T {
	out := room[:0]
	if len(vals) > cap(room) {
		out = make([]T, 0, len(vals))
	}
	for _, v := range vals {
		out = append(out, T(canon(v)))
	}
	return out[:len(out):len(out)]
}

// boxInt copies *p into *dst and returns dst; nil for nil.
func boxInt(dst, p *int64) *int64 {
	if p == nil {
		return nil
	}
	*dst = *p
	return dst
}

// sharedStrings returns copies of a and b that share one allocation.
func sharedStrings(a, b string) (string, string) {
	ab := a + b
	return ab[:len(a)], ab[len(a):]
}

// successionBox is successionOf's engagementBox.
type successionBox struct {
	s  domain.SuccessionItem
	fs [3]domain.Field
}

func successionOf(v TechnologySuccessionRecorded) *domain.SuccessionItem {
	b := &successionBox{}
	id, title := sharedStrings(v.AccomplishmentID, v.Title)
	b.s = domain.SuccessionItem{ID: id, Kind: domain.SuccessionKind(canon(v.Kind)),
		Title: title, OccurredOn: v.OccurredOn, Fields: canonSlice(b.fs[:], v.Fields)}
	return &b.s
}

func setID(a *domain.Accomplishment, id string) {
	switch {
	case a.Engagement != nil:
		a.Engagement.ID = id
	case a.Succession != nil:
		a.Succession.ID = id
	case a.Development != nil:
		a.Development.ID = id
	case a.Assessment != nil:
		a.Assessment.ID = id
	}
}

// FromAccomplishment returns the *Recorded event (EngagementRecorded,
// TechnologySuccessionRecorded, SubordinateDevelopmentRecorded or
// ThemeAssessed, as a value) that records a; nil for an empty accomplishment.
func FromAccomplishment(a domain.Accomplishment) Event {
	switch {
	case a.Engagement != nil:
		g := a.Engagement
		cx := make([]string, len(g.Complexity))
		for i, c := range g.Complexity {
			cx[i] = string(c)
		}
		return EngagementRecorded{
			AccomplishmentID: g.ID, Field: string(g.Field), Title: g.Title, Role: string(g.Role),
			StartedOn: g.StartedOn, CompletedOn: g.CompletedOn, Outcome: string(g.Outcome),
			WithinBudget: g.WithinBudget, PeakHeadcount: copyInt(g.PeakHeadcount),
			AnnualContractValueYen: copyInt(g.AnnualContractValueYen),
			InstallationSites:      copyInt(g.InstallationSites),
			InquiriesPerYear:       copyInt(g.InquiriesPerYear), Complexity: cx,
		}
	case a.Succession != nil:
		s := a.Succession
		fs := make([]string, len(s.Fields))
		for i, f := range s.Fields {
			fs[i] = string(f)
		}
		return TechnologySuccessionRecorded{AccomplishmentID: s.ID, Kind: string(s.Kind),
			Title: s.Title, OccurredOn: s.OccurredOn, Fields: fs}
	case a.Development != nil:
		d := a.Development
		return SubordinateDevelopmentRecorded{AccomplishmentID: d.ID, Kind: string(d.Kind),
			OccurredOn: d.OccurredOn, SubordinateID: d.SubordinateID}
	case a.Assessment != nil:
		t := a.Assessment
		return ThemeAssessed{AccomplishmentID: t.ID, Theme: string(t.Theme),
			Proficiency: string(t.Proficiency), AssessedOn: t.AssessedOn}
	}
	return nil
}

// amendmentOf returns the AccomplishmentAmended event that replaces an
// accomplishment with a whole.
func amendmentOf(a domain.Accomplishment) AccomplishmentAmended {
	out := AccomplishmentAmended{AccomplishmentID: a.ID()}
	switch v := FromAccomplishment(a).(type) {
	case EngagementRecorded:
		out.Engagement = &v
	case TechnologySuccessionRecorded:
		out.Succession = &v
	case SubordinateDevelopmentRecorded:
		out.Development = &v
	case ThemeAssessed:
		out.Assessment = &v
	}
	return out
}

func copyInt(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Apply folds one recorded event into a person and returns the result.
// PersonRegistered creates the person (a second one for the same person is
// ignored); any other event before registration is ignored and nil is
// returned. Accomplishment events are folded with their recorded time so
// that the person can answer "as known at".
func Apply(p *domain.Person, r Recorded) *domain.Person {
	p, _, _ = ApplyRecorded(p, r)
	return p
}

// ApplyRecorded is Apply that also returns the accomplishment the event
// recorded into the person (ok false when it recorded none), for a caller
// that keeps its own view of it: sharing the value rather than converting
// the event again keeps one copy of it on the heap. The value is not to be
// changed in place.
func ApplyRecorded(p *domain.Person, r Recorded) (_ *domain.Person, a domain.Accomplishment, ok bool) {
	e := deref(r.Event)
	if reg, isReg := e.(PersonRegistered); isReg {
		if p == nil {
			return domain.NewPerson(reg.PersonID, reg.Name, reg.Department, reg.JoinedOn), a, false
		}
		return p, a, false
	}
	if p == nil {
		return nil, a, false
	}
	switch v := e.(type) {
	case PersonTransferred:
		p.Transfer(v.Department, v.EffectiveOn)
	case PersonDeparted:
		p.Depart(v.EffectiveOn)
	case AccomplishmentRetracted:
		p.Retract(v.AccomplishmentID, v.Reason, r.RecordedAt)
	default:
		if a, ok = ToAccomplishment(e); ok {
			p.Record(a, r.RecordedAt)
		}
	}
	return p, a, ok
}

// Fold folds a person's events, in log order, into the person; nil when
// they hold no PersonRegistered.
func Fold(rs []Recorded) *domain.Person {
	var p *domain.Person
	for _, r := range rs {
		p = Apply(p, r)
	}
	return p
}
