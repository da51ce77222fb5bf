package projections

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// nullStore is a Store that holds nothing: prepare alone, on a projector
// whose cache holds every event, never asks it anything.
type nullStore struct{}

func (nullStore) Checkpoint(context.Context) (uint64, error) { return 0, nil }
func (nullStore) Readable(context.Context) (uint64, error)   { return 0, nil }
func (nullStore) PersonEvents(context.Context, []string) (map[string][]events.Recorded, error) {
	return nil, nil
}
func (nullStore) Apply(context.Context, uint64, []events.Recorded, []PersonProjection) error {
	return nil
}
func (nullStore) ApplyEvents(context.Context, uint64, []events.Recorded) error { return nil }
func (nullStore) Behind(context.Context) ([]string, error)                     { return nil, nil }

// eventGen makes random events of a few people: registrations, transfers,
// accomplishments of every kind (some back-dated before everything else),
// amendments, retractions and recordings again after a retraction.
type eventGen struct {
	r    *rand.Rand
	pos  uint64
	at   time.Time
	seq  int
	live map[string][]string // person -> accomplishments not retracted
	gone map[string][]string // person -> retracted accomplishments
}

func newEventGen(seed uint64) *eventGen {
	return &eventGen{r: rand.New(rand.NewPCG(seed, 7)), at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		live: map[string][]string{}, gone: map[string][]string{}}
}

func (g *eventGen) rec(person string, e events.Event) events.Recorded {
	g.pos++
	g.at = g.at.Add(time.Minute)
	return events.Recorded{Position: g.pos, PersonID: person, RecordedAt: g.at, RecordedBy: "u", Event: e}
}

func (g *eventGen) date() domain.Date {
	if g.r.IntN(8) == 0 {
		return domain.MustDate("2005-01-01").AddDays(g.r.IntN(400)) // back-dated before the rest
	}
	return domain.MustDate("2016-01-01").AddDays(g.r.IntN(3600))
}

func pickOf[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// body returns a random accomplishment event with the given id.
func (g *eventGen) body(id string) events.Event {
	switch g.r.IntN(4) {
	case 0:
		f := pickOf(g.r, domain.Fields)
		start := g.date()
		e := events.EngagementRecorded{AccomplishmentID: id, Field: string(f), Title: "t", Role: string(pickOf(g.r, domain.Roles)),
			StartedOn: start, Outcome: string(pickOf(g.r, []domain.Outcome{domain.Successful, domain.Successful, domain.Unsuccessful, domain.Ongoing})),
			WithinBudget: g.r.IntN(4) > 0}
		if e.Outcome != string(domain.Ongoing) {
			e.CompletedOn = start.AddDays(g.r.IntN(400))
		}
		if g.r.IntN(2) == 0 {
			n := int64(pickOf(g.r, []int{5, 10, 20, 60}))
			e.PeakHeadcount = &n
		}
		for _, c := range domain.DefaultCatalogue().CriteriaOf(f) {
			if g.r.IntN(2) == 0 {
				e.Complexity = append(e.Complexity, string(c))
			}
		}
		return e
	case 1:
		return events.TechnologySuccessionRecorded{AccomplishmentID: id, Kind: string(pickOf(g.r, domain.SuccessionKinds)),
			Title: "t", OccurredOn: g.date(), Fields: []string{string(pickOf(g.r, domain.Fields))}}
	case 2:
		return events.SubordinateDevelopmentRecorded{AccomplishmentID: id, Kind: string(domain.Mentoring), OccurredOn: g.date()}
	}
	return events.ThemeAssessed{AccomplishmentID: id, Theme: string(pickOf(g.r, domain.Themes)),
		Proficiency: string(pickOf(g.r, domain.Proficiencies)), AssessedOn: g.date()}
}

// register returns a person's registration.
func (g *eventGen) register(person string) events.Recorded {
	return g.rec(person, events.PersonRegistered{PersonID: person, Name: person, Department: "ops", JoinedOn: domain.MustDate("2015-01-01")})
}

// accomplishment returns a new accomplishment of person.
func (g *eventGen) accomplishment(person string) events.Recorded {
	g.seq++
	id := fmt.Sprintf("%s.a%d", person, g.seq)
	g.live[person] = append(g.live[person], id)
	return g.rec(person, g.body(id))
}

// next returns a random event of person: mostly new accomplishments, now
// and then a transfer, an amendment, a retraction or a recording again.
// batch returns 1 to most events of people, picked at random, and appends
// them to their logs: a person's first event registers them.
func (g *eventGen) batch(logs map[string][]events.Recorded, people []string, most int) []events.Recorded {
	var batch []events.Recorded
	for range 1 + g.r.IntN(most) {
		person := pickOf(g.r, people)
		var r events.Recorded
		if len(logs[person]) == 0 {
			r = g.register(person)
		} else {
			r = g.next(person)
		}
		logs[person] = append(logs[person], r)
		batch = append(batch, r)
	}
	return batch
}

func (g *eventGen) next(person string) events.Recorded {
	live, gone := g.live[person], g.gone[person]
	switch n := g.r.IntN(20); {
	case n == 0:
		return g.rec(person, events.PersonTransferred{PersonID: person, Department: pickOf(g.r, []string{"ops", "net", "desk"}), EffectiveOn: g.date()})
	case n <= 2 && len(live) > 0:
		id := pickOf(g.r, live)
		am := events.AccomplishmentAmended{AccomplishmentID: id}
		switch b := g.body(id).(type) {
		case events.EngagementRecorded:
			am.Engagement = &b
		case events.TechnologySuccessionRecorded:
			am.Succession = &b
		case events.SubordinateDevelopmentRecorded:
			am.Development = &b
		case events.ThemeAssessed:
			am.Assessment = &b
		}
		return g.rec(person, am)
	case n == 3 && len(live) > 0:
		i := g.r.IntN(len(live))
		id := live[i]
		g.live[person] = slices.Delete(live, i, i+1)
		g.gone[person] = append(gone, id)
		return g.rec(person, events.AccomplishmentRetracted{AccomplishmentID: id, Reason: "wrong"})
	case n == 4 && len(gone) > 0:
		i := g.r.IntN(len(gone))
		id := gone[i]
		g.gone[person] = slices.Delete(gone, i, i+1)
		g.live[person] = append(live, id)
		return g.rec(person, g.body(id))
	}
	return g.accomplishment(person)
}

// TestPrepareEqualsProjectingFromScratch: whatever prepare keeps between
// batches and reuses, each person it projects is exactly the projection of
// their whole history folded from scratch, and the level changes it
// reveals are exactly the difference between their timelines before and
// after the batch.
func TestPrepareEqualsProjectingFromScratch(t *testing.T) {
	cat := domain.DefaultCatalogue()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	today := domain.DateOf(now)
	for seed := range uint64(30) {
		g := newEventGen(seed)
		p := &Projector{Catalogue: cat, Store: nullStore{}, Now: func() time.Time { return now }}
		p.cache, p.dirty, p.complete = map[string]*personState{}, map[string]struct{}{}, true
		people := []string{"A", "B", "C", "D"}
		logs := map[string][]events.Recorded{}
		last := map[string]PersonProjection{}
		for step := range 60 {
			batch := g.batch(logs, people, 6)
			w, ok, err := p.prepare(context.Background(), batch, false)
			if err != nil || !ok {
				t.Fatalf("seed %d step %d: prepare: %v %v", seed, step, ok, err)
			}
			var derived []LevelChanged
			for _, got := range w.people {
				id := got.Person.ID
				want := project(cat, newPersonState(logs[id]), today)
				before, known := last[id]
				if !reflect.DeepEqual(got.Person, want.Person) || !reflect.DeepEqual(got.Accomplishments, want.Accomplishments) ||
					!reflect.DeepEqual(got.Periods, want.Periods) || !reflect.DeepEqual(got.Changes, want.Changes) ||
					!reflect.DeepEqual(got.Standing, want.Standing) {
					t.Fatalf("seed %d step %d person %s: prepare projected\n %+v\nfrom scratch\n %+v", seed, step, id, got, want)
				}
				if !known {
					if !got.Delta.New || got.Prior != nil {
						t.Fatalf("seed %d step %d person %s: first projection has delta %+v prior %v", seed, step, id, got.Delta, got.Prior)
					}
				} else {
					if got.Prior == nil || !reflect.DeepEqual(*got.Prior, Prior{Memberships: before.Person.Memberships, Periods: before.Periods, Changes: before.Changes}) {
						t.Fatalf("seed %d step %d person %s: prior %+v, last projected %+v", seed, step, id, got.Prior, before)
					}
					if got.Delta.Levels != !slices.Equal(before.Changes, got.Changes) ||
						got.Delta.Memberships != !slices.Equal(before.Person.Memberships, got.Person.Memberships) ||
						got.Delta.Standing != !sameStanding(before.Standing, got.Standing) {
						t.Fatalf("seed %d step %d person %s: delta %+v after %+v", seed, step, id, got.Delta, before)
					}
				}
				dept := got.Person.DepartmentOn(today)
				for _, c := range newChanges(got.Changes, before.Changes) {
					derived = append(derived, LevelChanged{PersonID: id, Department: dept, Change: c, Position: w.position, Withdrawn: true})
				}
				for _, c := range newChanges(before.Changes, got.Changes) {
					derived = append(derived, LevelChanged{PersonID: id, Department: dept, Change: c, Position: w.position})
				}
				last[id] = got
			}
			if !slices.Equal(derived, w.derived) {
				t.Fatalf("seed %d step %d: derived\n %+v\nwant\n %+v", seed, step, w.derived, derived)
			}
		}
	}
}

// warmProjector returns a projector whose cache holds people who each have
// a registration and `history` accomplishments, judged once, as the live
// projector holds them between batches, and `rounds` batches that bring
// each of them one more accomplishment.
func warmProjector(b *testing.B, g *eventGen, people []string, history, rounds int) (*Projector, [][]events.Recorded) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p := &Projector{Catalogue: domain.DefaultCatalogue(), Store: nullStore{}, Now: func() time.Time { return now }}
	p.cache, p.dirty, p.complete = map[string]*personState{}, map[string]struct{}{}, true
	var batch []events.Recorded
	for _, id := range people {
		batch = append(batch, g.register(id))
		for range history {
			batch = append(batch, g.accomplishment(id))
		}
	}
	if _, _, err := p.prepare(context.Background(), batch, false); err != nil {
		b.Fatal(err)
	}
	batches := make([][]events.Recorded, rounds)
	for i := range batches {
		for _, id := range people {
			batches[i] = append(batches[i], g.accomplishment(id))
		}
	}
	clear(g.live)
	return p, batches
}

// BenchmarkPrepareWarm: the live path, where each batch brings cached
// people one more accomplishment each. Every person starts with 10
// accomplishments and receives 28 more (as in the lag benchmark), then the
// projector is warmed again, off the clock.
func BenchmarkPrepareWarm(b *testing.B) {
	const history, rounds = 10, 28
	for _, n := range []int{1, 23} {
		b.Run(fmt.Sprintf("people=%d", n), func(b *testing.B) {
			var people []string
			for i := range n {
				people = append(people, fmt.Sprintf("P%04d", i))
			}
			g := newEventGen(1)
			p, batches := warmProjector(b, g, people, history, rounds)
			round := 0
			b.ReportAllocs()
			for b.Loop() {
				if round == rounds {
					b.StopTimer()
					p, batches = warmProjector(b, g, people, history, rounds)
					round = 0
					b.StartTimer()
				}
				if _, _, err := p.prepare(context.Background(), batches[round], false); err != nil {
					b.Fatal(err)
				}
				round++
			}
		})
	}
}
