package graph_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/careerledger/careerledger/graph"
)

// TestAnIdThatBreaksTheRuleIsBadInputForEveryone: a person id that breaks
// the id rule (1-64 characters of A-Z a-z 0-9 _ -) can be no one's, so
// refusing it as bad input tells nobody which ids exist: every role, admin
// and hr as a manager or an employee, is told BAD_USER_INPUT naming the
// argument as it was written (personId, id, accomplishmentId) and the
// rule, wherever a person id is looked up, and nothing is recorded. A
// well-formed id keeps its answers (NOT_FOUND to admin and hr, FORBIDDEN
// to a manager or an employee when it is not their own).
func TestAnIdThatBreaksTheRuleIsBadInputForEveryone(t *testing.T) {
	const rule = "must be 1-64 characters of A-Z a-z 0-9 _ -"
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "E1", "name": "Eve", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		roles := []struct {
			name  string
			token string
		}{
			{"admin", adm},
			{"hr", e.token(t, hr)},
			{"manager", e.token(t, managerA)},
			{"employee", e.token(t, employee("E1"))},
			{"lead", e.token(t, graph.Principal{Subject: "lead", Roles: []string{graph.RoleManager, graph.RoleEmployee}, Department: "Operations", Person: "E1"})},
		}
		head := e.head(t)

		type ask struct {
			name, query, field string
			vars               func(id string) map[string]any
		}
		pid := func(id string, rest map[string]any) map[string]any {
			rest["personId"] = id
			return in(rest)
		}
		asks := []ask{
			{"person", `query($id: ID!) { person(id: $id) { id name } }`, "id", func(id string) map[string]any { return map[string]any{"id": id} }},
			{"person known at", `query($id: ID!) { person(id: $id) { id standing(knownAt: "2026-06-01T08:00:00Z") { level } } }`, "id",
				func(id string) map[string]any { return map[string]any{"id": id} }},
			{"accomplishment", `query($id: ID!) { accomplishment(id: $id) { id } }`, "id",
				func(id string) map[string]any { return map[string]any{"id": id + ".AAAAAAAAAA"} }},
			{"recordEngagement", mEngagement, "personId", func(id string) map[string]any {
				return pid(id, map[string]any{"field": "SERVICE_DESK", "title": "t", "role": "PARTICIPANT",
					"startedOn": "2026-01-05", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}})
			}},
			{"recordTechnologySuccession", mSuccession, "personId", func(id string) map[string]any {
				return pid(id, map[string]any{"kind": "BOOK", "title": "t", "occurredOn": "2026-01-05", "fields": []string{"SERVICE_DESK"}})
			}},
			{"recordSubordinateDevelopment", mDevelopment, "personId", func(id string) map[string]any {
				return pid(id, map[string]any{"kind": "COACHING", "occurredOn": "2026-01-05"})
			}},
			{"assessTheme", mAssess, "personId", func(id string) map[string]any {
				return pid(id, map[string]any{"theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2026-01-05"})
			}},
			{"transferPerson", mTransfer, "personId", func(id string) map[string]any {
				return pid(id, map[string]any{"department": "Operations", "effectiveOn": "2026-05-01"})
			}},
			{"recordDeparture", mDeparture, "personId", func(id string) map[string]any {
				return pid(id, map[string]any{"effectiveOn": "2026-05-01"})
			}},
			{"amendAccomplishment", mAmend, "accomplishmentId", func(id string) map[string]any {
				return in(map[string]any{"accomplishmentId": id + ".AAAAAAAAAA", "title": "u"})
			}},
			{"retractAccomplishment", mRetract, "accomplishmentId", func(id string) map[string]any {
				return in(map[string]any{"accomplishmentId": id + ".AAAAAAAAAA", "reason": "r"})
			}},
		}
		bad := []string{"bad id", "x.y", strings.Repeat("a", 65), "é1"}
		for _, a := range asks {
			for _, id := range bad {
				if a.field == "accomplishmentId" || a.name == "accomplishment" {
					if id == "x.y" {
						continue // "x" is a well-formed person part
					}
				}
				for _, r := range roles {
					res := e.gql(t, r.token, a.query, a.vars(id))
					if len(res.Errors) != 1 {
						t.Errorf("%s of %q by %s: %s, want one error", a.name, id, r.name, res.Raw)
						continue
					}
					g := res.Errors[0]
					if g.code() != "BAD_USER_INPUT" || g.field() != a.field || g.rule() != rule || !strings.HasPrefix(g.Message, a.field+": ") {
						t.Errorf("%s of %q by %s: %s field %q %q, want BAD_USER_INPUT naming %s and the rule", a.name, id, r.name, g.code(), g.field(), g.Message, a.field)
					}
				}
			}
			// A well-formed unknown id keeps its answers.
			for _, r := range roles {
				res := e.gql(t, r.token, a.query, a.vars("E404"))
				want := "NOT_FOUND"
				switch {
				case r.name == "manager" || r.name == "employee" || r.name == "lead":
					want = "FORBIDDEN"
				}
				if len(res.Errors) != 1 || res.Errors[0].code() != want {
					t.Errorf("%s of E404 by %s: %s, want %s", a.name, r.name, res.Raw, want)
				}
			}
		}

		// /v1/import, line by line.
		lines := []string{
			`{"op":"recordEngagement","input":{"personId":"bad id","field":"SERVICE_DESK","title":"t","role":"PARTICIPANT","startedOn":"2026-01-05","outcome":"ONGOING","withinBudget":true,"complexity":[]}}`,
			`{"op":"recordTechnologySuccession","input":{"personId":"bad id","kind":"BOOK","title":"t","occurredOn":"2026-01-05","fields":["SERVICE_DESK"]}}`,
			`{"op":"recordSubordinateDevelopment","input":{"personId":"bad id","kind":"COACHING","occurredOn":"2026-01-05"}}`,
			`{"op":"assessTheme","input":{"personId":"bad id","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2026-01-05"}}`,
			`{"op":"transferPerson","input":{"personId":"bad id","department":"Operations","effectiveOn":"2026-05-01"}}`,
			`{"op":"recordDeparture","input":{"personId":"bad id","effectiveOn":"2026-05-01"}}`,
			`{"op":"amendAccomplishment","input":{"accomplishmentId":"bad id.AAAAAAAAAA","title":"u"}}`,
			`{"op":"retractAccomplishment","input":{"accomplishmentId":"bad id.AAAAAAAAAA","reason":"r"}}`,
		}
		fields := []string{"personId", "personId", "personId", "personId", "personId", "personId", "accomplishmentId", "accomplishmentId"}
		for _, r := range roles {
			_, got := e.importLines(t, r.token, lines...)
			if len(got) != len(lines) {
				t.Fatalf("import by %s: %+v", r.name, got)
			}
			for i, l := range got {
				if l.OK || l.Code != "BAD_USER_INPUT" || l.Field != fields[i] || l.Rule != rule {
					t.Errorf("import line %d by %s: %s %s %q, want BAD_USER_INPUT naming %s and the rule", i+1, r.name, l.Code, l.Field, l.Message, fields[i])
				}
			}
		}
		if h := e.head(t); h != head {
			t.Fatalf("the log's head moved from %d to %d: a refused request recorded something", head, h)
		}

		// levelChanged naming such a personId, or an empty one (an unset
		// variable, as an empty department is: not a request for everyone).
		for _, r := range roles {
			for _, id := range []string{"bad id", ""} {
				m, errs := e.subscribeRefused(t, r.token, map[string]any{"personId": id})
				if len(errs) != 1 || errs[0].code() != "BAD_USER_INPUT" || errs[0].field() != "personId" || errs[0].rule() != rule {
					t.Errorf("levelChanged(personId: %q) by %s: %s %s, want BAD_USER_INPUT naming personId", id, r.name, m.Type, m.Payload)
				}
			}
		}
	})
}

// TestASubordinateIdThatBreaksTheRuleIsBadInputForEveryone: a
// subordinateId is a person id too; one that breaks the id rule is bad
// input naming subordinateId to every role, before who may record for the
// person is asked (as an empty one already was), in
// recordSubordinateDevelopment, amendAccomplishment and their /v1/import
// lines alike. Before, a manager or employee recording for someone out of
// their reach was told FORBIDDEN, one within it BAD_USER_INPUT.
func TestASubordinateIdThatBreaksTheRuleIsBadInputForEveryone(t *testing.T) {
	const rule = "must be 1-64 characters of A-Z a-z 0-9 _ -"
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "E1", "name": "Eve", "department": "Operations", "joinedOn": "2020-01-01"}, "")
		dev := field(t, e.mutate(t, adm, &mDevelopment, map[string]any{"personId": "E1", "kind": "MENTORING",
			"occurredOn": "2024-01-01"}, "").Data, "recordSubordinateDevelopment.accomplishmentId").(string)
		head := e.head(t)
		roles := map[string]string{"admin": adm, "manager of E1": e.token(t, managerA), "manager of another department": e.token(t, managerB),
			"E1": e.token(t, employee("E1")), "another employee": e.token(t, employee("E2"))}
		for _, sub := range []string{"bad id", "x.y", strings.Repeat("a", 65)} {
			for name, tok := range roles {
				record := map[string]any{"personId": "E1", "kind": "COACHING", "occurredOn": "2024-02-01", "subordinateId": sub}
				amend := map[string]any{"accomplishmentId": dev, "subordinateId": sub}
				for _, c := range []struct {
					op, q string
					in    map[string]any
				}{{"recordSubordinateDevelopment", mDevelopment, record}, {"amendAccomplishment", mAmend, amend}} {
					g := e.gql(t, tok, c.q, in(c.in))
					if len(g.Errors) != 1 || g.Errors[0].code() != "BAD_USER_INPUT" || g.Errors[0].field() != "subordinateId" || g.Errors[0].rule() != rule {
						t.Errorf("%s with subordinateId %q by %s: %s, want BAD_USER_INPUT naming subordinateId", c.op, sub, name, g.Raw)
					}
					line, _ := json.Marshal(map[string]any{"op": c.op, "input": c.in})
					_, got := e.importLines(t, tok, string(line))
					if len(got) != 1 || got[0].OK || got[0].Code != "BAD_USER_INPUT" || got[0].Field != "subordinateId" || got[0].Rule != rule {
						t.Errorf("%s line with subordinateId %q by %s: %+v, want BAD_USER_INPUT naming subordinateId", c.op, sub, name, got)
					}
				}
			}
		}
		if h := e.head(t); h != head {
			t.Fatalf("the log's head moved from %d to %d: a refused request recorded something", head, h)
		}
	})
}
