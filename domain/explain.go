package domain

import (
	"fmt"
	"math/bits"
	"strings"
)

// explain judges every criterion of r on d with its evidence and, for an
// unmet one, what is missing in plain words.
func (p *prepared) explain(r *req, d Date) []CriterionResult {
	results := make([]CriterionResult, 0, 4)
	p.met(r, d, &results)
	for i := range results {
		res := &results[i]
		if res.Met {
			continue
		}
		switch res.Criterion {
		case CriterionEngagement:
			res.Missing = p.missingEngagement(r, d)
		case CriterionThemes:
			res.Missing = p.missingThemes(r.themes, d, len(res.Evidence))
		case CriterionTechnologySuccession:
			res.Missing = p.missingSuccession(r, d)
		case CriterionSubordinateDevelopment:
			res.Missing = p.missingDevelopment(r.dev, d)
		}
	}
	return results
}

func (p *prepared) scopeName(r *req) string {
	if r.scope < 0 {
		return "any field"
	}
	return string(p.c.fields[r.scope])
}

func (p *prepared) windowNote() string {
	if w := p.c.window; w != nil {
		return " (evidence counts for " + w.String() + ")"
	}
	return ""
}

// missingEngagement describes the one engagement the rule asks for, e.g.
// "needs a SUCCESSFUL engagement within budget in SERVICE_DESK as LEAD
// meeting >= 2 of: ..., completed on or before 2024-03-01".
func (p *prepared) missingEngagement(r *req, d Date) string {
	rule := r.src.Engagement
	var b strings.Builder
	b.Grow(320)
	b.WriteString("needs ")
	if len(rule.Outcomes) == 0 {
		b.WriteString("an engagement")
	} else {
		outcomes := joinCodes(rule.Outcomes)
		if strings.ContainsRune("AEIOU", rune(outcomes[0])) {
			b.WriteString("an ")
		} else {
			b.WriteString("a ")
		}
		b.WriteString(strings.ReplaceAll(outcomes, ", ", " or "))
		b.WriteString(" engagement")
	}
	if rule.WithinBudget {
		b.WriteString(" within budget")
	}
	b.WriteString(" in " + p.scopeName(r))
	b.WriteString(" as " + string(rule.MinRole))
	if rule.MinRole.Rank() < len(Roles) {
		b.WriteString(" or higher")
	}
	if rule.MinCriteria > 0 {
		fmt.Fprintf(&b, " meeting >= %d of: %s", rule.MinCriteria, joinCodes(rule.Criteria))
	}
	if len(rule.Size) > 0 {
		alts := make([]string, len(rule.Size))
		for i, s := range rule.Size {
			switch {
			case s.Attribute != SizeCriteriaMet:
				alts[i] = fmt.Sprintf("%s >= %d", s.Attribute, s.Min)
			case rule.MinCriteria > 0:
				alts[i] = fmt.Sprintf(">= %d of those criteria", s.Min)
			default:
				alts[i] = fmt.Sprintf(">= %d of: %s", s.Min, joinCodes(rule.Criteria))
			}
		}
		b.WriteString(", with " + strings.Join(alts, " or "))
	}
	if r.eng.fromStart {
		b.WriteString(", started on or before ")
	} else {
		b.WriteString(", completed on or before ")
	}
	b.WriteString(d.String())
	b.WriteString(p.windowNote())
	if closest := p.closestEngagement(r, d); closest != "" {
		b.WriteString("; closest: ")
		b.WriteString(closest)
	}
	return b.String()
}

// closestEngagement names the person's engagement in r's field that lacks
// the fewest of the rule's lines on d, and what it lacks, e.g. `E1.AB "DC
// move" lacks role LEAD (is MEMBER), size (has peakHeadcount 6,
// installationSites -, 2 criteria)`; "" when the person has none there.
// Of equals it takes the latest to count (then the least id), so that the
// answer does not depend on the order things were recorded in.
func (p *prepared) closestEngagement(r *req, d Date) string {
	best, bestN := -1, 0
	var bestOn Date
	for i := range p.ev.Engagements {
		e := &p.ev.Engagements[i]
		if fi := p.c.fieldIndex(e.Field); fi < 0 || (r.scope >= 0 && r.scope != fi) {
			continue
		}
		n := p.engagementShortfalls(r, e, d, nil) // counted only: words for the closest alone
		if n == 0 {
			continue
		}
		on := e.StartedOn
		if !e.CompletedOn.IsZero() {
			on = e.CompletedOn
		}
		better := best < 0 || n < bestN ||
			(n == bestN && (on.After(bestOn) || (on == bestOn && e.ID < p.ev.Engagements[best].ID)))
		if better {
			best, bestN, bestOn = i, n, on
		}
	}
	if best < 0 {
		return ""
	}
	e := &p.ev.Engagements[best]
	var why []string
	p.engagementShortfalls(r, e, d, &why)
	return fmt.Sprintf("%s %q lacks %s", e.ID, e.Title, strings.Join(why, ", "))
}

// engagementShortfalls counts what e lacks to count for r on d, and, with
// why, says each in the rule's words.
func (p *prepared) engagementShortfalls(r *req, e *Engagement, d Date, why *[]string) int {
	rule, er := r.src.Engagement, r.eng
	n := 0
	lacks := func(f func() string) {
		n++
		if why != nil {
			*why = append(*why, f())
		}
	}
	if e.Role.Rank() < er.minRole {
		lacks(func() string {
			need := string(rule.MinRole)
			if rule.MinRole.Rank() < len(Roles) {
				need += " or higher"
			}
			return fmt.Sprintf("role %s (is %s)", need, e.Role)
		})
	}
	if er.outcomes != 0 && er.outcomes&(1<<max(0, indexOf(Outcomes, e.Outcome))) == 0 {
		lacks(func() string {
			return fmt.Sprintf("outcome %s (is %s)", strings.ReplaceAll(joinCodes(rule.Outcomes), ", ", " or "), e.Outcome)
		})
	}
	if er.budget && !e.WithinBudget {
		lacks(func() string { return "being within budget" })
	}
	met := bits.OnesCount64(criteriaMask(e.Complexity) & er.criteria)
	if met < er.minCrit {
		lacks(func() string {
			// Which of its criteria count here, and which do not: a
			// criterion of another field is recorded but not counted.
			var counted, other []string
			for _, c := range e.Complexity {
				if criteriaMask([]Criterion{c})&er.criteria != 0 {
					counted = append(counted, string(c))
				} else {
					other = append(other, string(c))
				}
			}
			// The rule's sentence lists the criteria already.
			out := fmt.Sprintf("at least %d of the criteria (has %d", er.minCrit, met)
			if len(counted) > 0 {
				out += ": " + strings.Join(counted, ", ")
			}
			switch len(other) {
			case 0:
			case 1:
				out += "; " + other[0] + " does not count here"
			default:
				out += "; " + strings.Join(other, ", ") + " do not count here"
			}
			return out + ")"
		})
	}
	if !er.sizeMet(e, met) {
		lacks(func() string {
			vals := make([]string, len(er.size))
			for i, s := range er.size {
				v, ok := sizeOf(e, s.attr, met)
				switch {
				case s.attr == SizeCriteriaMet:
					vals[i] = fmt.Sprintf("%d criteria", v)
				case ok:
					vals[i] = fmt.Sprintf("%s %d", s.attr, v)
				default:
					vals[i] = fmt.Sprintf("%s -", s.attr)
				}
			}
			return "size (has " + strings.Join(vals, ", ") + ")"
		})
	}
	switch eff := er.effective(e); {
	case eff.IsZero() && er.fromStart:
		lacks(func() string { return "a start date" })
	case eff.IsZero():
		lacks(func() string { return "a completion date (it is ongoing)" })
	case eff.After(d):
		lacks(func() string { return "a date on or before " + d.String() + " (is " + eff.String() + ")" })
	case !p.active(eff, d):
		lacks(func() string { return "a date within the window" })
	}
	return n
}

// missingThemes says which themes need which proficiency and the best one in
// force, e.g. "needs an assessment of one of A, B at GUIDES_OTHERS or higher
// (best: A at PRACTICE)".
func (p *prepared) missingThemes(t *themeReq, d Date, have int) string {
	names := make([]string, len(t.themes))
	best := -1
	for i, th := range t.themes {
		names[i] = string(Themes[th])
		if a := p.inForce(th, d); a >= 0 && (best < 0 || p.themeRank[a] > p.themeRank[best]) {
			best = a
		}
	}
	prof := Proficiencies[t.minRank-1]
	var bestText string
	if best < 0 {
		bestText = "none of them assessed"
		// Assessed, but expired: the highest of those is named with its
		// expiry, so that "never assessed" is not read into it.
		expired := -1
		for _, th := range t.themes {
			if a := p.latest(th, d); a >= 0 && (expired < 0 || p.themeRank[a] > p.themeRank[expired]) {
				expired = a
			}
		}
		if expired >= 0 && p.c.window != nil {
			a := p.ev.Assessments[expired]
			bestText = fmt.Sprintf("none in force; best: %s at %s, assessed %s, expired %s",
				a.Theme, a.Proficiency, a.AssessedOn, p.c.window.ExpiresOn(a.AssessedOn))
		}
	} else {
		a := p.ev.Assessments[best]
		bestText = fmt.Sprintf("best: %s at %s", a.Theme, a.Proficiency)
	}
	if t.minCount == 1 {
		return fmt.Sprintf("needs an assessment of one of %s at %s or higher (%s)%s",
			strings.Join(names, ", "), prof, bestText, p.windowNote())
	}
	return fmt.Sprintf("needs assessments of %d more of %s at %s or higher (%s)%s",
		t.minCount-have, strings.Join(names, ", "), prof, bestText, p.windowNote())
}

// missingSuccession says how many more items (or kinds) the field needs, e.g.
// "needs technology-succession items of 2 more distinct kinds for
// NETWORK_OPERATION (has: BOOK)".
func (p *prepared) missingSuccession(r *req, d Date) string {
	items, kinds := p.successionCount(r, d, nil)
	scope := p.scopeName(r)
	elsewhere := p.successionElsewhere(r, d, kinds)
	if items == 0 && r.succ.MinCount == 1 {
		if elsewhere != "" {
			return "needs a technology-succession item for " + scope + " (" + elsewhere + ")" + p.windowNote()
		}
		return "needs a technology-succession item for " + scope + p.windowNote()
	}
	if !r.succ.DistinctKinds {
		return fmt.Sprintf("needs %d more technology-succession %s for %s (has: %d)%s",
			r.succ.MinCount-items, plural(r.succ.MinCount-items, "item", "items"), scope, items, p.windowNote())
	}
	var has []string
	for k, kind := range SuccessionKinds {
		if kinds&(1<<k) != 0 {
			has = append(has, string(kind))
		}
	}
	hasText := "none"
	if len(has) > 0 {
		hasText = strings.Join(has, ", ")
	}
	if elsewhere != "" {
		hasText += "; " + elsewhere
	}
	more := r.succ.MinCount - bits.OnesCount64(kinds)
	return fmt.Sprintf("needs technology-succession items of %d more distinct %s for %s (has: %s)%s",
		more, plural(more, "kind", "kinds"), scope, hasText, p.windowNote())
}

// successionElsewhere names the items in force on d that name only other
// fields than r's, one per kind the field does not have yet (kinds), the
// least id of each: "recorded for other fields only: INTERNAL_PAPER E1.AB
// for NETWORK_OPERATION". An item recorded under the wrong field is the
// likeliest reason a person who wrote a paper is told they need one. It
// is "" for a rule of any field, or when there is no such item.
func (p *prepared) successionElsewhere(r *req, d Date, kinds uint64) string {
	if r.scope < 0 {
		return ""
	}
	pick := make([]int, len(SuccessionKinds))
	for k := range pick {
		pick[k] = -1
	}
	for i := range p.ev.Successions {
		s := &p.ev.Successions[i]
		k := p.succKind[i]
		if k < 0 || p.succMask[i] == 0 || p.succMask[i]&(1<<r.scope) != 0 || kinds&(1<<k) != 0 || !p.active(s.OccurredOn, d) {
			continue
		}
		if j := pick[k]; j < 0 || s.ID < p.ev.Successions[j].ID {
			pick[k] = i
		}
	}
	var out []string
	for _, i := range pick {
		if i < 0 {
			continue
		}
		var fields []string
		for f, name := range p.c.fields {
			if p.succMask[i]&(1<<f) != 0 {
				fields = append(fields, string(name))
			}
		}
		s := &p.ev.Successions[i]
		out = append(out, fmt.Sprintf("%s %s for %s", s.Kind, s.ID, strings.Join(fields, "+")))
	}
	if len(out) == 0 {
		return ""
	}
	return "recorded for other fields only: " + strings.Join(out, ", ")
}

func (p *prepared) missingDevelopment(r *DevelopmentRule, d Date) string {
	have := p.developmentCount(d, nil)
	if have == 0 && r.MinCount == 1 {
		return fmt.Sprintf("needs a subordinate-development record (%s)%s",
			strings.ReplaceAll(joinCodes(DevelopmentKinds), ", ", " or "), p.windowNote())
	}
	more := r.MinCount - have
	return fmt.Sprintf("needs %d more subordinate-development %s (has: %d)%s",
		more, plural(more, "record", "records"), have, p.windowNote())
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
