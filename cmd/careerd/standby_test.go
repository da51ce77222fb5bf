package main

import (
	"context"
	"os"
	"path/filepath"
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
