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
