package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
)

var demoToday = time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)

func TestDemoGenerator(t *testing.T) {
	cfg := demoConfig{People: 2000, Departments: 20, Years: 15, Seed: 1, Today: demoToday}
	lines := generateDemo(cfg)
	today, first := "2026-11-26", "2011-11-26"

	ops := map[string]int{}
	depts := map[string]bool{}
	ids := map[string]bool{}
	keys := map[string]bool{}
	phase := 0 // 0 registrations, 1 the rest, 2 corrections
	for i, l := range lines {
		ops[l.Op]++
		m, ok := mutationByOp(l.Op)
		if !ok {
			t.Fatalf("line %d: undocumented op %q", i+1, l.Op)
		}
		for name := range l.Input {
			if name != "idempotencyKey" && !slices.Contains(m.fields, name) {
				t.Errorf("line %d: %s has no input field %s", i+1, l.Op, name)
			}
		}
		for _, name := range m.required {
			if _, ok := l.Input[name]; !ok && l.Ref < 0 {
				t.Errorf("line %d: %s lacks %s", i+1, l.Op, name)
			}
		}
		key, _ := l.Input["idempotencyKey"].(string)
		if key == "" || keys[key] {
			t.Errorf("line %d: idempotency key %q missing or repeated", i+1, key)
		}
		keys[key] = true
		// Order: registrations, then the rest, then corrections referring back.
		switch {
		case l.Op == "registerPerson":
			if phase != 0 {
				t.Errorf("line %d: registration after other commands", i+1)
			}
			depts[l.Input["department"].(string)] = true
			ids[l.Input["id"].(string)] = true
		case l.Ref >= 0:
			phase = 2
			if l.Ref >= i || !strings.HasPrefix(lines[l.Ref].Op, "record") && lines[l.Ref].Op != "assessTheme" {
				t.Errorf("line %d: refers to line %d (%s)", i+1, l.Ref+1, lines[l.Ref].Op)
			}
		default:
			if phase == 2 {
				t.Errorf("line %d: %s after the corrections", i+1, l.Op)
			}
			phase = 1
			if p, _ := l.Input["personId"].(string); !ids[p] {
				t.Errorf("line %d: unknown person %q", i+1, p)
			}
		}
		// Dates: within the years, never after today.
		for _, name := range []string{"joinedOn", "effectiveOn", "startedOn", "completedOn", "occurredOn", "assessedOn"} {
			if d, ok := l.Input[name].(string); ok && (d > today || d < first) {
				t.Errorf("line %d: %s %s outside %s..%s", i+1, name, d, first, today)
			}
		}
		if l.Op == "recordEngagement" {
			checkEngagement(t, i+1, l.Input)
		}
	}
	if ops["registerPerson"] != 2000 || len(ids) != 2000 {
		t.Errorf("%d registrations of %d ids, want 2000", ops["registerPerson"], len(ids))
	}
	if len(depts) != 20 {
		t.Errorf("%d departments, want 20", len(depts))
	}
	if len(lines) < 36000 || len(lines) > 44000 {
		t.Errorf("%d lines, want about 40,000", len(lines))
	}
	for _, op := range opNames() {
		if ops[op] == 0 {
			t.Errorf("no %s", op)
		}
	}
	t.Logf("%d lines: %v", len(lines), ops)

	// Deterministic for a seed, different for another.
	again := generateDemo(cfg)
	if !reflect.DeepEqual(lines, again) {
		t.Error("the same seed gave another organisation")
	}
	other := generateDemo(demoConfig{People: 2000, Departments: 20, Years: 15, Seed: 2, Today: demoToday})
	if reflect.DeepEqual(lines[:100], other[:100]) {
		t.Error("seeds 1 and 2 gave the same organisation")
	}

	checkWithTheDomain(t, lines, domain.MustDate(today))
}

// checkEngagement checks codes valid for the field, each once, and the
// completedOn rules.
func checkEngagement(t *testing.T, no int, in map[string]any) {
	t.Helper()
	field := in["field"].(string)
	crit := in["complexity"].([]string)
	for i, c := range crit {
		if !slices.Contains(fieldCriteria[field], c) || slices.Contains(crit[:i], c) {
			t.Errorf("line %d: complexity %v for %s", no, crit, field)
		}
	}
	completed, has := in["completedOn"].(string)
	switch {
	case in["outcome"] == "ONGOING" && has:
		t.Errorf("line %d: ONGOING with completedOn", no)
	case in["outcome"] != "ONGOING" && (!has || completed < in["startedOn"].(string)):
		t.Errorf("line %d: %s, started %s, completed %q", no, in["outcome"], in["startedOn"], completed)
	}
	if hc, ok := in["peakHeadcount"].(int64); ok && hc < 1 {
		t.Errorf("line %d: peakHeadcount %d", no, hc)
	}
	if yen, ok := in["annualContractValueYen"].(int64); ok && (yen < 0 || yen > 1<<53) {
		t.Errorf("line %d: yen %d", no, yen)
	}
}

// checkWithTheDomain validates every accomplishment with the default
// catalogue and judges everyone as of today: most people at levels 1-3,
// some at 4, few at 5.
func checkWithTheDomain(t *testing.T, lines []demoLine, today domain.Date) {
	cat := domain.DefaultCatalogue()
	people := map[string]*domain.Person{}
	recorded := map[int]string{}
	for i, l := range lines {
		in := l.Input
		str := func(k string) string { s, _ := in[k].(string); return s }
		day := func(k string) domain.Date {
			if str(k) == "" {
				return domain.Date{}
			}
			return domain.MustDate(str(k))
		}
		var a domain.Accomplishment
		id := fmt.Sprintf("%s.%d", str("personId"), i)
		switch l.Op {
		case "registerPerson":
			people[str("id")] = domain.NewPerson(str("id"), str("name"), str("department"), day("joinedOn"))
			continue
		case "transferPerson":
			people[str("personId")].Transfer(str("department"), day("effectiveOn"))
			continue
		case "recordDeparture":
			people[str("personId")].Depart(day("effectiveOn"))
			continue
		case "recordEngagement":
			e := &domain.Engagement{ID: id, Field: domain.Field(str("field")), Title: str("title"), Role: domain.Role(str("role")),
				StartedOn: day("startedOn"), CompletedOn: day("completedOn"), Outcome: domain.Outcome(str("outcome")),
				WithinBudget: in["withinBudget"].(bool)}
			for k, p := range map[string]**int64{"peakHeadcount": &e.PeakHeadcount, "annualContractValueYen": &e.AnnualContractValueYen,
				"installationSites": &e.InstallationSites, "inquiriesPerYear": &e.InquiriesPerYear} {
				if v, ok := in[k].(int64); ok {
					*p = &v
				}
			}
			for _, c := range in["complexity"].([]string) {
				e.Complexity = append(e.Complexity, domain.Criterion(c))
			}
			a.Engagement = e
		case "recordTechnologySuccession":
			s := &domain.SuccessionItem{ID: id, Kind: domain.SuccessionKind(str("kind")), Title: str("title"), OccurredOn: day("occurredOn")}
			for _, f := range in["fields"].([]string) {
				s.Fields = append(s.Fields, domain.Field(f))
			}
			a.Succession = s
		case "recordSubordinateDevelopment":
			a.Development = &domain.Development{ID: id, Kind: domain.DevelopmentKind(str("kind")), OccurredOn: day("occurredOn"), SubordinateID: str("subordinateId")}
		case "assessTheme":
			a.Assessment = &domain.ThemeAssessment{ID: id, Theme: domain.Theme(str("theme")), Proficiency: domain.Proficiency(str("proficiency")), AssessedOn: day("assessedOn")}
		case "retractAccomplishment":
			ref := lines[l.Ref].Input["personId"].(string)
			people[ref].Retract(recorded[l.Ref], str("reason"), time.Now())
			continue
		default:
			continue // amendments keep the kind; their values are checked like the rest
		}
		if err := cat.ValidateAccomplishment(a, today); err != nil {
			raw, _ := json.Marshal(in)
			t.Fatalf("line %d is invalid: %v\n%s", i+1, err, raw)
		}
		people[str("personId")].Record(a, time.Now())
		recorded[i] = id
	}
	byLevel := make([]int, 6)
	for _, p := range people {
		st := cat.Evaluate(p.Evidence(), today)
		best := 0
		for _, f := range st.Fields {
			best = max(best, f.Level)
		}
		byLevel[best]++
	}
	n := float64(len(people))
	share := func(l int) float64 { return float64(byLevel[l]) / n }
	t.Logf("people by their best level today: %v", byLevel)
	if s := share(1) + share(2) + share(3); s < 0.6 {
		t.Errorf("levels 1-3: %.0f%% of the people, want most", 100*s)
	}
	if s := share(4); s < 0.03 || s > 0.25 {
		t.Errorf("level 4: %.1f%%, want some", 100*s)
	}
	if s := share(5); s <= 0 || s > 0.06 {
		t.Errorf("level 5: %.1f%%, want a few", 100*s)
	}
	if s := share(0); s > 0.15 {
		t.Errorf("level 0: %.1f%%, want few", 100*s)
	}
}

func TestDemoSmallConfigurations(t *testing.T) {
	for _, cfg := range []demoConfig{
		{People: 1, Departments: 1, Years: 1, Seed: 7, Today: demoToday},
		{People: 50, Departments: 40, Years: 3, Seed: 3, Today: demoToday},
	} {
		lines := generateDemo(cfg)
		regs := 0
		depts := map[string]bool{}
		for _, l := range lines {
			if l.Op == "registerPerson" {
				regs++
				depts[l.Input["department"].(string)] = true
			}
		}
		if regs != cfg.People || len(depts) > cfg.Departments {
			t.Errorf("%+v: %d registrations in %d departments", cfg, regs, len(depts))
		}
	}
}
