package projections

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// Store is what the projector writes to: a read model that applies a batch
// of projected people and advances its checkpoint in one atomic step.
type Store interface {
	// Checkpoint returns the log position of the last stored event: where
	// the projector resumes.
	Checkpoint(ctx context.Context) (uint64, error)
	// Readable returns the position up to which the read model answers
	// every query: the checkpoint, unless a bulk catch-up has stored events
	// whose people are not judged yet (then the position before them).
	Readable(ctx context.Context) (uint64, error)
	// PersonEvents returns the stored events of the given people, in order.
	PersonEvents(ctx context.Context, ids []string) (map[string][]events.Recorded, error)
	// Apply stores the batch's events and the people it affected and moves
	// the checkpoint to position, all or nothing. people includes everyone
	// Behind reports, so Apply leaves nobody behind. An empty batch at the
	// checkpoint's position writes people only (catching up the people a
	// stopped bulk catch-up left behind). A store only reads people: their
	// slices (memberships, periods, changes, standing, the Delta's ids) are
	// shared with the projector's cache and with later projections of the
	// same person, so one written in place would corrupt later batches.
	Apply(ctx context.Context, position uint64, batch []events.Recorded, people []PersonProjection) error
	// ApplyEvents stores the batch's events and moves the checkpoint to
	// position, all or nothing, without writing the people they touch: a
	// bulk catch-up judges each person once, when it reaches the head.
	// Until an Apply writes them, Behind reports those people.
	ApplyEvents(ctx context.Context, position uint64, batch []events.Recorded) error
	// Behind returns the people with events stored by ApplyEvents that no
	// Apply has written since.
	Behind(ctx context.Context) ([]string, error)
}

// DerivedKeeper is a Store that keeps the level changes a batch revealed
// (announced or withdrawn) in the batch's transaction, so that they reach
// the Notifier at least once: a projector that dies between a commit and
// the publication publishes them when it (or the one that takes over)
// starts again. A repeat carries the same changes, which subscribers
// recognize (see projections/derived).
type DerivedKeeper interface {
	// ApplyDerived is Apply that also keeps derived as the changes of the
	// batch ending at position, in place of the previous batch's.
	ApplyDerived(ctx context.Context, position uint64, batch []events.Recorded, people []PersonProjection, derived []LevelChanged) error
	// LastDerived returns the changes kept with the batch that ends at the
	// checkpoint: none if that batch was written by Apply or ApplyEvents,
	// or its changes were marked Published. A kept value it cannot decode
	// is an error wrapping ErrDerivedUnreadable; any other error stops
	// the projector's run.
	LastDerived(ctx context.Context) ([]LevelChanged, error)
	// Published forgets the changes kept with the batch ending at
	// position, if they are still the kept ones: they reached the Notifier
	// and a projector that stopped need not publish them again.
	Published(ctx context.Context, position uint64) error
}

// ErrDerivedUnreadable marks a DerivedKeeper's error about kept changes it
// cannot read (a damaged value, a version it does not know): a projector
// logs it and goes on, since a notification is not worth stopping the read
// model for. Any other LastDerived error (the database unreachable) stops
// the run, which the next run retries: going on would let the next batch
// replace changes that never went out.
var ErrDerivedUnreadable = errors.New("the kept level changes cannot be read")

// ErrCheckpointMoved reports a batch that does not follow the store's
// checkpoint: another projector applied events this one has not seen.
var ErrCheckpointMoved = errors.New("the read model's checkpoint moved under the projector")

// Source is the ordered event log the projector folds.
type Source interface {
	Follow(ctx context.Context, after uint64, maxBatch int, handle func(ctx context.Context, batch []events.Recorded) error) error
}

// LevelChanged is a derived event: a projection found that a person's level
// in a field changed on a date or, Withdrawn, that a change the person's
// timeline held when last projected no longer holds (back-dated evidence, an
// amendment or a retraction superseded it).
type LevelChanged struct {
	PersonID   string
	Department string // the person's department on the day it was found (not on Change.On)
	Change     domain.LevelChange
	Position   uint64 // the log position whose batch revealed it
	Withdrawn  bool   // the change is withdrawn, not announced
}

// LevelChangedVersion is the newest version of the JSON form of a level
// change (on the derived-event bus, and with a store's checkpoint): the
// one that holds a withdrawal. A change is written in the oldest version
// that holds it (VersionFor), so that a release that reads only version 1
// still reads every announcement.
const LevelChangedVersion = 2

// LevelChangedV1 is the JSON form of a level change, version 1: what the
// derived-event bus sent and what a store kept with its checkpoint before
// withdrawals. It has no withdrawals: it reads as an announcement.
type LevelChangedV1 struct {
	PersonID   string      `json:"personId"`
	Department string      `json:"department,omitempty"`
	Field      string      `json:"field"`
	On         domain.Date `json:"on"`
	From       int         `json:"from"`
	To         int         `json:"to"`
	Position   uint64      `json:"position"`
}

// LevelChangedV2 is the JSON form of a level change, version 2: version 1
// and whether the change is withdrawn.
type LevelChangedV2 struct {
	PersonID   string      `json:"personId"`
	Department string      `json:"department,omitempty"`
	Field      string      `json:"field"`
	On         domain.Date `json:"on"`
	From       int         `json:"from"`
	To         int         `json:"to"`
	Position   uint64      `json:"position"`
	Withdrawn  bool        `json:"withdrawn"`
}

// V2 returns the JSON form of c, version 2.
func (c LevelChanged) V2() LevelChangedV2 {
	return LevelChangedV2{PersonID: c.PersonID, Department: c.Department, Field: string(c.Change.Field),
		On: c.Change.On, From: c.Change.From, To: c.Change.To, Position: c.Position, Withdrawn: c.Withdrawn}
}

// V2 upcasts a version 1 form: an announcement (Withdrawn false).
func (w LevelChangedV1) V2() LevelChangedV2 {
	return LevelChangedV2{PersonID: w.PersonID, Department: w.Department, Field: w.Field,
		On: w.On, From: w.From, To: w.To, Position: w.Position}
}

// LevelChanged returns the level change w is the JSON form of.
func (w LevelChangedV1) LevelChanged() LevelChanged { return w.V2().LevelChanged() }

// LevelChanged returns the level change w is the JSON form of.
func (w LevelChangedV2) LevelChanged() LevelChanged {
	return LevelChanged{PersonID: w.PersonID, Department: w.Department, Position: w.Position, Withdrawn: w.Withdrawn,
		Change: domain.LevelChange{Field: domain.Field(w.Field), On: w.On, From: w.From, To: w.To}}
}

// VersionFor returns the oldest version of the JSON form that holds c: 1
// for an announcement (what every release reads), 2 for a withdrawal.
func VersionFor(c LevelChanged) int {
	if c.Withdrawn {
		return 2
	}
	return 1
}

// EncodeLevelChanged returns the JSON form of c in version (1 or 2; see
// VersionFor). Version 1 cannot hold a withdrawal.
func EncodeLevelChanged(version int, c LevelChanged) ([]byte, error) {
	var v any
	switch {
	case version == 2:
		v = c.V2()
	case version == 1 && !c.Withdrawn:
		v = LevelChangedV1{PersonID: c.PersonID, Department: c.Department, Field: string(c.Change.Field),
			On: c.Change.On, From: c.Change.From, To: c.Change.To, Position: c.Position}
	default:
		return nil, fmt.Errorf("encode the level change of %s: version %d cannot hold it (VersionFor: %d)", c.PersonID, version, VersionFor(c))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the level change of %s: %w", c.PersonID, err)
	}
	return b, nil
}

// DecodeLevelChanged reads a JSON form of a level change written under
// version: 1 (upcast: an announcement) or 2. Any other version, or a body
// that is not a JSON object of the form, is an error.
func DecodeLevelChanged(version int, body []byte) (LevelChanged, error) {
	switch version {
	case 1:
		var w LevelChangedV1
		if err := json.Unmarshal(body, &w); err != nil {
			return LevelChanged{}, fmt.Errorf("decode a level change (version 1): %w", err)
		}
		return w.LevelChanged(), nil
	case 2:
		var w LevelChangedV2
		if err := json.Unmarshal(body, &w); err != nil {
			return LevelChanged{}, fmt.Errorf("decode a level change (version 2): %w", err)
		}
		return w.LevelChanged(), nil
	}
	return LevelChanged{}, fmt.Errorf("a level change of version %d is unknown (this release reads 1 and 2)", version)
}

// Notifier receives derived events after the batch that revealed them has
// been committed: the changes a batch announced and those it withdrew (a
// person's withdrawals before their announcements).
type Notifier interface {
	LevelChanged(ctx context.Context, changes []LevelChanged)
}

// AsyncNotifier is a Notifier whose LevelChanged queues the changes and
// hands them over later (projections/derived's bus, which retries a
// publication that failed). With a DerivedKeeper the projector keeps what
// is still queued with each batch it commits, and marks a batch's changes
// published only once Flush says they were handed over: a projector that
// dies while they wait (NATS unreachable) loses none of them.
type AsyncNotifier interface {
	Notifier
	// Pending returns the changes given to LevelChanged that are not
	// handed over yet, oldest first.
	Pending() []LevelChanged
	// Flush waits until every change given to LevelChanged is handed
	// over; it returns an error if ctx ends first, or the notifier
	// stopped with changes not handed over.
	Flush(ctx context.Context) error
}

// DefaultMaxBatch is the batch size of a Projector whose MaxBatch is 0.
const DefaultMaxBatch = 1000

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
	// Bulk defers judging while the projector catches up with the log as it
	// was when Run started: up to that head only the events are stored
	// (ApplyEvents), and the people they touch are judged and written once,
	// with the batch that reaches it. A rebuild then judges each person once
	// instead of once per batch. After it every batch is applied whole, so
	// the deferral is bounded by the backlog. It needs a Source with a Head
	// method (events.Log has one); without it Bulk is ignored.
	Bulk bool
	// BulkAbove, with Bulk, is the backlog (in events) up to which Run,
	// resuming from a checkpoint, projects batch by batch anyway, each
	// judged and its level changes published: writes missed while no
	// projector ran for a moment are news, not history. The bound counts
	// events, not time. From position 0 (a fresh read model) and after an
	// interrupted bulk catch-up the catch-up is always in bulk. 0: any
	// backlog that does not fit in the first batch is caught up in bulk.
	BulkAbove uint64
	// OnApplied, when set, is called with each committed position whose
	// people are written: the read model is readable up to it.
	OnApplied func(position uint64, batchSize int)
	// OnCommitted, when set, is called with the events of each batch whose
	// people are written, just after its commit: the live lag of each is
	// the time since its StoredAt. A bulk catch-up's batches are not
	// passed, the one that reaches its head included (with whatever live
	// events it holds): they are history, which a fresh read model projects
	// again at every start. Without Bulk (or a Source without Head) every
	// batch is passed. No event is passed twice by one Projector, across
	// runs; a batch another projector had committed first (a store answers
	// it as already applied) is passed as if this one had.
	OnCommitted func(batch []events.Recorded)
	// OnStored, when set, is called with each position committed by a bulk
	// catch-up whose people are not written yet.
	OnStored func(position uint64, batchSize int)
	// MaxCached bounds the people kept folded between batches (0 =
	// DefaultMaxCached, negative = no bound). Beyond it the people touched
	// least recently, and already written, are dropped and loaded from the
	// store when they next appear. The heap the collector marks on each
	// cycle then stops growing with the population. A bulk catch-up holds
	// everyone it touches until the head.
	MaxCached int
	// OnEvicted, when set, is called with the number of people each
	// eviction dropped from the cache.
	OnEvicted func(people int)

	cache       map[string]*personState
	complete    bool                // the cache holds every stored event: nobody needs loading
	dirty       map[string]struct{} // people whose events were stored but not projected
	bulkUntil   uint64              // the head when Run started: defer the batches before it
	deferredAny bool                // people were deferred (or left behind) since the last judgment
	endingBulk  bool                // the next judgment is of the batch that ends a bulk catch-up
	batches     uint64              // batches prepared in this run: the clock of personState.seen
	committed   atomic.Uint64       // the last position the store committed in this run
	// reported is the last position OnCommitted was given or passed over
	// (a bulk catch-up's), kept across runs: a run that resumes from an
	// earlier checkpoint (the read model was switched to one a rebuild
	// left behind the log) reports no event twice, and none of a catch-up.
	reported atomic.Uint64
	// stopAt, when not 0, is the last position Run applies (StopAfter).
	stopAt atomic.Uint64
	// writeMu guards the bulk judgment in progress (BulkWrite): since when
	// (zero: none) and how many people.
	writeMu     sync.Mutex
	writeSince  time.Time
	writePeople int
}

// BulkWrite reports the write of the people a bulk catch-up deferred,
// while it runs: with the batch that reaches the head the catch-up
// started from, or of the people a stopped catch-up left behind (with
// their judgment, which nothing else runs beside). It is one batch, one
// transaction, and it moves neither the readable position nor the
// checkpoint until it commits: at a million events over 100,000 people it
// took 32 s. since is when the write began (on this process's clock, not
// Now), people how many it writes; ok is false while none runs (the head
// batch judged while the batch before it is still being stored is not
// reported until its own write begins, so that a hung store is a stall). A watcher of progress (careerd's /readyz) takes it for
// progress, within a bound of its own, rather than for a stall.
func (p *Projector) BulkWrite() (since time.Time, people int, ok bool) {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	return p.writeSince, p.writePeople, !p.writeSince.IsZero()
}

// bulkWriting notes a bulk judgment of people beginning (people > 0) or
// over (people 0).
func (p *Projector) bulkWriting(people int) {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	if people == 0 {
		p.writeSince, p.writePeople = time.Time{}, 0
		return
	}
	p.writeSince, p.writePeople = time.Now(), people
}

// StopAfter makes Run apply the log up to pos and return nil there, from
// its next batch on (a batch already folded may pass it). A read-model
// switch bounds the projectors that catch a new model up with it, so that
// what comes after is applied by the live projector, which publishes
// level changes.
func (p *Projector) StopAfter(pos uint64) { p.stopAt.Store(pos) }

// errStopAt ends a Follow at StopAfter's position.
var errStopAt = errors.New("reached the position to stop after")

// DefaultMaxCached is Projector.MaxCached when it is 0.
const DefaultMaxCached = 20_000

// Head is what a Source tells of its last position, for Bulk.
type headSource interface {
	Head(ctx context.Context) (uint64, error)
}

// Run projects from the store's checkpoint until ctx is done (returning nil)
// or an error occurs. After an error the caller may call Run again: the cache
// is dropped and the fold resumes from the committed checkpoint.
//
// Folding and judging a batch overlaps with the store applying the batch
// before it; batches are still applied one at a time, in order.
func (p *Projector) Run(ctx context.Context) error {
	p.cache, p.dirty, p.bulkUntil, p.deferredAny, p.endingBulk = map[string]*personState{}, map[string]struct{}{}, 0, false, false
	p.batches = 0
	defer p.bulkWriting(0) // a bulk write the run did not see through is over with it
	from, err := p.Store.Checkpoint(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while reading the checkpoint
		}
		return fmt.Errorf("read checkpoint: %w", err)
	}
	// From position 0 every stored event passes through this run's cache.
	p.complete = from == 0
	p.committed.Store(from)
	sent, err := p.republish(ctx)
	if err != nil {
		p.cache = nil
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	// stoppedEarly ends a run stopped before it follows the log: what it
	// published again went to the Notifier, as a stop after a batch would
	// tell (else the next start would publish it once more).
	stoppedEarly := func() error {
		p.cache = nil
		if sent {
			p.published(ctx)
		}
		return nil
	}
	// The head is read as the run starts, before the people a stopped
	// catch-up left behind are written: what is recorded during that
	// write (32 s at a million events) comes after the catch-up, and is
	// news. Read after it, such events were the catch-up's tail.
	hs, bulk := p.Source.(headSource)
	bulk = bulk && p.Bulk
	var head uint64
	if bulk {
		if head, err = hs.Head(ctx); err != nil {
			if ctx.Err() != nil {
				return stoppedEarly()
			}
			p.cache = nil
			return fmt.Errorf("read the head: %w", err)
		}
	}
	interrupted, err := p.catchUpBehind(ctx, from)
	if err != nil {
		if ctx.Err() != nil {
			return stoppedEarly()
		}
		p.cache = nil
		return err
	}
	if bulk {
		// From a fresh read model, after an interrupted bulk catch-up (its
		// tail is history too) or past BulkAbove: in bulk.
		if from == 0 || interrupted || head > from+p.BulkAbove {
			p.bulkUntil = head
			// A fresh read model's catch-up, and the tail of an
			// interrupted one, are history however short: their head
			// batch publishes nothing even when it is their first (no
			// deferred batch before it). Before, a whole log or a tail
			// that came in one batch was published as news, at every
			// start of the memory model. Past BulkAbove, a backlog that
			// fits in the first batch is still projected as it comes.
			if (from == 0 || interrupted) && head > from {
				p.deferredAny = true
			}
		}
	}
	max := p.MaxBatch
	if max <= 0 {
		max = DefaultMaxBatch
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
	// send folds a batch and hands it to the apply goroutine; last: the
	// batch reaches StopAfter's position.
	send := func(fctx context.Context, batch []events.Recorded, last bool) error {
		// Before the head Run started from, defer; the batch that reaches
		// it judges everyone, and ends the bulk phase.
		deferred := batch[len(batch)-1].Position < p.bulkUntil
		ends := !deferred && p.bulkUntil != 0
		if !deferred {
			p.bulkUntil = 0
		}
		p.endingBulk = ends
		w, ok, err := p.prepare(fctx, batch, deferred)
		if err != nil || !ok {
			return err
		}
		w.endsBulk = ends
		select {
		case work <- w:
			if last {
				return errStopAt
			}
			return nil
		case <-fctx.Done():
			return fctx.Err()
		}
	}
	handle := func(fctx context.Context, batch []events.Recorded) error {
		if len(batch) == 0 {
			return nil // nothing to fold, and nothing ends the bulk phase
		}
		last := false // the batch reaches StopAfter's position
		if until := p.stopAt.Load(); until > 0 {
			if batch[0].Position > until {
				return errStopAt
			}
			if cut := sort.Search(len(batch), func(i int) bool { return batch[i].Position > until }); cut < len(batch) {
				batch = batch[:cut]
			}
			last = batch[len(batch)-1].Position >= until
		}
		if until := p.bulkUntil; until != 0 && batch[len(batch)-1].Position > until {
			// The batch reaches the head a bulk catch-up started from and
			// goes past it: the catch-up ends at the head, and the events
			// after it (recorded since Run read the head) are a batch of
			// their own, applied as they come and publishing what they
			// change. Judged with the catch-up's history, a live change
			// in them was never published.
			if cut := sort.Search(len(batch), func(i int) bool { return batch[i].Position > until }); cut > 0 {
				if err := send(fctx, batch[:cut], false); err != nil {
					return err
				}
				batch = batch[cut:]
			}
		}
		return send(fctx, batch, last)
	}
	err = p.Source.Follow(fctx, from, max, handle)
	if errors.Is(err, errStopAt) {
		err = nil // what was handed over is applied below
	}
	close(work)
	if aerr := <-applied; aerr != nil {
		err = aerr
	}
	if sent || p.committed.Load() > from {
		// Stopped or failed (a batch in flight, if any, rolled back or
		// failed): the changes of the last batch committed were
		// published. Published forgets them only if that batch is still
		// the checkpoint's (a commit this run did not hear of moved it).
		// Before, a failed run kept them, and a projector failing once a
		// second published the same changes again once a second.
		p.published(ctx)
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

// catchUpBehind writes the people a stopped bulk catch-up stored events for
// but never judged, before following the log: their rows may be missing or
// stale, so each is rewritten whole. interrupted reports that there were
// any.
func (p *Projector) catchUpBehind(ctx context.Context, checkpoint uint64) (interrupted bool, err error) {
	behind, err := p.Store.Behind(ctx)
	if err != nil {
		return false, fmt.Errorf("people left behind: %w", err)
	}
	if len(behind) == 0 {
		return false, nil
	}
	loaded, err := p.Store.PersonEvents(ctx, behind)
	if err != nil {
		return true, fmt.Errorf("load people left behind: %w", err)
	}
	for _, id := range behind {
		st := newPersonState(loaded[id])
		st.whole = true
		p.cache[id] = st
		p.dirty[id] = struct{}{}
	}
	p.deferredAny = true
	p.bulkWriting(len(behind)) // judged and written now, nothing before it in flight
	w := p.judge(checkpoint, nil)
	// It reveals nothing, but must not drop what is kept unpublished.
	if k, ok := p.keeper(); ok {
		err = k.ApplyDerived(ctx, checkpoint, nil, w.people, p.toKeep(nil))
	} else {
		err = p.Store.Apply(ctx, checkpoint, nil, w.people)
	}
	p.bulkWriting(0)
	if err != nil {
		return true, fmt.Errorf("write people left behind at %d: %w", checkpoint, err)
	}
	p.report(ctx, w)
	if p.Logger != nil {
		p.Logger.Info("wrote the people a bulk catch-up left behind", "people", len(behind), "position", checkpoint)
	}
	return true, nil
}

// prepared is a batch folded (and judged unless deferred), ready for the
// store.
type prepared struct {
	position uint64
	batch    []events.Recorded
	deferred bool // store the events only; the people stay dirty
	endsBulk bool // the batch that reaches the head a bulk catch-up started from
	bulk     bool // it judges people a bulk catch-up deferred (BulkWrite runs until it is written)
	people   []PersonProjection
	derived  []LevelChanged
}

// apply stores a prepared batch and reports it.
func (p *Projector) apply(ctx context.Context, w prepared) error {
	if w.deferred {
		if err := p.Store.ApplyEvents(ctx, w.position, w.batch); err != nil {
			return fmt.Errorf("store events of the batch ending at %d: %w", w.position, err)
		}
		p.committed.Store(w.position)
		p.passed(w.batch)
		if p.OnStored != nil {
			p.OnStored(w.position, len(w.batch))
		}
		return nil
	}
	if w.bulk && len(w.people) > 0 {
		// Reported from when the write begins, not when the batch was
		// judged: the write of the batch before it may still run then,
		// and a hung one is a stall, not this write.
		p.bulkWriting(len(w.people))
	}
	var err error
	if k, ok := p.keeper(); ok {
		err = k.ApplyDerived(ctx, w.position, w.batch, w.people, p.toKeep(w.derived))
	} else {
		err = p.Store.Apply(ctx, w.position, w.batch, w.people)
	}
	if w.bulk {
		p.bulkWriting(0)
	}
	if err != nil {
		return fmt.Errorf("apply batch ending at %d: %w", w.position, err)
	}
	p.committed.Store(w.position)
	p.report(ctx, w)
	return nil
}

// toKeep is what a DerivedKeeper keeps with a batch that revealed derived:
// with an AsyncNotifier, the changes of earlier batches it has not handed
// over yet first (they were all queued before this batch commits: only
// its own changes are queued after), so that the batch does not replace
// them unpublished.
func (p *Projector) toKeep(derived []LevelChanged) []LevelChanged {
	an, ok := p.Notifier.(AsyncNotifier)
	if !ok {
		return derived
	}
	pending := an.Pending()
	if len(pending) == 0 {
		return derived
	}
	return append(pending, derived...)
}

// keeper returns the store as a DerivedKeeper when there is someone to
// publish to and the store keeps what a batch revealed.
func (p *Projector) keeper() (DerivedKeeper, bool) {
	if p.Notifier == nil {
		return nil, false
	}
	k, ok := p.Store.(DerivedKeeper)
	return k, ok
}

// republish hands the Notifier again what the batch at the checkpoint
// revealed: the run before may have died between its commit and the
// publication. Changes that cannot be read are logged and skipped, and sent
// is false then (they must not be marked published); any other error ends
// the run before it commits a batch over them.
func (p *Projector) republish(ctx context.Context) (sent bool, err error) {
	k, ok := p.keeper()
	if !ok {
		return true, nil
	}
	changes, err := k.LastDerived(ctx)
	if errors.Is(err, ErrDerivedUnreadable) {
		if p.Logger != nil {
			p.Logger.Error("level changes of the last batch not published again", "err", err)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("publish again the last batch's level changes: %w", err)
	}
	if len(changes) > 0 {
		p.Notifier.LevelChanged(ctx, changes)
		if p.Logger != nil {
			p.Logger.Info("published again the level changes of the last batch", "changes", len(changes), "position", p.committed.Load())
		}
	}
	return true, nil
}

// published tells a DerivedKeeper, when the projector stops, that the
// changes of the last batch it committed reached the Notifier: with an
// AsyncNotifier, once it has handed over everything (waiting up to 5 s);
// otherwise they stay kept, and the next start publishes them again.
func (p *Projector) published(ctx context.Context) {
	k, ok := p.keeper()
	if !ok {
		return
	}
	if an, ok := p.Notifier.(AsyncNotifier); ok {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err := an.Flush(fctx)
		cancel()
		if err != nil {
			if p.Logger != nil {
				p.Logger.Warn("the last level changes were not handed over; a restart publishes them again", "err", err)
			}
			return
		}
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := k.Published(pctx, p.committed.Load()); err != nil && p.Logger != nil {
		p.Logger.Warn("could not mark the last level changes published; a restart publishes them again", "err", err)
	}
}

// report announces a committed batch whose people are written.
func (p *Projector) report(ctx context.Context, w prepared) {
	if p.OnApplied != nil {
		p.OnApplied(w.position, len(w.batch))
	}
	if p.OnCommitted != nil && len(w.batch) > 0 && !w.endsBulk {
		done := p.reported.Load()
		i, _ := slices.BinarySearchFunc(w.batch, done+1, func(r events.Recorded, pos uint64) int { return cmp.Compare(r.Position, pos) })
		if i < len(w.batch) {
			p.OnCommitted(w.batch[i:])
		}
	}
	p.passed(w.batch)
	if p.Notifier != nil && len(w.derived) > 0 {
		p.Notifier.LevelChanged(ctx, w.derived)
	}
}

// passed notes that the events of a committed batch were reported or
// passed over.
func (p *Projector) passed(batch []events.Recorded) {
	if len(batch) > 0 && batch[len(batch)-1].Position > p.reported.Load() {
		p.reported.Store(batch[len(batch)-1].Position)
	}
}

func (p *Projector) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// prepare folds a batch into the cached people and, unless deferred, judges
// each person touched since the last judgment once. Only the fold runs
// here; the store is written by apply.
func (p *Projector) prepare(ctx context.Context, batch []events.Recorded, deferred bool) (prepared, bool, error) {
	if len(batch) == 0 {
		return prepared{}, false, nil
	}
	var missing []string
	if !p.complete {
		seen := make(map[string]bool, len(batch))
		for _, r := range batch {
			if seen[r.PersonID] {
				continue
			}
			seen[r.PersonID] = true
			if _, ok := p.cache[r.PersonID]; !ok {
				missing = append(missing, r.PersonID)
			}
		}
	}
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
				st.memberships, st.placed = st.person.Memberships(), true
				st.changes = p.Catalogue.Timeline(st.person.Evidence())
				st.periods = periodsOf(st.changes)
			}
			clear(st.touched)
			p.cache[id] = st
		}
	}
	p.batches++
	for _, r := range batch {
		st, ok := p.cache[r.PersonID]
		if !ok {
			st = newPersonState(nil)
			p.cache[r.PersonID] = st
		}
		st.apply(r)
		st.seen = p.batches
		p.dirty[r.PersonID] = struct{}{}
	}
	last := batch[len(batch)-1].Position
	if deferred {
		p.deferredAny = true
		return prepared{position: last, batch: batch, deferred: true}, true, nil
	}
	w := p.judge(last, batch)
	p.evict()
	return w, true, nil
}

// evict drops the people touched least recently once the cache holds more
// than MaxCached, down to nine tenths of it. Only people the store holds
// whole can go: judged (not dirty), written (not left behind) and with no
// event in a batch still being applied, so that loading them from the
// store gives back exactly what is dropped.
func (p *Projector) evict() {
	limit := p.MaxCached
	if limit == 0 {
		limit = DefaultMaxCached
	}
	if limit < 0 || len(p.cache) <= limit {
		return
	}
	committed := p.committed.Load()
	type candidate struct {
		id   string
		seen uint64
	}
	var out []candidate
	for id, st := range p.cache {
		if _, dirty := p.dirty[id]; dirty || st.whole || st.last > committed {
			continue
		}
		out = append(out, candidate{id, st.seen})
	}
	slices.SortFunc(out, func(a, b candidate) int { return cmp.Compare(a.seen, b.seen) })
	drop := out[:min(len(out), len(p.cache)-limit*9/10)]
	if len(drop) == 0 {
		return
	}
	for _, c := range drop {
		delete(p.cache, c.id)
	}
	p.complete = false // who is not cached may have stored events now
	if p.OnEvicted != nil {
		p.OnEvicted(len(drop))
	}
}

// judge projects every dirty person, spread over the cores, and finds the
// level changes their new rows reveal, and those they withdraw.
func (p *Projector) judge(position uint64, batch []events.Recorded) prepared {
	today := domain.DateOf(p.now())
	ids := make([]string, 0, len(p.dirty))
	for id := range p.dirty {
		if p.cache[id].person != nil { // events for a person never registered: nothing to show
			ids = append(ids, id)
		}
	}
	clear(p.dirty)
	// What a bulk catch-up or a recovery reveals is history the read model
	// now answers, not news: only batches applied as they come notify.
	notify := !p.deferredAny
	// The judgment of everyone a bulk catch-up touched (deferred, or all
	// in the one batch that reached its head), or left behind: reported
	// by BulkWrite while their write runs (apply).
	bulk := !notify || p.endingBulk
	p.deferredAny, p.endingBulk = false, false
	slices.Sort(ids) // the same batch writes its rows in the same order
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
		st.stored, st.whole, st.rowsKnown = true, false, true
		st.memberships, st.changes, st.standing = pp.Person.Memberships, pp.Changes, pp.Standing
		st.placed, st.periods = true, pp.Periods
		clear(st.touched)
		if !notify || slices.Equal(previous, pp.Changes) {
			continue // nothing to announce, or the timeline did not change
		}
		// A change of the timeline as last projected that it no longer
		// holds is withdrawn, before what it holds now is announced: a
		// moved date is the old change withdrawn, then the new one.
		dept := pp.Person.DepartmentOn(today)
		for _, c := range newChanges(pp.Changes, previous) {
			derived = append(derived, LevelChanged{PersonID: id, Department: dept, Change: c, Position: position, Withdrawn: true})
		}
		for _, c := range newChanges(previous, pp.Changes) {
			derived = append(derived, LevelChanged{PersonID: id, Department: dept, Change: c, Position: position})
		}
	}
	return prepared{position: position, batch: batch, people: people, derived: derived, bulk: bulk}
}
