package graph_test

import (
	"encoding/json"
	"testing"
	"time"
)

// TestBeforeAPersonWasKnown: asked about a time before anything was known
// of a person (standing(knownAt) before their registration was recorded) or
// true of them (department and standing asOf before they joined), a person
// answers what was known and true then: no standing, no department, level
// 0; never an error that would turn the whole person (or a whole page of
// people) into null.
func TestBeforeAPersonWasKnown(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		adm := e.token(t, admin)
		beforeBoth := e.Clock.Peek().UTC().Format(time.RFC3339)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "K1", "name": "Kenji Ono", "department": "Operations", "joinedOn": "2016-04-01"}, "")
		e.mutate(t, adm, &mAssess, map[string]any{"personId": "K1", "theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2017-01-10"}, "")
		beforeK2 := e.Clock.Peek().UTC().Format(time.RFC3339)
		e.mutate(t, adm, &mRegister, map[string]any{"id": "K2", "name": "Kana Ueda", "department": "Operations", "joinedOn": "2020-04-01"}, "")

		r := e.gql(t, adm, `query($id: ID!, $knownAt: DateTime!) { person(id: $id) {
			id name joinedOn
			departmentBeforeJoining: department(asOf: "2019-01-01")
			memberships { department from to }
			unknown: standing(knownAt: $knownAt) { field level attainedOn criteria { criterion } next { level } }
			unknownInThePast: standing(asOf: "2019-01-01", knownAt: $knownAt) { field level }
			beforeJoining: standing(asOf: "2019-01-01") { field level attainedOn }
			history { field on from to }
			accomplishments { totalCount edges { node { id } } }
		} }`, map[string]any{"id": "K2", "knownAt": beforeK2}).ok(t)
		var p struct {
			Person struct {
				ID, Name, JoinedOn      string
				DepartmentBeforeJoining *string
				Memberships             []json.RawMessage
				Unknown                 []json.RawMessage
				UnknownInThePast        []json.RawMessage
				BeforeJoining           []struct {
					Field      string
					Level      int
					AttainedOn *string
				}
				History         []json.RawMessage
				Accomplishments struct{ TotalCount int }
			}
		}
		r.decode(t, &p)
		got := p.Person
		if got.ID != "K2" || got.Name != "Kana Ueda" || got.JoinedOn != "2020-04-01" || len(got.Memberships) != 1 {
			t.Errorf("person: %s", r.Data)
		}
		if got.Unknown == nil || len(got.Unknown) != 0 || got.UnknownInThePast == nil || len(got.UnknownInThePast) != 0 {
			t.Errorf("standing known before the registration: %s; want []", r.Data)
		}
		if got.DepartmentBeforeJoining != nil {
			t.Errorf("department before joining = %q, want null", *got.DepartmentBeforeJoining)
		}
		if len(got.BeforeJoining) != 3 {
			t.Errorf("standing before joining: %s; want the three fields at level 0", r.Data)
		}
		for _, f := range got.BeforeJoining {
			if f.Level != 0 || f.AttainedOn != nil {
				t.Errorf("standing before joining: %+v, want level 0 since no day", f)
			}
		}
		if got.History == nil || len(got.History) != 0 || got.Accomplishments.TotalCount != 0 {
			t.Errorf("history and accomplishments: %s", r.Data)
		}

		// A page of people as known between the two registrations: the one
		// known then is judged, the other has no standing; the page stands.
		page := e.gql(t, adm, `query($knownAt: DateTime!) { people { edges { node {
			id name standing(knownAt: $knownAt) { field level } } } } }`, map[string]any{"knownAt": beforeK2}).ok(t)
		var people struct {
			People struct {
				Edges []struct {
					Node struct {
						ID, Name string
						Standing []struct {
							Field string
							Level int
						}
					}
				}
			}
		}
		page.decode(t, &people)
		if len(people.People.Edges) != 2 {
			t.Fatalf("people: %s", page.Data)
		}
		for _, edge := range people.People.Edges {
			n := edge.Node
			if want := map[string]int{"K1": 3, "K2": 0}[n.ID]; len(n.Standing) != want || n.Name == "" {
				t.Errorf("%s as known before K2 was registered: %s; want %d fields", n.ID, page.Data, want)
			}
		}
		// Before either was known, neither has a standing.
		page = e.gql(t, adm, `query($knownAt: DateTime!) { people { edges { node { id standing(knownAt: $knownAt) { level } } } } }`,
			map[string]any{"knownAt": beforeBoth}).ok(t)
		page.decode(t, &people)
		for _, edge := range people.People.Edges {
			if len(edge.Node.Standing) != 0 {
				t.Errorf("%s as known before anyone was registered: %s", edge.Node.ID, page.Data)
			}
		}
	})
}
