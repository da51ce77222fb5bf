package graph_test

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"

	"github.com/careerledger/careerledger/projections"
)

const personQuery = `query($id: ID!) {
  person(id: $id) {
    id name joinedOn
    department
    departmentBeforeJoining: department(asOf: "2000-01-01")
    memberships { department from to }
    standing { ...S }
    history { personId field on from to }
    accomplishments(first: 20) { edges { cursor node { ...A } } pageInfo { hasNextPage endCursor } totalCount }
  }
}` + standingFields + accomplishmentFields

const accomplishmentsPage = `query($id: ID!, $first: Int, $after: String) {
  person(id: $id) { accomplishments(first: $first, after: $after) {
    edges { cursor node { ...A } } pageInfo { hasNextPage endCursor } totalCount } }
}` + accomplishmentFields

const peopleQuery = `query($department: String, $field: SpecialtyField, $minLevel: Int, $asOf: Date, $first: Int, $after: String) {
  people(department: $department, field: $field, minLevel: $minLevel, asOf: $asOf, first: $first, after: $after) {
    edges { cursor node { id name department(asOf: $asOf) standing(asOf: $asOf) { field level } } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}`

// TestGolden records the dataset through the API and compares every
// mutation payload and every query's response with testdata/*.json; both
// read models must produce the same bytes.
func TestGolden(t *testing.T) {
	forEachBackend(t, options{}, func(t *testing.T, e *env) {
		ds := buildDataset(t, e)
		for _, name := range []string{"registerPerson", "transferPerson", "recordDeparture", "recordEngagement",
			"recordTechnologySuccession", "recordSubordinateDevelopment", "assessTheme", "amendAccomplishment", "retractAccomplishment"} {
			r, ok := ds.payloads[name]
			if !ok {
				t.Fatalf("the dataset has no %s", name)
			}
			e.golden(t, "mutation_"+name, r)
		}

		adm := e.token(t, admin)
		e.label("E1001.AAAAAAAAAA", "UNKNOWN")
		cases := []struct {
			name  string
			query string
			vars  map[string]any
		}{
			{"person_level5_amended", personQuery, map[string]any{"id": "E1001"}},
			{"person_transferred", personQuery, map[string]any{"id": "E1002"}},
			{"person_retraction", personQuery, map[string]any{"id": "E1003"}},
			{"person_level1_ongoing", personQuery, map[string]any{"id": "E1004"}},
			{"person_departed", personQuery, map[string]any{"id": "E1005"}},
			{"person_level0", personQuery, map[string]any{"id": "E1006"}},
			{"person_unknown", `{ person(id: "E9999") { id } }`, nil},
			{"person_as_of", `query($id: ID!) { person(id: $id) {
				department2019: department(asOf: "2019-06-30")
				department2026: department(asOf: "2026-01-01")
				standing2020: standing(asOf: "2020-12-31") { ...S }
				standing2021: standing(asOf: "2021-04-01") { field level attainedOn }
			} }` + standingFields, map[string]any{"id": "E1001"}},
			{"person_known_at", `query($id: ID!, $knownAt: DateTime!) { person(id: $id) {
				before: standing(knownAt: $knownAt) { field level attainedOn next { level criteria { criterion met missing } } }
				pastBefore: standing(asOf: "2022-06-01", knownAt: $knownAt) { field level }
				now: standing { field level attainedOn }
			} }`, map[string]any{"id": "E1001", "knownAt": ds.knownAtBeforeAmend}},
			{"person_history_field", `{ person(id: "E1002") {
				system: history(field: SYSTEM_OPERATION) { personId field on from to }
				desk: history(field: SERVICE_DESK) { field on from to }
			} }`, nil},
			{"accomplishments_page1", accomplishmentsPage, map[string]any{"id": "E1003", "first": 4}},
			{"people_all", peopleQuery, nil},
			{"people_department", peopleQuery, map[string]any{"department": "Operations"}},
			{"people_min_level", peopleQuery, map[string]any{"field": "SYSTEM_OPERATION", "minLevel": 3}},
			{"people_as_of", peopleQuery, map[string]any{"department": "ServiceDesk", "asOf": "2024-01-01"}},
			{"people_page1", peopleQuery, map[string]any{"first": 2}},
			{"accomplishment_engagement", `query($id: ID!) { accomplishment(id: $id) { ...A } }` + accomplishmentFields,
				map[string]any{"id": ds.acc["ENG_SO_LEAD"]}},
			{"accomplishment_retracted", `query($id: ID!) { accomplishment(id: $id) { ...A } }` + accomplishmentFields,
				map[string]any{"id": ds.acc["ENG_WRONG"]}},
			{"accomplishment_unknown", `{ accomplishment(id: "E1001.AAAAAAAAAA") { id } }`, nil},
			{"distribution_today", `{ skillDistribution(field: SYSTEM_OPERATION) { department level count } }`, nil},
			{"distribution_as_of", `{ skillDistribution(field: NETWORK_OPERATION, asOf: "2024-06-30") { department level count } }`, nil},
			{"distribution_department", `{ skillDistribution(field: SERVICE_DESK, department: "ServiceDesk") { department level count } }`, nil},
			{"trend_year", `{ skillTrend(field: SYSTEM_OPERATION, from: "2019-01-01", to: "2026-01-01", interval: YEAR) { on cells { department level count } } }`, nil},
			{"trend_month_department", `{ skillTrend(field: SYSTEM_OPERATION, department: "Operations", from: "2025-01-01", to: "2025-12-01", interval: MONTH) { on cells { department level count } } }`, nil},
			{"catalogue", `{ catalogue { id version fields } }`, nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.golden(t, c.name, e.gql(t, adm, c.query, c.vars))
			})
		}

		t.Run("accomplishments_page2", func(t *testing.T) {
			first := e.gql(t, adm, accomplishmentsPage, map[string]any{"id": "E1003", "first": 4}).ok(t)
			after := field(t, first.Data, "person.accomplishments.pageInfo.endCursor")
			r := e.gql(t, adm, accomplishmentsPage, map[string]any{"id": "E1003", "first": 4, "after": after})
			e.golden(t, "accomplishments_page2", r)
			if field(t, r.Data, "person.accomplishments.pageInfo.hasNextPage") != false {
				t.Errorf("the last page says it has a next page: %s", r.Data)
			}
		})
		t.Run("people_page2", func(t *testing.T) {
			var ids []string
			var after any
			for page := 0; page < 5; page++ {
				r := e.gql(t, adm, peopleQuery, map[string]any{"first": 2, "after": after}).ok(t)
				if page == 1 {
					e.golden(t, "people_page2", r)
				}
				var got struct {
					People struct {
						Edges    []struct{ Node struct{ ID string } }
						PageInfo struct {
							HasNextPage bool
							EndCursor   *string
						}
						TotalCount int
					}
				}
				r.decode(t, &got)
				for _, ed := range got.People.Edges {
					ids = append(ids, ed.Node.ID)
				}
				if got.People.TotalCount != 6 {
					t.Errorf("totalCount = %d, want 6 (without a department filter, departed people are listed too)", got.People.TotalCount)
				}
				if !got.People.PageInfo.HasNextPage {
					break
				}
				after = *got.People.PageInfo.EndCursor
			}
			if want := []string{"E1001", "E1002", "E1003", "E1004", "E1005", "E1006"}; !slices.Equal(ids, want) {
				t.Errorf("paging through people gave %v, want %v", ids, want)
			}
		})
		t.Run("cursors_of_one_list_refused_by_the_other", func(t *testing.T) {
			// A person id may be all digits, as a log position is: each
			// list refuses the other's cursors rather than reading them as
			// its own.
			acc := e.gql(t, adm, accomplishmentsPage, map[string]any{"id": "E1003", "first": 1}).ok(t)
			people := e.gql(t, adm, peopleQuery, map[string]any{"first": 1}).ok(t)
			cases := []struct {
				name, query string
				vars        map[string]any
			}{
				{"an accomplishments cursor to people", peopleQuery,
					map[string]any{"after": field(t, acc.Data, "person.accomplishments.pageInfo.endCursor")}},
				{"a people cursor to accomplishments", accomplishmentsPage,
					map[string]any{"id": "E1003", "after": field(t, people.Data, "people.pageInfo.endCursor")}},
				{"the cursor of a person with an all-digit id to accomplishments", accomplishmentsPage,
					map[string]any{"id": "E1003", "after": projections.PersonCursor("2")}},
				{"a position cursor with a sign", accomplishmentsPage,
					map[string]any{"id": "E1003", "after": base64.RawURLEncoding.EncodeToString([]byte("#+2#E1003"))}},
				{"a position cursor without its person", accomplishmentsPage,
					map[string]any{"id": "E1003", "after": base64.RawURLEncoding.EncodeToString([]byte("#2"))}},
				{"another person's accomplishments cursor", accomplishmentsPage,
					map[string]any{"id": "E1001", "after": field(t, acc.Data, "person.accomplishments.pageInfo.endCursor")}},
			}
			for _, c := range cases {
				r := e.gql(t, adm, c.query, c.vars)
				if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != "after" {
					t.Errorf("%s: got %s, want one BAD_USER_INPUT error on after", c.name, r.Raw)
				}
			}
			// Each list's own cursor still pages it.
			r := e.gql(t, adm, accomplishmentsPage, map[string]any{"id": "E1003", "first": 1,
				"after": field(t, acc.Data, "person.accomplishments.pageInfo.endCursor")}).ok(t)
			if field(t, r.Data, "person.accomplishments.pageInfo.endCursor") == field(t, acc.Data, "person.accomplishments.pageInfo.endCursor") {
				t.Errorf("the second page starts where the first did: %s", r.Data)
			}
		})
		t.Run("catalogue_document", func(t *testing.T) {
			r := e.gql(t, adm, `{ catalogue { document } }`, nil).ok(t)
			doc, _ := field(t, r.Data, "catalogue.document").(string)
			if !json.Valid([]byte(doc)) || len(doc) < 100 {
				t.Errorf("catalogue.document is not a JSON document: %.200s", doc)
			}
		})
	})
}
