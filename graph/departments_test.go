package graph_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph"
)

// TestDepartmentFilters: a department filter names a department someone
// has been in. A misspelt one is refused, naming the field and the rule and
// the likely name, rather than answering an empty list that looks true; a
// department everyone has left is still a department.
func TestDepartmentFilters(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm, h := e.token(t, admin), e.token(t, hr)
		for _, p := range []struct{ id, dept string }{{"D1", "Operations"}, {"D2", "Network"}, {"D3", "Service Desk"}} {
			e.mutate(t, adm, &mRegister, map[string]any{"id": p.id, "name": "Person " + p.id, "department": p.dept, "joinedOn": "2020-01-01"}, "")
		}
		e.mutate(t, adm, &mTransfer, map[string]any{"personId": "D3", "department": "Operations", "effectiveOn": "2024-01-01"}, "")

		var got struct{ Departments []string }
		e.gql(t, h, `{ departments }`, nil).ok(t).decode(t, &got)
		if want := []string{"Network", "Operations", "Service Desk"}; !slices.Equal(got.Departments, want) {
			t.Errorf("departments = %q, want %q", got.Departments, want)
		}
		e.gql(t, e.token(t, managerB), `{ departments }`, nil).ok(t).decode(t, &got)
		if want := []string{"Network"}; !slices.Equal(got.Departments, want) {
			t.Errorf("manager B's departments = %q, want %q", got.Departments, want)
		}

		queries := map[string]string{
			"people":            `query($d: String) { people(department: $d) { totalCount } }`,
			"skillDistribution": `query($d: String) { skillDistribution(field: SERVICE_DESK, department: $d) { count } }`,
			"skillTrend":        `query($d: String) { skillTrend(field: SERVICE_DESK, department: $d, from: "2025-01-01", to: "2026-01-01", interval: YEAR) { on } }`,
		}
		for name, q := range queries {
			for _, c := range []struct{ dept, hint string }{
				{"Opertions", `did you mean "Operations"?`},
				{"network", `did you mean "Network"?`},
				{"Facilities", ""},
			} {
				r := e.gql(t, h, q, map[string]any{"d": c.dept})
				if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != "department" ||
					!strings.Contains(r.Errors[0].rule(), "someone has been in") || !strings.Contains(r.Errors[0].Message, `"`+c.dept+`"`) {
					t.Errorf("%s of %q: errors %+v, want BAD_USER_INPUT on department", name, c.dept, r.Errors)
					continue
				}
				if hint := strings.Contains(r.Errors[0].Message, "did you mean"); hint != (c.hint != "") || !strings.Contains(r.Errors[0].Message, c.hint) {
					t.Errorf("%s of %q: message %q, want the hint %q", name, c.dept, r.Errors[0].Message, c.hint)
				}
			}
			// Given empty, a filter is a mistake (an unset variable), not
			// every department.
			for _, tok := range []string{h, e.token(t, managerA)} {
				for _, empty := range []string{"", "  "} {
					if r := e.gql(t, tok, q, map[string]any{"d": empty}); len(r.Errors) != 1 || r.Errors[0].field() != "department" ||
						!strings.Contains(r.Errors[0].rule(), "must not be empty") {
						t.Errorf("%s of %q: errors %+v, want BAD_USER_INPUT: must not be empty", name, empty, r.Errors)
					}
				}
			}
			// Service Desk has no one today, and is still a department.
			e.gql(t, h, q, map[string]any{"d": "Service Desk"}).ok(t)
			// A manager's own department is theirs to ask for, whoever is in it.
			e.gql(t, e.token(t, managerA), q, map[string]any{"d": "Operations"}).ok(t)
		}
		var people struct{ People struct{ TotalCount int } }
		e.gql(t, h, `{ people(department: "Service Desk", asOf: "2021-01-01") { totalCount } }`, nil).ok(t).decode(t, &people)
		if people.People.TotalCount != 1 {
			t.Errorf("people in Service Desk in 2021 = %d, want 1", people.People.TotalCount)
		}
	})
}

// TestDepartmentFilterEdges: a name longer than a department can be is
// refused by its length before any comparison; an hr token that carries a
// department is checked like any hr's; and a department an earlier version
// recorded with a trailing space, as departments lists it, is a name the
// filter takes.
func TestDepartmentFilterEdges(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm, h := e.token(t, admin), e.token(t, hr)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "D1", "name": "Person D1", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		q := `query($d: String) { skillDistribution(field: SERVICE_DESK, department: $d) { department count } }`

		r := e.gql(t, h, q, map[string]any{"d": strings.Repeat("x", domain.MaxDepartmentLength+1)})
		if len(r.Errors) != 1 || r.Errors[0].field() != "department" || !strings.Contains(r.Errors[0].rule(), "at most 100 characters") {
			t.Errorf("a 101-character department: errors %+v, want its length refused", r.Errors)
		}

		hrOfGhost := graph.Principal{Subject: "hr-ghost", Roles: []string{graph.RoleHR}, Department: "Ghost"}
		r = e.gql(t, e.token(t, hrOfGhost), q, map[string]any{"d": "Ghost"})
		if len(r.Errors) != 1 || r.Errors[0].field() != "department" {
			t.Errorf("hr naming the department of their token, which no one has been in: errors %+v, want BAD_USER_INPUT", r.Errors)
		}

		registerAsEarlierReleasesDid(t, e, "OLD1", "QA Dept ")
		var got struct{ Departments []string }
		e.gql(t, h, `{ departments }`, nil).ok(t).decode(t, &got)
		if !slices.Contains(got.Departments, "QA Dept ") {
			t.Fatalf("departments = %q, want the untrimmed name listed", got.Departments)
		}
		var dist struct{ SkillDistribution []struct{ Department string } }
		e.gql(t, h, q, map[string]any{"d": "QA Dept "}).ok(t).decode(t, &dist)
		if len(dist.SkillDistribution) != 1 || dist.SkillDistribution[0].Department != "QA Dept " {
			t.Errorf("the distribution of %q = %+v, want its one person", "QA Dept ", dist.SkillDistribution)
		}
		r = e.gql(t, h, q, map[string]any{"d": "QA Dept"})
		if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, `did you mean "QA Dept "?`) {
			t.Errorf("the trimmed name: errors %+v, want the stored name as the hint", r.Errors)
		}
	})
}

// registerAsEarlierReleasesDid appends the registration of id into
// department as a release before departments were trimmed recorded it,
// past today's recorder, and waits for its projection.
func registerAsEarlierReleasesDid(t *testing.T, e *env, id, department string) {
	t.Helper()
	out, err := e.Log.AppendBatch(context.Background(), []events.Pending{{PersonID: id, MsgID: "old-" + id,
		Event:      events.PersonRegistered{PersonID: id, Name: "Old Timer", Department: department, JoinedOn: domain.MustDate("2019-01-01")},
		RecordedAt: e.Clock.Now()}})
	if err != nil || out[0].Err != nil {
		t.Fatalf("append: %v %+v", err, out)
	}
	e.Wait(out[0].Position)
}

// TestANewDepartmentIsRecordedWithAWarning: a registration or transfer into
// a department no one has been in is recorded (an organisation changes),
// with a warning naming the closest known department, so that a misspelt
// one does not split a department unseen; into a known one, no warning.
func TestANewDepartmentIsRecordedWithAWarning(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		const reg = `mutation($in: RegisterPersonInput!) { registerPerson(input: $in) { person { department } warnings } }`
		const tr = `mutation($in: TransferPersonInput!) { transferPerson(input: $in) { person { department } warnings } }`
		if w := warningsOf(t, e.gql(t, adm, reg, map[string]any{"in": map[string]any{"id": "W1", "name": "W", "department": "WAN Engineering", "joinedOn": "2020-01-01"}}), "registerPerson"); len(w) != 1 || w[0] != `department "WAN Engineering" is new: no one has been in it before` {
			t.Errorf("the first registration into a department: %q", w)
		}
		if w := warningsOf(t, e.gql(t, adm, reg, map[string]any{"in": map[string]any{"id": "W2", "name": "W", "department": "WAN Engineering", "joinedOn": "2020-01-01"}}), "registerPerson"); len(w) != 0 {
			t.Errorf("a registration into a known department: %q", w)
		}
		// A repeat records nothing, so warns of nothing, even where the
		// department is gone from the read model since (a same-day
		// transfer took its only placement away).
		once := map[string]any{"id": "R1", "name": "R", "department": "Typo Dept", "joinedOn": "2020-01-01", "idempotencyKey": "hire-r1"}
		warningsOf(t, e.gql(t, adm, reg, map[string]any{"in": once}), "registerPerson")
		warningsOf(t, e.gql(t, adm, tr, map[string]any{"in": map[string]any{"personId": "R1", "department": "WAN Engineering", "effectiveOn": "2020-01-01"}}), "transferPerson")
		if w := warningsOf(t, e.gql(t, adm, reg, map[string]any{"in": once}), "registerPerson"); len(w) != 0 {
			t.Errorf("a repeated registration: %q, want no warning", w)
		}
		w := warningsOf(t, e.gql(t, adm, tr, map[string]any{"in": map[string]any{"personId": "W2", "department": "WAN Enginering", "effectiveOn": "2021-01-01"}}), "transferPerson")
		if len(w) != 1 || !strings.Contains(w[0], `did you mean "WAN Engineering"?`) {
			t.Errorf("a transfer into a misspelt department: %q", w)
		}
		// Recorded all the same.
		var got struct{ Departments []string }
		e.gql(t, adm, `{ departments }`, nil).ok(t).decode(t, &got)
		if !slices.Equal(got.Departments, []string{"WAN Engineering", "WAN Enginering"}) { // Typo Dept lost its only placement
			t.Errorf("departments = %q", got.Departments)
		}

		// A manager is told a department is new, not the names of others.
		mgr := e.token(t, graph.Principal{Subject: "m-wan", Roles: []string{graph.RoleManager}, Department: "WAN Enginering"})
		w = warningsOf(t, e.gql(t, mgr, tr, map[string]any{"in": map[string]any{"personId": "W2", "department": "WAN Enginerring", "effectiveOn": "2022-01-01"}}), "transferPerson")
		if len(w) != 1 || w[0] != `department "WAN Enginerring" is new: no one has been in it before` {
			t.Errorf("a manager's transfer into a new department: %q, want the warning without other names", w)
		}

		// An import warns on its first line into each new department.
		_, lines := e.importLines(t, adm,
			`{"op":"registerPerson","input":{"id":"W3","name":"W","department":"LAN Engineering","joinedOn":"2020-01-01"}}`,
			`{"op":"registerPerson","input":{"id":"W4","name":"W","department":"LAN Engineering","joinedOn":"2020-01-01"}}`,
			`{"op":"registerPerson","input":{"id":"W5","name":"W","department":"WAN Engineering","joinedOn":"2020-01-01"}}`,
			`{"op":"transferPerson","input":{"personId":"W5","department":"WAN  Engineering","effectiveOn":"2021-01-01"}}`)
		want := [][]string{{`department "LAN Engineering" is new: no one has been in it before (did you mean "WAN Engineering"?)`}, nil, nil,
			{`department "WAN  Engineering" is new: no one has been in it before (did you mean "WAN Engineering"?)`}}
		for i, l := range lines {
			if !l.OK || !slices.Equal(l.Warnings, want[i]) {
				t.Errorf("import line %d: %+v, want warnings %q", i+1, l, want[i])
			}
		}
	})
}

// TestAFollowedDepartmentIsOneSomeoneHasBeenIn: hr following a misspelt
// department is refused with the likely name, as the analytics' filters
// are, rather than subscribed to something that never delivers.
func TestAFollowedDepartmentIsOneSomeoneHasBeenIn(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	e.mutate(t, e.token(t, admin), &mRegister, map[string]any{"id": "F1", "name": "F", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	ws := e.connect(t, e.token(t, hr))
	ws.subscribe("x", map[string]any{"department": "Opertions"})
	m, err := ws.next(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Payload), "BAD_USER_INPUT") || !strings.Contains(string(m.Payload), `did you mean \"Operations\"?`) {
		t.Errorf("following a misspelt department: %s %s", m.Type, m.Payload)
	}
}

// TestPeopleBeforeTheyJoinedAreJudgedOnTheirEvidence: people without a
// department lists people who joined after asOf too, judged as
// standing(asOf:) judges them, on the evidence effective by asOf:
// experience brought from before joining counts (levels.md), so minLevel
// lists such a person on a date before they joined, while the
// distribution and a department filter, which count members, leave them
// out.
func TestPeopleBeforeTheyJoinedAreJudgedOnTheirEvidence(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "H1", "name": "Hire", "department": "Operations", "joinedOn": "2026-01-01"}, "")
		e.mutate(t, adm, &mRegister, map[string]any{"id": "H2", "name": "Stay", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		levelOne(t, e, adm, "H1") // evidence of 2025, before H1 joined
		r := e.gql(t, adm, `{
			all: people(minLevel: 1, asOf: "2025-06-01") { totalCount edges { node { id department(asOf: "2025-06-01") standing(asOf: "2025-06-01") { level } } } }
			members: people(department: "Operations", minLevel: 1, asOf: "2025-06-01") { totalCount }
			dist: skillDistribution(field: SERVICE_DESK, asOf: "2025-06-01") { department level count } }`, nil).ok(t)
		var got struct {
			All struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						ID         string
						Department *string
						Standing   []struct{ Level int }
					}
				}
			}
			Members struct{ TotalCount int }
			Dist    []map[string]any
		}
		r.decode(t, &got)
		if got.All.TotalCount != 1 || len(got.All.Edges) != 1 || got.All.Edges[0].Node.ID != "H1" {
			t.Fatalf("people(minLevel: 1) before H1 joined: %s; want H1, judged on the experience they brought", r.Data)
		}
		n := got.All.Edges[0].Node
		if n.Department != nil {
			t.Errorf("H1's department before joining = %q, want null", *n.Department)
		}
		for _, s := range n.Standing {
			if s.Level != 1 {
				t.Errorf("H1's standing before joining %+v, want level 1 (the level minLevel judged)", n.Standing)
			}
		}
		// Only H2 belonged to Operations then, at level 0.
		if got.Members.TotalCount != 0 || len(got.Dist) != 1 || got.Dist[0]["level"] != float64(0) || got.Dist[0]["count"] != float64(1) {
			t.Errorf("members at level 1 %d, distribution %v before H1 joined; want 0 and H2 alone at level 0", got.Members.TotalCount, got.Dist)
		}
	})
}

// TestABackDatedPlacementALaterOneSupersedesIsWarnedOf: a transfer or a
// departure dated before a placement recorded earlier holds only until
// that one, so it leaves the person where they are today: recorded (it
// rewrites the days in between), with a warning naming the placement that
// decides today, rather than a payload whose department alone tells the
// manager their move did not take.
func TestABackDatedPlacementALaterOneSupersedesIsWarnedOf(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		const reg = `mutation($in: RegisterPersonInput!) { registerPerson(input: $in) { warnings } }`
		const tr = `mutation($in: TransferPersonInput!) { transferPerson(input: $in) { person { department } warnings } }`
		const dep = `mutation($in: RecordDepartureInput!) { recordDeparture(input: $in) { person { department } warnings } }`
		e.gql(t, adm, reg, map[string]any{"in": map[string]any{"id": "B1", "name": "B", "department": "NOC", "joinedOn": "2017-04-01"}}).ok(t)
		e.gql(t, adm, reg, map[string]any{"in": map[string]any{"id": "B2", "name": "B", "department": "NOC", "joinedOn": "2017-04-01"}}).ok(t)
		e.gql(t, adm, reg, map[string]any{"in": map[string]any{"id": "B3", "name": "B", "department": "NOC", "joinedOn": "2017-04-01"}}).ok(t)
		// Today's placements, without a warning: each decides today.
		if w := warningsOf(t, e.gql(t, adm, tr, map[string]any{"in": map[string]any{"personId": "B1", "department": "Service Desk", "effectiveOn": "2023-01-01"}}), "transferPerson"); len(w) != 1 || !strings.Contains(w[0], "is new") {
			t.Errorf("a transfer that decides today: %q, want only the new department's warning", w)
		}
		if w := warningsOf(t, e.gql(t, adm, dep, map[string]any{"in": map[string]any{"personId": "B2", "effectiveOn": "2023-01-01"}}), "recordDeparture"); len(w) != 0 {
			t.Errorf("a departure that decides today: %q", w)
		}
		if w := warningsOf(t, e.gql(t, adm, tr, map[string]any{"in": map[string]any{"personId": "B3", "department": "Service Desk", "effectiveOn": "2023-01-01"}}), "transferPerson"); len(w) != 0 {
			t.Errorf("a transfer that decides today: %q", w)
		}

		w := warningsOf(t, e.gql(t, adm, tr, map[string]any{"in": map[string]any{"personId": "B1", "department": "Data Center Ops", "effectiveOn": "2020-01-01"}}), "transferPerson")
		want := `the transfer to "Data Center Ops" takes effect on 2020-01-01, but a placement effective 2023-01-01, recorded before it, has B1 in "Service Desk" from then on: their department today is "Service Desk"`
		if len(w) != 2 || w[1] != want {
			t.Errorf("a back-dated transfer a later one supersedes: %q, want the new department's warning and %q", w, want)
		}
		w = warningsOf(t, e.gql(t, adm, tr, map[string]any{"in": map[string]any{"personId": "B2", "department": "Data Center Ops", "effectiveOn": "2020-01-01"}}), "transferPerson")
		want = `the transfer to "Data Center Ops" takes effect on 2020-01-01, but a departure effective 2023-01-01, recorded before it, ends it: B2 is in no department today`
		if len(w) != 1 || w[0] != want {
			t.Errorf("a back-dated transfer a later departure ends: %q, want %q", w, want)
		}
		w = warningsOf(t, e.gql(t, adm, dep, map[string]any{"in": map[string]any{"personId": "B3", "effectiveOn": "2020-01-01"}}), "recordDeparture")
		want = `the departure takes effect on 2020-01-01, but a placement effective 2023-01-01, recorded before it, has B3 in "Service Desk" from then on: their department today is "Service Desk"`
		if len(w) != 1 || w[0] != want {
			t.Errorf("a back-dated departure a later transfer supersedes: %q, want %q", w, want)
		}
		// A repeat records nothing and is not warned of.
		once := map[string]any{"personId": "B3", "department": "Data Center Ops", "effectiveOn": "2019-01-01", "idempotencyKey": "move-b3"}
		if w := warningsOf(t, e.gql(t, adm, tr, map[string]any{"in": once}), "transferPerson"); len(w) != 1 {
			t.Errorf("a back-dated transfer: %q, want one warning", w)
		}
		if w := warningsOf(t, e.gql(t, adm, tr, map[string]any{"in": once}), "transferPerson"); len(w) != 0 {
			t.Errorf("its repeat: %q, want no warning", w)
		}
	})
}

// warningsOf returns the warnings of the mutation name's answer in r,
// which must have no error.
func warningsOf(t *testing.T, r response, name string) []string {
	t.Helper()
	r.ok(t)
	var w []string
	for _, v := range field(t, r.Data, name+".warnings").([]any) {
		w = append(w, v.(string))
	}
	return w
}

// TestAManagersDepartmentIsOneSomeoneHasBeenIn: a manager's analytics and
// lists are of the department their token names, so a token minted with
// a misspelt one is refused, naming the field and the token, rather than
// answering every list empty; the refusal names no other department.
func TestAManagersDepartmentIsOneSomeoneHasBeenIn(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "M1", "name": "Person M1", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		e.mutate(t, adm, &mRegister, map[string]any{"id": "M2", "name": "Person M2", "department": "Network", "joinedOn": "2020-01-01"}, "")
		e.mutate(t, adm, &mTransfer, map[string]any{"personId": "M2", "department": "Operations", "effectiveOn": "2024-01-01"}, "")
		misspelt := e.token(t, graph.Principal{Subject: "manager-x", Roles: []string{graph.RoleManager}, Department: "Operation"})
		queries := map[string]string{
			"people":            `{ people { totalCount } }`,
			"people filtered":   `{ people(department: "Operation") { totalCount } }`,
			"skillDistribution": `{ skillDistribution(field: SERVICE_DESK) { count } }`,
			"skillTrend":        `{ skillTrend(field: SERVICE_DESK, from: "2025-01-01", to: "2026-01-01", interval: YEAR) { on } }`,
			"as known at":       `query($k: DateTime!) { skillDistribution(field: SERVICE_DESK, knownAt: $k) { count } }`,
		}
		// Nor does departments list it; the manager's own is listed.
		var got struct{ Departments []string }
		e.gql(t, misspelt, `{ departments }`, nil).ok(t).decode(t, &got)
		if len(got.Departments) != 0 {
			t.Errorf("departments with a misspelt token = %q, want none", got.Departments)
		}
		e.gql(t, e.token(t, managerA), `{ departments }`, nil).ok(t).decode(t, &got)
		if !slices.Equal(got.Departments, []string{"Operations"}) {
			t.Errorf("manager A's departments = %q, want [Operations]", got.Departments)
		}
		vars := map[string]any{"k": "2026-06-01T00:00:00Z"} // the harness's clock reads 2026-06-01T09:00
		for name, q := range queries {
			r := e.gql(t, misspelt, q, vars)
			if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != "department" ||
				!strings.Contains(r.Errors[0].rule(), "someone has been in") || !strings.Contains(r.Errors[0].Message, `"Operation", the department of your token`) {
				t.Errorf("%s with a misspelt token: errors %+v, want BAD_USER_INPUT on department naming the token", name, r.Errors)
				continue
			}
			if strings.Contains(r.Errors[0].Message, "Operations") || strings.Contains(r.Errors[0].Message, "Network") {
				t.Errorf("%s: message %q names another department", name, r.Errors[0].Message)
			}
			if name == "people filtered" {
				continue // another manager's filter names not theirs
			}
			// The manager of a department people have been in is answered,
			// one everyone has left included.
			e.gql(t, e.token(t, managerA), q, vars).ok(t)
			e.gql(t, e.token(t, graph.Principal{Subject: "manager-n", Roles: []string{graph.RoleManager}, Department: "Network"}), q, vars).ok(t)
		}
	})
}
