package domain

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

var personIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// PersonIDRule is the rule every person id keeps, in the words an error
// gives it.
const PersonIDRule = "must be 1-64 characters of A-Z a-z 0-9 _ -"

// ValidatePersonID checks that id is 1-64 characters of A-Z a-z 0-9 _ -,
// which also makes it a single NATS subject token.
func ValidatePersonID(id string) error { return ValidatePersonIDOf("id", id) }

// ValidatePersonIDOf is ValidatePersonID for the input field (or argument)
// field the id came in: "personId", "subordinateId", ...
func ValidatePersonIDOf(field, id string) error {
	if !personIDPattern.MatchString(id) {
		return Invalid(field, PersonIDRule)
	}
	return nil
}

// ValidateAccomplishmentIDOf refuses an accomplishment id whose person
// part (before its first ".") breaks the person id rule, naming field
// (accomplishmentId, id) and quoting that part: no one's accomplishment
// has such an id, since the log appends under no such person. An id
// without a "." is not refused here: it is no accomplishment's, told as
// not found where it is looked up.
func ValidateAccomplishmentIDOf(field, id string) error {
	personID, _, ok := strings.Cut(id, ".")
	if !ok || personIDPattern.MatchString(personID) {
		return nil
	}
	return &Error{Kind: KindInvalid, Field: field, Rule: PersonIDRule,
		Message: fmt.Sprintf("%s: the person id before its \".\" (%q) %s", field, personID, PersonIDRule)}
}

// Placement says that from On the person belongs to Department; an empty
// Department means the person has departed.
type Placement struct {
	On         Date
	Department string
}

// Membership is a period of belonging to one department over valid time; To
// is exclusive and zero while open.
type Membership struct {
	Department string
	From       Date
	To         Date
}

// Change is one change to a person's accomplishments as the system learned
// it: a recording or amendment (Accomplishment set) or a retraction.
type Change struct {
	RecordedAt     time.Time
	Accomplishment Accomplishment // the whole new value; for a retraction only ID is meaningful
	RetractedID    string         // set for a retraction
	Reason         string
}

// Person is the fold of one person's events: identity, department placements
// and every change to their accomplishments in the order it was recorded.
// Apply methods assume the facts were validated when they were decided.
// A Person is not safe for concurrent use (Evidence caches).
type Person struct {
	ID         string
	Name       string
	JoinedOn   Date
	placements []Placement // in recording order
	changes    []Change    // in recording order
	current    map[string]Accomplishment
	retracted  map[string]bool
	// ev is the evidence as known now, kept up to date while recordings
	// only add accomplishments (nil: rebuild it from changes).
	ev *Evidence
	// prep is what a catalogue derived from each item of ev (see
	// JudgePersonLevels); it covers a prefix of ev and goes with it.
	prep *prepared
}

// ValidatePlacementDate checks the day a transfer or departure takes
// effect against the day the person joined: not before it, whoever asks
// (no one worked anywhere here before joining).
func ValidatePlacementDate(effectiveOn, joinedOn Date) error {
	if effectiveOn.Before(joinedOn) {
		return Invalid("effectiveOn", "must not be before joinedOn ("+joinedOn.String()+")")
	}
	return nil
}

// NewPerson folds a PersonRegistered fact.
func NewPerson(id, name, department string, joinedOn Date) *Person {
	return &Person{
		ID: id, Name: name, JoinedOn: joinedOn,
		placements: []Placement{{On: joinedOn, Department: department}},
		current:    map[string]Accomplishment{},
		retracted:  map[string]bool{},
	}
}

// Transfer folds a transfer effective on the given date.
func (p *Person) Transfer(department string, effectiveOn Date) {
	p.placements = append(p.placements, Placement{On: effectiveOn, Department: department})
}

// Depart folds a departure effective on the given date.
func (p *Person) Depart(effectiveOn Date) {
	p.placements = append(p.placements, Placement{On: effectiveOn})
}

// Record folds a new accomplishment, or an amendment that replaces one whole.
func (p *Person) Record(a Accomplishment, recordedAt time.Time) {
	id := a.ID()
	_, known := p.current[id]
	if known || p.retracted[id] {
		p.ev, p.prep = nil, nil // replaced in place, or back in its first place: rebuild
	} else if p.ev != nil {
		p.ev.Add(a) // a new id goes last, as a rebuild would put it
	}
	p.changes = append(p.changes, Change{RecordedAt: recordedAt, Accomplishment: a})
	p.current[id] = a
}

// Retract folds a retraction.
func (p *Person) Retract(id, reason string, recordedAt time.Time) {
	p.changes = append(p.changes, Change{RecordedAt: recordedAt, RetractedID: id, Reason: reason})
	p.ev, p.prep = nil, nil
	delete(p.current, id)
	p.retracted[id] = true
}

// Accomplishment returns the current value of an accomplishment. It returns
// NotFound for an unknown id and Conflict for a retracted one, which is what
// amending or retracting it must refuse.
func (p *Person) Accomplishment(id string) (Accomplishment, error) {
	if a, ok := p.current[id]; ok {
		return a, nil
	}
	if p.retracted[id] {
		return Accomplishment{}, &Error{Kind: KindInvalid, Field: "accomplishmentId",
			Rule: "is already retracted", Message: "accomplishmentId: " + id + " is already retracted"}
	}
	return Accomplishment{}, NotFound("accomplishment %s not found", id)
}

// Changes returns the accomplishment changes in recording order.
func (p *Person) Changes() []Change { return p.changes }

// Evidence returns the evidence as known now, in recording order. The
// result is the caller's own.
func (p *Person) Evidence() Evidence {
	p.currentEvidence()
	return Evidence{
		Engagements:  slices.Clone(p.ev.Engagements),
		Successions:  slices.Clone(p.ev.Successions),
		Developments: slices.Clone(p.ev.Developments),
		Assessments:  slices.Clone(p.ev.Assessments),
	}
}

// currentEvidence returns the cached evidence as known now, building it if
// needed. It is the person's own: callers must not change or keep it.
func (p *Person) currentEvidence() *Evidence {
	if p.ev == nil {
		ev := p.evidence(time.Time{})
		p.ev, p.prep = &ev, nil
	}
	return p.ev
}

// EvidenceKnownAt returns the evidence as the system knew it at t: changes
// recorded after t are ignored.
func (p *Person) EvidenceKnownAt(t time.Time) Evidence { return p.evidence(t) }

func (p *Person) evidence(knownAt time.Time) Evidence {
	var order []string
	cur := map[string]Accomplishment{}
	seen := map[string]bool{} // an id recorded again after a retraction keeps its first place, once
	for _, c := range p.changes {
		if !knownAt.IsZero() && c.RecordedAt.After(knownAt) {
			// continue, not break: stamps come from each writer's clock,
			// and a later change may carry an earlier stamp.
			continue
		}
		if c.RetractedID != "" {
			delete(cur, c.RetractedID)
			continue
		}
		id := c.Accomplishment.ID()
		if !seen[id] {
			seen[id] = true
			order = append(order, id)
		}
		cur[id] = c.Accomplishment
	}
	var ev Evidence
	for _, id := range order {
		if a, ok := cur[id]; ok {
			ev.Add(a)
		}
	}
	return ev
}

// Placements returns the department placements sorted by effective date;
// among placements on the same date the one recorded last wins.
func (p *Person) Placements() []Placement {
	out := make([]Placement, len(p.placements))
	copy(out, p.placements)
	sort.SliceStable(out, func(i, j int) bool { return out[i].On.Before(out[j].On) })
	// Keep only the last placement of each date.
	dedup := out[:0]
	for i, pl := range out {
		if i+1 < len(out) && out[i+1].On == pl.On {
			continue
		}
		dedup = append(dedup, pl)
	}
	return dedup
}

// Memberships returns the department periods over valid time.
func (p *Person) Memberships() []Membership {
	var out []Membership
	for _, pl := range p.Placements() {
		if n := len(out); n > 0 && out[n-1].To.IsZero() {
			if out[n-1].Department == pl.Department {
				continue
			}
			out[n-1].To = pl.On
		}
		if pl.Department != "" {
			out = append(out, Membership{Department: pl.Department, From: pl.On})
		}
	}
	return out
}

// DepartmentOn returns the department the person belongs to on d, or "" when
// none (before joining or after departure).
func (p *Person) DepartmentOn(d Date) string {
	dept := ""
	for _, pl := range p.Placements() {
		if pl.On.After(d) {
			break
		}
		dept = pl.Department
	}
	return dept
}
