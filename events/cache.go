package events

import (
	"context"
	"sync"

	"github.com/careerledger/careerledger/domain"
)

// cachedPeople bounds the Recorder's memory of people (least recently used
// people are forgotten first).
const cachedPeople = 10_000

// personEntry is what a Recorder knows about one person: the person's events
// up to position last, their fold, and the results of the idempotency keys
// among them. It is trusted optimistically: an append expects last, so a
// stale entry makes the append fail with a conflict, and the entry is then
// caught up from the log.
//
// Everything but the LRU links is guarded by the entry's lock, which a
// command holds from its decision to its append, so the commands of one
// Recorder on one person queue up instead of racing each other.
type personEntry struct {
	id   string
	lock chan struct{} // a mutex that a waiting command can give up on (ctx)

	// known says person, last and keys reflect the log up to last. An
	// unknown entry must be read before deciding, except by a registration,
	// which may assume the person has no events yet (an append expecting 0
	// fails if that is wrong).
	known  bool
	person *domain.Person      // the person's events folded, plus a batch's events not yet acknowledged
	last   uint64              // position of the person's last event in the log (0: none)
	keys   map[string]keyed    // idempotency key -> its first event's result and fingerprint
	who    map[string]changers // accomplishment id -> who recorded and last amended it

	// fromHistory: the entry's first events came from the Recorder's
	// History, not the log. A conflict or a refusal then reads the person
	// again from the log alone (logOnly), as does a count of the person's
	// events that the log does not confirm, so that a read model that
	// lost or gained an event cannot make the Recorder decide wrong.
	fromHistory, logOnly bool

	prev, next *personEntry // LRU list, guarded by personCache.mu
}

// acquire takes the entry's lock, or gives up when ctx is done.
func (e *personEntry) acquire(ctx context.Context) error {
	select {
	case e.lock <- struct{}{}:
		return nil
	default:
	}
	select {
	case e.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *personEntry) release() { <-e.lock }

// forget drops what the entry knows; the next command reads the person whole.
func (e *personEntry) forget() {
	e.known, e.person, e.last, e.keys, e.who, e.fromHistory = false, nil, 0, nil, nil, false
}

// distrust makes an entry whose first events came from the History read
// whole from the log before its next decision; others it leaves as they
// are (their next refresh reads what is new).
func (e *personEntry) distrust() {
	if e.fromHistory {
		e.forget()
		e.logOnly = true
	}
}

// unfold drops from person the events folded in ahead of their
// acknowledgement (see RecordBatch) by forgetting the entry: it is read
// whole from the log (alone) before its next decision. The entry keeps no copy of
// the events to fold again from: that copy doubled the memory of every
// cached person for the sake of a lost race.
func (e *personEntry) unfold() {
	e.forget()
	e.logOnly = true
}

// keyed is what an entry keeps of an idempotency key: the result of the
// key's first event, and that event's fingerprint (printOf), with which a
// request sent again with the key is told a repeat or another request
// without reading the event from the log. 64 bytes a key: the result's 48
// and the fingerprint's 16. A zero fingerprint is none (the event has no
// fingerprint): the event is then read from the log.
type keyed struct {
	res   Result
	print fingerprint
}

// apply folds one event of the log (the next one after last) into the entry.
func (e *personEntry) apply(rec Recorded, res Result) {
	e.fold(rec)
	e.record(rec, res, nil)
}

// fold folds rec into person, and notes who changed which accomplishment.
// The accomplishment the fold recorded gives the id (no second conversion
// of the event).
func (e *personEntry) fold(rec Recorded) {
	var a domain.Accomplishment
	var recorded bool
	e.person, a, recorded = ApplyRecorded(e.person, rec)
	if !recorded {
		return
	}
	id := a.ID()
	if _, amended := deref(rec.Event).(AccomplishmentAmended); amended {
		if w, ok := e.who[id]; ok {
			w.amended, w.wasAmended = rec.RecordedBy, true
			e.who[id] = w
		}
		return
	}
	if e.who == nil {
		e.who = map[string]changers{}
	}
	e.who[id] = changers{recorded: rec.RecordedBy}
}

// changers are who recorded an accomplishment and who last amended it
// (Recorded.RecordedBy: "" when the event does not say), and whether it
// was amended at all.
type changers struct {
	recorded, amended string
	wasAmended        bool
}

// unnamed reports whether the event that recorded the accomplishment, or
// the one that last amended it, says nobody did.
func (w changers) unnamed() bool { return w.recorded == "" || w.wasAmended && w.amended == "" }

// errWhoFromHistory is mayChange's refusal of a change it cannot judge from
// the History: a read model projected by a release before events said who
// recorded them stores nobody for events the log says someone recorded.
// Like any refusal decided from the History it is never the answer: the
// Recorder reads the person again from the log alone and decides there.
func errWhoFromHistory(id string) error {
	return domain.Forbidden("accomplishment %s: who changed it is read again from the log", id)
}

// mayChange refuses, FORBIDDEN, a change of accomplishment id that only
// its recorder may make (by, see AmendAccomplishment.OnlyBy) when someone
// else recorded it or last amended it. What the log does not say who did
// counts as by's; what a History does not say is asked of the log
// (errWhoFromHistory).
func (e *personEntry) mayChange(id, by string) error {
	if by == "" {
		return nil
	}
	w, ok := e.who[id]
	if !ok {
		return nil // unknown: the command's own decision says so
	}
	switch {
	case e.fromHistory && w.unnamed():
		return errWhoFromHistory(id)
	case w.recorded != "" && w.recorded != by:
		return domain.Forbidden("accomplishment %s was recorded by %s: an employee amends or retracts only what they recorded themselves", id, w.recorded)
	case w.amended != "" && w.amended != by:
		return domain.Forbidden("accomplishment %s was last amended by %s: an employee amends or retracts only what nobody else changed since they recorded it", id, w.amended)
	}
	return nil
}

// record notes that rec, already folded into person, is in the log, with
// the given result. When rec's key is new, its fingerprint is print, or
// computed from rec's event when print is nil.
func (e *personEntry) record(rec Recorded, res Result, print *fingerprint) {
	e.last = rec.Position
	if key := rec.IdempotencyKey; key != "" {
		if e.keys == nil {
			e.keys = map[string]keyed{}
		}
		if _, seen := e.keys[key]; !seen {
			k := keyed{res: res}
			if print != nil {
				k.print = *print
			} else {
				k.print, _ = printOf(rec.Event)
			}
			e.keys[key] = k
		}
	}
}

// personCache is a size-capped LRU of person entries. Evicting an entry a
// command still holds is harmless: the command finishes on its copy, and a
// later command reads the person afresh (two entries for one person can only
// make appends conflict, never go wrong).
type personCache struct {
	mu   sync.Mutex
	m    map[string]*personEntry
	root personEntry // sentinel of a circular list, most recent first
	max  int
}

func newPersonCache(max int) *personCache {
	c := &personCache{m: make(map[string]*personEntry), max: max}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// entry returns the person's entry, creating an unknown one, and marks it
// most recently used.
func (c *personCache) entry(id string) *personEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		if c.root.next != e {
			c.unlink(e)
			c.pushFront(e)
		}
		return e
	}
	e := &personEntry{id: id, lock: make(chan struct{}, 1)}
	c.m[id] = e
	c.pushFront(e)
	if len(c.m) > c.max {
		old := c.root.prev
		c.unlink(old)
		delete(c.m, old.id)
	}
	return e
}

// len returns the number of people remembered.
func (c *personCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *personCache) unlink(e *personEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *personCache) pushFront(e *personEntry) {
	e.prev, e.next = &c.root, c.root.next
	c.root.next.prev = e
	c.root.next = e
}
