package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// Store is what the projector writes to: a read model that applies a batch
// of projected people and advances its checkpoint in one atomic step.
type Store interface {
	// Checkpoint returns the log position of the last applied event.
	Checkpoint(ctx context.Context) (uint64, error)
	// PersonEvents returns the stored events of the given people, in order.
	PersonEvents(ctx context.Context, ids []string) (map[string][]events.Recorded, error)
	// Apply stores the batch's events and the people it affected and moves
	// the checkpoint to position, all or nothing.
	Apply(ctx context.Context, position uint64, batch []events.Recorded, people []PersonProjection) error
}

// ErrCheckpointMoved reports a batch that does not follow the store's
// checkpoint: another projector applied events this one has not seen.
var ErrCheckpointMoved = errors.New("the read model's checkpoint moved under the projector")

// Source is the ordered event log the projector folds.
type Source interface {
	Follow(ctx context.Context, after uint64, maxBatch int, handle func(ctx context.Context, batch []events.Recorded) error) error
}

// LevelChanged is a derived event: a projection found that a person's level
// in a field changed on a date.
type LevelChanged struct {
	PersonID   string
	Department string // the person's department as of the day it was found
	Change     domain.LevelChange
	Position   uint64 // the log position whose batch revealed it
}

// Notifier receives derived events after the batch that revealed them has
// been committed.
type Notifier interface {
	LevelChanged(ctx context.Context, changes []LevelChanged)
}

// Projector folds the log into a Store in batches, re-evaluating each
// affected person once per batch.
type Projector struct {
	Catalogue *domain.Catalogue
	Source    Source
	Store     Store
	Notifier  Notifier // optional
	MaxBatch  int      // default 1000
	Now       func() time.Time
	Logger    *slog.Logger
	// OnApplied, when set, is called with each committed position.
	OnApplied func(position uint64, batchSize int)

	cache map[string]*personState
}

// Run projects from the store's checkpoint until ctx is done (returning nil)
// or an error occurs. After an error the caller may call Run again: the cache
// is dropped and the fold resumes from the committed checkpoint.
//
// Folding and judging a batch overlaps with the store applying the batch
// before it; batches are still applied one at a time, in order.
func (p *Projector) Run(ctx context.Context) error {
	p.cache = map[string]*personState{}
	from, err := p.Store.Checkpoint(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while reading the checkpoint
		}
		return fmt.Errorf("read checkpoint: %w", err)
	}
	max := p.MaxBatch
	if max <= 0 {
		max = 1000
	}
	fctx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	work := make(chan prepared, 1)
	applied := make(chan error, 1)
	go func() {
		for w := range work {
			if err := p.apply(ctx, w); err != nil {
				stopFollow()
				applied <- err
				for range work { // discard what was prepared after it
				}
				return
			}
		}
		applied <- nil
	}()
	handle := func(fctx context.Context, batch []events.Recorded) error {
		w, ok, err := p.prepare(fctx, batch)
		if err != nil || !ok {
			return err
		}
		select {
		case work <- w:
			return nil
		case <-fctx.Done():
			return fctx.Err()
		}
	}
	err = p.Source.Follow(fctx, from, max, handle)
	close(work)
	if aerr := <-applied; aerr != nil {
		err = aerr
	}
	if err != nil {
		p.cache = nil
		if ctx.Err() != nil {
			// Stopped mid-batch: the batch's transaction was rolled back
			// (or committed), either way the checkpoint is consistent.
			return nil
		}
	}
	return err
}

// prepared is a batch folded and judged, ready for the store.
type prepared struct {
	batch   []events.Recorded
	people  []PersonProjection
	derived []LevelChanged
}

// apply stores a prepared batch and reports it.
func (p *Projector) apply(ctx context.Context, w prepared) error {
	last := w.batch[len(w.batch)-1].Position
	if err := p.Store.Apply(ctx, last, w.batch, w.people); err != nil {
		return fmt.Errorf("apply batch ending at %d: %w", last, err)
	}
	if p.OnApplied != nil {
		p.OnApplied(last, len(w.batch))
	}
	if p.Notifier != nil && len(w.derived) > 0 {
		p.Notifier.LevelChanged(ctx, w.derived)
	}
	return nil
}

func (p *Projector) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// prepare folds a batch into the cached people and judges each touched
// person once. Only the fold runs here; the store is written by apply.
func (p *Projector) prepare(ctx context.Context, batch []events.Recorded) (prepared, bool, error) {
	if len(batch) == 0 {
		return prepared{}, false, nil
	}
	var order []string
	touched := map[string]bool{}
	var missing []string
	for _, r := range batch {
		if touched[r.PersonID] {
			continue
		}
		touched[r.PersonID] = true
		order = append(order, r.PersonID)
		if _, ok := p.cache[r.PersonID]; !ok {
			missing = append(missing, r.PersonID)
		}
	}
	today := domain.DateOf(p.now())
	if len(missing) > 0 {
		// A person not in the cache has no event in a batch still being
		// applied (every person of a batch enters the cache), so the store
		// already holds all their earlier events.
		loaded, err := p.Store.PersonEvents(ctx, missing)
		if err != nil {
			return prepared{}, false, fmt.Errorf("load people: %w", err)
		}
		for _, id := range missing {
			st := newPersonState(loaded[id])
			if st.person != nil {
				// What the store holds: the projection of the stored events.
				// Its standing was judged on another day, perhaps by another
				// catalogue: leave it unknown so the first touch rewrites it.
				st.stored = true
				st.memberships = st.person.Memberships()
				st.changes = p.Catalogue.Timeline(st.person.Evidence())
			}
			clear(st.touched)
			p.cache[id] = st
		}
	}
	for _, r := range batch {
		p.cache[r.PersonID].apply(r)
	}
	ids := order[:0:0]
	for _, id := range order {
		if p.cache[id].person != nil { // events for a person never registered: nothing to show
			ids = append(ids, id)
		}
	}
	// Judging people is independent work: spread it over the cores.
	people := make([]PersonProjection, len(ids))
	workers := min(runtime.GOMAXPROCS(0), (len(ids)+63)/64)
	if workers <= 1 {
		for i, id := range ids {
			people[i] = project(p.Catalogue, p.cache[id], today)
		}
	} else {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(ids); i += workers {
					people[i] = project(p.Catalogue, p.cache[ids[i]], today)
				}
			})
		}
		wg.Wait()
	}
	var derived []LevelChanged
	for i, id := range ids {
		st := p.cache[id]
		pp := people[i]
		previous := st.changes
		st.stored, st.memberships, st.changes, st.standing = true, pp.Person.Memberships, pp.Changes, pp.Standing
		clear(st.touched)
		for _, c := range newChanges(previous, pp.Changes) {
			derived = append(derived, LevelChanged{PersonID: id, Department: pp.Person.DepartmentOn(today),
				Change: c, Position: batch[len(batch)-1].Position})
		}
	}
	return prepared{batch: batch, people: people, derived: derived}, true, nil
}
