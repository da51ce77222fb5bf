package domain

// Engagement is one piece of operations work a person took part in.
// Optional size attributes are nil when not recorded; a nil size never meets
// a threshold.
type Engagement struct {
	ID                     string
	Field                  Field
	Title                  string
	Role                   Role
	StartedOn              Date
	CompletedOn            Date // zero while ONGOING
	Outcome                Outcome
	WithinBudget           bool
	PeakHeadcount          *int64
	AnnualContractValueYen *int64
	InstallationSites      *int64
	InquiriesPerYear       *int64
	Complexity             []Criterion
}

// SuccessionItem is a technology-succession item (paper, talk, book, ...)
// that counts only for the fields it names.
type SuccessionItem struct {
	ID         string
	Kind       SuccessionKind
	Title      string
	OccurredOn Date
	Fields     []Field
}

// Development is one act of subordinate development (mentoring, coaching).
type Development struct {
	ID            string
	Kind          DevelopmentKind
	OccurredOn    Date
	SubordinateID string // optional
}

// ThemeAssessment is a proficiency assessment in one theme; the latest one of
// a theme on or before a date is the one in force.
type ThemeAssessment struct {
	ID          string
	Theme       Theme
	Proficiency Proficiency
	AssessedOn  Date
}

// AccomplishmentKind says which kind of evidence an Accomplishment holds.
type AccomplishmentKind string

// The accomplishment kinds.
const (
	KindEngagement      AccomplishmentKind = "ENGAGEMENT"
	KindSuccession      AccomplishmentKind = "TECHNOLOGY_SUCCESSION"
	KindDevelopment     AccomplishmentKind = "SUBORDINATE_DEVELOPMENT"
	KindThemeAssessment AccomplishmentKind = "THEME_ASSESSMENT"
)

// Accomplishment is one recorded piece of evidence of any kind: exactly one of
// its pointers is set, and its ID equals that evidence's ID.
type Accomplishment struct {
	Engagement  *Engagement
	Succession  *SuccessionItem
	Development *Development
	Assessment  *ThemeAssessment
}

// Kind returns which kind of evidence a holds ("" when empty).
func (a Accomplishment) Kind() AccomplishmentKind {
	switch {
	case a.Engagement != nil:
		return KindEngagement
	case a.Succession != nil:
		return KindSuccession
	case a.Development != nil:
		return KindDevelopment
	case a.Assessment != nil:
		return KindThemeAssessment
	}
	return ""
}

// ID returns the accomplishment's id.
func (a Accomplishment) ID() string {
	switch {
	case a.Engagement != nil:
		return a.Engagement.ID
	case a.Succession != nil:
		return a.Succession.ID
	case a.Development != nil:
		return a.Development.ID
	case a.Assessment != nil:
		return a.Assessment.ID
	}
	return ""
}

// EffectiveOn returns the date from which the accomplishment counts for
// levels 3-5 (completedOn for engagements; zero for an ongoing one).
func (a Accomplishment) EffectiveOn() Date {
	switch {
	case a.Engagement != nil:
		return a.Engagement.CompletedOn
	case a.Succession != nil:
		return a.Succession.OccurredOn
	case a.Development != nil:
		return a.Development.OccurredOn
	case a.Assessment != nil:
		return a.Assessment.AssessedOn
	}
	return Date{}
}

// Evidence is the set of accomplishments a judgment is made on.
type Evidence struct {
	Engagements  []Engagement
	Successions  []SuccessionItem
	Developments []Development
	Assessments  []ThemeAssessment
}

// Add puts a into the evidence set.
func (ev *Evidence) Add(a Accomplishment) {
	switch {
	case a.Engagement != nil:
		ev.Engagements = append(ev.Engagements, *a.Engagement)
	case a.Succession != nil:
		ev.Successions = append(ev.Successions, *a.Succession)
	case a.Development != nil:
		ev.Developments = append(ev.Developments, *a.Development)
	case a.Assessment != nil:
		ev.Assessments = append(ev.Assessments, *a.Assessment)
	}
}

// Len returns how many pieces of evidence the set holds.
func (ev Evidence) Len() int {
	return len(ev.Engagements) + len(ev.Successions) + len(ev.Developments) + len(ev.Assessments)
}
