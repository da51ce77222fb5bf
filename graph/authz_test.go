package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// role is one column of the authorization matrix.
type role struct {
	name string
	// principal for the role, given the person the matrix acts on and
	// someone else in the same department
	principal func(target, other string) graph.Principal
}

var roles = []role{
	{"admin", func(string, string) graph.Principal { return admin }},
	{"hr", func(string, string) graph.Principal { return hr }},
	{"managerA", func(string, string) graph.Principal { return managerA }},
	{"managerB", func(string, string) graph.Principal { return managerB }},
	{"employeeSelf", func(target, _ string) graph.Principal { return employee(target) }},
	{"employeeOther", func(_, other string) graph.Principal { return employee(other) }},
	{"noRoles", func(string, string) graph.Principal { return noRoles }},
}

// operation is one row of the matrix: a request against the target person
// P (in department A, "Operations"), their engagement ENG and assessment
// THEME, and which roles the roles table of api.md allows.
type operation struct {
	name     string
	field    string // the top-level field
	mutation bool
	query    string
	vars     func(p, eng, theme string) map[string]any
	allowed  string // the roles allowed, space separated
}

const (
	everyone     = "admin hr managerA managerB employeeSelf employeeOther noRoles"
	readers      = "admin hr managerA employeeSelf" // read and record for P
	staff        = "admin hr managerA"              // change where P works
	analytics    = "admin hr managerA managerB"     // analytics, each manager for their department
	analyticsOfA = "admin hr managerA"
)

func in(v map[string]any) map[string]any { return map[string]any{"in": v} }

// The rows in order: queries first, then mutations (the departure last, as
// it ends P's membership of department A).
var operations = []operation{
	{"person", "person", false, `query($p: ID!) { person(id: $p) { id department standing { level } accomplishments { totalCount } } }`,
		func(p, _, _ string) map[string]any { return map[string]any{"p": p} }, readers},
	{"people", "people", false, `{ people { totalCount edges { node { id } } } }`, nil, analytics},
	{"people of A", "people", false, `{ people(department: "Operations") { totalCount } }`, nil, analyticsOfA},
	{"accomplishment", "accomplishment", false, `query($id: ID!) { accomplishment(id: $id) { id } }`,
		func(_, eng, _ string) map[string]any { return map[string]any{"id": eng} }, readers},
	{"skillDistribution", "skillDistribution", false, `{ skillDistribution(field: SYSTEM_OPERATION) { department level count } }`, nil, analytics},
	{"skillDistribution of A", "skillDistribution", false, `{ skillDistribution(field: SYSTEM_OPERATION, department: "Operations") { count } }`, nil, analyticsOfA},
	{"skillTrend", "skillTrend", false, `{ skillTrend(field: SERVICE_DESK, from: "2025-01-01", to: "2026-01-01", interval: QUARTER) { on cells { department count } } }`, nil, analytics},
	{"skillTrend of A", "skillTrend", false, `{ skillTrend(field: SERVICE_DESK, department: "Operations", from: "2025-01-01", to: "2026-01-01", interval: YEAR) { on } }`, nil, analyticsOfA},
	{"departments", "departments", false, `{ departments }`, nil, analytics},
	// The catalogue is the published rule book: any authenticated caller.
	{"catalogue", "catalogue", false, `{ catalogue { id version } }`, nil, everyone},

	{"registerPerson into A", "registerPerson", true, mRegister, func(p, _, _ string) map[string]any {
		return in(map[string]any{"id": p + "_new", "name": "New Hire", "department": "Operations", "joinedOn": "2026-05-01"})
	}, staff},
	{"transferPerson", "transferPerson", true, mTransfer, func(p, _, _ string) map[string]any {
		// Into the department P is already in: allowed transfers keep the
		// rest of the matrix valid.
		return in(map[string]any{"personId": p, "department": "Operations", "effectiveOn": "2026-05-01"})
	}, staff},
	{"recordEngagement", "recordEngagement", true, mEngagement, func(p, _, _ string) map[string]any {
		return in(map[string]any{"personId": p, "field": "SERVICE_DESK", "title": "t", "role": "PARTICIPANT",
			"startedOn": "2026-01-05", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}})
	}, readers},
	{"recordTechnologySuccession", "recordTechnologySuccession", true, mSuccession, func(p, _, _ string) map[string]any {
		return in(map[string]any{"personId": p, "kind": "BOOK", "title": "t", "occurredOn": "2026-01-05", "fields": []string{"SERVICE_DESK"}})
	}, readers},
	{"recordSubordinateDevelopment", "recordSubordinateDevelopment", true, mDevelopment, func(p, _, _ string) map[string]any {
		return in(map[string]any{"personId": p, "kind": "COACHING", "occurredOn": "2026-01-05"})
	}, readers},
	{"assessTheme", "assessTheme", true, mAssess, func(p, _, _ string) map[string]any {
		return in(map[string]any{"personId": p, "theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2026-01-05"})
	}, readers},
	{"amendAccomplishment", "amendAccomplishment", true, mAmend, func(_, eng, _ string) map[string]any {
		return in(map[string]any{"accomplishmentId": eng, "title": "amended"})
	}, readers},
	{"retractAccomplishment", "retractAccomplishment", true, mRetract, func(_, _, theme string) map[string]any {
		return in(map[string]any{"accomplishmentId": theme, "reason": "mistake"})
	}, readers},
	{"recordDeparture", "recordDeparture", true, mDeparture, func(p, _, _ string) map[string]any {
		return in(map[string]any{"personId": p, "effectiveOn": "2026-05-31"})
	}, staff},
}

// TestAuthorizationMatrix asserts every role against every operation, as
// the roles table of api.md says: allowed gives data, forbidden gives a
// FORBIDDEN error, no data for the field, and records nothing.
func TestAuthorizationMatrix(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		// Each role acts on a person of its own (so that what an allowed
		// mutation changes cannot affect another role's row).
		type target struct{ person, other, eng, theme string }
		targets := map[string]target{}
		for i, r := range roles {
			p, other := fmt.Sprintf("P%d", i), fmt.Sprintf("Q%d", i)
			for _, id := range []string{p, other} {
				e.mutate(t, adm, &mRegister, map[string]any{"id": id, "name": "Person " + id, "department": "Operations", "joinedOn": "2020-01-01"}, "")
			}
			// What an employee amends and retracts they recorded themselves
			// (TestWhoRecordedDecidesWhatAnEmployeeChanges).
			recorder := adm
			if r.name == "employeeSelf" {
				recorder = e.token(t, employee(p))
			}
			eng := e.mutate(t, recorder, &mEngagement, map[string]any{"personId": p, "field": "SYSTEM_OPERATION", "title": "ops", "role": "PRACTITIONER",
				"startedOn": "2021-01-01", "completedOn": "2021-12-31", "outcome": "SUCCESSFUL", "withinBudget": true, "complexity": []string{}}, "ENG_"+r.name)
			theme := e.mutate(t, recorder, &mAssess, map[string]any{"personId": p, "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2021-02-01"}, "THEME_"+r.name)
			targets[r.name] = target{p, other,
				field(t, eng.Data, "recordEngagement.accomplishmentId").(string), field(t, theme.Data, "assessTheme.accomplishmentId").(string)}
		}
		// A person in department B, whom only admin, hr and manager B see.
		e.mutate(t, adm, &mRegister, map[string]any{"id": "B1", "name": "Bea", "department": "Network", "joinedOn": "2020-01-01"}, "")
		// A person who was in B and is in A since 2025.
		e.mutate(t, adm, &mRegister, map[string]any{"id": "T1", "name": "Taro", "department": "Network", "joinedOn": "2020-01-01"}, "")
		e.mutate(t, adm, &mTransfer, map[string]any{"personId": "T1", "department": "Operations", "effectiveOn": "2025-01-01"}, "")

		for _, r := range roles {
			t.Run(r.name, func(t *testing.T) {
				tg := targets[r.name]
				tok := e.token(t, r.principal(tg.person, tg.other))
				for _, op := range operations {
					var vars map[string]any
					if op.vars != nil {
						vars = op.vars(tg.person, tg.eng, tg.theme)
					}
					before := e.head(t)
					res := e.gql(t, tok, op.query, vars)
					allowed := strings.Contains(" "+op.allowed+" ", " "+r.name+" ")
					checkAccess(t, op, allowed, res)
					switch after := e.head(t); {
					case op.mutation && allowed && after == before:
						t.Errorf("%s: allowed, but nothing was recorded", op.name)
					case (!op.mutation || !allowed) && after != before:
						t.Errorf("%s: log head moved from %d to %d", op.name, before, after)
					}
				}
			})
		}

		// What each role sees of the lists: managers their own department
		// (as of today) only.
		t.Run("people scope", func(t *testing.T) {
			for _, c := range []struct {
				p    graph.Principal
				want string
			}{{admin, "B1"}, {hr, "B1"}, {managerB, "B1"}, {managerA, "Q0"}} {
				r := e.gql(t, e.token(t, c.p), `{ people(first: 100) { edges { node { id department } } } }`, nil).ok(t)
				var got struct {
					People struct {
						Edges []struct {
							Node struct{ ID, Department string }
						}
					}
				}
				r.decode(t, &got)
				seen := false
				for _, ed := range got.People.Edges {
					seen = seen || ed.Node.ID == c.want
					if c.p.Department != "" && ed.Node.Department != c.p.Department {
						t.Errorf("%s sees %s of %s", c.p.Subject, ed.Node.ID, ed.Node.Department)
					}
				}
				if !seen {
					t.Errorf("%s does not see %s", c.p.Subject, c.want)
				}
			}
		})
		t.Run("manager and a departed person", func(t *testing.T) {
			// P0 departed (admin's last row): no longer in A as of today.
			r := e.gql(t, e.token(t, managerA), `{ person(id: "P0") { id } }`, nil)
			if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
				t.Errorf("manager A reads a departed person: %s %+v", r.Data, r.Errors)
			}
		})
		t.Run("manager listing the past", func(t *testing.T) {
			// Manager B reads people in B as of today; T1 left B for A in
			// 2025 and must not be reachable through a past asOf.
			mb := e.token(t, managerB)
			if r := e.gql(t, mb, `{ person(id: "T1") { id } }`, nil); len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
				t.Errorf("manager B reads T1: %s %+v", r.Data, r.Errors)
			}
			r := e.gql(t, mb, `{ people(asOf: "2021-01-01") { edges { node { id accomplishments { totalCount } } } } }`, nil)
			if strings.Contains(string(r.Data), `"T1"`) || len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
				t.Errorf("manager B lists people as of 2021 (T1 has left B since): %s %+v", r.Data, r.Errors)
			}
			// As of today (explicitly) is the manager's own view.
			e.gql(t, mb, `{ people(asOf: "2026-06-01") { totalCount } }`, nil).ok(t)
			// Analytics are aggregates: a manager may look back.
			e.gql(t, mb, `{ skillDistribution(field: NETWORK_OPERATION, asOf: "2021-01-01") { count } }`, nil).ok(t)
		})
		t.Run("unknown ids do not leak", func(t *testing.T) {
			// A manager asking for an id that does not exist learns nothing
			// more than for one in another department.
			for _, q := range []string{`{ person(id: "NOPE") { id } }`, `{ person(id: "B1") { id } }`} {
				r := e.gql(t, e.token(t, managerA), q, nil)
				if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
					t.Errorf("%s as manager A: %+v", q, r.Errors)
				}
			}
		})
		t.Run("employeeSelf departed", func(t *testing.T) {
			// Once departed, the employee still reads their own person
			// and accomplishments, and records, amends and retracts
			// nothing of theirs (TestADepartedEmployeeRecordsNothingOfTheirs).
			tg := targets["employeeSelf"]
			e.mutate(t, adm, &mDeparture, map[string]any{"personId": tg.person, "effectiveOn": "2026-05-31"}, "")
			tok := e.token(t, employee(tg.person))
			for _, op := range operations {
				if !strings.Contains(" "+op.allowed+" ", " employeeSelf ") {
					continue
				}
				var vars map[string]any
				if op.vars != nil {
					vars = op.vars(tg.person, tg.eng, tg.theme)
				}
				before := e.head(t)
				checkAccess(t, op, !op.mutation, e.gql(t, tok, op.query, vars))
				if after := e.head(t); after != before {
					t.Errorf("%s: log head moved from %d to %d", op.name, before, after)
				}
			}
		})
	})
}

// checkAccess asserts one cell of the matrix.
func checkAccess(t *testing.T, op operation, allowed bool, res response) {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Errorf("%s: HTTP %d %s", op.name, res.Status, res.Raw)
		return
	}
	value := field(t, res.Data, op.field)
	if allowed {
		if len(res.Errors) > 0 || value == nil {
			t.Errorf("%s: allowed, got %s %+v", op.name, res.Data, res.Errors)
		}
		return
	}
	if value != nil {
		t.Errorf("%s: forbidden, but data was returned: %s", op.name, res.Data)
	}
	if len(res.Errors) != 1 || res.Errors[0].code() != "FORBIDDEN" {
		t.Errorf("%s: forbidden, want one FORBIDDEN error, got %+v", op.name, res.Errors)
		return
	}
	if p := res.Errors[0].Path; len(p) != 1 || p[0] != op.field {
		t.Errorf("%s: the FORBIDDEN error's path is %v, want [%s]", op.name, p, op.field)
	}
}

// TestAuthentication: requests without a valid token get HTTP 401 and reach
// nothing.
func TestAuthentication(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	good := e.token(t, admin)
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	claims := func(extra map[string]any) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "x", "roles": []string{"admin"}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	expired, err := e.tokens.Mint(admin, time.Hour, now.Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, header string
	}{
		{"no header", ""},
		{"empty bearer", "Bearer "},
		{"basic scheme", "Basic YWRtaW46YWRtaW4="},
		{"garbage", "Bearer not-a-token"},
		{"bad signature", "Bearer " + sign(jwt.SigningMethodHS256, []byte("another-secret"), claims(nil))},
		{"tampered payload", "Bearer " + tamper(t, good)},
		{"expired", "Bearer " + expired},
		{"no expiry", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "x", "roles": []string{"admin"}})},
		{"alg none", "Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil))},
		{"alg HS512", "Bearer " + sign(jwt.SigningMethodHS512, []byte(testSecret), claims(nil))},
		{"unknown role", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testSecret), claims(map[string]any{"roles": []string{"root"}}))},
		{"a manager without a department", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testSecret), claims(map[string]any{"roles": []string{"manager"}}))},
		{"an employee without a person", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testSecret), claims(map[string]any{"roles": []string{"employee"}}))},
		{"a department with a NUL", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testSecret), claims(map[string]any{"roles": []string{"manager"}, "department": "Op\x00s"}))},
		{"a person with a NUL", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testSecret), claims(map[string]any{"roles": []string{"employee"}, "person": "E\x001"}))},
		{"a person that is no person id", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testSecret), claims(map[string]any{"roles": []string{"employee"}, "person": "a b"}))},
		{"a manager's person that is no person id", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testSecret), claims(map[string]any{"roles": []string{"manager"}, "department": "Operations", "person": "a b"}))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, method := range []string{http.MethodPost, http.MethodGet} {
				before := e.head(t)
				var req *http.Request
				if method == http.MethodPost {
					req, _ = http.NewRequest(method, e.url, strings.NewReader(
						`{"query":"mutation { registerPerson(input: {id: \"X1\", name: \"x\", department: \"Operations\", joinedOn: \"2020-01-01\"}) { position } }"}`))
					req.Header.Set("Content-Type", "application/json")
				} else {
					req, _ = http.NewRequest(method, e.url+"?query=%7B%20catalogue%20%7B%20id%20%7D%20%7D", nil)
				}
				if c.header != "" {
					req.Header.Set("Authorization", c.header)
				}
				res := e.do(t, http.DefaultClient, req)
				if res.Status != http.StatusUnauthorized || strings.Contains(string(res.Raw), `"data"`) {
					t.Errorf("%s: HTTP %d %s, want 401 and no data", method, res.Status, res.Raw)
				}
				if e.head(t) != before {
					t.Errorf("%s: an unauthenticated request recorded something", method)
				}
			}
		})
	}
	t.Run("websocket upgrade header on a plain POST", func(t *testing.T) {
		// Upgrades authenticate in connection_init; a POST that only claims
		// to upgrade must not be served without a token.
		req, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader(`{"query":"{ catalogue { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Upgrade", "websocket")
		res := e.do(t, http.DefaultClient, req)
		if res.Status == http.StatusOK || strings.Contains(string(res.Raw), "ITSS") {
			t.Errorf("HTTP %d %s", res.Status, res.Raw)
		}
	})
	t.Run("valid token", func(t *testing.T) {
		e.gql(t, good, `{ catalogue { id } }`, nil).ok(t)
		req, _ := http.NewRequest(http.MethodGet, e.url+"?query=%7B%20catalogue%20%7B%20id%20%7D%20%7D", nil)
		req.Header.Set("Authorization", "bearer "+good) // the scheme is case-insensitive
		if res := e.do(t, http.DefaultClient, req); res.Status != http.StatusOK || len(res.Errors) > 0 {
			t.Errorf("GET with a valid token: %d %s", res.Status, res.Raw)
		}
	})
}

// tamper changes a token's payload without re-signing it.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %s", token)
	}
	payload := jwt.MapClaims{"sub": "x", "roles": []string{"admin", "hr"}, "exp": time.Now().Add(time.Hour).Unix()}
	forged := sign64(t, payload)
	return parts[0] + "." + forged + "." + parts[2]
}

func sign64(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SigningString()
	if err != nil {
		t.Fatal(err)
	}
	_, payload, _ := strings.Cut(s, ".")
	return payload
}

// TestAManagerSeesTheTransferThatTakesSomeoneAway: the payload of a
// transfer out of the manager's department shows the person as the
// transfer left them (the change was recorded: refusing the payload would
// report it as a failure); from then on the person is out of reach.
func TestAManagerSeesTheTransferThatTakesSomeoneAway(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	e.mutate(t, e.token(t, admin), &mRegister, map[string]any{"id": "T1", "name": "Leaving", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	mgr := e.token(t, managerA)
	r := e.mutate(t, mgr, &mTransfer, map[string]any{"personId": "T1", "department": "Network", "effectiveOn": "2025-01-01"}, "")
	if got := field(t, r.Data, "transferPerson.person.department"); got != "Network" {
		t.Errorf("payload department %v, want Network", got)
	}
	r = e.gql(t, mgr, `{ person(id: "T1") { name } }`, nil)
	if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
		t.Errorf("reading T1 after the transfer: %s %+v, want FORBIDDEN", r.Data, r.Errors)
	}
}

// TestAKeyUsedByAnotherCallerShowsNothing: a registration without an id
// takes its generated id from its idempotency key; a manager who sends
// another registration with a key someone already used for a person of
// another department gets BAD_USER_INPUT naming the key, no data of that
// person, and nothing recorded, in GraphQL as in /v1/import.
func TestAKeyUsedByAnotherCallerShowsNothing(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	e.mutate(t, e.token(t, admin), &mRegister, map[string]any{"name": "Secret Sato", "department": "Network",
		"joinedOn": "2020-01-01", "idempotencyKey": "hire-2026-0042"}, "")
	mgr := e.token(t, managerA)
	r := e.gql(t, mgr, mRegister, map[string]any{"in": map[string]any{"name": "Mine", "department": "Operations",
		"joinedOn": "2025-01-01", "idempotencyKey": "hire-2026-0042"}})
	if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != "idempotencyKey" {
		t.Errorf("another registration under a used key: errors %+v, want one BAD_USER_INPUT naming idempotencyKey", r.Errors)
	}
	if strings.Contains(string(r.Raw), "Secret Sato") || strings.Contains(string(r.Raw), "Network") {
		t.Errorf("the response shows the other department's person: %s", r.Raw)
	}
	_, lines := e.importLines(t, mgr, `{"op":"registerPerson","input":{"name":"Mine","department":"Operations","joinedOn":"2025-01-01","idempotencyKey":"hire-2026-0042"}}`)
	if len(lines) != 1 || lines[0].OK || lines[0].Code != "BAD_USER_INPUT" || lines[0].Field != "idempotencyKey" || lines[0].PersonID != "" {
		t.Errorf("the same line imported: %+v, want a refusal naming idempotencyKey and no person", lines)
	}
	// Nobody but Secret Sato was registered, so no one has been in the
	// manager's department.
	people := e.gql(t, e.token(t, admin), `{ people { totalCount } }`, nil).ok(t)
	if got := field(t, people.Data, "people.totalCount"); got != float64(1) {
		t.Errorf("%v people after refused registrations, want 1", got)
	}
}

// TestADepartmentWithSpacesIsTheDepartment: a manager registering into
// their department with a stray space is registering into it, and the
// person is counted there, not in a department of its own.
func TestADepartmentWithSpacesIsTheDepartment(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	r := e.mutate(t, e.token(t, managerA), &mRegister, map[string]any{"id": "S1", "name": " Spaced ", "department": " Operations ",
		"joinedOn": "2020-01-01"}, "")
	if got := field(t, r.Data, "registerPerson.person.department"); got != "Operations" {
		t.Errorf("department %q, want Operations", got)
	}
	if got := field(t, r.Data, "registerPerson.person.name"); got != "Spaced" {
		t.Errorf("name %q, want Spaced", got)
	}
}

// TestWhoRecordedDecidesWhatAnEmployeeChanges: every accomplishment says
// who recorded, last amended and retracted it (the token's subject). An
// employee amends and retracts only what they recorded themselves, not
// what hr or their manager recorded for them (an assessment, say); hr and
// the manager change either. /v1/import applies the same rule.
func TestWhoRecordedDecidesWhatAnEmployeeChanges(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm, hrTok, mgr := e.token(t, admin), e.token(t, hr), e.token(t, managerA)
		self := e.token(t, employee("W1"))
		e.mutate(t, adm, &mRegister, map[string]any{"id": "W1", "name": "W", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		assess := func(token, proficiency string) string {
			r := e.mutate(t, token, &mAssess, map[string]any{"personId": "W1", "theme": "STRESS_MANAGEMENT", "proficiency": proficiency, "assessedOn": "2021-02-01"}, "")
			return field(t, r.Data, "assessTheme.accomplishmentId").(string)
		}
		byManager, byHR, bySelf := assess(mgr, "BASIC"), assess(hrTok, "BASIC"), assess(self, "BASIC")
		const who = `query($id: ID!) { accomplishment(id: $id) { recordedBy amendedBy retractedBy } }`
		check := func(id, recordedBy string, amendedBy, retractedBy any) {
			t.Helper()
			r := e.gql(t, self, who, map[string]any{"id": id}).ok(t)
			want := map[string]any{"recordedBy": recordedBy, "amendedBy": amendedBy, "retractedBy": retractedBy}
			if got := field(t, r.Data, "accomplishment"); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: %v, want %v", id, got, want)
			}
		}
		check(byManager, "manager-a", nil, nil)
		check(bySelf, "employee-W1", nil, nil)

		amend := func(token, id, proficiency string) response {
			return e.gql(t, token, mAmend, in(map[string]any{"accomplishmentId": id, "proficiency": proficiency}))
		}
		retract := func(token, id string) response {
			return e.gql(t, token, mRetract, in(map[string]any{"accomplishmentId": id, "reason": "mine now"}))
		}
		for _, id := range []string{byManager, byHR} {
			head := e.head(t)
			for name, r := range map[string]response{"amend": amend(self, id, "GUIDES_OTHERS"), "retract": retract(self, id)} {
				if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "was recorded by") {
					t.Errorf("the employee's %s of %s: %s, want FORBIDDEN", name, id, r.Raw)
				}
			}
			if e.head(t) != head {
				t.Errorf("a refused change of %s recorded something", id)
			}
		}
		// Through /v1/import likewise.
		if _, res := e.importLines(t, self, `{"op":"retractAccomplishment","input":{"accomplishmentId":"`+byManager+`","reason":"mine now"}}`); len(res) != 1 || res[0].OK || res[0].Code != "FORBIDDEN" {
			t.Errorf("the employee's import of a retraction of the manager's assessment: %+v, want FORBIDDEN", res)
		}
		// Their own they change; hr and the manager change anyone's, and
		// the record says who did.
		amend(self, bySelf, "PRACTICE").ok(t)
		check(bySelf, "employee-W1", "employee-W1", nil)
		amend(hrTok, bySelf, "GUIDES_SUBORDINATES").ok(t)
		retract(mgr, bySelf).ok(t)
		check(bySelf, "employee-W1", "hr", "manager-a")
		amend(mgr, byHR, "PRACTICE").ok(t)
		check(byHR, "hr", "manager-a", nil)

		forbidden := func(what string, r response) {
			t.Helper()
			if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
				t.Errorf("%s: %s, want FORBIDDEN", what, r.Raw)
			}
		}
		// What the employee recorded and their manager amended since is the
		// manager's word: the employee cannot undo it.
		mine := assess(self, "GUIDES_OTHERS")
		amend(mgr, mine, "BASIC").ok(t)
		forbidden("the employee undoing the manager's amendment", amend(self, mine, "GUIDES_OTHERS"))
		forbidden("the employee retracting what the manager amended", retract(self, mine))

		// A manager is their own manager's employee: hr's assessment of
		// them is not theirs to raise.
		e.mutate(t, adm, &mRegister, map[string]any{"id": "M1", "name": "M", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		lead := e.token(t, graph.Principal{Subject: "lead-m1", Roles: []string{graph.RoleManager, graph.RoleEmployee}, Department: "Operations", Person: "M1"})
		r := e.mutate(t, hrTok, &mAssess, map[string]any{"personId": "M1", "theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2021-02-01"}, "")
		forbidden("a manager raising hr's assessment of them", amend(lead, field(t, r.Data, "assessTheme.accomplishmentId").(string), "GUIDES_OTHERS"))

		// The rule holds on the log, not on a read model that lags: the
		// manager's assessment is in the log but not yet projected.
		e.StopProjector()
		ctx := events.WithActor(context.Background(), "manager-a")
		lagging, err := e.Recorder.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: "W1",
			Accomplishment: projectionstest.Assessment(domain.StressManagement, domain.Basic, "2021-03-01")})
		if err != nil {
			t.Fatal(err)
		}
		head := e.head(t)
		forbidden("the employee amending what the read model does not hold yet", amend(self, lagging.AccomplishmentID, "GUIDES_OTHERS"))
		if e.head(t) != head {
			t.Error("a refused amendment was recorded")
		}
		e.StartProjector()

		// A token must say who the caller is.
		nobody := e.token(t, graph.Principal{Roles: []string{graph.RoleAdmin}})
		if r := e.gql(t, nobody, `{ catalogue { id } }`, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("a token without sub: HTTP %d %s, want 401", r.Status, r.Raw)
		}
		// A subject is kept as the log stamps it (spaces around dropped),
		// and the employee it names still changes their own.
		spaced := e.token(t, graph.Principal{Subject: "  employee-W1 ", Roles: []string{graph.RoleEmployee}, Person: "W1"})
		own := assess(spaced, "BASIC")
		check(own, "employee-W1", nil, nil)
		amend(spaced, own, "PRACTICE").ok(t)
		amend(self, own, "GUIDES_SUBORDINATES").ok(t)
	})
}

// TestNoSelfAssessment: a server that takes no self-assessments refuses,
// FORBIDDEN, a theme assessment an employee records of themselves (a
// manager of themselves included), through GraphQL and /v1/import, and
// takes their other accomplishments and their manager's and hr's
// assessments of them.
func TestNoSelfAssessment(t *testing.T) {
	e := newEnv(t, backends[0], options{noSelfAssessment: true})
	adm, hrTok, mgr := e.token(t, admin), e.token(t, hr), e.token(t, managerA)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "S1", "name": "S", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	e.mutate(t, adm, &mRegister, map[string]any{"id": "M1", "name": "M", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	self := e.token(t, employee("S1"))
	lead := e.token(t, graph.Principal{Subject: "lead-m1", Roles: []string{graph.RoleManager, graph.RoleEmployee}, Department: "Operations", Person: "M1"})
	assessment := func(person string) map[string]any {
		return in(map[string]any{"personId": person, "theme": "STRESS_MANAGEMENT", "proficiency": "GUIDES_OTHERS", "assessedOn": "2021-02-01"})
	}
	head := e.head(t)
	for name, r := range map[string]response{
		"the employee": e.gql(t, self, mAssess, assessment("S1")),
		"a manager":    e.gql(t, lead, mAssess, assessment("M1")),
	} {
		if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "self-assessments") {
			t.Errorf("%s assessing themselves: %s, want FORBIDDEN", name, r.Raw)
		}
	}
	line := `{"op":"assessTheme","input":{"personId":"S1","theme":"STRESS_MANAGEMENT","proficiency":"GUIDES_OTHERS","assessedOn":"2021-02-01"}}`
	if _, res := e.importLines(t, self, line); len(res) != 1 || res[0].Code != "FORBIDDEN" {
		t.Errorf("the employee's import of their own assessment: %+v, want FORBIDDEN", res)
	}
	if e.head(t) != head {
		t.Error("a refused self-assessment was recorded")
	}
	// Nor does a manager who registers themselves in an import assess
	// themselves in it.
	lead9 := e.token(t, graph.Principal{Subject: "lead-m9", Roles: []string{graph.RoleManager, graph.RoleEmployee}, Department: "Operations", Person: "M9"})
	if _, res := e.importLines(t, lead9, `{"op":"registerPerson","input":{"id":"M9","name":"M","department":"Operations","joinedOn":"2020-01-01"}}`,
		strings.ReplaceAll(line, "S1", "M9")); len(res) != 2 || !res[0].OK || res[1].Code != "FORBIDDEN" {
		t.Errorf("a manager registering and assessing themselves in one import: %+v, want the registration and FORBIDDEN", res)
	}
	e.gql(t, self, mSuccession, in(map[string]any{"personId": "S1", "kind": "BOOK", "title": "t", "occurredOn": "2021-01-05", "fields": []string{"SERVICE_DESK"}})).ok(t)
	e.gql(t, mgr, mAssess, assessment("S1")).ok(t)
	e.gql(t, lead, mAssess, assessment("S1")).ok(t)
	e.gql(t, hrTok, mAssess, assessment("M1")).ok(t)

	// An assessment of their own recorded before self-assessments were
	// turned off is not theirs to change either.
	old, err := e.Recorder.RecordAccomplishment(events.WithActor(context.Background(), "employee-S1"), events.RecordAccomplishment{PersonID: "S1",
		Accomplishment: projectionstest.Assessment(domain.StressManagement, domain.Basic, "2020-06-01")})
	if err != nil {
		t.Fatal(err)
	}
	e.Wait(old.Position)
	head = e.head(t)
	for name, r := range map[string]response{
		"amend":   e.gql(t, self, mAmend, in(map[string]any{"accomplishmentId": old.AccomplishmentID, "proficiency": "GUIDES_OTHERS"})),
		"retract": e.gql(t, self, mRetract, in(map[string]any{"accomplishmentId": old.AccomplishmentID, "reason": "r"})),
	} {
		if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "self-assessments") {
			t.Errorf("the employee's %s of their earlier self-assessment: %s, want FORBIDDEN", name, r.Raw)
		}
	}
	if e.head(t) != head {
		t.Error("a refused change was recorded")
	}
	// Their other accomplishments they still change.
	book := e.gql(t, self, mSuccession, in(map[string]any{"personId": "S1", "kind": "PATENT_APPLICATION", "title": "t", "occurredOn": "2021-01-05", "fields": []string{"SERVICE_DESK"}})).ok(t)
	e.gql(t, self, mAmend, in(map[string]any{"accomplishmentId": field(t, book.Data, "recordTechnologySuccession.accomplishmentId"), "title": "u"})).ok(t)
}

// TestAManagerChangesOnlyTheirOwnDepartmentsDays: a back-dated transfer
// or departure rewrites where a person worked from its date; a manager
// may record one only from a day the person has been in the manager's
// department since, not over days they worked in another (in GraphQL as
// in /v1/import), and nothing is recorded when refused.
func TestAManagerChangesOnlyTheirOwnDepartmentsDays(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "T1", "name": "Moved", "department": "Network", "joinedOn": "2020-01-01"}, "")
	e.mutate(t, adm, &mTransfer, map[string]any{"personId": "T1", "department": "Operations", "effectiveOn": "2023-06-01"}, "")
	mgr := e.token(t, managerA)
	head := e.head(t)
	for _, c := range []struct {
		query string
		in    map[string]any
	}{
		{mTransfer, map[string]any{"personId": "T1", "department": "Network", "effectiveOn": "2022-01-01"}},
		{mTransfer, map[string]any{"personId": "T1", "department": "Operations", "effectiveOn": "2023-05-31"}},
		{mDeparture, map[string]any{"personId": "T1", "effectiveOn": "2021-03-01"}},
	} {
		r := e.gql(t, mgr, c.query, map[string]any{"in": c.in})
		if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "only since 2023-06-01") {
			t.Errorf("%v as Operations' manager: %s %+v, want FORBIDDEN naming 2023-06-01", c.in, r.Data, r.Errors)
		}
	}
	_, lines := e.importLines(t, mgr, `{"op":"recordDeparture","input":{"personId":"T1","effectiveOn":"2022-12-31"}}`)
	if len(lines) != 1 || lines[0].OK || lines[0].Code != "FORBIDDEN" {
		t.Errorf("a back-dated departure imported: %+v, want FORBIDDEN", lines)
	}
	if h := e.head(t); h != head {
		t.Fatalf("the log's head moved from %d to %d: a refused change was recorded", head, h)
	}
	// From the day they came on, the days are the manager's department's.
	r := e.mutate(t, mgr, &mTransfer, map[string]any{"personId": "T1", "department": "Network", "effectiveOn": "2023-06-01"}, "")
	if got := field(t, r.Data, "transferPerson.person.department"); got != "Network" {
		t.Errorf("a transfer from the day T1 came to Operations: department %v, want Network", got)
	}
}

// TestADateBeforeJoiningIsBadInputForAManagerToo: a transfer or departure
// effective before the person joined is invalid whoever sends it, so a
// manager of the person's department gets the refusal an admin gets,
// BAD_USER_INPUT naming effectiveOn and the joining day (a date before
// 1900 refused as such), in GraphQL and /v1/import alike, not FORBIDDEN
// over days that were no department's; nothing is recorded. From the
// joining day on, days outside the manager's unbroken stretch are still
// FORBIDDEN.
func TestADateBeforeJoiningIsBadInputForAManagerToo(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "J1", "name": "Moved", "department": "Network", "joinedOn": "2020-01-01"}, "")
	e.mutate(t, adm, &mTransfer, map[string]any{"personId": "J1", "department": "Operations", "effectiveOn": "2023-06-01"}, "")
	e.mutate(t, adm, &mRegister, map[string]any{"id": "J2", "name": "Stayed", "department": "Operations", "joinedOn": "2021-04-01"}, "")
	mgr := e.token(t, managerA)
	head := e.head(t)
	type refusal struct{ code, field, rule, message string }
	for _, c := range []struct {
		query, op, rule string
		in              map[string]any
	}{
		{mTransfer, "transferPerson", "must not be before joinedOn (2020-01-01)", map[string]any{"personId": "J1", "department": "Network", "effectiveOn": "2019-12-31"}},
		{mDeparture, "recordDeparture", "must not be before joinedOn (2020-01-01)", map[string]any{"personId": "J1", "effectiveOn": "2019-06-01"}},
		{mTransfer, "transferPerson", "must not be before joinedOn (2021-04-01)", map[string]any{"personId": "J2", "department": "Network", "effectiveOn": "2021-03-31"}},
		{mDeparture, "recordDeparture", "must not be before joinedOn (2021-04-01)", map[string]any{"personId": "J2", "effectiveOn": "2020-01-01"}},
		{mDeparture, "recordDeparture", "must not be before 1900-01-01", map[string]any{"personId": "J1", "effectiveOn": "1899-12-31"}},
	} {
		var got [2]refusal
		for i, token := range []string{adm, mgr} {
			r := e.gql(t, token, c.query, map[string]any{"in": c.in})
			if len(r.Errors) != 1 {
				t.Fatalf("%v: %s %+v, want one error", c.in, r.Data, r.Errors)
			}
			got[i] = refusal{r.Errors[0].code(), r.Errors[0].field(), r.Errors[0].rule(), r.Errors[0].Message}
		}
		if want := (refusal{"BAD_USER_INPUT", "effectiveOn", c.rule, got[0].message}); got[0] != want || got[1] != got[0] {
			t.Errorf("%v: admin %+v, Operations' manager %+v; want both BAD_USER_INPUT, effectiveOn, %q", c.in, got[0], got[1], c.rule)
		}
		line, _ := json.Marshal(map[string]any{"op": c.op, "input": c.in})
		var imported [2]refusal
		for i, token := range []string{adm, mgr} {
			_, lines := e.importLines(t, token, string(line))
			if len(lines) != 1 || lines[0].OK {
				t.Fatalf("%s imported: %+v, want refused", line, lines)
			}
			imported[i] = refusal{lines[0].Code, lines[0].Field, lines[0].Rule, lines[0].Message}
		}
		if imported[0] != imported[1] || imported[1].code != "BAD_USER_INPUT" || imported[1].field != "effectiveOn" || imported[1].rule != c.rule {
			t.Errorf("%s imported: admin %+v, Operations' manager %+v; want both BAD_USER_INPUT, effectiveOn, %q", line, imported[0], imported[1], c.rule)
		}
	}
	// On and after J1 joined, the days before Operations are Network's.
	for _, in := range []map[string]any{
		{"personId": "J1", "effectiveOn": "2020-01-01"},
		{"personId": "J1", "effectiveOn": "2023-05-31"},
	} {
		r := e.gql(t, mgr, mDeparture, map[string]any{"in": in})
		if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "only since 2023-06-01") {
			t.Errorf("%v as Operations' manager: %s %+v, want FORBIDDEN naming 2023-06-01", in, r.Data, r.Errors)
		}
		line, _ := json.Marshal(map[string]any{"op": "recordDeparture", "input": in})
		if _, lines := e.importLines(t, mgr, string(line)); len(lines) != 1 || lines[0].OK || lines[0].Code != "FORBIDDEN" {
			t.Errorf("%s imported by Operations' manager: %+v, want FORBIDDEN", line, lines)
		}
	}
	if h := e.head(t); h != head {
		t.Fatalf("the log's head moved from %d to %d: a refused change was recorded", head, h)
	}
	// From the day J2 joined, the days are Operations'.
	r := e.mutate(t, mgr, &mTransfer, map[string]any{"personId": "J2", "department": "Network", "effectiveOn": "2021-04-01"}, "")
	if got := field(t, r.Data, "transferPerson.person.department"); got != "Network" {
		t.Errorf("a transfer on the day J2 joined: department %v, want Network", got)
	}
}

// TestAnEmployeesOwnUnknownIdIsNotFound: an employee whose token names a
// person no registration names (not registered yet, or a typo in the
// token) is told NOT_FOUND for that id, as admin is, wherever a person is
// looked up for them: person (with knownAt too), accomplishment, the
// recording mutations, amendments and retractions, /v1/import and
// levelChanged with a personId. Any other unknown id stays FORBIDDEN, as
// an existing person outside their reach is, so ids of others do not
// leak; transfers and departures, which an employee never records, are
// FORBIDDEN whatever the id. Nothing is recorded.
func TestAnEmployeesOwnUnknownIdIsNotFound(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "B1", "name": "Bea", "department": "Network", "joinedOn": "2020-01-01"}, "")
		self := e.token(t, employee("E404"))
		lead := e.token(t, graph.Principal{Subject: "lead-m404", Roles: []string{graph.RoleManager, graph.RoleEmployee}, Department: "Operations", Person: "M404"})
		head := e.head(t)

		type ask struct {
			name, query string
			vars        func(id string) map[string]any
		}
		engagement := func(id string) map[string]any {
			return in(map[string]any{"personId": id, "field": "SERVICE_DESK", "title": "t", "role": "PARTICIPANT",
				"startedOn": "2026-01-05", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}})
		}
		asks := []ask{
			{"person", `query($id: ID!) { person(id: $id) { id name } }`, func(id string) map[string]any { return map[string]any{"id": id} }},
			{"person known at", `query($id: ID!) { person(id: $id) { id standing(knownAt: "2026-06-01T08:00:00Z") { level } } }`,
				func(id string) map[string]any { return map[string]any{"id": id} }},
			{"accomplishment", `query($id: ID!) { accomplishment(id: $id) { id } }`, func(id string) map[string]any { return map[string]any{"id": id + ".AAAAAAAAAA"} }},
			{"recordEngagement", mEngagement, engagement},
			{"recordTechnologySuccession", mSuccession, func(id string) map[string]any {
				return in(map[string]any{"personId": id, "kind": "BOOK", "title": "t", "occurredOn": "2026-01-05", "fields": []string{"SERVICE_DESK"}})
			}},
			{"recordSubordinateDevelopment", mDevelopment, func(id string) map[string]any {
				return in(map[string]any{"personId": id, "kind": "COACHING", "occurredOn": "2026-01-05"})
			}},
			{"assessTheme", mAssess, func(id string) map[string]any {
				return in(map[string]any{"personId": id, "theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2026-01-05"})
			}},
			{"amendAccomplishment", mAmend, func(id string) map[string]any {
				return in(map[string]any{"accomplishmentId": id + ".AAAAAAAAAA", "title": "u"})
			}},
			{"retractAccomplishment", mRetract, func(id string) map[string]any {
				return in(map[string]any{"accomplishmentId": id + ".AAAAAAAAAA", "reason": "r"})
			}},
		}
		answer := func(token string, a ask, id string) (code, msg string) {
			t.Helper()
			r := e.gql(t, token, a.query, a.vars(id))
			if len(r.Errors) != 1 {
				t.Fatalf("%s of %s: %s, want one error", a.name, id, r.Raw)
			}
			return r.Errors[0].code(), r.Errors[0].Message
		}
		for _, a := range asks {
			wantCode, wantMsg := answer(adm, a, "E404")
			if wantCode != "NOT_FOUND" {
				t.Fatalf("admin's %s of E404: %s %q, want NOT_FOUND", a.name, wantCode, wantMsg)
			}
			if code, msg := answer(self, a, "E404"); code != wantCode || msg != wantMsg {
				t.Errorf("the employee's %s of their own unregistered id: %s %q, want %s %q as admin is told", a.name, code, msg, wantCode, wantMsg)
			}
			if code, msg := answer(lead, a, "M404"); code != "NOT_FOUND" {
				t.Errorf("a manager's %s of their own unregistered id: %s %q, want NOT_FOUND", a.name, code, msg)
			}
			for _, other := range []string{"E405", "B1"} {
				if code, msg := answer(self, a, other); code != "FORBIDDEN" {
					t.Errorf("the employee's %s of %s: %s %q, want FORBIDDEN", a.name, other, code, msg)
				}
			}
		}
		// Where they are to work is not theirs to record, whoever the id.
		for _, m := range []string{mTransfer, mDeparture} {
			r := e.gql(t, self, m, in(map[string]any{"personId": "E404", "department": "Operations", "effectiveOn": "2026-05-01"}))
			if m == mDeparture {
				r = e.gql(t, self, m, in(map[string]any{"personId": "E404", "effectiveOn": "2026-05-01"}))
			}
			if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "needs the admin, hr or manager role") {
				t.Errorf("the employee placing their own unregistered id: %s, want FORBIDDEN naming the roles", r.Raw)
			}
		}

		// /v1/import, line by line, as admin is answered.
		lines := []string{
			`{"op":"recordEngagement","input":{"personId":"E404","field":"SERVICE_DESK","title":"t","role":"PARTICIPANT","startedOn":"2026-01-05","outcome":"ONGOING","withinBudget":true,"complexity":[]}}`,
			`{"op":"assessTheme","input":{"personId":"E404","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2026-01-05"}}`,
			`{"op":"amendAccomplishment","input":{"accomplishmentId":"E404.AAAAAAAAAA","title":"u"}}`,
			`{"op":"retractAccomplishment","input":{"accomplishmentId":"E404.AAAAAAAAAA","reason":"r"}}`,
			`{"op":"recordEngagement","input":{"personId":"E405","field":"SERVICE_DESK","title":"t","role":"PARTICIPANT","startedOn":"2026-01-05","outcome":"ONGOING","withinBudget":true,"complexity":[]}}`,
			`{"op":"retractAccomplishment","input":{"accomplishmentId":"E405.AAAAAAAAAA","reason":"r"}}`,
			`{"op":"recordDeparture","input":{"personId":"E404","effectiveOn":"2026-05-01"}}`,
		}
		_, byAdmin := e.importLines(t, adm, lines...)
		_, bySelf := e.importLines(t, self, lines...)
		want := []string{"NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN"}
		if len(bySelf) != len(want) || len(byAdmin) != len(want) {
			t.Fatalf("import: admin %+v, employee %+v", byAdmin, bySelf)
		}
		for i, code := range want {
			if bySelf[i].OK || bySelf[i].Code != code {
				t.Errorf("the employee's import line %d: %+v, want %s", i+1, bySelf[i], code)
			}
			if code == "NOT_FOUND" && (byAdmin[i].Code != code || byAdmin[i].Message != bySelf[i].Message) {
				t.Errorf("import line %d: admin %+v, employee %+v, want the same NOT_FOUND", i+1, byAdmin[i], bySelf[i])
			}
		}
		if h := e.head(t); h != head {
			t.Fatalf("the log's head moved from %d to %d: a refused request recorded something", head, h)
		}

		// levelChanged naming their own unregistered id is refused as
		// admin's is; left out, it follows their person from its
		// registration on.
		for _, c := range []struct {
			token string
			vars  map[string]any
			code  string
		}{
			{self, map[string]any{"personId": "E404"}, "NOT_FOUND"},
			{adm, map[string]any{"personId": "E404"}, "NOT_FOUND"},
			{self, map[string]any{"personId": "E405"}, "FORBIDDEN"},
		} {
			m, errs := e.subscribeRefused(t, c.token, c.vars)
			if len(errs) != 1 || errs[0].code() != c.code {
				t.Errorf("levelChanged(%v): %s %s, want one %s error", c.vars, m.Type, m.Payload, c.code)
			}
		}
		ws := e.connect(t, self)
		ws.subscribe("mine", nil)
		waitSubscribers(t, e, 1)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "E404", "name": "Late", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		e.mutate(t, adm, &mEngagement, map[string]any{"personId": "E404", "field": "SERVICE_DESK", "title": "t", "role": "PARTICIPANT",
			"startedOn": "2021-01-05", "completedOn": "2021-06-30", "outcome": "SUCCESSFUL", "withinBudget": true, "complexity": []string{}}, "")
		e.mutate(t, adm, &mAssess, map[string]any{"personId": "E404", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2021-02-01"}, "")
		if c := ws.change("mine"); c.PersonID != "E404" {
			t.Errorf("the employee's subscription delivered %+v, want a change of E404", c)
		}
		// Once registered, the id is theirs to read.
		e.gql(t, self, `{ person(id: "E404") { id } }`, nil).ok(t)
	})
}

// TestADepartedEmployeeRecordsNothingOfTheirs: an employee in no
// department today (a departure effective on or before today, in the
// server's time zone) still reads their own person and accomplishments,
// but records, amends and retracts nothing of theirs, a manager acting on
// themselves included: FORBIDDEN naming the person, the departure's date
// and who records instead, in GraphQL and /v1/import alike, and nothing
// is recorded. Admin and hr record for them (back-dated evidence); a
// departure dated after today is refused as such and leaves the employee
// recording; a return (a transfer after the departure) gives the right
// back.
func TestADepartedEmployeeRecordsNothingOfTheirs(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm, hrTok := e.token(t, admin), e.token(t, hr)
		for _, id := range []string{"D1", "D2", "D3", "M1", "M2", "A1"} {
			e.mutate(t, adm, &mRegister, map[string]any{"id": id, "name": "Person " + id, "department": "Operations", "joinedOn": "2020-01-01"}, "")
		}
		self := e.token(t, employee("D1"))
		lead := e.token(t, graph.Principal{Subject: "lead-m1", Roles: []string{graph.RoleManager, graph.RoleEmployee}, Department: "Operations", Person: "M1"})
		engagement := func(id string) map[string]any {
			return map[string]any{"personId": id, "field": "SERVICE_DESK", "title": "desk", "role": "PARTICIPANT",
				"startedOn": "2021-01-05", "completedOn": "2021-06-30", "outcome": "SUCCESSFUL", "withinBudget": true, "complexity": []string{}}
		}
		eng := field(t, e.mutate(t, self, &mEngagement, engagement("D1"), "").Data, "recordEngagement.accomplishmentId").(string)
		book := field(t, e.mutate(t, self, &mSuccession, map[string]any{"personId": "D1", "kind": "BOOK", "title": "t",
			"occurredOn": "2021-01-05", "fields": []string{"SERVICE_DESK"}}, "").Data, "recordTechnologySuccession.accomplishmentId").(string)
		leads := field(t, e.mutate(t, lead, &mEngagement, engagement("M1"), "").Data, "recordEngagement.accomplishmentId").(string)
		// A manager's token without the employee role names the person
		// they are too (TestAManagerAloneWhoseOwnPersonDeparted).
		alone := e.token(t, graph.Principal{Subject: "lead-m2", Roles: []string{graph.RoleManager}, Department: "Operations", Person: "M2"})
		alones := field(t, e.mutate(t, alone, &mEngagement, engagement("M2"), "").Data, "recordEngagement.accomplishmentId").(string)
		e.mutate(t, adm, &mDeparture, map[string]any{"personId": "D1", "effectiveOn": "2026-03-31"}, "")
		e.mutate(t, hrTok, &mDeparture, map[string]any{"personId": "M1", "effectiveOn": "2026-05-31"}, "")
		e.mutate(t, hrTok, &mDeparture, map[string]any{"personId": "M2", "effectiveOn": "2026-05-30"}, "")
		// A departure effective today counts today.
		e.mutate(t, adm, &mDeparture, map[string]any{"personId": "D2", "effectiveOn": projectionstest.Today.String()}, "")

		refused := func(who, what, person, on string, r response) {
			t.Helper()
			if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" || field(t, r.Data, what) != nil {
				t.Errorf("%s: %s's %s: %s, want FORBIDDEN and no data", person, who, what, r.Raw)
				return
			}
			for _, s := range []string{"person " + person, "departed on " + on, "hr or an admin"} {
				if !strings.Contains(r.Errors[0].Message, s) {
					t.Errorf("%s's %s: %q does not say %q", who, what, r.Errors[0].Message, s)
				}
			}
		}
		head := e.head(t)
		for _, c := range []struct {
			who, token, person, on, own string
		}{
			{"the employee", self, "D1", "2026-03-31", eng},
			{"the manager of themselves", lead, "M1", "2026-05-31", leads},
			{"the manager alone of themselves", alone, "M2", "2026-05-30", alones},
			{"the employee departed today", e.token(t, employee("D2")), "D2", projectionstest.Today.String(), ""},
		} {
			eg := engagement(c.person)
			eg["startedOn"] = "2026-01-05" // while they were here
			refused(c.who, "recordEngagement", c.person, c.on, e.gql(t, c.token, mEngagement, in(eg)))
			refused(c.who, "recordTechnologySuccession", c.person, c.on, e.gql(t, c.token, mSuccession, in(map[string]any{"personId": c.person,
				"kind": "BOOK", "title": "t", "occurredOn": "2021-01-05", "fields": []string{"SERVICE_DESK"}})))
			refused(c.who, "recordSubordinateDevelopment", c.person, c.on, e.gql(t, c.token, mDevelopment, in(map[string]any{"personId": c.person,
				"kind": "COACHING", "occurredOn": "2021-01-05"})))
			refused(c.who, "assessTheme", c.person, c.on, e.gql(t, c.token, mAssess, in(map[string]any{"personId": c.person,
				"theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2021-01-05"})))
			if c.own != "" {
				refused(c.who, "amendAccomplishment", c.person, c.on, e.gql(t, c.token, mAmend, in(map[string]any{"accomplishmentId": c.own, "title": "later"})))
				refused(c.who, "retractAccomplishment", c.person, c.on, e.gql(t, c.token, mRetract, in(map[string]any{"accomplishmentId": c.own, "reason": "r"})))
				// What they recorded they still read, and themselves.
				e.gql(t, c.token, `query($id: ID!) { accomplishment(id: $id) { id } }`, map[string]any{"id": c.own}).ok(t)
			}
			if r := e.gql(t, c.token, `query($id: ID!) { person(id: $id) { id department standing { level } } }`, map[string]any{"id": c.person}).ok(t); field(t, r.Data, "person.department") != nil {
				t.Errorf("%s reads %s in a department: %s", c.who, c.person, r.Data)
			}
		}
		_, lines := e.importLines(t, self,
			`{"op":"recordEngagement","input":{"personId":"D1","field":"SERVICE_DESK","title":"t","role":"PARTICIPANT","startedOn":"2026-01-05","outcome":"ONGOING","withinBudget":true,"complexity":[]}}`,
			`{"op":"amendAccomplishment","input":{"accomplishmentId":"`+eng+`","title":"later"}}`,
			`{"op":"retractAccomplishment","input":{"accomplishmentId":"`+book+`","reason":"r"}}`,
		)
		if len(lines) != 3 {
			t.Fatalf("import: %+v", lines)
		}
		for i, l := range lines {
			if l.OK || l.Code != "FORBIDDEN" || !strings.Contains(l.Message, "departed on 2026-03-31") || !strings.Contains(l.Message, "hr or an admin") {
				t.Errorf("the departed employee's import line %d: %+v, want FORBIDDEN naming the departure", i+1, l)
			}
		}
		if h := e.head(t); h != head {
			t.Fatalf("the log's head moved from %d to %d: a refused request recorded something", head, h)
		}

		// Admin and hr record for them, back-dated evidence included.
		e.mutate(t, adm, &mEngagement, engagement("D1"), "")
		e.mutate(t, hrTok, &mAmend, map[string]any{"accomplishmentId": eng, "title": "corrected by hr"}, "")
		e.mutate(t, hrTok, &mRetract, map[string]any{"accomplishmentId": leads, "reason": "duplicate"}, "")

		// A departure dated after today is refused as such: D3 still works
		// here and records.
		tomorrow := projectionstest.Today.AddDays(1).String()
		if r := e.gql(t, adm, mDeparture, in(map[string]any{"personId": "D3", "effectiveOn": tomorrow})); len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != "effectiveOn" {
			t.Errorf("a departure dated %s: %s, want BAD_USER_INPUT naming effectiveOn", tomorrow, r.Raw)
		}
		e.mutate(t, e.token(t, employee("D3")), &mEngagement, engagement("D3"), "")

		// A return: back in a department today, they record again.
		e.mutate(t, adm, &mTransfer, map[string]any{"personId": "D1", "department": "Network", "effectiveOn": "2026-05-01"}, "")
		e.mutate(t, self, &mEngagement, engagement("D1"), "")
		e.mutate(t, self, &mAmend, map[string]any{"accomplishmentId": book, "title": "back"}, "")
		_, lines = e.importLines(t, self, `{"op":"retractAccomplishment","input":{"accomplishmentId":"`+book+`","reason":"r"}}`)
		if len(lines) != 1 || !lines[0].OK {
			t.Errorf("the returned employee's import of a retraction: %+v, want it recorded", lines)
		}
	})
}

// TestADepartureCountsFromTodayInTheServersTimeZone: "today" is the date
// in the server's time zone for the departure the recorder takes (no date
// after today) and for the employee it then stops: at 00:00 in Tokyo
// (15:00 UTC the day before), a departure effective that Tokyo date is
// recorded, and the employee no longer records for themselves, though
// the UTC date is the eve of the departure.
func TestADepartureCountsFromTodayInTheServersTimeZone(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, backends[0], options{zone: tokyo})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "Z1", "name": "Zone", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	e.Clock.Advance(6 * time.Hour) // the clock read 18:00 in Tokyo (09:00 UTC)
	if now := e.Clock.Peek(); now.UTC().Format(time.DateOnly) != "2026-06-01" || now.In(tokyo).Format(time.DateOnly) != "2026-06-02" {
		t.Fatalf("the clock reads %s: want 2026-06-01 in UTC and 2026-06-02 in Tokyo", now.UTC())
	}
	e.mutate(t, adm, &mDeparture, map[string]any{"personId": "Z1", "effectiveOn": "2026-06-02"}, "")
	head := e.head(t)
	r := e.gql(t, e.token(t, employee("Z1")), mSuccession, in(map[string]any{"personId": "Z1", "kind": "BOOK", "title": "t",
		"occurredOn": "2026-01-05", "fields": []string{"SERVICE_DESK"}}))
	if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "departed on 2026-06-02") {
		t.Errorf("the employee recording on the day of their departure in Tokyo: %s, want FORBIDDEN naming 2026-06-02", r.Raw)
	}
	if h := e.head(t); h != head {
		t.Errorf("the log's head moved from %d to %d: a refused request recorded something", head, h)
	}
}

// TestAManagersOwnUnknownIdIsNotFound: a manager's token names the person
// they are (the contract's person claim, whatever the roles beside it, as
// actsAsEmployee reads it) without the employee role too: their own id,
// when no registration names it, is told NOT_FOUND as admin is, in
// GraphQL and /v1/import alike; it was FORBIDDEN, as if they could not see
// themselves, unless the token also had the employee role. Another
// unknown id stays FORBIDDEN. Nothing is recorded.
func TestAManagersOwnUnknownIdIsNotFound(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "B1", "name": "Bea", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		lead := e.token(t, graph.Principal{Subject: "lead-m404", Roles: []string{graph.RoleManager}, Department: "Operations", Person: "M404"})
		head := e.head(t)
		engagement := func(id string) map[string]any {
			return in(map[string]any{"personId": id, "field": "SERVICE_DESK", "title": "t", "role": "PARTICIPANT",
				"startedOn": "2026-01-05", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}})
		}
		for _, c := range []struct {
			name, query string
			vars        func(id string) map[string]any
		}{
			{"person", `query($id: ID!) { person(id: $id) { id } }`, func(id string) map[string]any { return map[string]any{"id": id} }},
			{"accomplishment", `query($id: ID!) { accomplishment(id: $id) { id } }`, func(id string) map[string]any { return map[string]any{"id": id + ".AAAAAAAAAA"} }},
			{"recordEngagement", mEngagement, engagement},
			{"retractAccomplishment", mRetract, func(id string) map[string]any {
				return in(map[string]any{"accomplishmentId": id + ".AAAAAAAAAA", "reason": "r"})
			}},
		} {
			want := e.gql(t, adm, c.query, c.vars("M404"))
			got := e.gql(t, lead, c.query, c.vars("M404"))
			if len(got.Errors) != 1 || len(want.Errors) != 1 || got.Errors[0].code() != "NOT_FOUND" || got.Errors[0].Message != want.Errors[0].Message {
				t.Errorf("the manager's %s of their own unregistered id: %s, want %s as admin is told", c.name, got.Raw, want.Raw)
			}
			if r := e.gql(t, lead, c.query, c.vars("M405")); len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
				t.Errorf("the manager's %s of another unknown id: %s, want FORBIDDEN", c.name, r.Raw)
			}
		}
		_, lines := e.importLines(t, lead,
			`{"op":"recordEngagement","input":{"personId":"M404","field":"SERVICE_DESK","title":"t","role":"PARTICIPANT","startedOn":"2026-01-05","outcome":"ONGOING","withinBudget":true,"complexity":[]}}`,
			`{"op":"recordEngagement","input":{"personId":"M405","field":"SERVICE_DESK","title":"t","role":"PARTICIPANT","startedOn":"2026-01-05","outcome":"ONGOING","withinBudget":true,"complexity":[]}}`)
		if len(lines) != 2 || lines[0].Code != "NOT_FOUND" || lines[1].Code != "FORBIDDEN" {
			t.Errorf("the manager's import: %+v, want NOT_FOUND for their own id, FORBIDDEN for another", lines)
		}
		if h := e.head(t); h != head {
			t.Fatalf("the log's head moved from %d to %d: a refused request recorded something", head, h)
		}
	})
}

// TestAManagerAloneWhoseOwnPersonDeparted: a manager's token without the
// employee role names the person they are (actsAsEmployee's reading of
// the claim); once that person has departed, the manager reads
// themselves and follows their levels as a departed employee does, and
// records, amends and retracts nothing of theirs, FORBIDDEN naming the
// departure, in GraphQL and /v1/import alike (TestADepartedEmployee-
// RecordsNothingOfTheirs for each mutation). Before, they were told "not
// allowed to access person M1" of themselves. Their department's people
// they reach as before: the token's department is what they manage. A
// manager whose own person is in another department reads and records
// for themselves too, and is told why they may not move themselves.
func TestAManagerAloneWhoseOwnPersonDeparted(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		for id, dept := range map[string]string{"M1": "Operations", "B1": "Operations", "M3": "Network"} {
			e.mutate(t, adm, &mRegister, map[string]any{"id": id, "name": "Person " + id, "department": dept, "joinedOn": "2020-01-01"}, "")
		}
		lead := e.token(t, graph.Principal{Subject: "lead-m1", Roles: []string{graph.RoleManager}, Department: "Operations", Person: "M1"})
		engagement := func(id string) map[string]any {
			return map[string]any{"personId": id, "field": "SERVICE_DESK", "title": "desk", "role": "PARTICIPANT",
				"startedOn": "2021-01-05", "completedOn": "2021-06-30", "outcome": "SUCCESSFUL", "withinBudget": true, "complexity": []string{}}
		}
		own := field(t, e.mutate(t, lead, &mEngagement, engagement("M1"), "").Data, "recordEngagement.accomplishmentId").(string)
		e.mutate(t, adm, &mDeparture, map[string]any{"personId": "M1", "effectiveOn": "2026-05-31"}, "")

		// Themselves: read, not changed.
		if r := e.gql(t, lead, `{ person(id: "M1") { id department } }`, nil).ok(t); field(t, r.Data, "person.id") != "M1" || field(t, r.Data, "person.department") != nil {
			t.Errorf("the departed manager reads themselves: %s", r.Data)
		}
		e.gql(t, lead, `query($id: ID!) { accomplishment(id: $id) { id } }`, map[string]any{"id": own}).ok(t)
		head := e.head(t)
		_, lines := e.importLines(t, lead,
			`{"op":"recordEngagement","input":{"personId":"M1","field":"SERVICE_DESK","title":"t","role":"PARTICIPANT","startedOn":"2026-01-05","outcome":"ONGOING","withinBudget":true,"complexity":[]}}`,
			`{"op":"amendAccomplishment","input":{"accomplishmentId":"`+own+`","title":"later"}}`,
			`{"op":"retractAccomplishment","input":{"accomplishmentId":"`+own+`","reason":"r"}}`)
		if len(lines) != 3 {
			t.Fatalf("import: %+v", lines)
		}
		for i, l := range lines {
			if l.OK || l.Code != "FORBIDDEN" || !strings.Contains(l.Message, "person M1 departed on 2026-05-31") || !strings.Contains(l.Message, "hr or an admin") {
				t.Errorf("the departed manager's import line %d: %+v, want FORBIDDEN naming the departure", i+1, l)
			}
		}
		r := e.gql(t, lead, mTransfer, in(map[string]any{"personId": "M1", "department": "Operations", "effectiveOn": "2026-06-01"}))
		if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "they are in no department today, and a manager does so only for the people of their own department") {
			t.Errorf("the departed manager returns themselves: %s, want FORBIDDEN saying they are in no department", r.Raw)
		}
		if h := e.head(t); h != head {
			t.Fatalf("the log's head moved from %d to %d: a refused request recorded something", head, h)
		}

		// Their department: reached as the token says.
		e.gql(t, lead, `{ person(id: "B1") { id } }`, nil).ok(t)
		e.mutate(t, lead, &mEngagement, engagement("B1"), "")

		// Their levels: followed as a departed employee follows theirs
		// (a change of a departed person is published with no
		// department); with the department they manage, refused naming
		// both arguments, as it would deliver nothing.
		ws := e.connect(t, lead)
		ws.subscribe("self", map[string]any{"personId": "M1"})
		waitSubscribers(t, e, 1)
		e.mutate(t, adm, &mAssess, map[string]any{"personId": "M1", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2025-02-01"}, "")
		if got := ws.change("self"); got.PersonID != "M1" || got.To != 1 {
			t.Errorf("the departed manager following themselves: %+v, want M1's change to level 1", got)
		}
		if m, errs := e.subscribeRefused(t, lead, map[string]any{"personId": "M1", "department": "Operations"}); len(errs) != 1 || errs[0].code() != "BAD_USER_INPUT" || errs[0].field() != "personId" ||
			!strings.Contains(errs[0].Message, "personId: M1 is not in department Operations today (they are in no department)") {
			t.Errorf("the departed manager following themselves in their department: %s %s, want BAD_USER_INPUT naming personId and department", m.Type, m.Payload)
		}

		// A manager whose own person is in another department.
		away := e.token(t, graph.Principal{Subject: "lead-m3", Roles: []string{graph.RoleManager}, Department: "Operations", Person: "M3"})
		e.gql(t, away, `{ person(id: "M3") { id } }`, nil).ok(t)
		e.mutate(t, away, &mEngagement, engagement("M3"), "")
		r = e.gql(t, away, mDeparture, in(map[string]any{"personId": "M3", "effectiveOn": "2026-06-01"}))
		if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "they are not in department Operations today") {
			t.Errorf("the manager records their own departure from another department: %s, want FORBIDDEN saying why", r.Raw)
		}
	})
}

// TestAManagersOwnPersonElsewhereReachesNoOneElseThere: a manager's token
// reads and follows the person it names wherever they are (its `person`
// claim is the caller), and nobody else of that person's department: the
// claim widens what the caller may do to themselves only, never the
// department the token manages. Reading, recording for, amending,
// retracting, placing or following another person of that department, or
// the department itself, stays FORBIDDEN, in GraphQL and /v1/import alike,
// and nothing is recorded.
func TestAManagersOwnPersonElsewhereReachesNoOneElseThere(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		for id, dept := range map[string]string{"M3": "Network", "N1": "Network", "B1": "Operations"} {
			e.mutate(t, adm, &mRegister, map[string]any{"id": id, "name": "Person " + id, "department": dept, "joinedOn": "2020-01-01"}, "")
		}
		eng := func(id string) map[string]any {
			return map[string]any{"personId": id, "field": "SERVICE_DESK", "title": "desk", "role": "PARTICIPANT",
				"startedOn": "2021-01-05", "completedOn": "2021-06-30", "outcome": "SUCCESSFUL", "withinBudget": true, "complexity": []string{}}
		}
		theirs := field(t, e.mutate(t, adm, &mEngagement, eng("N1"), "").Data, "recordEngagement.accomplishmentId").(string)
		for _, tok := range []struct {
			name  string
			roles []string
		}{{"manager alone", []string{graph.RoleManager}}, {"manager and employee", []string{graph.RoleManager, graph.RoleEmployee}}} {
			t.Run(tok.name, func(t *testing.T) {
				away := e.token(t, graph.Principal{Subject: "lead-m3", Roles: tok.roles, Department: "Operations", Person: "M3"})
				// Themselves, in Network, and their own department: reached.
				e.gql(t, away, `{ person(id: "M3") { id } }`, nil).ok(t)
				e.gql(t, away, `{ person(id: "B1") { id } }`, nil).ok(t)
				head := e.head(t)
				forbidden := func(what string, r response) {
					t.Helper()
					if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
						t.Errorf("%s of N1, in their own person's department: %s, want FORBIDDEN", what, r.Raw)
					}
				}
				forbidden("person", e.gql(t, away, `{ person(id: "N1") { id } }`, nil))
				forbidden("accomplishment", e.gql(t, away, `query($id: ID!) { accomplishment(id: $id) { id } }`, map[string]any{"id": theirs}))
				forbidden("recordEngagement", e.gql(t, away, mEngagement, in(eng("N1"))))
				forbidden("retractAccomplishment", e.gql(t, away, mRetract, in(map[string]any{"accomplishmentId": theirs, "reason": "r"})))
				forbidden("transferPerson", e.gql(t, away, mTransfer, in(map[string]any{"personId": "N1", "department": "Operations", "effectiveOn": "2026-06-01"})))
				forbidden("people", e.gql(t, away, `{ people(department: "Network") { totalCount } }`, nil))
				_, lines := e.importLines(t, away,
					`{"op":"recordEngagement","input":{"personId":"N1","field":"SERVICE_DESK","title":"t","role":"PARTICIPANT","startedOn":"2026-01-05","outcome":"ONGOING","withinBudget":true,"complexity":[]}}`,
					`{"op":"amendAccomplishment","input":{"accomplishmentId":"`+theirs+`","title":"later"}}`)
				if len(lines) != 2 || lines[0].Code != "FORBIDDEN" || lines[1].Code != "FORBIDDEN" {
					t.Errorf("import lines for N1: %+v, want FORBIDDEN", lines)
				}
				if h := e.head(t); h != head {
					t.Fatalf("the log's head moved from %d to %d: a refused request recorded something", head, h)
				}
				for _, vars := range []map[string]any{
					{"personId": "N1"},
					{"personId": "N1", "department": "Network"},
					{"department": "Network"},
				} {
					if m, errs := e.subscribeRefused(t, away, vars); len(errs) != 1 || errs[0].code() != "FORBIDDEN" {
						t.Errorf("levelChanged(%v): %s %s, want FORBIDDEN", vars, m.Type, m.Payload)
					}
				}
			})
		}
	})
}
