package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// accomplishmentOf runs a recording command with --json and returns the
// accomplishment id from the payload.
func accomplishmentOf(t *testing.T, mutation string, args ...string) string {
	t.Helper()
	var res map[string]struct {
		Position         string
		AccomplishmentID string
	}
	mustJSON(t, &res, args...)
	p := res[mutation]
	if p.AccomplishmentID == "" || p.Position == "" {
		t.Fatalf("%s payload = %+v", mutation, res)
	}
	return p.AccomplishmentID
}

func TestMutationCommands(t *testing.T) {
	t.Parallel()
	out := mustCtl(t, "register-person", "--id", "MUT1", "--name", "Aiko Sato", "--department", "Mutation Ops", "--joinedOn", "2015-04-01")
	if !strings.Contains(out, "MUT1 (Aiko Sato, Mutation Ops)") || !regexp.MustCompile(`position\s+\d+`).MatchString(out) {
		t.Errorf("register-person printed:\n%s", out)
	}
	mustCtl(t, "register-person", "--id", "MUT2", "--name", "Ren Kato", "--department", "Mutation Ops", "--joinedOn", "2020-04-01")
	// A department no one has been in is recorded, with a warning on stderr.
	if code, _, errs := ctl(t, "register-person", "--id", "MUT3", "--name", "Mio Ueda", "--department", "Mutation Opps", "--joinedOn", "2020-04-01"); code != 0 ||
		!strings.Contains(errs, `warning: department "Mutation Opps" is new: no one has been in it before (did you mean "Mutation Ops"?)`) {
		t.Errorf("a new department: exit %d, stderr %q", code, errs)
	}

	// Bad input is refused with the code, message and field.
	code, _, errs := ctl(t, "register-person", "--id", "MUT1", "--name", "X", "--department", "D", "--joinedOn", "2015-04-01")
	if code != 1 || !strings.Contains(errs, "BAD_USER_INPUT: ") || !strings.Contains(errs, "(field: id)") {
		t.Errorf("taken id: exit %d, stderr %q", code, errs)
	}
	code, _, errs = ctl(t, "record-engagement", "--personId", "MUT1", "--field", "SERVICE_DESK", "--title", "t", "--role", "LEAD",
		"--startedOn", "2016-01-01", "--completedOn", "2016-12-31", "--outcome", "SUCCESSFUL", "--complexity", "OPERATION_SYSTEMS")
	if code != 1 || !strings.Contains(errs, "BAD_USER_INPUT") || !strings.Contains(errs, "(field: complexity)") {
		t.Errorf("code not used by the field: exit %d, stderr %q", code, errs)
	}
	// Missing required flags and malformed values are refused before sending.
	code, _, errs = ctl(t, "assess-theme", "--theme", "STRESS_MANAGEMENT", "--peakHeadcount", "1")
	if code != 2 || !strings.Contains(errs, "flag provided but not defined") {
		t.Errorf("foreign flag: exit %d, %q", code, errs)
	}
	code, _, errs = ctl(t, "assess-theme", "--theme", "STRESS_MANAGEMENT", "--assessedOn", "2020-13-01")
	if code != 2 || !strings.Contains(errs, "--personId is required") || !strings.Contains(errs, "--proficiency is required") ||
		!strings.Contains(errs, `--assessedOn: "2020-13-01" is not a date`) || strings.Contains(errs, "--assessedOn is required") {
		t.Errorf("missing flags: exit %d, %q (a malformed value is not also missing)", code, errs)
	}
	code, _, errs = ctl(t, "record-engagement", "--personId", "MUT1", "--peakHeadcount", "many")
	if code != 2 || !strings.Contains(errs, `--peakHeadcount: "many" is not a whole number`) {
		t.Errorf("bad int: exit %d, %q", code, errs)
	}

	// A level-3 engagement (lower-case enums are accepted), a theme, a succession item, mentoring.
	eng := accomplishmentOf(t, "recordEngagement", "record-engagement", "--personId", "MUT1", "--field", "system_operation",
		"--title", "Core banking operations", "--role", "LEAD", "--startedOn", "2016-04-01", "--completedOn", "2017-03-31",
		"--outcome", "SUCCESSFUL", "--withinBudget", "--peakHeadcount", "8", "--annualContractValueYen", "90000000",
		"--complexity", "OPERATION_REQUIREMENTS,ORGANIZATION")
	if !strings.HasPrefix(eng, "MUT1.") {
		t.Errorf("accomplishment id %q", eng)
	}
	mustCtl(t, "assess-theme", "--personId", "MUT1", "--theme", "SYSTEM_OPERATION_MANAGEMENT", "--proficiency", "PRACTICE", "--assessedOn", "2016-06-01")
	out = mustCtl(t, "assess-theme", "--personId", "MUT1", "--theme", "SERVICE_LEVEL_MANAGEMENT", "--proficiency", "GUIDES_SUBORDINATES", "--assessedOn", "2017-06-01")
	if !regexp.MustCompile(`accomplishment\s+MUT1\.\S+ \(theme assessment\)`).MatchString(out) {
		t.Errorf("assess-theme printed:\n%s", out)
	}
	mustCtl(t, "record-technology-succession", "--personId", "MUT1", "--kind", "EXTERNAL_PAPER", "--title", "Runbooks at scale",
		"--occurredOn", "2017-09-01", "--fields", "SYSTEM_OPERATION,NETWORK_OPERATION")
	dev := accomplishmentOf(t, "recordSubordinateDevelopment", "record-subordinate-development", "--personId", "MUT1", "--kind", "MENTORING",
		"--occurredOn", "2017-10-01", "--subordinateId", "MUT2")

	var p struct{ Person personView }
	mustJSON(t, &p, "person", "MUT1", "--as-of", "2018-01-01")
	if lvl := levelOf(p.Person, "SYSTEM_OPERATION"); lvl != 4 {
		t.Fatalf("SYSTEM_OPERATION level = %d, want 4: %+v", lvl, p.Person.Standing)
	}

	// amend: only the given fields change; --clear sends explicit nulls.
	mustCtl(t, "amend-accomplishment", "--accomplishmentId", eng, "--outcome", "ONGOING", "--clear", "completedOn,peakHeadcount")
	mustJSON(t, &p, "person", "MUT1", "--as-of", "2018-01-01")
	if lvl := levelOf(p.Person, "SYSTEM_OPERATION"); lvl != 2 {
		t.Errorf("after amending to ONGOING: level %d, want 2 (the LEAD role still counts from startedOn)", lvl)
	}
	code, _, errs = ctl(t, "amend-accomplishment", "--accomplishmentId", eng, "--clear", "title")
	if code != 2 || !strings.Contains(errs, "--clear title: only") {
		t.Errorf("clearing a required field: exit %d %q", code, errs)
	}
	mustCtl(t, "amend-accomplishment", "--accomplishmentId", eng, "--outcome", "SUCCESSFUL", "--completedOn", "2017-03-31")
	mustJSON(t, &p, "person", "MUT1", "--as-of", "2018-01-01")
	if lvl := levelOf(p.Person, "SYSTEM_OPERATION"); lvl != 4 {
		t.Errorf("after amending back: level %d, want 4", lvl)
	}
	// A list given empty is emptied: the engagement meets no criteria.
	mustCtl(t, "amend-accomplishment", "--accomplishmentId", eng, "--complexity", "")
	mustJSON(t, &p, "person", "MUT1", "--as-of", "2018-01-01")
	if lvl := levelOf(p.Person, "SYSTEM_OPERATION"); lvl != 2 {
		t.Errorf("after emptying the complexity: level %d, want 2", lvl)
	}
	mustCtl(t, "amend-accomplishment", "--accomplishmentId", eng, "--complexity", "OPERATION_REQUIREMENTS,ORGANIZATION")
	// retract: the mentoring was needed for level 4.
	out = mustCtl(t, "retract-accomplishment", "--accomplishmentId", dev, "--reason", "recorded for the wrong person")
	if !strings.Contains(out, "retracted") {
		t.Errorf("retract printed:\n%s", out)
	}
	mustJSON(t, &p, "person", "MUT1", "--as-of", "2018-01-01")
	if lvl := levelOf(p.Person, "SYSTEM_OPERATION"); lvl != 3 {
		t.Errorf("after retracting the mentoring: level %d, want 3", lvl)
	}
	code, _, errs = ctl(t, "retract-accomplishment", "--accomplishmentId", "MUT1.nope", "--reason", "x")
	if code != 1 || !strings.Contains(errs, "NOT_FOUND: ") {
		t.Errorf("unknown accomplishment: exit %d %q", code, errs)
	}

	// idempotency: the same key records once and returns the first position.
	first := mustCtl(t, "transfer-person", "--personId", "MUT2", "--department", "Mutation Network", "--effectiveOn", "2022-01-01", "--idempotencyKey", "mut-transfer")
	again := mustCtl(t, "transfer-person", "--personId", "MUT2", "--department", "Mutation Network", "--effectiveOn", "2022-01-01", "--idempotencyKey", "mut-transfer")
	if first != again {
		t.Errorf("idempotent transfer:\n%s\nthen\n%s", first, again)
	}
	out = mustCtl(t, "record-departure", "--personId", "MUT2", "--effectiveOn", "2024-01-01")
	if !strings.Contains(out, "MUT2 (Ren Kato, no department today)") {
		t.Errorf("record-departure printed:\n%s", out)
	}
	mustJSON(t, &p, "person", "MUT2", "--as-of", "2023-01-01")
	if p.Person.Department == nil || *p.Person.Department != "Mutation Network" || len(p.Person.Memberships) != 2 {
		t.Errorf("MUT2 in 2023: %+v", p.Person)
	}
}

func levelOf(p personView, field string) int {
	for _, s := range p.Standing {
		if s.Field == field {
			return s.Level
		}
	}
	return -1
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	base, _ := needServer(t)
	var out, errb bytes.Buffer
	env := map[string]string{"CAREER_SERVER": base}
	code := run([]string{"person", "E1"}, func(k string) string { return env[k] }, nil, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "UNAUTHENTICATED: missing bearer token (give --token or set $CAREER_TOKEN)") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	code = run([]string{"person", "E1", "--token", "forged"}, func(k string) string { return env[k] }, nil, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "UNAUTHENTICATED: invalid bearer token") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}

func TestPersonCommand(t *testing.T) {
	t.Parallel()
	mustCtl(t, "register-person", "--id", "PER1", "--name", "Haruto Suzuki", "--department", "Person Desk", "--joinedOn", "2018-04-01")
	registered := time.Now()
	time.Sleep(20 * time.Millisecond)
	mustCtl(t, "record-engagement", "--personId", "PER1", "--field", "SERVICE_DESK", "--title", "Helpdesk rota", "--role", "PRACTITIONER",
		"--startedOn", "2018-05-01", "--completedOn", "2018-12-31", "--outcome", "SUCCESSFUL")
	mustCtl(t, "assess-theme", "--personId", "PER1", "--theme", "SERVICE_SUPPORT_MANAGEMENT", "--proficiency", "BASIC", "--assessedOn", "2018-06-01")
	// A back-dated transfer, recorded after the registration.
	mustCtl(t, "transfer-person", "--personId", "PER1", "--department", "Person Network", "--effectiveOn", "2019-01-01")

	out := mustCtl(t, "person", "PER1")
	for _, want := range []string{
		"PER1  Haruto Suzuki", "joined 2018-04-01; department today: Person Network",
		"SYSTEM_OPERATION: level 2 since 2018-06-01", "SERVICE_DESK: level 2 since 2018-06-01",
		"next: level 3", "not met", "history", "2018-06-01  SERVICE_DESK", "0 -> 2",
		"Person Desk     2018-04-01 .. before 2019-01-01", "Person Network  2019-01-01 .. now",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("person output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`engagement\s+not met\s+needs \S`).MatchString(out) {
		t.Errorf("no missing sentence for the level-3 engagement:\n%s", out)
	}
	out = mustCtl(t, "person", "--as-of", "2018-05-15", "PER1")
	if !strings.Contains(out, "SERVICE_DESK: level 0") || !strings.Contains(out, "department on 2018-05-15: Person Desk") {
		t.Errorf("as of 2018-05-15:\n%s", out)
	}
	var p struct{ Person personView }
	mustJSON(t, &p, "person", "PER1", "--known-at", registered.UTC().Format(time.RFC3339Nano))
	if levelOf(p.Person, "SERVICE_DESK") != 0 || len(p.Person.History) != 0 {
		t.Errorf("known at registration: %+v, history %+v", p.Person.Standing, p.Person.History)
	}
	// The departments as known then too: the transfer recorded later is
	// left out, so that the report agrees with its standing.
	if dept, _ := json.Marshal(p.Person.Department); string(dept) != `"Person Desk"` || len(p.Person.Memberships) != 1 || p.Person.Memberships[0].To != nil {
		t.Errorf("departments known at registration: %s, memberships %+v; want Person Desk alone", dept, p.Person.Memberships)
	}
	atRegistration := registered.UTC().Format(time.RFC3339Nano)
	out = mustCtl(t, "person", "PER1", "--known-at", atRegistration)
	if !strings.Contains(out, "joined 2018-04-01; department at "+atRegistration+": Person Desk") ||
		!strings.Contains(out, "standing, history and departments as known at "+atRegistration) ||
		!strings.Contains(out, "Person Desk  2018-04-01 .. now") || strings.Contains(out, "Person Network") {
		t.Errorf("known at the registration: the departments as known then, Person Desk alone:\n%s", out)
	}
	if strings.Contains(out, "nothing was known") {
		t.Errorf("known at the registration's own instant:\n%s", out)
	}
	if at, err := time.Parse(time.RFC3339Nano, p.Person.RecordedAt); err != nil || at.After(registered) || registered.Sub(at) > time.Minute {
		t.Errorf("recordedAt %q (%v), want the registration's instant, just before %s", p.Person.RecordedAt, err, registered)
	}
	before := registered.Add(-time.Hour).UTC().Format(time.RFC3339)
	out = mustCtl(t, "person", "PER1", "--known-at", before)
	if !strings.Contains(out, "PER1  Haruto Suzuki") || !strings.Contains(out, "nothing was known of PER1 at "+before) ||
		!strings.Contains(out, "standing, history and departments as known at "+before) ||
		!strings.Contains(out, "department at "+before+": none") || !regexp.MustCompile(`departments\n  \(none\)`).MatchString(out) ||
		!strings.Contains(out, "SERVICE_DESK: level 0") || !strings.Contains(out, "SYSTEM_OPERATION: level 0") {
		t.Errorf("known before the registration:\n%s", out)
	}
	// A malformed instant is refused once, though two fields use it.
	// A malformed instant is a usage error naming the flag, told once and
	// never sent.
	for _, args := range [][]string{{"person", "PER1"}, {"people"}, {"distribution", "--field", "SERVICE_DESK"}} {
		code, _, errs := ctl(t, append(args, "--known-at", "2026-11-27T05:30")...)
		if code != 2 || strings.Count(errs, `--known-at: "2026-11-27T05:30" is not an RFC 3339 instant`) != 1 || strings.Contains(errs, "BAD_USER_INPUT") {
			t.Errorf("%v with a malformed --known-at: exit %d, stderr %q; want one usage error", args, code, errs)
		}
	}
	// An instant later than the server's clock is refused by careerd, told
	// once with the field and the rule: what will be known then is not
	// known yet.
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, args := range [][]string{{"person", "PER1"}, {"people"}, {"distribution", "--field", "SERVICE_DESK"}} {
		code, out, errs := ctl(t, append(args, "--known-at", later)...)
		if code != 1 || out != "" || strings.Count(errs, "BAD_USER_INPUT: knownAt: must not be later than now (the server's clock reads ") != 1 ||
			!strings.Contains(errs, "(field: knownAt)") {
			t.Errorf("%v with a --known-at an hour ahead: exit %d, stdout %q, stderr %q; want the server's refusal once", args, code, out, errs)
		}
	}
	// Every accomplishment with its id, what it says and who recorded it.
	out = mustCtl(t, "accomplishments", "PER1")
	for _, want := range []string{"ENGAGEMENT", `SERVICE_DESK "Helpdesk rota" (PRACTITIONER, SUCCESSFUL, not within budget)`, "2018-05-01 .. 2018-12-31",
		"THEME_ASSESSMENT", "SERVICE_SUPPORT_MANAGEMENT at BASIC", "2 accomplishments"} {
		if !strings.Contains(out, want) {
			t.Errorf("accomplishments output lacks %q:\n%s", want, out)
		}
	}
	var accs struct {
		TotalCount      int
		Accomplishments []struct{ ID, Kind string }
	}
	mustJSON(t, &accs, "accomplishments", "PER1")
	if accs.TotalCount != 2 || len(accs.Accomplishments) != 2 || !strings.HasPrefix(accs.Accomplishments[0].ID, "PER1.") {
		t.Errorf("accomplishments --json: %+v", accs)
	}
	if code, _, errs := ctl(t, "accomplishments", "NOBODY"); code != 1 || !strings.Contains(errs, "NOBODY") {
		t.Errorf("accomplishments of an unknown person: %d %q", code, errs)
	}
	code, _, errs := ctl(t, "person", "NOBODY")
	if code != 1 || !strings.Contains(errs, "NOT_FOUND: person NOBODY not found") {
		t.Errorf("unknown person: %d %q", code, errs)
	}
	if code, _, _ := ctl(t, "person"); code == 0 {
		t.Error("person without an id succeeded")
	}
}

func TestDistributionAndPeople(t *testing.T) {
	t.Parallel()
	depts := []string{"Dist A", "Dist B"}
	for i := range 7 {
		id := fmt.Sprintf("DST%d", i)
		mustCtl(t, "register-person", "--id", id, "--name", "Person "+id, "--department", depts[i%2], "--joinedOn", "2019-01-01")
		if i < 3 {
			mustCtl(t, "record-engagement", "--personId", id, "--field", "NETWORK_OPERATION", "--title", "NOC shift", "--role", "PARTICIPANT",
				"--startedOn", "2019-02-01", "--outcome", "ONGOING")
			mustCtl(t, "assess-theme", "--personId", id, "--theme", "INFORMATION_ASSET_MANAGEMENT", "--proficiency", "BASIC", "--assessedOn", "2019-03-01")
		}
	}
	if out := mustCtl(t, "departments"); !strings.Contains(out, "Dist A\nDist B\n") {
		t.Errorf("departments:\n%s", out)
	}
	if code, _, stderr := ctl(t, "distribution", "--field", "NETWORK_OPERATION", "--department", "Dist C"); code == 0 ||
		!strings.Contains(stderr, `no one has been in department "Dist C"`) {
		t.Errorf("a department no one has been in: exit %d, stderr %q", code, stderr)
	}
	var before struct{ SkillDistribution []distributionCell }
	mustJSON(t, &before, "distribution", "--field", "NETWORK_OPERATION", "--department", "Dist A", "--known-at", "2000-01-01T00:00:00Z")
	if len(before.SkillDistribution) != 0 {
		t.Errorf("distribution as known before anyone was registered: %+v, want none", before.SkillDistribution)
	}
	for _, cmd := range []string{"distribution", "people"} {
		if code, _, stderr := ctl(t, cmd, "--field", "NETWORK_OPERATION", "--department", ""); code != 2 || !strings.Contains(stderr, "--department must not be empty") {
			t.Errorf("%s --department \"\": exit %d, stderr %q; want a usage error", cmd, code, stderr)
		}
	}
	out := mustCtl(t, "distribution", "--field", "NETWORK_OPERATION", "--department", "Dist A")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^DEPARTMENT\s+L0\s+L1\s+L2\s+L3\s+L4\s+L5\s+TOTAL$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^Dist A\s+2\s+2\s+0\s+0\s+0\s+0\s+4$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^TOTAL\s+2\s+2\s+0\s+0\s+0\s+0\s+4$`).MatchString(lines[2]) {
		t.Errorf("distribution:\n%s", out)
	}
	// A trend is the distribution on each of its dates, added up over the
	// departments (Dist A's two people reach level 1 on 2019-03-01).
	out = mustCtl(t, "trend", "--field", "NETWORK_OPERATION", "--department", "Dist A", "--from", "2018-12-01", "--to", "2019-04-01")
	if want := `ON          L0  L1  L2  L3  L4  L5  TOTAL
2018-12-01   0   0   0   0   0   0      0
2019-01-01   4   0   0   0   0   0      4
2019-02-01   4   0   0   0   0   0      4
2019-03-01   2   2   0   0   0   0      4
2019-04-01   2   2   0   0   0   0      4
`; out != want {
		t.Errorf("trend:\n%s\nwant\n%s", out, want)
	}
	out = mustCtl(t, "trend", "--field", "network_operation", "--from", "2019-01-01", "--to", "2021-01-01", "--interval", "year")
	if !regexp.MustCompile(`(?m)^2019-01-01(\s+\d+){7}\n2020-01-01(\s+\d+){7}\n2021-01-01(\s+\d+){7}\n$`).MatchString(out) {
		t.Errorf("yearly trend of every department:\n%s", out)
	}
	var tr struct {
		SkillTrend []struct {
			On    string
			Cells []distributionCell
		}
	}
	mustJSON(t, &tr, "trend", "--field", "NETWORK_OPERATION", "--department", "Dist B", "--from", "2019-03-01", "--to", "2019-03-01", "--interval", "DAY")
	if len(tr.SkillTrend) != 1 || tr.SkillTrend[0].On != "2019-03-01" || len(tr.SkillTrend[0].Cells) != 2 {
		t.Errorf("trend as JSON: %+v", tr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"trend", "--field", "NETWORK_OPERATION", "--from", "2019-01-01"}, "--to is required"},
		{[]string{"trend", "--field", "NETWORK_OPERATION", "--from", "2019-01-01", "--to", "2019-02-01", "--interval", "FORTNIGHT"}, `--interval: "FORTNIGHT" is not a valid Interval`},
		{[]string{"trend", "--field", "NETWORK_OPERATION", "--from", "2019-13-01", "--to", "2019-02-01"}, `--from: "2019-13-01" is not a date`},
	} {
		if code, _, stderr := ctl(t, c.args...); code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want a usage error saying %s", c.args, code, stderr, c.want)
		}
	}
	if code, _, stderr := ctl(t, "trend", "--field", "NETWORK_OPERATION", "--from", "2019-02-01", "--to", "2019-01-01"); code == 0 || !strings.Contains(stderr, "must not be before from") {
		t.Errorf("a trend that ends before it starts: exit %d, stderr %q", code, stderr)
	}

	var d struct{ SkillDistribution []distributionCell }
	mustJSON(t, &d, "distribution", "--field", "NETWORK_OPERATION", "--as-of", "2019-02-15")
	got := map[string]int{}
	for _, c := range d.SkillDistribution {
		if strings.HasPrefix(c.Department, "Dist ") {
			got[fmt.Sprintf("%s/%d", c.Department, c.Level)] = c.Count
		}
	}
	if got["Dist A/0"] != 4 || got["Dist B/0"] != 3 || got["Dist A/1"] != 0 {
		t.Errorf("distribution as of 2019-02-15: %v", got)
	}

	var people struct {
		TotalCount int
		People     []personRow
	}
	mustJSON(t, &people, "people", "--department", "Dist B")
	if people.TotalCount != 3 || len(people.People) != 3 || people.People[0].ID != "DST1" {
		t.Errorf("people in Dist B: %+v", people)
	}
	mustJSON(t, &people, "people", "--department", "Dist A", "--field", "NETWORK_OPERATION", "--min-level", "1")
	if people.TotalCount != 2 || len(people.People) != 2 {
		t.Errorf("people at level >= 1: %+v", people)
	}
	out = mustCtl(t, "people", "--department", "Dist A")
	if !regexp.MustCompile(`(?m)^ID\s+NAME\s+DEPARTMENT\s+JOINED\s+SYSTEM_OPERATION\s+NETWORK_OPERATION\s+SERVICE_DESK$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^DST0\s+Person DST0\s+Dist A\s+2019-01-01\s+1\s+1\s+1$`).MatchString(out) || !strings.HasSuffix(out, "4 people\n") {
		t.Errorf("people table:\n%s", out)
	}
	// Without a field, the level in any field, as the API has it.
	mustJSON(t, &people, "people", "--department", "Dist A", "--min-level", "1")
	if people.TotalCount != 2 {
		t.Errorf("people at level >= 1 in any field: %+v", people)
	}
	// A level above the catalogue's highest (5, the built-in one's) is a
	// usage error naming the flag and careerd's rule, as one no catalogue
	// has is; it was careerd's refusal of minLevel, exit 1.
	mustJSON(t, &people, "people", "--department", "Dist A", "--min-level", "5")
	if people.TotalCount != 0 {
		t.Errorf("people at level 5: %+v", people)
	}
	for _, level := range []string{"6", "9"} {
		if code, out, stderr := ctl(t, "people", "--min-level", level); code != 2 || out != "" ||
			!strings.Contains(stderr, "careerctl people: --min-level: "+level+" is not a level of careerd's catalogue: must be between 0 and 5\n") {
			t.Errorf("--min-level %s: exit %d, stdout %q, stderr %q; want a usage error saying careerd's rule", level, code, out, stderr)
		}
	}
}

func TestPeopleAllPages(t *testing.T) {
	t.Parallel()
	// 120 people take two pages of 100; registering through the GraphQL
	// commands keeps this test independent of the bulk endpoint.
	for i := range 120 {
		id := fmt.Sprintf("PG%03d", i)
		mustCtl(t, "register-person", "--id", id, "--name", "Paged "+id, "--department", "Paging Dept", "--joinedOn", "2020-01-01")
	}
	time.Sleep(10 * time.Millisecond)
	then := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(10 * time.Millisecond)
	for i := 120; i < 125; i++ {
		id := fmt.Sprintf("PG%03d", i)
		mustCtl(t, "register-person", "--id", id, "--name", "Paged "+id, "--department", "Paging Dept", "--joinedOn", "2020-01-01")
	}
	var people struct {
		TotalCount int
		People     []struct{ ID string }
	}
	mustJSON(t, &people, "people", "--department", "Paging Dept")
	if people.TotalCount != 125 || len(people.People) != 125 || people.People[124].ID != "PG124" {
		t.Errorf("paged: total %d, got %d", people.TotalCount, len(people.People))
	}
	raw, _ := json.Marshal(people.People[:2])
	if string(raw) != `[{"ID":"PG000"},{"ID":"PG001"}]` {
		t.Errorf("first people: %s", raw)
	}
	// As known before the last five were registered: two pages of the
	// list given then.
	mustJSON(t, &people, "people", "--department", "Paging Dept", "--known-at", then)
	if people.TotalCount != 120 || len(people.People) != 120 || people.People[119].ID != "PG119" {
		t.Errorf("paged as known at %s: total %d, got %d", then, people.TotalCount, len(people.People))
	}
}

func TestHealthCommand(t *testing.T) {
	t.Parallel()
	code, out, errs := ctl(t, "health", "--ready")
	if code != 0 || !strings.Contains(out, `"ready"`) {
		t.Errorf("health --ready: %d %q %q", code, out, errs)
	}
	if code, out, _ := ctl(t, "health"); code != 0 || !strings.Contains(out, `"ok"`) {
		t.Errorf("health: %d %q", code, out)
	}
}

// TestMutationsWorkWithACareerdBeforeWarnings: a careerd that does not know
// PersonPayload.warnings refuses the field at validation (nothing
// recorded); careerctl asks again without it.
func TestMutationsWorkWithACareerdBeforeWarnings(t *testing.T) {
	srv, asked := olderCareerd(t, "PersonPayload", "warnings",
		`{"data":{"registerPerson":{"position":"7","person":{"id":"OLD9","name":"Old Server","department":"Ops"}}}}`)
	code, out, errs := runAgainst(srv.URL, "register-person", "--id", "OLD9", "--name", "Old Server", "--department", "Ops", "--joinedOn", "2020-01-01")
	if code != 0 || !strings.Contains(out, "OLD9 (Old Server, Ops)") || len(*asked) != 2 {
		t.Errorf("against an older careerd: exit %d, %q %q, %d requests", code, out, errs, len(*asked))
	}
}

// TestAnAmendedThenRetractedAccomplishmentSaysBoth: the table names who
// amended an accomplishment and who then retracted it.
func TestAnAmendedThenRetractedAccomplishmentSaysBoth(t *testing.T) {
	t.Parallel()
	mustCtl(t, "register-person", "--id", "AMR1", "--name", "Aoi Mori", "--department", "Amend Dept", "--joinedOn", "2019-01-01")
	theme := accomplishmentOf(t, "assessTheme", "assess-theme", "--personId", "AMR1", "--theme", "SERVICE_SUPPORT_MANAGEMENT",
		"--proficiency", "BASIC", "--assessedOn", "2020-01-01", "--json")
	mustCtl(t, "amend-accomplishment", "--accomplishmentId", theme, "--proficiency", "PRACTICE")
	mustCtl(t, "retract-accomplishment", "--accomplishmentId", theme, "--reason", "recorded twice")
	out := mustCtl(t, "accomplishments", "AMR1")
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(theme) + `\s.*at PRACTICE.*\samended by \S+, then retracted by \S+: "recorded twice"$`).MatchString(out) {
		t.Errorf("an amended, then retracted accomplishment:\n%s", out)
	}
}

// TestPersonWorksWithACareerdBeforeRecordedAt: a careerd that does not know
// Person.recordedAt refuses the field at validation; careerctl person asks
// again without it, and an empty standing as known at an instant (what
// such a careerd answers before the registration was recorded) still says
// that nothing was known.
func TestPersonWorksWithACareerdBeforeRecordedAt(t *testing.T) {
	srv, asked := olderCareerd(t, "Person", "recordedAt", `{"data":{"person":{"id":"OLD1","name":"Old Server","joinedOn":"2020-01-01","department":"Ops",`+
		`"memberships":[{"department":"Ops","from":"2020-01-01","to":null}],"standing":[],"history":[]}}}`)
	code, out, errs := runAgainst(srv.URL, "person", "OLD1", "--known-at", "2020-01-01T00:00:00Z")
	if code != 0 || !strings.Contains(out, "OLD1  Old Server") || !strings.Contains(out, "nothing was known of OLD1 at 2020-01-01T00:00:00Z") || len(*asked) != 2 {
		t.Errorf("against an older careerd: exit %d, %q %q, %d requests", code, out, errs, len(*asked))
	}
}

// TestPersonWorksWithACareerdBeforeDepartmentKnownAt: a careerd whose
// department and memberships take no knownAt refuses the argument at
// validation; careerctl person asks again without it and says that the
// departments are as known now.
func TestPersonWorksWithACareerdBeforeDepartmentKnownAt(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Query string }
		json.NewDecoder(r.Body).Decode(&req) //nolint:errcheck // the test's own requests
		mu.Lock()
		asked = append(asked, req.Query)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(req.Query, "department(asOf: $asOf, knownAt:") || strings.Contains(req.Query, "memberships(knownAt:") {
			io.WriteString(w, `{"errors":[{"message":"Unknown argument \"knownAt\" on field \"Person.department\".","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}},`+ //nolint:errcheck
				`{"message":"Unknown argument \"knownAt\" on field \"Person.memberships\".","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`)
			return
		}
		io.WriteString(w, `{"data":{"person":{"id":"OLD2","name":"Old Server","joinedOn":"2020-01-01","recordedAt":"2020-01-01T00:00:00Z","department":"Ops",`+ //nolint:errcheck
			`"memberships":[{"department":"Ops","from":"2020-01-01","to":null}],"standing":[],"history":[]}}}`)
	}))
	t.Cleanup(srv.Close)
	code, out, errs := runAgainst(srv.URL, "person", "OLD2", "--known-at", "2021-01-01T00:00:00Z")
	if code != 0 || !strings.Contains(out, "standing and history as known at 2021-01-01T00:00:00Z; departments as known now") ||
		!strings.Contains(out, "department today: Ops") || len(asked) != 2 ||
		strings.Contains(asked[1], "department(asOf: $asOf, knownAt:") || strings.Contains(asked[1], "memberships(knownAt:") || !strings.Contains(asked[1], "recordedAt") {
		t.Errorf("against a careerd before department(knownAt:): exit %d, %q %q, asked %q", code, out, errs, asked)
	}
}

// olderCareerd is a careerd of a release before typ.field: it refuses a
// query that asks for the field at validation, as gqlgen does, and answers
// any other with answer. asked holds the queries it was sent. It stops
// when the test ends.
func olderCareerd(t *testing.T, typ, field, answer string) (srv *httptest.Server, asked *[]string) {
	t.Helper()
	var mu sync.Mutex
	queries := []string{}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Query string }
		json.NewDecoder(r.Body).Decode(&req) //nolint:errcheck // the test's own requests
		mu.Lock()
		queries = append(queries, req.Query)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(req.Query, field) {
			fmt.Fprintf(w, `{"errors":[{"message":"Cannot query field \"%s\" on type \"%s\".","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`, field, typ)
			return
		}
		io.WriteString(w, answer) //nolint:errcheck
	}))
	t.Cleanup(srv.Close)
	return srv, &queries
}
