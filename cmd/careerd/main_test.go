package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/jackc/pgx/v5/pgxpool"
	"io"
	"maps"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
)

// gqlResponse is a GraphQL response with its data left raw.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func post(t *testing.T, addr, token, query string, vars map[string]any) (int, gqlResponse) {
	t.Helper()
	code, out, err := tryPost(addr, token, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	return code, out
}

func tryPost(addr, token, query string, vars map[string]any) (int, gqlResponse, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", "http://"+addr+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, gqlResponse{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, gqlResponse{}, err
	}
	var out gqlResponse
	if res.StatusCode == 200 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return res.StatusCode, out, fmt.Errorf("response %s: %w", raw, err)
		}
	}
	return res.StatusCode, out, nil
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func start(t *testing.T, cfg Config) *Main {
	t.Helper()
	return startLogging(t, cfg, io.Discard)
}

// startLogging starts careerd with cfg, logging to logs, and closes it at
// the end of the test.
func startLogging(t *testing.T, cfg Config, logs io.Writer) *Main {
	t.Helper()
	m := NewMain(cfg, logs)
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func baseConfig(t *testing.T) Config {
	_, err := ParseConfig([]string{"--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, func(string) string { return "" })
	if err == nil {
		t.Fatal("careerd started without --auth-secret or --dev")
	}
	cfg, err := ParseConfig([]string{"--dev", "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const registerMutation = `mutation($in: RegisterPersonInput!) {
  registerPerson(input: $in) { position person { id name department standing { field level } } }
}`

// contract runs the end-to-end checks every configuration must pass.
func contract(t *testing.T, m *Main, token string) {
	addr := m.Addr()
	if code, _ := post(t, addr, "", `{ catalogue { id } }`, nil); code != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", code)
	}
	if code, _ := post(t, addr, "not-a-token", `{ catalogue { id } }`, nil); code != http.StatusUnauthorized {
		t.Errorf("bad token: status %d, want 401", code)
	}
	code, res := post(t, addr, token, registerMutation, map[string]any{"in": map[string]any{
		"id": "E1001", "name": "Aiko Sato", "department": "Operations", "joinedOn": "2019-04-01"}})
	if code != 200 || len(res.Errors) > 0 {
		t.Fatalf("register: %d %+v", code, res.Errors)
	}
	var reg struct {
		RegisterPerson struct {
			Position string
			Person   struct {
				ID, Name, Department string
				Standing             []struct {
					Field string
					Level int
				}
			}
		}
	}
	if err := json.Unmarshal(res.Data, &reg); err != nil {
		t.Fatal(err)
	}
	p := reg.RegisterPerson
	if p.Position == "" || p.Person.ID != "E1001" || p.Person.Department != "Operations" || len(p.Person.Standing) != 3 {
		t.Errorf("register payload = %+v", p)
	}
	// The same id again is bad input naming the field, and records nothing.
	_, res = post(t, addr, token, registerMutation, map[string]any{"in": map[string]any{
		"id": "E1001", "name": "Someone Else", "department": "Operations", "joinedOn": "2019-04-01"}})
	if len(res.Errors) != 1 || res.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || res.Errors[0].Extensions["field"] != "id" {
		t.Errorf("duplicate id: %+v", res.Errors)
	}
	_, res = post(t, addr, token, `{ person(id: "E1001") { name department(asOf: "2019-03-31") } }`, nil)
	if string(res.Data) != `{"person":{"name":"Aiko Sato","department":null}}` {
		t.Errorf("person query = %s %+v", res.Data, res.Errors)
	}
	if code, body := get(t, "http://"+addr+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != 200 || !strings.Contains(body, `"ready"`) {
		t.Errorf("/readyz = %d %s", code, body)
	}
	code, body := get(t, "http://"+addr+"/metrics")
	for _, want := range []string{
		`careerledger_commands_total{command="registerPerson",result="recorded"} 1`,
		`careerledger_commands_total{command="registerPerson",result="refused"} 1`,
		`careerledger_graphql_operation_duration_seconds_count{operation="anonymous",outcome="ok",type="mutation"} 1`,
		`careerledger_projection_lag_events`, `careerledger_projection_lag_seconds`, "careerledger_projector_active 1",
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics = %d, missing %s", code, want)
		}
	}
	liveLagCounted(t, addr, token)

	// A recording is counted under its mutation's name, and a bulk
	// endpoint under its own path.
	_, res = post(t, addr, token, `mutation($in: AssessThemeInput!) { assessTheme(input: $in) { position } }`, map[string]any{"in": map[string]any{
		"personId": "E1001", "theme": "STRESS_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2024-01-01"}})
	if len(res.Errors) > 0 {
		t.Errorf("assessTheme: %+v", res.Errors)
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/export", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Errorf("/v1/export: %v", err)
	} else {
		lines, _ := io.ReadAll(resp.Body) // the trailer comes after the body
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("/v1/export = %d", resp.StatusCode)
		}
		// Every event says who recorded it: the token's subject.
		p, err := m.tokens.Verify(token)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(lines)) {
			var ev graph.ExportedEvent
			if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.RecordedBy != p.Subject {
				t.Errorf("/v1/export line %q: recordedBy %q (%v), want %s", line, ev.RecordedBy, err, p.Subject)
			}
		}
		if got := resp.Trailer.Get(graph.ExportTrailer); got != graph.ExportComplete {
			t.Errorf("/v1/export's trailer %s = %q, want %q", graph.ExportTrailer, got, graph.ExportComplete)
		}
	}
	_, body = get(t, "http://"+addr+"/metrics")
	for _, want := range []string{`careerledger_commands_total{command="assessTheme",result="recorded"} 1`, `path="/v1/export"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics: missing %s", want)
		}
	}
}

// liveLagCounted checks that an event recorded while the projector follows
// the log is counted in the live-lag histogram. The first event may have
// been caught up in bulk (a projector that took its lock after it), which
// is not counted; a second one, recorded after the first was readable, is
// projected live.
func liveLagCounted(t *testing.T, addr, token string) {
	t.Helper()
	_, res := post(t, addr, token, registerMutation, map[string]any{"in": map[string]any{
		"id": "E1002", "name": "Ren Ito", "department": "Operations", "joinedOn": "2020-04-01"}})
	if len(res.Errors) > 0 {
		t.Fatalf("register E1002: %+v", res.Errors)
	}
	// The lag is observed just after the commit the mutation waited for.
	var count, inf int
	for deadline := time.Now().Add(5 * time.Second); ; {
		_, body := get(t, "http://"+addr+"/metrics")
		count, inf = metricValue(body, "careerledger_projection_live_lag_seconds_count"),
			metricValue(body, `careerledger_projection_live_lag_seconds_bucket{le="+Inf"}`)
		if count >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if count < 1 || count > 2 || inf != count {
		t.Errorf("live lag: count %d, +Inf bucket %d; want 1 or 2 (two events recorded), equal", count, inf)
	}
	// The goal's 50 ms is a bound of its own.
	if _, body := get(t, "http://"+addr+"/metrics"); !strings.Contains(body, `careerledger_projection_live_lag_seconds_bucket{le="0.05"} `) {
		t.Error("no live-lag bucket bounded at 50 ms")
	}
}

// metricValue returns the integer value of the sample named exactly name
// in a Prometheus text exposition, -1 if there is none.
func metricValue(body, name string) int {
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return -1
}

func TestEmbeddedDefaults(t *testing.T) {
	cfg := baseConfig(t)
	m := start(t, cfg)
	if m.DevToken() == "" {
		t.Fatal("no dev token in development mode")
	}
	contract(t, m, m.DevToken())
	if code, body := get(t, "http://"+m.Addr()+"/"); code != 200 || !strings.Contains(body, "graphiql") {
		t.Errorf("GraphiQL in dev mode: %d", code)
	}
	// A restart on the same data directory rebuilds the memory read model
	// from the log: nothing acknowledged is lost.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := start(t, cfg)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, res := post(t, m2.Addr(), m2.DevToken(), `{ a: person(id: "E1001") { name } b: person(id: "E1002") { name } }`, nil)
		if string(res.Data) == `{"a":{"name":"Aiko Sato"},"b":{"name":"Ren Ito"}}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restart: %s %+v", res.Data, res.Errors)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The rebuild at start replayed the log in bulk: its events are not
	// live lag. The one recorded now is, and is the only one counted.
	_, res := post(t, m2.Addr(), m2.DevToken(), registerMutation, map[string]any{"in": map[string]any{
		"id": "E1003", "name": "Mio Kato", "department": "Operations", "joinedOn": "2021-04-01"}})
	if len(res.Errors) > 0 {
		t.Fatalf("register E1003: %+v", res.Errors)
	}
	count := -1
	for deadline := time.Now().Add(5 * time.Second); count < 1 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		_, body := get(t, "http://"+m2.Addr()+"/metrics")
		count = metricValue(body, "careerledger_projection_live_lag_seconds_count")
	}
	if count != 1 {
		t.Errorf("after a restart and one new event, the live-lag histogram counted %d events, want 1", count)
	}
}

func TestProductionConfiguration(t *testing.T) {
	cfg, _ := productionConfig(t)
	m := start(t, cfg)
	if m.DevToken() != "" {
		t.Error("a dev token was minted outside development mode")
	}
	contract(t, m, adminToken(t))
	if code, _ := get(t, "http://"+m.Addr()+"/"); code == 200 {
		t.Error("GraphiQL served outside development mode")
	}
}

// adminToken is an admin's token signed with productionConfig's secret.
func adminToken(t *testing.T) string {
	tokens, _ := graph.NewTokens("test-secret")
	token, err := tokens.Mint(graph.Principal{Subject: "ops", Roles: []string{graph.RoleAdmin}}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// productionConfig is careerd's production configuration for a test: the
// machine's NATS server, with a stream and subjects of the test's own
// (deleted at the end), and a database of its own.
func productionConfig(t *testing.T) (Config, *pgxpool.Pool) {
	nc, err := nats.Connect(nats.DefaultURL, nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatalf("the local NATS server is not reachable (make services starts it): %v", err)
	}
	var b [4]byte
	rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	stream := "CAREER_TEST_" + suffix
	// Cleanups run after the test function's defers: the connection must
	// still be open to delete the stream, and closed only afterwards.
	t.Cleanup(func() {
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, stream); err != nil {
			t.Errorf("delete the test stream %s: %v", stream, err)
		}
	})
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	env := map[string]string{
		"NATS_URL": nats.DefaultURL, "DATABASE_URL": pgtest.URL(pool), "CAREER_AUTH_SECRET": "test-secret",
		"CAREER_STREAM": stream, "CAREER_SUBJECT_PREFIX": "t" + suffix + ".person", "CAREER_HTTP_ADDR": "127.0.0.1:0",
	}
	cfg, err := ParseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg, pool
}

func TestUnreachableDependencies(t *testing.T) {
	env := map[string]string{"NATS_URL": "nats://127.0.0.1:1", "CAREER_AUTH_SECRET": "x", "CAREER_HTTP_ADDR": "127.0.0.1:0"}
	cfg, _ := ParseConfig(nil, func(k string) string { return env[k] })
	m := NewMain(cfg, io.Discard)
	err := m.Run(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "cannot reach NATS") {
		t.Errorf("unreachable NATS: err = %v", err)
	}
	env = map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/x?connect_timeout=1", "CAREER_AUTH_SECRET": "x",
		"CAREER_HTTP_ADDR": "127.0.0.1:0", "CAREER_DATA_DIR": t.TempDir()}
	cfg, _ = ParseConfig(nil, func(k string) string { return env[k] })
	m = NewMain(cfg, io.Discard)
	err = m.Run(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "cannot reach PostgreSQL") {
		t.Errorf("unreachable PostgreSQL: err = %v", err)
	}
}

// TestAStartThatFailsSaysSoOnceInTheLog: careerd that cannot start (NATS
// or PostgreSQL unreachable, its listen address taken) logs exactly one
// record at error, "careerd failed to start" with the error, in the JSON
// of the rest of its log, says nothing of stopping requests in flight
// (none was ever served), nor anything but its lines of starting, and
// exits 1; one that started and is stopped says it stops, and exits 0,
// its log at the default level holding careerd's own lines only (the
// Watermill router's are at debug). A --log-level careerd cannot log at is a
// usage error (exit 2), before anything starts.
func TestAStartThatFailsSaysSoOnceInTheLog(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, c := range []struct {
		name, want string
		env        map[string]string
	}{
		{"NATS unreachable", `cannot reach NATS at "nats://careerd:********@127.0.0.1:1"`,
			map[string]string{"NATS_URL": "nats://careerd:" + natsPassword + "@127.0.0.1:1"}},
		{"PostgreSQL unreachable", "cannot reach PostgreSQL at postgres://postgres@127.0.0.1:1/x?connect_timeout=1:",
			map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/x?connect_timeout=1"}},
		{"listen address taken", "listen on " + taken.Addr().String(),
			map[string]string{"CAREER_HTTP_ADDR": taken.Addr().String()}},
		{"embedded NATS listen address taken", taken.Addr().String() + `, "listen tcp ` + taken.Addr().String() + `: bind: address already in use"`,
			map[string]string{"CAREER_NATS_LISTEN": taken.Addr().String()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"CAREER_AUTH_SECRET": "x", "CAREER_HTTP_ADDR": "127.0.0.1:0", "CAREER_DATA_DIR": t.TempDir()}
			maps.Copy(env, c.env)
			cfg, err := ParseConfig(nil, func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			var logs logLines
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if code := serve(ctx, NewMain(cfg, &logs)); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			var errs []map[string]any
			for line := range strings.Lines(logs.String()) {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Errorf("a line of the log is not a JSON record: %q", line)
					continue
				}
				if rec["level"] == "ERROR" {
					errs = append(errs, rec)
				}
				if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, "careerd stop") {
					t.Errorf("a start that failed logged %q", msg)
				}
				// Beside the error, only careerd's own lines of starting:
				// none of Watermill's, nor of what the failure released.
				if msg, _ := rec["msg"].(string); rec["level"] != "ERROR" && msg != "careerd starting" && msg != "catalogue loaded" {
					t.Errorf("a start that failed logged %v", rec)
				}
			}
			if len(errs) != 1 || errs[0]["msg"] != "careerd failed to start" || !strings.Contains(fmt.Sprint(errs[0]["err"]), c.want) {
				t.Errorf("error records %v, want one \"careerd failed to start\" with an err saying %q; the log:\n%s", errs, c.want, logs.String())
			}
			if strings.Contains(logs.String(), natsPassword) {
				t.Errorf("the log shows NATS's password:\n%s", logs.String())
			}
		})
	}

	var logs logLines
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() { exited <- serve(ctx, NewMain(baseConfig(t), &logs)) }()
	logs.waitLog(t, "careerd serving", map[string]string{"level": "INFO"})
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("a careerd stopped after it served: exit status %d, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("careerd did not stop")
	}
	for _, msg := range []string{"careerd stopping: finishing requests in flight, then the projector's batch", "careerd stopped"} {
		if len(logs.find(t, msg, map[string]string{"level": "INFO"})) != 1 {
			t.Errorf("a careerd stopped after it served did not log %q once:\n%s", msg, logs.String())
		}
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("a careerd stopped after it served logged an error:\n%s", logs.String())
	}
	// The embedded server's connections have no URL: they say so.
	if len(logs.find(t, "NATS connection closed", map[string]string{"url": "embedded"})) == 0 {
		t.Errorf("no NATS connection said it was to the embedded server as it closed:\n%s", logs.String())
	}
	// At the default level, a start and a stop log careerd's own lines
	// only: Watermill's (a handler added, the router closing...) are debug.
	own := map[string]bool{"careerd starting": true, "catalogue loaded": true, "careerd serving": true,
		"careerd stopping: finishing requests in flight, then the projector's batch": true,
		"NATS connection closed": true, "careerd stopped": true}
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && !own[fmt.Sprint(rec["msg"])] {
			t.Errorf("a careerd started and stopped logged %v", rec)
		}
	}
	// At debug, they are there.
	cfg := baseConfig(t)
	cfg.LogLevel = "debug"
	var debugLogs logLines
	m := NewMain(cfg, &debugLogs)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Close() //nolint:errcheck // the log is what is checked
	for _, msg := range []string{"Adding handler", "Closing router"} {
		if len(debugLogs.find(t, msg, map[string]string{"level": "DEBUG"})) == 0 {
			t.Errorf("at --log-level debug, Watermill's %q is not logged at debug:\n%s", msg, debugLogs.String())
		}
	}

	if _, err := ParseConfig([]string{"--dev", "--log-level", "loud"}, func(string) string { return "" }); err == nil ||
		!strings.Contains(err.Error(), "--log-level") {
		t.Errorf("--log-level loud: %v, want a usage error naming --log-level", err)
	}
}

func TestGCPercentDefaultsUnlessGOGCIsSet(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	setGCPercent(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GOGC unset: collector target %d, want %d", got, defaultGCPercent)
	}
	setGCPercent(func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=100: collector target %d, want it left alone (100)", got)
	}
}

func TestProjectorCacheFlag(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	cfg, err := ParseConfig([]string{"--dev"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.maxCached(); got != projections.DefaultMaxCached {
		t.Errorf("default bound %d, want %d", got, projections.DefaultMaxCached)
	}
	env["CAREER_PROJECTOR_CACHE"] = "0"
	if cfg, err = ParseConfig([]string{"--dev"}, getenv); err != nil || cfg.maxCached() >= 0 {
		t.Errorf("$CAREER_PROJECTOR_CACHE=0: bound %d, err %v; want no bound", cfg.maxCached(), err)
	}
	if cfg, err = ParseConfig([]string{"--dev", "--projector-cache", "500"}, getenv); err != nil || cfg.maxCached() != 500 {
		t.Errorf("--projector-cache 500 over the environment: bound %d, err %v", cfg.maxCached(), err)
	}
	if _, err = ParseConfig([]string{"--dev", "--projector-cache", "-1"}, getenv); err == nil || !strings.Contains(err.Error(), "--projector-cache") {
		t.Errorf("--projector-cache -1: err %v, want one naming the flag", err)
	}
}

// TestLagGrowsWhileTheReadModelStalls: with the read model's checkpoint
// locked (a stalled database), the lag metrics report the events recorded
// since and their age, rather than the 0 they last read.
func TestLagGrowsWhileTheReadModelStalls(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	cfg.RYWTimeout = 500 * time.Millisecond
	m := start(t, cfg)
	token := m.DevToken()
	if code, res := post(t, m.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
		"id": "L1", "name": "n", "department": "Ops", "joinedOn": "2020-01-01"}}); code != 200 || len(res.Errors) > 0 {
		t.Fatalf("register: %d %+v", code, res.Errors)
	}
	// The watch has read the read model (the head is set first in the same
	// round, whose read of the read model ends well within the second
	// before the next round): then the stall.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, body := get(t, "http://"+m.Addr()+"/metrics"); metricValue(body, "careerledger_log_head_position") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lag watch did not run")
		}
	}
	time.Sleep(1100 * time.Millisecond)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // the lock goes with it
	if _, err := tx.Exec(ctx, "LOCK TABLE "+cfg.Schema+".projection_checkpoint IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	// Recorded; not applied while the lock holds (the mutation's wait for
	// the read model gives up).
	post(t, m.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
		"id": "L2", "name": "n", "department": "Ops", "joinedOn": "2020-01-01"}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := get(t, "http://"+m.Addr()+"/metrics")
		if metricValue(body, "careerledger_projection_lag_events") >= 1 && !strings.Contains(body, "careerledger_projection_lag_seconds 0\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lag metrics did not show the stalled event:\n%s", grepLines(body, "careerledger_projection_lag", "careerledger_log_head"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// grepLines returns body's lines that start with one of the prefixes.
func grepLines(body string, prefixes ...string) string {
	var b strings.Builder
	for line := range strings.Lines(body) {
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				b.WriteString(line)
			}
		}
	}
	return b.String()
}

// TestReadyzSeesAStalledProjector: a projector that stops with a single
// event behind (far under --ready-max-lag) turns /readyz 503 once it has
// applied nothing for --ready-max-stall, by this instance's clock, and
// ready again once it moves.
func TestReadyzSeesAStalledProjector(t *testing.T) {
	cfg := baseConfig(t)
	cfg.ReadyMaxStall = 500 * time.Millisecond
	m := start(t, cfg)
	url := "http://" + m.Addr() + "/readyz"
	if code, body := get(t, url); code != 200 {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	resume := m.pauseLive()
	defer resume()
	// Recorded an hour ago by another instance's clock: only this
	// instance's clock counts.
	if _, _, err := m.eventLog.Append(context.Background(), "E1", 0, "", events.PersonRegistered{PersonID: "E1", Name: "n", Department: "Ops",
		JoinedOn: domain.MustDate("2020-01-01")}, time.Now().Add(-time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, url); code != 200 || !strings.Contains(body, `"lag":1`) {
		t.Errorf("/readyz with an event just behind = %d %s, want ready", code, body)
	}
	time.Sleep(700 * time.Millisecond)
	if code, body := get(t, url); code != http.StatusServiceUnavailable || !strings.Contains(body, "projector stalled") || !strings.Contains(body, "stalled_seconds") {
		t.Errorf("/readyz with the projector stalled = %d %s, want 503 projector stalled", code, body)
	}
	resume()
	deadline := time.Now().Add(5 * time.Second)
	for code, body := get(t, url); code != 200; code, body = get(t, url) {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after the projector resumed = %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReadyzDoesNotCallABulkCatchUpStalled: a bulk catch-up stores events
// batch by batch and makes them readable only at the head, so the readable
// position stands still while it runs; the checkpoint moving is progress.
// Before, /readyz said "projector stalled" of a catch-up longer than
// --ready-max-stall (a first start on a long log). Once the checkpoint
// stops too, it is a stall.
func TestReadyzDoesNotCallABulkCatchUpStalled(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	cfg.ReadyMaxStall = 300 * time.Millisecond
	m := start(t, cfg)
	url := "http://" + m.Addr() + "/readyz"
	resume := m.pauseLive()
	defer resume()
	ctx := context.Background()
	const n = 10
	for i := range n {
		id := fmt.Sprintf("B%d", i)
		if _, _, err := m.eventLog.Append(ctx, id, 0, "", events.PersonRegistered{PersonID: id, Name: "n", Department: "Ops",
			JoinedOn: domain.MustDate("2020-01-01")}, time.Now(), ""); err != nil {
			t.Fatal(err)
		}
	}
	recorded, err := m.eventLog.Read(ctx, 0, n)
	if err != nil || len(recorded) != n {
		t.Fatalf("read the log: %d events, %v", len(recorded), err)
	}
	st, ok := m.store.Current().(*postgres.Store)
	if !ok {
		t.Fatalf("the serving store is a %T, want a postgres store", m.store.Current())
	}
	// The catch-up's batches, one every 100 ms: a second over three times
	// the stall bound, the readable position at 0 throughout.
	for i, e := range recorded {
		if err := st.ApplyEvents(ctx, e.Position, []events.Recorded{e}); err != nil {
			t.Fatalf("store event %d: %v", i+1, err)
		}
		for range 2 {
			time.Sleep(50 * time.Millisecond)
			code, body := get(t, url)
			if strings.Contains(body, "projector stalled") || !strings.Contains(body, `"checkpoint":0,`) {
				t.Fatalf("/readyz after %d events stored of a catch-up = %d %s, want behind, not stalled", i+1, code, body)
			}
		}
	}
	// Nothing stored any more: stalled.
	deadline := time.Now().Add(5 * time.Second)
	for code, body := get(t, url); !strings.Contains(body, "projector stalled"); code, body = get(t, url) {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with the catch-up stopped = %d %s, want projector stalled", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A read of the checkpoint that fails (the read model slow to answer
	// /readyz's or the lag watch's bound) is not progress either: taken
	// for the readable position, each such read and the next that
	// answered moved "the checkpoint", and a stalled catch-up whose read
	// model answered slowly never came out stalled.
	failed, cancel := context.WithCancel(ctx)
	cancel()
	for i := range 3 {
		m.observe(0, m.storedCheckpoint(failed, 0), n)
		if code, body := get(t, url); !strings.Contains(body, "projector stalled") {
			t.Fatalf("/readyz after %d failed reads of the checkpoint = %d %s, want projector stalled", i+1, code, body)
		}
	}
}

// TestEachInstanceSaysWhetherItProjects: of two instances on one database,
// the one that takes the projector lock says so, and the other says,
// once, that it stands by.
func TestEachInstanceSaysWhetherItProjects(t *testing.T) {
	cfg, _ := productionConfig(t)
	var la, lb logLines
	startLogging(t, cfg, &la)
	la.waitLog(t, "projector lock taken: this instance projects", map[string]string{"level": "INFO"})
	startLogging(t, cfg, &lb)
	lb.waitLog(t, "projector lock held by another instance: this instance serves and takes over if that one stops", map[string]string{"level": "INFO"})
	if n := len(lb.find(t, "projector lock taken: this instance projects", nil)); n != 0 {
		t.Errorf("the second instance took the lock too (%d times)", n)
	}
}

// TestAReadModelOfAnotherLogIsRefused: careerd does not start on a
// PostgreSQL read model that has applied more events than its log holds
// (here: the read model of one embedded log, and careerd started with
// another data directory), and says which schema and what to do; on its
// own log it starts.
func TestAReadModelOfAnotherLogIsRefused(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	m := NewMain(cfg, io.Discard)
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	for _, id := range []string{"W1", "W2"} {
		if code, res := post(t, m.Addr(), m.DevToken(), registerMutation, map[string]any{"in": map[string]any{
			"id": id, "name": "n", "department": "Ops", "joinedOn": "2020-01-01"}}); code != 200 || len(res.Errors) > 0 {
			t.Fatalf("register %s: %d %+v", id, code, res.Errors)
		}
	}
	m.Close()

	other := baseConfig(t) // a data directory of its own: an empty log
	other.DatabaseURL = cfg.DatabaseURL
	o := NewMain(other, io.Discard)
	err := o.Run(context.Background())
	o.Close()
	if err == nil || !strings.Contains(err.Error(), `schema "`+cfg.Schema+`" has applied the event log up to position 2, but the log ends at 0`) ||
		!strings.Contains(err.Error(), "--schema") {
		t.Fatalf("careerd on another log: %v; want a refusal naming the schema, both positions and --schema", err)
	}

	// The other log grows past the read model's checkpoint with events of
	// its own (written through a read model of its own): the same people
	// registered again, as when the stream is deleted and the same import
	// run once more. Position, person, type and (no) key agree; the
	// recording time does not.
	grow := other
	grow.Schema = "careerledger_other"
	g := NewMain(grow, io.Discard)
	if err := g.Run(context.Background()); err != nil {
		g.Close()
		t.Fatal(err)
	}
	for _, id := range []string{"W1", "W2", "W3"} {
		if code, res := post(t, g.Addr(), g.DevToken(), registerMutation, map[string]any{"in": map[string]any{
			"id": id, "name": "n", "department": "Ops", "joinedOn": "2020-01-01"}}); code != 200 || len(res.Errors) > 0 {
			t.Fatalf("register %s: %d %+v", id, code, res.Errors)
		}
	}
	g.Close()
	o = NewMain(other, io.Discard)
	err = o.Run(context.Background())
	o.Close()
	if err == nil || !strings.Contains(err.Error(), `schema "`+cfg.Schema+`" holds at position 2 PersonRegistered of person "W2" recorded at `) ||
		!strings.Contains(err.Error(), `the event log holds PersonRegistered of person "W2" recorded at `) || !strings.Contains(err.Error(), "--schema") {
		t.Fatalf("careerd on another log grown past the read model: %v; want a refusal naming the schema, both events and --schema", err)
	}
	start(t, cfg) // its own log: no refusal
	start(t, grow)
}
