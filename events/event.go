package events

import "github.com/careerledger/careerledger/domain"

// Event is one immutable fact in a person's log. EventType is the type name
// stored with the event (e.g. "PersonRegistered").
type Event interface{ EventType() string }

// PersonRegistered says a person joined the organisation; it starts the
// person's log.
type PersonRegistered struct {
	PersonID   string      `json:"personId"`
	Name       string      `json:"name"`
	Department string      `json:"department"`
	JoinedOn   domain.Date `json:"joinedOn"`
}

// PersonTransferred says a person belongs to another department from
// EffectiveOn on.
type PersonTransferred struct {
	PersonID    string      `json:"personId"`
	Department  string      `json:"department"`
	EffectiveOn domain.Date `json:"effectiveOn"`
}

// PersonDeparted says a person left the organisation on EffectiveOn.
type PersonDeparted struct {
	PersonID    string      `json:"personId"`
	EffectiveOn domain.Date `json:"effectiveOn"`
}

// EngagementRecorded records one engagement (project or operations
// assignment). Enumerations are stored as their contract spelling
// (e.g. "SYSTEM_OPERATION"); absent sizes and an absent completedOn are
// omitted from the body.
type EngagementRecorded struct {
	AccomplishmentID       string      `json:"accomplishmentId"`
	Field                  string      `json:"field"`
	Title                  string      `json:"title"`
	Role                   string      `json:"role"`
	StartedOn              domain.Date `json:"startedOn"`
	CompletedOn            domain.Date `json:"completedOn,omitzero"`
	Outcome                string      `json:"outcome"`
	WithinBudget           bool        `json:"withinBudget"`
	PeakHeadcount          *int64      `json:"peakHeadcount,omitempty"`
	AnnualContractValueYen *int64      `json:"annualContractValueYen,omitempty"`
	InstallationSites      *int64      `json:"installationSites,omitempty"`
	InquiriesPerYear       *int64      `json:"inquiriesPerYear,omitempty"`
	Complexity             []string    `json:"complexity"`
}

// TechnologySuccessionRecorded records a technology-succession item (paper,
// talk, book, ...) for the fields it names.
type TechnologySuccessionRecorded struct {
	AccomplishmentID string      `json:"accomplishmentId"`
	Kind             string      `json:"kind"`
	Title            string      `json:"title"`
	OccurredOn       domain.Date `json:"occurredOn"`
	Fields           []string    `json:"fields"`
}

// SubordinateDevelopmentRecorded records one act of subordinate development.
type SubordinateDevelopmentRecorded struct {
	AccomplishmentID string      `json:"accomplishmentId"`
	Kind             string      `json:"kind"`
	OccurredOn       domain.Date `json:"occurredOn"`
	SubordinateID    string      `json:"subordinateId,omitempty"`
}

// ThemeAssessed records a proficiency assessment in one theme.
type ThemeAssessed struct {
	AccomplishmentID string      `json:"accomplishmentId"`
	Theme            string      `json:"theme"`
	Proficiency      string      `json:"proficiency"`
	AssessedOn       domain.Date `json:"assessedOn"`
}

// AccomplishmentAmended replaces an accomplishment with a whole new value:
// exactly one of the pointers is set, of the kind that recorded it, and its
// accomplishment id equals AccomplishmentID.
//
// Its nested bodies have the shape of the matching *Recorded event at that
// event's current version (the type was introduced after EngagementRecorded
// v2). If a nested shape ever changes, this type gets a new version too:
// amendedNests (codec.go) says which version of each nested event every
// version of it holds, and its upcasters lift a nested body through that
// event's own.
type AccomplishmentAmended struct {
	AccomplishmentID string                          `json:"accomplishmentId"`
	Engagement       *EngagementRecorded             `json:"engagement,omitempty"`
	Succession       *TechnologySuccessionRecorded   `json:"succession,omitempty"`
	Development      *SubordinateDevelopmentRecorded `json:"development,omitempty"`
	Assessment       *ThemeAssessed                  `json:"assessment,omitempty"`
}

// AccomplishmentRetracted withdraws an accomplishment; it no longer counts
// as evidence from the moment the retraction was recorded.
type AccomplishmentRetracted struct {
	AccomplishmentID string `json:"accomplishmentId"`
	Reason           string `json:"reason"`
}

// EventType implements Event.
func (PersonRegistered) EventType() string { return "PersonRegistered" }

// EventType implements Event.
func (PersonTransferred) EventType() string { return "PersonTransferred" }

// EventType implements Event.
func (PersonDeparted) EventType() string { return "PersonDeparted" }

// EventType implements Event.
func (EngagementRecorded) EventType() string { return "EngagementRecorded" }

// EventType implements Event.
func (TechnologySuccessionRecorded) EventType() string { return "TechnologySuccessionRecorded" }

// EventType implements Event.
func (SubordinateDevelopmentRecorded) EventType() string { return "SubordinateDevelopmentRecorded" }

// EventType implements Event.
func (ThemeAssessed) EventType() string { return "ThemeAssessed" }

// EventType implements Event.
func (AccomplishmentAmended) EventType() string { return "AccomplishmentAmended" }

// EventType implements Event.
func (AccomplishmentRetracted) EventType() string { return "AccomplishmentRetracted" }
