package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections"
)

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient is one graphql-transport-ws connection.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

// dial opens a websocket to the server with the graphql-transport-ws
// protocol and sends connection_init with payload.
func (e *env) dial(t *testing.T, payload map[string]any) *wsClient {
	t.Helper()
	return e.dialWith(t, nil, payload)
}

// dialWith is dial with headers on the upgrade request.
func (e *env) dialWith(t *testing.T, header http.Header, payload map[string]any) *wsClient {
	t.Helper()
	c := e.dialSilent(t, header)
	c.send(wsMessage{Type: "connection_init", Payload: mustJSON(t, payload)})
	return c
}

// dialSilent opens a websocket and sends nothing.
func (e *env) dialSilent(t *testing.T, header http.Header) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http"),
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: header})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	if conn.Subprotocol() != "graphql-transport-ws" {
		t.Fatalf("negotiated subprotocol %q", conn.Subprotocol())
	}
	return &wsClient{t: t, conn: conn}
}

// connect dials and waits for connection_ack.
func (e *env) connect(t *testing.T, token string) *wsClient {
	t.Helper()
	c := e.dial(t, map[string]any{"Authorization": "Bearer " + token})
	if m, err := c.next(5 * time.Second); err != nil || m.Type != "connection_ack" {
		t.Fatalf("want connection_ack, got %+v %v", m, err)
	}
	return c
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c *wsClient) send(m wsMessage) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, c.conn, m); err != nil {
		c.t.Fatalf("websocket write: %v", err)
	}
}

// next returns the next message other than ping/pong (answering pings).
func (c *wsClient) next(timeout time.Duration) (wsMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, c.conn, &m); err != nil {
			return m, err
		}
		switch m.Type {
		case "ping":
			c.send(wsMessage{Type: "pong"})
		case "pong":
		default:
			return m, nil
		}
	}
}

const levelChanged = `subscription($department: String, $personId: ID) {
  levelChanged(department: $department, personId: $personId) { personId field on from to withdrawn }
}`

// subscribe starts subscription id with the given variables.
func (c *wsClient) subscribe(id string, vars map[string]any) {
	c.t.Helper()
	c.send(wsMessage{ID: id, Type: "subscribe", Payload: mustJSON(c.t, map[string]any{"query": levelChanged, "variables": vars})})
}

type change struct {
	PersonID  string `json:"personId"`
	Field     string `json:"field"`
	On        string `json:"on"`
	From      int    `json:"from"`
	To        int    `json:"to"`
	Withdrawn bool   `json:"withdrawn"`
}

// change waits for the next level change of subscription id.
func (c *wsClient) change(id string) change {
	c.t.Helper()
	m, err := c.next(10 * time.Second)
	if err != nil {
		c.t.Fatalf("waiting for a level change: %v", err)
	}
	if m.Type != "next" || m.ID != id {
		c.t.Fatalf("want next for %s, got %s %s %s", id, m.Type, m.ID, m.Payload)
	}
	var p struct {
		Data struct {
			LevelChanged change `json:"levelChanged"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
		c.t.Fatalf("payload %s: %v", m.Payload, err)
	}
	return p.Data.LevelChanged
}

// TestSubscription follows level changes over a websocket as each role may.
func TestSubscription(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "S1", "name": "Sub One", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		e.mutate(t, adm, &mRegister, map[string]any{"id": "S2", "name": "Sub Two", "department": "Network", "joinedOn": "2020-01-01"}, "")

		byAdmin := e.connect(t, adm)
		byAdmin.subscribe("1", map[string]any{"personId": "S1"})
		// A person and the department they are in today, together.
		byAdminBoth := e.connect(t, adm)
		byAdminBoth.subscribe("p", map[string]any{"personId": "S1", "department": "Operations"})
		self := e.connect(t, e.token(t, employee("S1")))
		self.subscribe("s", nil)
		selfDept := e.connect(t, e.token(t, employee("S1")))
		selfDept.subscribe("d", map[string]any{"department": "Operations "}) // their own today, trimmed
		mgrA := e.connect(t, e.token(t, managerA))
		mgrA.subscribe("a", map[string]any{"department": "Operations "}) // their own, as the analytics take it: trimmed
		mgrB := e.connect(t, e.token(t, managerB))
		mgrB.subscribe("b", nil)
		byHR := e.connect(t, e.token(t, hr))
		byHR.subscribe("h", map[string]any{"department": "Operations"})
		waitSubscribers(t, e, 7)

		// Level 1 in every field for S1: a participation and a common theme.
		e.mutate(t, adm, &mEngagement, map[string]any{"personId": "S1", "field": "SERVICE_DESK", "title": "t", "role": "PARTICIPANT",
			"startedOn": "2025-01-01", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}}, "")
		e.mutate(t, adm, &mAssess, map[string]any{"personId": "S1", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2025-02-01"}, "")
		// Then a change in department B, for S2.
		e.mutate(t, adm, &mEngagement, map[string]any{"personId": "S2", "field": "NETWORK_OPERATION", "title": "t", "role": "PRACTITIONER",
			"startedOn": "2025-01-01", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}}, "")
		e.mutate(t, adm, &mAssess, map[string]any{"personId": "S2", "theme": "INFORMATION_ASSET_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2025-03-01"}, "")

		for _, c := range []struct {
			name   string
			client *wsClient
			id     string
		}{{"admin", byAdmin, "1"}, {"admin with a department", byAdminBoth, "p"}, {"employee", self, "s"}, {"employee in their department", selfDept, "d"}, {"manager A", mgrA, "a"}, {"hr", byHR, "h"}} {
			fields := map[string]bool{}
			for range 3 {
				got := c.client.change(c.id)
				if got.PersonID != "S1" || got.From != 0 || got.To != 1 || got.On != "2025-02-01" || got.Withdrawn {
					t.Errorf("%s: change %+v, want S1 0 -> 1 on 2025-02-01", c.name, got)
				}
				fields[got.Field] = true
			}
			if len(fields) != 3 {
				t.Errorf("%s: changes in %v, want all three fields", c.name, fields)
			}
		}
		// Manager B's first change is S2's: S1's (department A) never came.
		if got := mgrB.change("b"); got.PersonID != "S2" || got.To != 2 {
			t.Errorf("manager B: first change %+v, want S2's", got)
		}
		// S2's changes (department B) reach none of the others.
		for name, c := range map[string]*wsClient{"admin": byAdmin, "admin with a department": byAdminBoth, "employee": self, "manager A": mgrA, "hr": byHR} {
			if m, err := c.next(100 * time.Millisecond); err == nil {
				t.Errorf("%s received %s %s", name, m.Type, m.Payload)
			}
		}
	})
}

// TestSubscriptionWithdrawn: a change announced earlier that back-dated
// evidence or a retraction supersedes comes again with withdrawn true (a
// moved date: the old change withdrawn, then the new one); history, which
// holds only what holds, says withdrawn false.
func TestSubscriptionWithdrawn(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "W1", "name": "With Drawn", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		ws := e.connect(t, adm)
		ws.subscribe("w", map[string]any{"personId": "W1"})
		// A subscription that does not select withdrawn (one written before
		// withdrawals) is sent no withdrawals: to it, one would look like
		// the announcement it withdraws.
		old := e.connect(t, adm)
		old.send(wsMessage{ID: "old", Type: "subscribe", Payload: mustJSON(t, map[string]any{
			"query":     `subscription($personId: ID) { levelChanged(personId: $personId) { personId field on from to } }`,
			"variables": map[string]any{"personId": "W1"}})})
		waitSubscribers(t, e, 2)
		expectOld := func(step, on string) {
			t.Helper()
			for range 3 {
				if got := old.change("old"); got.On != on || got.From != 0 || got.To != 1 {
					t.Errorf("%s, without withdrawn selected: change %+v, want 0 -> 1 on %s", step, got, on)
				}
			}
		}
		// Level 1 in every field on 2025-02-01: a participation and a common theme.
		e.mutate(t, adm, &mEngagement, map[string]any{"personId": "W1", "field": "SERVICE_DESK", "title": "t", "role": "PARTICIPANT",
			"startedOn": "2025-01-01", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}}, "")
		r := e.mutate(t, adm, &mAssess, map[string]any{"personId": "W1", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2025-02-01"}, "")
		theme, _ := field(t, r.Data, "assessTheme.accomplishmentId").(string)
		// expect reads the next three changes: one per field, all on on.
		expect := func(step, on string, withdrawn bool) {
			t.Helper()
			fields := map[string]bool{}
			for range 3 {
				got := ws.change("w")
				if got.PersonID != "W1" || got.From != 0 || got.To != 1 || got.On != on || got.Withdrawn != withdrawn {
					t.Errorf("%s: change %+v, want W1 0 -> 1 on %s withdrawn %v", step, got, on, withdrawn)
				}
				fields[got.Field] = true
			}
			if len(fields) != 3 {
				t.Errorf("%s: changes in %v, want all three fields", step, fields)
			}
		}
		expect("recorded", "2025-02-01", false)
		expectOld("recorded", "2025-02-01")

		e.mutate(t, adm, &mAmend, map[string]any{"accomplishmentId": theme, "assessedOn": "2025-03-01"}, "")
		expect("the date moved: the old changes withdrawn", "2025-02-01", true)
		expect("the date moved: then the new ones", "2025-03-01", false)
		expectOld("the date moved", "2025-03-01")
		h := e.gql(t, adm, `{ person(id: "W1") { history { on withdrawn } } }`, nil).ok(t)
		var got struct {
			Person struct {
				History []struct {
					On        string
					Withdrawn bool
				}
			}
		}
		h.decode(t, &got)
		if len(got.Person.History) != 3 {
			t.Errorf("history %s, want the three changes on 2025-03-01", h.Data)
		}
		for _, c := range got.Person.History {
			if c.On != "2025-03-01" || c.Withdrawn {
				t.Errorf("history %s, want the three changes on 2025-03-01, none withdrawn", h.Data)
			}
		}

		e.mutate(t, adm, &mRetract, map[string]any{"accomplishmentId": theme, "reason": "assessed by mistake"}, "")
		expect("retracted", "2025-03-01", true)
		if m, err := ws.next(100 * time.Millisecond); err == nil {
			t.Errorf("after the withdrawals: %s %s", m.Type, m.Payload)
		}
		if m, err := old.next(100 * time.Millisecond); err == nil {
			t.Errorf("retracted, without withdrawn selected: %s %s", m.Type, m.Payload)
		}
	})
}

func waitSubscribers(t *testing.T, e *env, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.Changes.Subscribers() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers, want %d", e.Changes.Subscribers(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSubscriptionRefused: connection_init without a valid token closes the
// connection with 4403; a subscription outside the caller's scope gets a
// FORBIDDEN error, one that names nobody NOT_FOUND or BAD_USER_INPUT.
func TestSubscriptionRefused(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	expired, _ := e.tokens.Mint(admin, time.Hour, time.Now().Add(-2*time.Hour))
	for name, payload := range map[string]map[string]any{
		"no payload":    nil,
		"no token":      {"other": "x"},
		"garbage token": {"Authorization": "Bearer nope"},
		"wrong secret":  {"Authorization": "Bearer " + mintWith(t, "other-secret")},
		"expired":       {"Authorization": "Bearer " + expired},
	} {
		t.Run(name, func(t *testing.T) {
			c := e.dial(t, payload)
			m, err := c.next(5 * time.Second)
			if err == nil {
				t.Fatalf("got %s %s, want the connection closed", m.Type, m.Payload)
			}
			if code := websocket.CloseStatus(err); code != 4403 {
				t.Errorf("closed with %d (%v), want 4403", code, err)
			}
			// An expired token is told apart: the client should mint a new
			// one, not fix a broken one.
			var ce websocket.CloseError
			if errors.As(err, &ce) && (ce.Reason == "token expired") != (name == "expired") {
				t.Errorf("closed with the reason %q", ce.Reason)
			}
		})
	}

	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "S1", "name": "S", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	e.mutate(t, adm, &mRegister, map[string]any{"id": "S3", "name": "S", "department": "Network", "joinedOn": "2020-01-01"}, "")
	e.mutate(t, adm, &mRegister, map[string]any{"id": "S4", "name": "S", "department": "Network", "joinedOn": "2020-01-01"}, "")
	e.mutate(t, adm, &mDeparture, map[string]any{"personId": "S4", "effectiveOn": "2026-05-01"}, "")
	for _, c := range []struct {
		name  string
		token string
		vars  map[string]any
		code  string
	}{
		{"manager of another department", e.token(t, managerB), map[string]any{"department": "Operations"}, "FORBIDDEN"},
		{"employee following someone else", e.token(t, employee("S2")), map[string]any{"personId": "S1"}, "FORBIDDEN"},
		{"manager following someone of another department", e.token(t, managerB), map[string]any{"personId": "S1"}, "FORBIDDEN"},
		{"manager following nobody", e.token(t, managerB), map[string]any{"personId": "NOBODY"}, "FORBIDDEN"},
		{"no roles", e.token(t, noRoles), nil, "FORBIDDEN"},
		// Nobody is refused to anyone, as a department nobody has been in
		// is: a subscription that would deliver nothing, ever, in silence.
		{"admin following nobody", e.token(t, admin), map[string]any{"personId": "NOBODY"}, "NOT_FOUND"},
		{"hr following a department nobody has been in", e.token(t, hr), map[string]any{"department": "Nowhere"}, "BAD_USER_INPUT"},
		// An empty department is an unset variable, not a request for every
		// department, to a manager and an employee as to admin (they were
		// followed their own department or person in silence).
		{"manager following an empty department", e.token(t, managerB), map[string]any{"department": ""}, "BAD_USER_INPUT"},
		{"manager following a department of spaces", e.token(t, managerB), map[string]any{"department": "  "}, "BAD_USER_INPUT"},
		{"employee following an empty department", e.token(t, employee("S1")), map[string]any{"department": ""}, "BAD_USER_INPUT"},
		{"admin following an empty department", e.token(t, admin), map[string]any{"department": ""}, "BAD_USER_INPUT"},
		// An employee's changes are of their own person: a department not
		// theirs today would deliver nothing, ever, in silence.
		{"employee following another department", e.token(t, employee("S1")), map[string]any{"department": "Network"}, "FORBIDDEN"},
		{"employee following another department, naming themselves", e.token(t, employee("S1")), map[string]any{"department": "Network", "personId": "S1"}, "FORBIDDEN"},
		{"employee not registered following a department", e.token(t, employee("S9")), map[string]any{"department": "Operations"}, "FORBIDDEN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, errs := e.subscribeRefused(t, c.token, c.vars)
			if len(errs) != 1 || errs[0].code() != c.code || (c.code == "BAD_USER_INPUT" && errs[0].field() != "department") {
				t.Errorf("got %s %s, want one %s error", m.Type, m.Payload, c.code)
			}
		})
	}

	for _, c := range []struct {
		name  string
		token string
		vars  map[string]any
		says  string
	}{
		// A person and a department they are not in today: a change is
		// published with the person's department when it is found, so
		// the two would deliver nothing until the person moved there, as
		// an employee's department not theirs would.
		{"admin following a person in another department", adm, map[string]any{"department": "Operations", "personId": "S3"},
			"personId: S3 is not in department Operations today (they are in department Network)"},
		{"hr following a person in another department", e.token(t, hr), map[string]any{"department": "Network", "personId": "S1"},
			"personId: S1 is not in department Network today (they are in department Operations)"},
		{"admin following a departed person in their last department", adm, map[string]any{"department": "Network", "personId": "S4"},
			"personId: S4 is not in department Network today (they are in no department)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, errs := e.subscribeRefused(t, c.token, c.vars)
			if len(errs) != 1 || errs[0].code() != "BAD_USER_INPUT" || errs[0].field() != "personId" || !strings.Contains(errs[0].Message, c.says) ||
				!strings.Contains(errs[0].Message, "leave department out") {
				t.Errorf("got %s %s, want BAD_USER_INPUT naming personId and department: %q", m.Type, m.Payload, c.says)
			}
		})
	}
}

// subscribeRefused opens a connection with token, subscribes to
// levelChanged with vars and returns the first message and its errors
// (an "error" message's, or a "next" one's, which must carry no data).
func (e *env) subscribeRefused(t *testing.T, token string, vars map[string]any) (wsMessage, []gqlError) {
	t.Helper()
	ws := e.connect(t, token)
	ws.subscribe("x", vars)
	m, err := ws.next(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var errs []gqlError
	switch m.Type {
	case "error":
		err = json.Unmarshal(m.Payload, &errs)
	case "next":
		var p struct {
			Data   json.RawMessage
			Errors []gqlError
		}
		err = json.Unmarshal(m.Payload, &p)
		errs = p.Errors
		if string(p.Data) != "" && string(p.Data) != "null" {
			t.Errorf("levelChanged(%v): data %s", vars, p.Data)
		}
	}
	if err != nil {
		t.Fatalf("levelChanged(%v): %s %s: %v", vars, m.Type, m.Payload, err)
	}
	return m, errs
}

func mintWith(t *testing.T, secret string) string {
	t.Helper()
	tokens, err := graph.NewTokens(secret)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokens.Mint(admin, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestATokenThatLivesTooLongIsRefused: with a maximum token lifetime, a
// token that lives longer is refused over HTTP (401 saying the rule and the
// maximum), on a websocket's upgrade (401) and in its connection_init
// (4403 "token lifetime too long"); one within it is served.
func TestATokenThatLivesTooLongIsRefused(t *testing.T) {
	e := newEnv(t, backends[0], options{maxTokenLifetime: 24 * time.Hour})
	long, err := e.tokens.Mint(hr, 25*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.gql(t, e.token(t, hr), `{ catalogue { id } }`, nil).ok(t)
	want := "more than the maximum token lifetime of 24h: mint one that expires sooner"
	if r := e.gql(t, long, `{ catalogue { id } }`, nil); r.Status != http.StatusUnauthorized || len(r.Errors) != 1 ||
		!strings.Contains(r.Errors[0].Message, want) || r.Errors[0].code() != "UNAUTHENTICATED" {
		t.Errorf("over HTTP: %d %s, want 401 saying %q", r.Status, r.Raw, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http"), &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Authorization": {"Bearer " + long}}})
	if err == nil {
		conn.CloseNow()
		t.Error("a websocket upgrade with the token was accepted")
	} else if res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a websocket upgrade with the token: %v, want 401", err)
	}

	c := e.dial(t, map[string]any{"Authorization": "Bearer " + long})
	m, err := c.next(5 * time.Second)
	var ce websocket.CloseError
	if err == nil {
		t.Fatalf("connection_init with the token: got %s %s, want the connection closed", m.Type, m.Payload)
	}
	if !errors.As(err, &ce) || ce.Code != 4403 || ce.Reason != "token lifetime too long" {
		t.Errorf("connection_init with the token: closed with %v, want 4403 \"token lifetime too long\"", err)
	}
	e.connect(t, e.token(t, hr))
}

// TestSubscriptionSlowClient: a subscriber that stops reading is dropped;
// the feed never blocks and the other subscribers keep receiving.
func TestSubscriptionSlowClient(t *testing.T) {
	e := newEnv(t, backends[0], options{buffer: 64})
	adm := e.token(t, admin)
	slow := e.connect(t, adm)
	slow.subscribe("slow", nil)
	fast := e.connect(t, adm)
	fast.subscribe("fast", nil)
	waitSubscribers(t, e, 2)

	// Big changes fill the slow client's socket buffers quickly: it never
	// reads again.
	pad := strings.Repeat("x", 60)
	batch := func(i int) []projections.LevelChanged {
		out := make([]projections.LevelChanged, 32)
		for j := range out {
			out[j] = projections.LevelChanged{PersonID: fmt.Sprintf("%s-%d-%d", pad, i, j), Department: "Operations",
				Change: domain.LevelChange{Field: domain.Field("SERVICE_DESK"), On: domain.MustDate("2025-01-01"), From: 0, To: 1}}
		}
		return out
	}
	dropped := false
	for i := 0; i < 20000 && !dropped; i++ {
		done := make(chan struct{})
		go func() {
			e.Changes.LevelChanged(context.Background(), batch(i))
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the level-change feed blocked on a slow subscriber")
		}
		for j := range 32 {
			if got := fast.change("fast"); got.PersonID != fmt.Sprintf("%s-%d-%d", pad, i, j) {
				t.Fatalf("fast subscriber got %s, want batch %d item %d", got.PersonID, i, j)
			}
		}
		dropped = e.Changes.Subscribers() == 1
	}
	if !dropped {
		t.Fatalf("the slow subscriber was never dropped (%d subscribers)", e.Changes.Subscribers())
	}
	// The fast subscriber is still served after the drop.
	e.Changes.LevelChanged(context.Background(), batch(-1)[:1])
	if got := fast.change("fast"); !strings.HasSuffix(got.PersonID, "--1-0") {
		t.Errorf("after the drop the fast subscriber got %s", got.PersonID)
	}
	// The slow one, when it reads at last, finds its subscription completed
	// (or the connection closed), not an endless stream.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		m, err := slow.next(5 * time.Second)
		if err != nil || m.Type == "complete" || m.Type == "error" {
			return
		}
	}
	t.Error("the slow subscriber's stream never ended")
}

// TestSubscriptionAuthenticatedOnTheUpgrade: a client that sends the
// Authorization header on the websocket upgrade, as on every request, and
// nothing in connection_init is connected as that token's principal; a bad
// header is refused with 401 before the upgrade.
func TestSubscriptionAuthenticatedOnTheUpgrade(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "H1", "name": "H", "department": "Operations", "joinedOn": "2020-01-01"}, "")

	// Manager B's scope comes from the header's token: department
	// Operations is refused, their own department accepted.
	c := e.dialWith(t, http.Header{"Authorization": {"Bearer " + e.token(t, managerB)}}, map[string]any{})
	if m, err := c.next(5 * time.Second); err != nil || m.Type != "connection_ack" {
		t.Fatalf("want connection_ack, got %+v %v", m, err)
	}
	c.subscribe("x", map[string]any{"department": "Operations"})
	m, err := c.next(5 * time.Second)
	if err != nil || !strings.Contains(string(m.Payload), "FORBIDDEN") {
		t.Fatalf("manager B following Operations: got %s %s %v, want FORBIDDEN", m.Type, m.Payload, err)
	}

	ws := e.dialWith(t, http.Header{"Authorization": {"Bearer " + adm}}, map[string]any{})
	if m, err := ws.next(5 * time.Second); err != nil || m.Type != "connection_ack" {
		t.Fatalf("want connection_ack, got %+v %v", m, err)
	}
	ws.subscribe("1", map[string]any{"personId": "H1"})
	waitSubscribers(t, e, 1)
	e.mutate(t, adm, &mEngagement, map[string]any{"personId": "H1", "field": "SERVICE_DESK", "title": "t", "role": "PARTICIPANT",
		"startedOn": "2025-01-01", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}}, "")
	e.mutate(t, adm, &mAssess, map[string]any{"personId": "H1", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2025-02-01"}, "")
	if got := ws.change("1"); got.PersonID != "H1" || got.To != 1 {
		t.Errorf("change %+v, want H1 to level 1", got)
	}

	for name, h := range map[string]string{"garbage": "Bearer nope", "wrong secret": "Bearer " + mintWith(t, "other-secret"), "not bearer": "Basic eDp5"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http"),
				&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Authorization": {h}}})
			if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				status := 0
				if resp != nil {
					status = resp.StatusCode
				}
				t.Fatalf("upgrade with %q: HTTP %d, err %v; want 401", h, status, err)
			}
		})
	}
}

// TestLevelChangedTypeAsTheContractWritesIt: levelChanged is
// `LevelChange` (nullable), as the API contract declares it, so clients
// generated from the contract's schema match the served one.
func TestLevelChangedTypeAsTheContractWritesIt(t *testing.T) {
	dev := newEnv(t, backends[0], options{dev: true})
	r := dev.gql(t, dev.token(t, admin), `{ __type(name: "Subscription") { fields { name type { kind name } } } }`, nil).ok(t)
	var got struct {
		Type struct {
			Fields []struct {
				Name string
				Type struct{ Kind, Name string }
			}
		} `json:"__type"`
	}
	if err := json.Unmarshal(r.Data, &got); err != nil {
		t.Fatal(err)
	}
	for _, f := range got.Type.Fields {
		if f.Name == "levelChanged" {
			if f.Type.Kind != "OBJECT" || f.Type.Name != "LevelChange" {
				t.Errorf("levelChanged is %s %s, want the nullable OBJECT LevelChange", f.Type.Kind, f.Type.Name)
			}
			return
		}
	}
	t.Errorf("no levelChanged among %+v", got.Type.Fields)
}

// TestMalformedVariableOverWebsocket: a variable that is no Int, sent over
// the websocket (which passes errors on as they are, not through the
// presenter), is bad input with its code, field and rule, as over HTTP.
func TestMalformedVariableOverWebsocket(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		c := e.connect(t, e.token(t, admin))
		c.send(wsMessage{ID: "q", Type: "subscribe", Payload: mustJSON(t, map[string]any{
			"query": `query($n: Int) { people(first: $n) { totalCount } }`, "variables": map[string]any{"n": 1.5}})})
		m, err := c.next(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var errs []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		}
		var body struct {
			Errors []struct {
				Message    string         `json:"message"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		switch m.Type {
		case "next":
			if err := json.Unmarshal(m.Payload, &body); err != nil {
				t.Fatal(err)
			}
			errs = body.Errors
		case "error":
			if err := json.Unmarshal(m.Payload, &errs); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("want the query's errors, got %s %s", m.Type, m.Payload)
		}
		if len(errs) != 1 || errs[0].Extensions["code"] != "BAD_USER_INPUT" || errs[0].Extensions["field"] != "n" ||
			!strings.HasPrefix(errs[0].Message, "n: ") || errs[0].Extensions["rule"] == nil {
			t.Errorf("over the websocket: %s %s; want BAD_USER_INPUT naming n with its rule", m.Type, m.Payload)
		}
	})
}

// levelOne records a participation and a common theme for id: level 1 in
// every field, three level changes.
func levelOne(t *testing.T, e *env, token, id string) {
	t.Helper()
	e.mutate(t, token, &mEngagement, map[string]any{"personId": id, "field": "SERVICE_DESK", "title": "t", "role": "PARTICIPANT",
		"startedOn": "2025-01-01", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}}, "")
	e.mutate(t, token, &mAssess, map[string]any{"personId": id, "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2025-02-01"}, "")
}

// ack waits for connection_ack.
func (c *wsClient) ack() *wsClient {
	c.t.Helper()
	if m, err := c.next(5 * time.Second); err != nil || m.Type != "connection_ack" {
		c.t.Fatalf("want connection_ack, got %+v %v", m, err)
	}
	return c
}

// TestSubscriptionEndsWhenItsTokenExpires: a websocket connection ends
// when the token it is authenticated by expires, whether the token came in
// connection_init or on the upgrade: it is closed with 4403 "token
// expired" within a second of the expiry (not at the next event), and a
// level change recorded afterwards reaches it no more. A connection whose
// token has not expired keeps receiving, as does one whose connection_init
// token outlives its upgrade's (the payload's token wins).
func TestSubscriptionEndsWhenItsTokenExpires(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "T1", "name": "Before Expiry", "department": "Operations", "joinedOn": "2020-01-01"}, "")

	// A JWT's exp is in whole seconds: the short token expires on the
	// second 2 to 3 s from now.
	now := time.Now()
	expiry := now.Truncate(time.Second).Add(3 * time.Second)
	short, err := e.tokens.Mint(hr, expiry.Sub(now), now)
	if err != nil {
		t.Fatal(err)
	}
	long := e.token(t, hr)
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	expiring := map[string]*wsClient{
		"token in connection_init": e.connect(t, short),
		"token on the upgrade":     e.dialWith(t, bearer(short), map[string]any{}).ack(),
	}
	lasting := map[string]*wsClient{
		"token in connection_init":                        e.connect(t, long),
		"lasting connection_init token, expiring upgrade": e.dialWith(t, bearer(short), map[string]any{"Authorization": "Bearer " + long}).ack(),
	}
	for _, c := range expiring {
		c.subscribe("1", nil)
	}
	for _, c := range lasting {
		c.subscribe("1", nil)
	}
	waitSubscribers(t, e, 4)

	receive := func(when, name string, c *wsClient, person string) {
		t.Helper()
		for range 3 {
			if got := c.change("1"); got.PersonID != person || got.To != 1 {
				t.Errorf("%s, %s: change %+v, want %s to level 1", when, name, got, person)
			}
		}
	}
	levelOne(t, e, adm, "T1")
	if !time.Now().Before(expiry) {
		t.Fatalf("the first changes were recorded after the token expired (at %s): too slow to test", expiry.Format(time.StampMilli))
	}
	for name, c := range expiring {
		receive("before expiry", name, c, "T1")
	}
	for name, c := range lasting {
		receive("before expiry", name, c, "T1")
	}

	// From now on each expiring connection is read as it goes, so that
	// its close is timed when it comes.
	type ending struct {
		got []wsMessage // what came after the first changes
		err error       // how reading ended
		at  time.Time   // and when
	}
	endings := map[string]chan ending{}
	for name, c := range expiring {
		ch := make(chan ending, 1)
		endings[name] = ch
		go func() {
			var r ending
			for {
				var m wsMessage
				if err := wsjson.Read(context.Background(), c.conn, &m); err != nil {
					r.err, r.at = err, time.Now()
					ch <- r
					return
				}
				r.got = append(r.got, m)
			}
		}()
	}

	// A second after the expiry, T2's changes reach only the lasting
	// connections.
	time.Sleep(time.Until(expiry.Add(time.Second)))
	e.mutate(t, adm, &mRegister, map[string]any{"id": "T2", "name": "After Expiry", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	levelOne(t, e, adm, "T2")
	for name, c := range lasting {
		receive("after expiry", name, c, "T2")
	}
	for name, c := range expiring {
		var r ending
		select {
		case r = <-endings[name]:
		case <-time.After(500 * time.Millisecond):
			c.conn.CloseNow()
			r = <-endings[name]
		}
		for _, m := range r.got {
			t.Errorf("%s: after the first changes, received %s %s", name, m.Type, m.Payload)
		}
		var ce websocket.CloseError
		switch {
		case !errors.As(r.err, &ce):
			t.Errorf("%s: %v; want the connection closed with 4403 at the expiry", name, r.err)
		case ce.Code != 4403 || ce.Reason != "token expired":
			t.Errorf("%s: closed with %d %q, want 4403 \"token expired\"", name, ce.Code, ce.Reason)
		case r.at.Before(expiry) || r.at.After(expiry.Add(time.Second)):
			t.Errorf("%s: closed at %s, want within a second of the expiry at %s", name, r.at.Format(time.StampMilli), expiry.Format(time.StampMilli))
		}
	}
}

// TestWebsocketsShutdown: Websockets.Shutdown ends every websocket
// connection with 1001 Going Away (one with a subscription, one without,
// one not yet initialised), returns once they have ended, and refuses a
// new upgrade with 503.
func TestWebsocketsShutdown(t *testing.T) {
	ws := graph.NewWebsockets()
	e := newEnv(t, backends[0], options{websockets: ws})
	adm := e.token(t, admin)
	subscribed := e.connect(t, adm)
	subscribed.subscribe("1", nil)
	idle := e.connect(t, adm)
	waitSubscribers(t, e, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(e.url, "http")
	opts := &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Authorization": {"Bearer " + adm}}}
	uninitialised, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer uninitialised.CloseNow()

	done := make(chan error, 1)
	go func() { done <- ws.Shutdown(ctx) }()
	closed := func(name string, err error) {
		t.Helper()
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "server shutting down" {
			t.Errorf("%s: %v; want the connection closed with 1001 \"server shutting down\"", name, err)
		}
	}
	for name, c := range map[string]*wsClient{"subscribed": subscribed, "idle": idle} {
		m, err := c.next(5 * time.Second)
		if err == nil {
			t.Errorf("%s: got %s %s, want the connection closed", name, m.Type, m.Payload)
			continue
		}
		closed(name, err)
	}
	readCtx, readCancel := context.WithTimeout(ctx, 5*time.Second)
	defer readCancel()
	_, _, err = uninitialised.Read(readCtx)
	closed("not initialised", err)

	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	_, resp, err := websocket.Dial(ctx, url, opts)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("an upgrade after Shutdown: HTTP %d, %v; want 503", status, err)
	}
	if body, _ := io.ReadAll(resp.Body); resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), `"UNAVAILABLE"`) {
		t.Errorf("an upgrade after Shutdown: Retry-After %q, body %s; want 1 and UNAVAILABLE", resp.Header.Get("Retry-After"), body)
	}
}

// TestWebsocketInitTimeout: a websocket that sends no connection_init in
// time is closed with graphql-transport-ws's 4408, whether or not its
// upgrade carried a token; one that sends it in time is not.
func TestWebsocketInitTimeout(t *testing.T) {
	e := newEnv(t, backends[0], options{limits: graph.Limits{WebsocketInit: 300 * time.Millisecond}})
	adm := e.token(t, admin)
	for name, header := range map[string]http.Header{"no token": nil, "token on the upgrade": {"Authorization": {"Bearer " + adm}}} {
		t.Run(name, func(t *testing.T) {
			c := e.dialSilent(t, header)
			start := time.Now()
			_, err := c.next(5 * time.Second)
			if code := websocket.CloseStatus(err); code != 4408 {
				t.Fatalf("closed with %v (%v), want 4408", code, err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("closed after %v, want about 300 ms", d)
			}
		})
	}
	t.Run("init in time", func(t *testing.T) { outlives(t, e, adm, 600*time.Millisecond, "W1") })
}

// outlives subscribes over a websocket, waits for d, registers id and
// lifts it to level 1, and checks that the subscription receives the change.
func outlives(t *testing.T, e *env, token string, d time.Duration, id string) {
	t.Helper()
	c := e.connect(t, token)
	c.subscribe("1", nil)
	time.Sleep(d)
	e.mutate(t, token, &mRegister, map[string]any{"id": id, "name": "W", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	levelOne(t, e, token, id)
	if got := c.change("1"); got.PersonID != id {
		t.Errorf("change %+v, want %s's", got, id)
	}
}

// TestSubscriptionsPerConnectionAreBounded: a websocket connection holds at
// most Limits.Subscriptions subscriptions at once (100 by default); one
// more is refused, SUBSCRIPTION_LIMIT_EXCEEDED, until one completes. Each
// holds a buffer of level changes and goroutines: 50,000 subscribe
// messages on one employee's connection held 1.3 GB of the server's memory.
// refusedAs waits for subscription id's refusal with
// SUBSCRIPTION_LIMIT_EXCEEDED and returns its message.
func refusedAs(t *testing.T, c *wsClient, id string) string {
	t.Helper()
	m, err := c.next(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Data   json.RawMessage
		Errors []gqlError
	}
	if m.Type == "error" {
		err = json.Unmarshal(m.Payload, &p.Errors)
	} else {
		err = json.Unmarshal(m.Payload, &p)
	}
	if err != nil || m.ID != id || len(p.Errors) != 1 || p.Errors[0].code() != "SUBSCRIPTION_LIMIT_EXCEEDED" ||
		(len(p.Data) > 0 && string(p.Data) != "null") {
		t.Fatalf("subscription %s: got %s %s %s, want SUBSCRIPTION_LIMIT_EXCEEDED", id, m.Type, m.ID, m.Payload)
	}
	if m.Type == "next" {
		if m, err := c.next(5 * time.Second); err != nil || m.Type != "complete" || m.ID != id {
			t.Fatalf("after the refusal of %s: %s %s %v, want it complete", id, m.Type, m.ID, err)
		}
	}
	return p.Errors[0].Message
}

// waitSubscribersExactly waits until the level-change broadcaster has
// exactly n subscribers.
func waitSubscribersExactly(t *testing.T, e *env, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.Changes.Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers, want %d", e.Changes.Subscribers(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSubscriptionsPerConnectionAreBounded(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		e := newEnv(t, backends[0], options{})
		c := e.connect(t, e.token(t, employee("B1")))
		for i := range 100 {
			c.subscribe(fmt.Sprint(i), nil)
		}
		waitSubscribersExactly(t, e, 100)
		c.subscribe("100", nil)
		refusedAs(t, c, "100")
		if n := e.Changes.Subscribers(); n != 100 {
			t.Errorf("%d subscribers after the refusal, want 100", n)
		}
	})

	t.Run("configured", func(t *testing.T) {
		ws := graph.NewWebsockets()
		e := newEnv(t, backends[0], options{websockets: ws, limits: graph.Limits{Subscriptions: 2}})
		tok := e.token(t, employee("B1"))
		c := e.connect(t, tok)
		c.subscribe("1", nil)
		c.subscribe("2", nil)
		waitSubscribersExactly(t, e, 2)
		c.subscribe("3", nil)
		refusedAs(t, c, "3")
		// Another connection holds its own.
		other := e.connect(t, tok)
		other.subscribe("1", nil)
		waitSubscribersExactly(t, e, 3)
		// A completed subscription makes room for another.
		c.send(wsMessage{ID: "1", Type: "complete"})
		if m, err := c.next(5 * time.Second); err != nil || m.Type != "complete" || m.ID != "1" {
			t.Fatalf("after completing 1: %s %s %v", m.Type, m.ID, err)
		}
		waitSubscribersExactly(t, e, 2)
		// The connection uncounts it when its goroutine ends, which may
		// come after the broadcaster's count drops.
		waitCounted(t, ws, 2, "after completing 1")
		c.subscribe("4", nil)
		waitSubscribersExactly(t, e, 3)
		c.subscribe("5", nil)
		refusedAs(t, c, "5")
	})
}

// TestSubscriptionsPerCallerAreBounded: one caller (a token's subject)
// holds at most Limits.SubscriptionsPerCaller subscriptions across all its
// websocket connections; one more, on any of them, is refused with
// SUBSCRIPTION_LIMIT_EXCEEDED naming the limit, and the connection's other
// subscriptions carry on. Another subject has a count of its own, and a
// closed connection's subscriptions free their slots.
func TestSubscriptionsPerCallerAreBounded(t *testing.T) {
	ws := graph.NewWebsockets()
	e := newEnv(t, backends[0], options{websockets: ws, limits: graph.Limits{SubscriptionsPerCaller: 3}})
	adm, hrTok := e.token(t, admin), e.token(t, hr)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "L1", "name": "Limit One", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	namesTheLimit := func(t *testing.T, msg string) {
		t.Helper()
		if !strings.Contains(msg, "at most 3 subscriptions") || !strings.Contains(msg, "caller") {
			t.Errorf("refusal %q does not name the per-caller limit of 3", msg)
		}
	}

	// Over the limit across two connections.
	a1, a2 := e.connect(t, adm), e.connect(t, adm)
	a1.subscribe("1", nil)
	a1.subscribe("2", nil)
	a2.subscribe("1", nil)
	waitSubscribersExactly(t, e, 3)
	a2.subscribe("2", nil)
	namesTheLimit(t, refusedAs(t, a2, "2"))
	a1.subscribe("3", nil)
	namesTheLimit(t, refusedAs(t, a1, "3"))

	// Another subject counts its own.
	h := e.connect(t, hrTok)
	for _, id := range []string{"1", "2", "3"} {
		h.subscribe(id, nil)
	}
	waitSubscribersExactly(t, e, 6)
	h.subscribe("4", nil)
	namesTheLimit(t, refusedAs(t, h, "4"))

	// Closed connections free their slots.
	for _, c := range []*wsClient{a1, a2} {
		if err := c.conn.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Fatal(err)
		}
	}
	waitSubscribersExactly(t, e, 3)
	waitCounted(t, ws, 3, "after closing the admin's connections (hr's)")
	a3 := e.connect(t, adm)
	for _, id := range []string{"1", "2", "3"} {
		a3.subscribe(id, nil)
	}
	waitSubscribersExactly(t, e, 6)
	a3.subscribe("4", nil)
	namesTheLimit(t, refusedAs(t, a3, "4"))

	// The refused connection's subscriptions still deliver.
	levelOne(t, e, adm, "L1")
	m, err := a3.next(10 * time.Second)
	if err != nil || m.Type != "next" || (m.ID != "1" && m.ID != "2" && m.ID != "3") {
		t.Fatalf("after the refusal: %s %s %s %v, want a level change", m.Type, m.ID, m.Payload, err)
	}
	var p struct {
		Data struct {
			LevelChanged change `json:"levelChanged"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 || p.Data.LevelChanged.PersonID != "L1" {
		t.Fatalf("after the refusal: payload %s %v, want L1's level change", m.Payload, err)
	}
}

// TestWebsocketMessageNotUTF8: a mutation sent over a websocket in another
// encoding than UTF-8 is refused, as a POST body in one is: the connection
// closes with 1007 and nothing is recorded. Decoded, each such byte became
// U+FFFD, and the name was recorded as replacement characters for good.
func TestWebsocketMessageNotUTF8(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	before := e.head(t)
	c := e.connect(t, adm)
	sjis := "\x89\xc1\x93\xa1" // 加藤 in Shift_JIS
	msg := `{"id":"m","type":"subscribe","payload":{"query":"mutation($n: String!) { registerPerson(input: {id: \"W1\", name: $n, department: \"Operations\", joinedOn: \"2020-01-01\"}) { position } }","variables":{"n":"` + sjis + `"}}}`
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	m, err := c.next(5 * time.Second)
	if websocket.CloseStatus(err) != 1007 {
		t.Errorf("a message in Shift_JIS: got %s %s, %v; want the connection closed with 1007", m.Type, m.Payload, err)
	}
	if got := e.head(t); got != before {
		t.Errorf("the log moved from %d to %d", before, got)
	}
	if r := e.gql(t, adm, `{ person(id: "W1") { name } }`, nil); len(r.Errors) == 0 || r.Errors[0].code() != "NOT_FOUND" {
		t.Errorf("W1 registered: %s", r.Raw)
	}
}

// TestASubscriptionOverPOSTIsRefused: a subscription is served over a
// websocket only, where its connection and its caller hold a bounded
// number. Sent as a POST it is refused at once, 400 BAD_REQUEST, holding
// nothing: before, it was counted by neither bound and no request deadline
// ended it, so one caller's POSTs each held a connection, a subscriber and
// its goroutines until a level change came, however many they sent.
func TestASubscriptionOverPOSTIsRefused(t *testing.T) {
	ws := graph.NewWebsockets()
	e := newEnv(t, backends[0], options{websockets: ws, limits: graph.Limits{Subscriptions: 1, SubscriptionsPerCaller: 1}})
	client := &http.Client{Timeout: 5 * time.Second}
	for range 3 {
		r := e.post(t, client, e.token(t, admin), map[string]any{"query": "subscription { levelChanged { personId } }"})
		if r.Status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].code() != "BAD_REQUEST" ||
			!strings.Contains(r.Errors[0].Message, "over a websocket only") {
			t.Fatalf("a subscription over POST: status %d, %s; want 400 BAD_REQUEST, served over a websocket only", r.Status, r.Raw)
		}
	}
	if n := e.Changes.Subscribers(); n != 0 {
		t.Errorf("%d subscribers after subscriptions over POST were refused, want 0", n)
	}
}

// waitCounted waits up to 5 s for ws to count n subscriptions: a
// connection uncounts one when its goroutine ends, which may come after
// the broadcaster's count drops.
func waitCounted(t *testing.T, ws *graph.Websockets, n int, when string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ws.Subscriptions() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions counted %s, want %d", ws.Subscriptions(), when, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWebsocketMessageThatRepeatsAKey: a mutation sent over a websocket
// whose variables give personId twice was recorded for the last one, as a
// POST body's was; the connection closes with 4400 naming the key, and
// nothing is recorded.
func TestWebsocketMessageThatRepeatsAKey(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.importLines(t, adm,
		`{"op":"registerPerson","input":{"id":"W1","name":"Web One","department":"Operations","joinedOn":"2015-04-01"}}`,
		`{"op":"registerPerson","input":{"id":"W2","name":"Web Two","department":"Operations","joinedOn":"2015-04-01"}}`)
	before := e.head(t)
	c := e.connect(t, adm)
	msg := `{"id":"m","type":"subscribe","payload":{"query":"mutation($i: AssessThemeInput!) { assessTheme(input: $i) { position } }",` +
		`"variables":{"i":{"personId":"W1","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2016-02-01","personId":"W2"}}}}`
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	m, err := c.next(5 * time.Second)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4400 || !strings.Contains(ce.Reason, `"personId"`) {
		t.Errorf("a message giving personId twice: got %s %s, %v; want the connection closed with 4400 naming personId", m.Type, m.Payload, err)
	}
	if got := e.head(t); got != before {
		t.Errorf("the log moved from %d to %d", before, got)
	}
}
