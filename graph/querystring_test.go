package graph_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAQueryStringThatIsNotUTF8IsRefused: a GET whose query string holds
// bytes that are not UTF-8 once percent-decoded (in the query, or in a
// variable's value) is refused as a POST body that is not UTF-8 is: 400
// BAD_REQUEST saying so. Before, the bytes reached the resolvers as U+FFFD
// (a department "Op\ufffd" found no one). Its token is checked first.
func TestAQueryStringThatIsNotUTF8IsRefused(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.gql(t, adm, mRegister, map[string]any{"in": map[string]any{"id": "G1", "name": "Gil", "department": "Operations", "joinedOn": "2020-01-01"}}).ok(t)
	const count = `query($d: String) { people(department: $d) { totalCount } }`
	get := func(t *testing.T, token, rawQuery string) response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.url+"?"+rawQuery, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return e.do(t, http.DefaultClient, req)
	}
	q := "query=" + url.QueryEscape(count)
	if r := get(t, adm, q+"&variables="+url.QueryEscape(`{"d":"Operations"}`)).ok(t); !strings.Contains(string(r.Data), `"totalCount":1`) {
		t.Fatalf("a GET in UTF-8: %s", r.Raw)
	}
	for name, raw := range map[string]string{
		"a variable's value": q + "&variables=" + url.QueryEscape(`{"d":"Operations`) + "%FF" + url.QueryEscape(`"}`),
		"the query":          "query=" + url.QueryEscape(`{ person(id: "G`) + "%C3%28" + url.QueryEscape(`") { name } }`),
		"the operation name": q + "&operationName=%80",
		"a name":             q + "&x%FE=1",
	} {
		t.Run(name, func(t *testing.T) {
			r := get(t, adm, raw)
			if r.Status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].code() != "BAD_REQUEST" || !strings.Contains(r.Errors[0].Message, "not UTF-8") || (len(r.Data) > 0 && string(r.Data) != "null") {
				t.Errorf("HTTP %d %s", r.Status, r.Raw)
			}
			if r := get(t, "", raw); r.Status != http.StatusUnauthorized {
				t.Errorf("without a token: HTTP %d %s", r.Status, r.Raw)
			}
		})
	}
}

// TestAGETsRefusalsCarryACode: every refusal of a GET /graphql's query
// string carries extensions.code BAD_REQUEST, as a POST's do: a malformed
// percent escape, variables or extensions that are not a JSON object, and
// a mutation (406, nothing recorded). Before, transport.GET wrote these
// with a message alone.
func TestAGETsRefusalsCarryACode(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	get := func(t *testing.T, rawQuery string) response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.url+"?"+rawQuery, nil)
		req.Header.Set("Authorization", "Bearer "+adm)
		return e.do(t, http.DefaultClient, req)
	}
	const count = `{ people { totalCount } }`
	q := "query=" + url.QueryEscape(count)
	register := `mutation { registerPerson(input: {id: "G1", name: "Gil", department: "Operations", joinedOn: "2020-01-01"}) { person { id } } }`
	for _, c := range []struct {
		name, raw string
		status    int
		says      string
	}{
		{"a malformed escape", q + "&variables=%ZZ", http.StatusBadRequest, `invalid URL escape "%ZZ"`},
		{"variables that are not JSON", q + "&variables=notjson", http.StatusBadRequest, "variables could not be decoded"},
		{"variables that are an array", q + "&variables=" + url.QueryEscape(`[1]`), http.StatusBadRequest, "variables could not be decoded"},
		{"extensions that are not JSON", q + "&extensions=notjson", http.StatusBadRequest, "extensions could not be decoded"},
		{"a mutation", "query=" + url.QueryEscape(register), http.StatusNotAcceptable, "only allow query operations"},
		// Told where a subscription is served: "send it with POST" sent it
		// to a refusal of its own (TestASubscriptionOverPOSTIsRefused).
		{"a subscription", "query=" + url.QueryEscape(`subscription { levelChanged { personId } }`), http.StatusNotAcceptable, "over a websocket only"},
		{"a subscription named among queries", "operationName=S&query=" + url.QueryEscape(`query Q { people { totalCount } } subscription S { levelChanged { personId } }`),
			http.StatusNotAcceptable, "over a websocket only"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := get(t, c.raw)
			if r.Status != c.status || len(r.Errors) != 1 || r.Errors[0].code() != "BAD_REQUEST" || !strings.Contains(r.Errors[0].Message, c.says) || (len(r.Data) > 0 && string(r.Data) != "null") {
				t.Errorf("HTTP %d %s", r.Status, r.Raw)
			}
		})
	}
	if r := get(t, q).ok(t); !strings.Contains(string(r.Data), `"totalCount":0`) {
		t.Fatalf("a GET query after the refusals (the mutation recorded nothing): %s", r.Raw)
	}
}
