package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/events/natstest"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
)

// pgProxy forwards connections to PostgreSQL until it is cut: then
// nothing listens at its address (a new connection is refused) and the
// connections it forwarded are closed, as when the database's host goes
// away.
type pgProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln}
	t.Cleanup(p.cut)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }() //nolint:errcheck // ends with either side
			go func() { io.Copy(c, s); c.Close() }() //nolint:errcheck // ends with either side
		}
	}()
	return p
}

func (p *pgProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestAMutationWhilePostgreSQLIsAwayIsUnavailable: careerd in its
// production configuration whose PostgreSQL goes away (its connections
// closed, nothing listening at its address) answers a mutation and an
// import line at once UNAVAILABLE saying nothing was recorded, and a
// query UNAVAILABLE, each with the request id, and records nothing; the
// commands are counted in careerledger_commands_total as unavailable, and
// one refused before it reached the Recorder (FORBIDDEN) as refused.
func TestAMutationWhilePostgreSQLIsAwayIsUnavailable(t *testing.T) {
	s := natstest.Start(t)
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cc := pool.Config().ConnConfig
	proxy := startPGProxy(t, net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))))
	env := map[string]string{"NATS_URL": s.URL(), "CAREER_AUTH_SECRET": "test-secret", "CAREER_HTTP_ADDR": "127.0.0.1:0",
		"DATABASE_URL": fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", cc.User, proxy.ln.Addr(), cc.Database)}
	cfg, err := ParseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs logLines
	m := startLogging(t, cfg, &logs)
	logs.waitLog(t, "projector lock taken: this instance projects", map[string]string{"level": "INFO"})
	token := adminToken(t)
	if _, res := post(t, m.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
		"id": "E1", "name": "Aiko Sato", "department": "Ops", "joinedOn": "2019-04-01"}}); len(res.Errors) > 0 {
		t.Fatalf("register: %+v", res.Errors)
	}
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

	proxy.cut()
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

// silence closes the connections p forwarded and, from then on, takes new
// ones without forwarding them or answering: PostgreSQL's host gone
// silent (a network dropping its packets, a stalled server).
func (p *pgProxy) silence(t *testing.T) {
	addr := p.ln.Addr().String()
	p.cut()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
		}
	}()
}

// TestAQueryWhilePostgreSQLIsSilentIsUnavailable: careerd whose PostgreSQL
// goes silent (its connections lost, new ones taken and never answered)
// answers a query UNAVAILABLE once the connection it opens times out
// (defaultConnectTimeout, DATABASE_URL setting no connect_timeout), not
// TIMEOUT at the request's deadline; a connect_timeout DATABASE_URL sets
// is kept.
func TestAQueryWhilePostgreSQLIsSilentIsUnavailable(t *testing.T) {
	s := natstest.Start(t)
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cc := pool.Config().ConnConfig
	proxy := startPGProxy(t, net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))))
	env := map[string]string{"NATS_URL": s.URL(), "CAREER_AUTH_SECRET": "test-secret", "CAREER_HTTP_ADDR": "127.0.0.1:0",
		"CAREER_REQUEST_TIMEOUT": "20s",
		// Slots to spare: the instance's own loops (the lock, the
		// position read each second) open connections too while the
		// database is silent, each for up to the connect timeout, and a
		// pool they fill makes the query wait for a slot, not a connection.
		"DATABASE_URL": fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable&pool_max_conns=20", cc.User, proxy.ln.Addr(), cc.Database)}
	cfg, err := ParseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs logLines
	m := startLogging(t, cfg, &logs)
	logs.waitLog(t, "projector lock taken: this instance projects", map[string]string{"level": "INFO"})
	token := adminToken(t)
	if _, res := post(t, m.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
		"id": "E1", "name": "Aiko Sato", "department": "Ops", "joinedOn": "2019-04-01"}}); len(res.Errors) > 0 {
		t.Fatalf("register: %+v", res.Errors)
	}

	proxy.silence(t)
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
