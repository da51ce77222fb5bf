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
	personEvents, standing, history, firstRecordedAt atomic.Int32
	// forget, when set, is a person FirstRecordedAt knows nothing of.
	forget string
}

func (c *countingReadModel) FirstRecordedAt(ctx context.Context, ids []string) (map[string]time.Time, error) {
	c.firstRecordedAt.Add(1)
	m, err := c.ReadModel.FirstRecordedAt(ctx, ids)
	delete(m, c.forget)
	return m, err
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
	url, token := hrServer(t, rm, cat, graph.Limits{})
	res := postAs(t, url, token, `{ people(first: 20) { edges { node { id standing { field level } history { on to } } } } }`)
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

// TestRecordedAtReadsOnlyTheFirstEvent: recordedAt is the instant the
// person's first event (the registration) was recorded, read without the
// person's other events: one FirstRecordedAt call for a person and one for
// a whole page, never PersonEvents (a person may have hundreds of events).
func TestRecordedAtReadsOnlyTheFirstEvent(t *testing.T) {
	cat := domain.DefaultCatalogue()
	store := memory.New(cat)
	env := projectionstest.Start(t, store, cat)
	env.Register("P00", "Ops", "2015-01-01") // the registration is P00's only event
	var ids []string
	for i := 1; i < 25; i++ {
		id := fmt.Sprintf("P%02d", i)
		env.Register(id, "Ops", "2015-01-01")
		env.Record(id, projectionstest.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-01-01"))
		env.Record(id, projectionstest.Assessment(domain.StressManagement, domain.Basic, "2016-02-01"))
		ids = append(ids, id)
	}
	all, err := store.PersonEvents(context.Background(), append(ids, "P00"))
	if err != nil {
		t.Fatal(err)
	}
	rm := &countingReadModel{ReadModel: store}
	url, token := hrServer(t, rm, cat, graph.Limits{})
	type node struct {
		ID         string
		RecordedAt time.Time
		Standing   []struct{ Level int }
	}
	query := func(q string, out any) []struct{ Extensions struct{ Code string } } {
		t.Helper()
		rm.personEvents.Store(0)
		rm.firstRecordedAt.Store(0)
		res := postAs(t, url, token, q)
		defer res.Body.Close()
		var r struct {
			Data   json.RawMessage
			Errors []struct{ Extensions struct{ Code string } }
		}
		if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		if len(r.Errors) == 0 {
			if err := json.Unmarshal(r.Data, out); err != nil {
				t.Fatal(err)
			}
		}
		return r.Errors
	}
	calls := func(what string, personEvents, first int32) {
		t.Helper()
		if n := rm.personEvents.Load(); n != personEvents {
			t.Errorf("%s: PersonEvents called %d times, want %d", what, n, personEvents)
		}
		if n := rm.firstRecordedAt.Load(); n != first {
			t.Errorf("%s: FirstRecordedAt called %d times, want %d", what, n, first)
		}
	}
	registered := func(id string) time.Time { return all[id][0].RecordedAt }

	for _, id := range []string{"P00", "P07"} {
		var one struct{ Person node }
		if errs := query(`{ person(id: "`+id+`") { id recordedAt } }`, &one); len(errs) > 0 {
			t.Fatalf("person %s: %+v", id, errs)
		}
		if !one.Person.RecordedAt.Equal(registered(id)) {
			t.Errorf("%s recordedAt %s, want its registration's %s", id, one.Person.RecordedAt, registered(id))
		}
		calls("person "+id, 0, 1)
	}
	if !all["P07"][2].RecordedAt.After(registered("P07")) {
		t.Fatalf("P07's events: %+v", all["P07"])
	}

	var page struct {
		People struct{ Edges []struct{ Node node } }
	}
	if errs := query(`{ people(first: 20) { edges { node { id recordedAt } } } }`, &page); len(errs) > 0 {
		t.Fatalf("people: %+v", errs)
	}
	if len(page.People.Edges) != 20 {
		t.Fatalf("people: %d edges, want 20", len(page.People.Edges))
	}
	for _, e := range page.People.Edges {
		if !e.Node.RecordedAt.Equal(registered(e.Node.ID)) {
			t.Errorf("%s recordedAt %s on a page, want its registration's %s", e.Node.ID, e.Node.RecordedAt, registered(e.Node.ID))
		}
	}
	calls("a page", 0, 1)
	if errs := query(`{ people(first: 20) { edges { node { id recordedAt standing { level } } } } }`, &page); len(errs) > 0 {
		t.Fatalf("people: %+v", errs)
	}
	calls("a page with standings", 1, 1)

	// A person the read model holds no event of: NOT_FOUND, as ever.
	rm.forget = "P07"
	var one struct{ Person node }
	if errs := query(`{ person(id: "P07") { id recordedAt } }`, &one); len(errs) != 1 || errs[0].Extensions.Code != "NOT_FOUND" {
		t.Errorf("recordedAt of a person without events: errors %+v, want NOT_FOUND", errs)
	}
	var p07 struct {
		People struct{ Edges []struct{ Node node } }
	}
	if errs := query(`{ people(first: 10) { edges { node { id recordedAt } } } }`, &p07); len(errs) != 1 || errs[0].Extensions.Code != "NOT_FOUND" {
		t.Errorf("recordedAt of a person without events on a page: errors %+v, want NOT_FOUND", errs)
	}
}

// hungReadModel does not answer a page's reads until their context ends.
type hungReadModel struct{ graph.ReadModel }

func (hungReadModel) PersonEvents(ctx context.Context, ids []string) (map[string][]events.Recorded, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(20 * time.Second):
		return nil, fmt.Errorf("not ended by the request's deadline")
	}
}

// A page's shared read is bounded by the request's deadline: a read model
// that does not answer does not hold the request past --request-timeout.
func TestAPagesReadEndsWithTheRequestsDeadline(t *testing.T) {
	cat := domain.DefaultCatalogue()
	store := memory.New(cat)
	env := projectionstest.Start(t, store, cat)
	env.Register("P01", "Ops", "2015-01-01")
	url, token := hrServer(t, hungReadModel{store}, cat, graph.Limits{Request: 300 * time.Millisecond})
	start := time.Now()
	res := postAs(t, url, token, `{ people(first: 20) { edges { node { id standing { field level } } } } }`)
	defer res.Body.Close()
	var out struct {
		Errors []struct{ Message string } `json:"errors"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("answered after %v, past the 300ms request bound", took)
	}
	if len(out.Errors) == 0 {
		t.Error("no error for a read that did not answer within the request bound")
	}
}

// hrServer serves the API over rm with limits, its clock on
// projectionstest.Today, and returns its URL and an hr token.
func hrServer(t *testing.T, rm graph.ReadModel, cat *domain.Catalogue, limits graph.Limits) (url, token string) {
	t.Helper()
	tokens, _ := graph.NewTokens("secret")
	srv := httptest.NewServer(graph.NewServer(graph.ServerConfig{Tokens: tokens, Limits: limits, Resolver: &graph.Resolver{
		ReadModel: rm, Catalogue: cat, Now: func() time.Time { return projectionstest.Today.Time() }}}))
	t.Cleanup(srv.Close)
	token, err := tokens.Mint(graph.Principal{Subject: "hr", Roles: []string{graph.RoleHR}}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, token
}

// postAs posts query to url as JSON with token.
func postAs(t *testing.T, url, token, query string) *http.Response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
