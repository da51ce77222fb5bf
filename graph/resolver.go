// Package graph serves careerledger's GraphQL API (gqlgen, schema first):
// mutations that record through the event log, queries over the read
// models, the levelChanged subscription, authentication, authorization,
// limits and the error presenter.
package graph

import (
	"context"
	"log/slog"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
)

// ReadModel is what the API reads: the memory and PostgreSQL read models
// both satisfy it.
type ReadModel interface {
	Person(ctx context.Context, id string) (projections.PersonView, error)
	PeopleByID(ctx context.Context, ids []string) (map[string]projections.PersonView, error)
	Standing(ctx context.Context, id string, asOf domain.Date, knownAt time.Time) (domain.Standing, error)
	History(ctx context.Context, id string, field *domain.Field) ([]domain.LevelChange, error)
	Accomplishments(ctx context.Context, id string, first int, after uint64) (projections.AccomplishmentPage, error)
	Accomplishment(ctx context.Context, id string) (projections.AccomplishmentView, error)
	People(ctx context.Context, f projections.PeopleFilter) (projections.PeoplePage, error)
	Distribution(ctx context.Context, field domain.Field, asOf domain.Date, department string) ([]projections.Cell, error)
	// Departments returns every department anyone has been or is in,
	// sorted by byte order.
	Departments(ctx context.Context) ([]string, error)
	// PeopleEverIn returns the people whose events place them in a
	// department ("": everyone registered), for the analytics as known at
	// an instant (projections.DistributionsKnownAt).
	PeopleEverIn(ctx context.Context, department string) ([]string, error)
	// WaitFor blocks until the read model has applied position.
	WaitFor(ctx context.Context, position uint64) error
	// PersonEvents returns the events of many people in one call: what a
	// page of people is resolved from, never one query per person.
	PersonEvents(ctx context.Context, ids []string) (map[string][]events.Recorded, error)
	// Readable returns the position up to which the read model answers
	// every query.
	Readable(ctx context.Context) (uint64, error)
	// Checkpoint returns the position of the last event the read model
	// stores, its people written or not (a bulk catch-up's): what a
	// replay as known at an instant reads, and EarliestRecordedAfter
	// answers for.
	Checkpoint(ctx context.Context) (uint64, error)
	// EarliestRecordedAfter returns a bound on when the events applied
	// after position were recorded (see projections.ReadModel): a list as
	// known at an instant before it is still the list replayed then.
	EarliestRecordedAfter(ctx context.Context, position uint64) (earliest time.Time, any bool, err error)
	// FirstRecordedAt returns, for each of ids with a stored event, when
	// their first event (the registration) was recorded, without reading
	// their other events: what recordedAt answers, a page at a time.
	FirstRecordedAt(ctx context.Context, ids []string) (map[string]time.Time, error)
}

// Commands records facts in the event log.
type Commands interface {
	RegisterPerson(ctx context.Context, c events.RegisterPerson) (events.Result, error)
	TransferPerson(ctx context.Context, c events.TransferPerson) (events.Result, error)
	RecordDeparture(ctx context.Context, c events.RecordDeparture) (events.Result, error)
	RecordAccomplishment(ctx context.Context, c events.RecordAccomplishment) (events.Result, error)
	AmendAccomplishment(ctx context.Context, c events.AmendAccomplishment) (events.Result, error)
	RetractAccomplishment(ctx context.Context, c events.RetractAccomplishment) (events.Result, error)
}

// LevelChanges is the feed of derived level-change events the subscription
// serves. The returned channel is closed when ctx is done or when the
// subscriber is too slow to keep up.
type LevelChanges interface {
	Subscribe(ctx context.Context) <-chan projections.LevelChanged
}

// Resolver holds the API's dependencies.
type Resolver struct {
	ReadModel    ReadModel
	Commands     Commands
	Catalogue    *domain.Catalogue
	LevelChanges LevelChanges
	Logger       *slog.Logger
	// Now is the clock ("today" for defaults and managers' departments).
	Now func() time.Time
	// ReadYourWritesTimeout bounds how long a mutation waits for the read
	// model to apply its event before failing explicitly.
	ReadYourWritesTimeout time.Duration
	// NoSelfAssessment refuses, FORBIDDEN, a theme assessment that a
	// caller records for themselves as an employee (not as admin, hr or
	// someone else's manager): assessments then come from managers and hr
	// only. Off by default: the contract lets an employee record their own
	// accomplishments, assessments included.
	NoSelfAssessment bool
	// Head returns the event log's head: an answer as known at an instant
	// waits for the read model to apply it (nil: no wait).
	Head func(ctx context.Context) (uint64, error)
	// RecordedAt returns when the event at a position was recorded: an
	// answer as known at an instant well before the first event the read
	// model has not applied yet is given without waiting for it (nil:
	// such an answer waits for the log's head).
	RecordedAt func(ctx context.Context, position uint64) (time.Time, error)
	// Unsent, when set, is told of each command (by its mutation's name)
	// that failed before it was sent to Commands: refused (not
	// authorized, bad input found first) or not decided (the read model
	// unreachable, the request's deadline), err saying why. A mutation
	// field and an import line naming a mutation alike, and each mutation
	// field of a request refused before any resolver ran (refusals); what
	// Commands is sent, it answers itself.
	Unsent func(command string, err error)

	// Answers as known at an instant, kept (knownat_lists.go).
	lists         knownAtKept[knownAtListKey, []projections.PersonView]
	distributions knownAtKept[knownAtDistributionKey, [][]projections.Cell]
}

// dateOf is the date of instant t where "today" is: the time zone of Now.
func (r *Resolver) dateOf(t time.Time) domain.Date {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	return domain.DateOf(t.In(now.Location()))
}

func (r *Resolver) today() domain.Date {
	if r.Now != nil {
		return domain.DateOf(r.Now())
	}
	return domain.DateOf(time.Now())
}

func (r *Resolver) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}
