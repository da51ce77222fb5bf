package graph_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// TestLimits: what one request may cost is bounded (server.go, Limits).
func TestLimits(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "L1", "name": "L", "department": "Operations", "joinedOn": "2020-01-01"}, "")

	refused := func(t *testing.T, r response, code string) {
		t.Helper()
		if len(r.Errors) == 0 || r.Errors[0].code() != code || (len(r.Data) > 0 && string(r.Data) != "null") {
			t.Errorf("want %s and no data, got HTTP %d %s", code, r.Status, r.Raw)
		}
	}

	t.Run("depth", func(t *testing.T) {
		small := newEnv(t, backends[0], options{limits: graph.Limits{Depth: 3}})
		tok := small.token(t, admin)
		small.gql(t, tok, `{ person(id: "nobody") { standing { level } } }`, nil) // depth 3: allowed
		refused(t, small.gql(t, tok, `{ person(id: "L1") { standing { next { level } } } }`, nil), "DEPTH_LIMIT_EXCEEDED")
		// Fragments and inline fragments count as where they are spread.
		refused(t, small.gql(t, tok, `query { person(id: "L1") { ...P } } fragment P on Person { standing { ... on FieldStanding { next { level } } } }`, nil), "DEPTH_LIMIT_EXCEEDED")
		// The default limit (12) stops introspection-style nesting before
		// anything runs.
		deep := `{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }`
		refused(t, e.gql(t, adm, deep, nil), "DEPTH_LIMIT_EXCEEDED")
	})

	t.Run("complexity", func(t *testing.T) {
		// 100 people with 100 accomplishments each: 10,000 nodes.
		q := `{ people(first: 100) { edges { node { id accomplishments(first: 100) { edges { node { id } } } } } } }`
		refused(t, e.gql(t, adm, q, nil), "COMPLEXITY_LIMIT_EXCEEDED")
		// A full page of people with a page of their accomplishments is fine.
		e.gql(t, adm, `{ people(first: 100) { edges { node { id accomplishments(first: 10) { totalCount } } } } }`, nil).ok(t)
		// A manager's page of 100 people, each with 20 accomplishments, is
		// too much (7,001); of 50 it fits (3,501).
		refused(t, e.gql(t, adm, managerPage(100), nil), "COMPLEXITY_LIMIT_EXCEEDED")
		e.gql(t, adm, managerPage(50), nil).ok(t)
		// skillTrend costs a distribution per point: one daily year is
		// fine, two or three are not.
		trend := `skillTrend(field: SERVICE_DESK, from: "2025-01-01", to: "2026-01-01", interval: DAY) { on cells { department level count } }`
		e.gql(t, adm, `{ a: `+trend+` }`, nil).ok(t)
		refused(t, e.gql(t, adm, `{ a: `+trend+` b: `+trend+` }`, nil), "COMPLEXITY_LIMIT_EXCEEDED")
		refused(t, e.gql(t, adm, `{ a: `+trend+` b: `+trend+` c: `+trend+` }`, nil), "COMPLEXITY_LIMIT_EXCEEDED")
		// Each distribution is a read of its own: 600 of them are refused,
		// though their selection is small.
		refused(t, e.gql(t, adm, aliased(600, "skillDistribution(field: SERVICE_DESK) { level }"), nil), "COMPLEXITY_LIMIT_EXCEEDED")
		e.gql(t, adm, `{ a: skillDistribution(field: SERVICE_DESK) { level } b: skillDistribution(field: SYSTEM_OPERATION) { level } }`, nil).ok(t)
		// So is the departments list, a list of scalars.
		refused(t, e.gql(t, adm, aliased(600, "departments"), nil), "COMPLEXITY_LIMIT_EXCEEDED")
		e.gql(t, adm, `{ a: departments b: departments }`, nil).ok(t)
		// A page is read whole even when only its totalCount is asked for:
		// 50 aliases of a page of 100 (5,050) are refused.
		refused(t, e.gql(t, adm, aliased(50, "people(first: 100) { totalCount }"), nil), "COMPLEXITY_LIMIT_EXCEEDED")
		e.gql(t, adm, `{ people(first: 100) { totalCount } }`, nil).ok(t)
		// The catalogue document is about 8 KB: a client reads it once,
		// and 100 aliases of it (800 KB of answer) are refused.
		refused(t, e.gql(t, adm, aliased(100, "catalogue { document }"), nil), "COMPLEXITY_LIMIT_EXCEEDED")
		e.gql(t, adm, `{ catalogue { id version document } }`, nil).ok(t)
	})

	t.Run("fragments spread in fragments", func(t *testing.T) {
		// Each fragment spreads the next twice: 22 of them, about 700
		// bytes, select 2^22 fields once spread. The walks of the
		// complexity and depth limits spread every fragment where it
		// stands, so such a request held a core for seconds (30
		// fragments: minutes) and was then served, its cost and depth
		// being those of one __typename. It is refused by the fields it
		// selects, counting each fragment once, whoever sends it.
		emp := e.token(t, employee("L1"))
		r := e.gql(t, emp, spreadTwice(22), nil)
		refused(t, r, "COMPLEXITY_LIMIT_EXCEEDED")
		if len(r.Errors) > 0 && !strings.Contains(r.Errors[0].Message, "fragments are spread") {
			t.Errorf("the refusal does not say what is counted: %s", r.Raw)
		}
		// 2^60 once spread: refused as fast.
		refused(t, e.gql(t, emp, spreadTwice(60), nil), "COMPLEXITY_LIMIT_EXCEEDED")
		// Fragments spread a few times over are what clients send: 2^11
		// fields once spread are served.
		r = e.gql(t, emp, spreadTwice(10), nil).ok(t)
		if field(t, r.Data, "__typename") != "Query" {
			t.Errorf("10 fragments: %s", r.Raw)
		}
		// The limit is the server's (Limits.Selections).
		small := newEnv(t, backends[0], options{limits: graph.Limits{Selections: 100}})
		refused(t, small.gql(t, small.token(t, admin), spreadTwice(7), nil), "COMPLEXITY_LIMIT_EXCEEDED")
		small.gql(t, small.token(t, admin), spreadTwice(5), nil).ok(t)
	})

	t.Run("parser tokens", func(t *testing.T) {
		// 12,000 aliases of one field: far more tokens than the limit.
		var b strings.Builder
		b.WriteString("{")
		for range 3000 {
			b.WriteString(" catalogue { id } ")
		}
		b.WriteString("}")
		r := e.gql(t, adm, b.String(), nil)
		if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "token limit") || strings.Contains(string(r.Data), "ITSS") {
			t.Errorf("want a parse error on the token limit, got HTTP %d %.300s", r.Status, r.Raw)
		}
	})

	t.Run("request body", func(t *testing.T) {
		big := `{"query":"{ catalogue { id } }","variables":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}`
		req, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader(big))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adm)
		if r := e.do(t, http.DefaultClient, req); r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("a body over 1 MiB: HTTP %d %.200s, want 413", r.Status, r.Raw)
		}
		// Without a Content-Length (chunked), the body is cut off at the
		// limit as it is read.
		req, _ = http.NewRequest(http.MethodPost, e.url, io.MultiReader(strings.NewReader(big)))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adm)
		if r := e.do(t, http.DefaultClient, req); r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("a chunked body over 1 MiB: HTTP %d %.200s, want 413", r.Status, r.Raw)
		}
		// Without a valid token the body is not read: 401, not 413, and
		// the server holds nothing of it (it read a chunked body into
		// memory, up to the limit, before looking at the token). The
		// client sends the headers and a first chunk over a connection of
		// its own and waits: a server that read on would answer only once
		// the rest came (never, here), and a client writing the whole body
		// could be reset by a server that answered at once before it read
		// the answer.
		host := "Host: " + e.srv.Listener.Addr().String()
		part := big[:64<<10]
		chunk := fmt.Sprintf("%x\r\n%s\r\n", len(part), part)
		for _, auth := range []string{"", "\r\nAuthorization: Bearer not-a-token"} {
			res, body, _ := answerTo(t, e, "POST /graphql HTTP/1.1\r\n"+host+auth+"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked", chunk)
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("a chunked body without a valid token (%q): HTTP %d %.200s, want 401", auth, res.StatusCode, body)
			}
		}
		// Nor with a websocket's Upgrade header, which lets a handshake
		// without a token through to authenticate in connection_init: a
		// handshake has no body, and one that brings a body is refused
		// before it is read (413 would say the server read it).
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			res, body, _ := answerTo(t, e, method+" /graphql HTTP/1.1\r\n"+host+
				"\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nTransfer-Encoding: chunked", chunk)
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with Upgrade: websocket and a chunked body, without a token: HTTP %d %.200s, want 401", method, res.StatusCode, body)
			}
		}
		// Just under the limit is served.
		ok := `{"query":"{ catalogue { id } }","variables":{"pad":"` + strings.Repeat("x", 1<<19) + `"}}`
		req, _ = http.NewRequest(http.MethodPost, e.url, bytes.NewReader([]byte(ok)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adm)
		if r := e.do(t, http.DefaultClient, req); r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Errorf("half a MiB: HTTP %d %.200s", r.Status, r.Raw)
		}
	})

	t.Run("introspection", func(t *testing.T) {
		q := `{ __schema { queryType { name } } }`
		r := e.gql(t, adm, q, nil)
		if len(r.Errors) != 1 || r.Errors[0].code() != "INTROSPECTION_DISABLED" || strings.Contains(string(r.Data), "Query") {
			t.Errorf("introspection in production mode: %s", r.Raw)
		}
		r = e.gql(t, adm, `{ __type(name: "Person") { name } }`, nil)
		if len(r.Errors) != 1 || r.Errors[0].code() != "INTROSPECTION_DISABLED" || strings.Contains(string(r.Data), "Person") {
			t.Errorf("__type in production mode: %s", r.Raw)
		}
		dev := newEnv(t, backends[0], options{dev: true})
		r = dev.gql(t, dev.token(t, admin), q, nil).ok(t)
		if field(t, r.Data, "__schema.queryType.name") != "Query" {
			t.Errorf("introspection in development mode: %s", r.Raw)
		}
	})

	t.Run("persisted query", func(t *testing.T) {
		q := `query Catalogue { catalogue { id version } }`
		sum := sha256.Sum256([]byte(q))
		ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
		// Unknown hash: the client is told to send the query.
		r := e.post(t, http.DefaultClient, adm, map[string]any{"extensions": ext})
		if len(r.Errors) != 1 || r.Errors[0].code() != "PERSISTED_QUERY_NOT_FOUND" {
			t.Fatalf("unknown hash: %s", r.Raw)
		}
		first := e.post(t, http.DefaultClient, adm, map[string]any{"query": q, "extensions": ext}).ok(t)
		again := e.post(t, http.DefaultClient, adm, map[string]any{"extensions": ext}).ok(t)
		if string(first.Data) != string(again.Data) {
			t.Errorf("hash only: %s, want %s", again.Data, first.Data)
		}
		// And over GET, as CDNs like it.
		req, _ := http.NewRequest(http.MethodGet, e.url+"?extensions="+url.QueryEscape(string(mustJSON(t, ext))), nil)
		req.Header.Set("Authorization", "Bearer "+adm)
		if got := e.do(t, http.DefaultClient, req).ok(t); string(got.Data) != string(first.Data) {
			t.Errorf("GET hash only: %s", got.Raw)
		}
		// A query that does not match its hash is refused.
		bad := e.post(t, http.DefaultClient, adm, map[string]any{"query": `{ catalogue { id } }`, "extensions": ext})
		if len(bad.Errors) != 1 || bad.Errors[0].code() != "BAD_REQUEST" || !strings.Contains(bad.Errors[0].Message, "hash") {
			t.Errorf("mismatched hash accepted: %s", bad.Raw)
		}
		// Mutations are not served over GET.
		req, _ = http.NewRequest(http.MethodGet, e.url+"?query="+url.QueryEscape(`mutation { registerPerson(input: {id: "G1", name: "g", department: "Operations", joinedOn: "2020-01-01"}) { position } }`), nil)
		req.Header.Set("Authorization", "Bearer "+adm)
		before := e.head(t)
		if r := e.do(t, http.DefaultClient, req); len(r.Errors) == 0 || e.head(t) != before {
			t.Errorf("mutation over GET: %s", r.Raw)
		}
	})
}

// The pages a client shows, with everything they can show: a dashboard of
// people with their standing (every criterion with its evidence and the
// gap), memberships and history; a manager's page, the same with each
// person's accomplishments (every field of every kind); and one person's
// page with a hundred accomplishments.
const (
	pagePersonFields = `id name joinedOn department
    memberships { department from to }
    standing { ...S }
    history { personId field on from to }`
	pageAccomplishments = `totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ...A } }`
	dashboardPage       = `{ people(first: 20) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { ` + pagePersonFields + ` } } } }` + standingFields
	personPage = `query($id: ID!) { person(id: $id) { ` + pagePersonFields + `
    accomplishments(first: 100) { ` + pageAccomplishments + ` } } }` + standingFields + accomplishmentFields
)

func managerPage(people int) string {
	return `{ people(first: ` + fmt.Sprint(people) + `) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { ` + pagePersonFields + ` accomplishments(first: 20) { ` + pageAccomplishments + ` } } } } }` +
		standingFields + accomplishmentFields
}

// TestRealisticPagesFitTheComplexityLimit: the pages clients show fit the
// default limit, at the costs docs/api-choices.md gives, on both read
// models.
func TestRealisticPagesFitTheComplexityLimit(t *testing.T) {
	pages := []struct {
		name  string
		query string
		vars  map[string]any
		cost  int
	}{
		{"dashboard", dashboardPage, nil, 181},
		{"manager's page", managerPage(20), nil, 1401},
		{"person's page", personPage, map[string]any{"id": "E1001"}, 308},
	}
	t.Run("costs", func(t *testing.T) {
		// The cost is computed before anything runs: a limit of 1 refuses
		// every page and names its cost.
		e := newEnv(t, backends[0], options{limits: graph.Limits{Complexity: 1}})
		adm := e.token(t, admin)
		costOf := regexp.MustCompile(`^operation has complexity (\d+), which exceeds the limit of 1$`)
		trend := `skillTrend(field: SERVICE_DESK, from: "2025-01-01", to: "2026-01-01", interval: DAY) { on cells { department level count } }`
		var distributions strings.Builder
		for i := range 600 {
			fmt.Fprintf(&distributions, " d%d: skillDistribution(field: SERVICE_DESK) { level }", i)
		}
		others := []struct {
			name  string
			query string
			vars  map[string]any
			cost  int
		}{
			{"manager's page of 50", managerPage(50), nil, 3501},
			{"manager's page of 100", managerPage(100), nil, 7001},
			{"100 people with 100 accomplishments", `{ people(first: 100) { edges { node { id accomplishments(first: 100) { edges { node { id } } } } } } }`, nil, 20301},
			{"a daily trend over a year", `{ ` + trend + ` }`, nil, 4027},
			{"two daily trends over a year", `{ a: ` + trend + ` b: ` + trend + ` }`, nil, 8054},
			{"600 distributions", `{` + distributions.String() + ` }`, nil, 6000},
			// A department as known then reads the person's events, as
			// history as known then does: it costs what that list costs
			// (1), where a department as known now costs nothing.
			{"a department as known now and then", `{ person(id: "E1") { department then: department(knownAt: "2026-01-01T00:00:00Z") } }`, nil, 2},
			{"a department as known then", `{ person(id: "E1") { department(knownAt: "2026-01-01T00:00:00Z") } }`, nil, 2},
			{"a history as known then", `{ person(id: "E1") { history(knownAt: "2026-01-01T00:00:00Z") { on } } }`, nil, 2},
			{"memberships as known then", `{ person(id: "E1") { memberships(knownAt: "2026-01-01T00:00:00Z") { department } } }`, nil, 2},
		}
		for _, p := range append(pages, others...) {
			r := e.gql(t, adm, p.query, p.vars)
			m := []string{"", ""}
			if len(r.Errors) == 1 && r.Errors[0].code() == "COMPLEXITY_LIMIT_EXCEEDED" {
				m = costOf.FindStringSubmatch(r.Errors[0].Message)
			}
			if m == nil || m[1] != fmt.Sprint(p.cost) {
				t.Errorf("%s: %s; want a cost of %d", p.name, r.Raw, p.cost)
			}
		}
	})
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		buildDataset(t, e)
		tokens := map[string]string{"admin": e.token(t, admin), "managerA": e.token(t, managerA)}
		for _, p := range pages {
			for who, tok := range tokens {
				r := e.gql(t, tok, p.query, p.vars).ok(t)
				var nodes []map[string]any
				if people, ok := field(t, r.Data, "people.edges").([]any); ok {
					for _, edge := range people {
						nodes = append(nodes, edge.(map[string]any)["node"].(map[string]any))
					}
				} else if person, ok := field(t, r.Data, "person").(map[string]any); ok {
					nodes = append(nodes, person)
				}
				if len(nodes) == 0 {
					t.Fatalf("%s as %s: no people in %s", p.name, who, r.Data)
				}
				kinds := map[string]bool{}
				for _, n := range nodes {
					if st, _ := n["standing"].([]any); len(st) != 3 {
						t.Errorf("%s as %s: %v has standing %v", p.name, who, n["id"], n["standing"])
					}
					if acc, ok := n["accomplishments"].(map[string]any); ok {
						for _, edge := range acc["edges"].([]any) {
							kinds[edge.(map[string]any)["node"].(map[string]any)["kind"].(string)] = true
						}
					}
				}
				if p.name != "dashboard" && len(kinds) != 4 {
					t.Errorf("%s as %s: accomplishments of kinds %v, want all four", p.name, who, kinds)
				}
			}
		}
	})
}

// TestRequestDeadline: a query or mutation over HTTP ends with TIMEOUT at
// Limits.Request, well before the read-your-writes wait (10 s here) would
// end it; a websocket outlives the deadline.
func TestRequestDeadline(t *testing.T) {
	e := newEnv(t, backends[0], options{limits: graph.Limits{Request: 400 * time.Millisecond}})
	adm := e.token(t, admin)
	outlives(t, e, adm, 600*time.Millisecond, "D1")

	// With the projector stopped, a mutation waits for a read model that
	// does not move.
	e.StopProjector()
	start := time.Now()
	r := e.gql(t, adm, mRegister, map[string]any{"in": map[string]any{"id": "D2", "name": "D", "department": "Operations", "joinedOn": "2020-01-01"}})
	// The write is in the log: the answer says so, as at the
	// read-your-writes timeout.
	if len(r.Errors) == 0 || r.Errors[0].code() != "CONFLICT" || !strings.Contains(r.Errors[0].Message, "recorded at position 4, but the read model did not apply it before the request's deadline") {
		t.Errorf("want CONFLICT recorded at position 4, got HTTP %d %s", r.Status, r.Raw)
	}

	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered after %v, want about 400 ms", d)
	}
}

// TestQueryDeadline: a query whose read hangs (here on a table another
// session has locked) ends with TIMEOUT at Limits.Request.
func TestQueryDeadline(t *testing.T) {
	var pool *pgxpool.Pool
	b := backend{"postgres", func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel {
		pool = pgtest.NewPool(t, postgres.DefaultSchema)
		return postgres.New(pool, cat, postgres.DefaultSchema)
	}}
	e := newEnv(t, b, options{limits: graph.Limits{Request: 400 * time.Millisecond}})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "Q1", "name": "Q", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE "+postgres.DefaultSchema+".people IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := e.gql(t, adm, `{ person(id: "Q1") { name } }`, nil)
	if len(r.Errors) == 0 || r.Errors[0].code() != "TIMEOUT" {
		t.Errorf("want TIMEOUT, got HTTP %d %s", r.Status, r.Raw)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered after %v, want about 400 ms", d)
	}
	// So does a query sent over a websocket.
	ws := e.connect(t, adm)
	start = time.Now()
	ws.send(wsMessage{ID: "q", Type: "subscribe", Payload: mustJSON(t, map[string]any{"query": `{ person(id: "Q1") { name } }`})})
	if m, err := ws.next(10 * time.Second); err != nil || m.Type != "next" || !strings.Contains(string(m.Payload), `"TIMEOUT"`) {
		t.Errorf("a query over a websocket: %+v %v, want TIMEOUT", m, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the websocket query answered after %v, want about 400 ms", d)
	}
	// A mutation whose check of the person hangs the same way ends before
	// it sends anything, and says nothing was recorded.
	head := e.head(t)
	r = e.gql(t, adm, mAssess, map[string]any{"in": map[string]any{"personId": "Q1", "theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2021-02-01"}})
	if len(r.Errors) == 0 || r.Errors[0].code() != "TIMEOUT" || !strings.Contains(r.Errors[0].Message, "nothing was recorded") {
		t.Errorf("want TIMEOUT saying nothing was recorded, got HTTP %d %s", r.Status, r.Raw)
	}
	if e.head(t) != head {
		t.Error("the mutation recorded something")
	}
}

// aliased is a query of n aliases (a0, a1 ...) of one selection.
// spreadTwice returns a query whose fragment F0 spreads F1 twice, F1 F2,
// and so on to Fn, which selects __typename: 2^n fields once spread.
func spreadTwice(n int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }")
	for i := range n {
		fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on Query { __typename }", n)
	return b.String()
}

func aliased(n int, selection string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: %s", i, selection)
	}
	b.WriteString("}")
	return b.String()
}
