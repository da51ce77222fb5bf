package events

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/careerledger/careerledger/domain"
)

// BatchResult is what became of one command of a batch: its Result, or why
// it was refused or failed (the error the single-command method returns).
type BatchResult struct {
	Result Result
	Err    error
}

// batchReaders bounds how many people RecordBatch reads from the log at once.
const batchReaders = 32

// RecordBatch runs many commands with asynchronous publishing (AppendBatch);
// the results are in the order of cmds. The outcome is the same as running
// the commands one by one with the single-command methods, in order, per
// person: the same validation and refusals, the same idempotency (a repeated
// batch records nothing new and answers every command with its first result,
// Duplicate set), and each command sees the effect of the person's earlier
// commands in the batch (register then record evidence, record then amend or
// retract). A refused command records nothing and does not stop the person's
// later commands.
//
// It reads each person once (the people it does not remember, in parallel),
// decides every command in memory, then appends everything with expected
// sequences chained per person. A person whose append loses a race to
// another writer (or turns out to be a repeat) has the rest of their
// commands decided again from the log, up to the Recorder's retry limit;
// other people are unaffected. The Recorder's other commands on the batch's
// people wait until the batch is done.
func (r *Recorder) RecordBatch(ctx context.Context, cmds []Command) []BatchResult {
	out := make([]BatchResult, len(cmds))
	plans := make([]plan, len(cmds))
	queues := map[string][]int{}
	var ids []string
	r.planAll(cmds, plans, out)
	for i := range cmds {
		if out[i].Err != nil {
			continue
		}
		p := plans[i]
		q, seen := queues[p.personID]
		if !seen {
			ids = append(ids, p.personID)
		}
		queues[p.personID] = append(q, i)
	}
	// Take the people's locks in id order, so that concurrent batches
	// cannot deadlock.
	slices.Sort(ids)
	people := make([]*batchPerson, len(ids))
	for k, id := range ids {
		people[k] = &batchPerson{e: r.cache.entry(id), queue: queues[id]}
	}
	for k, bp := range people {
		if err := bp.e.acquire(ctx); err != nil {
			for _, bp := range people[k:] {
				bp.fail(out, err)
			}
			people = people[:k]
			break
		}
	}
	defer func() {
		for _, bp := range people {
			bp.e.release()
		}
	}()

	active := slices.Clone(people)
	pend := make([]Pending, 0, len(cmds))
	for round := 0; ; round++ {
		active = slices.DeleteFunc(active, func(bp *batchPerson) bool { return len(bp.queue) == 0 })
		if len(active) == 0 {
			return out
		}
		if err := r.pauseAfterRaces(ctx, active); err != nil {
			for _, bp := range active {
				bp.fail(out, err)
			}
			return out
		}
		r.readPeople(ctx, active, plans, out)
		pend = r.decideAll(ctx, active, plans, out, pend[:0])
		if len(pend) == 0 {
			continue // people left only to confirm refusals next round
		}
		outcomes, err := r.log.AppendBatch(ctx, pend)
		for _, bp := range active {
			r.settle(bp, plans, out, outcomes)
		}
		if err != nil {
			for _, bp := range active {
				bp.fail(out, err)
			}
			return out
		}
	}
}

// A large batch plans its commands, and decides its people, on up to
// maxBatchWorkers goroutines (GOMAXPROCS permitting), so that the work done
// before the first append holds up the log less: commands are planned
// independently, and people are decided independently (each person's
// commands in order, on one goroutine).
const (
	parallelFrom    = 1024 // commands in the batch
	maxBatchWorkers = 4
)

// batchWorkers returns how many goroutines to plan or decide n things of a
// batch of size commands on (at least 256 things each).
func batchWorkers(size, n int) int {
	if size < parallelFrom {
		return 1
	}
	return max(1, min(runtime.GOMAXPROCS(0), maxBatchWorkers, n/256))
}

// inParallel calls f on w contiguous ranges of [0, n), each on a goroutine
// of its own (on the caller's when w is 1).
func inParallel(n, w int, f func(k, from, to int)) {
	if w <= 1 {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for k := range w {
		wg.Go(func() { f(k, k*n/w, (k+1)*n/w) })
	}
	wg.Wait()
}

// planAll plans every command; a command that cannot be planned gets its
// error in out.
func (r *Recorder) planAll(cmds []Command, plans []plan, out []BatchResult) {
	inParallel(len(cmds), batchWorkers(len(cmds), len(cmds)), func(_, from, to int) {
		for i := from; i < to; i++ {
			c := cmds[i]
			if c == nil {
				out[i].Err = errors.New("record batch: nil command")
				continue
			}
			p, err := planOf(r, c)
			if err != nil {
				out[i].Err = err
				continue
			}
			plans[i] = p
		}
	})
}

// decideAll runs decideBatch for every active person, appending their
// Pendings to pend in the order of active.
func (r *Recorder) decideAll(ctx context.Context, active []*batchPerson, plans []plan, out []BatchResult, pend []Pending) []Pending {
	w := batchWorkers(len(plans), len(active))
	if w <= 1 {
		for _, bp := range active {
			pend = r.decideBatch(ctx, bp, plans, out, pend)
		}
		return pend
	}
	parts := make([][]Pending, w)
	inParallel(len(active), w, func(k, from, to int) {
		for _, bp := range active[from:to] {
			parts[k] = r.decideBatch(ctx, bp, plans, out, parts[k])
		}
	})
	for k, part := range parts {
		// The steps index into their part: shift them to where it lands.
		off := len(pend)
		for _, bp := range active[k*len(active)/w : (k+1)*len(active)/w] {
			for j := range bp.steps {
				if bp.steps[j].pending >= 0 {
					bp.steps[j].pending += off
				}
			}
		}
		pend = append(pend, part...)
	}
	return pend
}

// batchPerson is one person's part of a RecordBatch.
type batchPerson struct {
	e     *personEntry
	queue []int // commands still to decide, in order

	mustRead bool // read the log before deciding: after a lost race, or to confirm a refusal
	fresh    bool // this round decides from what was just read from the log
	steps    []batchStep
	racer    int   // the command that lost the last race
	races    int   // lost races in a row of racer (each command has the Recorder's retry limit)
	raced    bool  // lost a race in the last round
	lastErr  error // the last lost race
}

// batchStep is what one command decided in a round.
type batchStep struct {
	cmd     int
	pending int         // index of its append in the round's Pendings; -1 when nothing was appended
	dupOf   int         // the command of this round whose idempotency key it repeats; -1 if none
	rec     Recorded    // the appended event, folded in ahead of its ack
	print   fingerprint // of the appended event, when it has a key
}

// fail gives every command still queued the error.
func (bp *batchPerson) fail(out []BatchResult, err error) {
	for _, i := range bp.queue {
		out[i] = BatchResult{Err: err}
	}
	bp.queue = nil
}

// pauseAfterRaces backs off before deciding again for people who lost a
// race more than once in a row (the first retry is immediate, as in run),
// and gives up on those who reached the retry limit.
func (r *Recorder) pauseAfterRaces(ctx context.Context, active []*batchPerson) error {
	most := 0
	for _, bp := range active {
		if bp.raced {
			most = max(most, bp.races)
		}
	}
	if most > 1 {
		return sleepCtx(ctx, backoff(most-2))
	}
	return nil
}

// readPeople reads from the log, in parallel, the people who need it: those
// who must be read again, and those the Recorder does not know unless their
// next command registers them (a new person is assumed to have no events; an
// append expecting 0 fails if that is wrong). A person who cannot be read
// has all their commands fail with the error, as each single command would.
func (r *Recorder) readPeople(ctx context.Context, active []*batchPerson, plans []plan, out []BatchResult) {
	var need []*batchPerson
	for _, bp := range active {
		bp.fresh = false
		if bp.races >= maxAttempts {
			bp.fail(out, fmt.Errorf("gave up after %d lost races: %w", maxAttempts, bp.lastErr))
			continue
		}
		switch {
		case bp.mustRead || (!bp.e.known && !plans[bp.queue[0]].register):
			if bp.mustRead {
				bp.e.distrust() // a lost race or a refusal: the log alone decides
			}
			need = append(need, bp)
		case !bp.e.known:
			bp.e.forget()
			bp.e.known = true
		}
	}
	errs := make([]error, len(need))
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(batchReaders, len(need)) {
		wg.Go(func() {
			for k := range work {
				errs[k] = r.refresh(ctx, need[k].e)
			}
		})
	}
	for k := range need {
		work <- k
	}
	close(work)
	wg.Wait()
	for k, bp := range need {
		if errs[k] != nil {
			bp.fail(out, errs[k])
			continue
		}
		bp.mustRead, bp.fresh = false, true
	}
}

// decideBatch decides a person's queued commands in order against the
// person's state, folding each decided event in before deciding the next,
// and appends the events to pend. A refusal decided from memory (not from
// what this round read) stops the person for this round: the next round
// reads the log and decides it again.
func (r *Recorder) decideBatch(ctx context.Context, bp *batchPerson, plans []plan, out []BatchResult, pend []Pending) []Pending {
	bp.raced = false
	if len(bp.queue) == 0 {
		bp.steps = bp.steps[:0]
		return pend
	}
	bp.steps = slices.Grow(bp.steps[:0], len(bp.queue))
	e := bp.e
	type first struct {
		cmd int   // the command appending the key this round
		ev  Event // what it appends
	}
	var mine map[string]first // idempotency key -> its first command this round
	for k, i := range bp.queue {
		p := plans[i]
		if p.key != "" {
			if res, ok := e.keys[p.key]; ok {
				res, err := r.repeat(ctx, p, res)
				out[i] = BatchResult{Result: res, Err: err}
				bp.steps = append(bp.steps, batchStep{cmd: i, pending: -1, dupOf: -1})
				continue
			}
			if f, ok := mine[p.key]; ok {
				if p.repeats != nil && !p.repeats(f.ev) {
					out[i] = BatchResult{Err: p.another()}
					bp.steps = append(bp.steps, batchStep{cmd: i, pending: -1, dupOf: -1})
					continue
				}
				bp.steps = append(bp.steps, batchStep{cmd: i, pending: -1, dupOf: f.cmd})
				continue
			}
		}
		d, err := p.decideFor(e)
		if err != nil {
			if !bp.fresh || e.fromHistory {
				bp.queue = bp.queue[k:]
				bp.mustRead = true
				return pend
			}
			out[i] = BatchResult{Err: err}
			bp.steps = append(bp.steps, batchStep{cmd: i, pending: -1, dupOf: -1})
			continue
		}
		at := r.now().Truncate(time.Microsecond) // knowledge time as the log keeps it
		pend = append(pend, Pending{PersonID: p.personID, ExpectedLastSeq: e.last, MsgID: msgID(p.personID, p.key),
			Event: d.event, RecordedAt: at, IdempotencyKey: p.key})
		// Fold it in ahead of its ack; settle unfolds it if the append
		// fails.
		rec := Recorded{PersonID: p.personID, RecordedAt: at.UTC(), IdempotencyKey: p.key, RecordedBy: ActorFrom(ctx), Event: d.event}
		e.fold(rec)
		step := batchStep{cmd: i, pending: len(pend) - 1, dupOf: -1, rec: rec}
		if p.key != "" {
			// Here rather than in settle: a large batch decides on
			// several goroutines.
			step.print, _ = printOf(d.event)
		}
		bp.steps = append(bp.steps, step)
		out[i] = BatchResult{Result: Result{PersonID: p.personID, AccomplishmentID: d.accomplishmentID}}
		if p.key != "" {
			if mine == nil {
				mine = map[string]first{}
			}
			mine[p.key] = first{cmd: i, ev: d.event}
		}
	}
	bp.queue = nil
	return pend
}

// settle takes a person's acks. The first append that did not go through
// ends the person's round: the entry's fold already holds events that are
// not in the log, so it is forgotten, and the commands from there on are
// queued again to be decided from the log (a lost race, or a repeat stored
// meanwhile, re-runs that command too; any other failure is that command's
// error).
func (r *Recorder) settle(bp *batchPerson, plans []plan, out []BatchResult, outcomes []Outcome) {
	e := bp.e
	for k, s := range bp.steps {
		switch {
		case s.dupOf >= 0:
			res := out[s.dupOf].Result
			res.Duplicate = true
			out[s.cmd] = BatchResult{Result: res}
			continue
		case s.pending < 0:
			continue // answered from the log, or refused
		}
		o := outcomes[s.pending]
		if o.Err == nil && !o.Duplicate {
			out[s.cmd].Result.Position = o.Position
			rec := s.rec
			rec.Position = o.Position
			e.record(rec, out[s.cmd].Result, &s.print)
			continue
		}
		e.unfold()
		bp.mustRead = true
		from := k
		if o.Err != nil && !errors.Is(o.Err, ErrConflict) {
			out[s.cmd] = BatchResult{Err: o.Err}
			from = k + 1
		} else {
			r.conflicts.Add(1)
			if bp.races == 0 || bp.racer != s.cmd {
				bp.racer, bp.races = s.cmd, 0
			}
			bp.races++
			bp.raced = true
			bp.lastErr = o.Err
			if o.Err == nil {
				bp.lastErr = domain.Conflict("a repeat of %s was stored meanwhile", plans[s.cmd].key)
			}
		}
		redo := make([]int, 0, len(bp.steps)-from+len(bp.queue))
		for _, s := range bp.steps[from:] {
			out[s.cmd] = BatchResult{}
			redo = append(redo, s.cmd)
		}
		bp.queue = append(redo, bp.queue...)
		return
	}
}
