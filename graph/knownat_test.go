package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// TestBeforeAPersonWasKnown: asked about a time before anything was known
// of a person (standing(knownAt) before their registration was recorded) or
// true of them (department and standing asOf before they joined), a person
// answers what was known and true then: every field at level 0, no
// department; never an error that would turn the whole person (or a whole
// page of people) into null.
func TestBeforeAPersonWasKnown(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		beforeBoth := e.Clock.Peek().UTC().Format(time.RFC3339)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "K1", "name": "Kenji Ono", "department": "Operations", "joinedOn": "2016-04-01"}, "")
		k1Registered := e.Clock.Peek()
		e.mutate(t, adm, &mAssess, map[string]any{"personId": "K1", "theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2017-01-10"}, "")
		beforeK2 := e.Clock.Peek().UTC().Format(time.RFC3339)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "K2", "name": "Kana Ueda", "department": "Operations", "joinedOn": "2020-04-01"}, "")

		r := e.gql(t, adm, `query($id: ID!, $knownAt: DateTime!) { person(id: $id) {
			id name joinedOn recordedAt
			departmentBeforeJoining: department(asOf: "2019-01-01")
			memberships { department from to }
			unknown: standing(knownAt: $knownAt) { field level attainedOn criteria { criterion } next { level } }
			unknownInThePast: standing(asOf: "2019-01-01", knownAt: $knownAt) { field level }
			beforeJoining: standing(asOf: "2019-01-01") { field level attainedOn }
			history { field on from to }
			accomplishments { totalCount edges { node { id } } }
		} }`, map[string]any{"id": "K2", "knownAt": beforeK2}).ok(t)
		var p struct {
			Person struct {
				ID, Name, JoinedOn      string
				RecordedAt              time.Time
				DepartmentBeforeJoining *string
				Memberships             []json.RawMessage
				Unknown                 []struct {
					Field      string
					Level      int
					AttainedOn *string
					Criteria   []json.RawMessage
					Next       *struct{ Level int }
				}
				UnknownInThePast []struct {
					Field string
					Level int
				}
				BeforeJoining []struct {
					Field      string
					Level      int
					AttainedOn *string
				}
				History         []json.RawMessage
				Accomplishments struct{ TotalCount int }
			}
		}
		r.decode(t, &p)
		got := p.Person
		if got.ID != "K2" || got.Name != "Kana Ueda" || got.JoinedOn != "2020-04-01" || len(got.Memberships) != 1 {
			t.Errorf("person: %s", r.Data)
		}
		if k, _ := time.Parse(time.RFC3339, beforeK2); got.RecordedAt.Before(k) || got.RecordedAt.After(e.Clock.Peek()) {
			t.Errorf("recordedAt %s, want between %s and now", got.RecordedAt, beforeK2)
		}
		if len(got.Unknown) != 3 || len(got.UnknownInThePast) != 3 {
			t.Errorf("standing known before the registration: %s; want the three fields", r.Data)
		}
		for i, f := range got.Unknown {
			if f.Level != 0 || f.AttainedOn != nil || len(f.Criteria) != 0 || f.Next == nil || f.Next.Level != 1 ||
				got.UnknownInThePast[i].Level != 0 || f.Field != got.UnknownInThePast[i].Field {
				t.Errorf("standing known before the registration: %s; want level 0 and level 1 next", r.Data)
			}
		}
		if got.DepartmentBeforeJoining != nil {
			t.Errorf("department before joining = %q, want null", *got.DepartmentBeforeJoining)
		}
		if len(got.BeforeJoining) != 3 {
			t.Errorf("standing before joining: %s; want the three fields at level 0", r.Data)
		}
		for _, f := range got.BeforeJoining {
			if f.Level != 0 || f.AttainedOn != nil {
				t.Errorf("standing before joining: %+v, want level 0 since no day", f)
			}
		}
		if got.History == nil || len(got.History) != 0 || got.Accomplishments.TotalCount != 0 {
			t.Errorf("history and accomplishments: %s", r.Data)
		}

		// A page of people as known between the two registrations: the one
		// known then is judged, the other is at level 0; the page stands.
		page := e.gql(t, adm, `query($knownAt: DateTime!) { people { edges { node {
			id name recordedAt standing(knownAt: $knownAt) { field level } } } } }`, map[string]any{"knownAt": beforeK2}).ok(t)
		var people struct {
			People struct {
				Edges []struct {
					Node struct {
						ID, Name   string
						RecordedAt time.Time
						Standing   []struct {
							Field string
							Level int
						}
					}
				}
			}
		}
		page.decode(t, &people)
		if len(people.People.Edges) != 2 {
			t.Fatalf("people: %s", page.Data)
		}
		if e0, e1 := people.People.Edges[0].Node, people.People.Edges[1].Node; e0.ID != "K1" || e1.ID != "K2" ||
			e0.RecordedAt.After(k1Registered) || !e1.RecordedAt.Equal(got.RecordedAt) {
			t.Errorf("recordedAt on a page: %s; want K1's registration's (by %s, not its later assessment's), K2's as the person's", page.Data, k1Registered)
		}
		for _, edge := range people.People.Edges {
			n := edge.Node
			top := 0
			for _, f := range n.Standing {
				top = max(top, f.Level)
			}
			if len(n.Standing) != 3 || (n.ID == "K2" && top != 0) || n.Name == "" {
				t.Errorf("%s as known before K2 was registered: %s; want three fields (K2's at level 0)", n.ID, page.Data)
			}
		}
		// Before either was known, both are at level 0.
		page = e.gql(t, adm, `query($knownAt: DateTime!) { people { edges { node { id standing(knownAt: $knownAt) { level } } } } }`,
			map[string]any{"knownAt": beforeBoth}).ok(t)
		page.decode(t, &people)
		for _, edge := range people.People.Edges {
			if len(edge.Node.Standing) != 3 {
				t.Errorf("%s as known before anyone was registered: %s", edge.Node.ID, page.Data)
			}
			for _, f := range edge.Node.Standing {
				if f.Level != 0 {
					t.Errorf("%s as known before anyone was registered: %s", edge.Node.ID, page.Data)
				}
			}
		}
	})
}

// TestAnalyticsKnownAt: skillDistribution and skillTrend with knownAt
// answer exactly what they answered at that instant, after transfers,
// back-dated evidence and a retraction recorded since; a manager's stay in
// their department; and a request holds at most a few, each a replay.
func TestAnalyticsKnownAt(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm, h := e.token(t, admin), e.token(t, hr)
		const dist = `query($k: DateTime) { skillDistribution(field: SYSTEM_OPERATION, asOf: "2022-01-01", knownAt: $k) { department level count } }`
		const trend = `query($k: DateTime) { skillTrend(field: SYSTEM_OPERATION, from: "2015-01-01", to: "2023-01-01", interval: YEAR, knownAt: $k) { on cells { department level count } } }`
		type snapshot struct{ at, dist, trend string }
		take := func() snapshot {
			return snapshot{at: e.Clock.Peek().UTC().Format(time.RFC3339Nano),
				dist: string(e.gql(t, h, dist, nil).ok(t).Data), trend: string(e.gql(t, h, trend, nil).ok(t).Data)}
		}
		empty := take()
		e.mutate(t, adm, &mRegister, map[string]any{"id": "K1", "name": "Kenji Ono", "department": "Operations", "joinedOn": "2015-04-01"}, "")
		e.mutate(t, adm, &mRegister, map[string]any{"id": "K2", "name": "Kana Ueda", "department": "Operations", "joinedOn": "2015-04-01"}, "")
		e.mutate(t, adm, &mEngagement, operationsEngagement("K1", "2016-01-01", "2017-01-01"), "")
		theme := field(t, e.mutate(t, adm, &mAssess, map[string]any{"personId": "K1", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2016-02-01"}, "").Data,
			"assessTheme.accomplishmentId").(string)
		first := take()
		e.mutate(t, adm, &mTransfer, map[string]any{"personId": "K2", "department": "Network", "effectiveOn": "2019-01-01"}, "")
		// Back-dated: K2 at level 2 from 2016 on.
		e.mutate(t, adm, &mEngagement, operationsEngagement("K2", "2015-05-01", "2016-01-01"), "")
		e.mutate(t, adm, &mAssess, map[string]any{"personId": "K2", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2016-03-01"}, "")
		e.mutate(t, adm, &mRetract, map[string]any{"accomplishmentId": theme, "reason": "never assessed"}, "")
		second := take()
		if first.dist == second.dist || first.trend == second.trend || first.dist == empty.dist {
			t.Fatalf("the history changed nothing to replay:\n%s\n%s", first.dist, second.dist)
		}
		for i, s := range []snapshot{empty, first, second} {
			if got := string(e.gql(t, h, dist, map[string]any{"k": s.at}).ok(t).Data); got != s.dist {
				t.Errorf("skillDistribution as known at instant %d: %s, answered then %s", i, got, s.dist)
			}
			if got := string(e.gql(t, h, trend, map[string]any{"k": s.at}).ok(t).Data); got != s.trend {
				t.Errorf("skillTrend as known at instant %d: %s, answered then %s", i, got, s.trend)
			}
		}

		// A manager's answer as known then is of their department only.
		var cells struct {
			SkillDistribution []struct {
				Department string
				Count      int
			}
		}
		e.gql(t, e.token(t, managerB), dist, map[string]any{"k": first.at}).ok(t).decode(t, &cells)
		if len(cells.SkillDistribution) != 0 {
			t.Errorf("manager B (Network) as known before K2's transfer: %+v, want nothing", cells.SkillDistribution)
		}
		e.gql(t, e.token(t, managerB), dist, map[string]any{"k": second.at}).ok(t).decode(t, &cells)
		if len(cells.SkillDistribution) != 1 || cells.SkillDistribution[0].Department != "Network" || cells.SkillDistribution[0].Count != 1 {
			t.Errorf("manager B (Network) as known after K2's transfer: %+v, want K2", cells.SkillDistribution)
		}
		r := e.gql(t, e.token(t, managerB), `query($k: DateTime) { skillDistribution(field: SYSTEM_OPERATION, department: "Operations", knownAt: $k) { count } }`,
			map[string]any{"k": first.at})
		if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
			t.Errorf("manager B asking for Operations as known then: %+v, want FORBIDDEN", r.Errors)
		}

		// Each answer as known then is a replay: five fit in a request,
		// six do not.
		r = e.gql(t, h, aliased(6, `skillDistribution(field: SERVICE_DESK, knownAt: "2026-01-01T00:00:00Z") { count }`), nil)
		if len(r.Errors) != 1 || r.Errors[0].code() != "COMPLEXITY_LIMIT_EXCEEDED" {
			t.Errorf("six replays in one request: %+v, want COMPLEXITY_LIMIT_EXCEEDED", r.Errors)
		}
		e.gql(t, h, aliased(5, `skillDistribution(field: SERVICE_DESK, knownAt: "2026-01-01T00:00:00Z") { count }`), nil).ok(t)

		// A department only a superseded placement named: Lab held Z1
		// until a transfer back-dated to the day Z1 joined.
		e.mutate(t, adm, &mRegister, map[string]any{"id": "Z1", "name": "Zen Mori", "department": "Lab", "joinedOn": "2020-04-01"}, "")
		inLab := e.Clock.Peek().UTC().Format(time.RFC3339Nano)
		e.mutate(t, adm, &mTransfer, map[string]any{"personId": "Z1", "department": "Network", "effectiveOn": "2020-04-01"}, "")
		const lab = `query($k: DateTime) { skillDistribution(field: SYSTEM_OPERATION, department: "Lab", knownAt: $k) { department count } }`
		e.gql(t, h, lab, map[string]any{"k": inLab}).ok(t).decode(t, &cells)
		if len(cells.SkillDistribution) != 1 || cells.SkillDistribution[0].Department != "Lab" || cells.SkillDistribution[0].Count != 1 {
			t.Errorf("Lab as known before the back-dated transfer: %+v, want Z1", cells.SkillDistribution)
		}
		if r := e.gql(t, h, lab, nil); len(r.Errors) != 1 || r.Errors[0].field() != "department" {
			t.Errorf("Lab as known now, when no placement names it: %+v, want BAD_USER_INPUT on department", r.Errors)
		}
	})
}

// TestHistoryKnownAt: a person's history with knownAt is the history the
// person query answered at that instant, whether the person is read alone
// or on a page of people; before the registration was recorded it is
// empty.
func TestHistoryKnownAt(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		const one = `query($k: DateTime) { person(id: "H1") { history(knownAt: $k) { field on from to } } }`
		const page = `query($k: DateTime) { people(department: "Operations") { edges { node { id history(knownAt: $k) { field on from to } } } } }`
		type snapshot struct{ at, history string }
		take := func() snapshot {
			var got struct {
				Person struct{ History json.RawMessage }
			}
			e.gql(t, adm, one, nil).ok(t).decode(t, &got)
			return snapshot{e.Clock.Peek().UTC().Format(time.RFC3339Nano), string(got.Person.History)}
		}
		before := e.Clock.Peek().UTC().Format(time.RFC3339Nano)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "H1", "name": "Hana Ito", "department": "Operations", "joinedOn": "2015-04-01"}, "")
		registered := take()
		e.mutate(t, adm, &mEngagement, operationsEngagement("H1", "2016-01-01", "2017-01-01"), "")
		theme := field(t, e.mutate(t, adm, &mAssess, map[string]any{"personId": "H1", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2016-02-01"}, "").Data,
			"assessTheme.accomplishmentId").(string)
		raised := take()
		e.mutate(t, adm, &mAmend, map[string]any{"accomplishmentId": theme, "assessedOn": "2018-05-01"}, "")
		amended := take()
		e.mutate(t, adm, &mRetract, map[string]any{"accomplishmentId": theme, "reason": "never assessed"}, "")
		retracted := take()
		if raised.history == registered.history || amended.history == raised.history || retracted.history == amended.history {
			t.Fatalf("the history did not change at every step: %s / %s / %s / %s", registered.history, raised.history, amended.history, retracted.history)
		}
		for i, s := range []snapshot{registered, raised, amended, retracted} {
			var alone struct {
				Person struct{ History json.RawMessage }
			}
			e.gql(t, adm, one, map[string]any{"k": s.at}).ok(t).decode(t, &alone)
			var onPage struct {
				People struct {
					Edges []struct {
						Node struct{ History json.RawMessage }
					}
				}
			}
			e.gql(t, adm, page, map[string]any{"k": s.at}).ok(t).decode(t, &onPage)
			if string(alone.Person.History) != s.history {
				t.Errorf("history as known at step %d: %s, answered then %s", i, alone.Person.History, s.history)
			}
			if len(onPage.People.Edges) != 1 || string(onPage.People.Edges[0].Node.History) != s.history {
				t.Errorf("history on a page as known at step %d: %+v, answered then %s", i, onPage.People.Edges, s.history)
			}
		}
		var unknown struct {
			Person struct{ History []json.RawMessage }
		}
		e.gql(t, adm, one, map[string]any{"k": before}).ok(t).decode(t, &unknown)
		if unknown.Person.History == nil || len(unknown.Person.History) != 0 {
			t.Errorf("history known before the registration: %v, want []", unknown.Person.History)
		}
	})
}

// TestDepartmentKnownAt: a person's department and memberships with
// knownAt are as the system knew them then, from the events recorded up to
// it, as standing(knownAt:) and history(knownAt:) are, so that a past report
// of level and department agrees: a back-dated transfer recorded later is
// left out (without knownAt it shows), alone and on a page of people alike;
// before the registration was recorded (or at the first instant) there is
// no department and no membership; a people(knownAt:) node's own
// department and memberships stay as that list knew them, unless given
// their own knownAt.
func TestDepartmentKnownAt(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		before := e.Clock.Peek().UTC().Format(time.RFC3339Nano)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "DK1", "name": "Daichi Kato", "department": "Operations", "joinedOn": "2015-04-01"}, "")
		then := e.Clock.Peek().UTC().Format(time.RFC3339Nano)
		e.Clock.Advance(24 * time.Hour)
		e.mutate(t, adm, &mTransfer, map[string]any{"personId": "DK1", "department": "Network", "effectiveOn": "2019-01-01"}, "")
		now := e.Clock.Peek().UTC().Format(time.RFC3339Nano)

		const fields = `
			then: department(asOf: "2020-01-01", knownAt: $then)
			thenToday: department(knownAt: $then)
			now: department(asOf: "2020-01-01")
			nowKnown: department(asOf: "2020-01-01", knownAt: $now)
			unknown: department(asOf: "2020-01-01", knownAt: $before)
			first: department(asOf: "2020-01-01", knownAt: "0001-01-01T00:00:00Z")
			membershipsThen: memberships(knownAt: $then) { department from to }
			memberships { department from to }
			membershipsUnknown: memberships(knownAt: $before) { department from to }
			membershipsFirst: memberships(knownAt: "0001-01-01T00:00:00Z") { department from to }`
		type answer struct {
			Then, ThenToday, Now, NowKnown, Unknown, First *string
			MembershipsThen, Memberships                   json.RawMessage
			MembershipsUnknown, MembershipsFirst           json.RawMessage
		}
		vars := map[string]any{"then": then, "now": now, "before": before}
		var alone struct{ Person answer }
		e.gql(t, adm, `query($then: DateTime!, $now: DateTime!, $before: DateTime!) { person(id: "DK1") {`+fields+` } }`, vars).ok(t).decode(t, &alone)
		var onPage struct {
			People struct {
				Edges []struct{ Node answer }
			}
		}
		e.gql(t, adm, `query($then: DateTime!, $now: DateTime!, $before: DateTime!) { people { edges { node {`+fields+` } } } }`, vars).ok(t).decode(t, &onPage)
		if len(onPage.People.Edges) != 1 {
			t.Fatalf("people: %+v", onPage.People.Edges)
		}
		const wantThen = `[{"department":"Operations","from":"2015-04-01","to":null}]`
		const wantNow = `[{"department":"Operations","from":"2015-04-01","to":"2019-01-01"},{"department":"Network","from":"2019-01-01","to":null}]`
		str := func(s *string) string {
			if s == nil {
				return "null"
			}
			return *s
		}
		for name, got := range map[string]answer{"alone": alone.Person, "on a page": onPage.People.Edges[0].Node} {
			if str(got.Then) != "Operations" || str(got.ThenToday) != "Operations" {
				t.Errorf("%s: department as known before the back-dated transfer was recorded: %s (asOf 2020-01-01), %s (the date of knownAt); want Operations",
					name, str(got.Then), str(got.ThenToday))
			}
			if str(got.Now) != "Network" || str(got.NowKnown) != "Network" {
				t.Errorf("%s: department as known now: %s, as known at %s: %s; want Network", name, str(got.Now), now, str(got.NowKnown))
			}
			if got.Unknown != nil || got.First != nil {
				t.Errorf("%s: department as known before the registration was recorded: %s, at the first instant: %s; want null", name, str(got.Unknown), str(got.First))
			}
			if string(got.MembershipsThen) != wantThen || string(got.Memberships) != wantNow {
				t.Errorf("%s: memberships as known then %s, want %s; as known now %s, want %s", name, got.MembershipsThen, wantThen, got.Memberships, wantNow)
			}
			if string(got.MembershipsUnknown) != "[]" || string(got.MembershipsFirst) != "[]" {
				t.Errorf("%s: memberships as known before the registration was recorded: %s, at the first instant: %s; want []", name, got.MembershipsUnknown, got.MembershipsFirst)
			}
		}

		// A node of a list as known then is the person as known then; its
		// own knownAt overrides the list's.
		var known struct {
			People struct {
				Edges []struct {
					Node struct {
						Department, Later, Past       *string
						Memberships, LaterMemberships json.RawMessage
					}
				}
			}
		}
		e.gql(t, adm, `query($then: DateTime!, $now: DateTime!) { people(knownAt: $then) { edges { node {
			department past: department(asOf: "2020-01-01") later: department(asOf: "2020-01-01", knownAt: $now)
			memberships { department from to } laterMemberships: memberships(knownAt: $now) { department from to } } } } }`,
			map[string]any{"then": then, "now": now}).ok(t).decode(t, &known)
		if len(known.People.Edges) != 1 {
			t.Fatalf("people as known then: %+v", known.People.Edges)
		}
		n := known.People.Edges[0].Node
		if str(n.Department) != "Operations" || str(n.Past) != "Operations" || string(n.Memberships) != wantThen {
			t.Errorf("a node of people(knownAt:) as known then: department %s, on 2020-01-01 %s, memberships %s; want Operations and %s",
				str(n.Department), str(n.Past), n.Memberships, wantThen)
		}
		if str(n.Later) != "Network" || string(n.LaterMemberships) != wantNow {
			t.Errorf("a node of people(knownAt:) with its own later knownAt: department %s, memberships %s; want Network and %s", str(n.Later), n.LaterMemberships, wantNow)
		}
	})
}

// TestDepartmentKnownAtWaitsForTheLogsHead: a department or memberships as
// known at an instant wait, as standing(knownAt:) does, for the read model
// to apply the log's head: a transfer recorded before the instant but not
// applied yet belongs to what was known then.
func TestDepartmentKnownAtWaitsForTheLogsHead(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		h := e.token(t, hr)
		e.Wait(e.Register("KD1", "Operations", "2020-01-01").Position)
		for _, c := range []struct{ name, q, department, on string }{
			{"department", `query($k: DateTime) { person(id: "KD1") { department(asOf: "2022-01-01", knownAt: $k) } }`, "Network", "2021-01-01"},
			{"memberships", `query($k: DateTime) { person(id: "KD1") { memberships(knownAt: $k) { department } } }`, "Service Desk", "2021-06-01"},
		} {
			e.StopProjector()
			e.Clock.Advance(10 * time.Minute)
			if _, err := e.Recorder.TransferPerson(context.Background(), events.TransferPerson{PersonID: "KD1", Department: c.department,
				EffectiveOn: domain.MustDate(c.on)}); err != nil { // in the log, not applied
				t.Fatal(err)
			}
			knownAt := e.Clock.Peek().Format(time.RFC3339)
			answered := make(chan response, 1)
			go func() { answered <- e.gql(t, h, c.q, map[string]any{"k": knownAt}) }()
			select {
			case r := <-answered:
				t.Errorf("%s answered as known at %s before the read model applied the transfer: %s %+v", c.name, knownAt, r.Data, r.Errors)
				e.StartProjector()
				continue
			case <-time.After(300 * time.Millisecond):
			}
			e.StartProjector()
			if r := (<-answered).ok(t); !strings.Contains(string(r.Data), c.department) {
				t.Errorf("%s as known at %s: %s; want the transfer to %s", c.name, knownAt, r.Data, c.department)
			}
		}
	})
}

// editedCatalogue is the built-in catalogue after edit changed its JSON.
func editedCatalogue(t *testing.T, edit func(doc map[string]any)) *domain.Catalogue {
	t.Helper()
	raw, err := json.Marshal(domain.DefaultCatalogue())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	if raw, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	cat, err := domain.ParseCatalogue(raw)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestKnownAtAnswersAsGivenThen: an answer as known at T is the answer
// given at T in the cases where "now" could leak into it. Without asOf,
// the date is T's (with an evidence window, evidence that has expired
// since still counted then). A field the catalogue does not judge has no
// cell. A department an older log holds untrimmed is reached by its exact
// name even once the trimmed name exists. And a trend whose range is
// refused costs a replay all the same, so that aliases of it cannot make
// the server look departments up in the log for free.
func TestKnownAtAnswersAsGivenThen(t *testing.T) {
	cat := editedCatalogue(t, func(doc map[string]any) {
		doc["evidenceWindow"] = map[string]any{"years": 1}
		var fields []any
		for _, f := range doc["fields"].([]any) {
			if f.(map[string]any)["field"] != "SERVICE_DESK" {
				fields = append(fields, f)
			}
		}
		doc["fields"] = fields
		for _, l := range doc["levels"].([]any) {
			if m, ok := l.(map[string]any)["fields"].(map[string]any); ok {
				delete(m, "SERVICE_DESK")
			}
		}
	})
	forEachBackend(t, options{catalogue: cat}, func(t *testing.T, e *env) {
		adm, h := e.token(t, admin), e.token(t, hr)
		const dist = `query($f: SpecialtyField!, $d: String, $k: DateTime) { skillDistribution(field: $f, department: $d, knownAt: $k) { department level count } }`
		const standing = `query($k: DateTime) { person(id: "W1") { standing(knownAt: $k) { field level } } }`
		today := e.Clock.Peek()
		e.mutate(t, adm, &mRegister, map[string]any{"id": "W1", "name": "Wataru Abe", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		e.mutate(t, adm, &mEngagement, map[string]any{"personId": "W1", "field": "SYSTEM_OPERATION", "title": "ops", "role": "MEMBER",
			"startedOn": today.AddDate(0, -4, 0).Format(time.DateOnly), "completedOn": today.AddDate(0, -1, 0).Format(time.DateOnly),
			"outcome": "SUCCESSFUL", "withinBudget": true, "complexity": []string{"OPERATION_REQUIREMENTS", "OPERATION_SYSTEMS"}}, "")
		e.mutate(t, adm, &mAssess, map[string]any{"personId": "W1", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC",
			"assessedOn": today.AddDate(0, 0, -7).Format(time.DateOnly)}, "")
		registerAsEarlierReleasesDid(t, e, "OLD1", "QA Dept ")
		then := e.Clock.Peek().UTC().Format(time.RFC3339Nano)
		answers := map[string]string{}
		ask := func(_, q string, vars map[string]any) string {
			return string(e.gql(t, h, q, vars).ok(t).Data)
		}
		cases := map[string]map[string]any{
			"SYSTEM_OPERATION":    {"f": "SYSTEM_OPERATION"},
			"SERVICE_DESK":        {"f": "SERVICE_DESK"},
			"QA Dept (untrimmed)": {"f": "SYSTEM_OPERATION", "d": "QA Dept "},
		}
		for name, vars := range cases {
			answers[name] = ask(name, dist, vars)
		}
		answers["standing"] = ask("standing", standing, nil)
		if !strings.Contains(answers["SYSTEM_OPERATION"], `"level":2`) || !strings.Contains(answers["standing"], `"level":2`) {
			t.Fatalf("W1 is not at level 2 then: %s %s", answers["SYSTEM_OPERATION"], answers["standing"])
		}

		// Two years on: W1's evidence has expired, and the trimmed QA Dept
		// has someone.
		e.Clock.Advance(2 * 365 * 24 * time.Hour)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "N1", "name": "New Hire", "department": "QA Dept", "joinedOn": "2025-01-01"}, "")
		if now := ask("now", dist, cases["SYSTEM_OPERATION"]); now == answers["SYSTEM_OPERATION"] {
			t.Fatalf("nothing expired in two years: %s", now)
		}
		for name, vars := range cases {
			vars["k"] = then
			if got := ask(name, dist, vars); got != answers[name] {
				t.Errorf("%s as known then: %s, answered then %s", name, got, answers[name])
			}
		}
		if got := ask("standing", standing, map[string]any{"k": then}); got != answers["standing"] {
			t.Errorf("W1's standing as known then: %s, answered then %s", got, answers["standing"])
		}

		r := e.gql(t, h, aliased(6, `skillTrend(field: SYSTEM_OPERATION, department: "Nowhere", from: "2020-01-01", to: "2019-01-01", interval: YEAR, knownAt: "2026-01-01T00:00:00Z") { on }`), nil)
		if len(r.Errors) != 1 || r.Errors[0].code() != "COMPLEXITY_LIMIT_EXCEEDED" {
			t.Errorf("six refused trends as known then: %+v, want COMPLEXITY_LIMIT_EXCEEDED", r.Errors)
		}
	})
}

// TestAnUntrimmedDepartmentOnlyAPlacementOnceNamedIsReachedByItsName: an
// older log's "QA Dept ", whose one placement a back-dated transfer later
// superseded, is still reached by its exact name as known then, though
// the trimmed "QA Dept" is a department now.
func TestAnUntrimmedDepartmentOnlyAPlacementOnceNamedIsReachedByItsName(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm, h := e.token(t, admin), e.token(t, hr)
		const dist = `query($d: String, $k: DateTime) { skillDistribution(field: SYSTEM_OPERATION, department: $d, knownAt: $k) { department level count } }`
		e.mutate(t, adm, &mRegister, map[string]any{"id": "N1", "name": "New Hire", "department": "QA Dept", "joinedOn": "2020-01-01"}, "")
		registerAsEarlierReleasesDid(t, e, "OLD1", "QA Dept ")
		then := e.Clock.Peek().UTC().Format(time.RFC3339Nano)
		given := string(e.gql(t, h, dist, map[string]any{"d": "QA Dept "}).ok(t).Data)
		if !strings.Contains(given, `"QA Dept "`) {
			t.Fatalf("QA Dept (untrimmed) then: %s", given)
		}
		e.mutate(t, adm, &mTransfer, map[string]any{"personId": "OLD1", "department": "Network", "effectiveOn": "2019-01-01"}, "")
		if got := string(e.gql(t, h, dist, map[string]any{"d": "QA Dept ", "k": then}).ok(t).Data); got != given {
			t.Errorf("as known then: %s, given then %s", got, given)
		}
	})
}

// operationsEngagement is the input of a successful SYSTEM_OPERATION
// engagement as a member, with two complexity criteria: with a BASIC
// service support assessment, level 2.
func operationsEngagement(person, started, completed string) map[string]any {
	return map[string]any{"personId": person, "field": "SYSTEM_OPERATION", "title": "ops", "role": "MEMBER",
		"startedOn": started, "completedOn": completed, "outcome": "SUCCESSFUL", "withinBudget": true,
		"complexity": []string{"OPERATION_REQUIREMENTS", "OPERATION_SYSTEMS"}}
}

// TestAnInstantNeedsItsOffset: knownAt is an RFC 3339 date-time with its
// offset; one without (hours apart from one time zone to the next) or an
// empty one is refused, naming the rule, not read as UTC or as now.
func TestAnInstantNeedsItsOffset(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "Z1", "name": "Zen", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	q := `query($k: DateTime) { person(id: "Z1") { standing(knownAt: $k) { level } } }`
	// An offset's hours run 00 to 23 and its minutes 00 to 59, and a
	// fraction of a second follows a ".", in RFC 3339, though Go's parser
	// takes "+24:00", "+00:60" and ",5".
	for _, k := range []string{"2026-11-27 06:00:12", "2026-11-27T06:00:12", "", "yesterday", "2026-01-02T15:04:05+24:00", "2026-01-02T15:04:05-24:00",
		"2026-01-02T15:04:05+00:60", "2026-01-02T15:04:05,5Z"} {
		r := e.gql(t, adm, q, map[string]any{"k": k})
		if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "with its offset") {
			t.Errorf("knownAt %q: %+v, want BAD_USER_INPUT naming the offset", k, r.Errors)
		}
	}
	// RFC 3339 (section 5.6) lets "T" and "Z" be written in lower case.
	for _, k := range []string{"2026-01-02T15:04:05Z", "2026-01-02T15:04:05.123456+09:00", "2026-01-02t15:04:05z", "2026-01-02t15:04:05.5+23:59"} {
		e.gql(t, adm, q, map[string]any{"k": k}).ok(t)
	}
}

// TestPeopleKnownAt: a list of people as known at an instant is the list
// answered then, its nodes' departments, standings and histories included,
// page by page; a manager may not ask for one.
func TestPeopleKnownAt(t *testing.T) {
	// One counter and one switch per backend: the two run in parallel, and
	// one's "behind" must not hold the other's writes.
	type counter struct {
		replays atomic.Int64
		behind  atomic.Bool
	}
	counters := map[string]*counter{"memory": {}, "postgres": {}}
	backendOf := func(rm graph.ReadModel) string {
		if _, ok := rm.(*postgres.Store); ok {
			return "postgres"
		}
		return "memory"
	}
	count := func(rm graph.ReadModel) graph.ReadModel {
		c := counters[backendOf(rm)]
		return replayCounter{rm, &c.replays, &c.behind}
	}
	forEachBackend(t, options{readModel: count}, func(t *testing.T, e *env) {
		replays, behind := &counters[e.backend].replays, &counters[e.backend].behind
		adm, h := e.token(t, admin), e.token(t, hr)
		const list = `query($d: String, $min: Int, $after: String, $k: DateTime) {
			people(department: $d, minLevel: $min, first: 1, after: $after, knownAt: $k) {
				totalCount pageInfo { hasNextPage endCursor }
				edges { node { id department memberships { department from to } standing { field level attainedOn } history { field on to } } } } }`
		walk := func(vars map[string]any) string {
			t.Helper()
			vars = maps.Clone(vars)
			var pages []string
			for len(pages) < 10 {
				var r struct {
					People struct {
						PageInfo struct {
							HasNextPage bool
							EndCursor   string
						}
					}
				}
				res := e.gql(t, h, list, vars).ok(t)
				res.decode(t, &r)
				pages = append(pages, string(res.Data))
				if !r.People.PageInfo.HasNextPage {
					break
				}
				vars["after"] = r.People.PageInfo.EndCursor
			}
			return strings.Join(pages, "\n")
		}
		cases := []map[string]any{{}, {"d": "Operations"}, {"min": 2}, {"d": "Operations", "min": 2}}
		type snapshot struct {
			at    string
			lists []string
		}
		take := func() snapshot {
			s := snapshot{at: e.Clock.Peek().UTC().Format(time.RFC3339Nano)}
			for _, c := range cases {
				s.lists = append(s.lists, walk(c))
			}
			return s
		}
		e.mutate(t, adm, &mRegister, map[string]any{"id": "L1", "name": "Rin Sato", "department": "Operations", "joinedOn": "2015-04-01"}, "")
		e.mutate(t, adm, &mRegister, map[string]any{"id": "L2", "name": "Mei Kudo", "department": "Operations", "joinedOn": "2015-04-01"}, "")
		e.mutate(t, adm, &mEngagement, operationsEngagement("L1", "2016-01-01", "2017-01-01"), "")
		theme := field(t, e.mutate(t, adm, &mAssess, map[string]any{"personId": "L1", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2016-02-01"}, "").Data,
			"assessTheme.accomplishmentId").(string)
		first := take()
		if !strings.Contains(first.lists[3], `"id":"L1"`) || strings.Contains(first.lists[3], `"id":"L2"`) {
			t.Fatalf("Operations at level 2: %s, want L1 alone", first.lists[3])
		}
		e.Clock.Advance(24 * time.Hour)
		// L1 leaves Operations (back-dated) and loses the theme; L2 rises,
		// and L3 joins.
		e.mutate(t, adm, &mTransfer, map[string]any{"personId": "L1", "department": "Network", "effectiveOn": "2019-01-01"}, "")
		e.mutate(t, adm, &mRetract, map[string]any{"accomplishmentId": theme, "reason": "never assessed"}, "")
		e.mutate(t, adm, &mEngagement, operationsEngagement("L2", "2015-05-01", "2016-01-01"), "")
		e.mutate(t, adm, &mAssess, map[string]any{"personId": "L2", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2016-03-01"}, "")
		e.mutate(t, adm, &mRegister, map[string]any{"id": "L3", "name": "Sho Ueno", "department": "Operations", "joinedOn": "2020-04-01"}, "")
		second := take()
		for i := range cases {
			if first.lists[i] == second.lists[i] {
				t.Fatalf("case %v: the history changed nothing to replay: %s", cases[i], first.lists[i])
			}
		}
		for _, s := range []snapshot{first, second} {
			for i, c := range cases {
				c = maps.Clone(c)
				c["k"] = s.at
				if got := walk(c); got != s.lists[i] {
					t.Errorf("people %v as known at %s:\n%s\nanswered then:\n%s", cases[i], s.at, got, s.lists[i])
				}
			}
		}
		// The pages of one list as known at an instant come from one replay,
		// a moment ago as well as long ago.
		replays.Store(0)
		walk(map[string]any{"k": e.Clock.Peek().Add(-2 * time.Minute).UTC().Format(time.RFC3339Nano)})
		if n := replays.Load(); n != 1 {
			t.Errorf("two pages (L1, L2) as known two minutes ago: %d replays, want 1", n)
		}
		replays.Store(0)
		walk(map[string]any{"k": second.at})
		if n := replays.Load(); n != 1 {
			t.Errorf("three pages as known now: %d replays, want 1", n)
		}
		// Events recorded after the instant leave the kept list as it is;
		// one recorded before it that reaches the read model after the
		// replay (a command stamped before the instant and written after)
		// makes the next page come from a new replay, which has it.
		e.Clock.Advance(time.Second)
		now := map[string]any{"k": e.Clock.Peek().UTC().Format(time.RFC3339Nano)}
		replays.Store(0)
		before := walk(now)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "L4", "name": "Ken Oda", "department": "Operations", "joinedOn": "2021-04-01"}, "")
		if got := walk(now); got != before || replays.Load() != 1 {
			t.Errorf("the list as known at %s after a later registration: %d replays (want 1)\n%s\nwas\n%s", now["k"], replays.Load(), got, before)
		}
		e.Clock.Advance(-time.Minute) // L5's registration is stamped before the instant
		e.mutate(t, adm, &mRegister, map[string]any{"id": "L5", "name": "Aya Mori", "department": "Operations", "joinedOn": "2021-04-01"}, "")
		e.Clock.Advance(time.Minute)
		if got := walk(now); !strings.Contains(got, `"id":"L5"`) || strings.Contains(got, `"id":"L4"`) || replays.Load() != 2 {
			t.Errorf("the list as known at %s after a registration stamped before it: %d replays (want 2), want L5 and not L4:\n%s", now["k"], replays.Load(), got)
		}
		if got := walk(now); replays.Load() != 2 || !strings.Contains(got, `"id":"L5"`) {
			t.Errorf("the list as known at %s once more: %d replays, want 2 (kept again)", now["k"], replays.Load())
		}
		// Nor is a list answered while the read model is behind the log: it
		// may lack events recorded before the instant, and would change
		// once they are applied (TestAKnownAtAnswerWaitsForTheLogsHead). It
		// is refused before anything is replayed.
		replays.Store(0)
		behind.Store(true)
		r := e.gql(t, h, list, map[string]any{"k": e.Clock.Peek().Add(-3 * time.Minute).UTC().Format(time.RFC3339Nano)})
		behind.Store(false)
		if len(r.Errors) != 1 || r.Errors[0].code() != "CONFLICT" || !strings.Contains(r.Errors[0].Message, "has not applied the event log") || replays.Load() != 0 {
			t.Errorf("a list as known three minutes ago, the read model behind: %d replays, %s %+v", replays.Load(), r.Data, r.Errors)
		}

		// Before anyone was registered: no one.
		if got := walk(map[string]any{"k": "2000-01-01T00:00:00Z"}); !strings.Contains(got, `"totalCount":0`) {
			t.Errorf("people as known in 2000: %s, want no one", got)
		}

		// A manager lists their department as known now only.
		mgr := e.token(t, managerA)
		if r := e.gql(t, mgr, `query($k: DateTime) { people(knownAt: $k) { totalCount } }`, map[string]any{"k": second.at}); len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
			t.Errorf("a manager's people as known then: %+v, want FORBIDDEN", r.Errors)
		}
		e.gql(t, mgr, `{ people { totalCount } }`, nil).ok(t)

		// Each list as known then is a replay besides its page: four fit in
		// a request, five do not.
		r = e.gql(t, h, aliased(5, `people(first: 1, knownAt: "2026-01-01T00:00:00Z") { totalCount }`), nil)
		if len(r.Errors) != 1 || r.Errors[0].code() != "COMPLEXITY_LIMIT_EXCEEDED" {
			t.Errorf("five replays in one request: %+v, want COMPLEXITY_LIMIT_EXCEEDED", r.Errors)
		}
		e.gql(t, h, aliased(4, `people(first: 1, knownAt: "2026-01-01T00:00:00Z") { totalCount }`), nil).ok(t)
	})
}

// replayCounter counts the replays of people lists as known at an instant
// (each starts by asking who may match), and can play a read model behind
// the log.
type replayCounter struct {
	graph.ReadModel
	n      *atomic.Int64
	behind *atomic.Bool // WaitFor answers as a read model behind the log
}

func (c replayCounter) WaitFor(ctx context.Context, position uint64) error {
	if c.behind.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return c.ReadModel.WaitFor(ctx, position)
}

// Readable answers as a read model behind the log: nothing applied.
func (c replayCounter) Readable(ctx context.Context) (uint64, error) {
	if c.behind.Load() {
		return 0, nil
	}
	return c.ReadModel.Readable(ctx)
}

func (c replayCounter) PeopleEverIn(ctx context.Context, department string) ([]string, error) {
	c.n.Add(1)
	return c.ReadModel.PeopleEverIn(ctx, department)
}

// TestAFutureKnownAtIsRefused: a knownAt later than the server's clock
// when the request is received is refused on every field that takes one,
// BAD_USER_INPUT naming knownAt, the rule and the clock, before anything
// runs (a mutation selecting it records nothing); what is known at a later
// instant is not known yet, and an answer now would change. A knownAt equal
// to the clock, in any offset, or before it is answered.
func TestAFutureKnownAtIsRefused(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	past := e.Clock.Peek()
	e.mutate(t, adm, &mRegister, map[string]any{"id": "F1", "name": "Fumi", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	now := e.Clock.Peek() // the resolver's clock: F1's registration was recorded at it
	tokyo := time.FixedZone("JST", 9*60*60)
	fields := map[string]string{
		"standing":          `query($k: DateTime) { person(id: "F1") { standing(knownAt: $k) { level } } }`,
		"history":           `query($k: DateTime) { person(id: "F1") { history(knownAt: $k) { field on to } } }`,
		"department":        `query($k: DateTime) { person(id: "F1") { department(asOf: "2020-01-01", knownAt: $k) } }`,
		"memberships":       `query($k: DateTime) { person(id: "F1") { memberships(knownAt: $k) { department } } }`,
		"people":            `query($k: DateTime) { people(knownAt: $k) { totalCount } }`,
		"skillDistribution": `query($k: DateTime) { skillDistribution(field: NETWORK_OPERATION, knownAt: $k) { level count } }`,
		"skillTrend": `query($k: DateTime) { skillTrend(field: NETWORK_OPERATION, from: "2026-05-01", to: "2026-06-01",
			interval: MONTH, knownAt: $k) { on } }`,
		"a fragment of a page": `query($k: DateTime) { people { edges { node { ...P } } } }
			fragment P on Person { standing(knownAt: $k) { level } }`,
	}
	refused := func(t *testing.T, r response) {
		t.Helper()
		if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != "knownAt" ||
			r.Errors[0].rule() != "must not be later than now" ||
			!strings.HasPrefix(r.Errors[0].Message, "knownAt: must not be later than now (the server's clock reads "+now.UTC().Format(time.RFC3339)) {
			t.Errorf("errors %+v; want one BAD_USER_INPUT naming knownAt, the rule and the server's clock", r.Errors)
		}
		if len(r.Data) != 0 && string(r.Data) != "null" {
			t.Errorf("data %s; want none: nothing runs", r.Data)
		}
	}
	for name, q := range fields {
		t.Run(name, func(t *testing.T) {
			for _, k := range []time.Time{now.Add(time.Microsecond), now.Add(time.Nanosecond), now.Add(24 * time.Hour).In(tokyo)} {
				refused(t, e.gql(t, adm, q, map[string]any{"k": k.Format(time.RFC3339Nano)}))
			}
			for _, k := range []time.Time{now, now.In(tokyo), past, now.Add(-365 * 24 * time.Hour)} {
				e.gql(t, adm, q, map[string]any{"k": k.Format(time.RFC3339Nano)}).ok(t)
			}
			e.gql(t, adm, q, map[string]any{"k": nil}).ok(t)
		})
	}
	// A literal as a variable, and one field of several.
	refused(t, e.gql(t, adm, `{ person(id: "F1") { name standing { level } later: standing(knownAt: "2099-01-01T00:00:00Z") { level } } }`, nil))

	// A mutation whose answer selects a standing, a department or
	// memberships as known later records nothing.
	for _, answer := range []string{`standing(knownAt: "2099-01-01T00:00:00Z") { level }`, `department(knownAt: "2099-01-01T00:00:00Z")`,
		`memberships(knownAt: "2099-01-01T00:00:00Z") { department }`} {
		head := e.head(t)
		r := e.gql(t, adm, `mutation($in: RegisterPersonInput!) { registerPerson(input: $in) { person { id `+answer+` } } }`,
			map[string]any{"in": map[string]any{"id": "F2", "name": "Fumio", "department": "Operations", "joinedOn": "2020-01-01"}})
		refused(t, r)
		if h := e.head(t); h != head {
			t.Errorf("the log's head moved from %d to %d: the mutation answering %s was recorded", head, h, answer)
		}
	}
	if r := e.gql(t, adm, `{ person(id: "F2") { id } }`, nil); string(r.Data) != `{"person":null}` {
		t.Errorf("F2 after the refused registration: %s %+v; want not found", r.Data, r.Errors)
	}
}

// TestStandingKnownAtTheFirstInstant: 0001-01-01T00:00:00Z is an instant
// like any other, before anything was recorded, so the standing known then
// is every field at level 0 (as one second later), with or without asOf;
// it is not taken as knownAt left out, which answered what is known now.
func TestStandingKnownAtTheFirstInstant(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "Z0", "name": "Zero Time", "department": "Operations", "joinedOn": "2016-04-01"}, "")
		e.mutate(t, adm, &mAssess, map[string]any{"personId": "Z0", "theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2017-01-10"}, "")
		e.mutate(t, adm, &mEngagement, map[string]any{"personId": "Z0", "field": "SERVICE_DESK", "title": "First-line support", "role": "PARTICIPANT",
			"startedOn": "2016-05-01", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}}, "")
		e.mutate(t, adm, &mAssess, map[string]any{"personId": "Z0", "theme": "INFORMATION_ASSET_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2017-01-10"}, "")
		levels := func(raw []json.RawMessage) (n, top int) {
			for _, f := range raw {
				var fs struct{ Level int }
				if err := json.Unmarshal(f, &fs); err != nil {
					t.Fatal(err)
				}
				n, top = n+1, max(top, fs.Level)
			}
			return n, top
		}
		now := e.gql(t, adm, `{ person(id: "Z0") { standing { field level } } }`, nil).ok(t)
		var p0 struct {
			Person struct{ Standing []json.RawMessage }
		}
		now.decode(t, &p0)
		if _, top := levels(p0.Person.Standing); top == 0 {
			t.Fatalf("Z0 now: %s; want a level above 0", now.Data)
		}
		for _, k := range []string{"0001-01-01T00:00:00Z", "0001-01-01T00:00:01Z", "0001-01-01T09:00:00+09:00"} {
			r := e.gql(t, adm, `query($k: DateTime!) { person(id: "Z0") {
				standing(knownAt: $k) { field level }
				inThePast: standing(asOf: "2020-01-01", knownAt: $k) { field level }
				history(knownAt: $k) { on }
			} }`, map[string]any{"k": k}).ok(t)
			var p struct {
				Person struct{ Standing, InThePast, History []json.RawMessage }
			}
			r.decode(t, &p)
			n, top := levels(p.Person.Standing)
			nPast, topPast := levels(p.Person.InThePast)
			if n != 3 || top != 0 || nPast != 3 || topPast != 0 || p.Person.History == nil || len(p.Person.History) != 0 {
				t.Errorf("knownAt %s: %s; want every field at level 0 and the history []", k, r.Data)
			}
		}
	})
}

// TestAKnownAtAnswerWaitsForTheLogsHead: events recorded before an instant
// but not yet applied (the projector behind, stalled, or handed over after
// a crash) belong to what was known then. An answer as known at that
// instant given without them changed once they were applied, so it waits
// for the read model to apply the log's head first.
func TestAKnownAtAnswerWaitsForTheLogsHead(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		h := e.token(t, hr)
		e.Wait(e.Register("KH1", "Operations", "2020-01-01").Position)
		e.StopProjector()
		e.Clock.Advance(10 * time.Minute)
		var pos uint64
		for _, a := range []domain.Accomplishment{ // in the log, not applied
			projectionstest.Assessment(domain.ServiceSupportManagement, domain.Basic, "2021-01-01"),
			projectionstest.Engagement(domain.SystemOperation, domain.Participant, "2021-02-01", "2021-03-01", domain.Successful, true),
		} {
			res, err := e.Recorder.RecordAccomplishment(context.Background(), events.RecordAccomplishment{PersonID: "KH1", Accomplishment: a})
			if err != nil {
				t.Fatal(err)
			}
			pos = res.Position
		}
		const q = `query($k: DateTime) { person(id: "KH1") { standing(asOf: "2022-01-01", knownAt: $k) { field level } } }`
		// An instant well before the events not applied yet is answered at
		// once: a past report stays available while the projector is behind.
		past := e.Clock.Peek().Add(-5 * time.Minute).Format(time.RFC3339) // after the registration
		start := time.Now()
		r := e.gql(t, h, q, map[string]any{"k": past}).ok(t)
		if got := fmt.Sprint(field(t, r.Data, "person.standing")); got != "[map[field:SYSTEM_OPERATION level:0] map[field:NETWORK_OPERATION level:0] map[field:SERVICE_DESK level:0]]" || time.Since(start) > 5*time.Second {
			t.Errorf("as known at %s, the projector behind: %s after %s", past, got, time.Since(start))
		}
		knownAt := e.Clock.Peek().Format(time.RFC3339)
		answered := make(chan response, 1)
		go func() { answered <- e.gql(t, h, q, map[string]any{"k": knownAt}) }()
		select {
		case r := <-answered:
			t.Fatalf("answered as known at %s before the read model applied position %d: %s %+v", knownAt, pos, r.Data, r.Errors)
		case <-time.After(300 * time.Millisecond):
		}
		e.StartProjector()
		r = (<-answered).ok(t)
		if got := fmt.Sprint(field(t, r.Data, "person.standing")); got != "[map[field:SYSTEM_OPERATION level:1] map[field:NETWORK_OPERATION level:1] map[field:SERVICE_DESK level:1]]" {
			t.Errorf("as known at %s: %s", knownAt, got)
		}
	})
}

// TestAKnownAtFieldTheCallerMayNotReadIsRefusedWithoutWaiting: the wait
// for the read model (TestAKnownAtAnswerWaitsForTheLogsHead) comes after
// authorisation. While the projector is behind, a knownAt field the caller
// may not read (a person of another department, analytics without the
// role, a manager's list as known then) is refused FORBIDDEN at once, not
// CONFLICT once the wait runs out; one they may read still waits, in the
// same operation as a refused one too. hr asking for a person whose
// registration is not applied yet waits for it rather than being told
// there is no such person.
func TestAKnownAtFieldTheCallerMayNotReadIsRefusedWithoutWaiting(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		e.Register("FA1", "Operations", "2020-01-01")
		e.Register("FB1", "Network", "2020-01-01")
		e.StopProjector()
		e.Clock.Advance(10 * time.Minute)
		for _, id := range []string{"FA1", "FB1"} { // in the log, not applied
			for _, a := range []domain.Accomplishment{
				projectionstest.Assessment(domain.ServiceSupportManagement, domain.Basic, "2021-01-01"),
				projectionstest.Engagement(domain.SystemOperation, domain.Participant, "2021-02-01", "2021-03-01", domain.Successful, true),
			} {
				if _, err := e.Recorder.RecordAccomplishment(context.Background(), events.RecordAccomplishment{PersonID: id, Accomplishment: a}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := e.Recorder.RegisterPerson(context.Background(), events.RegisterPerson{ID: "FN1", Name: "Fumi Noda", // in the log, not applied
			Department: "Operations", JoinedOn: domain.MustDate("2020-01-01")}); err != nil {
			t.Fatal(err)
		}
		k := map[string]any{"k": e.Clock.Peek().Format(time.RFC3339)}
		mgr := e.token(t, managerA)
		self, nobody := e.token(t, employee("FA1")), e.token(t, noRoles)
		for _, c := range []struct {
			name, tok, q string
		}{
			{"a manager's standing of another department's person", mgr, `query($k: DateTime) { person(id: "FB1") { standing(knownAt: $k) { level } } }`},
			{"a manager's history of another department's person", mgr, `query($k: DateTime) { person(id: "FB1") { history(knownAt: $k) { on } } }`},
			{"a manager's department of another department's person", mgr, `query($k: DateTime) { person(id: "FB1") { department(knownAt: $k) } }`},
			{"a manager's standing of a person not applied yet", mgr, `query($k: DateTime) { person(id: "FN1") { standing(knownAt: $k) { level } } }`},
			{"a manager's people as known then", mgr, `query($k: DateTime) { people(knownAt: $k) { totalCount } }`},
			{"a manager's analytics of another department", mgr, `query($k: DateTime) { skillDistribution(field: SYSTEM_OPERATION, department: "Network", knownAt: $k) { count } }`},
			{"an employee's standing of another person", self, `query($k: DateTime) { person(id: "FB1") { standing(knownAt: $k) { level } } }`},
			{"an employee's analytics", self, `query($k: DateTime) { skillDistribution(field: SYSTEM_OPERATION, knownAt: $k) { count } }`},
			{"analytics without a role", nobody, `query($k: DateTime) { skillDistribution(field: SYSTEM_OPERATION, knownAt: $k) { count } }`},
			{"an employee's trend", self, `query($k: DateTime) { skillTrend(field: SYSTEM_OPERATION, from: "2021-01-01", to: "2021-02-01", interval: MONTH, knownAt: $k) { on } }`},
		} {
			start := time.Now()
			r := e.gql(t, c.tok, c.q, k)
			if took := time.Since(start); len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" || took > 3*time.Second {
				t.Errorf("%s, the projector behind: %+v after %s; want FORBIDDEN at once", c.name, r.Errors, took)
			}
		}

		// What the caller may read waits, beside what they may not.
		type answer struct {
			r    response
			took time.Duration
		}
		ask := func(tok, q string) <-chan answer {
			ch := make(chan answer, 1)
			go func() {
				start := time.Now()
				r := e.gql(t, tok, q, k)
				ch <- answer{r, time.Since(start)}
			}()
			return ch
		}
		mixed := ask(mgr, `query($k: DateTime) {
			own: person(id: "FA1") { standing(asOf: "2022-01-01", knownAt: $k) { level } }
			other: person(id: "FB1") { standing(asOf: "2022-01-01", knownAt: $k) { level } }
			dist: skillDistribution(field: SYSTEM_OPERATION, asOf: "2022-01-01", knownAt: $k) { department level count } }`)
		registered := ask(e.token(t, hr), `query($k: DateTime) { person(id: "FN1") { id standing(knownAt: $k) { level } } }`)
		select {
		case a := <-mixed:
			t.Fatalf("a manager's own person as known now, answered before the read model applied the log: %s %+v", a.r.Data, a.r.Errors)
		case a := <-registered:
			t.Fatalf("hr's person registered as known now, answered before the read model applied the log: %s %+v", a.r.Data, a.r.Errors)
		case <-time.After(500 * time.Millisecond):
		}
		e.StartProjector()
		a := <-mixed
		if len(a.r.Errors) != 1 || a.r.Errors[0].code() != "FORBIDDEN" || fmt.Sprint(a.r.Errors[0].Path) != "[other]" {
			t.Errorf("the other department's person beside the own: %+v, want FORBIDDEN", a.r.Errors)
		}
		if got := fmt.Sprint(field(t, a.r.Data, "own.standing")); got != "[map[level:1] map[level:1] map[level:1]]" {
			t.Errorf("the manager's own person as known now, once applied: %s", got)
		}
		if got := fmt.Sprint(field(t, a.r.Data, "dist")); !strings.Contains(got, "map[count:1 department:Operations level:1]") {
			t.Errorf("the manager's analytics as known now, once applied: %s", got)
		}
		a = <-registered
		if got := fmt.Sprint(field(t, a.r.Data, "person.id")); len(a.r.Errors) != 0 || got != "FN1" {
			t.Errorf("hr's person registered before knownAt, once applied: %s %+v", a.r.Data, a.r.Errors)
		}
	})
}

// TestAKnownAtWaitOnAWebsocketHoldsUpNothingElse: a knownAt operation
// that waits for the read model (TestAKnownAtAnswerWaitsForTheLogsHead)
// waits on its own: another operation sent after it on the same websocket
// is answered meanwhile, and the waiting one once the read model applies
// the log's head. (The wait used to run on the connection's reading loop,
// where every later message waited for it.)
func TestAKnownAtWaitOnAWebsocketHoldsUpNothingElse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends[0], options{})
	e.Wait(e.Register("WS1", "Operations", "2020-01-01").Position)
	e.StopProjector()
	for _, a := range []domain.Accomplishment{ // in the log, not applied
		projectionstest.Assessment(domain.ServiceSupportManagement, domain.Basic, "2021-01-01"),
		projectionstest.Engagement(domain.SystemOperation, domain.Participant, "2021-02-01", "2021-03-01", domain.Successful, true),
	} {
		if _, err := e.Recorder.RecordAccomplishment(context.Background(), events.RecordAccomplishment{PersonID: "WS1", Accomplishment: a}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.connect(t, e.token(t, hr))
	c.send(wsMessage{ID: "known", Type: "subscribe", Payload: mustJSON(t, map[string]any{
		"query":     `query($k: DateTime) { person(id: "WS1") { standing(asOf: "2022-01-01", knownAt: $k) { level } } }`,
		"variables": map[string]any{"k": e.Clock.Peek().UTC().Format(time.RFC3339Nano)}})})
	c.send(wsMessage{ID: "now", Type: "subscribe", Payload: mustJSON(t, map[string]any{"query": `{ person(id: "WS1") { id } }`})})
	m, err := c.next(5 * time.Second)
	if err != nil || m.ID != "now" || m.Type != "next" || !strings.Contains(string(m.Payload), `"WS1"`) {
		t.Fatalf("first message: %+v %v; want the answer to the operation sent second, while the first waits", m, err)
	}
	e.StartProjector()
	for {
		m, err := c.next(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.ID == "known" && m.Type == "next" {
			if !strings.Contains(string(m.Payload), `"level":1`) || strings.Contains(string(m.Payload), "errors") {
				t.Errorf("as known now, once applied: %s", m.Payload)
			}
			return
		}
	}
}

// TestAMutationWithAKnownAtAnswerIsRecordedWhileTheProjectorIsBehind: a
// mutation whose answer asks for a standing as known at an instant is
// recorded at once, the projector behind or not; its answer then waits
// for its own event. (The knownAt wait for the log's head ran before the
// mutation, which was refused after it, recording nothing.)
func TestAMutationWithAKnownAtAnswerIsRecordedWhileTheProjectorIsBehind(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.Wait(e.Register("MK1", "Operations", "2020-01-01").Position)
	e.StopProjector()
	if _, err := e.Recorder.RecordAccomplishment(context.Background(), events.RecordAccomplishment{PersonID: "MK1",
		Accomplishment: projectionstest.Assessment(domain.ServiceSupportManagement, domain.Basic, "2021-01-01")}); err != nil {
		t.Fatal(err)
	}
	head := e.head(t)
	answered := make(chan response, 1)
	go func() {
		answered <- e.gql(t, adm, `mutation($in: RegisterPersonInput!, $k: DateTime!) { registerPerson(input: $in) { person { id standing(knownAt: $k) { level } } } }`,
			map[string]any{"in": map[string]any{"id": "MK2", "name": "Mika Kato", "department": "Operations", "joinedOn": "2021-04-01"},
				"k": e.Clock.Peek().Format(time.RFC3339)})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for e.head(t) == head {
		if time.Now().After(deadline) {
			t.Fatal("the mutation was not recorded while the projector was behind")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.StartProjector()
	r := (<-answered).ok(t)
	if got := fmt.Sprint(field(t, r.Data, "registerPerson.person.id")); got != "MK2" {
		t.Errorf("answer: %s", r.Data)
	}
}

// TestAnalyticsKnownAtAreKept: a distribution or trend as known at an
// instant is replayed once and answered again from what was kept, until an
// event recorded at or before its instant reaches the read model after the
// replay; events recorded after the instant leave it kept.
func TestAnalyticsKnownAtAreKept(t *testing.T) {
	counters := map[string]*atomic.Int64{"memory": {}, "postgres": {}}
	behind := &atomic.Bool{}
	forEachBackend(t, options{readModel: func(rm graph.ReadModel) graph.ReadModel {
		name := "memory"
		if _, ok := rm.(*postgres.Store); ok {
			name = "postgres"
		}
		return replayCounter{rm, counters[name], behind}
	}}, func(t *testing.T, e *env) {
		replays := counters[e.backend]
		adm, h := e.token(t, admin), e.token(t, hr)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "K1", "name": "Rin Sato", "department": "Operations", "joinedOn": "2015-04-01"}, "")
		e.mutate(t, adm, &mEngagement, operationsEngagement("K1", "2016-01-01", "2017-01-01"), "")
		e.Clock.Advance(time.Second)
		k := e.Clock.Peek().UTC().Format(time.RFC3339Nano)
		queries := map[string]string{
			"distribution": `query($k: DateTime) { skillDistribution(field: SYSTEM_OPERATION, asOf: "2022-01-01", knownAt: $k) { department level count } }`,
			"trend": `query($k: DateTime) { skillTrend(field: SYSTEM_OPERATION, from: "2021-01-01", to: "2022-01-01", interval: QUARTER,
				knownAt: $k) { on cells { department level count } } }`,
		}
		answers := map[string]string{}
		replays.Store(0)
		for name, q := range queries {
			answers[name] = string(e.gql(t, h, q, map[string]any{"k": k}).ok(t).Data)
			if got := string(e.gql(t, h, q, map[string]any{"k": k}).ok(t).Data); got != answers[name] {
				t.Errorf("%s asked again: %s, was %s", name, got, answers[name])
			}
		}
		if n := replays.Load(); n != 2 {
			t.Errorf("a distribution and a trend, each asked twice: %d replays, want 2", n)
		}
		// Recorded after the instant: the same answers, kept.
		e.mutate(t, adm, &mRegister, map[string]any{"id": "K2", "name": "Mei Kudo", "department": "Operations", "joinedOn": "2015-04-01"}, "")
		e.mutate(t, adm, &mEngagement, operationsEngagement("K2", "2016-01-01", "2017-01-01"), "")
		for name, q := range queries {
			if got := string(e.gql(t, h, q, map[string]any{"k": k}).ok(t).Data); got != answers[name] {
				t.Errorf("%s after a later recording: %s, was %s", name, got, answers[name])
			}
		}
		if n := replays.Load(); n != 2 {
			t.Errorf("after a later recording: %d replays, want still 2", n)
		}
		// Stamped before the instant and applied after the replay: replayed,
		// and the new answer counts it.
		e.Clock.Advance(-time.Minute)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "K3", "name": "Sho Ueno", "department": "Operations", "joinedOn": "2015-04-01"}, "")
		e.mutate(t, adm, &mEngagement, operationsEngagement("K3", "2016-01-01", "2017-01-01"), "")
		e.Clock.Advance(time.Minute)
		for name, q := range queries {
			got := string(e.gql(t, h, q, map[string]any{"k": k}).ok(t).Data)
			if got == answers[name] || !strings.Contains(got, `"count":2`) {
				t.Errorf("%s after K3's events stamped before the instant: %s, want K1 and K3 counted (was %s)", name, got, answers[name])
			}
		}
		if n := replays.Load(); n != 4 {
			t.Errorf("after events stamped before the instant: %d replays, want 4", n)
		}
	})
}

// TestPeoplesOwnArgumentsAreRefusedWithoutWaiting: people(knownAt:) with a
// department waits for the read model before it checks the department
// (a placement recorded before knownAt may not be applied yet), but its
// other arguments need no read model: while the projector is behind, a
// first, after or minLevel out of bounds is refused at once, naming the
// argument, not CONFLICT once the wait runs out.
func TestPeoplesOwnArgumentsAreRefusedWithoutWaiting(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		e.Wait(e.Register("PW1", "Operations", "2020-01-01").Position)
		e.StopProjector()
		e.Clock.Advance(10 * time.Minute)
		if _, err := e.Recorder.RegisterPerson(context.Background(), events.RegisterPerson{ID: "PW2", Name: "Pia West", // in the log, not applied
			Department: "Operations", JoinedOn: domain.MustDate("2020-01-01")}); err != nil {
			t.Fatal(err)
		}
		k := map[string]any{"k": e.Clock.Peek().Format(time.RFC3339)}
		h := e.token(t, hr)
		for _, c := range []struct{ args, field string }{
			{`first: 0`, "first"},
			{`after: "not a cursor"`, "after"},
			{`minLevel: 99`, "minLevel"},
		} {
			start := time.Now()
			r := e.gql(t, h, `query($k: DateTime) { people(department: "Operations", `+c.args+`, knownAt: $k) { totalCount } }`, k)
			if took := time.Since(start); len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != c.field || took > 3*time.Second {
				t.Errorf("people(%s), the projector behind: %+v after %s; want BAD_USER_INPUT on %s at once", c.args, r.Errors, took, c.field)
			}
		}
		// Who may list is decided first, by the token alone: an employee,
		// or a manager asking about another instant, is refused FORBIDDEN
		// whatever the arguments say, as before they were checked early.
		for _, c := range []struct {
			who  graph.Principal
			args string
		}{
			{employee("PW1"), `first: 0`},
			{employee("PW1"), `minLevel: 99`},
			{managerA, `first: 0, knownAt: $k`},
			{managerA, `minLevel: 99, asOf: "2021-01-01"`},
		} {
			q, vars := `{ people(`+c.args+`) { totalCount } }`, map[string]any(nil)
			if strings.Contains(c.args, "$k") {
				q, vars = `query($k: DateTime) `+q, k
			}
			r := e.gql(t, e.token(t, c.who), q, vars)
			if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
				t.Errorf("%s: people(%s): %+v; want FORBIDDEN", c.who.Subject, c.args, r.Errors)
			}
		}
		e.StartProjector()
	})
}

// TestDepartmentKnownAtOnAPageWaitsWhateverElseReadThePage: on a page of
// people, a field that needs no wait (a standing as known now) reads the
// page's events at once; a department as known at an instant on the same
// page must still answer from events read after the read model applied
// the log's head, not from that earlier read.
func TestDepartmentKnownAtOnAPageWaitsWhateverElseReadThePage(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		h := e.token(t, hr)
		e.Wait(e.Register("KP1", "Operations", "2020-01-01").Position)
		e.StopProjector()
		e.Clock.Advance(10 * time.Minute)
		if _, err := e.Recorder.TransferPerson(context.Background(), events.TransferPerson{PersonID: "KP1", Department: "Network",
			EffectiveOn: domain.MustDate("2021-01-01")}); err != nil { // in the log, not applied
			t.Fatal(err)
		}
		knownAt := e.Clock.Peek().Format(time.RFC3339)
		answered := make(chan response, 1)
		go func() {
			answered <- e.gql(t, h, `query($k: DateTime) { people { edges { node { id standing { level }
				department(asOf: "2022-01-01", knownAt: $k) memberships(knownAt: $k) { department } history(knownAt: $k) { on } } } } }`,
				map[string]any{"k": knownAt})
		}()
		time.Sleep(300 * time.Millisecond)
		e.StartProjector()
		r := (<-answered).ok(t)
		if strings.Count(string(r.Data), "Network") != 2 {
			t.Errorf("department and memberships as known at %s on a page also holding a standing as known now: %s; want the transfer to Network in both", knownAt, r.Data)
		}
	})
}
