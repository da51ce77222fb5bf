package main

import (
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/events/natstest"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
)

// TestAMutationWhilePostgreSQLIsAwayIsUnavailable: careerd in its
// production configuration whose PostgreSQL goes away (its connections
// closed, nothing listening at its address) answers a mutation and an
// import line at once UNAVAILABLE saying nothing was recorded, and a
// query UNAVAILABLE, each with the request id, and records nothing; the
// commands are counted in careerledger_commands_total as unavailable, and
// one refused before it reached the Recorder (FORBIDDEN) as refused.
func TestAMutationWhilePostgreSQLIsAwayIsUnavailable(t *testing.T) {
	proxy := pgtest.StartProxy(t, pgtest.NewPool(t, postgres.DefaultSchema))
	m, logs, token := projectingThrough(t, proxy, map[string]string{"DATABASE_URL": proxy.URL()})
	tokens, _ := graph.NewTokens("test-secret")
	other, err := tokens.Mint(graph.Principal{Subject: "e2", Roles: []string{graph.RoleEmployee}, Person: "E2"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	manager, err := tokens.Mint(graph.Principal{Subject: "m", Roles: []string{graph.RoleManager}, Department: "Ops"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Refused before the Recorder: counted all the same.
	if res := postAs(t, m.Addr(), other, "forbidden", successionMutation, successionInput("")); len(res.Errors) != 1 ||
		res.Errors[0].Extensions["code"] != "FORBIDDEN" {
		t.Fatalf("another employee's record: %+v, want FORBIDDEN", res.Errors)
	}
	head, err := m.eventLog.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	proxy.Cut()
	start := time.Now()
	res := postAs(t, m.Addr(), token, "pg-outage-1", successionMutation, successionInput("k1"))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the mutation took %v, want a prompt answer", took)
	}
	if len(res.Errors) != 1 || res.Errors[0].Extensions["code"] != "UNAVAILABLE" || res.Errors[0].Extensions["requestId"] != "pg-outage-1" ||
		res.Errors[0].Message != "the read model is unreachable: nothing was recorded; send the request again once it is back" {
		t.Errorf("a mutation while PostgreSQL is away: %+v, want UNAVAILABLE saying nothing was recorded, with the request id", res.Errors)
	}
	logs.waitLog(t, "request failed: the read model is unreachable", map[string]string{"request_id": "pg-outage-1", "level": "WARN", "code": "UNAVAILABLE"})
	res = postAs(t, m.Addr(), token, "pg-outage-2", `query { person(id: "E1") { id } }`, nil)
	if len(res.Errors) != 1 || res.Errors[0].Extensions["code"] != "UNAVAILABLE" ||
		res.Errors[0].Message != "the read model is unreachable; try again once it is back" {
		t.Errorf("a query while PostgreSQL is away: %+v, want UNAVAILABLE", res.Errors)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+m.Addr()+"/v1/import", strings.NewReader(
		`{"op":"recordTechnologySuccession","input":{"personId":"E1","kind":"BOOK","title":"t","occurredOn":"2022-03-01","fields":["SERVICE_DESK"],"idempotencyKey":"imp-1"}}`+"\n"))
	req.Header.Set("Authorization", "Bearer "+manager)
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"code":"UNAVAILABLE"`) ||
			!strings.Contains(string(body), "the read model is unreachable: nothing was recorded") {
			t.Errorf("an import line while PostgreSQL is away: %d %s, want UNAVAILABLE saying nothing was recorded", res.StatusCode, body)
		}
	}
	if h, err := m.eventLog.Head(t.Context()); err != nil || h != head {
		t.Errorf("the log's head %d (%v), want %d: nothing recorded", h, err, head)
	}
	_, metrics := get(t, "http://"+m.Addr()+"/metrics")
	for _, want := range []string{
		`careerledger_commands_total{command="recordTechnologySuccession",result="unavailable"} 2`,
		`careerledger_commands_total{command="recordTechnologySuccession",result="refused"} 1`,
		`careerledger_commands_total{command="registerPerson",result="recorded"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics: missing %s\n%s", want, grepLines(metrics, "careerledger_commands_total"))
		}
	}
}

// TestAQueryWhilePostgreSQLIsSilentIsUnavailable: careerd whose PostgreSQL
// goes silent (its connections lost, new ones taken and never answered)
// answers a query UNAVAILABLE once the connection it opens times out
// (defaultConnectTimeout, DATABASE_URL setting no connect_timeout), not
// TIMEOUT at the request's deadline; a connect_timeout DATABASE_URL sets
// is kept.
func TestAQueryWhilePostgreSQLIsSilentIsUnavailable(t *testing.T) {
	proxy := pgtest.StartProxy(t, pgtest.NewPool(t, postgres.DefaultSchema))
	m, _, token := projectingThrough(t, proxy, map[string]string{"CAREER_REQUEST_TIMEOUT": "20s",
		// Slots to spare, so that the query opens a connection of its
		// own: the instance's own loops (the lock, the position read each
		// second) open connections too while the database is silent, and
		// a query behind a pool they fill waits for a slot, then asks
		// whether the database can be reached (the next test).
		"DATABASE_URL": proxy.URL("pool_max_conns=20")})

	proxy.Silence(t)
	start := time.Now()
	res := postAs(t, m.Addr(), token, "pg-silent-1", `query { person(id: "E1") { id } }`, nil)
	took := time.Since(start)
	if len(res.Errors) != 1 || res.Errors[0].Extensions["code"] != "UNAVAILABLE" ||
		res.Errors[0].Message != "the read model is unreachable; try again once it is back" {
		t.Errorf("a query while PostgreSQL is silent, after %v: %+v, want UNAVAILABLE", took, res.Errors)
	}
	if took > defaultConnectTimeout+3*time.Second {
		t.Errorf("the query took %v, want about %v (the connect timeout)", took, defaultConnectTimeout)
	}

	for url, want := range map[string]time.Duration{
		"postgres://u@h/db":                   defaultConnectTimeout,
		"postgres://u@h/db?connect_timeout=2": 2 * time.Second,
		"postgres://u@h/db?connect_timeout=0": 0,
		"host=h user=u connect_timeout=3":     3 * time.Second,
	} {
		if pc, err := poolConfig(url); err != nil || pc.ConnConfig.ConnectTimeout != want {
			t.Errorf("poolConfig(%q): %v, want a connect timeout of %v", url, err, want)
		}
	}
}

// TestARequestBehindAFullPoolWhilePostgreSQLIsSilentIsUnavailable:
// careerd in its production configuration (the pool's default size) whose
// every pooled connection is held (as statements stuck on a database gone
// silent hold them, or its own loops opening connections one after the
// other) when PostgreSQL goes silent answers a query and a mutation
// UNAVAILABLE within about the connect timeout, not TIMEOUT at the
// request's deadline, and records nothing.
func TestARequestBehindAFullPoolWhilePostgreSQLIsSilentIsUnavailable(t *testing.T) {
	proxy := pgtest.StartProxy(t, pgtest.NewPool(t, postgres.DefaultSchema))
	m, _, token := projectingThrough(t, proxy, map[string]string{"CAREER_REQUEST_TIMEOUT": "30s", "DATABASE_URL": proxy.URL()})
	head, err := m.eventLog.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	release := pgtest.HoldConns(t, m.pool)
	defer release()
	proxy.Silence(t)

	start := time.Now()
	answers := postTogether(t, m, token, map[string]request{
		"silent-query":    {`query { person(id: "E1") { id } }`, nil},
		"silent-mutation": {successionMutation, successionInput("silent-1")},
	})
	for id, want := range map[string]string{
		"silent-query":    "the read model is unreachable; try again once it is back",
		"silent-mutation": "the read model is unreachable: nothing was recorded; send the request again once it is back",
	} {
		a := answers[id]
		if len(a.res.Errors) != 1 || a.res.Errors[0].Extensions["code"] != "UNAVAILABLE" || a.res.Errors[0].Message != want {
			t.Errorf("%s, behind a full pool while PostgreSQL is silent, after %v: %+v, want UNAVAILABLE %q", id, a.took, a.res.Errors, want)
		}
		// The wait before asking whether PostgreSQL can be reached, then
		// the connect timeout of that question.
		if a.took > time.Second+defaultConnectTimeout+2*time.Second {
			t.Errorf("%s took %v, want about %v (the connect timeout)", id, a.took, defaultConnectTimeout)
		}
	}
	t.Logf("answered after %v", time.Since(start))
	if h, err := m.eventLog.Head(t.Context()); err != nil || h != head {
		t.Errorf("the log's head %d (%v), want %d: nothing recorded", h, err, head)
	}
}

// TestARequestWaitingForABusyPoolIsServed: careerd whose every pooled
// connection is held for a while by a healthy PostgreSQL (a bulk import's
// batches, say) serves a query and a mutation once they come free, however
// long past the point where a request asks whether PostgreSQL can be
// reached, never UNAVAILABLE; the mutation sent again with its key
// records nothing more.
func TestARequestWaitingForABusyPoolIsServed(t *testing.T) {
	proxy := pgtest.StartProxy(t, pgtest.NewPool(t, postgres.DefaultSchema))
	m, _, token := projectingThrough(t, proxy, map[string]string{"DATABASE_URL": proxy.URL()})
	head, err := m.eventLog.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const busy = 4 * time.Second
	release := pgtest.HoldConns(t, m.pool)
	time.AfterFunc(busy, release)

	answers := postTogether(t, m, token, map[string]request{
		"busy-query":    {`query { person(id: "E1") { id } }`, nil},
		"busy-mutation": {successionMutation, successionInput("busy-1")},
	})
	for id, a := range answers {
		if len(a.res.Errors) > 0 {
			t.Errorf("%s, waiting %v for a busy pool: %+v, want it served", id, a.took, a.res.Errors)
		}
		if a.took < busy-time.Second {
			t.Errorf("%s answered after %v, while every connection was held for %v", id, a.took, busy)
		}
	}
	res := postAs(t, m.Addr(), token, "busy-again", successionMutation, successionInput("busy-1"))
	if len(res.Errors) > 0 || string(res.Data) != string(answers["busy-mutation"].res.Data) {
		t.Errorf("the mutation sent again: %s %+v, want the first answer %s", res.Data, res.Errors, answers["busy-mutation"].res.Data)
	}
	if h, err := m.eventLog.Head(t.Context()); err != nil || h != head+1 {
		t.Errorf("the log's head %d (%v), want %d: the mutation recorded once", h, err, head+1)
	}
}

type request struct {
	query string
	vars  map[string]any
}

type answer struct {
	res  gqlResponse
	took time.Duration
}

// postTogether sends each request (by its request id) at once, in
// parallel, and returns their answers and how long each took.
func postTogether(t *testing.T, m *Main, token string, reqs map[string]request) map[string]answer {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[string]answer{}
	start := time.Now()
	for id, r := range reqs {
		wg.Go(func() {
			res, err := tryPostAs(m.Addr(), token, id, r.query, r.vars)
			if err != nil {
				t.Errorf("%s: %v", id, err)
			}
			mu.Lock()
			out[id] = answer{res, time.Since(start)}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// projectingThrough starts careerd in its production configuration (an
// embedded JetStream server of the test's, the read model through proxy,
// env added to it) and waits until it projects; E1 is registered. It
// returns careerd, its logs and an admin token.
func projectingThrough(t *testing.T, proxy *pgtest.Proxy, env map[string]string) (*Main, *logLines, string) {
	t.Helper()
	s := natstest.Start(t)
	vars := map[string]string{"NATS_URL": s.URL(), "CAREER_AUTH_SECRET": "test-secret", "CAREER_HTTP_ADDR": "127.0.0.1:0"}
	maps.Copy(vars, env)
	cfg, err := ParseConfig(nil, func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &logLines{}
	m := startLogging(t, cfg, logs)
	logs.waitLog(t, "projector lock taken: this instance projects", map[string]string{"level": "INFO"})
	token := adminToken(t)
	if _, res := post(t, m.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
		"id": "E1", "name": "Aiko Sato", "department": "Ops", "joinedOn": "2019-04-01"}}); len(res.Errors) > 0 {
		t.Fatalf("register: %+v", res.Errors)
	}
	return m, logs, token
}
