package main

import (
	"io"
	"maps"
	"net/http"
	"strings"
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
		// Slots to spare: the instance's own loops (the lock, the
		// position read each second) open connections too while the
		// database is silent, each for up to the connect timeout, and a
		// pool they fill makes the query wait for a slot, not a connection.
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
