package postgres_test

import (
	"context"
	"slices"
	"testing"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// TestPeopleAreInByteOrderWhateverTheCollation: on a database whose
// collation sorts "a1" before "B1" (ICU en-US), pages of people (and a
// distribution's departments) are still in byte order, as the memory read model and a list as known at an
// instant page them, and a cursor continues where its page ended.
func TestPeopleAreInByteOrderWhateverTheCollation(t *testing.T) {
	cat := domain.DefaultCatalogue()
	pool := pgtest.NewPool(t, postgres.DefaultSchema, "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0")
	var before bool
	if err := pool.QueryRow(context.Background(), `SELECT 'a1' < 'B1'`).Scan(&before); err != nil || !before {
		t.Fatalf("the database does not sort a1 before B1 (%v, %v): the test would prove nothing", before, err)
	}
	e := projectionstest.Start(t, postgres.New(pool, cat, ""), cat)
	var last uint64
	for id, dept := range map[string]string{"a1": "alpha", "B1": "Beta", "b2": "Ops", "A2": "Ops"} {
		last = max(last, e.Register(id, dept, "2020-01-01").Position)
	}
	e.Wait(last)
	want := []string{"A2", "B1", "a1", "b2"}
	walk := func(page func(projections.PeopleFilter) (projections.PeoplePage, error)) []string {
		var ids []string
		f := projections.PeopleFilter{AsOf: projectionstest.Today, First: 1}
		for range 10 {
			p, err := page(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range p.People {
				ids = append(ids, v.ID)
			}
			if !p.HasNext {
				break
			}
			f.After = p.People[len(p.People)-1].ID
		}
		return ids
	}
	if got := walk(func(f projections.PeopleFilter) (projections.PeoplePage, error) {
		return e.Store.People(context.Background(), f)
	}); !slices.Equal(got, want) {
		t.Errorf("people, a page of one at a time: %q, want %q", got, want)
	}
	got := walk(func(f projections.PeopleFilter) (projections.PeoplePage, error) {
		all, err := projections.PeopleKnownAt(context.Background(), e.Store, cat, f, e.Clock.Peek())
		return projections.PageOf(all, f), err
	})
	if !slices.Equal(got, want) {
		t.Errorf("people as known now, a page of one at a time: %q, want %q", got, want)
	}
	// A distribution's departments likewise.
	cells, err := e.Store.Distribution(context.Background(), domain.SystemOperation, projectionstest.Today, "")
	if err != nil {
		t.Fatal(err)
	}
	var depts []string
	for _, c := range cells {
		depts = append(depts, c.Department)
	}
	if want := []string{"Beta", "Ops", "alpha"}; !slices.Equal(depts, want) {
		t.Errorf("distribution's departments: %q, want %q", depts, want)
	}
}
