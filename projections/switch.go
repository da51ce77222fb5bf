package projections

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// ReadModel is a complete read model: what the API reads and what the
// projector writes. The memory and PostgreSQL stores satisfy it.
type ReadModel interface {
	Store
	Person(ctx context.Context, id string) (PersonView, error)
	PeopleByID(ctx context.Context, ids []string) (map[string]PersonView, error)
	Standing(ctx context.Context, id string, asOf domain.Date, knownAt time.Time) (domain.Standing, error)
	History(ctx context.Context, id string, field *domain.Field) ([]domain.LevelChange, error)
	Accomplishments(ctx context.Context, id string, first int, after uint64) (AccomplishmentPage, error)
	Accomplishment(ctx context.Context, id string) (AccomplishmentView, error)
	People(ctx context.Context, f PeopleFilter) (PeoplePage, error)
	Distribution(ctx context.Context, field domain.Field, asOf domain.Date, department string) ([]Cell, error)
	// Departments returns every department anyone has been or is in,
	// departed people's included, sorted by byte order: what a department
	// filter may name.
	Departments(ctx context.Context) ([]string, error)
	// PeopleEverIn: see KnownAtReader.
	PeopleEverIn(ctx context.Context, department string) ([]string, error)
	// EarliestRecordedAfter returns a bound on when the events applied
	// after position were recorded: none was recorded before it (the zero
	// time when the store cannot tell); any is false when none is applied.
	// An answer as known at an instant before the bound replays to what it
	// did at position.
	EarliestRecordedAfter(ctx context.Context, position uint64) (earliest time.Time, any bool, err error)
	// FirstRecordedAt returns, for each of ids with a stored event, the
	// instant their first event (their registration) was recorded: what
	// PersonEvents' first event holds, read without the others.
	FirstRecordedAt(ctx context.Context, ids []string) (map[string]time.Time, error)
	WaitFor(ctx context.Context, position uint64) error
}

// Switch is a read model that delegates to one store and can be switched to
// another atomically: a rebuilt read model replaces the serving one without
// downtime.
type Switch struct {
	current atomic.Pointer[readModelBox]
	// held, while not nil, is closed when the last Hold is released:
	// queries wait for it rather than read the model switched away from.
	held   atomic.Pointer[chan struct{}]
	holdMu sync.Mutex
	holds  int // Holds not yet released
}

// Hold makes queries (Person ... Distribution) wait, from now until
// release is called (once; later calls do nothing) and every other Hold
// is released too, and then read the model serving by then: a switch holds them from the moment the model it
// replaces stops taking writes until the new one, caught up, serves, so
// that no query misses a write acknowledged meanwhile. Queries already
// running finish on the model they started on. The projector's methods
// (Apply, Readable ...) and WaitFor do not wait.
func (s *Switch) Hold() (release func()) {
	s.holdMu.Lock()
	if s.holds == 0 {
		ch := make(chan struct{})
		s.held.Store(&ch)
	}
	s.holds++
	s.holdMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.holdMu.Lock()
			defer s.holdMu.Unlock()
			if s.holds--; s.holds == 0 {
				close(*s.held.Load())
				s.held.Store(nil)
			}
		})
	}
}

// reading returns the model a query reads, after a Hold in progress.
func (s *Switch) reading(ctx context.Context) (ReadModel, error) {
	for {
		h := s.held.Load()
		if h == nil {
			return s.Current(), nil
		}
		select {
		case <-*h:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

type readModelBox struct{ rm ReadModel }

// NewSwitch returns a Switch serving rm.
func NewSwitch(rm ReadModel) *Switch {
	s := &Switch{}
	s.Set(rm)
	return s
}

// Set makes rm the serving read model.
func (s *Switch) Set(rm ReadModel) { s.current.Store(&readModelBox{rm}) }

// Current returns the serving read model.
func (s *Switch) Current() ReadModel { return s.current.Load().rm }

// Checkpoint implements Store.
func (s *Switch) Checkpoint(ctx context.Context) (uint64, error) { return s.Current().Checkpoint(ctx) }

// PersonEvents implements Store.
func (s *Switch) PersonEvents(ctx context.Context, ids []string) (map[string][]events.Recorded, error) {
	return s.Current().PersonEvents(ctx, ids)
}

// Apply implements Store.
func (s *Switch) Apply(ctx context.Context, position uint64, batch []events.Recorded, people []PersonProjection) error {
	return s.Current().Apply(ctx, position, batch, people)
}

// ApplyDerived implements DerivedKeeper: the serving store keeps the
// changes if it can (Apply otherwise).
func (s *Switch) ApplyDerived(ctx context.Context, position uint64, batch []events.Recorded, people []PersonProjection, derived []LevelChanged) error {
	rm := s.Current()
	if k, ok := rm.(DerivedKeeper); ok {
		return k.ApplyDerived(ctx, position, batch, people, derived)
	}
	return rm.Apply(ctx, position, batch, people)
}

// LastDerived implements DerivedKeeper: none unless the serving store
// keeps them.
func (s *Switch) LastDerived(ctx context.Context) ([]LevelChanged, error) {
	if k, ok := s.Current().(DerivedKeeper); ok {
		return k.LastDerived(ctx)
	}
	return nil, nil
}

// Published implements DerivedKeeper.
func (s *Switch) Published(ctx context.Context, position uint64) error {
	if k, ok := s.Current().(DerivedKeeper); ok {
		return k.Published(ctx, position)
	}
	return nil
}

// Readable implements Store.
func (s *Switch) Readable(ctx context.Context) (uint64, error) { return s.Current().Readable(ctx) }

// ApplyEvents implements Store.
func (s *Switch) ApplyEvents(ctx context.Context, position uint64, batch []events.Recorded) error {
	return s.Current().ApplyEvents(ctx, position, batch)
}

// Behind implements Store.
func (s *Switch) Behind(ctx context.Context) ([]string, error) { return s.Current().Behind(ctx) }

// Person returns one person.
func (s *Switch) Person(ctx context.Context, id string) (PersonView, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return PersonView{}, err
	}
	return rm.Person(ctx, id)
}

// PeopleByID returns the known people among ids.
func (s *Switch) PeopleByID(ctx context.Context, ids []string) (map[string]PersonView, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return nil, err
	}
	return rm.PeopleByID(ctx, ids)
}

// Standing judges a person on asOf as known at knownAt.
func (s *Switch) Standing(ctx context.Context, id string, asOf domain.Date, knownAt time.Time) (domain.Standing, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return domain.Standing{}, err
	}
	return rm.Standing(ctx, id, asOf, knownAt)
}

// History returns a person's level changes.
func (s *Switch) History(ctx context.Context, id string, field *domain.Field) ([]domain.LevelChange, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return nil, err
	}
	return rm.History(ctx, id, field)
}

// Accomplishments returns a page of a person's accomplishments.
func (s *Switch) Accomplishments(ctx context.Context, id string, first int, after uint64) (AccomplishmentPage, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return AccomplishmentPage{}, err
	}
	return rm.Accomplishments(ctx, id, first, after)
}

// Accomplishment returns one accomplishment.
func (s *Switch) Accomplishment(ctx context.Context, id string) (AccomplishmentView, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return AccomplishmentView{}, err
	}
	return rm.Accomplishment(ctx, id)
}

// People returns a page of people.
func (s *Switch) People(ctx context.Context, f PeopleFilter) (PeoplePage, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return PeoplePage{}, err
	}
	return rm.People(ctx, f)
}

// Distribution counts people per department and level.
func (s *Switch) Distribution(ctx context.Context, field domain.Field, asOf domain.Date, department string) ([]Cell, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return nil, err
	}
	return rm.Distribution(ctx, field, asOf, department)
}

// Departments returns every department anyone was ever placed in, from the
// serving read model.
func (s *Switch) Departments(ctx context.Context) ([]string, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return nil, err
	}
	return rm.Departments(ctx)
}

// PeopleEverIn returns the people whose events place them in department
// (KnownAtReader), from the serving read model.
func (s *Switch) PeopleEverIn(ctx context.Context, department string) ([]string, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return nil, err
	}
	return rm.PeopleEverIn(ctx, department)
}

// EarliestRecordedAfter is the serving read model's (positions are the
// log's, whichever read model serves).
func (s *Switch) EarliestRecordedAfter(ctx context.Context, position uint64) (time.Time, bool, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	return rm.EarliestRecordedAfter(ctx, position)
}

// FirstRecordedAt returns when each of ids' first event was recorded, from
// the serving read model.
func (s *Switch) FirstRecordedAt(ctx context.Context, ids []string) (map[string]time.Time, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return nil, err
	}
	return rm.FirstRecordedAt(ctx, ids)
}

// Trend returns the distributions of field on dates (see Trend) from the
// serving read model.
func (s *Switch) Trend(ctx context.Context, field domain.Field, dates []domain.Date, department string) ([][]Cell, error) {
	rm, err := s.reading(ctx)
	if err != nil {
		return nil, err
	}
	return Trend(ctx, rm, field, dates, department)
}

// WaitFor blocks until the serving read model has applied position. A
// switch while waiting is followed: only the model serving when the wait
// ends counts, so a reader is never sent to a model that lacks the write.
func (s *Switch) WaitFor(ctx context.Context, position uint64) error {
	for {
		rm := s.Current()
		wctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		err := rm.WaitFor(wctx, position)
		timedOut := wctx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil && s.Current() == rm:
			return nil
		case err != nil && !timedOut:
			// The model failed (not merely slow): do not hammer it.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}
