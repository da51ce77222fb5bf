package graph

import (
	"context"
	"sync"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
)

// maxKnownAtLists is how many people lists as known at an instant are
// kept whole, and knownAtListTTL for how long: the pages of one list are
// cut from one replay (a list of 20,000 people is 200 pages of 100), and
// a client paging through it sees one list, not pages of lists replayed
// apart. knownAtSettled is how long after an instant events recorded
// before it are taken to have reached the log (settleKnownAt).
//
// A kept list notes the read model's position before its replay read
// anything; before a page is cut from it, the read model is asked when
// the events it has applied since were recorded. Should one have been
// recorded at or before the list's instant (a command stamped before it
// whose event reached the log or the read model later: a recent instant,
// or a projector catching up), the list is replayed again; otherwise a
// replay now would give the same list, and the noted position moves on.
// So a list as known a moment ago is replayed once, not once per page,
// and a kept list never answers what a new replay would not.
const (
	maxKnownAtLists = 4
	knownAtListTTL  = 10 * time.Minute
	knownAtSettled  = time.Minute
)

// knownAtLists keeps the latest people lists as known at an instant. Its
// zero value is ready.
type knownAtLists struct {
	mu      sync.Mutex
	entries []*knownAtList // oldest first
}

type knownAtList struct {
	key  knownAtKey
	made time.Time
	// from: the list is the replay of the events applied up to this
	// position (and of none after it recorded by the instant).
	from   uint64
	people []projections.PersonView
}

// knownAtKey is everything a list depends on but its page.
type knownAtKey struct {
	department string
	field      domain.Field
	minLevel   int
	asOf       domain.Date
	knownAt    int64 // UnixNano: one instant whatever its time zone
	catalogue  *domain.Catalogue
}

// peopleKnownAt returns the page f selects of the people list as known at
// knownAt, replaying the log for it unless a list kept for it is still
// what a replay would give.
func (r *Resolver) peopleKnownAt(ctx context.Context, f projections.PeopleFilter, knownAt time.Time) (projections.PeoplePage, error) {
	key := knownAtKey{department: f.Department, field: f.Field, minLevel: f.MinLevel, asOf: f.AsOf,
		knownAt: knownAt.UnixNano(), catalogue: r.Catalogue}
	if people, ok := r.keptList(ctx, key, knownAt); ok {
		return projections.PageOf(people, f), nil
	}
	from, err := r.ReadModel.Readable(ctx) // before the replay reads
	if err != nil {
		return projections.PeoplePage{}, err
	}
	people, err := projections.PeopleKnownAt(ctx, r.ReadModel, r.Catalogue, f, knownAt)
	if err != nil {
		return projections.PeoplePage{}, err
	}
	now := time.Now()
	l := &r.lists
	l.mu.Lock()
	kept := make([]*knownAtList, 0, maxKnownAtLists)
	for _, e := range l.entries {
		if e.key != key && now.Sub(e.made) < knownAtListTTL {
			kept = append(kept, e)
		}
	}
	if len(kept) == maxKnownAtLists {
		kept = kept[1:]
	}
	l.entries = append(kept, &knownAtList{key: key, made: now, from: from, people: people})
	l.mu.Unlock()
	return projections.PageOf(people, f), nil
}

// keptList returns the list kept for key if a replay now would give it:
// no event applied since its replay was recorded at or before knownAt.
func (r *Resolver) keptList(ctx context.Context, key knownAtKey, knownAt time.Time) ([]projections.PersonView, bool) {
	now := time.Now()
	l := &r.lists
	l.mu.Lock()
	var e *knownAtList
	for _, x := range l.entries {
		if x.key == key && now.Sub(x.made) < knownAtListTTL {
			e = x
		}
	}
	var from uint64
	if e != nil {
		from = e.from
	}
	l.mu.Unlock()
	if e == nil {
		return nil, false
	}
	// The position first, then what was recorded after the noted one: the
	// events up to the position are all among those asked about.
	applied, err := r.ReadModel.Readable(ctx)
	if err != nil {
		return nil, false
	}
	earliest, any, err := r.ReadModel.EarliestRecordedAfter(ctx, from)
	if err != nil || any && !earliest.After(knownAt) {
		return nil, false // replayed again, and kept in its place
	}
	l.mu.Lock()
	e.from = max(e.from, applied)
	l.mu.Unlock()
	return e.people, true
}
