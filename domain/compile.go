package domain

import (
	"fmt"
	"slices"
	"strings"
)

// compiledLevel maps a level to its requirements: one for a common level,
// one per catalogue field otherwise.
type compiledLevel struct {
	common bool
	reqs   []int
}

// req is one requirement compiled to bit masks and ranks, so that judging
// compares integers instead of strings.
type req struct {
	level int
	scope int // field index, or -1 for a common level
	src   *Requirement

	eng    *engagementReq
	themes *themeReq
	succ   *SuccessionRule
	dev    *DevelopmentRule
}

type engagementReq struct {
	minRole   int
	outcomes  uint64 // bits of accepted Outcomes; 0 accepts any
	budget    bool
	fromStart bool
	criteria  uint64 // bits of Criteria that count
	minCrit   int
	size      []sizeReq
}

type sizeReq struct {
	attr SizeAttribute
	min  int64
}

type themeReq struct {
	themes   []int8 // indexes into Themes
	minRank  int
	minCount int
}

type pathError struct{ path, problem string }

func bad(path, format string, args ...any) *pathError {
	return &pathError{path: path, problem: fmt.Sprintf(format, args...)}
}

func (c *Catalogue) fieldIndex(f Field) int { return indexOf(c.fields, f) }

// reqFor returns the index of the requirement that level asks of field fi.
func (c *Catalogue) reqFor(level, fi int) int {
	l := c.levels[level-1]
	if l.common {
		return l.reqs[0]
	}
	return l.reqs[fi]
}

func criteriaMask(list []Criterion) uint64 {
	var m uint64
	for _, cr := range list {
		if i := indexOf(Criteria, cr); i >= 0 {
			m |= 1 << i
		}
	}
	return m
}

// compileCatalogue validates a decoded catalogue file, in file order, and
// compiles it; the first problem is returned with its JSON path.
func compileCatalogue(f catalogueFile) (*Catalogue, *pathError) {
	c := &Catalogue{file: f}
	if f.ID == "" || len(f.ID) > 64 {
		return nil, bad("id", "must be 1-64 characters")
	}
	if f.Version < 1 {
		return nil, bad("version", "must be a positive integer, got %d", f.Version)
	}
	if w := f.EvidenceWindow; w != nil {
		switch {
		case w.Years < 0 || w.Months < 0 || w.Days < 0:
			return nil, bad("evidenceWindow", "must not be negative")
		case w.Years == 0 && w.Months == 0 && w.Days == 0:
			return nil, bad("evidenceWindow", "must be longer than zero (leave it out for evidence that never expires)")
		case w.Years > 200 || w.Months > 2400 || w.Days > 73000:
			return nil, bad("evidenceWindow", "must be at most 200 years")
		}
		cp := *w
		c.window = &cp
	}
	if len(f.Fields) == 0 {
		return nil, bad("fields", "must list at least one field")
	}
	for i, fc := range f.Fields {
		p := fmt.Sprintf("fields[%d]", i)
		if !fc.Field.Valid() {
			return nil, bad(p+".field", "unknown field %q", fc.Field)
		}
		if slices.Contains(c.fields, fc.Field) {
			return nil, bad(p+".field", "%s is listed twice", fc.Field)
		}
		for j, cr := range fc.Criteria {
			if !cr.Valid() {
				return nil, bad(fmt.Sprintf("%s.criteria[%d]", p, j), "unknown criterion %q", cr)
			}
			if slices.Contains(fc.Criteria[:j], cr) {
				return nil, bad(fmt.Sprintf("%s.criteria[%d]", p, j), "%s is listed twice", cr)
			}
		}
		c.fields = append(c.fields, fc.Field)
		c.usable = append(c.usable, criteriaMask(fc.Criteria))
	}
	var anyField uint64
	for _, m := range c.usable {
		anyField |= m
	}
	if len(f.Levels) == 0 {
		return nil, bad("levels", "must list at least level 1")
	}
	if len(f.Levels) > maxLevels {
		return nil, bad("levels", "must list at most %d levels", maxLevels)
	}
	for i, lf := range f.Levels {
		p := fmt.Sprintf("levels[%d]", i)
		if lf.Level != i+1 {
			return nil, bad(p+".level", "is %d where level %d is expected (levels run 1, 2, 3, ... without gaps)", lf.Level, i+1)
		}
		var cl compiledLevel
		if lf.Common {
			if lf.Fields != nil {
				return nil, bad(p+".fields", "must be absent for a common level (give requirement)")
			}
			if lf.Requirement == nil {
				return nil, bad(p+".requirement", "is required for a common level")
			}
			r, perr := compileRequirement(lf.Requirement, p+".requirement", lf.Level, -1, anyField, "any field")
			if perr != nil {
				return nil, perr
			}
			cl = compiledLevel{common: true, reqs: []int{len(c.reqs)}}
			c.reqs = append(c.reqs, r)
		} else {
			if lf.Requirement != nil {
				return nil, bad(p+".requirement", "must be absent for a per-field level (give fields)")
			}
			if lf.Fields == nil {
				return nil, bad(p+".fields", "is required for a per-field level (or set common)")
			}
			var unknown []string
			for k := range lf.Fields {
				if !slices.Contains(c.fields, k) {
					unknown = append(unknown, string(k))
				}
			}
			if len(unknown) > 0 {
				slices.Sort(unknown)
				return nil, bad(p+".fields."+unknown[0], "%q is not a field of this catalogue", unknown[0])
			}
			for fi, fld := range c.fields {
				rq, ok := lf.Fields[fld]
				if !ok || rq == nil {
					return nil, bad(p+".fields", "missing %s", fld)
				}
				r, perr := compileRequirement(rq, p+".fields."+string(fld), lf.Level, fi, c.usable[fi], string(fld))
				if perr != nil {
					return nil, perr
				}
				cl.reqs = append(cl.reqs, len(c.reqs))
				c.reqs = append(c.reqs, r)
			}
		}
		if len(c.reqs) > maxRequirements {
			return nil, bad(p, "too many levels and fields (at most %d requirements)", maxRequirements)
		}
		c.levels = append(c.levels, cl)
	}
	c.succReqs = make([]uint64, len(c.fields)+1)
	c.themeReqs = make([]uint64, len(Themes))
	for i, r := range c.reqs {
		if r.succ != nil {
			scope := r.scope
			if scope < 0 {
				scope = len(c.fields)
			}
			c.succReqs[scope] |= 1 << i
		}
		if r.dev != nil {
			c.devReqs |= 1 << i
		}
		if r.themes != nil {
			for _, t := range r.themes.themes {
				c.themeReqs[t] |= 1 << i
			}
		}
		if r.eng == nil {
			continue
		}
		if r.eng.fromStart {
			c.startReq |= 1 << i
		} else {
			c.doneReq |= 1 << i
		}
	}
	return c, nil
}

func compileRequirement(rq *Requirement, p string, level, scope int, usable uint64, scopeName string) (req, *pathError) {
	r := req{level: level, scope: scope, src: rq, succ: rq.TechnologySuccession, dev: rq.SubordinateDevelopment}
	if rq.Engagement == nil && rq.Themes == nil && rq.TechnologySuccession == nil && rq.SubordinateDevelopment == nil {
		return r, bad(p, "asks for nothing (give engagement, themes, technologySuccession or subordinateDevelopment)")
	}
	if e := rq.Engagement; e != nil {
		ep := p + ".engagement"
		er := &engagementReq{budget: e.WithinBudget, minCrit: e.MinCriteria}
		if !e.MinRole.Valid() {
			return r, bad(ep+".minRole", "unknown role %q (one of %s)", e.MinRole, joinCodes(Roles))
		}
		er.minRole = e.MinRole.Rank()
		for j, o := range e.Outcomes {
			if !o.Valid() {
				return r, bad(fmt.Sprintf("%s.outcomes[%d]", ep, j), "unknown outcome %q", o)
			}
			if slices.Contains(e.Outcomes[:j], o) {
				return r, bad(fmt.Sprintf("%s.outcomes[%d]", ep, j), "%s is listed twice", o)
			}
			er.outcomes |= 1 << indexOf(Outcomes, o)
		}
		switch e.CountsFrom {
		case FromStartedOn:
			er.fromStart = true
		case FromCompletedOn:
		default:
			return r, bad(ep+".countsFrom", "must be %s or %s, got %q", FromStartedOn, FromCompletedOn, e.CountsFrom)
		}
		for j, cr := range e.Criteria {
			cp := fmt.Sprintf("%s.criteria[%d]", ep, j)
			if !cr.Valid() {
				return r, bad(cp, "unknown criterion %q", cr)
			}
			if usable&criteriaMask([]Criterion{cr}) == 0 {
				return r, bad(cp, "%s is not a criterion of %s", cr, scopeName)
			}
			if slices.Contains(e.Criteria[:j], cr) {
				return r, bad(cp, "%s is listed twice", cr)
			}
		}
		er.criteria = criteriaMask(e.Criteria)
		if e.MinCriteria < 0 {
			return r, bad(ep+".minCriteria", "must not be negative, got %d", e.MinCriteria)
		}
		if e.MinCriteria > len(e.Criteria) {
			return r, bad(ep+".minCriteria", "is %d but only %d criteria are listed", e.MinCriteria, len(e.Criteria))
		}
		for j, s := range e.Size {
			sp := fmt.Sprintf("%s.size[%d]", ep, j)
			if !s.Attribute.Valid() {
				return r, bad(sp+".attribute", "unknown size attribute %q (one of %s)", s.Attribute, joinCodes(SizeAttributes))
			}
			if s.Min < 0 {
				return r, bad(sp+".min", "must not be negative, got %d", s.Min)
			}
			if s.Attribute == SizeCriteriaMet && s.Min > int64(len(e.Criteria)) {
				return r, bad(sp+".min", "is %d but only %d criteria are listed", s.Min, len(e.Criteria))
			}
			er.size = append(er.size, sizeReq{attr: s.Attribute, min: s.Min})
		}
		r.eng = er
	}
	if t := rq.Themes; t != nil {
		tp := p + ".themes"
		tr := &themeReq{minCount: t.MinCount}
		if len(t.Themes) == 0 {
			return r, bad(tp+".themes", "must list at least one theme")
		}
		for j, th := range t.Themes {
			if !th.Valid() {
				return r, bad(fmt.Sprintf("%s.themes[%d]", tp, j), "unknown theme %q", th)
			}
			if slices.Contains(t.Themes[:j], th) {
				return r, bad(fmt.Sprintf("%s.themes[%d]", tp, j), "%s is listed twice", th)
			}
			tr.themes = append(tr.themes, int8(indexOf(Themes, th)))
		}
		if !t.MinProficiency.Valid() {
			return r, bad(tp+".minProficiency", "unknown proficiency %q (one of %s)", t.MinProficiency, joinCodes(Proficiencies))
		}
		tr.minRank = t.MinProficiency.Rank()
		if t.MinCount < 1 || t.MinCount > len(t.Themes) {
			return r, bad(tp+".minCount", "must be between 1 and %d, got %d", len(t.Themes), t.MinCount)
		}
		r.themes = tr
	}
	if s := rq.TechnologySuccession; s != nil {
		sp := p + ".technologySuccession.minCount"
		if s.MinCount < 1 {
			return r, bad(sp, "must be at least 1, got %d", s.MinCount)
		}
		if s.DistinctKinds && s.MinCount > len(SuccessionKinds) {
			return r, bad(sp, "asks for %d distinct kinds but only %d exist", s.MinCount, len(SuccessionKinds))
		}
	}
	if d := rq.SubordinateDevelopment; d != nil && d.MinCount < 1 {
		return r, bad(p+".subordinateDevelopment.minCount", "must be at least 1, got %d", d.MinCount)
	}
	return r, nil
}

func joinCodes[T ~string](list []T) string {
	s := make([]string, len(list))
	for i, v := range list {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
