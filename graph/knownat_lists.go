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
// apart. A list as known less than knownAtSettled ago is not kept (events
// may still be recorded before its instant), nor one replayed while the
// read model was behind the log (Resolver.settled).
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
	keep := r.settled(ctx, knownAt) // asked before the replay reads
	people, err := projections.PeopleKnownAt(ctx, r.ReadModel, r.Catalogue, f, knownAt)
	if err != nil {
		return projections.PeoplePage{}, err
	}
	if !keep {
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

// settled reports whether a replay that starts now sees every event
// recorded up to knownAt, so that its list may be kept: the instant is
// knownAtSettled in the past (by the clock that stamps recordedAt), and
// the read model has applied the log's head (a replay reads only what
// was applied; while the projector lags, the list would miss events
// recorded before the instant and keep missing them).
func (r *Resolver) settled(ctx context.Context, knownAt time.Time) bool {
	clock := time.Now
	if r.Now != nil {
		clock = r.Now
	}
	if r.Head == nil || clock().Sub(knownAt) < knownAtSettled {
		return false
	}
	head, err := r.Head(ctx)
	if err != nil {
		return false
	}
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	return r.ReadModel.WaitFor(wctx, head) == nil
}
