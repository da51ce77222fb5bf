package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/events/natstest"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
)

// withCredentials is s's address with credentials in it (the server asks
// for none and ignores them): what careerd logs must never show them.
func withCredentials(s *natstest.Server) string {
	return "nats://careerd:" + natsPassword + "@" + s.Addr()
}

const natsPassword = "n4ts-s3cret"

// logLines is a log careerd writes while the test reads it.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// find returns the records whose message is msg and whose attributes
// include every one of attrs.
func (l *logLines) find(t *testing.T, msg string, attrs map[string]string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(l.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			continue // careerd's banner, not a record
		}
		if rec["msg"] != msg {
			continue
		}
		ok := true
		for k, v := range attrs {
			if fmt.Sprint(rec[k]) != v {
				ok = false
			}
		}
		if ok {
			out = append(out, rec)
		}
	}
	return out
}

// waitLog waits up to 10 s for a record.
func (l *logLines) waitLog(t *testing.T, msg string, attrs map[string]string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if recs := l.find(t, msg, attrs); len(recs) > 0 {
			return recs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log record %q with %v in:\n%s", msg, attrs, l.String())
		}
	}
}

const (
	lostMsg     = "NATS connection lost; reconnecting (writes fail as unavailable meanwhile)"
	restoredMsg = "NATS connection restored"
)

// succession is a technology succession of E1's.
func succession() domain.Accomplishment {
	return domain.Accomplishment{Succession: &domain.SuccessionItem{Kind: domain.InternalPaper,
		Title: "Runbooks that run", OccurredOn: domain.MustDate("2022-03-01"), Fields: []domain.Field{domain.ServiceDesk}}}
}

// TestAnAppendWhileNATSIsAwayFailsAtOnceAndIsNeverRecorded: through the
// connection careerd makes (connectNATS), a command while the NATS server
// is away fails within moments as ErrUnavailable, and is not in the log
// once the server is back (before, the connection held the publish and
// sent it on reconnect, recorded long after its caller was told it timed
// out). The connection's loss and return are logged, credentials masked.
func TestAnAppendWhileNATSIsAwayFailsAtOnceAndIsNeverRecorded(t *testing.T) {
	s := natstest.Start(t)
	var logs logLines
	m := &Main{Config: Config{NATSURL: withCredentials(s)}, log: slog.New(slog.NewJSONHandler(&logs, nil))}
	nc, err := m.connectNATS("careerd")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	l, err := events.OpenLog(ctx, nc, events.LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rec := events.NewRecorder(l, domain.DefaultCatalogue(), nil)
	if _, err := rec.RegisterPerson(ctx, events.RegisterPerson{ID: "E1", Name: "Aiko Sato", Department: "Ops",
		JoinedOn: domain.MustDate("2019-04-01")}); err != nil {
		t.Fatal(err)
	}

	s.Stop()
	for deadline := time.Now().Add(5 * time.Second); nc.Status() != nats.RECONNECTING; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the connection never noticed the server went away (%v)", nc.Status())
		}
	}
	// An append (E1 is known: the Recorder appends without reading), one
	// with an idempotency key, and a command that must read first.
	for _, c := range []struct {
		name string
		run  func() (events.Result, error)
	}{
		{"append", func() (events.Result, error) {
			return rec.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: "E1", Accomplishment: succession()})
		}},
		{"append with a key", func() (events.Result, error) {
			return rec.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: "E1", Accomplishment: succession(), IdempotencyKey: "k1"})
		}},
		{"read first", func() (events.Result, error) {
			return rec.TransferPerson(ctx, events.TransferPerson{PersonID: "E2", Department: "Dev", EffectiveOn: domain.MustDate("2020-01-01")})
		}},
	} {
		start := time.Now()
		_, err := c.run()
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s while NATS is away took %v, want a prompt failure", c.name, took)
		}
		if !errors.Is(err, events.ErrUnavailable) {
			t.Errorf("%s while NATS is away: err = %v, want ErrUnavailable", c.name, err)
		} else {
			plainWords(t, c.name+" while NATS is away", err.Error())
		}
	}
	// Nothing else on the connection is held for later either.
	if err := nc.Publish("careerledger.test", []byte("x")); !errors.Is(err, nats.ErrReconnectBufExceeded) {
		t.Errorf("a publish while NATS is away: err = %v, want it refused at once", err)
	}
	logs.waitLog(t, lostMsg, map[string]string{"connection": "careerd", "level": "WARN", "url": "nats://careerd:********@" + s.Addr()})

	s.Start()
	logs.waitLog(t, restoredMsg, map[string]string{"connection": "careerd", "level": "INFO", "url": "nats://careerd:********@" + s.Addr()})
	time.Sleep(300 * time.Millisecond) // what the connection held would have been sent on reconnect
	rs, err := l.Read(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Type != "PersonRegistered" {
		for _, r := range rs {
			t.Logf("position %d: %s recorded at %s, stored at %s", r.Position, r.Type, r.RecordedAt, r.StoredAt)
		}
		t.Errorf("the log holds %d events after the outage, want only the registration", len(rs))
	}
	// And the log takes writes again.
	if _, err := rec.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: "E1", Accomplishment: succession(), IdempotencyKey: "k1"}); err != nil {
		t.Errorf("a write after the outage: %v", err)
	}
	if strings.Contains(logs.String(), natsPassword) {
		t.Errorf("the log shows NATS's password:\n%s", logs.String())
	}
}

// postAs posts a GraphQL request with a request id.
func postAs(t *testing.T, addr, token, requestID, query string, vars map[string]any) gqlResponse {
	t.Helper()
	out, err := tryPostAs(addr, token, requestID, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tryPostAs is postAs returning its failure, for a goroutine of a test.
func tryPostAs(addr, token, requestID, query string, vars map[string]any) (gqlResponse, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", "http://"+addr+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Request-Id", requestID)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return gqlResponse{}, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return gqlResponse{}, fmt.Errorf("%d %s: %w", res.StatusCode, raw, err)
	}
	return out, nil
}

const successionMutation = `mutation($in: RecordTechnologySuccessionInput!) {
  recordTechnologySuccession(input: $in) { position accomplishmentId }
}`

func successionInput(key string) map[string]any {
	in := map[string]any{"personId": "E1", "kind": "INTERNAL_PAPER", "title": "Runbooks that run",
		"occurredOn": "2022-03-01", "fields": []string{"SERVICE_DESK"}}
	if key != "" {
		in["idempotencyKey"] = key
	}
	return map[string]any{"in": in}
}

// startAgainst starts careerd on natsURL and, when pg, a PostgreSQL read
// model of its own, logging to logs.
func startAgainst(t *testing.T, natsURL string, pg bool, logs io.Writer) *Main {
	t.Helper()
	env := map[string]string{"NATS_URL": natsURL, "CAREER_AUTH_SECRET": "test-secret", "CAREER_HTTP_ADDR": "127.0.0.1:0"}
	if pg {
		env["DATABASE_URL"] = pgtest.URL(pgtest.NewPool(t, postgres.DefaultSchema))
	}
	cfg, err := ParseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return startLogging(t, cfg, logs)
}

// TestAMutationWhileNATSIsAwayIsUnavailable: careerd in its production
// configuration (PostgreSQL, NATS over TCP) answers a mutation while NATS
// is away at once with UNAVAILABLE, saying nothing was recorded, logs it
// with the request id, and records nothing when NATS is back.
func TestAMutationWhileNATSIsAwayIsUnavailable(t *testing.T) {
	s := natstest.Start(t)
	var logs logLines
	m := startAgainst(t, withCredentials(s), true, &logs)
	// With PostgreSQL, the instance that projects says so.
	logs.waitLog(t, "projector lock taken: this instance projects", map[string]string{"level": "INFO"})
	token := adminToken(t)
	if _, res := post(t, m.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
		"id": "E1", "name": "Aiko Sato", "department": "Ops", "joinedOn": "2019-04-01"}}); len(res.Errors) > 0 {
		t.Fatalf("register: %+v", res.Errors)
	}

	s.Stop()
	logs.waitLog(t, lostMsg, map[string]string{"connection": "careerd", "url": "nats://careerd:********@" + s.Addr()})
	for i, key := range []string{"", "k1"} {
		id := fmt.Sprintf("outage-%d", i)
		start := time.Now()
		res := postAs(t, m.Addr(), token, id, successionMutation, successionInput(key))
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s took %v, want a prompt answer", id, took)
		}
		if len(res.Errors) != 1 {
			t.Fatalf("%s: %s %+v, want one error", id, res.Data, res.Errors)
		}
		e := res.Errors[0]
		if e.Extensions["code"] != "UNAVAILABLE" || e.Extensions["requestId"] != id ||
			e.Message != "the event log is unreachable: nothing was recorded; send the request again once it is back" {
			t.Errorf("%s: %q %v, want UNAVAILABLE saying nothing was recorded, with the request id", id, e.Message, e.Extensions)
		}
		rec := logs.waitLog(t, "request failed: the event log is unreachable", map[string]string{"request_id": id, "level": "WARN", "code": "UNAVAILABLE"})
		plainWords(t, id+"'s log record", fmt.Sprint(rec["err"]))
	}
	// /readyz says so in the same words.
	if code, body := get(t, "http://"+m.Addr()+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "event log unreachable") {
		t.Errorf("/readyz while NATS is away: %d %s, want 503 saying the event log is unreachable", code, body)
	} else {
		plainWords(t, "/readyz", body)
	}
	// An export says so in its status, before any line went out.
	req, _ := http.NewRequest("GET", "http://"+m.Addr()+"/v1/export", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Request-Id", "export-1")
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "the event log is unreachable") {
			t.Errorf("export while NATS is away: %d %q, want 503 saying the log is unreachable", res.StatusCode, body)
		}
		logs.waitLog(t, "export failed: the event log is unreachable", map[string]string{"request_id": "export-1", "level": "WARN"})
	}
	// A key no record could have is bad input at once, NATS away or not.
	if res := postAs(t, m.Addr(), token, "outage-key", successionMutation, successionInput(" k9")); len(res.Errors) != 1 ||
		res.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || res.Errors[0].Extensions["field"] != "idempotencyKey" {
		t.Errorf("a key with a space before it while NATS is away: %+v, want BAD_USER_INPUT on idempotencyKey", res.Errors)
	}
	// An import's lines are each answered UNAVAILABLE, and told once at
	// warn for the request, not once a line at error.
	var lines strings.Builder
	for i := range 3 {
		fmt.Fprintf(&lines, `{"op":"assessTheme","input":{"personId":"E1","theme":"STRESS_MANAGEMENT","proficiency":"BASIC","assessedOn":"2024-01-0%d","idempotencyKey":"imp-%d"}}`+"\n", i+1, i)
	}
	req, _ = http.NewRequest(http.MethodPost, "http://"+m.Addr()+"/v1/import", strings.NewReader(lines.String()))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Request-Id", "import-1")
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || strings.Count(string(body), `"code":"UNAVAILABLE"`) != 3 ||
			strings.Count(string(body), "the event log is unreachable: nothing was recorded") != 3 || strings.Contains(string(body), "buffer") {
			t.Errorf("import while NATS is away: %d %s, want three lines UNAVAILABLE saying the event log is unreachable", res.StatusCode, body)
		}
		rec := logs.waitLog(t, "import lines not recorded: the event log is unreachable or did not answer",
			map[string]string{"request_id": "import-1", "level": "WARN", "unavailable": "3"})
		plainWords(t, "the import's log record", fmt.Sprint(rec["err"]))
		if n := len(logs.find(t, "import line failed", nil)); n != 0 {
			t.Errorf("%d import lines logged as failed at error, want none", n)
		}
	}
	_, metrics := get(t, "http://"+m.Addr()+"/metrics")
	if want := `careerledger_commands_total{command="recordTechnologySuccession",result="unavailable"} 2`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics: missing %s", want)
	}

	s.Start()
	logs.waitLog(t, restoredMsg, map[string]string{"connection": "careerd"})
	logs.waitLog(t, restoredMsg, map[string]string{"connection": "careerd-derived"})
	time.Sleep(300 * time.Millisecond)
	rs, err := m.eventLog.Read(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Errorf("the log holds %d events after the outage, want only the registration", len(rs))
	}
	// The same requests now record, each once.
	for i, key := range []string{"", "k1"} {
		res := postAs(t, m.Addr(), token, fmt.Sprintf("after-%d", i), successionMutation, successionInput(key))
		if len(res.Errors) > 0 {
			t.Errorf("after the outage: %+v", res.Errors)
		}
	}
	if rs, _ := m.eventLog.Read(context.Background(), 0, 0); len(rs) != 3 {
		t.Errorf("the log holds %d events, want 3", len(rs))
	}
	if strings.Contains(logs.String(), natsPassword) {
		t.Errorf("the log shows NATS's password:\n%s", logs.String())
	}
}

// plainWords fails t unless what (an error careerd reports or logs while
// NATS is away) says that the connection to NATS is lost and reconnecting,
// without the client library's words for it (a publish refused while the
// connection is down is nats.go's "outbound buffer limit exceeded").
func plainWords(t *testing.T, where, what string) {
	t.Helper()
	if !strings.Contains(what, "the event log is unreachable: the connection to NATS is lost and reconnecting") ||
		strings.Contains(what, "buffer") || strings.Contains(what, "nats:") {
		t.Errorf("%s: %q, want it to say that the connection to NATS is lost and reconnecting, in plain words", where, what)
	}
}

// TestAMutationWhoseAnswerIsLostIsATimeoutThatMayHaveRecorded: a mutation
// whose append reached NATS's socket but got no answer (the network went
// silent) is TIMEOUT after events.RequestTimeout, saying it may have been
// recorded and that a retry with the same idempotencyKey is safe; and so it
// is: the held append reaches the server once the network carries bytes
// again, and the retry answers it without recording it twice.
func TestAMutationWhoseAnswerIsLostIsATimeoutThatMayHaveRecorded(t *testing.T) {
	s := natstest.Start(t)
	p := natstest.StartProxy(t, s.Addr())
	var logs logLines
	m := startAgainst(t, "nats://"+p.Addr(), false, &logs)
	token := adminToken(t)
	if _, res := post(t, m.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
		"id": "E1", "name": "Aiko Sato", "department": "Ops", "joinedOn": "2019-04-01"}}); len(res.Errors) > 0 {
		t.Fatalf("register: %+v", res.Errors)
	}

	p.Hold()
	start := time.Now()
	res := postAs(t, m.Addr(), token, "silent-1", successionMutation, successionInput("k1"))
	took := time.Since(start)
	p.Release()
	if took < events.RequestTimeout || took > events.RequestTimeout+2*time.Second {
		t.Errorf("the mutation answered after %v, want about %v", took, events.RequestTimeout)
	}
	if len(res.Errors) != 1 {
		t.Fatalf("%s %+v, want one error", res.Data, res.Errors)
	}
	e := res.Errors[0]
	if e.Extensions["code"] != "TIMEOUT" || e.Extensions["requestId"] != "silent-1" ||
		!strings.Contains(e.Message, "it may have been recorded") || !strings.Contains(e.Message, "same idempotencyKey is safe") {
		t.Errorf("%q %v, want TIMEOUT saying the write may have been recorded and a retry with the key is safe", e.Message, e.Extensions)
	}
	logs.waitLog(t, "request failed: timed out or cancelled", map[string]string{"request_id": "silent-1", "level": "WARN", "code": "TIMEOUT"})

	// The append was sent: it is recorded once the bytes flow again.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if head, err := m.eventLog.Head(context.Background()); err == nil && head == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the held append never reached the log")
		}
	}
	res = postAs(t, m.Addr(), token, "silent-2", successionMutation, successionInput("k1"))
	if len(res.Errors) > 0 {
		t.Fatalf("the retry: %+v", res.Errors)
	}
	var d struct{ RecordTechnologySuccession struct{ Position string } }
	if err := json.Unmarshal(res.Data, &d); err != nil || d.RecordTechnologySuccession.Position != "2" {
		t.Errorf("the retry answered %s, want the held append's position 2", res.Data)
	}
	if head, _ := m.eventLog.Head(context.Background()); head != 2 {
		t.Errorf("the log's head is %d after the retry, want 2 (recorded once)", head)
	}
}

// TestShutdownLogsEachNATSConnectionClosed: a clean stop logs each NATS
// connection careerd made as closed, at info, before Close returns, and
// nothing at error.
func TestShutdownLogsEachNATSConnectionClosed(t *testing.T) {
	s := natstest.Start(t)
	for i := range 3 {
		var logs logLines
		m := startAgainst(t, withCredentials(s), false, &logs)
		if err := m.Close(); err != nil {
			t.Errorf("stop %d: %v", i, err)
		}
		for _, name := range []string{"careerd", "careerd-derived"} {
			if recs := logs.find(t, "NATS connection closed", map[string]string{"connection": name, "level": "INFO"}); len(recs) != 1 {
				t.Errorf("stop %d: %d info records of %s closing, want 1:\n%s", i, len(recs), name, logs.String())
			}
		}
		if strings.Contains(logs.String(), `"level":"ERROR"`) {
			t.Errorf("stop %d logged an error:\n%s", i, logs.String())
		}
	}
}

// TestAFailingProjectorSaysSoAndWaitsBeforeRetrying: when the read model
// cannot apply a batch (here its events table was renamed away), careerd
// logs the failure and tries again a second later, not at once in a loop;
// once the table is back, the projector catches up by itself.
//
// The first failure is logged; the runs that fail after it, once a second,
// are counted (careerledger_projector_failures_total) and said again only
// once every failureLogEvery (a minute; here 1.1 s), with their count.
func TestAFailingProjectorSaysSoAndWaitsBeforeRetrying(t *testing.T) {
	every := failureLogEvery
	failureLogEvery = 1100 * time.Millisecond
	t.Cleanup(func() { failureLogEvery = every })
	s := natstest.Start(t)
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	env := map[string]string{"NATS_URL": withCredentials(s), "CAREER_AUTH_SECRET": "test-secret", "CAREER_HTTP_ADDR": "127.0.0.1:0",
		"DATABASE_URL": pgtest.URL(pool), "CAREER_RYW_TIMEOUT": "500ms"}
	cfg, err := ParseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs logLines
	m := startLogging(t, cfg, &logs)
	token := adminToken(t)
	register := func(id string) gqlResponse {
		_, res := post(t, m.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
			"id": id, "name": "Aiko Sato", "department": "Ops", "joinedOn": "2019-04-01"}})
		return res
	}
	if res := register("E1"); len(res.Errors) > 0 {
		t.Fatalf("register: %+v", res.Errors)
	}
	// E1 reaches level 1: the last batch before the failure has level
	// changes, which must not go out again at every restart.
	for q, in := range map[string]map[string]any{
		`mutation($in: RecordEngagementInput!) { recordEngagement(input: $in) { position } }`: {"personId": "E1", "field": "SYSTEM_OPERATION",
			"title": "Night shift", "role": "PARTICIPANT", "startedOn": "2023-01-01", "outcome": "ONGOING", "withinBudget": true, "complexity": []string{}},
		`mutation($in: AssessThemeInput!) { assessTheme(input: $in) { position } }`: {"personId": "E1", "theme": "SERVICE_SUPPORT_MANAGEMENT",
			"proficiency": "BASIC", "assessedOn": "2023-02-01"},
	} {
		if _, res := post(t, m.Addr(), token, q, map[string]any{"in": in}); len(res.Errors) > 0 {
			t.Fatalf("%s: %+v", q, res.Errors)
		}
	}
	_, res := post(t, m.Addr(), token, `{ person(id: "E1") { standing { level } } }`, nil)
	if len(res.Errors) > 0 || !strings.Contains(string(res.Data), `"level":1`) {
		t.Fatalf("E1 is not at level 1: %s %+v", res.Data, res.Errors)
	}
	table := pgx.Identifier{postgres.DefaultSchema, "person_events"}.Sanitize()
	if _, err := pool.Exec(context.Background(), "ALTER TABLE "+table+" RENAME TO person_events_away"); err != nil {
		t.Fatal(err)
	}
	if res := register("E2"); len(res.Errors) != 1 || res.Errors[0].Extensions["code"] != "CONFLICT" {
		t.Fatalf("a registration the read model cannot apply: %+v, want CONFLICT (recorded, not applied)", res.Errors)
	}
	logs.waitLog(t, "projector failed; restarting from the checkpoint", map[string]string{"level": "ERROR"})
	// Not ready at once (the stall bound is 30 s): this instance knows its
	// projector fails.
	if code, body := get(t, "http://"+m.Addr()+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"projector failing"`) {
		t.Errorf("/readyz while the projector fails: %d %s, want 503 projector failing", code, body)
	}
	time.Sleep(2500 * time.Millisecond)
	// Tried again once a second (the metric counts every run), logged once.
	_, metrics := get(t, "http://"+m.Addr()+"/metrics")
	if !regexp.MustCompile(`(?m)^careerledger_projector_failures_total [2-4]$`).MatchString(metrics) {
		t.Errorf("/metrics after about 2.5 s of failures: careerledger_projector_failures_total is not 2-4, one a second")
	}
	if n := len(logs.find(t, "projector failed; restarting from the checkpoint", nil)); n != 1 {
		t.Errorf("%d failures logged in about 2.5 s, want the first alone", n)
	}
	// Said again once every failureLogEvery (here 1.1 s: at the third
	// failure, 2 s after the first), with the count.
	if recs := logs.find(t, "projector still failing; restarting from the checkpoint every second", map[string]string{"level": "ERROR"}); len(recs) != 1 {
		t.Errorf("the failure was said again %d times in about 2.5 s at once every 1.1 s, want once", len(recs))
	} else if recs[0]["err"] == nil || recs[0]["failed_runs"] == nil {
		t.Errorf("the reminder lacks the error or the count: %v", recs[0])
	}
	if n := len(logs.find(t, "published again the level changes of the last batch", nil)); n > 1 {
		t.Errorf("the last batch's level changes were published again %d times while the projector failed, want once at most", n)
	}
	away := pgx.Identifier{postgres.DefaultSchema, "person_events_away"}.Sanitize()
	if _, err := pool.Exec(context.Background(), "ALTER TABLE "+away+" RENAME TO person_events"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, res := post(t, m.Addr(), token, `{ person(id: "E2") { id } }`, nil)
		if len(res.Errors) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("E2 not projected 10 s after the table came back: %+v", res.Errors)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The recovery is told, and the failures counted for alerting.
	logs.waitLog(t, "projector recovered: a batch was applied after failed runs", map[string]string{"level": "INFO"})
	if code, body := get(t, "http://"+m.Addr()+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after the recovery: %d %s, want 200", code, body)
	}
	_, metrics = get(t, "http://"+m.Addr()+"/metrics")
	if !regexp.MustCompile(`(?m)^careerledger_projector_failures_total [2-9]$`).MatchString(metrics) {
		t.Errorf("/metrics: careerledger_projector_failures_total is not the 2 or more failed runs")
	}
}
