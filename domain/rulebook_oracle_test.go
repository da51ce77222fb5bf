package domain_test

import (
	"slices"
	"sort"
	"testing"

	"github.com/careerledger/careerledger/domain"
)

// An independent reading of levels.md's tables, written from the rule book
// without the catalogue or the evaluator's code: the built-in catalogue and
// the evaluator must judge random evidence as this plain reading does. A
// slip in the catalogue file (a criterion or theme in the wrong column, a
// threshold off by one) or in the evaluator fails here.

type D = domain.Criterion // the tables below stay one line a field

var oL3 = map[Field][]D{
	SO: {domain.OperationRequirements, domain.OperationSystems, domain.ApplicationRequirements, domain.Organization, domain.Contract},
	NO: {domain.NetworkRequirements, domain.ApplicationRequirements, domain.Organization},
	SD: {domain.SupportedSystem, domain.NetworkRequirements, domain.ApplicationRequirements},
}
var oL45 = map[Field][]D{
	SO: {domain.OperationRequirements, domain.OperationSystems, domain.ApplicationRequirements, domain.Organization, domain.Contract},
	NO: {domain.NetworkRequirements, domain.ApplicationRequirements, domain.Organization, domain.Contract},
	SD: {domain.SupportedSystem, domain.NetworkRequirements, domain.ApplicationRequirements, domain.Organization, domain.Contract},
}
var oCommonThemes = []domain.Theme{domain.ServiceSupportManagement, domain.SystemOperationManagement, domain.InformationAssetManagement}
var oT3 = map[Field][]domain.Theme{
	SO: {domain.ServiceLevelManagement, domain.SystemOperationManagement, domain.StressManagement, domain.InformationAssetManagement},
	NO: {domain.ServiceLevelManagement, domain.NetworkOperationManagement, domain.StressManagement},
	SD: {domain.StressManagement, domain.CustomerSatisfaction, domain.SubcontractManagement},
}
var oT45 = map[Field][]domain.Theme{
	SO: oT3[SO],
	NO: append(slices.Clone(oT3[NO]), domain.InformationAssetManagement),
	SD: append(slices.Clone(oT3[SD]), domain.ContractManagement),
}

func oCount(e Engagement, list []D) int {
	n := 0
	for _, c := range e.Complexity {
		if slices.Contains(list, c) {
			n++
		}
	}
	return n
}

func oProf(ev Evidence, t domain.Theme, d domain.Date) int {
	var best *ThemeAssessment
	for i := range ev.Assessments {
		a := &ev.Assessments[i]
		if a.Theme != t || a.AssessedOn.After(d) {
			continue
		}
		if best == nil || a.AssessedOn.After(best.AssessedOn) || (a.AssessedOn == best.AssessedOn && a.Proficiency.Rank() > best.Proficiency.Rank()) {
			best = a
		}
	}
	if best == nil {
		return 0
	}
	return best.Proficiency.Rank()
}

func oThemes(ev Evidence, list []domain.Theme, min domain.Proficiency, d domain.Date) bool {
	for _, t := range list {
		if oProf(ev, t, d) >= min.Rank() {
			return true
		}
	}
	return false
}

func oKinds(ev Evidence, f Field, d domain.Date) int {
	k := map[domain.SuccessionKind]bool{}
	for _, s := range ev.Successions {
		if !s.OccurredOn.After(d) && slices.Contains(s.Fields, f) {
			k[s.Kind] = true
		}
	}
	return len(k)
}

func oDev(ev Evidence, d domain.Date) bool {
	for _, x := range ev.Developments {
		if !x.OccurredOn.After(d) {
			return true
		}
	}
	return false
}

func oSize5(e Engagement, f Field) bool {
	ge := func(p *int64, v int64) bool { return p != nil && *p >= v }
	switch f {
	case SO:
		return ge(e.PeakHeadcount, 10) || ge(e.AnnualContractValueYen, 100_000_000) || oCount(e, oL45[SO]) >= 4
	case NO:
		return ge(e.PeakHeadcount, 10) || ge(e.AnnualContractValueYen, 100_000_000) || ge(e.InstallationSites, 100) || oCount(e, oL45[NO]) >= 4
	default:
		return ge(e.PeakHeadcount, 20) || ge(e.AnnualContractValueYen, 150_000_000) || ge(e.InquiriesPerYear, 3000) || oCount(e, oL45[SD]) >= 4
	}
}

// oracleLevel is the level in f on d by levels.md's table of criteria.
func oracleLevel(ev Evidence, f Field, d domain.Date) int {
	level := 0
	for l := 1; l <= 2; l++ {
		min := domain.Participant
		if l == 2 {
			min = domain.Practitioner
		}
		eng := false
		for _, e := range ev.Engagements {
			if e.Role.Rank() >= min.Rank() && !e.StartedOn.IsZero() && !e.StartedOn.After(d) {
				eng = true
			}
		}
		if eng && oThemes(ev, oCommonThemes, domain.Basic, d) {
			level = l
		}
	}
	eng := func(l int) bool {
		for _, e := range ev.Engagements {
			if e.Field != f || e.Outcome != domain.Successful || e.CompletedOn.IsZero() || e.CompletedOn.After(d) {
				continue
			}
			switch l {
			case 3:
				if e.Role.Rank() >= domain.Member.Rank() && oCount(e, oL3[f]) >= 2 {
					return true
				}
			case 4, 5:
				if e.Role == domain.Lead && e.WithinBudget && oCount(e, oL45[f]) >= 2 && (l == 4 || oSize5(e, f)) {
					return true
				}
			}
		}
		return false
	}
	if eng(3) && oThemes(ev, oT3[f], domain.Practice, d) {
		level = 3
	}
	if eng(4) && oThemes(ev, oT45[f], domain.GuidesSubordinates, d) && oKinds(ev, f, d) >= 1 && oDev(ev, d) {
		level = 4
	}
	if eng(5) && oThemes(ev, oT45[f], domain.GuidesOthers, d) && oKinds(ev, f, d) >= 3 && oDev(ev, d) {
		level = 5
	}
	return level
}

// oracleAttained is the day since which the level on d has held: the last
// day on or before d whose level differs from the day before's.
func oracleAttained(ev Evidence, f Field, d domain.Date) domain.Date {
	if oracleLevel(ev, f, d) == 0 {
		return domain.Date{}
	}
	var cands []domain.Date
	add := func(x domain.Date) {
		if !x.IsZero() && !x.After(d) {
			cands = append(cands, x)
		}
	}
	for _, e := range ev.Engagements {
		add(e.StartedOn)
		add(e.CompletedOn)
	}
	for _, s := range ev.Successions {
		add(s.OccurredOn)
	}
	for _, x := range ev.Developments {
		add(x.OccurredOn)
	}
	for _, a := range ev.Assessments {
		add(a.AssessedOn)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Before(cands[j]) })
	var last domain.Date
	for _, c := range cands {
		if oracleLevel(ev, f, c) != oracleLevel(ev, f, c.AddDays(-1)) {
			last = c
		}
	}
	return last
}

func TestRuleBookReadingJudgesAsTheEvaluator(t *testing.T) {
	t.Parallel()
	reached := map[int]int{}
	for seed := range uint64(400) {
		g := newGenerator(90000 + seed)
		ev := g.evidence(5+g.r.IntN(40), true, nil)
		changes := catalogue.Timeline(ev)
		for _, d := range probeDates(g, ev, changes) {
			s := catalogue.Evaluate(ev, d)
			for fi, f := range domain.Fields {
				want := oracleLevel(ev, f, d)
				reached[want]++
				if got := s.Fields[fi].Level; got != want {
					t.Fatalf("seed %d: %s on %s: product %d, oracle %d", seed, f, d, got, want)
				}
				if got, want := s.Fields[fi].AttainedOn, oracleAttained(ev, f, d); got != want {
					t.Fatalf("seed %d: %s on %s: attainedOn product %s, oracle %s", seed, f, d, got, want)
				}
			}
		}
	}
	for l := range 6 {
		if reached[l] == 0 {
			t.Errorf("no random evidence reached level %d; the comparison is weak", l)
		}
	}
}

func oInForce(ev Evidence, t domain.Theme, d domain.Date) *ThemeAssessment {
	var best *ThemeAssessment
	for i := range ev.Assessments {
		a := &ev.Assessments[i]
		if a.Theme != t || a.AssessedOn.After(d) {
			continue
		}
		if best == nil || a.AssessedOn.After(best.AssessedOn) || (a.AssessedOn == best.AssessedOn && (a.Proficiency.Rank() > best.Proficiency.Rank() || (a.Proficiency.Rank() == best.Proficiency.Rank() && a.ID < best.ID))) {
			best = a
		}
	}
	return best
}

func oEvidence(ev Evidence, f Field, l int, d domain.Date) map[string][]string {
	out := map[string][]string{"engagement": {}, "themes": {}}
	for _, e := range ev.Engagements {
		ok := false
		switch l {
		case 1, 2:
			min := domain.Participant
			if l == 2 {
				min = domain.Practitioner
			}
			ok = e.Role.Rank() >= min.Rank() && !e.StartedOn.After(d)
		default:
			if e.Field != f || e.Outcome != domain.Successful || e.CompletedOn.After(d) {
				break
			}
			if l == 3 {
				ok = e.Role.Rank() >= domain.Member.Rank() && oCount(e, oL3[f]) >= 2
			} else {
				ok = e.Role == domain.Lead && e.WithinBudget && oCount(e, oL45[f]) >= 2 && (l == 4 || oSize5(e, f))
			}
		}
		if ok {
			out["engagement"] = append(out["engagement"], e.ID)
		}
	}
	themes, min := oCommonThemes, domain.Basic
	switch l {
	case 3:
		themes, min = oT3[f], domain.Practice
	case 4:
		themes, min = oT45[f], domain.GuidesSubordinates
	case 5:
		themes, min = oT45[f], domain.GuidesOthers
	}
	for _, t := range themes {
		if a := oInForce(ev, t, d); a != nil && a.Proficiency.Rank() >= min.Rank() {
			out["themes"] = append(out["themes"], a.ID)
		}
	}
	if l >= 4 {
		out["technologySuccession"], out["subordinateDevelopment"] = []string{}, []string{}
		for _, s := range ev.Successions {
			if !s.OccurredOn.After(d) && slices.Contains(s.Fields, f) {
				out["technologySuccession"] = append(out["technologySuccession"], s.ID)
			}
		}
		for _, x := range ev.Developments {
			if !x.OccurredOn.After(d) {
				out["subordinateDevelopment"] = append(out["subordinateDevelopment"], x.ID)
			}
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// TestRuleBookReadingNamesTheSameEvidence: each criterion of the current
// and the next level lists the evidence the plain reading says meets it
// (for an unmet one, what counts so far), and says what is missing exactly
// when it is not met.
func TestRuleBookReadingNamesTheSameEvidence(t *testing.T) {
	t.Parallel()
	for seed := range uint64(400) {
		g := newGenerator(70000 + seed)
		ev := g.evidence(5+g.r.IntN(40), true, nil)
		changes := catalogue.Timeline(ev)
		for _, d := range probeDates(g, ev, changes) {
			s := catalogue.Evaluate(ev, d)
			for _, fs := range s.Fields {
				check := func(l int, crs []domain.CriterionResult) {
					want := oEvidence(ev, fs.Field, l, d)
					if len(crs) != len(want) {
						t.Fatalf("seed %d %s L%d on %s: %d criteria, want %d", seed, fs.Field, l, d, len(crs), len(want))
					}
					for _, cr := range crs {
						if !slices.Equal(cr.Evidence, want[cr.Criterion]) {
							t.Fatalf("seed %d %s L%d on %s: %s evidence %v, oracle %v", seed, fs.Field, l, d, cr.Criterion, cr.Evidence, want[cr.Criterion])
						}
						if cr.Met != (cr.Missing == "") {
							t.Fatalf("seed %d: met %v with missing %q", seed, cr.Met, cr.Missing)
						}
					}
				}
				if fs.Level > 0 {
					check(fs.Level, fs.Criteria)
				}
				if fs.Next != nil {
					check(fs.Next.Level, fs.Next.Criteria)
				}
			}
		}
	}
}
