package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// TestOperationNamesAreBounded: clients name their operations, so the
// operation label takes at most maxOperationNames names (each cut to
// maxOperationNameLength bytes); later names are counted as "other".
func TestOperationNamesAreBounded(t *testing.T) {
	m := newMetrics()
	for i := range maxOperationNames + 50 {
		m.operation(fmt.Sprintf("Op%d", i), "query", time.Millisecond, false)
	}
	m.operation("Op0", "query", time.Millisecond, false) // known: its own series
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, f := range fams {
		if f.GetName() != "careerledger_graphql_operation_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "operation" {
					counts[l.GetValue()] += s.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	if len(counts) != maxOperationNames+1 || counts["other"] != 50 || counts["Op0"] != 2 {
		t.Errorf("%d operation names (other: %d, Op0: %d), want %d (other: 50, Op0: 2)", len(counts), counts["other"], counts["Op0"], maxOperationNames+1)
	}

	long := newMetrics()
	long.operation(strings.Repeat("L", 300), "query", time.Millisecond, false)
	if !long.opNames[strings.Repeat("L", maxOperationNameLength)] || len(long.opNames) != 1 {
		t.Errorf("a long name is kept as %v, want cut to %d bytes", long.opNames, maxOperationNameLength)
	}
	// What is not a GraphQL name (it may come from elsewhere than a
	// document) is "invalid", never a label Prometheus refuses.
	odd := newMetrics()
	for _, name := range []string{strings.Repeat("a", 63) + "é", "\xff", "1abc", "a b"} {
		odd.operation(name, "query", time.Millisecond, false)
	}
	if len(odd.opNames) != 1 || !odd.opNames["invalid"] {
		t.Errorf("names kept: %v, want only invalid", odd.opNames)
	}
}

// TestOperationsAreNamedByTheirDocument: the operation label is the name
// of the operation that ran, not the request's operationName, which names
// anything when it matches nothing.
func TestOperationsAreNamedByTheirDocument(t *testing.T) {
	m := start(t, baseConfig(t))
	for _, op := range []string{"Real", "Junk"} {
		body := `{"query":"query Real { catalogue { id } }","operationName":"` + op + `"}`
		req, _ := http.NewRequest("POST", "http://"+m.Addr()+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+m.DevToken())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body) //nolint:errcheck // only the metrics matter
		res.Body.Close()
	}
	_, metrics := get(t, "http://"+m.Addr()+"/metrics")
	for _, want := range []string{`operation="Real",outcome="ok"`, `operation="invalid",outcome="error"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics: missing %s", want)
		}
	}
	if strings.Contains(metrics, `operation="Junk"`) {
		t.Error("/metrics labels an operation by a name that matched nothing")
	}
}

// TestMutationsRefusedBeforeTheyRunAreCounted: a mutation refused before
// any resolver ran (gqlgen's validation, the coercion of its variables, a
// body that gives a key twice, a GET, a websocket message) is counted in
// careerledger_commands_total as refused, once per mutation field, as
// the same bad input on an import line is; before, only the fields that
// ran were counted. A query, a subscription, a document that does not
// parse or picks no operation counts nothing, and a field the schema's
// Mutation does not have is never a label.
func TestMutationsRefusedBeforeTheyRunAreCounted(t *testing.T) {
	m := start(t, baseConfig(t))
	addr, token := m.Addr(), m.DevToken()
	postBody := func(t *testing.T, body string, status int) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+addr+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode != status || !strings.Contains(string(out), `"errors"`) {
			t.Fatalf("%s: %d %s, want %d and errors", body, res.StatusCode, out, status)
		}
	}
	postQuery := func(query string, vars map[string]any, status int) func(*testing.T) {
		return func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
			postBody(t, string(body), status)
		}
	}
	const ok, protocol = http.StatusOK, http.StatusUnprocessableEntity // as gqlgen answers them under application/json
	// getRefused sends a GET that careerd refuses as a mutation (406).
	getRefused := func(t *testing.T, q url.Values) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/graphql?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotAcceptable {
			t.Fatalf("GET %s: %d, want 406", q.Encode(), res.StatusCode)
		}
	}
	wsMessage := func(msg string, wantClose websocket.StatusCode) func(*testing.T) {
		return func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := openSession(ctx, t, m, token)
			defer c.CloseNow() //nolint:errcheck // done with it
			if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			var reply struct{ Type string }
			err := wsjson.Read(ctx, c, &reply)
			if wantClose != 0 {
				if websocket.CloseStatus(err) != wantClose {
					t.Fatalf("%s: got %+v, %v; want a close with %d", msg, reply, err, wantClose)
				}
			} else if err != nil || reply.Type != "error" {
				t.Fatalf("%s: got %+v, %v; want an error message", msg, reply, err)
			}
		}
	}
	cases := []struct {
		name string
		send func(*testing.T)
		want map[string]int // refused commands by name
	}{
		{"a wrong enum value in the document", postQuery(
			`mutation { assessTheme(input: {personId: "E1", theme: NOT_A_THEME, proficiency: BASIC, assessedOn: "2024-01-01"}) { position } }`, nil, protocol),
			map[string]int{"assessTheme": 1}},
		{"a wrong enum value in a variable", postQuery(`mutation($i: AssessThemeInput!) { assessTheme(input: $i) { position } }`,
			map[string]any{"i": map[string]any{"personId": "E1", "theme": "STRESS_MANAGEMENT", "proficiency": "NOT_A_LEVEL", "assessedOn": "2024-01-01"}}, ok),
			map[string]int{"assessTheme": 1}},
		{"a required field missing in the document", postQuery(
			`mutation { transferPerson(input: {personId: "E1", effectiveOn: "2024-01-01"}) { position } }`, nil, protocol),
			map[string]int{"transferPerson": 1}},
		{"a required field missing in a variable", postQuery(registerMutation,
			map[string]any{"in": map[string]any{"id": "E1", "department": "Operations", "joinedOn": "2024-01-01"}}, ok),
			map[string]int{"registerPerson": 1}},
		{"a variable's value of the wrong type", postQuery(`mutation($i: RecordDepartureInput!) { recordDeparture(input: $i) { position } }`,
			map[string]any{"i": map[string]any{"personId": "E1", "effectiveOn": "2024-01-01", "idempotencyKey": 5}}, ok),
			map[string]int{"recordDeparture": 1}},
		{"a variable declared of the wrong type", postQuery(`mutation($i: String!) { recordDeparture(input: $i) { position } }`,
			map[string]any{"i": "E1"}, protocol),
			map[string]int{"recordDeparture": 1}},
		{"a body that gives a key twice", func(t *testing.T) {
			postBody(t, `{"query":"mutation($i: RetractAccomplishmentInput!) { retractAccomplishment(input: $i) { position } }",`+
				`"variables":{"i":{"accomplishmentId":"A1","reason":"wrong","reason":"right"}}}`, http.StatusBadRequest)
		}, map[string]int{"retractAccomplishment": 1}},
		{"a body that gives a key twice for a persisted mutation", func(t *testing.T) {
			const doc = `mutation($i: RetractAccomplishmentInput!) { retractAccomplishment(input: $i) { position } }`
			ext := fmt.Sprintf(`{"persistedQuery":{"version":1,"sha256Hash":"%x"}}`, sha256.Sum256([]byte(doc)))
			body, _ := json.Marshal(map[string]any{"query": doc, "extensions": json.RawMessage(ext)})
			postBody(t, string(body), ok) // kept, refused: its variable is missing
			before := commandCounts(t, addr)
			postBody(t, `{"extensions":`+ext+`,"variables":{"i":{"accomplishmentId":"A1","reason":"wrong","reason":"right"}}}`, http.StatusBadRequest)
			after := commandCounts(t, addr)
			const key = `command="retractAccomplishment",result="refused"`
			if d := after[key] - before[key]; d != 1 {
				t.Errorf("a persisted mutation whose body gives a key twice counted %d times as refused, want once", d)
			}
		}, map[string]int{"retractAccomplishment": 2}},
		{"two mutation fields", postQuery(`mutation {
			recordTechnologySuccession(input: {personId: "E1"}) { position }
			recordSubordinateDevelopment(input: {personId: "E1", kind: NOT_A_KIND, occurredOn: "2024-01-01"}) { position } }`, nil, protocol),
			map[string]int{"recordTechnologySuccession": 1, "recordSubordinateDevelopment": 1}},
		{"one mutation under two aliases", postQuery(`mutation {
			a: amendAccomplishment(input: {}) { position }
			b: amendAccomplishment(input: {}) { position } }`, nil, protocol),
			map[string]int{"amendAccomplishment": 2}},
		{"mutation fields left out by @skip or @include", postQuery(`mutation($s: Boolean!) {
			recordDeparture(input: {personId: "E1", effectiveOn: "2024-01-01"}) @skip(if: $s) { position }
			... on Mutation @include(if: false) { recordEngagement(input: {}) { position } }
			transferPerson(input: {personId: "E1", effectiveOn: "2024-01-01"}) { position } }`, map[string]any{"s": true}, protocol),
			map[string]int{"transferPerson": 1}},
		{"a mutation in a fragment", postQuery(`mutation { ...F } fragment F on Mutation { registerPerson(input: {name: 1}) { position } }`, nil, protocol),
			map[string]int{"registerPerson": 1}},
		{"a mutation the schema does not have", postQuery(`mutation { launchRockets(count: 3) { position } }`, nil, protocol), nil},
		{"one the schema does not have next to one it has", postQuery(
			`mutation { launchRockets { position } recordEngagement(input: {}) { position } }`, nil, protocol),
			map[string]int{"recordEngagement": 1}},
		{"a query that is not valid", postQuery(`query mutationLike { catalogue { nope } registerPerson(input: {}) { position } }`, nil, protocol), nil},
		{"a subscription that is not valid", postQuery(`subscription mutationLike { levelChanged(nope: 1) { personId } registerPerson { position } }`, nil, protocol), nil},
		{"a document that does not parse", postQuery(`mutation { registerPerson(input: {`, nil, protocol), nil},
		{"no operation to pick", postQuery(`mutation A { registerPerson(input: {}) { position } } mutation B { transferPerson(input: {}) { position } }`, nil, protocol), nil},
		{"a mutation sent with GET", func(t *testing.T) {
			getRefused(t, url.Values{"query": {`mutation { registerPerson(input: {name: "N", department: "Operations", joinedOn: "2024-01-01"}) { position } }`}})
		}, map[string]int{"registerPerson": 1}},
		{"a persisted mutation sent with GET", func(t *testing.T) {
			// The document known by its hash alone: sent once with a
			// variable missing (refused, so nothing is recorded, and kept).
			sum := sha256.Sum256([]byte(registerMutation))
			ext := fmt.Sprintf(`{"persistedQuery":{"version":1,"sha256Hash":"%x"}}`, sum)
			body, _ := json.Marshal(map[string]any{"query": registerMutation, "extensions": json.RawMessage(ext)})
			postBody(t, string(body), ok)
			before := commandCounts(t, addr)
			getRefused(t, url.Values{"extensions": {ext}, "variables": {`{"in":{"name":"N","department":"Operations","joinedOn":"2024-01-01"}}`}})
			after := commandCounts(t, addr)
			if d := after[`command="registerPerson",result="refused"`] - before[`command="registerPerson",result="refused"`]; d != 1 {
				t.Errorf("a persisted mutation sent with GET counted %d times as refused, want once", d)
			}
		}, map[string]int{"registerPerson": 2}},
		{"a websocket mutation that is not valid", wsMessage(`{"id":"m","type":"subscribe","payload":{"query":"mutation { retractAccomplishment(input: {reason: \"x\"}) { position } }"}}`, 0),
			map[string]int{"retractAccomplishment": 1}},
		{"a websocket message that gives a key twice", wsMessage(`{"id":"m","type":"subscribe","payload":{"query":"mutation($i: AssessThemeInput!) { assessTheme(input: $i) { position } }",`+
			`"variables":{"i":{"personId":"E1","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2024-01-01","personId":"E2"}}}}`, 4400),
			map[string]int{"assessTheme": 1}},
		{"a message that gives a key twice on a websocket that has not said who it is", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws://"+addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow() //nolint:errcheck // done with it
			msg := `{"id":"m","type":"subscribe","payload":{"query":"mutation { registerPerson(input: {name: \"N\", name: \"M\"}) { position } }"},"id":"n"}`
			if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != 4400 {
				t.Fatalf("got %v, want a close with 4400", err)
			}
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := commandCounts(t, addr)
			c.send(t)
			after := commandCounts(t, addr)
			want := map[string]int{}
			for command, n := range c.want {
				want[`command="`+command+`",result="refused"`] = n
			}
			got := map[string]int{}
			for labels, n := range after {
				if d := n - before[labels]; d != 0 {
					got[labels] = d
				}
			}
			if !maps.Equal(got, want) {
				t.Errorf("counted %v, want %v", got, want)
			}
		})
	}
}

// commandCounts returns careerd's careerledger_commands_total samples by
// their labels (`command="registerPerson",result="refused"`).
func commandCounts(t *testing.T, addr string) map[string]int {
	t.Helper()
	_, body := get(t, "http://"+addr+"/metrics")
	counts := map[string]int{}
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, "careerledger_commands_total{"); ok {
			labels, value, _ := strings.Cut(strings.TrimSpace(rest), "} ")
			n, err := strconv.Atoi(value)
			if err != nil {
				t.Fatalf("/metrics: %s", line)
			}
			counts[labels] = n
		}
	}
	return counts
}
