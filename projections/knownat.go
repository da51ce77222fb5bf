package projections

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// KnownAtReader is what the analytics as known at an instant replay: the
// stored events of the people who may count.
type KnownAtReader interface {
	// PeopleEverIn returns, sorted, the ids of the people whose events
	// place them in department (a registration or a transfer into it),
	// whenever recorded; "" means everyone registered.
	PeopleEverIn(ctx context.Context, department string) ([]string, error)
	PersonEvents(ctx context.Context, ids []string) (map[string][]events.Recorded, error)
}

// knownAtChunk is how many people's events one read of a replay holds; a
// replay holds up to three such chunks (two read, one worked on).
const knownAtChunk = 1000

// DistributionsKnownAt returns the distribution of field on each of dates
// (ascending) as the system knew it at knownAt: each person who may count
// is folded from their events recorded up to knownAt (later registrations,
// transfers, evidence, amendments and retractions unknown), judged anew
// with cat, and counted by the department and level that knowledge gives
// them on each date, as Distribution counts (department "" means every
// department). Its cost is the replay of every event of those people, not
// an indexed read: seconds for tens of thousands of people.
func DistributionsKnownAt(ctx context.Context, rm KnownAtReader, cat *domain.Catalogue, field domain.Field,
	dates []domain.Date, department string, knownAt time.Time) ([][]Cell, error) {
	counts := make([]map[cellKey]int, len(dates))
	for i := range counts {
		counts[i] = map[cellKey]int{}
	}
	if !cat.HasField(field) {
		// The stores hold no period of a field the catalogue does not
		// judge: no cell, as Distribution answers.
		return cellsOf(counts), nil
	}
	ids, err := rm.PeopleEverIn(ctx, department)
	if err != nil {
		return nil, err
	}
	fields := []domain.Field{field}
	err = replayKnownAt(ctx, rm, ids, knownAt, func(p *domain.Person, _ uint64) ([]DistributionPeriod, bool) {
		// The timeline does not depend on the standing's date.
		_, changes := cat.JudgePersonLevels(p, domain.Date{})
		return DistributionPeriodsOf(fields, p.Memberships(), periodsOf(changes)), true
	}, func(periods []DistributionPeriod) {
		for _, dp := range periods {
			if department != "" && dp.Department != department {
				continue
			}
			// The dates the period holds: From <= d < To (To zero: open).
			lo := sort.Search(len(dates), func(i int) bool { return !dates[i].Before(dp.From) })
			hi := len(dates)
			if !dp.To.IsZero() {
				hi = sort.Search(len(dates), func(i int) bool { return !dates[i].Before(dp.To) })
			}
			k := cellKey{dp.Department, dp.Level}
			for i := lo; i < hi; i++ {
				counts[i][k]++
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return cellsOf(counts), nil
}

// PeopleKnownAt returns, ordered by id, every person People would list
// for f (f.First and f.After aside) as the system knew it at knownAt: the
// people whose registration was recorded by then, with the memberships and
// levels their events recorded by then give them (judged anew with cat).
// PageOf cuts its pages. Its cost is the replay of every event of the
// people who may match (all of them without a department), as
// DistributionsKnownAt's is.
func PeopleKnownAt(ctx context.Context, rm KnownAtReader, cat *domain.Catalogue, f PeopleFilter, knownAt time.Time) ([]PersonView, error) {
	ids, err := rm.PeopleEverIn(ctx, f.Department)
	if err != nil {
		return nil, err
	}
	ids = slices.Clone(ids)
	slices.Sort(ids) // the pages' order, whatever the reader's
	out := []PersonView{}
	err = replayKnownAt(ctx, rm, ids, knownAt, func(p *domain.Person, last uint64) (PersonView, bool) {
		v := PersonView{ID: p.ID, Name: p.Name, JoinedOn: p.JoinedOn, Memberships: p.Memberships(), Position: last}
		if f.Department != "" && v.DepartmentOn(f.AsOf) != f.Department {
			return v, false
		}
		if f.MinLevel > 0 && !reaches(cat, p, f) {
			return v, false
		}
		return v, true
	}, func(v PersonView) { out = append(out, v) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// replayKnownAt folds each of ids from the events recorded up to knownAt,
// knownAtChunk people's events at a time, and hands each person registered
// as known then, with the position of the last event folded, to work; it
// calls visit with what work keeps (ok), one at a time in ids' order. A
// replay is a read and decoding of every event of those people, then a
// fold and a judgment of each person, each independent of the others: up
// to two chunks are read at once, ahead of the one worked on (each read
// holds a connection of the read model's pool, which holds four or more:
// however many the cores, a replay leaves the rest to the projector and the
// other requests), and a chunk's people are folded and worked on by up to
// GOMAXPROCS goroutines (work must be safe to run concurrently; visit need
// not be).
func replayKnownAt[T any](ctx context.Context, rm KnownAtReader, ids []string, knownAt time.Time,
	work func(p *domain.Person, last uint64) (T, bool), visit func(T)) error {
	type chunk struct {
		ids      []string
		byPerson map[string][]events.Recorded
		err      error
		read     chan struct{} // closed when the fields above are set
	}
	workers := max(1, runtime.GOMAXPROCS(0))
	rctx, cancel := context.WithCancel(ctx)
	// The chunks being read, in ids' order: one beside the one waited for
	// or worked on, so two reads at most at once.
	chunks := make(chan *chunk, 1)
	go func() {
		defer close(chunks)
		for start := 0; start < len(ids); start += knownAtChunk {
			c := &chunk{ids: ids[start:min(start+knownAtChunk, len(ids))], read: make(chan struct{})}
			select {
			case chunks <- c:
			case <-rctx.Done():
				return
			}
			go func() {
				defer close(c.read)
				defer func() {
					// A panic reading is the replay's error, as it was in
					// the request's own goroutine (recovered there as an
					// internal error).
					if v := recover(); v != nil {
						c.err = fmt.Errorf("replay: read people's events: panic: %v", v)
					}
				}()
				if c.err = rctx.Err(); c.err == nil {
					c.byPerson, c.err = rm.PersonEvents(rctx, c.ids)
				}
			}()
		}
	}()
	defer func() {
		cancel()
		for c := range chunks { // every read has ended when chunks is closed and drained
			<-c.read
		}
	}()
	type result struct {
		v  T
		ok bool
	}
	results := make([]result, min(knownAtChunk, len(ids)))
	for c := range chunks {
		<-c.read
		if c.err != nil {
			return c.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		var panicked atomic.Pointer[string]
		for range min(workers, len(c.ids)) {
			wg.Go(func() {
				defer func() {
					// A panic folding or judging someone is the replay's
					// error, not the process's end.
					if v := recover(); v != nil {
						msg := fmt.Sprint(v)
						panicked.CompareAndSwap(nil, &msg)
					}
				}()
				for i := int(next.Add(1) - 1); i < len(c.ids); i = int(next.Add(1) - 1) {
					rs := c.byPerson[c.ids[i]]
					p := foldKnownAt(rs, knownAt)
					if p == nil {
						results[i] = result{} // not registered as known then
						continue
					}
					var last uint64
					for _, r := range rs {
						if !r.RecordedAt.After(knownAt) {
							last = r.Position
						}
					}
					v, ok := work(p, last)
					results[i] = result{v, ok}
				}
			})
		}
		wg.Wait()
		if msg := panicked.Load(); msg != nil {
			return fmt.Errorf("replay: panic: %s", *msg)
		}
		for i := range c.ids {
			if results[i].ok {
				visit(results[i].v)
			}
		}
	}
	// The reader stops early only when ctx is done.
	return ctx.Err()
}

// PageOf is the page of people (ordered by id) that f.First and f.After
// select, as People pages.
func PageOf(people []PersonView, f PeopleFilter) PeoplePage {
	page := PeoplePage{TotalCount: len(people)}
	i, _ := slices.BinarySearchFunc(people, f.After, func(v PersonView, after string) int { return cmp.Compare(v.ID, after) })
	if i < len(people) && people[i].ID == f.After {
		i++
	}
	end := min(i+f.First, len(people))
	page.People = people[i:end:end]
	page.HasNext = end < len(people)
	return page
}

// reaches reports whether p is at f.MinLevel or above on f.AsOf, in f.Field
// or, without one, in any field, by the levels cat judges from p.
func reaches(cat *domain.Catalogue, p *domain.Person, f PeopleFilter) bool {
	_, changes := cat.JudgePersonLevels(p, domain.Date{})
	periods := periodsOf(changes)
	if f.Field != "" {
		return LevelOnPeriods(periods, f.Field, f.AsOf) >= f.MinLevel
	}
	for _, fl := range domain.Fields {
		if LevelOnPeriods(periods, fl, f.AsOf) >= f.MinLevel {
			return true
		}
	}
	return false
}

// cellsOf turns counts per date into cells, by department and level.
func cellsOf(counts []map[cellKey]int) [][]Cell {
	out := make([][]Cell, len(counts))
	for i, m := range counts {
		cells := make([]Cell, 0, len(m))
		for k, n := range m {
			cells = append(cells, Cell{Department: k.department, Level: k.level, Count: n})
		}
		slices.SortFunc(cells, func(a, b Cell) int {
			return cmp.Or(cmp.Compare(a.Department, b.Department), cmp.Compare(a.Level, b.Level))
		})
		out[i] = cells
	}
	return out
}

type cellKey struct {
	department string
	level      int
}

// foldKnownAt folds the events recorded up to knownAt; nil when the
// person's registration was recorded later.
func foldKnownAt(rs []events.Recorded, knownAt time.Time) *domain.Person {
	var p *domain.Person
	for _, r := range rs {
		if r.RecordedAt.After(knownAt) {
			continue
		}
		p = events.Apply(p, r)
	}
	return p
}

// HistoryKnownAt returns a person's level changes (of field, or all when
// nil) as the system knew them at knownAt, from their events: those
// recorded later left out, the rest folded and judged anew. Nothing known
// then (the registration was recorded later) is no change.
func HistoryKnownAt(cat *domain.Catalogue, rs []events.Recorded, field *domain.Field, knownAt time.Time) []domain.LevelChange {
	p := foldKnownAt(rs, knownAt)
	if p == nil {
		return []domain.LevelChange{}
	}
	return HistoryOf(cat.Timeline(p.Evidence()), field)
}

// MembershipsKnownAt returns a person's department periods as the system
// knew them at knownAt, from their events: a transfer or departure
// recorded later left out. Nothing known then (the registration was
// recorded later) is no period.
func MembershipsKnownAt(rs []events.Recorded, knownAt time.Time) []domain.Membership {
	p := foldKnownAt(rs, knownAt)
	if p == nil {
		return nil
	}
	return p.Memberships()
}
