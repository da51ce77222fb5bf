package graph_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestTheChecksBeforeAMutationTakeValidAnswers: the checks made before a mutation
// runs refuse nothing its fields take: a first that is a null variable, an
// after of null, a variable's default, a @skip whose variable's default
// leaves a field out.
func TestTheChecksBeforeAMutationTakeValidAnswers(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	for _, c := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"first a null variable", `mutation($n: Int) { registerPerson(input: {id: "P1", name: "Pia", department: "Operations", joinedOn: "2020-01-01"}) {
			person { accomplishments(first: $n) { totalCount } } } }`, map[string]any{"n": nil}},
		{"after null", `mutation { registerPerson(input: {id: "P2", name: "Pia", department: "Operations", joinedOn: "2020-01-01"}) {
			person { accomplishments(first: 5, after: null) { totalCount } } } }`, nil},
		{"first a variable's default", `mutation($n: Int = 5) { registerPerson(input: {id: "P3", name: "Pia", department: "Operations", joinedOn: "2020-01-01"}) {
			person { accomplishments(first: $n) { totalCount } } } }`, nil},
		{"skip by a variable's default", `mutation($s: Boolean = true) { registerPerson(input: {id: "P4", name: "Pia", department: "Operations", joinedOn: "2020-01-01"}) {
			person { id accomplishments(first: 500) @skip(if: $s) { totalCount } } } }`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.gql(t, adm, c.query, c.vars).ok(t)
		})
	}
}

// TestImportedAmendmentsTakeListsAndEnumsAsGraphQL: amendAccomplishment's
// lists and enums are Omittable: /v1/import takes one value for its list as
// a list of one and words its enum refusals as GraphQL does, as it does
// recordEngagement's.
func TestImportedAmendmentsTakeListsAndEnumsAsGraphQL(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "V1", "name": "Val", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	line, _ := json.Marshal(map[string]any{"op": "recordEngagement", "input": engagementInput(nil)})
	_, res := e.importLines(t, adm, string(line))
	if len(res) != 1 || !res[0].OK {
		t.Fatalf("recordEngagement: %+v", res)
	}
	id := res[0].AccomplishmentID

	one := map[string]any{"accomplishmentId": id, "complexity": "CONTRACT"}
	e.gql(t, adm, mAmend, map[string]any{"in": one}).ok(t) // GraphQL takes it
	// Another value: the same one would change nothing, and be refused so.
	line, _ = json.Marshal(map[string]any{"op": "amendAccomplishment", "input": map[string]any{"accomplishmentId": id, "complexity": "ORGANIZATION"}})
	if _, res = e.importLines(t, adm, string(line)); len(res) != 1 || !res[0].OK {
		t.Errorf("amendAccomplishment with one complexity criterion for the list: %+v", res)
	}

	bad := map[string]any{"accomplishmentId": id, "role": "lead"}
	r := e.gql(t, adm, mAmend, map[string]any{"in": bad})
	if len(r.Errors) != 1 {
		t.Fatalf("role lead through GraphQL: %+v", r.Errors)
	}
	line, _ = json.Marshal(map[string]any{"op": "amendAccomplishment", "input": bad})
	_, res = e.importLines(t, adm, string(line))
	if len(res) != 1 || res[0].Rule != r.Errors[0].rule() || strings.Contains(res[0].Rule, "Omittable") {
		t.Errorf("amend role lead: /v1/import's rule %q, GraphQL's %q", res[0].Rule, r.Errors[0].rule())
	}
}
