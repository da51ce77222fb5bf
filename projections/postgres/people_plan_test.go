package postgres_test

import (
	"strings"
	"testing"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// TestPeopleFiltersAreSemiJoins pins the shape of People's statements: each
// filter given is joined (a semi-join, or a join on the distinct people it
// finds), never a subplan run (or hashed) per person.
// A subplan is what a filter written as "$n = ” OR EXISTS (...)" gets: the
// planner costs it per person, and over 15,000 people the count of every
// page passed the JIT thresholds and compiled for 100-200 ms to run in
// 10-20.
func TestPeopleFiltersAreSemiJoins(t *testing.T) {
	pool := pgtest.NewPool(t, "careerledger")
	store := postgres.New(pool, domain.DefaultCatalogue(), "careerledger")
	asOf := domain.MustDate("2025-04-01")
	filters := map[string]projections.PeopleFilter{
		"none":                 {AsOf: asOf, First: 100},
		"department":           {Department: "Network Operations Center", AsOf: asOf, First: 100},
		"minLevel":             {MinLevel: 3, AsOf: asOf, First: 100},
		"field and minLevel":   {Field: domain.SystemOperation, MinLevel: 3, AsOf: asOf, First: 100},
		"department, minLevel": {Department: "Network Operations Center", MinLevel: 2, AsOf: asOf, First: 100},
		"all three":            {Department: "Network Operations Center", Field: domain.ServiceDesk, MinLevel: 2, AsOf: asOf, First: 100, After: "E100100"},
	}
	for name, f := range filters {
		count, page, countArgs, pageArgs := store.PeopleStatements(f)
		for _, st := range []struct {
			sql  string
			args []any
		}{{count, countArgs}, {page, pageArgs}} {
			plan := strings.Join(pgtest.Strings(t, pool, "EXPLAIN (FORMAT TEXT) "+st.sql, st.args...), "\n")
			if strings.Contains(plan, "SubPlan") {
				t.Errorf("%s: a filter runs as a subplan per person:\n%s\n%s", name, st.sql, plan)
			}
		}
	}
}

// TestPeopleNoCountSkipsTheCount: a page asked for without its total is
// answered by the page's statement alone, the same people in the same order.
func TestPeopleNoCountSkipsTheCount(t *testing.T) {
	cat := domain.DefaultCatalogue()
	pool := pgtest.NewPool(t, "careerledger")
	store := postgres.New(pool, cat, "careerledger")
	env := projectionstest.Start(t, store, cat)
	for _, id := range []string{"P1", "P2", "P3"} {
		env.Register(id, "Ops", "2015-01-01")
	}
	f := projections.PeopleFilter{Department: "Ops", AsOf: domain.MustDate("2020-01-01"), First: 2}
	counted, err := store.People(bg, f)
	if err != nil {
		t.Fatal(err)
	}
	f.NoCount = true
	page, err := store.People(bg, f)
	if err != nil {
		t.Fatal(err)
	}
	if counted.TotalCount != 3 || page.TotalCount != 0 {
		t.Errorf("total %d counted, %d uncounted; want 3 and 0", counted.TotalCount, page.TotalCount)
	}
	if len(page.People) != 2 || page.People[0].ID != "P1" || page.People[1].ID != "P2" || !page.HasNext {
		t.Errorf("uncounted page %+v, want P1, P2 and more", page)
	}
}
