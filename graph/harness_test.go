package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections/memory"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

var update = flag.Bool("update", false, "rewrite the golden responses in testdata/")

// testSecret signs every token of the suite.
const testSecret = "graph-test-secret"

// backend is one read model the API is served from.
type backend struct {
	name string
	open func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel
}

// backends are the read models every main suite runs against: the embedded
// default and production must answer the same questions the same way.
var backends = []backend{
	{"memory", func(_ *testing.T, cat *domain.Catalogue) projectionstest.ReadModel { return memory.New(cat) }},
	{"postgres", func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel {
		return postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, postgres.DefaultSchema)
	}},
}

// forEachBackend runs f in a subtest per read model, each with its own log,
// recorder, projector and server.
func forEachBackend(t *testing.T, opts options, f func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			if !*update {
				// With -update the memory run writes the golden files that
				// the postgres run then reads.
				t.Parallel()
			}
			f(t, newEnv(t, b, opts))
		})
	}
}

// options vary the server under test.
type options struct {
	dev    bool
	limits graph.Limits
	buffer int // level-change buffer per subscriber; 0 = the Broadcaster's default
	// websockets, when set, holds the server's websocket connections.
	websockets *graph.Websockets
	// noSelfAssessment is the Resolver's NoSelfAssessment.
	noSelfAssessment bool
	// catalogue judges levels (nil: the built-in one).
	catalogue *domain.Catalogue
	// readModel, when set, wraps the read model the API reads.
	readModel func(graph.ReadModel) graph.ReadModel
	// commands, when set, wraps the recorder the API sends commands to.
	commands func(graph.Commands) graph.Commands
	// importBodyRead is the bulk handler's BodyRead (0: its default).
	importBodyRead time.Duration
	// maxTokenLifetime is the tokens' maximum lifetime (0: no bound).
	maxTokenLifetime time.Duration
	// zone, when set, is the server's time zone (careerd's --time-zone):
	// the recorder's and the resolver's clock read in it, as careerd's do.
	zone *time.Location
}

// env is one running API: embedded JetStream, the recorder on a fixed clock,
// a projector into one read model, and the GraphQL server over HTTP.
type env struct {
	*projectionstest.Env
	srv     *httptest.Server
	url     string
	backend string
	tokens  *graph.Tokens
	logs    *lockedBuffer
	// ids maps generated accomplishment ids to stable labels for golden
	// comparison; see normalise.
	mu  sync.Mutex
	ids map[string]string
}

// newEnv starts a server whose "today" is projectionstest.Today: the
// recorder stamps events from the same fixed clock (one second per event),
// so positions and recordedAt are reproducible.
func newEnv(t *testing.T, b backend, opts options) *env {
	t.Helper()
	cat := opts.catalogue
	if cat == nil {
		cat = domain.DefaultCatalogue()
	}
	pe := projectionstest.Start(t, b.open(t, cat), cat)
	if opts.buffer > 0 {
		pe.Changes.Buffer = opts.buffer
	}
	tokens, err := graph.NewTokens(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	tokens.SetMaxLifetime(opts.maxTokenLifetime)
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var rm graph.ReadModel = pe.Store
	if opts.readModel != nil {
		rm = opts.readModel(rm)
	}
	now := pe.Clock.Peek
	if opts.zone != nil {
		zone := opts.zone
		now = func() time.Time { return pe.Clock.Peek().In(zone) }
		pe.Recorder = events.NewRecorder(pe.Log, cat, func() time.Time { return pe.Clock.Now().In(zone) })
	}
	var commands graph.Commands = pe.Recorder
	if opts.commands != nil {
		commands = opts.commands(commands)
	}
	resolver := &graph.Resolver{
		ReadModel: rm, Commands: commands, Catalogue: cat, LevelChanges: pe.Changes,
		Logger: logger, Now: now, ReadYourWritesTimeout: 10 * time.Second,
		NoSelfAssessment: opts.noSelfAssessment, Head: pe.Log.Head,
		RecordedAt: func(ctx context.Context, pos uint64) (time.Time, error) {
			rec, err := pe.Log.HeaderAt(ctx, pos)
			return rec.RecordedAt, err
		},
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.NewServer(graph.ServerConfig{Resolver: resolver, Tokens: tokens, Dev: opts.dev, Limits: opts.limits, Logger: logger,
		Websockets: opts.websockets}))
	mux.Handle("/v1/", graph.NewBulkHandler(graph.BulkConfig{Resolver: resolver, Tokens: tokens, Log: pe.Log, BodyRead: opts.importBodyRead}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &env{Env: pe, backend: b.name, srv: srv, url: srv.URL + "/graphql", tokens: tokens, logs: logs, ids: map[string]string{}}
	t.Cleanup(func() {
		// An INTERNAL error or a panic is always a bug: nothing in this suite
		// provokes one on purpose.
		if s := logs.String(); strings.Contains(s, "level=ERROR") {
			t.Errorf("server logged errors:\n%s", s)
		}
	})
	return e
}

// lockedBuffer is a concurrency-safe log sink.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Principals of the suite. Department A is "Operations", B is "Network".
var (
	admin    = graph.Principal{Subject: "admin", Roles: []string{graph.RoleAdmin}}
	hr       = graph.Principal{Subject: "hr", Roles: []string{graph.RoleHR}}
	managerA = graph.Principal{Subject: "manager-a", Roles: []string{graph.RoleManager}, Department: "Operations"}
	managerB = graph.Principal{Subject: "manager-b", Roles: []string{graph.RoleManager}, Department: "Network"}
	noRoles  = graph.Principal{Subject: "nobody"}
)

func employee(personID string) graph.Principal {
	return graph.Principal{Subject: "employee-" + personID, Roles: []string{graph.RoleEmployee}, Person: personID}
}

// token mints a token for p valid for an hour of real time (the JWT library
// checks expiry against the wall clock).
func (e *env) token(t *testing.T, p graph.Principal) string {
	t.Helper()
	tok, err := e.tokens.Mint(p, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// gqlError is one GraphQL error.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (g gqlError) code() string  { s, _ := g.Extensions["code"].(string); return s }
func (g gqlError) field() string { s, _ := g.Extensions["field"].(string); return s }
func (g gqlError) rule() string  { s, _ := g.Extensions["rule"].(string); return s }

// response is a GraphQL response with its data left raw.
type response struct {
	Status int             `json:"-"`
	Raw    []byte          `json:"-"`
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// decode unmarshals data into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode %s: %v", r.Data, err)
	}
}

// ok fails the test unless the response has data and no errors.
func (r response) ok(t *testing.T) response {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) > 0 || len(r.Data) == 0 || string(r.Data) == "null" {
		t.Fatalf("status %d, errors %+v, data %s", r.Status, r.Errors, r.Data)
	}
	return r
}

// gql posts a query with token (none when "") and returns the response.
func (e *env) gql(t *testing.T, token, query string, vars map[string]any) response {
	t.Helper()
	return e.post(t, http.DefaultClient, token, map[string]any{"query": query, "variables": vars})
}

// post sends body as JSON through client.
func (e *env) post(t *testing.T, client *http.Client, token string, body any) response {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.do(t, client, req)
}

func (e *env) do(t *testing.T, client *http.Client, req *http.Request) response {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{Status: res.StatusCode, Raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || json.Valid(raw) {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("response %s: %v", raw, err)
		}
	}
	out.Status, out.Raw = res.StatusCode, raw
	return out
}

// head returns the log's last position.
func (e *env) head(t *testing.T) uint64 {
	t.Helper()
	h, err := e.Log.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// label names a generated accomplishment id for golden files: the token
// part of "<personId>.<token>" is random, the label is not.
func (e *env) label(id, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	person, _, _ := strings.Cut(id, ".")
	e.ids[id] = person + "." + name
}

var accomplishmentID = regexp.MustCompile(`[A-Za-z0-9_-]{1,64}\.[A-Z2-7]{10}`)

// normalise makes a response comparable across runs and read models: it
// replaces generated accomplishment ids by their labels and sorts the
// evidence lists (the evaluator sorts evidence by id, and the ids are
// random). Everything else (positions, recordedAt, cursors) is stable by
// construction: a fixed clock and a fixed order of recording.
func (e *env) normalise(t *testing.T, raw []byte) []byte {
	t.Helper()
	e.mu.Lock()
	s := accomplishmentID.ReplaceAllStringFunc(string(raw), func(id string) string {
		if l, ok := e.ids[id]; ok {
			return l
		}
		return id
	})
	e.mu.Unlock()
	if m := accomplishmentID.FindString(s); m != "" {
		t.Errorf("unlabelled accomplishment id %s in %s", m, s)
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("normalise %s: %v", s, err)
	}
	sortEvidence(v)
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func sortEvidence(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if l, ok := c.([]any); ok && k == "evidence" {
				slices.SortFunc(l, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
			}
			sortEvidence(c)
		}
	case []any:
		for _, c := range x {
			sortEvidence(c)
		}
	}
}

// golden compares a response (data and errors, normalised) with
// testdata/name.json; -update rewrites the file. Every read model compares
// against the same file.
func (e *env) golden(t *testing.T, name string, r response) {
	t.Helper()
	body := map[string]any{"data": r.Data}
	if len(r.Errors) > 0 {
		body["errors"] = r.Errors
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	got := e.normalise(t, raw)
	path := filepath.Join("testdata", name+".json")
	if *update && e.backend == "memory" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./graph -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n%s", name, path, diff(string(want), string(got)))
	}
}

// diff shows the first lines where want and got part.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			lo, hi := max(0, i-3), min(i+8, len(g))
			return "first difference at line " + itoa(i+1) + "\nwant: " + a + "\ngot:  " + b + "\ncontext (got):\n" + strings.Join(g[lo:hi], "\n")
		}
	}
	return "(equal lines, different bytes)"
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// field returns the value at a dotted path in data, as decoded JSON.
func field(t *testing.T, data json.RawMessage, path string) any {
	t.Helper()
	var v any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
