package graph_test

import (
	"fmt"
	"net/http"
	"testing"
)

// TestReadYourWrites: when a mutation returns, a query from another client
// with another token already sees its effect (api.md, "Read-your-writes").
func TestReadYourWrites(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		writer := &http.Client{Transport: &http.Transport{}}
		reader := &http.Client{Transport: &http.Transport{}}
		adm, h := e.token(t, admin), e.token(t, hr)
		write := func(t *testing.T, m *string, in map[string]any) response {
			t.Helper()
			r := e.post(t, writer, adm, map[string]any{"query": *m, "variables": map[string]any{"in": in}}).ok(t)
			if f := mutationField[m]; field(t, r.Data, f+".accomplishmentId") != nil {
				e.label(field(t, r.Data, f+".accomplishmentId").(string), "RYW")
			}
			return r
		}
		read := func(t *testing.T, q string, path string) any {
			t.Helper()
			r := e.post(t, reader, h, map[string]any{"query": q}).ok(t)
			return field(t, r.Data, path)
		}
		for round := range 5 {
			id := fmt.Sprintf("R%d", round)
			person := func(sel string) string { return `{ person(id: "` + id + `") { ` + sel + ` } }` }

			write(t, &mRegister, map[string]any{"id": id, "name": "Reader " + id, "department": "Operations", "joinedOn": "2020-01-01"})
			if got := read(t, person("name"), "person.name"); got != "Reader "+id {
				t.Fatalf("round %d: after registerPerson the person reads %v", round, got)
			}
			write(t, &mTransfer, map[string]any{"personId": id, "department": "Network", "effectiveOn": "2024-01-01"})
			if got := read(t, person("department"), "person.department"); got != "Network" {
				t.Errorf("round %d: after transferPerson department = %v", round, got)
			}
			if got := read(t, `{ people(department: "Network") { totalCount } }`, "people.totalCount"); got != float64(1) { // earlier rounds' people have departed
				t.Errorf("round %d: after transferPerson Network has %v people", round, got)
			}
			r := write(t, &mEngagement, map[string]any{"personId": id, "field": "NETWORK_OPERATION", "title": "t", "role": "PRACTITIONER",
				"startedOn": "2021-01-01", "completedOn": "2021-06-30", "outcome": "SUCCESSFUL", "withinBudget": true, "complexity": []string{}})
			eng := field(t, r.Data, "recordEngagement.accomplishmentId").(string)
			if got := read(t, person("accomplishments { totalCount }"), "person.accomplishments.totalCount"); got != float64(1) {
				t.Errorf("round %d: after recordEngagement totalCount = %v", round, got)
			}
			write(t, &mAssess, map[string]any{"personId": id, "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2021-07-01"})
			if got := read(t, person("standing { level }"), "person.standing"); fmt.Sprint(got) != "[map[level:2] map[level:2] map[level:2]]" {
				t.Errorf("round %d: after assessTheme standing = %v", round, got)
			}
			if got := read(t, `{ skillDistribution(field: SERVICE_DESK, department: "Network") { level count } }`, "skillDistribution"); fmt.Sprint(got) != "[map[count:1 level:2]]" {
				t.Errorf("round %d: after assessTheme distribution = %v", round, got)
			}
			write(t, &mSuccession, map[string]any{"personId": id, "kind": "BOOK", "title": "b", "occurredOn": "2022-01-01", "fields": []string{"NETWORK_OPERATION"}})
			write(t, &mDevelopment, map[string]any{"personId": id, "kind": "MENTORING", "occurredOn": "2022-01-01"})
			if got := read(t, person("accomplishments { totalCount }"), "person.accomplishments.totalCount"); got != float64(4) {
				t.Errorf("round %d: after succession and development totalCount = %v", round, got)
			}
			write(t, &mAmend, map[string]any{"accomplishmentId": eng, "title": "amended"})
			if got := read(t, `{ accomplishment(id: "`+eng+`") { ... on Engagement { title } } }`, "accomplishment.title"); got != "amended" {
				t.Errorf("round %d: after amendAccomplishment title = %v", round, got)
			}
			write(t, &mRetract, map[string]any{"accomplishmentId": eng, "reason": "gone"})
			if got := read(t, person("standing { level } history { to }"), "person.standing"); fmt.Sprint(got) != "[map[level:0] map[level:0] map[level:0]]" {
				t.Errorf("round %d: after retractAccomplishment standing = %v", round, got)
			}
			write(t, &mDeparture, map[string]any{"personId": id, "effectiveOn": "2026-01-31"})
			if got := read(t, person("department"), "person.department"); got != nil {
				t.Errorf("round %d: after recordDeparture department = %v", round, got)
			}
			if got := read(t, `{ people(department: "Network") { totalCount } }`, "people.totalCount"); got != float64(0) {
				t.Errorf("round %d: after recordDeparture Network has %v people", round, got)
			}
		}
	})
}
