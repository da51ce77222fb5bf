// Package memory is the in-memory read model: the embedded default, rebuilt
// from the event log at every start. It satisfies the same contract suite as
// the PostgreSQL read model.
package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
)

type person struct {
	projections.PersonProjection
	events []events.Recorded
	dist   []projections.DistributionPeriod // department and level per field over valid time
}

// Store is the in-memory read model.
type Store struct {
	cat      *domain.Catalogue
	signal   projections.PositionSignal
	mu       sync.RWMutex
	position uint64
	readable uint64                       // the position whose people are all written
	deferred map[string][]events.Recorded // events stored by ApplyEvents, by person, not yet written
	people   map[string]*person
	ids      []string // sorted
	accOwner map[string]string
	dist     distIndex
	// stamps is, batch by batch, the last position and the earliest
	// recording instant of the batches applied lately (EarliestRecordedAfter);
	// stampsFrom the position before the first of them.
	stamps     []batchStamp
	stampsFrom uint64
}

// batchStamp is one applied batch's last position and earliest recording
// instant.
type batchStamp struct {
	last     uint64
	earliest time.Time
}

// maxStamps is how many applied batches the store keeps the earliest
// recording instant of; a question about events further back is answered
// with a bound that admits anything.
const maxStamps = 1 << 16

// New returns an empty store judging with cat.
func New(cat *domain.Catalogue) *Store {
	return &Store{cat: cat, people: map[string]*person{}, accOwner: map[string]string{}, deferred: map[string][]events.Recorded{}, dist: distIndex{}}
}

// Checkpoint returns the position of the last applied event.
func (s *Store) Checkpoint(context.Context) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.position, nil
}

// Readable returns the position whose people are all written.
func (s *Store) Readable(context.Context) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.readable, nil
}

// Behind returns the people with events stored by ApplyEvents and not
// written since.
func (s *Store) Behind(context.Context) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.deferred))
	for id := range s.deferred {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}

// ApplyEvents stores a batch's events without writing the people they
// touch, and advances the checkpoint.
func (s *Store) ApplyEvents(_ context.Context, position uint64, batch []events.Recorded) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.position >= position {
		return nil // already applied
	}
	if len(batch) > 0 && batch[0].Position != s.position+1 {
		return fmt.Errorf("%w: checkpoint %d, batch starts at %d", projections.ErrCheckpointMoved, s.position, batch[0].Position)
	}
	for _, r := range batch {
		s.deferred[r.PersonID] = append(s.deferred[r.PersonID], r)
	}
	s.stamp(batch)
	s.position = position
	return nil
}

// stamp notes a batch's last position and earliest recording instant.
func (s *Store) stamp(batch []events.Recorded) {
	if len(batch) == 0 {
		return
	}
	st := batchStamp{last: batch[len(batch)-1].Position, earliest: batch[0].RecordedAt}
	for _, r := range batch[1:] {
		if r.RecordedAt.Before(st.earliest) {
			st.earliest = r.RecordedAt
		}
	}
	if len(s.stamps) == maxStamps {
		half := maxStamps / 2
		s.stampsFrom = s.stamps[half-1].last
		s.stamps = append(s.stamps[:0], s.stamps[half:]...)
	}
	s.stamps = append(s.stamps, st)
}

// EarliestRecordedAfter returns a bound on when the events applied after
// position were recorded: none of them was recorded before it (the
// earliest one's instant, or the zero time when the store no longer
// knows); any is false when no event after position is applied.
func (s *Store) EarliestRecordedAfter(_ context.Context, position uint64) (earliest time.Time, any bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if position >= s.position {
		return time.Time{}, false, nil
	}
	if position < s.stampsFrom {
		return time.Time{}, true, nil // forgotten: anything may be there
	}
	i := sort.Search(len(s.stamps), func(i int) bool { return s.stamps[i].last > position })
	if i == len(s.stamps) {
		return time.Time{}, true, nil // not stamped: anything may be there
	}
	earliest = s.stamps[i].earliest
	for _, st := range s.stamps[i+1:] {
		if st.earliest.Before(earliest) {
			earliest = st.earliest
		}
	}
	return earliest, true, nil
}

// WaitFor blocks until position has been applied or ctx is done.
func (s *Store) WaitFor(ctx context.Context, position uint64) error {
	return s.signal.Wait(ctx, position)
}

// PersonEvents returns the stored events of the given people.
func (s *Store) PersonEvents(_ context.Context, ids []string) (map[string][]events.Recorded, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string][]events.Recorded, len(ids))
	for _, id := range ids {
		var rs []events.Recorded
		if p, ok := s.people[id]; ok {
			rs = append(rs, p.events...)
		}
		rs = append(rs, s.deferred[id]...)
		if len(rs) > 0 {
			out[id] = rs
		}
	}
	return out, nil
}

// FirstRecordedAt returns when each of ids' first stored event was
// recorded (people with none are left out).
func (s *Store) FirstRecordedAt(_ context.Context, ids []string) (map[string]time.Time, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]time.Time, len(ids))
	for _, id := range ids {
		if p, ok := s.people[id]; ok && len(p.events) > 0 {
			out[id] = p.events[0].RecordedAt
		} else if d := s.deferred[id]; len(d) > 0 {
			out[id] = d[0].RecordedAt
		}
	}
	return out, nil
}

// Apply stores a projected batch and advances the checkpoint.
func (s *Store) Apply(_ context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection) error {
	s.mu.Lock()
	if s.position > position || s.position == position && len(batch) > 0 {
		s.mu.Unlock()
		return nil // already applied
	}
	if len(batch) > 0 && batch[0].Position != s.position+1 {
		defer s.mu.Unlock()
		return fmt.Errorf("%w: checkpoint %d, batch starts at %d", projections.ErrCheckpointMoved, s.position, batch[0].Position)
	}
	byPerson := map[string][]events.Recorded{}
	for _, r := range batch {
		byPerson[r.PersonID] = append(byPerson[r.PersonID], r)
	}
	for _, pp := range people {
		p, ok := s.people[pp.Person.ID]
		if !ok {
			p = &person{}
			s.people[pp.Person.ID] = p
			i := sort.SearchStrings(s.ids, pp.Person.ID)
			s.ids = append(s.ids, "")
			copy(s.ids[i+1:], s.ids[i:])
			s.ids[i] = pp.Person.ID
		}
		p.PersonProjection = pp
		for _, dp := range p.dist {
			s.dist.add(dp, -1)
		}
		p.dist = projections.DistributionPeriodsOf(s.cat.Fields(), pp.Person.Memberships, pp.Periods)
		for _, dp := range p.dist {
			s.dist.add(dp, +1)
		}
		p.events = append(p.events, s.deferred[pp.Person.ID]...)
		p.events = append(p.events, byPerson[pp.Person.ID]...)
		for _, a := range pp.Accomplishments {
			s.accOwner[a.ID] = pp.Person.ID
		}
	}
	// Whoever had deferred events is in people, or was never registered
	// (nothing to show, as for a whole batch).
	clear(s.deferred)
	s.stamp(batch)
	s.position, s.readable = position, position
	s.mu.Unlock()
	s.signal.Advance(position)
	return nil
}

func (s *Store) get(id string) (*person, error) {
	p, ok := s.people[id]
	if !ok {
		return nil, domain.NotFound("person %s not found", id)
	}
	return p, nil
}

// Person returns one person.
func (s *Store) Person(_ context.Context, id string) (projections.PersonView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, err := s.get(id)
	if err != nil {
		return projections.PersonView{}, err
	}
	return p.Person, nil
}

// PeopleByID returns the known people among ids.
func (s *Store) PeopleByID(_ context.Context, ids []string) (map[string]projections.PersonView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]projections.PersonView, len(ids))
	for _, id := range ids {
		if p, ok := s.people[id]; ok {
			out[id] = p.Person
		}
	}
	return out, nil
}

// Standing judges a person on asOf as known at knownAt (zero = now); an
// unknown person is NotFound.
func (s *Store) Standing(_ context.Context, id string, asOf domain.Date, knownAt time.Time) (domain.Standing, error) {
	s.mu.RLock()
	p, err := s.get(id)
	var rs []events.Recorded
	if err == nil {
		rs = p.events
	}
	s.mu.RUnlock()
	if err != nil {
		return domain.Standing{}, err
	}
	// A person registered after knownAt: every field at level 0.
	st, _ := projections.StandingOf(s.cat, rs, asOf, knownAt)
	return st, nil
}

// History returns a person's level changes, optionally of one field.
func (s *Store) History(_ context.Context, id string, field *domain.Field) ([]domain.LevelChange, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, err := s.get(id)
	if err != nil {
		return nil, err
	}
	return projections.HistoryOf(p.Changes, field), nil
}

// Accomplishments returns a page of a person's accomplishments in recording order.
func (s *Store) Accomplishments(_ context.Context, id string, first int, after uint64) (projections.AccomplishmentPage, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, err := s.get(id)
	if err != nil {
		return projections.AccomplishmentPage{}, err
	}
	all := p.Accomplishments
	page := projections.AccomplishmentPage{TotalCount: len(all)}
	for _, a := range all {
		if a.Position <= after {
			continue
		}
		if len(page.Items) == first {
			page.HasNext = true
			break
		}
		page.Items = append(page.Items, a)
	}
	return page, nil
}

// Accomplishment returns one accomplishment by id.
func (s *Store) Accomplishment(_ context.Context, id string) (projections.AccomplishmentView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if owner, ok := s.accOwner[id]; ok {
		for _, a := range s.people[owner].Accomplishments {
			if a.ID == id {
				return a, nil
			}
		}
	}
	return projections.AccomplishmentView{}, domain.NotFound("accomplishment %s not found", id)
}

func (s *Store) matches(p *person, f projections.PeopleFilter) bool {
	if f.Department != "" && p.Person.DepartmentOn(f.AsOf) != f.Department {
		return false
	}
	if f.MinLevel > 0 {
		if f.Field != "" {
			return projections.LevelOnPeriods(p.Periods, f.Field, f.AsOf) >= f.MinLevel
		}
		for _, fl := range domain.Fields {
			if projections.LevelOnPeriods(p.Periods, fl, f.AsOf) >= f.MinLevel {
				return true
			}
		}
		return false
	}
	return true
}

// People returns a page of people matching f, ordered by id.
func (s *Store) People(_ context.Context, f projections.PeopleFilter) (projections.PeoplePage, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var page projections.PeoplePage
	for _, id := range s.ids {
		p := s.people[id]
		if !s.matches(p, f) {
			continue
		}
		page.TotalCount++
		if id <= f.After {
			continue
		}
		if len(page.People) == f.First {
			page.HasNext = true
			continue
		}
		page.People = append(page.People, p.Person)
	}
	return page, nil
}

// Departments returns every department anyone has been or is in, sorted.
func (s *Store) Departments(context.Context) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := map[string]bool{}
	for _, p := range s.people {
		for _, m := range p.Person.Memberships {
			seen[m.Department] = true
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}

// PeopleEverIn returns, sorted, the people whose events place them in
// department (a registration or a transfer into it); "" means everyone
// registered. See projections.KnownAtReader.
func (s *Store) PeopleEverIn(_ context.Context, department string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	in := func(rs []events.Recorded) bool {
		for _, r := range rs {
			switch e := r.Event.(type) {
			case events.PersonRegistered:
				if department == "" || e.Department == department {
					return true
				}
			case events.PersonTransferred:
				if department != "" && e.Department == department {
					return true
				}
			}
		}
		return false
	}
	var out []string
	for id, p := range s.people {
		if in(p.events) || in(s.deferred[id]) {
			out = append(out, id)
		}
	}
	for id, rs := range s.deferred {
		if _, written := s.people[id]; !written && in(rs) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Distribution counts, per department (sorted) and level (ascending), the
// people who belong to a department on asOf by their level in field on asOf.
// department "" means every department.
func (s *Store) Distribution(_ context.Context, field domain.Field, asOf domain.Date, department string) ([]projections.Cell, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	counts := s.dist.counts(field, asOf, department)
	out := make([]projections.Cell, 0, len(counts))
	for k, n := range counts {
		out = append(out, projections.Cell{Department: k.department, Level: k.level, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Department != out[j].Department {
			return out[i].Department < out[j].Department
		}
		return out[i].Level < out[j].Level
	})
	return out, nil
}
