package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/events/natstest"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func call(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return res.StatusCode, b.String()
}

// rebuildAndCheck registers people, rebuilds the read model while querying
// it, and checks nothing was lost or unanswered across the switch.
func rebuildAndCheck(t *testing.T, m *Main, token string) {
	addr := m.Addr()
	for i := 0; i < 30; i++ {
		code, res := post(t, addr, token, registerMutation, map[string]any{"in": map[string]any{
			"id": fmt.Sprintf("R%03d", i), "name": "Person", "department": "Ops", "joinedOn": "2020-01-01"}})
		if code != 200 || len(res.Errors) > 0 {
			t.Fatalf("register: %d %+v", code, res.Errors)
		}
	}
	code, body := call(t, "POST", "http://"+addr+"/v1/rebuild", token)
	var started graph.RebuildStatus
	if code != http.StatusAccepted || json.Unmarshal([]byte(body), &started) != nil || started.ID == "" {
		t.Fatalf("start rebuild: %d %s; want 202 and the rebuild's id", code, body)
	}
	var st graph.RebuildStatus
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The old read model serves while the new one is built.
		_, res := post(t, addr, token, `{ people(first: 1) { totalCount } }`, nil)
		if string(res.Data) != `{"people":{"totalCount":30}}` {
			t.Fatalf("during rebuild: %s %+v", res.Data, res.Errors)
		}
		_, body := call(t, "GET", "http://"+addr+"/v1/rebuild", token)
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(body)
		}
		if st.ID != started.ID {
			t.Fatalf("polled %+v; want the id of the rebuild started, %s", st, started.ID)
		}
		if st.State == "done" || st.State == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rebuild did not finish: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.State != "done" || st.Position != 30 || st.Head != 30 {
		t.Fatalf("rebuild status = %+v", st)
	}
	// After the switch, new writes are projected into the new read model.
	code, res := post(t, addr, token, registerMutation, map[string]any{"in": map[string]any{
		"id": "AFTER", "name": "Person", "department": "Ops", "joinedOn": "2020-01-01"}})
	if code != 200 || len(res.Errors) > 0 {
		t.Fatalf("register after the switch: %d %+v", code, res.Errors)
	}
	_, res = post(t, addr, token, `{ people(first: 1) { totalCount } }`, nil)
	if string(res.Data) != `{"people":{"totalCount":31}}` {
		t.Errorf("after rebuild: %s %+v", res.Data, res.Errors)
	}
	code, body = call(t, "GET", "http://"+addr+"/v1/export?after=29", token)
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if code != 200 || len(lines) != 2 || !strings.Contains(lines[1], `"personId":"AFTER"`) || !strings.Contains(lines[0], `"position":30`) {
		t.Errorf("export after 29: %d %q", code, body)
	}
	// The next rebuild has an id of its own.
	code, body = call(t, "POST", "http://"+addr+"/v1/rebuild", token)
	var again graph.RebuildStatus
	if code != http.StatusAccepted || json.Unmarshal([]byte(body), &again) != nil || again.ID == "" || again.ID == started.ID {
		t.Errorf("a second rebuild: %d %s; want an id other than %s", code, body, started.ID)
	}
	for st := m.rebuild.RebuildStatus(); st.State == "running"; st = m.rebuild.RebuildStatus() {
		if time.Now().After(deadline) {
			t.Fatalf("the second rebuild did not finish: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRebuildWithoutDowntimeInMemory(t *testing.T) {
	m := start(t, baseConfig(t))
	rebuildAndCheck(t, m, m.DevToken())
}

func TestRebuildWithoutDowntimeOnPostgres(t *testing.T) {
	// A query that took the old read model just before a switch runs its
	// statements on it after the switch (People runs four, each on its
	// own): the retired schema outlives the switch by retiredGrace so
	// that they finish. rebuildAndCheck queries across its switches, so
	// their grace outlasts the test; a switch with no query in flight
	// then has none, and its retired schemas go at once.
	grace, every := retiredGrace, sweepRetiredEvery
	retiredGrace, sweepRetiredEvery = time.Hour, 50*time.Millisecond
	t.Cleanup(func() { retiredGrace, sweepRetiredEvery = grace, every })
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	m := start(t, cfg)
	old := m.store.Current()
	rebuildAndCheck(t, m, m.DevToken())
	active, ok, err := postgres.ReadActive(context.Background(), pool, cfg.Schema)
	if err != nil || !ok || active.Schema == cfg.Schema || !strings.HasPrefix(active.Schema, cfg.Schema+"_") {
		t.Errorf("active read model after rebuild = %+v, %v, %v", active, ok, err)
	}
	// A query in flight on the model switched away from is answered, as
	// it was before the switch, within the grace.
	if page, err := old.People(context.Background(), projections.PeopleFilter{First: 1}); err != nil || page.TotalCount != 30 {
		t.Errorf("a query on the retired read model within its grace: %+v, %v", page, err)
	}
	// The instance that switched drops what it retired once the grace is
	// over (rebuildAndCheck's rebuilds are done: nothing reads it).
	retiredGrace = 0
	if code, body := call(t, "POST", "http://"+m.Addr()+"/v1/rebuild", m.DevToken()); code != http.StatusAccepted {
		t.Fatalf("start rebuild: %d %s", code, body)
	}
	for deadline := time.Now().Add(20 * time.Second); m.rebuild.RebuildStatus().State == "running"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the last rebuild did not finish: %+v", m.rebuild.RebuildStatus())
		}
	}
	if st := m.rebuild.RebuildStatus(); st.State != "done" {
		t.Fatalf("the last rebuild: %+v", st)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left := pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)`, []string{cfg.Schema, active.Schema})
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("schemas %v, retired with no grace, are still there", left)
		}
	}
	if active, _, err = postgres.ReadActive(context.Background(), pool, cfg.Schema); err != nil {
		t.Fatal(err)
	}
	// A rebuild that died (its claim ended with its session) before it
	// switched or cleaned up: the next sweep drops its schema.
	dead := cfg.Schema + "_20260101t000000_deadbeef"
	claim, err := postgres.BeginRebuild(context.Background(), pool, cfg.Schema, dead)
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(context.Background(), pool, dead); err != nil {
		t.Fatal(err)
	}
	claim.Release()
	// A restart serves the rebuilt schema.
	m.Close()
	m2 := start(t, cfg)
	_, res := post(t, m2.Addr(), m2.DevToken(), `{ people(first: 1) { totalCount } }`, nil)
	if string(res.Data) != `{"people":{"totalCount":31}}` {
		t.Errorf("after restart: %s %+v", res.Data, res.Errors)
	}
	// The restarted instance's sweep drops the dead rebuild's schema.
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)`, []string{dead})
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("schema %v, a dead rebuild's, is still there", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var serving bool
	if err := pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, active.Schema).Scan(&serving); err != nil || !serving {
		t.Errorf("the active schema is gone (%v)", err)
	}
}

func TestExportNeedsAdminOrHR(t *testing.T) {
	m := start(t, baseConfig(t))
	emp, err := m.tokens.Mint(graph.Principal{Subject: "e", Roles: []string{graph.RoleEmployee}, Person: "E1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := call(t, "GET", "http://"+m.Addr()+"/v1/export", emp); code != http.StatusForbidden {
		t.Errorf("employee export: %d, want 403", code)
	}
	if code, _ := call(t, "POST", "http://"+m.Addr()+"/v1/rebuild", emp); code != http.StatusForbidden {
		t.Errorf("employee rebuild: %d, want 403", code)
	}
	if code, _ := call(t, "GET", "http://"+m.Addr()+"/v1/export", "garbage"); code != http.StatusUnauthorized {
		t.Errorf("bad token export: %d, want 401", code)
	}
}

func TestANewCatalogueVersionRebuildsTheReadModel(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	m := start(t, cfg)
	code, res := post(t, m.Addr(), m.DevToken(), registerMutation, map[string]any{"in": map[string]any{
		"id": "C1", "name": "Person", "department": "Ops", "joinedOn": "2020-01-01"}})
	if code != 200 || len(res.Errors) > 0 {
		t.Fatalf("register: %d %+v", code, res.Errors)
	}
	m.Close()

	// The same rules under a new version: a new catalogue judged nothing yet.
	doc := strings.Replace(string(domain.DefaultCatalogueJSON()), `"version": 1`, `"version": 2`, 1)
	if !strings.Contains(doc, `"version": 2`) {
		t.Fatal("could not bump the catalogue version")
	}
	path := filepath.Join(t.TempDir(), "catalogue.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Catalogue = path
	m2 := start(t, cfg)
	deadline := time.Now().Add(15 * time.Second)
	for {
		active, _, err := postgres.ReadActive(context.Background(), pool, cfg.Schema)
		if err != nil {
			t.Fatal(err)
		}
		if active.CatalogueVersion == 2 {
			if active.Schema == cfg.Schema {
				t.Errorf("rebuilt into the serving schema %s", active.Schema)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rebuild for the new catalogue version: %+v", active)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, res = post(t, m2.Addr(), m2.DevToken(), `{ person(id: "C1") { standing { catalogueVersion } } }`, nil)
	if !strings.Contains(string(res.Data), `"catalogueVersion":2`) {
		t.Errorf("standing after the rebuild: %s %+v", res.Data, res.Errors)
	}
	if code, body := get(t, "http://"+m2.Addr()+"/readyz"); code != 200 {
		t.Errorf("/readyz of the instance of the read model's catalogue = %d %s", code, body)
	}
	m2.Close()

	// Started again with the older version (the built-in one): its own
	// rebuild would never switch back over the newer model, so none is
	// started; it serves, and says that its answers mix two rule books,
	// until the read model is rebuilt for it on request.
	cfg.Catalogue = ""
	var logs logLines
	m3 := startLogging(t, cfg, &logs)
	if n := len(logs.find(t, "the read model was judged by a newer version of this catalogue than this instance's, or built in a newer format: not rebuilt; "+
		"while its catalogue is newer, its answers mix two rule books (the stored levels follow the newer one), which /readyz and careerledger_catalogue_behind_read_model say. "+
		"Start careerd with the catalogue the read model was judged by, or rebuild the read model for this one (careerctl rebuild --wait)",
		map[string]string{"level": "WARN", "version": "1", "read_model_version": "2"})); n != 1 {
		t.Errorf("the older catalogue was told %d times, want once:\n%s", n, logs.String())
	}
	url := "http://" + m3.Addr() + "/readyz"
	if code, body := get(t, url); code != 200 || !strings.Contains(body, `"catalogue":"older than the read model's`) ||
		!strings.Contains(body, `"catalogue_version":1`) || !strings.Contains(body, `"read_model_catalogue_version":2`) {
		t.Errorf("/readyz of an instance with an older catalogue = %d %s", code, body)
	}
	behind := func() string {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, body := get(t, "http://"+m3.Addr()+"/metrics")
			for line := range strings.Lines(body) {
				if v, ok := strings.CutPrefix(line, "careerledger_catalogue_behind_read_model "); ok {
					return strings.TrimSpace(v)
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("no careerledger_catalogue_behind_read_model in /metrics")
			}
		}
	}
	for deadline := time.Now().Add(5 * time.Second); behind() != "1"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("careerledger_catalogue_behind_read_model = %s with an older catalogue, want 1", behind())
		}
	}
	if st := m3.rebuild.RebuildStatus(); st.State != "idle" {
		t.Errorf("an instance with an older catalogue started a rebuild: %+v", st)
	}
	if code, body := call(t, "POST", "http://"+m3.Addr()+"/v1/rebuild", m3.DevToken()); code != http.StatusAccepted {
		t.Fatalf("start rebuild: %d %s", code, body)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, body := get(t, url); code == 200 && !strings.Contains(body, `"catalogue"`) {
			break
		}
		if time.Now().After(deadline) {
			code, body := get(t, url)
			t.Fatalf("/readyz after a rebuild for the older catalogue = %d %s", code, body)
		}
	}
	if active, _, err := postgres.ReadActive(context.Background(), pool, cfg.Schema); err != nil || active.CatalogueVersion != 1 {
		t.Errorf("after the requested rebuild the read model is %+v, %v; want catalogue version 1", active, err)
	}
	for deadline := time.Now().Add(5 * time.Second); behind() != "0"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("careerledger_catalogue_behind_read_model = %s after the rebuild, want 0", behind())
		}
	}
	if n := len(logs.find(t, "rebuild failed; the old read model keeps serving", nil)); n != 0 {
		t.Errorf("%d rebuilds failed", n)
	}
}

func TestAnOlderReadModelFormatIsRebuilt(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	m := start(t, cfg)
	if code, res := post(t, m.Addr(), m.DevToken(), registerMutation, map[string]any{"in": map[string]any{
		"id": "F1", "name": "Person", "department": "Ops", "joinedOn": "2020-01-01"}}); code != 200 || len(res.Errors) > 0 {
		t.Fatalf("register: %d %+v", code, res.Errors)
	}
	m.Close()
	active, _, _ := postgres.ReadActive(context.Background(), pool, cfg.Schema)
	active.Format = postgres.Format - 1
	if err := postgres.WriteActive(context.Background(), pool, cfg.Schema, active); err != nil {
		t.Fatal(err)
	}
	var logs logLines
	m2 := startLogging(t, cfg, &logs)
	// The operator reads which format it was and which it becomes.
	logs.waitLog(t, "the read model was built by another catalogue or format; rebuilding it while the old one serves", map[string]string{"level": "WARN",
		"format": fmt.Sprint(postgres.Format), "read_model_format": fmt.Sprint(postgres.Format - 1), "version": "1", "read_model_version": "1"})
	deadline := time.Now().Add(15 * time.Second)
	for {
		now, _, err := postgres.ReadActive(context.Background(), pool, cfg.Schema)
		if err != nil {
			t.Fatal(err)
		}
		if now.Format == postgres.Format && now.Schema != active.Schema {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an older read-model format was not rebuilt: %+v", now)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, res := post(t, m2.Addr(), m2.DevToken(), `{ skillDistribution(field: SERVICE_DESK) { department level count } }`, nil)
	if string(res.Data) != `{"skillDistribution":[{"department":"Ops","level":0,"count":1}]}` {
		t.Errorf("distribution after the rebuild: %s %+v", res.Data, res.Errors)
	}
}

// Only the schema a rebuild builds, which nobody queries before the
// switch, may build its indexes after its first people's rows: dropping
// them locks their tables against readers. The serving schema never does.
func TestOnlyARebuildsSchemaBuildsIndexesAfterItsRows(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	m := start(t, cfg)
	if st, ok := m.store.Current().(*postgres.Store); !ok {
		t.Fatalf("the serving store is a %T, want a postgres store", m.store.Current())
	} else if st.ReindexAbove > 0 {
		t.Errorf("the serving store drops indexes from %d people", st.ReindexAbove)
	}
	schema, claim, err := m.claimSchema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer claim.Release()
	target, err := m.newReadModel(context.Background(), schema, claim)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := target.(*postgres.Store)
	if !ok {
		t.Fatalf("a rebuild's store is a %T, want a postgres store", target)
	}
	if st.ReindexAbove != postgres.DefaultReindexAbove {
		t.Errorf("a rebuild's store has ReindexAbove %d, want %d", st.ReindexAbove, postgres.DefaultReindexAbove)
	}
	// Switched to, it serves: its people table may still be empty (a log
	// without people), and a later catch-up must not drop its indexes.
	if err := m.switchTo(context.Background(), target, schema, false, nil); err != nil {
		t.Fatal(err)
	}
	if st.ReindexAbove > 0 {
		t.Errorf("the store switched to still drops indexes from %d people", st.ReindexAbove)
	}
}

// TestAStopMidRebuildLeavesNoSchemaBehind: careerd stopped while a rebuild
// fills its schema stops the rebuild and waits for it, and the rebuild
// drops its unfinished schema: every schema left is the active one or one
// a switch noted as retired.
func TestAStopMidRebuildLeavesNoSchemaBehind(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	var logs logLines
	m := startLogging(t, cfg, &logs)
	token := m.DevToken()
	for part := range 3 { // an import request carries up to 10,000 lines
		var lines strings.Builder
		for i := range 4000 {
			fmt.Fprintf(&lines, `{"op":"registerPerson","input":{"id":"S%d_%04d","name":"P","department":"Ops","joinedOn":"2020-01-01"}}`+"\n", part, i)
		}
		req, err := http.NewRequest(http.MethodPost, "http://"+m.Addr()+"/v1/import", strings.NewReader(lines.String()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("import: %d", res.StatusCode)
		}
	}
	if code, body := call(t, "POST", "http://"+m.Addr()+"/v1/rebuild", token); code != http.StatusAccepted {
		t.Fatalf("start rebuild: %d %s", code, body)
	}
	// Stop once the rebuild has stored its first batch, well before the
	// head (12,000 events, batches of 2,000).
	deadline := time.Now().Add(20 * time.Second)
	for st := m.rebuild.RebuildStatus(); st.Position == 0; st = m.rebuild.RebuildStatus() {
		if st.State != "running" || time.Now().After(deadline) {
			t.Fatalf("the rebuild did not get going: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	m.Close()
	state := m.rebuild.RebuildStatus().State
	if state != "failed" {
		t.Fatalf("the rebuild was %s after the stop, want failed (stopped before its head)", state)
	}
	// Stopped with careerd, not failed: told at info, nothing to alert on.
	if n := len(logs.find(t, "rebuild failed; the old read model keeps serving", nil)); n != 0 {
		t.Errorf("a rebuild stopped with careerd was logged as failed %d times", n)
	}
	if n := len(logs.find(t, "rebuild stopped with careerd; the old read model stays, and the rebuild must be started again", map[string]string{"level": "INFO"})); n != 1 {
		t.Errorf("a rebuild stopped with careerd was told %d times, want once", n)
	}

	ctx := context.Background()
	active, _, err := postgres.ReadActive(ctx, pool, cfg.Schema)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{active.Schema: true}
	for _, s := range pgtest.Strings(t, pool, `SELECT schema FROM public.careerledger_retired_schemas WHERE name = $1`, cfg.Schema) {
		kept[s] = true
	}
	for _, s := range pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = $1 OR left(nspname, length($1) + 1) = $1 || '_'`, cfg.Schema) {
		if !kept[s] {
			t.Errorf("schema %s left behind (active %s)", s, active.Schema)
		}
	}
	if active.Schema != cfg.Schema {
		t.Errorf("active schema %s, want %s (the stopped rebuild never switched)", active.Schema, cfg.Schema)
	}
	if claims := pgtest.Strings(t, pool, `SELECT schema FROM public.careerledger_rebuilds WHERE name = $1`, cfg.Schema); len(claims) != 0 {
		t.Errorf("the stopped rebuild still claims %v", claims)
	}
}

// TestAStartFollowsASwitchMadeWhileItMigrated: an instance starting while
// migrations are held back (another instance's long migration) reads the
// active schema, waits, and meanwhile a switch retires that schema and a
// sweep drops it; its migration then makes the schema anew, empty. It
// serves the schema switched to instead, and leaves the empty one noted as
// retired for the sweep.
func TestAStartFollowsASwitchMadeWhileItMigrated(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	start(t, cfg).Close() // records cfg.Schema as the active one
	ctx := context.Background()
	next := cfg.Schema + "_20260101t000000_0000beef"
	if err := postgres.Migrate(ctx, pool, next); err != nil {
		t.Fatal(err)
	}
	m, ran, release := startBehindMigrations(t, cfg, pool)
	cat := domain.DefaultCatalogue()
	if err := postgres.WriteActive(ctx, pool, cfg.Schema, postgres.Active{Schema: next, CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
		t.Fatal(err)
	}
	if dropped, err := postgres.DropRetired(ctx, pool, cfg.Schema, 0); err != nil || len(dropped) != 1 {
		t.Fatalf("drop the retired schema: %v, %v", dropped, err)
	}
	release()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if st, ok := m.store.Current().(*postgres.Store); !ok || st.Schema() != next {
		t.Errorf("the instance serves %v, want the schema switched to, %s", m.store.Current(), next)
	}
	if got := pgtest.Strings(t, pool, `SELECT schema FROM public.careerledger_retired_schemas WHERE name = $1`, cfg.Schema); !slices.Equal(got, []string{cfg.Schema}) {
		t.Errorf("retired %v, want the schema the migration made anew, %s", got, cfg.Schema)
	}
}

// TestAStartSweepsAtOnce: an instance restarted after its rebuild was
// killed drops the dead rebuild's schema as it starts, not a sweep period
// later.
func TestAStartSweepsAtOnce(t *testing.T) {
	every := sweepRetiredEvery
	sweepRetiredEvery = time.Hour
	t.Cleanup(func() { sweepRetiredEvery = every })
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	ctx := context.Background()
	dead := cfg.Schema + "_20260101t000000_0000dead"
	claim, err := postgres.BeginRebuild(ctx, pool, cfg.Schema, dead)
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(ctx, pool, dead); err != nil {
		t.Fatal(err)
	}
	claim.Release() // as a killed process's session would end
	start(t, cfg)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if left := pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = $1`, dead); len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead rebuild's schema %s is still there 10 s after the start", dead)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestARebuildStopsWhenItsClaimIsLost: a rebuild whose claim's session
// ends (a PostgreSQL restart, an administrator) while the process lives
// stops with a clear cause rather than switch to, or go on filling, a
// schema a sweep may drop, and drops the schema it made.
func TestARebuildStopsWhenItsClaimIsLost(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	m := start(t, cfg)
	ctx := context.Background()
	schema := loseClaimAtSwitch(t, pool, cfg.Schema, func() {
		if code, body := call(t, "POST", "http://"+m.Addr()+"/v1/rebuild", m.DevToken()); code != http.StatusAccepted {
			t.Fatalf("start rebuild: %d %s", code, body)
		}
	})
	var st graph.RebuildStatus
	for deadline := time.Now().Add(15 * time.Second); ; {
		if st = m.rebuild.RebuildStatus(); st.State != "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rebuild still runs: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.State != "failed" || !strings.Contains(st.Error, "claim on schema "+schema+" was lost") {
		t.Errorf("rebuild status %+v, want failed for the lost claim on %s", st, schema)
	}
	if left := pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = $1`, schema); len(left) != 0 {
		t.Errorf("the stopped rebuild left its schema %v", left)
	}
	if left := pgtest.Strings(t, pool, `SELECT schema FROM public.careerledger_rebuilds`); len(left) != 0 {
		t.Errorf("claims left %v", left)
	}
	if active, _, err := postgres.ReadActive(ctx, pool, cfg.Schema); err != nil || active.Schema != cfg.Schema {
		t.Errorf("active %+v, %v; want the serving %s", active, err, cfg.Schema)
	}
}

// TestAFirstStartBehindAnotherFollowsIt: the first two instances of a
// deployment start together; the second waits for migrations while the
// first records its schema and a rebuild switches away from it. The second
// serves the schema the pointer names, and the default schema its
// migration made is noted as retired for the sweep.
func TestAFirstStartBehindAnotherFollowsIt(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	ctx := context.Background()
	other := cfg.Schema + "_20260101t000000_0000cafe"
	if err := postgres.Migrate(ctx, pool, other); err != nil {
		t.Fatal(err)
	}
	m, ran, release := startBehindMigrations(t, cfg, pool)
	cat := domain.DefaultCatalogue()
	if _, err := postgres.InitActive(ctx, pool, cfg.Schema, postgres.Active{Schema: other, CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
		t.Fatal(err)
	}
	release()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if st, ok := m.store.Current().(*postgres.Store); !ok || st.Schema() != other {
		t.Errorf("the instance serves %v, want the recorded %s", m.store.Current(), other)
	}
	if got := pgtest.Strings(t, pool, `SELECT schema FROM public.careerledger_retired_schemas WHERE name = $1`, cfg.Schema); !slices.Equal(got, []string{cfg.Schema}) {
		t.Errorf("retired %v, want the schema its migration made, %s", got, cfg.Schema)
	}
}

// migrateLockKey is postgres.Migrate's advisory lock.
const migrateLockKey = 0x6361726565726c01

// holdMigrations holds every migration of pool's database back, as another
// instance's long migration would, until the returned func is called.
func holdMigrations(t *testing.T, pool *pgxpool.Pool) (release func()) {
	t.Helper()
	ctx := context.Background()
	holder, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close(ctx) })
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrateLockKey)); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", int64(migrateLockKey)); err != nil {
			t.Fatal(err)
		}
	}
}

// startBehindMigrations starts an instance while migrations are held back,
// and returns once it waits for them; release lets it go on, and ran
// tells how its start ended.
func startBehindMigrations(t *testing.T, cfg Config, pool *pgxpool.Pool) (m *Main, ran chan error, release func()) {
	t.Helper()
	release = holdMigrations(t, pool)
	m = NewMain(cfg, io.Discard)
	t.Cleanup(func() { m.Close() })
	ran = make(chan error, 1)
	go func() { ran <- m.Run(context.Background()) }()
	awaitMigrationWaiter(t, pool)
	return m, ran, release
}

// awaitMigrationWaiter returns once a session waits for the migration lock.
func awaitMigrationWaiter(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting bool
		if err := pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND classid::bigint = $1::bigint >> 32 AND objid::bigint = $1::bigint & 4294967295)`, int64(migrateLockKey)).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nobody waited for the migration lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// loseClaimAtSwitch holds deployment name's registry row, runs start (which
// starts a rebuild), waits until the rebuild has filled its schema and
// waits at its switch, ends its claim's session, waits until the rebuild
// has given the switch up (it notes its schema as retired before it waits
// for the row to drop it), lets the row go, and returns the schema.
func loseClaimAtSwitch(t *testing.T, pool *pgxpool.Pool, name string, start func()) string {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT FROM public.careerledger_read_models WHERE name = $1 FOR UPDATE`, name); err != nil {
		t.Fatal(err)
	}
	start()
	var schema string
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := pool.QueryRow(ctx, `SELECT coalesce((SELECT r.schema FROM public.careerledger_rebuilds r
			JOIN pg_namespace n ON n.nspname = r.schema WHERE r.name = $1), '')
			FROM pg_locks WHERE NOT granted AND locktype = 'transactionid' LIMIT 1`, name).Scan(&schema); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if schema != "" {
			break // its schema is there, and something waits for the row
		}
		if time.Now().After(deadline) {
			t.Fatal("the rebuild never waited at its switch")
		}
		time.Sleep(10 * time.Millisecond)
	}
	pgtest.EndClaim(t, pool, schema)
	for deadline := time.Now().Add(15 * time.Second); ; {
		if len(pgtest.Strings(t, pool, `SELECT schema FROM public.careerledger_retired_schemas WHERE schema = $1`, schema)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rebuild did not give its switch up 15 s after its claim was lost")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	return schema
}

// TestAFailedRebuildForANewerFormatIsRetried: the rebuild careerd starts
// for a newer catalogue or format, when it fails, is started again while
// the read model is still the older one.
func TestAFailedRebuildForANewerFormatIsRetried(t *testing.T) {
	every := staleRetryEvery
	staleRetryEvery = 100 * time.Millisecond
	t.Cleanup(func() { staleRetryEvery = every })
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	start(t, cfg).Close()
	ctx := context.Background()
	active, _, _ := postgres.ReadActive(ctx, pool, cfg.Schema)
	active.Format = postgres.Format - 1
	if err := postgres.WriteActive(ctx, pool, cfg.Schema, active); err != nil {
		t.Fatal(err)
	}
	var m *Main
	failed := loseClaimAtSwitch(t, pool, cfg.Schema, func() { m = start(t, cfg) })
	for deadline := time.Now().Add(20 * time.Second); ; {
		now, _, err := postgres.ReadActive(ctx, pool, cfg.Schema)
		if err != nil {
			t.Fatal(err)
		}
		if now.Format == postgres.Format {
			if now.Schema == failed || now.Schema == cfg.Schema {
				t.Errorf("switched to %s, want a new rebuild's schema", now.Schema)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed rebuild was not tried again: %+v, status %+v", now, m.rebuild.RebuildStatus())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writesThroughRebuilds records and reads back while rebuilds run and
// switch, and fails on any write refused as NOT_FOUND, any person missing
// right after the mutation that registered them returned, or any count
// going backwards: a switch must serve everything the model it replaces
// had applied.
func writesThroughRebuilds(t *testing.T, m *Main, rebuilds int) {
	writesThroughRebuildsOn(t, m.DevToken(), []*Main{m}, make([]int, rebuilds))
}

// writesThroughRebuildsOn is writesThroughRebuilds with instances of one
// deployment: two writers on each, each reading back through the instance
// it wrote through, and a rebuild started on instances[i] for each i in
// rebuildOn.
func writesThroughRebuildsOn(t *testing.T, token string, instances []*Main, rebuildOn []int) {
	// Writers go on for a moment between the rebuilt model's catching up
	// and its serving.
	beforeSet = func() { time.Sleep(150 * time.Millisecond) }
	t.Cleanup(func() { beforeSet = nil })
	addr := instances[0].Addr()
	for i := range 200 {
		if code, res := post(t, addr, token, registerMutation, map[string]any{"in": map[string]any{
			"id": fmt.Sprintf("S%03d", i), "name": "Person", "department": "Ops", "joinedOn": "2020-01-01"}}); code != 200 || len(res.Errors) > 0 {
			t.Fatalf("register: %d %+v", code, res.Errors)
		}
	}
	writers := 4
	if len(instances) > 1 {
		writers = 2 * len(instances)
	}
	stopWriting := make(chan struct{})
	written := make(chan int, writers)
	for w := range writers {
		// Half the writers read back through the other instance.
		readVia := instances[(w+w/len(instances))%len(instances)]
		go writeAndReadBack(t, instances[w%len(instances)].Addr(), readVia.Addr(), token, w, stopWriting, written)
	}
	for _, on := range rebuildOn {
		addr := instances[on].Addr()
		if code, body := call(t, "POST", "http://"+addr+"/v1/rebuild", token); code != http.StatusAccepted {
			t.Fatalf("start rebuild: %d %s", code, body)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			var st graph.RebuildStatus
			_, body := call(t, "GET", "http://"+addr+"/v1/rebuild", token)
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatal(body)
			}
			if st.State == "failed" {
				t.Fatalf("rebuild failed: %+v", st)
			}
			if st.State == "done" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rebuild did not finish: %+v", st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	close(stopWriting)
	total := 0
	for range writers {
		total += <-written
	}
	if total == 0 {
		t.Error("nothing was written during the rebuilds")
	}
}

// writeAndReadBack is one writer of writesThroughRebuilds: until stop, it
// registers a person through addr, then assesses them and reads them back
// through readAddr.
func writeAndReadBack(t *testing.T, addr, readAddr, token string, w int, stop <-chan struct{}, written chan<- int) {
	{
		n, lastCount := 0, 0
		defer func() { written <- n }()
		for ; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("W%d-%05d", w, n)
			code, res := post(t, addr, token, registerMutation, map[string]any{"in": map[string]any{
				"id": id, "name": "Writer", "department": "Ops", "joinedOn": "2020-01-01"}})
			if code != 200 || len(res.Errors) > 0 {
				t.Errorf("register %s: %d %+v", id, code, res.Errors)
				return
			}
			code, res = post(t, readAddr, token, `mutation($in: AssessThemeInput!) { assessTheme(input: $in) { accomplishmentId } }`,
				map[string]any{"in": map[string]any{"personId": id, "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2021-01-01"}})
			if code != 200 || len(res.Errors) > 0 {
				t.Errorf("assess %s right after registering them: %d %+v", id, code, res.Errors)
				return
			}
			_, res = post(t, readAddr, token, `query($id: ID!) { person(id: $id) { id } people(first: 1) { totalCount } }`, map[string]any{"id": id})
			var got struct {
				Person *struct{ ID string }
				People struct{ TotalCount int }
			}
			if len(res.Errors) > 0 || json.Unmarshal(res.Data, &got) != nil || got.Person == nil {
				t.Errorf("%s right after its registration returned: %s %+v", id, res.Data, res.Errors)
				return
			}
			if got.People.TotalCount < lastCount {
				t.Errorf("people went from %d to %d", lastCount, got.People.TotalCount)
				return
			}
			lastCount = got.People.TotalCount
		}
	}
}

func TestWritesThroughRebuildsInMemory(t *testing.T) {
	writesThroughRebuilds(t, start(t, baseConfig(t)), 8)
}

// TestWritesThroughRebuildsOnTwoInstances: the production configuration
// with two instances of one deployment; rebuilds started on the one that
// projects and on the one that does not; every writer reads back through
// the instance it wrote through.
func TestWritesThroughRebuildsOnTwoInstances(t *testing.T) {
	// Only the switch's notification (or a failed batch) makes an instance
	// follow: the look every half second would hide a lost one.
	every := followEvery
	followEvery = time.Hour
	t.Cleanup(func() { followEvery = every })
	cfg, _ := productionConfig(t)
	a := start(t, cfg) // it projects
	b := start(t, cfg)
	writesThroughRebuildsOn(t, adminToken(t), []*Main{a, b}, []int{1, 0, 1, 1})
}

func TestWritesThroughRebuildsOnPostgres(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	writesThroughRebuilds(t, start(t, cfg), 4)
}

// TestARebuildWhileNATSIsAwayIsRefused: a rebuild asked for while the event
// log cannot be reached is refused at once (503, in the plain words a write
// is refused in), and nothing starts: the status stays idle, rather than
// "running" and then a failure only careerd's log shows.
func TestARebuildWhileNATSIsAwayIsRefused(t *testing.T) {
	s := natstest.Start(t)
	var logs logLines
	m := startAgainst(t, withCredentials(s), false, &logs)
	token := adminToken(t)
	s.Stop()
	logs.waitLog(t, lostMsg, map[string]string{"connection": "careerd"})
	start := time.Now()
	code, body := call(t, "POST", "http://"+m.Addr()+"/v1/rebuild", token)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the refusal took %v, want a prompt answer", took)
	}
	const want = `{"errors":[{"extensions":{"code":"UNAVAILABLE"},"message":"the event log is unreachable: the connection to NATS is lost and reconnecting: the rebuild was not started; start it again once it is back"}]}` + "\n"
	if code != http.StatusServiceUnavailable || body != want {
		t.Errorf("rebuild while NATS is away: %d %q, want 503 %q", code, body, want)
	}
	logs.waitLog(t, "rebuild not started: the event log is unreachable", map[string]string{"level": "WARN"})
	if code, body := call(t, "GET", "http://"+m.Addr()+"/v1/rebuild", token); code != http.StatusOK || !strings.Contains(body, `"state":"idle"`) {
		t.Errorf("rebuild status after the refusal: %d %s, want idle", code, body)
	}
	if n := len(logs.find(t, "rebuild failed; the old read model keeps serving", nil)); n != 0 {
		t.Errorf("a rebuild ran and failed %d times, want none started", n)
	}
}

// TestWhichReadModelsAreNewerThanOurs: an instance leaves alone (no
// rebuild of its own back over it) a read model judged by a newer version
// of its catalogue, or built in a newer format by its version; one of
// another catalogue, or older, it rebuilds.
func TestWhichReadModelsAreNewerThanOurs(t *testing.T) {
	m := &Main{cat: domain.DefaultCatalogue()}
	id, v := m.cat.ID(), m.cat.Version()
	for _, c := range []struct {
		a            postgres.Active
		newer, older bool
	}{
		{postgres.Active{CatalogueID: id, CatalogueVersion: v + 1, Format: postgres.Format}, true, false},
		{postgres.Active{CatalogueID: id, CatalogueVersion: v + 1, Format: postgres.Format - 1}, true, false},
		{postgres.Active{CatalogueID: id, CatalogueVersion: v, Format: postgres.Format + 1}, true, false},
		{postgres.Active{CatalogueID: id, CatalogueVersion: v, Format: postgres.Format}, false, false},
		{postgres.Active{CatalogueID: id, CatalogueVersion: v, Format: postgres.Format - 1}, false, true},
		{postgres.Active{CatalogueID: id, CatalogueVersion: v - 1, Format: postgres.Format + 1}, false, true},
		{postgres.Active{CatalogueID: "another", CatalogueVersion: v + 1, Format: postgres.Format + 1}, false, false},
	} {
		if got := m.newerThanOurs(c.a); got != c.newer {
			t.Errorf("newerThanOurs(%+v) = %v", c.a, got)
		}
		if got := m.olderThanOurs(c.a); got != c.older {
			t.Errorf("olderThanOurs(%+v) = %v", c.a, got)
		}
	}
}

// TestAStoredEventIsTheLogsToTheMicrosecond: a read model's stored event
// is the log's when person, type and key agree and the recording times
// are within a microsecond (what PostgreSQL's rounding and the log's
// truncation can part); not otherwise.
func TestAStoredEventIsTheLogsToTheMicrosecond(t *testing.T) {
	at := time.Date(2026, 4, 1, 9, 0, 0, 123456000, time.UTC)
	logged := events.Recorded{PersonID: "E1", Type: "PersonRegistered", IdempotencyKey: "k", RecordedAt: at}
	for _, c := range []struct {
		change func(r *events.Recorded)
		same   bool
	}{
		{func(r *events.Recorded) {}, true},
		{func(r *events.Recorded) { r.RecordedAt = at.Add(time.Microsecond).In(time.FixedZone("JST", 9*3600)) }, true},
		{func(r *events.Recorded) { r.RecordedAt = at.Add(-time.Microsecond) }, true},
		{func(r *events.Recorded) { r.RecordedAt = at.Add(2 * time.Microsecond) }, false},
		{func(r *events.Recorded) { r.RecordedAt = at.Add(-2 * time.Microsecond) }, false},
		{func(r *events.Recorded) { r.PersonID = "E2" }, false},
		{func(r *events.Recorded) { r.Type = "PersonTransferred" }, false},
		{func(r *events.Recorded) { r.IdempotencyKey = "" }, false},
	} {
		stored := logged
		c.change(&stored)
		if got := sameRecord(stored, logged); got != c.same {
			t.Errorf("sameRecord(%+v, %+v) = %v, want %v", stored, logged, got, c.same)
		}
	}
}

// TestARetiredSchemaOutlivesTheLongestRequest: a query that took the old
// read model just before a switch may read it, statement by statement,
// for as long as a request may take; the schema is dropped no sooner.
func TestARetiredSchemaOutlivesTheLongestRequest(t *testing.T) {
	for _, c := range []struct{ request, want time.Duration }{
		{10 * time.Second, retiredGrace}, {60 * time.Second, 60 * time.Second}, {5 * time.Minute, 5 * time.Minute},
		// 0 is the server's default bound, not none.
		{0, graph.DefaultRequest}} {
		m := &Main{Config: Config{RequestTimeout: c.request}}
		if got := m.retiredGrace(); got != c.want {
			t.Errorf("request timeout %v: a retired schema is kept %v, want %v", c.request, got, c.want)
		}
	}
}

// TestALongReadModelNameRebuildsBesideItsSchema: a rebuild's schema is the
// read model's name with a time and a random part after it, and PostgreSQL
// cuts a name at 63 bytes. With a long --schema that cut gave back the
// serving schema's own name: the rebuild "filled" the schema it was to
// replace, switched to it and noted it as retired, and the sweep dropped
// the read model being served.
func TestALongReadModelNameRebuildsBesideItsSchema(t *testing.T) {
	grace, every := retiredGrace, sweepRetiredEvery
	retiredGrace, sweepRetiredEvery = 0, 50*time.Millisecond
	t.Cleanup(func() { retiredGrace, sweepRetiredEvery = grace, every })
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := baseConfig(t)
	cfg.DatabaseURL = pgtest.URL(pool)
	cfg.Schema = "careerledger_" + strings.Repeat("long_", 10) // 63 bytes, the most PostgreSQL keeps
	if len(cfg.Schema) != 63 {
		t.Fatalf("the name is %d bytes", len(cfg.Schema))
	}
	m := start(t, cfg)
	token := m.DevToken()
	code, res := post(t, m.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
		"id": "L1", "name": "Person", "department": "Ops", "joinedOn": "2020-01-01"}})
	if code != 200 || len(res.Errors) > 0 {
		t.Fatalf("register: %d %+v", code, res.Errors)
	}
	if code, body := call(t, "POST", "http://"+m.Addr()+"/v1/rebuild", token); code != http.StatusAccepted {
		t.Fatalf("start rebuild: %d %s", code, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	st := m.rebuild.RebuildStatus()
	for ; st.State == "running"; st = m.rebuild.RebuildStatus() {
		if time.Now().After(deadline) {
			t.Fatalf("the rebuild did not finish: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.State != "done" {
		t.Fatalf("rebuild: %+v", st)
	}
	active := pgtest.Strings(t, pool, `SELECT schema FROM public.careerledger_read_models WHERE name = $1`, cfg.Schema)
	if len(active) != 1 || active[0] == cfg.Schema || len(active[0]) > 63 {
		t.Fatalf("the read model is served from %q; want a schema of its own, of at most 63 bytes", active)
	}
	if left := pgtest.Strings(t, pool, `SELECT nspname::text FROM pg_namespace WHERE nspname = $1`, active[0]); len(left) != 1 {
		t.Fatalf("the schema switched to, %s, is not there by that name", active[0])
	}
	// Sweeps come every 50 ms: the read model served outlives them.
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		_, res := post(t, m.Addr(), token, `{ person(id: "L1") { id } }`, nil)
		if string(res.Data) != `{"person":{"id":"L1"}}` {
			t.Fatalf("after the rebuild and a sweep: %s %+v", res.Data, res.Errors)
		}
	}
	if left := pgtest.Strings(t, pool, `SELECT nspname::text FROM pg_namespace WHERE nspname = $1`, cfg.Schema); len(left) != 0 {
		t.Errorf("the replaced schema %s was not dropped", cfg.Schema)
	}
}

func TestARebuildsSchemaNameFitsPostgreSQL(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 26, 30, 0, time.UTC)
	if got := rebuildSchemaName("careerledger", at, 0x6cfe1c81); got != "careerledger_20261128t102630_6cfe1c81" {
		t.Errorf("short name: %q", got)
	}
	// Cut at a character, never inside one.
	for _, name := range []string{strings.Repeat("s", 63), strings.Repeat("ß", 31) + "s"} {
		got := rebuildSchemaName(name, at, 1)
		if len(got) > 63 || !utf8.ValidString(got) || !strings.HasSuffix(got, "_20261128t102630_00000001") {
			t.Errorf("%q: %q (%d bytes)", name, got, len(got))
		}
	}
}
