package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections/memory"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// countingReadModel counts the read-model calls a request makes.
type countingReadModel struct {
	graph.ReadModel
	personEvents, standing, history atomic.Int32
}

func (c *countingReadModel) PersonEvents(ctx context.Context, ids []string) (map[string][]events.Recorded, error) {
	c.personEvents.Add(1)
	return c.ReadModel.PersonEvents(ctx, ids)
}

func (c *countingReadModel) Standing(ctx context.Context, id string, asOf domain.Date, knownAt time.Time) (domain.Standing, error) {
	c.standing.Add(1)
	return c.ReadModel.Standing(ctx, id, asOf, knownAt)
}

func (c *countingReadModel) History(ctx context.Context, id string, f *domain.Field) ([]domain.LevelChange, error) {
	c.history.Add(1)
	return c.ReadModel.History(ctx, id, f)
}

func TestAPageOfPeopleIsResolvedWithOneReadModelCall(t *testing.T) {
	cat := domain.DefaultCatalogue()
	store := memory.New(cat)
	env := projectionstest.Start(t, store, cat)
	for i := 0; i < 25; i++ {
		id := fmt.Sprintf("P%02d", i)
		env.Register(id, "Ops", "2015-01-01")
		env.Record(id, projectionstest.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-01-01"))
		env.Record(id, projectionstest.Engagement(domain.ServiceDesk, domain.Practitioner, "2016-02-01", "", domain.Ongoing, false))
	}
	rm := &countingReadModel{ReadModel: store}
	tokens, _ := graph.NewTokens("secret")
	srv := httptest.NewServer(graph.NewServer(graph.ServerConfig{Tokens: tokens, Resolver: &graph.Resolver{
		ReadModel: rm, Catalogue: cat, Now: func() time.Time { return projectionstest.Today.Time() }}}))
	defer srv.Close()
	token, _ := tokens.Mint(graph.Principal{Subject: "hr", Roles: []string{graph.RoleHR}}, time.Hour, time.Now())
	body, _ := json.Marshal(map[string]string{"query": `{ people(first: 20) { edges { node { id standing { field level } history { on to } } } } }`})
	req, _ := http.NewRequest("POST", srv.URL, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			People struct {
				Edges []struct {
					Node struct {
						ID       string
						Standing []struct{ Level int }
						History  []struct{ To int }
					}
				}
			}
		}
		Errors []any
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) > 0 || len(out.Data.People.Edges) != 20 {
		t.Fatalf("response: %d edges, errors %v", len(out.Data.People.Edges), out.Errors)
	}
	for _, e := range out.Data.People.Edges {
		if e.Node.Standing[2].Level != 2 || len(e.Node.History) != 3 {
			t.Errorf("%s: standing %+v history %+v", e.Node.ID, e.Node.Standing, e.Node.History)
		}
	}
	if n := rm.personEvents.Load(); n != 1 {
		t.Errorf("PersonEvents called %d times for a page, want 1", n)
	}
	if n := rm.standing.Load() + rm.history.Load(); n != 0 {
		t.Errorf("per-person Standing/History called %d times for a page, want 0", n)
	}
}
