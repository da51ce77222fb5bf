package domain

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// The timeline is a sweep over valid time. A level can only change on a day
// when some evidence becomes effective or, with a window, expires, so the
// sweep visits exactly those days, applies each day's events to running
// counts and re-judges every requirement from the counts alone.

type sweepKind uint8

const (
	sweepEngagement sweepKind = iota
	sweepSuccession
	sweepDevelopment
	sweepAssessment
)

type sweepEvent struct {
	day    int32
	origin int32  // an assessment's own date, to match its expiry
	mask   uint64 // engagement: req bits; succession: scope bits
	kind   sweepKind
	sign   int8 // +1 becomes effective, -1 expires
	sub    int8 // succession kind or theme index
	rank   int8 // proficiency rank of an assessment
}

type sweepState struct {
	reqCount     []int32 // per req: qualifying engagements in force
	succItems    []int32 // per scope (fields, then "any field"): items in force
	succDistinct []int32 // per scope: distinct kinds in force
	succKinds    []int32 // per scope and kind: items in force
	themeDate    []int32 // per theme: date of the assessment in force
	themeRank    []int8  // per theme: its rank, 0 when none or expired
	dev          int32
}

func (p *prepared) sweepEvents() []sweepEvent {
	ev, w := p.ev, p.c.window
	counts := [4]int{len(ev.Engagements), len(ev.Successions), len(ev.Developments), len(ev.Assessments)}
	if counts == p.swept {
		return p.sweep
	}
	from := p.swept
	n := 2*(counts[0]-from[0]) + counts[1] - from[1] + counts[2] - from[2] + counts[3] - from[3]
	if w != nil {
		n *= 2
	}
	if len(p.sweep) == 0 {
		p.sweep = p.newSweepEvents(from, counts, make([]sweepEvent, 0, n))
	} else {
		// The few events of the items recorded since the last sweep are
		// merged into the kept ones from a buffer on the stack.
		var small [16]sweepEvent
		p.sweep = mergeByDay(p.sweep, p.newSweepEvents(from, counts, small[:0]))
	}
	p.swept = counts
	return p.sweep
}

// newSweepEvents appends to events those of the items of p.ev from the
// counts from up to counts, sorted by day.
func (p *prepared) newSweepEvents(from, counts [4]int, events []sweepEvent) []sweepEvent {
	c, ev, w := p.c, p.ev, p.c.window
	add := func(e sweepEvent, on Date) {
		e.day, e.sign = on.days, 1
		events = append(events, e)
		if w != nil {
			e.day, e.sign = w.ExpiresOn(on).days, -1
			events = append(events, e)
		}
	}
	for i := from[0]; i < counts[0]; i++ {
		e := &ev.Engagements[i]
		if m := p.engQual[i] & c.startReq; m != 0 && !e.StartedOn.IsZero() {
			add(sweepEvent{kind: sweepEngagement, mask: m}, e.StartedOn)
		}
		if m := p.engQual[i] & c.doneReq; m != 0 && !e.CompletedOn.IsZero() {
			add(sweepEvent{kind: sweepEngagement, mask: m}, e.CompletedOn)
		}
	}
	anyField := uint64(1) << len(c.fields)
	for i := from[1]; i < counts[1]; i++ {
		s := &ev.Successions[i]
		if p.succKind[i] >= 0 && p.succMask[i] != 0 && !s.OccurredOn.IsZero() {
			add(sweepEvent{kind: sweepSuccession, mask: p.succMask[i] | anyField, sub: p.succKind[i]}, s.OccurredOn)
		}
	}
	for i := from[2]; i < counts[2]; i++ {
		d := &ev.Developments[i]
		if d.Kind.Valid() && !d.OccurredOn.IsZero() {
			add(sweepEvent{kind: sweepDevelopment}, d.OccurredOn)
		}
	}
	for i := from[3]; i < counts[3]; i++ {
		a := &ev.Assessments[i]
		if p.themeIdx[i] >= 0 && p.themeRank[i] > 0 && !a.AssessedOn.IsZero() {
			add(sweepEvent{kind: sweepAssessment, sub: p.themeIdx[i], rank: p.themeRank[i], origin: a.AssessedOn.days}, a.AssessedOn)
		}
	}
	// Events of one day commute (see apply), so an unstable sort is enough
	// and the result does not depend on recording order.
	slices.SortFunc(events, func(a, b sweepEvent) int { return cmp.Compare(a.day, b.day) })
	return events
}

// mergeByDay merges b into a, both sorted by day, in place from the end:
// a grows by len(b) (reallocated only when its capacity is short). It
// keeps no reference to b.
func mergeByDay(a, b []sweepEvent) []sweepEvent {
	i, j := len(a)-1, len(b)-1
	a = slices.Grow(a, len(b))[:len(a)+len(b)]
	for k := len(a) - 1; j >= 0; k-- {
		if i >= 0 && a[i].day > b[j].day {
			a[k] = a[i]
			i--
		} else {
			a[k] = b[j]
			j--
		}
	}
	return a
}

func (p *prepared) timeline() []LevelChange {
	c := p.c
	events := p.sweepEvents()
	nf, scopes, nk, nt := len(c.fields), len(c.fields)+1, len(SuccessionKinds), len(Themes)
	// The running state fits on the stack for a catalogue of ordinary size:
	// a projector judges a person on every batch that touches them.
	var smallCounts [256]int32
	var smallRanks [32]int8
	var smallLevels [32]int
	n := len(c.reqs) + 2*scopes + scopes*nk + nt
	buf := smallCounts[:0]
	if n > len(smallCounts) {
		buf = make([]int32, n)
	}
	buf = buf[:n]
	st := sweepState{
		reqCount:     buf[:len(c.reqs)],
		succItems:    buf[len(c.reqs) : len(c.reqs)+scopes],
		succDistinct: buf[len(c.reqs)+scopes : len(c.reqs)+2*scopes],
		succKinds:    buf[len(c.reqs)+2*scopes : len(c.reqs)+2*scopes+scopes*nk],
		themeDate:    buf[len(c.reqs)+2*scopes+scopes*nk:],
		themeRank:    smallRanks[:0],
	}
	if nt > len(smallRanks) {
		st.themeRank = make([]int8, nt)
	}
	st.themeRank = st.themeRank[:nt]
	for t := range st.themeDate {
		st.themeDate[t] = math.MinInt32
	}
	levels := smallLevels[:0]
	if 2*nf > len(smallLevels) {
		levels = make([]int, 2*nf)
	}
	levels = levels[:2*nf]
	cur, prev := levels[:nf], levels[nf:]
	// met holds the reqs met by the running state. A day's events change
	// the counts of a few reqs only (affects), so only those are judged
	// again, and the levels are worked out again only when the set of met
	// reqs differs from the one they were last worked out from (judged):
	// the levels are a function of that set alone.
	var met, judged uint64
	for ri := range c.reqs {
		if st.met(&c.reqs[ri], ri, nf) {
			met |= 1 << ri
		}
	}
	var smallChanges [16]LevelChange
	changes := smallChanges[:0]
	for i := 0; i < len(events); {
		day := events[i].day
		var affected uint64
		for ; i < len(events) && events[i].day == day; i++ {
			st.apply(&events[i], nk)
			affected |= c.affects(&events[i])
		}
		for m := affected; m != 0; m &= m - 1 {
			ri := bits.TrailingZeros64(m)
			if st.met(&c.reqs[ri], ri, nf) {
				met |= 1 << ri
			} else {
				met &^= 1 << ri
			}
		}
		if met == judged {
			continue // the levels of the day before: nothing changes
		}
		judged = met
		clear(cur)
		for li, l := range c.levels {
			for k, ri := range l.reqs {
				if met&(1<<ri) == 0 {
					continue
				}
				if l.common {
					for fi := range cur {
						cur[fi] = li + 1
					}
				} else {
					cur[k] = li + 1
				}
			}
		}
		for fi := range cur {
			if cur[fi] != prev[fi] {
				changes = append(changes, LevelChange{Field: c.fields[fi], On: Date{days: day}, From: prev[fi], To: cur[fi]})
				prev[fi] = cur[fi]
			}
		}
	}
	// Kept on p, and returned again while it stays the same: a person is
	// judged again on every batch that touches them, and most batches do
	// not change their timeline.
	if p.changes == nil || !slices.Equal(changes, p.changes) {
		p.changes = make([]LevelChange, len(changes))
		copy(p.changes, changes)
	}
	return p.changes
}

// affects returns the reqs whose judgment e can change: those whose
// counts it moves.
func (c *Catalogue) affects(e *sweepEvent) uint64 {
	switch e.kind {
	case sweepEngagement:
		return e.mask
	case sweepSuccession:
		var out uint64
		for m := e.mask; m != 0; m &= m - 1 {
			out |= c.succReqs[bits.TrailingZeros64(m)]
		}
		return out
	case sweepDevelopment:
		return c.devReqs
	case sweepAssessment:
		return c.themeReqs[e.sub]
	}
	return 0
}

// apply adds one event to the running state. Events of one day commute:
// counts add up, an assessment replaces an older one or, on the same day,
// keeps the higher rank, and an expiry only clears the assessment it belongs
// to.
func (st *sweepState) apply(e *sweepEvent, nk int) {
	switch e.kind {
	case sweepEngagement:
		for m := e.mask; m != 0; m &= m - 1 {
			st.reqCount[bits.TrailingZeros64(m)] += int32(e.sign)
		}
	case sweepSuccession:
		for m := e.mask; m != 0; m &= m - 1 {
			s := bits.TrailingZeros64(m)
			st.succItems[s] += int32(e.sign)
			k := s*nk + int(e.sub)
			before := st.succKinds[k]
			st.succKinds[k] += int32(e.sign)
			switch {
			case before == 0 && st.succKinds[k] > 0:
				st.succDistinct[s]++
			case before > 0 && st.succKinds[k] == 0:
				st.succDistinct[s]--
			}
		}
	case sweepDevelopment:
		st.dev += int32(e.sign)
	case sweepAssessment:
		t := e.sub
		switch {
		case e.sign < 0:
			if st.themeDate[t] == e.origin {
				st.themeRank[t] = 0
			}
		case e.origin > st.themeDate[t]:
			st.themeDate[t], st.themeRank[t] = e.origin, e.rank
		case e.origin == st.themeDate[t] && e.rank > st.themeRank[t]:
			st.themeRank[t] = e.rank
		}
	}
}

// met judges requirement r (index ri) from the running state.
func (st *sweepState) met(r *req, ri, nf int) bool {
	if r.eng != nil && st.reqCount[ri] <= 0 {
		return false
	}
	if t := r.themes; t != nil {
		n := 0
		for _, th := range t.themes {
			if int(st.themeRank[th]) >= t.minRank {
				n++
			}
		}
		if n < t.minCount {
			return false
		}
	}
	if s := r.succ; s != nil {
		scope := r.scope
		if scope < 0 {
			scope = nf
		}
		have := st.succItems[scope]
		if s.DistinctKinds {
			have = st.succDistinct[scope]
		}
		if int(have) < s.MinCount {
			return false
		}
	}
	if d := r.dev; d != nil && int(st.dev) < d.MinCount {
		return false
	}
	return true
}
