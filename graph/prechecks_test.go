package graph_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestAMutationsIntArgumentsAreReadBeforeItRuns: an Int beyond 32 bits (a
// literal, or a variable gqlparser reads in 64 bits) in a mutation's answer
// or in a later mutation's input is refused before anything runs, as a
// malformed Date, DateTime or Yen is: model.UnmarshalInt reads it when the
// field runs, after the mutation before it was recorded.
func TestAMutationsIntArgumentsAreReadBeforeItRuns(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "V1", "name": "Val", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	n := 0
	register := func() string {
		n++
		return fmt.Sprintf(`registerPerson(input: {id: "I%d", name: "Ida", department: "Operations", joinedOn: "2020-01-01"})`, n)
	}
	for _, c := range []struct {
		name, query string
		vars        map[string]any
		field       string
	}{
		{"a literal in the answer", `mutation { ` + register() + ` { person { accomplishments(first: 3000000000) { totalCount } } } }`, nil, "first"},
		{"a variable in the answer", `mutation($n: Int) { ` + register() + ` { person { accomplishments(first: $n) { totalCount } } } }`,
			map[string]any{"n": int64(1) << 40}, "first"},
		{"a later mutation's input", `mutation($in: RecordEngagementInput!) { a: ` + register() + ` { person { id } }
			b: recordEngagement(input: $in) { accomplishmentId } }`,
			map[string]any{"in": engagementInput(map[string]any{"peakHeadcount": int64(1) << 40})}, "peakHeadcount"},
	} {
		t.Run(c.name, func(t *testing.T) {
			head := e.head(t)
			r := e.gql(t, adm, c.query, c.vars)
			if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != c.field {
				t.Errorf("errors %+v; want one BAD_USER_INPUT naming %s", r.Errors, c.field)
			}
			if h := e.head(t); h != head {
				t.Errorf("the log's head moved from %d to %d: the refused request recorded something", head, h)
			}
		})
	}
}

// TestAMutationsAnswerRefusedByItsResolverRecordsNothing: an answer's
// argument its resolver refuses (a cursor this API never returned, a first
// beyond 100) refuses the mutation's request as a malformed Date does, and
// the mutation is not recorded under a refusal its client reads as failure.
func TestAMutationsAnswerRefusedByItsResolverRecordsNothing(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	for i, arg := range []string{`after: "garbage"`, `first: 500`} {
		t.Run(arg, func(t *testing.T) {
			head := e.head(t)
			r := e.gql(t, adm, fmt.Sprintf(`mutation { registerPerson(input: {id: "R%d", name: "Rin", department: "Operations", joinedOn: "2020-01-01"}) {
				person { accomplishments(%s) { totalCount } } } }`, i, arg), nil)
			if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" {
				t.Errorf("errors %+v; want one BAD_USER_INPUT", r.Errors)
			}
			if h := e.head(t); h != head {
				t.Errorf("the log's head moved from %d to %d: a request answered with only a refusal recorded a person", head, h)
			}
		})
	}
}

// TestASkippedFieldsArgumentsRefuseNothing: a field @skip or @include
// leaves out never runs, so gqlgen never reads its arguments (a query
// with a malformed date there is answered); the checks made before
// anything runs must leave it out too, for a future knownAt and for a
// mutation's malformed Date.
func TestASkippedFieldsArgumentsRefuseNothing(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "V1", "name": "Val", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	// What gqlgen does with a skipped field's argument: nothing.
	e.gql(t, adm, `{ person(id: "V1") { id standing(asOf: "2024-13-01") @skip(if: true) { level } } }`, nil).ok(t)
	for _, c := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"a future knownAt @skip", `{ person(id: "V1") { id standing(knownAt: "2099-01-01T00:00:00Z") @skip(if: true) { level } } }`, nil},
		{"a future knownAt in a fragment @include(if: false)", `query($h: Boolean!) { person(id: "V1") { id
			... @include(if: $h) { standing(knownAt: "2099-01-01T00:00:00Z") { level } } } }`, map[string]any{"h": false}},
		{"a mutation's malformed date @include(if: false)", `mutation($d: Date, $w: Boolean!) {
			registerPerson(input: {id: "S1", name: "Sae", department: "Operations", joinedOn: "2020-01-01"}) {
			person { id standing(asOf: $d) @include(if: $w) { level } } } }`, map[string]any{"d": "2024-13-01", "w": false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.gql(t, adm, c.query, c.vars).ok(t)
		})
	}
}

// TestImportEnumRefusalsAreWordedAsGraphQLs: a /v1/import line's enum value
// that is not one of its enum's is refused in the words GraphQL refuses the
// same variable with (api-choices: "a /v1/import line's likewise"): the
// value as given, " (enum values are upper case)" for one in the wrong case.
func TestImportEnumRefusalsAreWordedAsGraphQLs(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "V1", "name": "Val", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	for _, role := range []any{"lead", 5} {
		in := engagementInput(map[string]any{"role": role})
		r := e.gql(t, adm, mEngagement, map[string]any{"in": in})
		if len(r.Errors) != 1 {
			t.Fatalf("role %v through GraphQL: %+v", role, r.Errors)
		}
		line, _ := json.Marshal(map[string]any{"op": "recordEngagement", "input": in})
		_, res := e.importLines(t, adm, string(line))
		if len(res) != 1 || res[0].Rule != r.Errors[0].rule() {
			t.Errorf("role %v: /v1/import's rule %q, GraphQL's %q", role, res[0].Rule, r.Errors[0].rule())
		}
		if len(res) == 1 && strings.Contains(res[0].Rule, "invalid syntax") {
			t.Errorf("role %v: /v1/import's rule %q tells a Go error, not the value", role, res[0].Rule)
		}
	}
}

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
