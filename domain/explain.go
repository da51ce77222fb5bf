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
	return b.String()
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
	if items == 0 && r.succ.MinCount == 1 {
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
	more := r.succ.MinCount - bits.OnesCount64(kinds)
	return fmt.Sprintf("needs technology-succession items of %d more distinct %s for %s (has: %s)%s",
		more, plural(more, "kind", "kinds"), scope, hasText, p.windowNote())
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
