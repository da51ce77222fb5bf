package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections/postgres"
)

// TestAnOlderCatalogueStandsByForTheReadModels: during a rolling upgrade of
// the catalogue, the instance not yet restarted (version 1) holds the
// projector lock when the new one (version 2) rebuilds the read model and
// switches it; from then on the new one projects, whichever instance a
// command goes through, so every stored standing is judged by version 2.
// With the new one stopped (a rollback), the old one projects again:
// commands keep being applied.
func TestAnOlderCatalogueStandsByForTheReadModels(t *testing.T) {
	every := standByEvery
	standByEvery = 100 * time.Millisecond
	t.Cleanup(func() { standByEvery = every })
	cfg, pool := productionConfig(t)
	token := adminToken(t)
	var oldLogs logLines
	old := startLogging(t, cfg, &oldLogs)
	oldLogs.waitLog(t, "projector lock taken: this instance projects", nil)
	register := func(m *Main, id string) {
		t.Helper()
		code, res := post(t, m.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
			"id": id, "name": "Person " + id, "department": "Ops", "joinedOn": "2020-01-01"}})
		if code != 200 || len(res.Errors) > 0 {
			t.Fatalf("register %s: %d %+v", id, code, res.Errors)
		}
	}
	register(old, "V1")

	doc := strings.Replace(string(domain.DefaultCatalogueJSON()), `"version": 1`, `"version": 2`, 1)
	path := filepath.Join(t.TempDir(), "catalogue.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	newCfg := cfg
	newCfg.Catalogue = path
	newer := start(t, newCfg)
	active := func() postgres.Active {
		t.Helper()
		a, _, err := postgres.ReadActive(context.Background(), pool, cfg.Schema)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for deadline := time.Now().Add(20 * time.Second); active().CatalogueVersion != 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no switch to the new catalogue: %+v", active())
		}
	}
	oldLogs.waitLog(t, "the read model is judged by another catalogue and an instance with that catalogue runs: that instance projects, this one serves and stands by",
		map[string]string{"level": "WARN", "version": "1", "read_model_version": "2"})
	if code, body := get(t, "http://"+old.Addr()+"/readyz"); code != 200 ||
		!strings.Contains(body, `"projector":"stands by: the read model is judged by another catalogue, and an instance with that catalogue projects"`) {
		t.Errorf("/readyz of the instance standing by = %d %s", code, body)
	}
	if _, body := get(t, "http://"+newer.Addr()+"/readyz"); strings.Contains(body, `"projector"`) {
		t.Errorf("/readyz of the instance that projects = %s", body)
	}
	catalogueOf := func(id string) int {
		t.Helper()
		var v int
		err := pool.QueryRow(context.Background(), `SELECT catalogue_version FROM `+pgx.Identifier{active().Schema, "people"}.Sanitize()+` WHERE id = $1`, id).Scan(&v)
		if err != nil {
			t.Fatalf("the stored standing of %s: %v", id, err)
		}
		return v
	}
	// Through either instance, the new one applies the command.
	register(old, "V2")
	register(newer, "V3")
	for _, id := range []string{"V1", "V2", "V3"} {
		if v := catalogueOf(id); v != 2 {
			t.Errorf("%s's stored standing was judged by catalogue version %d, want 2 (the read model's)", id, v)
		}
	}

	// Rolled back: nobody runs version 2 any more, and the old instance
	// projects again rather than leave every command unapplied.
	newer.Close()
	oldLogs.waitLog(t, "no longer standing by: the read model is judged by this instance's catalogue, or no instance with its catalogue runs", map[string]string{"level": "INFO"})
	if _, body := get(t, "http://"+old.Addr()+"/readyz"); strings.Contains(body, `"projector"`) {
		t.Errorf("/readyz after the rollback = %s, want no stand-by", body)
	}
	register(old, "V4")
	if v := catalogueOf("V4"); v != 1 {
		t.Errorf("after the rollback V4 was judged by version %d, want 1 (the only instance's)", v)
	}
}

// TestAnOlderFormatStandsByForTheReadModels: during a rolling upgrade to a
// release of a newer read-model format (same catalogue), the instance not
// yet restarted may hold the projector lock when the new one's rebuild
// switches the read model. It serves the newer model as it is, says in
// /readyz and a gauge that its format is older, and leaves projecting to
// the instance of the read model's format while one runs, as an instance
// of an older catalogue does; rolled back (none runs), it projects again.
// The newer release is played by the registry's format and the presence
// an instance of it holds while it listens for switches.
func TestAnOlderFormatStandsByForTheReadModels(t *testing.T) {
	every := standByEvery
	standByEvery = 100 * time.Millisecond
	t.Cleanup(func() { standByEvery = every })
	cfg, pool := productionConfig(t)
	token := adminToken(t)
	var logs logLines
	old := startLogging(t, cfg, &logs)
	logs.waitLog(t, "projector lock taken: this instance projects", nil)
	cat := domain.DefaultCatalogue()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ok, err := postgres.FormatPresent(context.Background(), pool, cfg.Schema, cat.ID(), cat.Version(), postgres.Format)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a running instance does not hold the presence of its read-model format")
		}
	}

	newer := postgres.Format + 1
	active, _, err := postgres.ReadActive(context.Background(), pool, cfg.Schema)
	if err != nil {
		t.Fatal(err)
	}
	active.Format = newer
	if err := postgres.WriteActive(context.Background(), pool, cfg.Schema, active); err != nil {
		t.Fatal(err)
	}
	// An instance of the newer release: its presence, held as it listens.
	nctx, leave := context.WithCancel(context.Background())
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		postgres.ListenSwitches(nctx, pool, cfg.Schema, postgres.Presence{Name: cfg.Schema, CatalogueID: cat.ID(), Version: cat.Version(), Format: newer}, func() {})
	}()
	defer func() { leave(); <-listened }()
	logs.waitLog(t, "the read model was built in another format and an instance of that format runs: that instance projects, this one serves and stands by",
		map[string]string{"level": "WARN", "format": fmt.Sprint(postgres.Format), "read_model_format": fmt.Sprint(newer)})
	code, body := get(t, "http://"+old.Addr()+"/readyz")
	for _, want := range []string{
		`"projector":"stands by: the read model was built in another format, and an instance of that format projects"`,
		`"format":"older than the read model's`,
		fmt.Sprintf(`"read_model_format_version":%d`, newer),
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/readyz of the older format's instance = %d %s, want 200 with %s", code, body, want)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, metrics := get(t, "http://"+old.Addr()+"/metrics")
		if strings.Contains(metrics, "\ncareerledger_format_behind_read_model 1\n") && strings.Contains(metrics, "\ncareerledger_projector_active 0\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the older format's instance does not say it is behind and stands by:\n%s", metrics)
		}
	}

	// Rolled back: nobody writes the newer format any more, and the old
	// instance projects again.
	leave()
	<-listened
	logs.waitLog(t, "no longer standing by: the read model is judged by this instance's catalogue, or no instance with its catalogue runs", map[string]string{"level": "INFO"})
	if code, res := post(t, old.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
		"id": "W1", "name": "Person W1", "department": "Ops", "joinedOn": "2020-01-01"}}); code != 200 || len(res.Errors) > 0 {
		t.Fatalf("register after the rollback: %d %+v", code, res.Errors)
	}
	if _, body := get(t, "http://"+old.Addr()+"/readyz"); strings.Contains(body, `"projector"`) || !strings.Contains(body, `"format":"older`) {
		t.Errorf("/readyz after the rollback = %s, want no stand-by and the older format", body)
	}
}

// TestInstancesOfAnOlderReleaseAreNamedInReadyz: an instance of a release
// before format presences (format 3) holds its catalogue's presence only,
// and never stands by for a newer format; while one runs, /readyz of an
// instance serving a read model of its own format counts it, and stops
// once it is gone. An instance of this release is not counted.
func TestInstancesOfAnOlderReleaseAreNamedInReadyz(t *testing.T) {
	cfg, pool := productionConfig(t)
	m := start(t, cfg)
	other := start(t, cfg) // this release: holds both presences
	cat := domain.DefaultCatalogue()
	readyz := func() string {
		t.Helper()
		code, body := get(t, "http://"+m.Addr()+"/readyz")
		if code != 200 {
			t.Fatalf("/readyz = %d %s", code, body)
		}
		return body
	}
	if body := readyz(); strings.Contains(body, "older_releases") {
		t.Errorf("/readyz with instances of this release only = %s", body)
	}
	ctx, leave := context.WithCancel(context.Background())
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		postgres.ListenSwitches(ctx, pool, cfg.Schema, postgres.Presence{Name: cfg.Schema, CatalogueID: cat.ID(), Version: cat.Version()}, func() {})
	}()
	defer func() { leave(); <-listened }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(readyz(), `"older_releases":"1 instance(s) of a release of an older read-model format run`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz while an instance of an older release runs = %s", readyz())
		}
	}
	leave()
	<-listened
	for deadline := time.Now().Add(10 * time.Second); strings.Contains(readyz(), "older_releases"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz once the older release stopped = %s", readyz())
		}
	}
	other.Close()
}

// TestTheGaugesOfAnInstanceStandingByFollowTheReadModel: an instance that
// projected and lost the projector lock to another (its lock session
// ended) stands by; its careerledger_projection_position follows the read
// model the other projects into, as careerledger_projector_active says
// which one projects. Before, it kept the last position it applied, and a
// dashboard showed that instance's projection frozen.
func TestTheGaugesOfAnInstanceStandingByFollowTheReadModel(t *testing.T) {
	cfg, pool := productionConfig(t)
	token := adminToken(t)
	var la, lb logLines
	a := startLogging(t, cfg, &la)
	la.waitLog(t, "projector lock taken: this instance projects", nil)
	b := startLogging(t, cfg, &lb)
	lb.waitLog(t, "projector lock held by another instance: this instance serves and takes over if that one stops", nil)
	gauges := func(m *Main) (active, position int) {
		t.Helper()
		_, body := get(t, "http://"+m.Addr()+"/metrics")
		return metricValue(body, "careerledger_projector_active"), metricValue(body, "careerledger_projection_position")
	}
	register := func(m *Main, id string) int {
		t.Helper()
		code, res := post(t, m.Addr(), token, registerMutation, map[string]any{"in": map[string]any{
			"id": id, "name": "Person " + id, "department": "Ops", "joinedOn": "2020-01-01"}})
		if code != 200 || len(res.Errors) > 0 {
			t.Fatalf("register %s: %d %+v", id, code, res.Errors)
		}
		var out struct {
			RegisterPerson struct{ Position string }
		}
		if err := json.Unmarshal(res.Data, &out); err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(out.RegisterPerson.Position)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// waitGauges waits up to 10 s for m's gauges to read active and position.
	waitGauges := func(m *Main, name string, active, position int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			gotActive, gotPosition := gauges(m)
			if gotActive == active && gotPosition == position {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %s: projector_active %d, projection_position %d; want %d and %d", name, gotActive, gotPosition, active, position)
			}
		}
	}
	pos := register(a, "G1")
	waitGauges(a, "a", 1, pos)
	waitGauges(b, "b", 0, pos) // never projected: the read model's, not 0

	// a's lock session ends (a failover, pg_terminate_backend): b takes the
	// lock, or a again, whichever asks first; end it again until b holds it.
	key := postgres.ProjectorLockKey(cfg.Schema)
	for attempt := 0; ; attempt++ {
		if act, _ := gauges(b); act == 1 {
			break
		}
		if attempt == 10 {
			t.Fatalf("instance b never took the projector lock over in %d attempts", attempt)
		}
		var ended int
		if err := pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
			WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid::bigint = ($1::bigint >> 32) & 4294967295
			AND objid::bigint = $1::bigint & 4294967295 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
			key).Scan(&ended); err != nil {
			t.Fatal(err)
		}
		if ended != 1 {
			t.Fatalf("ended %d lock sessions, want 1", ended)
		}
		// a notices (its lock session answers no ping), then b takes the
		// lock, or a takes it again (and says so), whichever asks first.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if actB, _ := gauges(b); actB == 1 || len(la.find(t, "projector lock taken: this instance projects", nil)) > attempt+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("nobody took the projector lock after its session ended\nA:\n%s\nB:\n%s", la.String(), lb.String())
			}
		}
	}
	// a stands by now: it projected up to pos, and follows what b applies.
	for _, id := range []string{"G2", "G3"} {
		pos = register(a, id)
	}
	waitGauges(b, "b", 1, pos)
	waitGauges(a, "a", 0, pos)
}
