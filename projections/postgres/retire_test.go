package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestDropRetiredDropsOnlyWhatASwitchReplaced: a schema goes only once a
// switch replaced it and the grace has passed. A rebuild still filling is
// never touched, even one named (by its start time) before the active
// schema, nor is another deployment's schema, nor one a later switch made
// active again.
func TestDropRetiredDropsOnlyWhatASwitchReplaced(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	const name = "crm"
	a, b, c := name+"_20260101t090000", name+"_20260101t093000", name+"_20260102t090000"
	schemas := []string{name, a, b, c, "crm_archive", "other_20260101t090000"}
	for _, s := range schemas {
		if err := postgres.Migrate(bg, pool, s); err != nil {
			t.Fatal(err)
		}
	}
	cat := domain.DefaultCatalogue()
	activate := func(schema string) {
		t.Helper()
		if err := postgres.WriteActive(bg, pool, name, postgres.Active{Schema: schema, CatalogueID: cat.ID(),
			CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
			t.Fatal(err)
		}
	}
	drop := func(grace time.Duration) []string {
		t.Helper()
		dropped, err := postgres.DropRetired(bg, pool, name, grace)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(dropped)
		return dropped
	}
	present := func() []string {
		t.Helper()
		return pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY 1`, schemas)
	}

	activate(name) // the first schema: nothing replaced
	if got := drop(0); len(got) != 0 {
		t.Fatalf("nothing switched away from yet: dropped %v", got)
	}
	// Two rebuilds, a (started first) and b; b finishes first. a is still
	// filling, named before the active schema: it stays.
	activate(b)
	if got := drop(time.Hour); len(got) != 0 {
		t.Errorf("within the grace: dropped %v", got)
	}
	if got, want := drop(0), []string{name}; !slices.Equal(got, want) {
		t.Errorf("after b's switch: dropped %v, want %v", got, want)
	}
	if got, want := present(), []string{a, b, c, "crm_archive", "other_20260101t090000"}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	// a finishes and switches: b is retired. Then c, and back to a: c goes,
	// a (active again) stays.
	activate(a)
	activate(c)
	activate(a)
	if got, want := drop(0), []string{b, c}; !slices.Equal(got, want) {
		t.Errorf("after switching a, c, a: dropped %v, want %v", got, want)
	}
	if got, want := present(), []string{a, "crm_archive", "other_20260101t090000"}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if got := drop(0); len(got) != 0 {
		t.Errorf("a second sweep dropped %v", got)
	}
	if dropped, err := postgres.DropRetired(bg, pool, "nobody", 0); err != nil || len(dropped) != 0 {
		t.Errorf("a deployment never switched: dropped %v, %v", dropped, err)
	}
	// A switch to a schema dropped meanwhile is refused: the pointer never
	// names a schema that is not there.
	if err := postgres.WriteActive(bg, pool, name, postgres.Active{Schema: b, CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("switch to %s, which was dropped: %v; want refused as not existing", b, err)
	}
	if got, ok, err := postgres.ReadActive(bg, pool, name); err != nil || !ok || got.Schema != a {
		t.Errorf("after the refused switch the active schema is %q (%v, %v), want %s", got.Schema, ok, err, a)
	}
}

// TestFirstActivationAndUnusedRebuilds: the first instance to record a
// deployment's read model wins (a second one is told the first one's), and
// a rebuild's schema that never became active is dropped, the active one
// never.
func TestFirstActivationAndUnusedRebuilds(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cat := domain.DefaultCatalogue()
	const name = "erp"
	first := postgres.Active{Schema: name, CatalogueID: cat.ID(), CatalogueVersion: cat.Version(), Format: postgres.Format}
	for _, s := range []string{name, name + "_20260101t090000_0001", name + "_20260101t090000_0002"} {
		if err := postgres.Migrate(bg, pool, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := postgres.InitActive(bg, pool, name, first)
	if err != nil || got.Schema != name {
		t.Fatalf("first activation: %+v, %v", got, err)
	}
	other := first
	other.Schema = name + "_20260101t090000_0001"
	if got, err := postgres.InitActive(bg, pool, name, other); err != nil || got.Schema != name {
		t.Errorf("a second first activation: %+v, %v; want the first one's %s", got, err, name)
	}
	if err := postgres.DropUnused(bg, pool, name, name); err != nil {
		t.Fatal(err)
	}
	if err := postgres.DropUnused(bg, pool, name, name+"_20260101t090000_0002"); err != nil {
		t.Fatal(err)
	}
	left := pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'erp%' ORDER BY 1`)
	if want := []string{name, name + "_20260101t090000_0001"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v (the active one kept, the unused rebuild dropped)", left, want)
	}

	// A drop that cannot go through now (a query holds the schema) leaves
	// the schema noted as retired: the sweep drops it once it can.
	busy := name + "_20260101t090000_0001"
	tx, err := pool.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(bg, `LOCK TABLE `+busy+`.people IN ACCESS SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	if err := postgres.DropUnused(bg, pool, name, busy); err == nil {
		t.Errorf("dropped %s while a transaction held it", busy)
	}
	if dropped, err := postgres.DropRetired(bg, pool, name, time.Hour); err != nil || len(dropped) != 0 {
		t.Errorf("within the grace: dropped %v, %v", dropped, err)
	}
	if err := tx.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	if dropped, err := postgres.DropRetired(bg, pool, name, 0); err != nil || !slices.Equal(dropped, []string{busy}) {
		t.Errorf("the sweep after the drop failed: dropped %v, %v; want %s", dropped, err, busy)
	}
}

// TestDropAbandonedDropsOnlyDeadRebuilds: a rebuild's schema whose claim
// ended with its session (the process killed) is dropped; one whose
// rebuild still runs, one a switch made active, and another deployment's
// are not.
func TestDropAbandonedDropsOnlyDeadRebuilds(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cat := domain.DefaultCatalogue()
	const name = "hr"
	running, killed, switched, other := name+"_20260101t090000_00000001", name+"_20260101t090000_00000002",
		name+"_20260101t090000_00000003", "payroll_20260101t090000_00000004"
	claims := map[string]*postgres.Rebuild{}
	for _, s := range []string{running, killed, switched, other} {
		owner := name
		if s == other {
			owner = "payroll"
		}
		claims[s] = claimAndMigrate(t, pool, owner, s)
	}
	if err := postgres.Migrate(bg, pool, name); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.InitActive(bg, pool, name, postgres.Active{Schema: name, CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
		t.Fatal(err)
	}
	if err := postgres.WriteActive(bg, pool, name, postgres.Active{Schema: switched, CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
		t.Fatal(err)
	}
	claims[switched].Release()
	// The other deployment's rebuild ends too: its schema is its own
	// deployment's sweep's, not this one's.
	claims[other].Release()
	// The killed rebuild's session ends as a killed process's would, and
	// its claim says so, naming the schema.
	pgtest.EndClaim(t, pool, killed)
	select {
	case <-claims[killed].Lost():
		if err := claims[killed].Err(); err == nil || !strings.Contains(err.Error(), killed) {
			t.Errorf("the lost claim's error %v does not name %s", err, killed)
		}
	case <-time.After(10 * time.Second):
		t.Error("the claim whose session ended is not reported lost")
	}
	select {
	case <-claims[running].Lost():
		t.Error("a claim whose session lives is reported lost")
	default:
	}
	var dropped []string
	deadline := time.Now().Add(5 * time.Second)
	for len(dropped) == 0 { // the terminated session's locks go a moment later
		var err error
		if dropped, err = postgres.DropAbandoned(bg, pool, name); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if want := []string{killed}; !slices.Equal(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
	all := []string{name, running, killed, switched, other}
	present := func() []string {
		t.Helper()
		return pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY 1`, all)
	}
	if got, want := present(), []string{name, running, switched, other}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if got, want := pgtest.Strings(t, pool, `SELECT schema FROM public.careerledger_rebuilds ORDER BY 1`), []string{running, other}; !slices.Equal(got, want) {
		t.Errorf("claims left %v, want %v", got, want)
	}
	// The running rebuild ends without a switch or a drop of its own (a
	// process that lost its session): the next sweep drops its schema.
	claims[running].Release()
	if dropped, err := postgres.DropAbandoned(bg, pool, name); err != nil || !slices.Equal(dropped, []string{running}) {
		t.Errorf("after the last claim ended: dropped %v, %v; want %v", dropped, err, []string{running})
	}
	if got, want := present(), []string{name, switched, other}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
}

// TestAClaimIsTheOnlyOne: a rebuild cannot claim a schema that exists
// already, nor one another rebuild holds.
func TestAClaimIsTheOnlyOne(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	const name = "ops"
	if err := postgres.Migrate(bg, pool, name); err != nil {
		t.Fatal(err)
	}
	if c, err := postgres.BeginRebuild(bg, pool, name, name); err == nil || !strings.Contains(err.Error(), "exists already") {
		c.Release()
		t.Errorf("claimed a schema that exists: %v", err)
	}
	schema := name + "_20260101t090000_00000001"
	first, err := postgres.BeginRebuild(bg, pool, name, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()
	for _, owner := range []string{name, "finance"} { // the same deployment, and another one
		if c, err := postgres.BeginRebuild(bg, pool, owner, schema); err == nil || !strings.Contains(err.Error(), "another rebuild holds it") {
			c.Release()
			t.Errorf("%s claimed a schema another rebuild holds: %v", owner, err)
		}
	}
	if got := pgtest.Strings(t, pool, `SELECT schema FROM public.careerledger_rebuilds`); !slices.Equal(got, []string{schema}) {
		t.Errorf("claims %v, want only the first, %s", got, schema)
	}
	if running, err := postgres.RebuildRunning(bg, pool, name); err != nil || !running {
		t.Errorf("a rebuild holds its claim: running %v, %v", running, err)
	}
	first.Release()
	if running, err := postgres.RebuildRunning(bg, pool, name); err != nil || running {
		t.Errorf("the claim was released: running %v, %v", running, err)
	}
}

// TestASweepWithAStaleListSparesASwitchedSchema: a sweep that listed two
// claims before both rebuilds switched (one after the other) must not drop
// the first one's schema, retired by the second switch moments ago: the
// retired schema keeps its grace. Only a schema still claimed is the
// sweep's.
func TestASweepWithAStaleListSparesASwitchedSchema(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cat := domain.DefaultCatalogue()
	const name = "it"
	a, b := name+"_20260101t090000_0000000a", name+"_20260101t090000_0000000b"
	claims := map[string]*postgres.Rebuild{}
	for _, s := range []string{a, b} {
		claims[s] = claimAndMigrate(t, pool, name, s)
	}
	stale := pgtest.Strings(t, pool, `SELECT schema FROM public.careerledger_rebuilds WHERE name = $1 ORDER BY 1`, name)
	for _, s := range []string{a, b} {
		if err := postgres.WriteActive(bg, pool, name, postgres.Active{Schema: s, CatalogueID: cat.ID(),
			CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
			t.Fatal(err)
		}
		claims[s].Release()
	}
	for _, s := range stale {
		if dropped, err := postgres.DropIfAbandoned(bg, pool, name, s); err != nil || dropped {
			t.Errorf("the stale list's %s: dropped %v, %v; want left alone", s, dropped, err)
		}
	}
	if got, want := pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY 1`, []string{a, b}), []string{a, b}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v (a retired within its grace, b active)", got, want)
	}
	// A claim made active without ending it (the pointer set by hand) is
	// no longer a rebuild: its claim goes, its schema stays.
	c, err := postgres.BeginRebuild(bg, pool, name, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(bg, pool, name); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(bg, `UPDATE public.careerledger_read_models SET schema = $2 WHERE name = $1`, name, name); err != nil {
		t.Fatal(err)
	}
	c.Release()
	if dropped, err := postgres.DropAbandoned(bg, pool, name); err != nil || len(dropped) != 0 {
		t.Errorf("the active schema, still claimed: dropped %v, %v", dropped, err)
	}
	if got := pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = $1`, name); len(got) != 1 {
		t.Errorf("the active schema %s was dropped", name)
	}
	if got := pgtest.Strings(t, pool, `SELECT schema FROM public.careerledger_rebuilds WHERE name = $1`, name); len(got) != 0 {
		t.Errorf("claims left %v, want none", got)
	}
	// Set by hand to a schema still claimed, then switched away from: the
	// switch ends that claim too, so the schema keeps a retired one's
	// grace rather than go as abandoned.
	c2 := claimAndMigrate(t, pool, name, name+"_20260101t090000_0000000c")
	if _, err := pool.Exec(bg, `UPDATE public.careerledger_read_models SET schema = $2 WHERE name = $1`, name, name+"_20260101t090000_0000000c"); err != nil {
		t.Fatal(err)
	}
	c2.Release()
	if err := postgres.WriteActive(bg, pool, name, postgres.Active{Schema: name, CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
		t.Fatal(err)
	}
	if dropped, err := postgres.DropAbandoned(bg, pool, name); err != nil || len(dropped) != 0 {
		t.Errorf("a schema just retired by a switch: dropped %v, %v; want it left to its grace", dropped, err)
	}
}

// TestInstancesStartTogetherOnANewDatabase: the registry's tables are made
// by whichever instance comes first; the others, starting at the same
// moment, wait for it rather than fail.
func TestInstancesStartTogetherOnANewDatabase(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const n = 4
	errs := make(chan error, n)
	for range n {
		pool, err := pgxpool.New(bg, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		go func() {
			_, _, err := postgres.ReadActive(bg, pool, "fresh")
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("an instance starting with the others: %v", err)
		}
	}
}

// claimAndMigrate claims schema for a rebuild of deployment name and
// migrates it, as a rebuild starts; the claim is released when the test
// ends, if not before.
func claimAndMigrate(t *testing.T, pool *pgxpool.Pool, name, schema string) *postgres.Rebuild {
	t.Helper()
	c, err := postgres.BeginRebuild(bg, pool, name, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release)
	if err := c.Migrate(bg, pool); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestASweepAndAMigratingRebuildNeverOrphanASchema: a rebuild whose claim's
// session ended while it waited to make its schema (behind another
// migration) must not make the schema once a sweep ended the claim; and a
// sweep that meets a rebuild making its schema waits for it, then drops
// the schema with the claim, rather than end the claim and leave the
// schema to nobody.
func TestASweepAndAMigratingRebuildNeverOrphanASchema(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	const name = "orph"
	exists := func(schema string) bool {
		return len(pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = $1`, schema)) == 1
	}
	lose := func(c *postgres.Rebuild, schema string) {
		t.Helper()
		pgtest.EndClaim(t, pool, schema)
		select {
		case <-c.Lost():
		case <-time.After(10 * time.Second):
			t.Fatal("the claim whose session ended is not reported lost")
		}
	}
	sweep := func(want string) error {
		deadline := time.Now().Add(5 * time.Second)
		for { // the terminated session's locks go a moment later
			dropped, err := postgres.DropAbandoned(bg, pool, name)
			if err != nil {
				return err
			}
			if slices.Equal(dropped, []string{want}) {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the sweep dropped %v, want [%s]", dropped, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// The sweep first: the schema is never made.
	late := name + "_20260101t090000_0000000a"
	c, err := postgres.BeginRebuild(bg, pool, name, late)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release)
	lose(c, late)
	if err := sweep(late); err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(bg, pool); err == nil || !strings.Contains(err.Error(), late) || !strings.Contains(err.Error(), "claim was ended") {
		t.Errorf("migrating a schema whose claim a sweep ended: %v, want an error naming the schema and the ended claim", err)
	}
	if exists(late) {
		t.Errorf("%s was made after a sweep ended its claim: nobody would ever drop it", late)
	}

	// The rebuild first: it holds its claim's row while it makes the
	// schema, as Rebuild.Migrate does; the sweep waits, then drops both.
	making := name + "_20260101t090000_0000000b"
	c, err = postgres.BeginRebuild(bg, pool, name, making)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release)
	tx, err := pool.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg) //nolint:errcheck // committed below
	if _, err := tx.Exec(bg, `SELECT FROM public.careerledger_rebuilds WHERE name = $1 AND schema = $2 FOR SHARE`, name, making); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(bg, "CREATE SCHEMA "+making); err != nil {
		t.Fatal(err)
	}
	lose(c, making)
	time.Sleep(200 * time.Millisecond) // the terminated session's locks go
	swept := make(chan error, 1)
	go func() { swept <- sweep(making) }()
	var err2 error
	waited := true
	select {
	case err2 = <-swept:
		waited = false
		t.Error("the sweep did not wait for the rebuild making its schema")
	case <-time.After(500 * time.Millisecond):
	}
	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}
	if waited {
		err2 = <-swept
	}
	if err2 != nil {
		t.Fatal(err2)
	}
	if exists(making) {
		t.Errorf("%s outlived the sweep that ended its claim: nobody would ever drop it", making)
	}
	if got := pgtest.Strings(t, pool, `SELECT schema FROM public.careerledger_rebuilds WHERE name = $1`, name); len(got) != 0 {
		t.Errorf("claims left: %v", got)
	}
}

// TestAForwardSwitchNeverGoesBack: careerd's own rebuild for its catalogue
// switches only over an older version or format of the same catalogue (or
// another catalogue), never over one as new as its own that another
// instance switched to first.
func TestAForwardSwitchNeverGoesBack(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	const name = "fwd"
	for _, s := range []string{name, name + "_b"} {
		if err := postgres.Migrate(bg, pool, s); err != nil {
			t.Fatal(err)
		}
	}
	set := func(schema, id string, version, format int) error {
		return postgres.WriteActive(bg, pool, name, postgres.Active{Schema: schema, CatalogueID: id, CatalogueVersion: version, Format: format})
	}
	forward := func(id string, version, format int) error {
		return postgres.WriteActiveForward(bg, pool, name, postgres.Active{Schema: name + "_b", CatalogueID: id, CatalogueVersion: version, Format: format})
	}
	for _, c := range []struct {
		what             string
		id               string
		version, format  int
		activeV, activeF int
		wantAsNew        bool
	}{
		{"the same version and format", "itss", 2, 3, 2, 3, true},
		{"an older version than the active one", "itss", 1, 3, 2, 3, true},
		{"the same version, an older format", "itss", 2, 2, 2, 3, true},
		{"a newer version", "itss", 3, 3, 2, 3, false},
		{"the same version, a newer format", "itss", 2, 3, 2, 2, false},
		{"another catalogue", "other", 1, 3, 2, 3, false},
	} {
		if err := set(name, "itss", c.activeV, c.activeF); err != nil {
			t.Fatal(err)
		}
		err := forward(c.id, c.version, c.format)
		if got := errors.Is(err, postgres.ErrAsNew); got != c.wantAsNew || (err != nil && !got) {
			t.Errorf("%s: %v, want refused as not newer: %v", c.what, err, c.wantAsNew)
		}
		active, _, _ := postgres.ReadActive(bg, pool, name)
		if want := map[bool]string{true: name, false: name + "_b"}[c.wantAsNew]; active.Schema != want {
			t.Errorf("%s: active %s, want %s", c.what, active.Schema, want)
		}
	}
}

// TestABatchAfterASwitchAwayIsRefused: a store serving a deployment commits
// a batch only while the registry names its schema; once a switch moved
// the pointer, its batches fail with ErrNotActive and its checkpoint stays
// where the switch found it.
func TestABatchAfterASwitchAwayIsRefused(t *testing.T) {
	const name = "act"
	pool, store := servingStore(t, name)
	cat := domain.DefaultCatalogue()
	if err := postgres.Migrate(bg, pool, name+"_new"); err != nil {
		t.Fatal(err)
	}
	if err := store.ApplyEvents(bg, 1, reg(1, "P1")); err != nil {
		t.Fatalf("a batch while the schema is active: %v", err)
	}
	sw, err := postgres.SwitchActive(bg, pool, name, postgres.Active{Schema: name + "_new", CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}, false)
	if err != nil {
		t.Fatal(err)
	}
	if sw.Replaced != name {
		t.Errorf("the switch replaced %q, want %q", sw.Replaced, name)
	}
	if err := store.ApplyEvents(bg, 2, reg(2, "P2")); !errors.Is(err, postgres.ErrNotActive) {
		t.Errorf("a batch after the switch away: %v, want ErrNotActive", err)
	}
	if cp, err := store.Checkpoint(bg); err != nil || cp != 1 {
		t.Errorf("checkpoint %d (%v) after the refused batch, want 1", cp, err)
	}
	// A store serving no deployment (a rebuild's, before its switch) is
	// not checked.
	free := postgres.New(pool, cat, name)
	if err := free.ApplyEvents(bg, 2, reg(2, "P2")); err != nil {
		t.Errorf("a batch of a store without a deployment: %v", err)
	}
}

// TestASweepDoesNotStallTheLiveProjector: a sweep holds the registry row
// while it drops a schema (up to 20 s); the serving store's batches, which
// check the row in key-share mode, go on meanwhile. A switch's hold still
// stops them.
func TestASweepDoesNotStallTheLiveProjector(t *testing.T) {
	const name = "stall"
	pool, store := servingStore(t, name)
	tx, err := pool.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg) //nolint:errcheck // only a lock to give back
	if _, err := postgres.LockActive(bg, tx, name); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 2*time.Second)
	defer cancel()
	if err := store.ApplyEvents(ctx, 1, reg(1, "P1")); err != nil {
		t.Errorf("a batch while a sweep holds the registry row: %v (it must not wait for the sweep)", err)
	}
}

// servingStore migrates schema name of a new database, records it as
// deployment name's active read model, and returns a store serving it
// (Deployment set), as careerd's.
func servingStore(t *testing.T, name string) (*pgxpool.Pool, *postgres.Store) {
	t.Helper()
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cat := domain.DefaultCatalogue()
	if err := postgres.Migrate(bg, pool, name); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.InitActive(bg, pool, name, postgres.Active{Schema: name, CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
		t.Fatal(err)
	}
	store := postgres.New(pool, cat, name)
	store.Deployment = name
	return pool, store
}

// reg is a batch of one registration at pos.
func reg(pos uint64, id string) []events.Recorded {
	return []events.Recorded{{Position: pos, PersonID: id, RecordedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Event: events.PersonRegistered{PersonID: id, Name: "n", Department: "Ops", JoinedOn: domain.MustDate("2020-01-01")}}}
}

// TestMigrateActiveMigratesTheServedSchema: MigrateActive migrates the
// schema the registry serves a read model from, or the name's own before
// any is recorded; one that a switch moves away while it waits for the
// migration lock, and a sweep drops, is neither made again (empty) nor
// migrated: the schema switched to is.
func TestMigrateActiveMigratesTheServedSchema(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cat := domain.DefaultCatalogue()
	const name = "hr"
	exists := func(schema string) bool {
		return len(pgtest.Strings(t, pool, `SELECT nspname FROM pg_namespace WHERE nspname = $1`, schema)) == 1
	}
	migrated := func(schema string) bool {
		return exists(schema) && len(pgtest.Strings(t, pool, `SELECT table_name::text FROM information_schema.tables
			WHERE table_schema = $1 AND table_name = 'projection_checkpoint'`, schema)) == 1
	}
	// Nothing recorded yet: the name's own schema, as a first careerd makes it.
	if got, err := postgres.MigrateActive(bg, pool, name); err != nil || got != name || !migrated(name) {
		t.Fatalf("before any record: migrated %q (%v), want %s", got, err, name)
	}
	if _, err := postgres.InitActive(bg, pool, name, postgres.Active{Schema: name, CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
		t.Fatal(err)
	}

	// Another migration holds the lock; MigrateActive reads the pointer
	// (hr) and waits; meanwhile a rebuild switches to a new schema, made
	// but not yet migrated, and a sweep drops hr.
	holder, err := pgx.ConnectConfig(bg, pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close(bg) })
	const migrateLockKey = 0x6361726565726c01
	if _, err := holder.Exec(bg, "SELECT pg_advisory_lock($1)", int64(migrateLockKey)); err != nil {
		t.Fatal(err)
	}
	type result struct {
		schema string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		s, err := postgres.MigrateActive(bg, pool, name)
		done <- result{s, err}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting bool
		if err := pool.QueryRow(bg, `SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND classid::bigint = $1::bigint >> 32 AND objid::bigint = $1::bigint & 4294967295)`, int64(migrateLockKey)).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("MigrateActive never waited for the migration lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	next := name + "_20261127t094641_ac201d18"
	if _, err := pool.Exec(bg, "CREATE SCHEMA "+next); err != nil {
		t.Fatal(err)
	}
	if err := postgres.WriteActive(bg, pool, name, postgres.Active{Schema: next, CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
		t.Fatal(err)
	}
	if dropped, err := postgres.DropRetired(bg, pool, name, 0); err != nil || !slices.Equal(dropped, []string{name}) {
		t.Fatalf("sweep: dropped %v, %v; want %s", dropped, err, name)
	}
	if _, err := holder.Exec(bg, "SELECT pg_advisory_unlock($1)", int64(migrateLockKey)); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.schema != next {
		t.Fatalf("after the switch: migrated %q (%v), want %s", r.schema, r.err, next)
	}
	if !migrated(next) {
		t.Errorf("the schema switched to, %s, is not migrated", next)
	}
	if exists(name) {
		t.Errorf("the schema switched away from and dropped, %s, was made again", name)
	}
}

// TestASwitchReturnsThePositionsToCatchUpTo: a switch returns the replaced
// model's readable position and checkpoint, read with the registry row
// held, and records them for the model it made active. A switch that
// replaces a model still being caught up (behind what it was recorded to
// reach) returns the recorded positions; one that replaces a model gone
// past them returns its own; a record for another schema (a switch by an
// earlier release moved the registry without one) counts for nothing; and
// a replaced model whose positions cannot be read does not stop the
// switch, which says so and returns what was recorded.
func TestASwitchReturnsThePositionsToCatchUpTo(t *testing.T) {
	const name = "chain"
	pool, store := servingStore(t, name)
	cat := domain.DefaultCatalogue()
	if err := store.ApplyEvents(bg, 1, reg(1, "P1")); err != nil {
		t.Fatal(err)
	}
	at := func(schema string, readable, stored int64) {
		t.Helper()
		if _, err := pool.Exec(bg, `UPDATE `+pgx.Identifier{schema}.Sanitize()+`.projection_checkpoint
			SET position = $1::bigint, people_from = nullif($2::bigint, $1::bigint)`, stored, readable); err != nil {
			t.Fatal(err)
		}
	}
	schema := func(i int) string { return fmt.Sprintf("%s_%d", name, i) }
	for i := 1; i <= 6; i++ {
		if err := postgres.Migrate(bg, pool, schema(i)); err != nil {
			t.Fatal(err)
		}
		if err := postgres.New(pool, cat, schema(i)).ApplyEvents(bg, 1, reg(1, "P1")); err != nil {
			t.Fatal(err)
		}
		at(schema(i), 1, 1)
	}
	recorded := func(schema string, readable, stored uint64, ok bool) {
		t.Helper()
		r, s, gotOK, err := postgres.ReadCatchUp(bg, pool, name, schema)
		if err != nil || r != readable || s != stored || gotOK != ok {
			t.Errorf("recorded for %s: %d, %d, %v (%v); want %d, %d, %v", schema, r, s, gotOK, err, readable, stored, ok)
		}
	}
	switchTo := func(schema string, want postgres.Switched) {
		t.Helper()
		got, err := postgres.SwitchActive(bg, pool, name, postgres.Active{Schema: schema, CatalogueID: cat.ID(),
			CatalogueVersion: cat.Version(), Format: postgres.Format}, false)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("switch to %s: %+v, want %+v", schema, got, want)
		}
		// What a follower reads.
		recorded(schema, want.Readable, want.Stored, true)
	}
	recorded(name, 0, 0, false) // no switch yet
	at(name, 6, 9)              // in the middle of a bulk catch-up
	at(schema(1), 3, 3)
	switchTo(schema(1), postgres.Switched{Replaced: name, Readable: 6, Stored: 9, Known: true})
	// _1 is still being brought up to 6 and 9 when _2 replaces it.
	switchTo(schema(2), postgres.Switched{Replaced: schema(1), Readable: 6, Stored: 9, Known: true})
	// _2 went past them.
	at(schema(2), 12, 12)
	switchTo(schema(3), postgres.Switched{Replaced: schema(2), Readable: 12, Stored: 12, Known: true})
	// An earlier release's switch to _4 records nothing: _3's record is
	// not _4's.
	if _, err := pool.Exec(bg, `UPDATE public.careerledger_read_models SET schema = $2 WHERE name = $1`, name, schema(4)); err != nil {
		t.Fatal(err)
	}
	recorded(schema(3), 12, 12, true) // still the record, and _3's
	recorded(schema(4), 0, 0, false)
	switchTo(schema(5), postgres.Switched{Replaced: schema(4), Readable: 1, Stored: 1, Known: true})
	if _, err := pool.Exec(bg, `DROP TABLE `+pgx.Identifier{schema(5)}.Sanitize()+`.projection_checkpoint`); err != nil {
		t.Fatal(err)
	}
	switchTo(schema(6), postgres.Switched{Replaced: schema(5), Readable: 1, Stored: 1, Known: false})
	if active, _, err := postgres.ReadActive(bg, pool, name); err != nil || active.Schema != schema(6) {
		t.Errorf("active %s (%v), want %s", active.Schema, err, schema(6))
	}
}
