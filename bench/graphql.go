package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/memory"
)

// standingQuery is the operation of scenario 8.
const standingQuery = `query Standing($id: ID!) { person(id: $id) { standing { field level attainedOn criteria { criterion met evidence missing } } } }`

// sliceSource is a projections.Source over events held in memory: it
// delivers them in batches and returns.
type sliceSource []events.Recorded

func (s sliceSource) Follow(ctx context.Context, after uint64, maxBatch int, handle func(context.Context, []events.Recorded) error) error {
	for i := 0; i < len(s); i += maxBatch {
		batch := s[i:min(i+maxBatch, len(s))]
		if batch[len(batch)-1].Position <= after {
			continue
		}
		if err := handle(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// graphql is scenario 8: the standing query through the real GraphQL
// handler over HTTP vs a bare net/http handler calling the same read-model
// function.
func (b *bench) graphql(ctx context.Context) error {
	cfg := b.cfg
	progress("graphql: projecting %d people into a memory store", cfg.gqlPeople)
	g := newGen(6, b.cat)
	var log sliceSource
	people := make([]string, cfg.gqlPeople)
	now := time.Now()
	for i := range people {
		people[i] = fmt.Sprintf("G%06d", i)
		for _, e := range g.personEvents(people[i], g.eventsPer(10)) {
			typ, ver, _, err := events.Encode(e)
			if err != nil {
				return err
			}
			log = append(log, events.Recorded{Position: uint64(len(log) + 1), PersonID: people[i], Type: typ, Version: ver, RecordedAt: now, Event: e})
		}
	}
	mem := memory.New(b.cat)
	p := &projections.Projector{Catalogue: b.cat, Source: log, Store: mem, MaxBatch: 1000}
	if err := p.Run(ctx); err != nil {
		return err
	}

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens, err := graph.NewTokens("careerledger-bench-secret")
	if err != nil {
		return err
	}
	token, err := tokens.Mint(graph.Principal{Subject: "bench", Roles: []string{graph.RoleAdmin}}, time.Hour, time.Now())
	if err != nil {
		return err
	}
	resolver := &graph.Resolver{ReadModel: mem, Catalogue: b.cat, Logger: quiet}
	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.NewServer(graph.ServerConfig{Resolver: resolver, Tokens: tokens, Logger: quiet}))
	mux.HandleFunc("GET /bare", bareStanding(mem))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	gqlReq := func(c *http.Client, id string) error {
		body, _ := json.Marshal(map[string]any{"query": standingQuery, "variables": map[string]string{"id": id}})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		return do(c, req, []byte(`"errors"`))
	}
	bareReq := func(c *http.Client, id string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/bare?id="+url.QueryEscape(id), nil)
		return do(c, req, nil)
	}
	var gqlBest, bareBest loadResult
	for r := range cfg.rounds {
		order := []string{"bare", "graphql"}
		if r%2 == 1 {
			order = []string{"graphql", "bare"}
		}
		for _, which := range order {
			f := bareReq
			if which == "graphql" {
				f = gqlReq
			}
			runtime.GC() // each side starts without the other's (or an earlier scenario's) garbage, as under testing.B
			res, err := load(ctx, cfg.gqlClients, cfg.gqlDur, people, f)
			if err != nil {
				return fmt.Errorf("%s: %w", which, err)
			}
			progress("graphql: round %d, %s: %s, p50 %s, p99 %s", r+1, which, fmtRate(res.rate, "req"), fmtDur(res.p50), fmtDur(res.p99))
			if which == "graphql" && res.rate > gqlBest.rate {
				gqlBest = res
			}
			if which == "bare" && res.rate > bareBest.rate {
				bareBest = res
			}
		}
	}
	note := fmt.Sprintf("%d clients (keep-alive) for %s per round, best of %d rounds alternating; a random one of %d people (~10 events each) per request; GraphQL: graph.NewServer (JWT check, person lookup, standing resolver, gqlgen execution); bare: GET handler calling memory.Store.Standing and encoding the same fields as JSON.",
		cfg.gqlClients, cfg.gqlDur, cfg.rounds, len(people))
	tr := gqlBest.rate / bareBest.rate
	b.add(row{
		Scenario: "8a GraphQL standing query, throughput vs bare handler",
		Measured: fmtRate(gqlBest.rate, "req"), Baseline: fmtRate(bareBest.rate, "req"),
		Ratio: fmtRatio(tr), Goal: ">= 40%", Verdict: verdict(tr >= 0.40), Note: note,
	})
	lr := float64(gqlBest.p99) / float64(bareBest.p99)
	b.add(row{
		Scenario: "8b GraphQL standing query, p99 latency vs bare handler",
		Measured: fmt.Sprintf("p99 %s (p50 %s)", fmtDur(gqlBest.p99), fmtDur(gqlBest.p50)),
		Baseline: fmt.Sprintf("p99 %s (p50 %s)", fmtDur(bareBest.p99), fmtDur(bareBest.p50)),
		Ratio:    fmt.Sprintf("%.2fx", lr), Goal: "<= 2x", Verdict: verdict(lr <= 2),
		Note: "Latencies of the round with the best throughput of each side.",
	})
	return nil
}

// bareStanding serves GET /bare?id=... with the standing's fields as JSON,
// in the shape of the GraphQL answer.
func bareStanding(mem *memory.Store) http.HandlerFunc {
	type criterion struct {
		Criterion string   `json:"criterion"`
		Met       bool     `json:"met"`
		Evidence  []string `json:"evidence"`
		Missing   *string  `json:"missing"`
	}
	type field struct {
		Field      string      `json:"field"`
		Level      int         `json:"level"`
		AttainedOn *string     `json:"attainedOn"`
		Criteria   []criterion `json:"criteria"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		st, err := mem.Standing(r.Context(), r.URL.Query().Get("id"), domain.DateOf(time.Now()), time.Time{})
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		out := make([]field, len(st.Fields))
		for i, f := range st.Fields {
			out[i] = field{Field: string(f.Field), Level: f.Level, Criteria: make([]criterion, len(f.Criteria))}
			if !f.AttainedOn.IsZero() {
				s := f.AttainedOn.String()
				out[i].AttainedOn = &s
			}
			for j, c := range f.Criteria {
				ev := c.Evidence
				if ev == nil {
					ev = []string{}
				}
				out[i].Criteria[j] = criterion{Criterion: c.Criterion, Met: c.Met, Evidence: ev}
				if c.Missing != "" {
					m := c.Missing
					out[i].Criteria[j].Missing = &m
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"person": map[string]any{"standing": out}}}) //nolint:errcheck // the client went away
	}
}

// do sends req, reads the whole answer and checks it is a 200 without bad
// in its body.
func do(c *http.Client, req *http.Request, bad []byte) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || (bad != nil && bytes.Contains(body, bad)) {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return nil
}

type loadResult struct {
	rate     float64
	p50, p99 time.Duration
}

// load runs clients goroutines calling f with random people for dur.
func load(ctx context.Context, clients int, dur time.Duration, people []string, f func(*http.Client, string) error) (loadResult, error) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2, DisableCompression: true}}
	defer c.CloseIdleConnections()
	lats := make([][]time.Duration, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for w := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t := time.Now()
				if err := f(c, people[r.IntN(len(people))]); err != nil {
					errs[w] = err
					return
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return loadResult{}, err
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	return loadResult{rate: rate(len(all), took), p50: percentile(all, 50), p99: percentile(all, 99)}, nil
}
