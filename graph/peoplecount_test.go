package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/memory"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// filterRecorder keeps the filters of the People calls a request makes.
type filterRecorder struct {
	graph.ReadModel
	mu      sync.Mutex
	filters []projections.PeopleFilter
}

func (r *filterRecorder) People(ctx context.Context, f projections.PeopleFilter) (projections.PeoplePage, error) {
	r.mu.Lock()
	r.filters = append(r.filters, f)
	r.mu.Unlock()
	return r.ReadModel.People(ctx, f)
}

// A page of people is counted only when the request reads totalCount: a
// client paging through a list without it is not answered with a count of
// every matching person on each page.
func TestPeopleAreCountedOnlyWhenTotalCountIsSelected(t *testing.T) {
	cat := domain.DefaultCatalogue()
	store := memory.New(cat)
	env := projectionstest.Start(t, store, cat)
	for i := range 3 {
		env.Register(fmt.Sprintf("P%02d", i), "Ops", "2015-01-01")
	}
	rm := &filterRecorder{ReadModel: store}
	url, token := hrServer(t, rm, cat, graph.Limits{})
	for _, c := range []struct {
		query   string
		noCount bool
		total   int
	}{
		{`{ people(first: 2) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`, true, 0},
		{`{ people(first: 2) { totalCount edges { node { id } } } }`, false, 3},
		{`{ people(first: 2) { ...c } } fragment c on PersonConnection { totalCount }`, false, 3},
		{`{ people(first: 2) { ... on PersonConnection { n: totalCount } } }`, false, 3},
	} {
		rm.filters = nil
		res := postAs(t, url, token, c.query)
		var out struct {
			Data   map[string]map[string]any
			Errors []any
		}
		err := json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || len(out.Errors) > 0 {
			t.Fatalf("%s: %v %v", c.query, err, out.Errors)
		}
		if len(rm.filters) != 1 || rm.filters[0].NoCount != c.noCount {
			t.Errorf("%s: People called with %+v, want one call with NoCount %v", c.query, rm.filters, c.noCount)
		}
		for _, k := range []string{"totalCount", "n"} {
			if v, ok := out.Data["people"][k]; ok && v != float64(c.total) {
				t.Errorf("%s: %s = %v, want %d", c.query, k, v, c.total)
			}
		}
	}
}
