package graph_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// engagementInput is a valid engagement for V1 that each case breaks in
// one way.
func engagementInput(change map[string]any) map[string]any {
	in := map[string]any{"personId": "V1", "field": "SYSTEM_OPERATION", "title": "Ops", "role": "MEMBER",
		"startedOn": "2024-01-01", "completedOn": "2024-12-31", "outcome": "SUCCESSFUL", "withinBudget": true,
		"peakHeadcount": 5, "annualContractValueYen": 1000, "installationSites": 1, "inquiriesPerYear": 10,
		"complexity": []string{"OPERATION_REQUIREMENTS"}}
	for k, v := range change {
		if v == nil {
			delete(in, k)
		} else {
			in[k] = v
		}
	}
	return in
}

// null marks an input field sent as an explicit JSON null.
type null struct{}

func withNulls(in map[string]any) map[string]any {
	for k, v := range in {
		if _, ok := v.(null); ok {
			in[k] = nil
		}
	}
	return in
}

// TestValidation sends every case of levels.md "Validation" and expects a
// BAD_USER_INPUT error naming the field and the rule (or NOT_FOUND for
// unknown people and accomplishments), with nothing recorded.
func TestValidation(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "V1", "name": "Val", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		eng := field(t, e.mutate(t, adm, &mEngagement, engagementInput(nil), "V_ENG").Data, "recordEngagement.accomplishmentId").(string)
		succ := field(t, e.mutate(t, adm, &mSuccession, map[string]any{"personId": "V1", "kind": "BOOK", "title": "b",
			"occurredOn": "2024-01-01", "fields": []string{"SYSTEM_OPERATION"}}, "V_SUCC").Data, "recordTechnologySuccession.accomplishmentId").(string)
		gone := field(t, e.mutate(t, adm, &mAssess, map[string]any{"personId": "V1", "theme": "STRESS_MANAGEMENT",
			"proficiency": "BASIC", "assessedOn": "2024-01-01"}, "V_GONE").Data, "assessTheme.accomplishmentId").(string)
		e.mutate(t, adm, &mRetract, map[string]any{"accomplishmentId": gone, "reason": "wrong"}, "")
		tomorrow := "2026-06-02"

		cases := []struct {
			name     string
			mutation *string
			in       map[string]any
			code     string
			field    string
			rule     string // a part of the rule
		}{
			{"completedOn required unless ONGOING", &mEngagement, engagementInput(map[string]any{"completedOn": nil}), "BAD_USER_INPUT", "completedOn", "required unless outcome is ONGOING"},
			{"completedOn null unless ONGOING", &mEngagement, withNulls(engagementInput(map[string]any{"completedOn": null{}})), "BAD_USER_INPUT", "completedOn", "required"},
			{"completedOn absent when ONGOING", &mEngagement, engagementInput(map[string]any{"outcome": "ONGOING"}), "BAD_USER_INPUT", "completedOn", "absent"},
			{"completedOn before startedOn", &mEngagement, engagementInput(map[string]any{"completedOn": "2023-12-31"}), "BAD_USER_INPUT", "completedOn", "before startedOn"},
			{"negative peakHeadcount", &mEngagement, engagementInput(map[string]any{"peakHeadcount": -1}), "BAD_USER_INPUT", "peakHeadcount", ">= 1"},
			{"peakHeadcount 0", &mEngagement, engagementInput(map[string]any{"peakHeadcount": 0}), "BAD_USER_INPUT", "peakHeadcount", ">= 1"},
			{"negative annualContractValueYen", &mEngagement, engagementInput(map[string]any{"annualContractValueYen": -1}), "BAD_USER_INPUT", "annualContractValueYen", ">= 0"},
			{"negative installationSites", &mEngagement, engagementInput(map[string]any{"installationSites": -5}), "BAD_USER_INPUT", "installationSites", ">= 0"},
			{"negative inquiriesPerYear", &mEngagement, engagementInput(map[string]any{"inquiriesPerYear": -1}), "BAD_USER_INPUT", "inquiriesPerYear", ">= 0"},
			{"complexity the field never uses", &mEngagement, engagementInput(map[string]any{"field": "NETWORK_OPERATION", "complexity": []string{"OPERATION_REQUIREMENTS"}}), "BAD_USER_INPUT", "complexity", "not a criterion of NETWORK_OPERATION"},
			{"complexity SUPPORTED_SYSTEM in system operation", &mEngagement, engagementInput(map[string]any{"complexity": []string{"SUPPORTED_SYSTEM"}}), "BAD_USER_INPUT", "complexity", "not a criterion of SYSTEM_OPERATION"},
			{"duplicate complexity", &mEngagement, engagementInput(map[string]any{"complexity": []string{"CONTRACT", "OPERATION_SYSTEMS", "CONTRACT"}}), "BAD_USER_INPUT", "complexity", "more than once"},
			{"empty title", &mEngagement, engagementInput(map[string]any{"title": "  "}), "BAD_USER_INPUT", "title", "empty"},
			{"future startedOn", &mEngagement, engagementInput(map[string]any{"startedOn": tomorrow, "outcome": "ONGOING", "completedOn": nil}), "BAD_USER_INPUT", "startedOn", "future"},
			{"future completedOn", &mEngagement, engagementInput(map[string]any{"completedOn": tomorrow}), "BAD_USER_INPUT", "completedOn", "future"},
			{"succession with no fields", &mSuccession, map[string]any{"personId": "V1", "kind": "BOOK", "title": "b", "occurredOn": "2024-01-01", "fields": []string{}}, "BAD_USER_INPUT", "fields", "at least one"},
			{"succession with a field twice", &mSuccession, map[string]any{"personId": "V1", "kind": "BOOK", "title": "b", "occurredOn": "2024-01-01", "fields": []string{"SERVICE_DESK", "SERVICE_DESK"}}, "BAD_USER_INPUT", "fields", "more than once"},
			{"future succession", &mSuccession, map[string]any{"personId": "V1", "kind": "BOOK", "title": "b", "occurredOn": tomorrow, "fields": []string{"SERVICE_DESK"}}, "BAD_USER_INPUT", "occurredOn", "future"},
			{"future development", &mDevelopment, map[string]any{"personId": "V1", "kind": "MENTORING", "occurredOn": tomorrow}, "BAD_USER_INPUT", "occurredOn", "future"},
			{"bad subordinate id", &mDevelopment, map[string]any{"personId": "V1", "kind": "MENTORING", "occurredOn": "2024-01-01", "subordinateId": "no spaces"}, "BAD_USER_INPUT", "subordinateId", "A-Z a-z 0-9 _ -"},
			{"empty subordinate id", &mDevelopment, map[string]any{"personId": "V1", "kind": "MENTORING", "occurredOn": "2024-01-01", "subordinateId": ""}, "BAD_USER_INPUT", "subordinateId", "must not be empty"},
			{"amend to an empty subordinate id", &mAmend, map[string]any{"accomplishmentId": eng, "subordinateId": ""}, "BAD_USER_INPUT", "subordinateId", "must not be empty"},
			{"future assessment", &mAssess, map[string]any{"personId": "V1", "theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": tomorrow}, "BAD_USER_INPUT", "assessedOn", "future"},
			{"future joinedOn", &mRegister, map[string]any{"id": "V2", "name": "n", "department": "Operations", "joinedOn": tomorrow}, "BAD_USER_INPUT", "joinedOn", "must not be in the future (after 2026-06-01)"},
			{"joinedOn typed short", &mRegister, map[string]any{"id": "V2", "name": "n", "department": "Operations", "joinedOn": "0202-04-01"}, "BAD_USER_INPUT", "joinedOn", "must not be before 1900-01-01"},
			{"transfer before 1900", &mTransfer, map[string]any{"personId": "V1", "department": "Network", "effectiveOn": "1899-12-31"}, "BAD_USER_INPUT", "effectiveOn", "must not be before 1900-01-01"},
			{"departure before 1900", &mDeparture, map[string]any{"personId": "V1", "effectiveOn": "0001-01-01"}, "BAD_USER_INPUT", "effectiveOn", "must not be before 1900-01-01"},
			{"future transfer", &mTransfer, map[string]any{"personId": "V1", "department": "Network", "effectiveOn": tomorrow}, "BAD_USER_INPUT", "effectiveOn", "must not be in the future (after 2026-06-01)"},
			{"transfer before joining", &mTransfer, map[string]any{"personId": "V1", "department": "Network", "effectiveOn": "2019-12-31"}, "BAD_USER_INPUT", "effectiveOn", "before joinedOn"},
			{"future departure", &mDeparture, map[string]any{"personId": "V1", "effectiveOn": tomorrow}, "BAD_USER_INPUT", "effectiveOn", "must not be in the future (after 2026-06-01)"},
			{"person id with a space", &mRegister, map[string]any{"id": "E 1", "name": "n", "department": "Operations", "joinedOn": "2020-01-01"}, "BAD_USER_INPUT", "id", "A-Z a-z 0-9 _ -"},
			{"person id with a dot", &mRegister, map[string]any{"id": "E.1", "name": "n", "department": "Operations", "joinedOn": "2020-01-01"}, "BAD_USER_INPUT", "id", "A-Z a-z 0-9 _ -"},
			{"person id of 65 characters", &mRegister, map[string]any{"id": strings.Repeat("x", 65), "name": "n", "department": "Operations", "joinedOn": "2020-01-01"}, "BAD_USER_INPUT", "id", "1-64"},
			{"empty person id", &mRegister, map[string]any{"id": "", "name": "n", "department": "Operations", "joinedOn": "2020-01-01"}, "BAD_USER_INPUT", "id", "1-64"},
			{"person id taken", &mRegister, map[string]any{"id": "V1", "name": "Another", "department": "Operations", "joinedOn": "2020-01-01"}, "BAD_USER_INPUT", "id", "already taken"},
			{"empty name", &mRegister, map[string]any{"id": "V3", "name": "", "department": "Operations", "joinedOn": "2020-01-01"}, "BAD_USER_INPUT", "name", "empty"},
			{"empty department", &mRegister, map[string]any{"id": "V3", "name": "n", "department": " ", "joinedOn": "2020-01-01"}, "BAD_USER_INPUT", "department", "empty"},
			{"evidence for an unknown person", &mEngagement, engagementInput(map[string]any{"personId": "NOBODY"}), "NOT_FOUND", "", ""},
			{"assessment for an unknown person", &mAssess, map[string]any{"personId": "NOBODY", "theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2024-01-01"}, "NOT_FOUND", "", ""},
			{"transfer of an unknown person", &mTransfer, map[string]any{"personId": "NOBODY", "department": "Network", "effectiveOn": "2024-01-01"}, "NOT_FOUND", "", ""},
			{"amend an unknown accomplishment", &mAmend, map[string]any{"accomplishmentId": "V1.AAAAAAAAAA", "title": "x"}, "NOT_FOUND", "", ""},
			{"amend a malformed id", &mAmend, map[string]any{"accomplishmentId": "no-such-thing", "title": "x"}, "NOT_FOUND", "", ""},
			{"amend for an unknown person", &mAmend, map[string]any{"accomplishmentId": "NOBODY.AAAAAAAAAA", "title": "x"}, "NOT_FOUND", "", ""},
			{"retract an unknown accomplishment", &mRetract, map[string]any{"accomplishmentId": "V1.AAAAAAAAAA", "reason": "x"}, "NOT_FOUND", "", ""},
			{"amend a retracted accomplishment", &mAmend, map[string]any{"accomplishmentId": gone, "proficiency": "PRACTICE"}, "BAD_USER_INPUT", "accomplishmentId", "already retracted"},
			{"retract a retracted accomplishment", &mRetract, map[string]any{"accomplishmentId": gone, "reason": "again"}, "BAD_USER_INPUT", "accomplishmentId", "already retracted"},
			{"retract without a reason", &mRetract, map[string]any{"accomplishmentId": eng, "reason": " "}, "BAD_USER_INPUT", "reason", "empty"},
			{"amend to ONGOING keeping completedOn", &mAmend, map[string]any{"accomplishmentId": eng, "outcome": "ONGOING"}, "BAD_USER_INPUT", "completedOn", "absent"},
			{"amend completedOn before startedOn", &mAmend, map[string]any{"accomplishmentId": eng, "startedOn": "2025-01-01"}, "BAD_USER_INPUT", "completedOn", "before startedOn"},
			{"amend a complexity the field never uses", &mAmend, map[string]any{"accomplishmentId": eng, "field": "SERVICE_DESK"}, "BAD_USER_INPUT", "complexity", "not a criterion of SERVICE_DESK"},
			{"amend peakHeadcount to 0", &mAmend, map[string]any{"accomplishmentId": eng, "peakHeadcount": 0}, "BAD_USER_INPUT", "peakHeadcount", ">= 1"},
			{"amend a required field to null", &mAmend, withNulls(map[string]any{"accomplishmentId": eng, "title": null{}}), "BAD_USER_INPUT", "title", "cannot be cleared"},
			{"amend a field of another kind", &mAmend, map[string]any{"accomplishmentId": eng, "theme": "STRESS_MANAGEMENT"}, "BAD_USER_INPUT", "theme", "does not apply"},
			{"amend succession fields to none", &mAmend, map[string]any{"accomplishmentId": succ, "fields": []string{}}, "BAD_USER_INPUT", "fields", "at least one"},
			{"amend succession to the future", &mAmend, map[string]any{"accomplishmentId": succ, "occurredOn": tomorrow}, "BAD_USER_INPUT", "occurredOn", "future"},
			{"amend succession kind to an unknown one", &mAmend, map[string]any{"accomplishmentId": succ, "kind": "NOVEL"}, "BAD_USER_INPUT", "kind", "NOVEL"},
			{"amend nothing", &mAmend, map[string]any{"accomplishmentId": eng}, "BAD_USER_INPUT", "input", "at least one field"},
			{"amend nothing but a key", &mAmend, map[string]any{"accomplishmentId": eng, "idempotencyKey": "am-nothing"}, "BAD_USER_INPUT", "input", "at least one field"},
			{"amend to the values held", &mAmend, map[string]any{"accomplishmentId": eng, "outcome": "SUCCESSFUL", "title": "Ops"}, "BAD_USER_INPUT", "input", "changes nothing"},
			{"amend a list to what it holds", &mAmend, map[string]any{"accomplishmentId": succ, "fields": []string{"SYSTEM_OPERATION"}}, "BAD_USER_INPUT", "input", "changes nothing"},
			{"joinedOn a day that does not exist", &mRegister, map[string]any{"id": "V4", "name": "n", "department": "Operations", "joinedOn": "2024-02-30"}, "BAD_USER_INPUT", "joinedOn", "YYYY-MM-DD"},
			{"startedOn not a date", &mEngagement, engagementInput(map[string]any{"startedOn": "01/02/2024"}), "BAD_USER_INPUT", "startedOn", "YYYY-MM-DD"},
			{"yen not a whole number", &mEngagement, engagementInput(map[string]any{"annualContractValueYen": 1.5}), "BAD_USER_INPUT", "annualContractValueYen", "whole number"},
			{"yen beyond 2^53", &mEngagement, engagementInput(map[string]any{"annualContractValueYen": 1e17}), "BAD_USER_INPUT", "annualContractValueYen", "2^53"},
			{"yen a string", &mEngagement, engagementInput(map[string]any{"annualContractValueYen": "1000"}), "BAD_USER_INPUT", "annualContractValueYen", "not a string"},
			{"peakHeadcount beyond 32 bits", &mEngagement, engagementInput(map[string]any{"peakHeadcount": 1 << 40}), "BAD_USER_INPUT", "peakHeadcount", "32-bit signed integer"},
			{"amend inquiriesPerYear beyond 32 bits", &mAmend, map[string]any{"accomplishmentId": eng, "inquiriesPerYear": 1 << 31}, "BAD_USER_INPUT", "inquiriesPerYear", "32-bit signed integer"},
			{"amend to a date that does not exist", &mAmend, map[string]any{"accomplishmentId": succ, "occurredOn": "2024-13-01"}, "BAD_USER_INPUT", "occurredOn", "YYYY-MM-DD"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := e.head(t)
				r := e.gql(t, adm, *c.mutation, map[string]any{"in": c.in})
				if r.Status != 200 || string(r.Data) != "null" || len(r.Errors) != 1 {
					t.Fatalf("want one error and null data, got HTTP %d %s %+v", r.Status, r.Data, r.Errors)
				}
				got := r.Errors[0]
				if got.code() != c.code || got.field() != c.field || !strings.Contains(got.rule(), c.rule) {
					t.Errorf("got code %q field %q rule %q (%s), want %s %q %q", got.code(), got.field(), got.rule(), got.Message, c.code, c.field, c.rule)
				}
				if c.field != "" && !strings.Contains(got.Message, c.field) {
					t.Errorf("the message %q does not name the field %s", got.Message, c.field)
				}
				// The mutation; a malformed scalar's path goes on to its field.
				if p := got.Path; len(p) < 1 || p[0] != mutationField[c.mutation] {
					t.Errorf("error path %v", p)
				}
				if after := e.head(t); after != before {
					t.Errorf("bad input recorded something: head %d -> %d", before, after)
				}
			})
		}

		t.Run("amend to ONGOING clearing completedOn", func(t *testing.T) {
			r := e.mutate(t, adm, &mAmend, withNulls(map[string]any{"accomplishmentId": eng, "outcome": "ONGOING", "completedOn": null{}}), "")
			a := field(t, r.Data, "amendAccomplishment.accomplishment").(map[string]any)
			if a["outcome"] != "ONGOING" || a["completedOn"] != nil || a["title"] != "Ops" || a["peakHeadcount"] != float64(5) {
				t.Errorf("amended = %v", a)
			}
			// Absent fields stay; an explicit null clears an optional one.
			r = e.mutate(t, adm, &mAmend, withNulls(map[string]any{"accomplishmentId": eng, "peakHeadcount": null{}}), "")
			a = field(t, r.Data, "amendAccomplishment.accomplishment").(map[string]any)
			if a["peakHeadcount"] != nil || a["outcome"] != "ONGOING" || a["installationSites"] != float64(1) {
				t.Errorf("amended = %v", a)
			}
		})

		t.Run("page sizes", func(t *testing.T) {
			for _, q := range []string{
				`query($n: Int) { people(first: $n) { totalCount } }`,
				`query($n: Int) { person(id: "V1") { accomplishments(first: $n) { totalCount } } }`,
			} {
				for _, n := range []int{0, -1, 101} {
					r := e.gql(t, adm, q, map[string]any{"n": n})
					if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != "first" {
						t.Errorf("first: %d: %s %+v", n, r.Data, r.Errors)
					}
				}
				for _, n := range []int{1, 100} {
					e.gql(t, adm, q, map[string]any{"n": n}).ok(t)
				}
			}
		})
		t.Run("bad query arguments", func(t *testing.T) {
			for q, f := range map[string]string{
				`{ people(minLevel: 6) { totalCount } }`:                                                          "minLevel",
				`{ people(minLevel: -1) { totalCount } }`:                                                         "minLevel",
				`{ people(after: "***") { totalCount } }`:                                                         "after",
				`{ people(first: 2, after: "garbage") { totalCount } }`:                                           "after",
				`{ people(after: "AA") { totalCount } }`:                                                          "after",
				`{ person(id: "V1") { accomplishments(after: "bm90LWEtbnVtYmVy") { totalCount } } }`:              "after",
				`{ skillTrend(field: SERVICE_DESK, from: "2025-01-01", to: "2024-01-01", interval: DAY) { on } }`: "to",
				`{ skillTrend(field: SERVICE_DESK, from: "1990-01-01", to: "2026-01-01", interval: DAY) { on } }`: "interval",
			} {
				r := e.gql(t, adm, q, nil)
				if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != f {
					t.Errorf("%s: %s %+v, want BAD_USER_INPUT on %s", q, r.Data, r.Errors, f)
				}
			}
		})

		t.Run("idempotency key", func(t *testing.T) {
			for _, c := range []struct {
				mutation *string
				in       map[string]any
			}{
				{&mRegister, map[string]any{"id": "V9", "name": "Nine", "department": "Operations", "joinedOn": "2021-01-01", "idempotencyKey": "reg-9"}},
				{&mRegister, map[string]any{"name": "No id given", "department": "Operations", "joinedOn": "2021-01-01", "idempotencyKey": "reg-generated"}},
				{&mEngagement, engagementInput(map[string]any{"idempotencyKey": "eng-1"})},
				{&mSuccession, map[string]any{"personId": "V1", "kind": "PATENT_APPLICATION", "title": "p", "occurredOn": "2024-01-01", "fields": []string{"SERVICE_DESK"}, "idempotencyKey": "succ-1"}},
				{&mDevelopment, map[string]any{"personId": "V1", "kind": "COACHING", "occurredOn": "2024-01-01", "idempotencyKey": "dev-1"}},
				{&mAssess, map[string]any{"personId": "V1", "theme": "CONTRACT_MANAGEMENT", "proficiency": "PRACTICE", "assessedOn": "2024-01-01", "idempotencyKey": "th-1"}},
				{&mAmend, map[string]any{"accomplishmentId": eng, "title": "Renamed", "idempotencyKey": "am-1"}},
				{&mTransfer, map[string]any{"personId": "V1", "department": "Network", "effectiveOn": "2025-01-01", "idempotencyKey": "tr-1"}},
				{&mRetract, map[string]any{"accomplishmentId": succ, "reason": "dup", "idempotencyKey": "re-1"}},
				{&mDeparture, map[string]any{"personId": "V9", "effectiveOn": "2025-01-01", "idempotencyKey": "dep-1"}},
			} {
				name := mutationField[c.mutation]
				t.Run(name, func(t *testing.T) {
					before := e.head(t)
					first := e.mutate(t, adm, c.mutation, c.in, "")
					second := e.mutate(t, adm, c.mutation, c.in, "")
					if after := e.head(t); after != before+1 {
						t.Errorf("head %d -> %d, want exactly one event", before, after)
					}
					for _, k := range []string{"position", "accomplishmentId", "person.id"} {
						a, b := field(t, first.Data, name+"."+k), field(t, second.Data, name+"."+k)
						if a != b {
							t.Errorf("%s: first %v, repeat %v", k, a, b)
						}
					}
					if field(t, first.Data, name+".position") == nil {
						t.Errorf("no position in %s", first.Data)
					}
				})
			}
		})
	})
}

// TestMalformedScalarArguments: a date or date-time argument that does not
// parse is BAD_USER_INPUT naming the argument and the rule, not an
// internal error.
func TestMalformedScalarArguments(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "M1", "name": "M", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	const q = `query($asOf: Date, $knownAt: DateTime) { person(id: "M1") { standing(asOf: $asOf, knownAt: $knownAt) { field level } } }`
	for _, c := range []struct {
		name  string
		vars  map[string]any
		field string
		rule  string
	}{
		{"asOf month 13", map[string]any{"asOf": "2024-13-01"}, "asOf", "YYYY-MM-DD"},
		{"asOf a number", map[string]any{"asOf": 20240101}, "asOf", "YYYY-MM-DD"},
		{"knownAt a word", map[string]any{"knownAt": "yesterday"}, "knownAt", "RFC 3339"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.gql(t, adm, q, c.vars)
			if len(r.Errors) != 1 {
				t.Fatalf("want one error, got HTTP %d %s %+v", r.Status, r.Data, r.Errors)
			}
			got := r.Errors[0]
			if got.code() != "BAD_USER_INPUT" || got.field() != c.field || !strings.Contains(got.rule(), c.rule) ||
				!strings.HasPrefix(got.Message, c.field+": ") {
				t.Errorf("got %q code %s field %q rule %q; want BAD_USER_INPUT naming %s and %q", got.Message, got.code(), got.field(), got.rule(), c.field, c.rule)
			}
		})
	}
	// A well-formed pair still answers.
	if r := e.gql(t, adm, q, map[string]any{"asOf": "2024-12-01", "knownAt": e.Clock.Peek().Add(-time.Minute).UTC().Format(time.RFC3339)}); len(r.Errors) != 0 {
		t.Errorf("valid arguments: %+v", r.Errors)
	}
}

// TestMalformedNumbers: a Yen is a JSON integer and an Int a whole number
// that fits in 32 signed bits, as a literal in the document or as a
// variable. A whole number out of range, a Yen sent as a string or an Int
// variable that is a string of digits is BAD_USER_INPUT naming its argument
// or input field and the rule; so is an Int variable (or a variable's
// field) that is no whole number, named as sent. A literal of the wrong
// type for an Int fails GraphQL validation (HTTP 422) with a message that
// starts with its argument's or input field's name. Nothing refused is
// recorded.
func TestMalformedNumbers(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "V1", "name": "Val", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	// engagement is a valid recordEngagement for V1, in the document, with
	// one more input field.
	engagement := func(field string) string {
		return `mutation { recordEngagement(input: {personId: "V1", field: SYSTEM_OPERATION, title: "Ops", role: MEMBER,
			startedOn: "2024-01-01", completedOn: "2024-12-31", outcome: SUCCESSFUL, withinBudget: true,
			complexity: [OPERATION_REQUIREMENTS], ` + field + `}) { accomplishmentId } }`
	}
	in := func(change map[string]any) map[string]any { return map[string]any{"in": engagementInput(change)} }
	const people = `query($n: Int) { people(first: $n) { totalCount } }`
	const intRule = "(GraphQL Int is a 32-bit signed integer)"
	for _, c := range []struct {
		name   string
		query  string
		vars   map[string]any
		status int
		code   string
		field  string // the message's first word; extensions.field for BAD_USER_INPUT
		rule   string // a part of the rule, of the message for a validation error
	}{
		{"yen a string literal", engagement(`annualContractValueYen: "1000"`), nil, 200, "BAD_USER_INPUT", "annualContractValueYen", "not a string"},
		{"yen a string variable", mEngagement, in(map[string]any{"annualContractValueYen": "1000"}), 200, "BAD_USER_INPUT", "annualContractValueYen", "not a string"},
		{"Int literal 2^31 in an input", engagement(`peakHeadcount: 2147483648`), nil, 200, "BAD_USER_INPUT", "peakHeadcount", intRule},
		{"Int variable 2^40 in an input", mEngagement, in(map[string]any{"peakHeadcount": 1 << 40}), 200, "BAD_USER_INPUT", "peakHeadcount", intRule},
		{"Int literal argument beyond 32 bits", `{ people(first: 3000000000) { totalCount } }`, nil, 200, "BAD_USER_INPUT", "first", intRule},
		{"Int variable argument beyond 32 bits", people, map[string]any{"n": 3000000000}, 200, "BAD_USER_INPUT", "first", intRule},
		{"Int variable argument below -2^31", people, map[string]any{"n": -2147483649}, 200, "BAD_USER_INPUT", "first", intRule},
		{"Int variable a string of digits", people, map[string]any{"n": "5"}, 200, "BAD_USER_INPUT", "first", "not a string"},
		{"Int literal a string of digits in an input", engagement(`peakHeadcount: "5"`), nil, 422, "GRAPHQL_VALIDATION_FAILED", "peakHeadcount", "Int cannot represent"},
		{"Int variable a fraction", people, map[string]any{"n": 1.5}, 200, "BAD_USER_INPUT", "n", intRule},
		{"Int variable a whole number with a fraction part", people, map[string]any{"n": json.Number("5.0")}, 200, "BAD_USER_INPUT", "n", "without a fraction or an exponent"},
		{"Int variable a word", people, map[string]any{"n": "five"}, 200, "BAD_USER_INPUT", "n", "not a string"},
		{"Int variable a fraction in an input", mEngagement, in(map[string]any{"peakHeadcount": 1.5}), 200, "BAD_USER_INPUT", "peakHeadcount", intRule},
		{"Int literal a fraction", `{ people(first: 1.5) { totalCount } }`, nil, 422, "GRAPHQL_VALIDATION_FAILED", "first", "Int cannot represent non-integer value: 1.5"},
		{"Int literal a fraction in an input", engagement(`peakHeadcount: 1.5`), nil, 422, "GRAPHQL_VALIDATION_FAILED", "peakHeadcount", "Int cannot represent non-integer value: 1.5"},
		{"Int literal beyond 64 bits", `{ people(first: 99999999999999999999) { totalCount } }`, nil, 422, "GRAPHQL_VALIDATION_FAILED", "first", "32-bit signed integer"},
		{"Int variable default a fraction", `query($n: Int = 1.5) { people(first: $n) { totalCount } }`, nil, 422, "GRAPHQL_VALIDATION_FAILED", "n", "non-integer"},
		// An enum variable that is not one of the enum's values is bad
		// input too, named as /v1/import names it; a literal one fails
		// validation, as the specification has it.
		{"enum variable not a value", mEngagement, in(map[string]any{"role": "BOSS"}), 200, "BAD_USER_INPUT", "role", `is not a valid EngagementRole: "BOSS"; must be one of PARTICIPANT, PRACTITIONER, MEMBER, LEAD`},
		{"enum variable in lower case", mEngagement, in(map[string]any{"role": "lead"}), 200, "BAD_USER_INPUT", "role", `is not a valid EngagementRole: "lead" (enum values are upper case); must be one of PARTICIPANT, PRACTITIONER, MEMBER, LEAD`},
		{"enum variable argument in mixed case", `query($f: SpecialtyField!) { skillDistribution(field: $f) { count } }`, map[string]any{"f": "Service_Desk"}, 200, "BAD_USER_INPUT", "field", `is not a valid SpecialtyField: "Service_Desk" (enum values are upper case); must be one of SYSTEM_OPERATION, NETWORK_OPERATION, SERVICE_DESK`},
		{"enum variable with HTML characters", mEngagement, in(map[string]any{"role": "<b>"}), 200, "BAD_USER_INPUT", "role", `is not a valid EngagementRole: "<b>"; must be one of PARTICIPANT, PRACTITIONER, MEMBER, LEAD`},
		{"enum variable a number", mEngagement, in(map[string]any{"role": 5}), 200, "BAD_USER_INPUT", "role", `is not a valid EngagementRole: 5; must be one of PARTICIPANT, PRACTITIONER, MEMBER, LEAD`},
		{"enum variable in a list", mEngagement, in(map[string]any{"complexity": []string{"OPERATION_SYSTEMS", "FOO"}}), 200, "BAD_USER_INPUT", "complexity", `is not a valid ComplexityCriterion: "FOO"; must be one of OPERATION_REQUIREMENTS, OPERATION_SYSTEMS, SUPPORTED_SYSTEM, NETWORK_REQUIREMENTS, APPLICATION_REQUIREMENTS, ORGANIZATION, CONTRACT`},
		{"enum variable argument", `query($f: SpecialtyField!) { skillDistribution(field: $f) { count } }`, map[string]any{"f": "NET"}, 200, "BAD_USER_INPUT", "f", `is not a valid SpecialtyField: "NET"; must be one of SYSTEM_OPERATION, NETWORK_OPERATION, SERVICE_DESK`},
		{"enum literal not a value", `{ skillDistribution(field: NET) { count } }`, nil, 422, "GRAPHQL_VALIDATION_FAILED", "field", `"NET" does not exist in "SpecialtyField!" enum; must be one of SYSTEM_OPERATION, NETWORK_OPERATION, SERVICE_DESK`},
		// A String takes a string only, an ID a string or an integer (the
		// GraphQL specification's input coercion); gqlgen would read a
		// number as its digits.
		{"String variable a number in an input", mEngagement, in(map[string]any{"title": 5}), 200, "BAD_USER_INPUT", "title", "must be a string (GraphQL String), not the number 5"},
		{"String variable a fraction in an input", mEngagement, in(map[string]any{"idempotencyKey": 1.5}), 200, "BAD_USER_INPUT", "idempotencyKey", "must be a string (GraphQL String), not the number 1.5"},
		{"String variable argument a number", `query($d: String) { people(department: $d) { totalCount } }`, map[string]any{"d": 42}, 200, "BAD_USER_INPUT", "d", "must be a string (GraphQL String)"},
		{"String variable a boolean", mEngagement, in(map[string]any{"title": true}), 200, "BAD_USER_INPUT", "title", "must be a string (GraphQL String), not a JSON boolean"},
		{"String variable a list", mEngagement, in(map[string]any{"title": []string{"Ops"}}), 200, "BAD_USER_INPUT", "title", "must be a string (GraphQL String)"},
		{"ID variable a fraction", `query($p: ID!) { person(id: $p) { id } }`, map[string]any{"p": 1.5}, 200, "BAD_USER_INPUT", "p", "(GraphQL ID), not the number 1.5"},
		{"ID variable an exponent", `query($p: ID!) { person(id: $p) { id } }`, map[string]any{"p": json.Number("1e3")}, 200, "BAD_USER_INPUT", "p", "(GraphQL ID), not the number 1e3"},
		{"ID variable a fraction in an input", mEngagement, in(map[string]any{"personId": 1.5}), 200, "BAD_USER_INPUT", "personId", "must be a string or an integer"},
		{"ID variable a boolean", `query($p: ID!) { person(id: $p) { id } }`, map[string]any{"p": true}, 200, "BAD_USER_INPUT", "p", "must be a string or an integer"},
		{"Boolean variable a string in an input", mEngagement, in(map[string]any{"withinBudget": "yes"}), 200, "BAD_USER_INPUT", "withinBudget", "must be true or false (GraphQL Boolean), not a JSON string"},
		{"String literal a number", engagement(`idempotencyKey: 5`), nil, 422, "GRAPHQL_VALIDATION_FAILED", "idempotencyKey", "String cannot represent"},
		// A variable, or a field or an item of one, that is absent or null
		// where a value is required, a field its input type does not have,
		// or a value that is not an object where an input object goes, is
		// bad input naming that field, as /v1/import names it ("title: is
		// required"); gqlparser refused it as GRAPHQL_VALIDATION_FAILED
		// (HTTP 422) with "must be defined", "cannot be null" or "unknown
		// field", naming nothing but in its path.
		{"input field missing from a variable", mEngagement, in(map[string]any{"title": nil}), 200, "BAD_USER_INPUT", "title", "is required"},
		{"input field null in a variable", mEngagement, map[string]any{"in": withNulls(engagementInput(map[string]any{"withinBudget": null{}}))}, 200, "BAD_USER_INPUT", "withinBudget", "is required"},
		{"list input field null in a variable", mEngagement, map[string]any{"in": withNulls(engagementInput(map[string]any{"complexity": null{}}))}, 200, "BAD_USER_INPUT", "complexity", "is required"},
		{"null item of a list in a variable", mEngagement, in(map[string]any{"complexity": []any{"OPERATION_REQUIREMENTS", nil}}), 200, "BAD_USER_INPUT", "complexity", "must not hold null"},
		{"unknown input field in a variable", mEngagement, in(map[string]any{"bogus": 1}), 200, "BAD_USER_INPUT", "bogus", "is not an input field of RecordEngagementInput"},
		{"input variable left out", mEngagement, map[string]any{}, 200, "BAD_USER_INPUT", "in", "is required"},
		{"input variable null", mEngagement, map[string]any{"in": nil}, 200, "BAD_USER_INPUT", "in", "is required"},
		{"input variable not an object", mEngagement, map[string]any{"in": 5}, 200, "BAD_USER_INPUT", "in", "must be a JSON object (RecordEngagementInput), not the number 5"},
		{"required argument variable left out", `query($p: ID!) { person(id: $p) { id } }`, map[string]any{}, 200, "BAD_USER_INPUT", "p", "is required"},
		// The smallest Int passes the scalar and meets the field's own rule.
		{"Int literal -2^31 in an input", engagement(`installationSites: -2147483648`), nil, 200, "BAD_USER_INPUT", "installationSites", ">= 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.head(t)
			r := e.gql(t, adm, c.query, c.vars)
			if r.Status != c.status || string(r.Data) != "null" || len(r.Errors) != 1 {
				t.Fatalf("want HTTP %d, one error and null data, got HTTP %d %s %+v", c.status, r.Status, r.Data, r.Errors)
			}
			got := r.Errors[0]
			if got.code() != c.code || !strings.HasPrefix(got.Message, c.field+": ") {
				t.Errorf("got %q code %s; want %s naming %s", got.Message, got.code(), c.code, c.field)
			}
			rule := got.Message
			if c.code == "BAD_USER_INPUT" {
				if got.field() != c.field {
					t.Errorf("got field %q, want %s", got.field(), c.field)
				}
				rule = got.rule()
			}
			if !strings.Contains(rule, c.rule) {
				t.Errorf("got rule %q, want %q in it", rule, c.rule)
			}
			if after := e.head(t); after != before {
				t.Errorf("refused input recorded something: head %d -> %d", before, after)
			}
		})
	}
	// The largest Int and the largest Yen still go through, literal or variable.
	e.gql(t, adm, engagement(`peakHeadcount: 2147483647, annualContractValueYen: 9007199254740992`), nil).ok(t)
	e.gql(t, adm, mEngagement, in(map[string]any{"peakHeadcount": 2147483647, "inquiriesPerYear": 2147483647})).ok(t)
	e.gql(t, adm, people, map[string]any{"n": 100}).ok(t)
	// An integer is an ID, taken as its digits.
	e.mutate(t, adm, &mRegister, map[string]any{"id": 4021, "name": "Num", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	if r := e.gql(t, adm, `query($p: ID!) { person(id: $p) { id } }`, map[string]any{"p": 4021}).ok(t); string(r.Data) != `{"person":{"id":"4021"}}` {
		t.Errorf("an integer ID: %s", r.Data)
	}
}

// TestAMutationsArgumentsAreReadBeforeItRuns: a malformed Date, DateTime
// or Yen anywhere in a mutation request (in its answer's fields, in a
// fragment, in a later mutation of the same request, as a literal or a
// variable) is refused before anything runs, with the error the field
// gives in a query (BAD_USER_INPUT naming the argument or input field and
// the scalar's rule), and nothing is recorded. GraphQL reads a field's
// arguments when the field runs, and a mutation's answer runs after the
// mutation.
func TestAMutationsArgumentsAreReadBeforeItRuns(t *testing.T) {
	e := newEnv(t, backends[0], options{})
	adm := e.token(t, admin)
	e.mutate(t, adm, &mRegister, map[string]any{"id": "V1", "name": "Val", "department": "Operations", "joinedOn": "2020-01-01"}, "")
	asQuery := e.gql(t, adm, `{ person(id: "V1") { standing(asOf: "2024-13-01") { level } } }`, nil)
	if len(asQuery.Errors) != 1 {
		t.Fatalf("the query's refusal: %+v", asQuery.Errors)
	}
	// register registers a new person: without the check, each case would
	// record one.
	n := 0
	register := func() string {
		n++
		return fmt.Sprintf(`registerPerson(input: {id: "A%d", name: "Ada", department: "Operations", joinedOn: "2020-01-01"})`, n)
	}
	for _, c := range []struct {
		name, query string
		vars        map[string]any
		field, rule string
	}{
		{"asOf in the answer", `mutation { ` + register() + ` { person { standing(asOf: "2024-13-01") { level } } } }`, nil,
			"asOf", asQuery.Errors[0].rule()},
		{"a knownAt variable in a fragment of the answer", `mutation($k: DateTime) { ` + register() + ` { person { ...S } } }
			fragment S on Person { standing(knownAt: $k) { level } }`, map[string]any{"k": "yesterday"}, "knownAt", "RFC 3339"},
		{"a department's knownAt in the answer", `mutation { ` + register() + ` { person { department(knownAt: "2026-11-27T05:30") } } }`, nil,
			"knownAt", "RFC 3339"},
		{"a memberships' knownAt variable in the answer", `mutation($k: DateTime) { ` + register() + ` { person { memberships(knownAt: $k) { department } } } }`,
			map[string]any{"k": "yesterday"}, "knownAt", "RFC 3339"},
		{"a later mutation's date", `mutation { a: ` + register() + ` { person { id } }
			b: registerPerson(input: {id: "B1", name: "Bo", department: "Operations", joinedOn: "2020-02-30"}) { person { id } } }`, nil,
			"joinedOn", "YYYY-MM-DD"},
		{"a later mutation's yen, a variable", `mutation($in: RecordEngagementInput!) { a: ` + register() + ` { person { id } }
			b: recordEngagement(input: $in) { accomplishmentId } }`,
			map[string]any{"in": engagementInput(map[string]any{"annualContractValueYen": "1000"})}, "annualContractValueYen", "JSON integer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			head := e.head(t)
			r := e.gql(t, adm, c.query, c.vars)
			if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != c.field ||
				!strings.Contains(r.Errors[0].rule(), c.rule) || !strings.HasPrefix(r.Errors[0].Message, c.field+": ") {
				t.Errorf("errors %+v; want one BAD_USER_INPUT naming %s and %q", r.Errors, c.field, c.rule)
			}
			if len(r.Data) != 0 && string(r.Data) != "null" {
				t.Errorf("data %s; want none: nothing runs", r.Data)
			}
			if h := e.head(t); h != head {
				t.Errorf("the log's head moved from %d to %d: the refused request recorded something", head, h)
			}
		})
	}
	// A well-formed request still runs, its answer's arguments read as it runs.
	r := e.gql(t, adm, `mutation { `+register()+` { person { standing(asOf: "2024-12-01") { level } } } }`, nil).ok(t)
	if !strings.Contains(string(r.Data), `"standing"`) {
		t.Errorf("the valid mutation's answer: %s", r.Data)
	}
}
