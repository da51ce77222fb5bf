package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/memory"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// benchStandingQuery is the benchmarks' (bench/graphql.go) standing query.
const benchStandingQuery = `query Standing($id: ID!) { person(id: $id) { standing { field level attainedOn criteria { criterion met evidence missing } } } }`

// onceSource delivers fixed events in one batch and returns.
type onceSource []events.Recorded

func (s onceSource) Follow(ctx context.Context, after uint64, _ int, handle func(context.Context, []events.Recorded) error) error {
	if len(s) == 0 || s[len(s)-1].Position <= after {
		return nil
	}
	return handle(ctx, s)
}

// standingFixture is a memory read model of people with about ten events
// each, as the benchmarks' GraphQL scenario projects them, and an admin
// token for them.
type standingFixture struct {
	cat    *domain.Catalogue
	mem    *memory.Store
	tokens *graph.Tokens
	token  string   // admin's
	ids    []string // the people
	bodies []string // the standing query of each person, as a POST body
}

func newStandingFixture(tb testing.TB) *standingFixture {
	tb.Helper()
	cat := domain.DefaultCatalogue()
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	const people = 50
	var log onceSource
	add := func(person string, e events.Event) {
		log = append(log, events.Recorded{Position: uint64(len(log) + 1), PersonID: person, RecordedAt: at, Event: e})
	}
	f := &standingFixture{cat: cat, mem: memory.New(cat)}
	for i := range people {
		id := "G" + strconv.Itoa(100000+i)
		f.ids = append(f.ids, id)
		add(id, events.PersonRegistered{PersonID: id, Name: "Person " + id, Department: "Ops", JoinedOn: domain.MustDate("2012-04-01")})
		for j, fl := range cat.Fields() {
			for k := range 2 {
				a := projectionstest.Engagement(fl, domain.Roles[(i+k)%len(domain.Roles)], "2018-04-01", "2019-03-31", domain.Successful, true, cat.CriteriaOf(fl)[:1+(i+j)%2]...)
				a.Engagement.ID = id + ".e" + strconv.Itoa(j) + strconv.Itoa(k)
				add(id, events.FromAccomplishment(a))
			}
		}
		for k, th := range domain.Themes[:3] {
			a := projectionstest.Assessment(th, domain.Proficiencies[(i+k)%len(domain.Proficiencies)], "2020-04-01")
			a.Assessment.ID = id + ".t" + strconv.Itoa(k)
			add(id, events.FromAccomplishment(a))
		}
		body, _ := json.Marshal(map[string]any{"query": benchStandingQuery, "variables": map[string]string{"id": id}})
		f.bodies = append(f.bodies, string(body))
	}
	p := &projections.Projector{Catalogue: cat, Source: log, Store: f.mem, MaxBatch: 1000}
	if err := p.Run(context.Background()); err != nil {
		tb.Fatal(err)
	}
	var err error
	if f.tokens, err = graph.NewTokens("careerledger-bench-secret"); err != nil {
		tb.Fatal(err)
	}
	if f.token, err = f.tokens.Mint(graph.Principal{Subject: "bench", Roles: []string{graph.RoleAdmin}}, time.Hour, time.Now()); err != nil {
		tb.Fatal(err)
	}
	return f
}

// server is graph.NewServer over the fixture's read model, with unsent as
// the Resolver's Unsent.
func (f *standingFixture) server(unsent func(string, error), onOperation func(string, string, time.Duration, bool)) http.Handler {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	resolver := &graph.Resolver{ReadModel: f.mem, Catalogue: f.cat, Logger: quiet, Unsent: unsent}
	return graph.NewServer(graph.ServerConfig{Resolver: resolver, Tokens: f.tokens, Logger: quiet, OnOperation: onOperation})
}

// post serves body, a GraphQL POST under token, through h.
func post(h http.Handler, token, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// checkStanding fails unless w answers a standing without errors.
func checkStanding(tb testing.TB, w *httptest.ResponseRecorder) {
	tb.Helper()
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"criteria":[{"criterion":`) || strings.Contains(w.Body.String(), `"errors"`) {
		tb.Fatalf("%d %s", w.Code, w.Body)
	}
}

// Resolver.Unsent is told of a mutation refused before it sent its
// command, and a query's fields do not pass through what tells it: a
// query costs as much with it set as without.
func TestUnsentIsAMutationsAlone(t *testing.T) {
	f := newStandingFixture(t)
	type call struct {
		command string
		err     error
	}
	var calls []call
	h := f.server(func(command string, err error) { calls = append(calls, call{command, err}) }, nil)

	employee, err := f.tokens.Mint(graph.Principal{Subject: "e", Roles: []string{graph.RoleEmployee}, Person: f.ids[0]}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w := post(h, employee, `{"query":"mutation { registerPerson(input: {name: \"A\", department: \"Ops\", joinedOn: \"2020-04-01\"}) { position } }"}`)
	if !strings.Contains(w.Body.String(), `"FORBIDDEN"`) {
		t.Fatalf("registerPerson by an employee: %s", w.Body)
	}
	if len(calls) != 1 || calls[0].command != "registerPerson" || domain.KindOf(calls[0].err) != domain.KindForbidden {
		t.Fatalf("Unsent told %+v, want registerPerson refused as forbidden once", calls)
	}

	checkStanding(t, post(h, f.token, f.bodies[0]))
	if len(calls) != 1 {
		t.Fatalf("Unsent told of a query: %+v", calls[1:])
	}
	without := f.server(nil, nil)
	allocs := func(h http.Handler) float64 {
		return testing.AllocsPerRun(20, func() { post(h, f.token, f.bodies[1]) })
	}
	if with, without := allocs(h), allocs(without); with > without+5 {
		t.Errorf("a standing query allocates %.0f times with Unsent set, %.0f without: its fields pass through the mutations' middleware", with, without)
	}
}

// BenchmarkStandingQuery serves the benchmarks' standing query (scenario
// 8) through the handler graph.NewServer returns, without the network:
// the token check, the body's reads and checks, gqlgen's execution over a
// memory read model and the answer's writing. "bench" is the server as
// bench/graphql.go builds it, "careerd" as careerd does (Unsent and
// OnOperation set). The bare handler it is compared with is the
// benchmark program's (go run ./bench -only graphql).
func BenchmarkStandingQuery(b *testing.B) {
	f := newStandingFixture(b)
	run := func(b *testing.B, h http.Handler) {
		serve := func(i int) *httptest.ResponseRecorder {
			return post(h, f.token, f.bodies[i%len(f.bodies)])
		}
		checkStanding(b, serve(0))
		b.ReportAllocs()
		// The process's processor time, the collector's included.
		cpu := func() time.Duration {
			var u syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
				b.Fatal(err)
			}
			return time.Duration(u.Utime.Nano() + u.Stime.Nano())
		}
		start := cpu()
		i := 0
		for b.Loop() {
			serve(i)
			i++
		}
		b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op")
	}
	b.Run("bench", func(b *testing.B) { run(b, f.server(nil, nil)) })
	b.Run("careerd", func(b *testing.B) {
		run(b, f.server(func(string, error) {}, func(string, string, time.Duration, bool) {}))
	})
}
