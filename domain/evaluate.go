package domain

import (
	"math/bits"
	"slices"
)

// The criterion names of CriterionResult, one per part of a Requirement.
const (
	CriterionEngagement             = "engagement"
	CriterionThemes                 = "themes"
	CriterionTechnologySuccession   = "technologySuccession"
	CriterionSubordinateDevelopment = "subordinateDevelopment"
)

// CriterionResult is one criterion of a level judged on one date: whether it
// is met, the ids of the evidence that counts toward it (sorted; for an unmet
// count criterion, what counts so far) and, when unmet, what is missing in
// plain words.
type CriterionResult struct {
	Criterion string // CriterionEngagement, CriterionThemes, ...
	Met       bool
	Evidence  []string
	Missing   string // "" when met
}

// LevelGap is the next level of a field and how far each of its criteria is
// from being met.
type LevelGap struct {
	Level    int
	Criteria []CriterionResult
}

// FieldStanding is a person's level in one field on one date, why, and what
// the next level still needs.
type FieldStanding struct {
	Field      Field
	Level      int
	AttainedOn Date              // the last change of level on or before the date; zero at level 0
	Criteria   []CriterionResult // the current level's criteria; empty at level 0
	Next       *LevelGap         // nil at the catalogue's top level
}

// Standing is a person's judgment on one date under one catalogue version:
// one FieldStanding per catalogue field, in catalogue order.
type Standing struct {
	CatalogueID      string
	CatalogueVersion int
	AsOf             Date
	Fields           []FieldStanding
}

// Field returns the standing of f and true, or false when the catalogue has
// no such field.
func (s Standing) Field(f Field) (FieldStanding, bool) {
	for _, fs := range s.Fields {
		if fs.Field == f {
			return fs, true
		}
	}
	return FieldStanding{}, false
}

// LevelChange is one change of a person's level in a field over valid time.
type LevelChange struct {
	Field Field
	On    Date
	From  int
	To    int
}

// LevelPeriod is a span of valid time during which a person held one level
// (1 or higher) in a field; To is exclusive and zero while open. Level 0 has
// no periods.
type LevelPeriod struct {
	Field Field
	Level int
	From  Date
	To    Date
}

// Evaluate judges the evidence as of asOf: for every catalogue field the
// level, since when it has held (attainedOn), the current level's criteria
// and the gap to the next level. Evidence effective on asOf counts.
//
//	s := domain.DefaultCatalogue().Evaluate(ev, domain.MustDate("2024-03-01"))
//	for _, f := range s.Fields { fmt.Println(f.Field, f.Level, f.AttainedOn) }
func (c *Catalogue) Evaluate(ev Evidence, asOf Date) Standing {
	s, _ := c.Judge(ev, asOf)
	return s
}

// Judge returns both the standing as of asOf and the whole timeline, sharing
// the preparation of the evidence. To judge as the system knew it at time T,
// pass Person.EvidenceKnownAt(T).
func (c *Catalogue) Judge(ev Evidence, asOf Date) (Standing, []LevelChange) {
	return c.judge(ev, asOf, true)
}

// JudgeLevels is Judge without the explanation: each field's level and
// attainedOn (no Criteria, no Next), and the whole timeline. It is what a
// projection keeps; the explanation is evaluated when it is asked for.
func (c *Catalogue) JudgeLevels(ev Evidence, asOf Date) (Standing, []LevelChange) {
	return c.judge(ev, asOf, false)
}

func (c *Catalogue) judge(ev Evidence, asOf Date, explain bool) (Standing, []LevelChange) {
	return c.judgePrepared(c.prepare(&ev), asOf, explain)
}

// JudgePersonLevels is JudgeLevels of the person's evidence as known now,
// without copying it: what the catalogue derives from each piece of
// evidence is kept on the person and reused while recordings only add to
// it, so re-judging a person with a long history after one more
// accomplishment derives that one alone. Like every Person method it is not
// safe for concurrent use on the same person. The standing's Fields and the
// timeline are shared with the person's later judgments while they stay
// the same: callers must not change them.
func (c *Catalogue) JudgePersonLevels(p *Person, asOf Date) (Standing, []LevelChange) {
	ev := p.currentEvidence()
	if p.prep == nil || p.prep.c != c || p.prep.ev != ev {
		p.prep = c.prepare(ev)
	} else {
		p.prep.extend()
	}
	return c.judgePrepared(p.prep, asOf, false)
}

func (c *Catalogue) judgePrepared(p *prepared, asOf Date, explain bool) (Standing, []LevelChange) {
	changes := p.timeline()
	s := Standing{CatalogueID: c.ID(), CatalogueVersion: c.Version(), AsOf: asOf}
	if !explain {
		s.Fields = p.levelsFrom(changes, asOf)
		return s, changes
	}
	levels := make([]int, len(c.fields))
	p.levelsAt(asOf, levels) // judged directly, as the explanation is
	s.Fields = make([]FieldStanding, len(c.fields))
	for fi, f := range c.fields {
		fs := FieldStanding{Field: f, Level: levels[fi]}
		if fs.Level > 0 {
			for _, ch := range changes {
				if ch.Field == f && !ch.On.After(asOf) {
					fs.AttainedOn = ch.On
				}
			}
			fs.Criteria = p.explain(&c.reqs[c.reqFor(fs.Level, fi)], asOf)
		}
		if fs.Level < len(c.levels) {
			fs.Next = &LevelGap{Level: fs.Level + 1, Criteria: p.explain(&c.reqs[c.reqFor(fs.Level+1, fi)], asOf)}
		}
		s.Fields[fi] = fs
	}
	return s, changes
}

// levelsFrom returns each field's level and attainedOn on asOf, without
// explanation: the timeline's last change on or before asOf in the field
// (Judge, which judges asOf directly, and JudgeLevels agree: the domain
// property tests compare them). Like the timeline, the result of the call
// before is returned again when it is equal: a person judged on every
// batch keeps one standing while their levels stay.
func (p *prepared) levelsFrom(changes []LevelChange, asOf Date) []FieldStanding {
	c := p.c
	var small [8]FieldStanding
	fields := small[:0]
	if len(c.fields) > len(small) {
		fields = make([]FieldStanding, 0, len(c.fields))
	}
	for _, f := range c.fields {
		fields = append(fields, FieldStanding{Field: f})
	}
	for _, ch := range changes { // sorted by date
		if ch.On.After(asOf) {
			break
		}
		fs := &fields[c.fieldIndex(ch.Field)]
		fs.Level, fs.AttainedOn = ch.To, ch.On
	}
	same := p.fields != nil
	for i := range fields {
		if fields[i].Level == 0 {
			fields[i].AttainedOn = Date{}
		}
		if same && (fields[i].Level != p.fields[i].Level || fields[i].AttainedOn != p.fields[i].AttainedOn) {
			same = false
		}
	}
	if !same {
		p.fields = make([]FieldStanding, len(fields))
		copy(p.fields, fields)
	}
	return p.fields
}

// Timeline returns every change of level over valid time, sorted by date and
// then by catalogue field order. It includes falls (a later, lower theme
// assessment in force) and, when the catalogue sets a window, expiries.
func (c *Catalogue) Timeline(ev Evidence) []LevelChange {
	return c.prepare(&ev).timeline()
}

// LevelPeriods returns the spans during which each level of 1 or higher was
// held, grouped by field in catalogue order and sorted by From within a field.
func (c *Catalogue) LevelPeriods(ev Evidence) []LevelPeriod {
	return periodsOf(c.fields, c.Timeline(ev))
}

func periodsOf(fields []Field, changes []LevelChange) []LevelPeriod {
	var out []LevelPeriod
	for _, f := range fields {
		for _, ch := range changes {
			if ch.Field != f {
				continue
			}
			if n := len(out); n > 0 && out[n-1].Field == f && out[n-1].To.IsZero() {
				out[n-1].To = ch.On
			}
			if ch.To > 0 {
				out = append(out, LevelPeriod{Field: f, Level: ch.To, From: ch.On})
			}
		}
	}
	return out
}

// LevelOn returns the level in field f on date d (0 for a field the
// catalogue does not have). It judges d directly, without the timeline.
func (c *Catalogue) LevelOn(ev Evidence, f Field, d Date) int {
	fi := c.fieldIndex(f)
	if fi < 0 {
		return 0
	}
	levels := make([]int, len(c.fields))
	c.prepare(&ev).levelsAt(d, levels)
	return levels[fi]
}

// prepared is evidence compiled against one catalogue: which requirements
// each engagement qualifies for regardless of date, and the vocabulary
// indexes of the other evidence.
type prepared struct {
	c  *Catalogue
	ev *Evidence

	engQual   []uint64 // per engagement: bits of the reqs it qualifies for
	succMask  []uint64 // per succession item: bits of the catalogue fields it names
	succKind  []int8   // per succession item: index into SuccessionKinds, -1 unknown
	themeIdx  []int8   // per assessment: index into Themes, -1 unknown
	themeRank []int8   // per assessment: Proficiency.Rank, 0 unknown

	// sweep is the timeline's events of the items swept counts (engagements,
	// successions, developments, assessments), sorted by day: extended as
	// the evidence grows rather than built and sorted whole every time.
	sweep []sweepEvent
	swept [4]int

	// The last timeline and standing without explanation judged from p,
	// returned again while they stay the same (callers only read them).
	changes []LevelChange
	fields  []FieldStanding
}

func (c *Catalogue) prepare(ev *Evidence) *prepared {
	p := &prepared{c: c, ev: ev}
	nu := len(ev.Engagements) + len(ev.Successions)
	masks := make([]uint64, 0, nu)
	p.engQual, p.succMask = masks[:0:len(ev.Engagements)], masks[len(ev.Engagements):len(ev.Engagements):nu]
	small := make([]int8, 0, len(ev.Successions)+2*len(ev.Assessments))
	ns, na := len(ev.Successions), len(ev.Assessments)
	p.succKind = small[:0:ns]
	p.themeIdx = small[ns : ns : ns+na]
	p.themeRank = small[ns+na : ns+na : ns+2*na]
	p.extend()
	return p
}

// extend derives what the rules need from the items of p.ev that p does not
// cover yet: evidence only grows at its end while its prefix stays (see
// Person.JudgePersonLevels), so a cached prepared is brought up to date by
// deriving the new items alone.
func (p *prepared) extend() {
	c, ev := p.c, p.ev
	for i := len(p.engQual); i < len(ev.Engagements); i++ {
		e := &ev.Engagements[i]
		var q uint64
		if fi := c.fieldIndex(e.Field); fi >= 0 {
			crit := criteriaMask(e.Complexity)
			role := e.Role.Rank()
			outcome := uint64(1) << max(0, indexOf(Outcomes, e.Outcome))
			for ri := range c.reqs {
				r := &c.reqs[ri]
				if r.eng != nil && (r.scope < 0 || r.scope == fi) && r.eng.qualifies(e, role, outcome, crit) {
					q |= 1 << ri
				}
			}
		}
		p.engQual = append(p.engQual, q)
	}
	for i := len(p.succMask); i < len(ev.Successions); i++ {
		s := &ev.Successions[i]
		var m uint64
		for _, f := range s.Fields {
			if fi := c.fieldIndex(f); fi >= 0 {
				m |= 1 << fi
			}
		}
		p.succMask = append(p.succMask, m)
		p.succKind = append(p.succKind, int8(indexOf(SuccessionKinds, s.Kind)))
	}
	for i := len(p.themeIdx); i < len(ev.Assessments); i++ {
		a := &ev.Assessments[i]
		p.themeIdx = append(p.themeIdx, int8(indexOf(Themes, a.Theme)))
		p.themeRank = append(p.themeRank, int8(a.Proficiency.Rank()))
	}
}

// qualifies reports whether e meets the role, outcome, budget, complexity and
// size lines of the rule together, whatever the date.
func (r *engagementReq) qualifies(e *Engagement, role int, outcome, crit uint64) bool {
	if role < r.minRole || (r.outcomes != 0 && r.outcomes&outcome == 0) || (r.budget && !e.WithinBudget) {
		return false
	}
	if e.Outcome == "" || !e.Outcome.Valid() {
		return false
	}
	met := bits.OnesCount64(crit & r.criteria)
	if met < r.minCrit {
		return false
	}
	return r.sizeMet(e, met)
}

// sizeMet reports whether e meets one of the rule's size bounds (any size
// when the rule has none), met being how many of its criteria e meets.
func (r *engagementReq) sizeMet(e *Engagement, met int) bool {
	if len(r.size) == 0 {
		return true
	}
	for _, s := range r.size {
		if v, ok := sizeOf(e, s.attr, met); ok && v >= s.min {
			return true
		}
	}
	return false
}

// sizeOf is e's value of a size attribute (ok false: not given).
func sizeOf(e *Engagement, attr SizeAttribute, met int) (v int64, ok bool) {
	var p *int64
	switch attr {
	case SizePeakHeadcount:
		p = e.PeakHeadcount
	case SizeAnnualContractValueYen:
		p = e.AnnualContractValueYen
	case SizeInstallationSites:
		p = e.InstallationSites
	case SizeInquiriesPerYear:
		p = e.InquiriesPerYear
	case SizeCriteriaMet:
		return int64(met), true
	}
	if p == nil {
		return 0, false
	}
	return *p, true
}

// effective returns the date from which e counts for the rule (zero: never).
func (r *engagementReq) effective(e *Engagement) Date {
	if r.fromStart {
		return e.StartedOn
	}
	return e.CompletedOn
}

// active reports whether evidence effective on e counts on d.
func (p *prepared) active(e, d Date) bool {
	if e.IsZero() || e.After(d) {
		return false
	}
	return p.c.window == nil || d.Before(p.c.window.ExpiresOn(e))
}

// inForce returns the index of the assessment of theme t in force on d, or -1.
// The latest assessment on or before d is in force; of several on that day
// the highest proficiency wins, then the smallest id, so that recording
// order never matters. An expired one leaves the theme unassessed.
func (p *prepared) inForce(t int8, d Date) int {
	best := p.latest(t, d)
	if best >= 0 && !p.active(p.ev.Assessments[best].AssessedOn, d) {
		return -1
	}
	return best
}

// latest returns the index of the assessment of theme t that is the latest
// on or before d (as inForce orders them), whether or not it has expired;
// -1 when there is none.
func (p *prepared) latest(t int8, d Date) int {
	best := -1
	as := p.ev.Assessments
	for i := range as {
		a := &as[i]
		if p.themeIdx[i] != t || p.themeRank[i] == 0 || a.AssessedOn.IsZero() || a.AssessedOn.After(d) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := &as[best]
		switch c := a.AssessedOn.Compare(b.AssessedOn); {
		case c > 0, c == 0 && p.themeRank[i] > p.themeRank[best],
			c == 0 && p.themeRank[i] == p.themeRank[best] && a.ID < b.ID:
			best = i
		}
	}
	return best
}

// levelsAt judges date d directly (no timeline) and stores each field's level.
func (p *prepared) levelsAt(d Date, out []int) {
	c := p.c
	clear(out)
	for li, l := range c.levels {
		for k, ri := range l.reqs {
			if !p.met(&c.reqs[ri], d, nil) {
				continue
			}
			if l.common {
				for fi := range out {
					out[fi] = li + 1
				}
			} else {
				out[k] = li + 1
			}
		}
	}
}

// met reports whether every criterion of r holds on d; with results non-nil
// it also records each criterion's result (evidence, but no text).
func (p *prepared) met(r *req, d Date, results *[]CriterionResult) bool {
	all := true
	for _, name := range [...]string{CriterionEngagement, CriterionThemes, CriterionTechnologySuccession, CriterionSubordinateDevelopment} {
		var ids *[]string
		var res CriterionResult
		if results != nil {
			// Never nil, so that transports render [] rather than null.
			res.Criterion, res.Evidence = name, []string{}
			ids = &res.Evidence
		}
		var ok, present bool
		switch name {
		case CriterionEngagement:
			present = r.eng != nil
			ok = present && p.engagementMet(r, d, ids)
		case CriterionThemes:
			present = r.themes != nil
			ok = present && p.themesMet(r.themes, d, ids)
		case CriterionTechnologySuccession:
			present = r.succ != nil
			ok = present && p.successionMet(r, d, ids)
		case CriterionSubordinateDevelopment:
			present = r.dev != nil
			ok = present && p.developmentMet(r.dev, d, ids)
		}
		if !present {
			continue
		}
		if !ok {
			all = false
			if results == nil {
				return false
			}
		}
		if results != nil {
			res.Met = ok
			slices.Sort(res.Evidence)
			*results = append(*results, res)
		}
	}
	return all
}

func (p *prepared) engagementMet(r *req, d Date, ids *[]string) bool {
	ok := false
	for i := range p.ev.Engagements {
		e := &p.ev.Engagements[i]
		if p.engQual[i]&(1<<p.c.reqIndex(r)) == 0 || !p.active(r.eng.effective(e), d) {
			continue
		}
		ok = true
		if ids == nil {
			return true
		}
		*ids = append(*ids, e.ID)
	}
	return ok
}

func (p *prepared) themesMet(t *themeReq, d Date, ids *[]string) bool {
	n := 0
	for _, th := range t.themes {
		if i := p.inForce(th, d); i >= 0 && int(p.themeRank[i]) >= t.minRank {
			n++
			if ids != nil {
				*ids = append(*ids, p.ev.Assessments[i].ID)
			}
		}
	}
	return n >= t.minCount
}

// successionCount returns how many items (or distinct kinds) count for r's
// field on d, and the bits of the kinds seen.
func (p *prepared) successionCount(r *req, d Date, ids *[]string) (items int, kinds uint64) {
	for i := range p.ev.Successions {
		s := &p.ev.Successions[i]
		if p.succKind[i] < 0 || p.succMask[i] == 0 || !p.active(s.OccurredOn, d) {
			continue
		}
		if r.scope >= 0 && p.succMask[i]&(1<<r.scope) == 0 {
			continue
		}
		items++
		kinds |= 1 << p.succKind[i]
		if ids != nil {
			*ids = append(*ids, s.ID)
		}
	}
	return items, kinds
}

func (p *prepared) successionMet(r *req, d Date, ids *[]string) bool {
	items, kinds := p.successionCount(r, d, ids)
	if r.succ.DistinctKinds {
		return bits.OnesCount64(kinds) >= r.succ.MinCount
	}
	return items >= r.succ.MinCount
}

func (p *prepared) developmentCount(d Date, ids *[]string) int {
	n := 0
	for i := range p.ev.Developments {
		dv := &p.ev.Developments[i]
		if !dv.Kind.Valid() || !p.active(dv.OccurredOn, d) {
			continue
		}
		n++
		if ids != nil {
			*ids = append(*ids, dv.ID)
		}
	}
	return n
}

func (p *prepared) developmentMet(r *DevelopmentRule, d Date, ids *[]string) bool {
	return p.developmentCount(d, ids) >= r.MinCount
}

// reqIndex returns r's index in c.reqs.
func (c *Catalogue) reqIndex(r *req) int {
	if r.scope < 0 {
		return c.levels[r.level-1].reqs[0]
	}
	return c.levels[r.level-1].reqs[r.scope]
}
