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
// apart. A list as known less than knownAtSettled ago is not kept: events
// may still be recorded (or projected) before its instant.
const (
	maxKnownAtLists = 4
	knownAtListTTL  = 10 * time.Minute
	knownAtSettled  = time.Minute
)

// knownAtLists keeps the latest people lists as known at an instant. Its
// zero value is ready.
type knownAtLists struct {
	mu      sync.Mutex
	entries []knownAtList // oldest first
}

type knownAtList struct {
	key    knownAtKey
	made   time.Time
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
// knownAt, replaying the log for it unless the list was replayed in the
// last knownAtListTTL.
func (r *Resolver) peopleKnownAt(ctx context.Context, f projections.PeopleFilter, knownAt time.Time) (projections.PeoplePage, error) {
	key := knownAtKey{department: f.Department, field: f.Field, minLevel: f.MinLevel, asOf: f.AsOf,
		knownAt: knownAt.UnixNano(), catalogue: r.Catalogue}
	now := time.Now()
	l := &r.lists
	l.mu.Lock()
	for _, e := range l.entries {
		if e.key == key && now.Sub(e.made) < knownAtListTTL {
			l.mu.Unlock()
			return projections.PageOf(e.people, f), nil
		}
	}
	l.mu.Unlock()
	people, err := projections.PeopleKnownAt(ctx, r.ReadModel, r.Catalogue, f, knownAt)
	if err != nil {
		return projections.PeoplePage{}, err
	}
	clock := time.Now
	if r.Now != nil {
		clock = r.Now // the recorder's: what recordedAt is stamped by
	}
	if clock().Sub(knownAt) < knownAtSettled {
		return projections.PageOf(people, f), nil
	}
	l.mu.Lock()
	kept := l.entries[:0]
	for _, e := range l.entries {
		if e.key != key && now.Sub(e.made) < knownAtListTTL {
			kept = append(kept, e)
		}
	}
	if len(kept) == maxKnownAtLists {
		kept = append(kept[:0], kept[1:]...)
	}
	l.entries = append(kept, knownAtList{key: key, made: now, people: people})
	l.mu.Unlock()
	return projections.PageOf(people, f), nil
}
