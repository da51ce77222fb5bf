package projections

import (
	"time"

	"github.com/careerledger/careerledger/domain"
)

// PersonView is a person as the read model knows them.
type PersonView struct {
	ID          string
	Name        string
	JoinedOn    domain.Date
	Memberships []domain.Membership
	Position    uint64 // log position of the person's latest event
}

// DepartmentOn returns the department the person belongs to on d, or "".
func (p PersonView) DepartmentOn(d domain.Date) string {
	for _, m := range p.Memberships {
		if !m.From.After(d) && (m.To.IsZero() || m.To.After(d)) {
			return m.Department
		}
	}
	return ""
}

// AccomplishmentView is one accomplishment as currently known.
type AccomplishmentView struct {
	ID               string
	PersonID         string
	Accomplishment   domain.Accomplishment
	Position         uint64 // where it was first recorded
	VersionPosition  uint64 // the event that holds its current value (its recording or latest amendment)
	RecordedAt       time.Time
	AmendedAt        time.Time // zero if never amended
	Retracted        bool
	RetractionReason string
	// Who recorded it, last amended it and retracted it (events.Recorded's
	// RecordedBy): "" when not told, as for events before it was kept.
	RecordedBy, AmendedBy, RetractedBy string
}

// PeopleFilter selects people for the people query.
type PeopleFilter struct {
	Department string       // "" = any; matched as of AsOf
	Field      domain.Field // with MinLevel: the field whose level is compared
	MinLevel   int
	AsOf       domain.Date
	First      int
	After      string // cursor: the last person id of the previous page
	// NoCount: the caller does not read TotalCount, which a store may then
	// leave 0 rather than count every person who matches (a count per
	// page makes paging through a list quadratic in its length).
	NoCount bool
}

// PeoplePage is one page of people, ordered by id.
type PeoplePage struct {
	People     []PersonView
	TotalCount int
	HasNext    bool
}

// AccomplishmentPage is one page of a person's accomplishments in recording order.
type AccomplishmentPage struct {
	Items      []AccomplishmentView
	TotalCount int
	HasNext    bool
}

// Cell counts the people of one department at one level.
type Cell struct {
	Department string
	Level      int
	Count      int
}
