package graph

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
)

// Answers as known at an instant are replays of the log (seconds for tens
// of thousands of people), so careerd keeps the latest few: the last
// maxKnownAtLists people lists whole, so that the pages of one list are cut
// from one replay (a list of 20,000 people is 200 pages of 100) and a
// client paging through it sees one list, not pages of lists replayed
// apart; and the last maxKnownAtDistributions distributions and trends,
// which a dashboard asks for again and again. Each is kept knownAtKeptTTL.
// knownAtSettled is how long after an instant events recorded before it
// are taken to have reached the log (settleKnownAt).
//
// A kept answer notes the read model's position (its checkpoint: the
// events stored, a bulk catch-up's too, which a replay reads) before its
// replay read anything; before it is given again, the read model is asked
// when the events it has stored since were recorded. Should one have been recorded
// at or before the answer's instant (a command stamped before it whose
// event reached the log or the read model later: a recent instant, or a
// projector catching up), the answer is replayed again; otherwise a replay
// now would give the same answer, and the noted position moves on. So a
// list as known a moment ago is replayed once, not once per page, and a
// kept answer never says what a new replay would not. An answer is kept
// for the read model it was replayed on: once another serves (a rebuild
// switched to), it is replayed anew.
const (
	maxKnownAtLists         = 4
	maxKnownAtDistributions = 8
	knownAtKeptTTL          = 10 * time.Minute
	knownAtSettled          = time.Minute
)

// knownAtKept keeps the latest answers of one kind as known at an instant.
// Its zero value is ready.
type knownAtKept[K comparable, V any] struct {
	mu      sync.Mutex
	entries []*knownAtEntry[K, V] // oldest first
	// replaying holds, for each key being replayed, a channel closed when
	// that replay ends: a request for the same answer waits for it rather
	// than replay it too (a dashboard's panels opening at once, or every
	// client after an event recorded before the instant).
	replaying map[K]chan struct{}
}

type knownAtEntry[K comparable, V any] struct {
	key  K
	made time.Time
	// from: the answer is the replay of the events stored up to this
	// position (and of none after it recorded by the instant).
	from uint64
	// model is the read model that was serving (knownAtServing) when the
	// answer was replayed: its positions and stamps are that model's, and
	// one switched to (a rebuild, perhaps of a damaged model) answers
	// anew.
	model any
	value V
}

// knownAtServing returns the read model rm reads from now when rm is a
// projections.Switch (a store, compared by its pointer), and nil for any
// other rm, which reads from itself throughout.
func knownAtServing(rm ReadModel) any {
	if s, ok := rm.(interface{ Current() projections.ReadModel }); ok {
		return s.Current()
	}
	return nil
}

// answer returns the answer kept for key if a replay now would give it,
// and otherwise replays it with replay and keeps it in place of the
// oldest, max kept at most. Requests for one key that come while it is
// replayed wait for that replay.
func (k *knownAtKept[K, V]) answer(ctx context.Context, rm ReadModel, key K, knownAt time.Time, max int,
	replay func() (V, error)) (V, error) {
	for {
		if v, ok := k.kept(ctx, rm, key, knownAt); ok {
			return v, nil
		}
		k.mu.Lock()
		ch, busy := k.replaying[key]
		if !busy {
			if k.replaying == nil {
				k.replaying = map[K]chan struct{}{}
			}
			ch = make(chan struct{})
			k.replaying[key] = ch
		}
		k.mu.Unlock()
		if !busy {
			defer func() {
				k.mu.Lock()
				delete(k.replaying, key)
				k.mu.Unlock()
				close(ch)
			}()
			return k.replay(ctx, rm, key, max, replay)
		}
		// Another request replays it: its answer, once kept, is checked as
		// any kept answer is; should it not be kept (it failed, or the read
		// model was switched), this request replays it.
		select {
		case <-ch:
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}
}

// replay replays the answer for key and keeps it in place of the oldest,
// max kept at most.
func (k *knownAtKept[K, V]) replay(ctx context.Context, rm ReadModel, key K, max int, replay func() (V, error)) (V, error) {
	model := knownAtServing(rm)
	from, err := rm.Checkpoint(ctx) // before the replay reads
	if err != nil {
		var zero V
		return zero, err
	}
	v, err := replay()
	if err != nil {
		return v, err
	}
	if knownAtServing(rm) != model {
		return v, nil // the read model was switched meanwhile: not kept
	}
	now := time.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	entries := make([]*knownAtEntry[K, V], 0, max)
	for _, e := range k.entries {
		if e.key != key && now.Sub(e.made) < knownAtKeptTTL {
			entries = append(entries, e)
		}
	}
	if len(entries) >= max {
		entries = entries[len(entries)-max+1:]
	}
	k.entries = append(entries, &knownAtEntry[K, V]{key: key, made: now, from: from, model: model, value: v})
	return v, nil
}

// kept returns the answer kept for key if a replay now would give it: no
// event applied since its replay was recorded at or before knownAt.
func (k *knownAtKept[K, V]) kept(ctx context.Context, rm ReadModel, key K, knownAt time.Time) (V, bool) {
	var zero V
	now := time.Now()
	k.mu.Lock()
	var e *knownAtEntry[K, V]
	for _, x := range k.entries {
		if x.key == key && now.Sub(x.made) < knownAtKeptTTL {
			e = x
		}
	}
	var from uint64
	var model any
	if e != nil {
		from, model = e.from, e.model
	}
	k.mu.Unlock()
	if e == nil || knownAtServing(rm) != model {
		return zero, false
	}
	// The position first, then when what was stored after the noted one
	// was recorded: the events up to the position are among those asked
	// about. The checkpoint, not Readable: during a bulk catch-up Readable
	// stays where the catch-up began, and the noted position with it, so
	// that every check would read every event the catch-up has stored so
	// far (in PostgreSQL, a scan of person_events from there on each page).
	applied, err := rm.Checkpoint(ctx)
	if err != nil {
		return zero, false
	}
	earliest, any, err := rm.EarliestRecordedAfter(ctx, from)
	if err != nil || any && !earliest.After(knownAt) || knownAtServing(rm) != model {
		return zero, false // replayed again, and kept in its place
	}
	k.mu.Lock()
	e.from = max(e.from, applied)
	k.mu.Unlock()
	return e.value, true
}

// knownAtListKey is everything a people list as known at an instant
// depends on but its page.
type knownAtListKey struct {
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
	key := knownAtListKey{department: f.Department, field: f.Field, minLevel: f.MinLevel, asOf: f.AsOf,
		knownAt: knownAt.UnixNano(), catalogue: r.Catalogue}
	people, err := r.lists.answer(ctx, r.ReadModel, key, knownAt, maxKnownAtLists, func() ([]projections.PersonView, error) {
		return projections.PeopleKnownAt(ctx, r.ReadModel, r.Catalogue, projections.PeopleFilter{
			Department: f.Department, Field: f.Field, MinLevel: f.MinLevel, AsOf: f.AsOf}, knownAt)
	})
	if err != nil {
		return projections.PeoplePage{}, err
	}
	return projections.PageOf(people, f), nil
}

// knownAtDistributionKey is everything a distribution or trend as known
// at an instant depends on.
type knownAtDistributionKey struct {
	field      domain.Field
	dates      string // the dates, one after the other
	department string
	knownAt    int64
	catalogue  *domain.Catalogue
}

// distributionsKnownAt is projections.DistributionsKnownAt, kept.
func (r *Resolver) distributionsKnownAt(ctx context.Context, field domain.Field, dates []domain.Date, department string,
	knownAt time.Time) ([][]projections.Cell, error) {
	var b strings.Builder
	for _, d := range dates {
		b.WriteString(d.String())
	}
	key := knownAtDistributionKey{field: field, dates: b.String(), department: department, knownAt: knownAt.UnixNano(), catalogue: r.Catalogue}
	return r.distributions.answer(ctx, r.ReadModel, key, knownAt, maxKnownAtDistributions, func() ([][]projections.Cell, error) {
		return projections.DistributionsKnownAt(ctx, r.ReadModel, r.Catalogue, field, dates, department, knownAt)
	})
}
