package postgres_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	pt "github.com/careerledger/careerledger/projections/projectionstest"
)

// indexInfo is an index of the read model as the catalog has it.
type indexInfo struct {
	table  string
	oid    uint32
	def    string
	unique bool
}

// readModelIndexes returns the indexes of the default schema by name.
func readModelIndexes(t *testing.T, pool *pgxpool.Pool) map[string]indexInfo {
	t.Helper()
	rows, err := pool.Query(bg, `SELECT ic.relname, t.relname, i.indexrelid, pg_get_indexdef(i.indexrelid), i.indisunique
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = $1`, postgres.DefaultSchema)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]indexInfo{}
	var name string
	var ix indexInfo
	if _, err := pgx.ForEachRow(rows, []any{&name, &ix.table, &ix.oid, &ix.def, &ix.unique}, func() error {
		out[name] = ix
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameDefinitions fails unless got has exactly want's indexes, defined alike.
func sameDefinitions(t *testing.T, when string, got, want map[string]indexInfo) {
	t.Helper()
	for name, w := range want {
		if g, ok := got[name]; !ok || g.def != w.def {
			t.Errorf("%s: index %s is %q, want %q", when, name, g.def, w.def)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: index %s was not made by the migrations", when, name)
		}
	}
}

// The first people written into an empty read model (the head of a
// rebuild's bulk catch-up) have the secondary indexes of their tables built
// after their rows are in; a head batch that fails leaves them as they
// were; new people once the read model holds someone leave every index as
// it is. Either way the indexes are the migrations'.
func TestFirstPeopleOfAnEmptyReadModelBuildTheIndexesAfter(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	record := func(ids ...string) (head uint64) {
		t.Helper()
		for _, id := range ids {
			if _, err := env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: id, Name: "Person " + id, Department: "Ops",
				JoinedOn: domain.MustDate("2015-01-01")}); err != nil {
				t.Fatal(err)
			}
			for _, a := range []domain.Accomplishment{
				pt.Engagement(domain.SystemOperation, domain.Member, "2016-01-01", "2017-01-01", domain.Successful, true,
					domain.OperationRequirements, domain.OperationSystems),
				pt.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01"),
			} {
				res, err := env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: id, Accomplishment: a})
				if err != nil {
					t.Fatal(err)
				}
				head = res.Position
			}
		}
		return head
	}
	// Batches of four: the first ones store events (and the checkpoint),
	// the one at the head follows them and writes everyone, by COPY.
	projector := func(store *postgres.Store) *projections.Projector {
		return &projections.Projector{Catalogue: cat, Source: env.Log, Store: store, Bulk: true, MaxBatch: 4,
			Now: func() time.Time { return env.Clock.Peek() }}
	}
	project := func(store *postgres.Store, head uint64) {
		t.Helper()
		ctx, cancel := context.WithCancel(bg)
		done := make(chan error, 1)
		go func() { done <- projector(store).Run(ctx) }()
		waitFor(t, store, head)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	admin := newPool(t, pool, "reindex_admin")
	migrated := readModelIndexes(t, pool)
	store := postgres.New(pool, cat, "")
	store.ReindexAbove, store.CopyAbove = 2, 1
	head := record("R1", "R2", "R3")

	// The head batch fails after dropping the indexes, mid-COPY: they are
	// back as they were.
	installCrashPoints(t, admin)
	if _, err := admin.Exec(bg, `INSERT INTO crashtest.arm VALUES ('memberships', 1, 'raise')`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 15*time.Second)
	defer cancel()
	if err := projector(store).Run(ctx); err == nil || !strings.Contains(err.Error(), "crash test") {
		t.Fatalf("Run with a crash in the head batch = %v", err)
	}
	if got := readModelIndexes(t, pool); !reflect.DeepEqual(got, migrated) {
		t.Errorf("after a failed head batch the indexes are\n%v\nwant\n%v", got, migrated)
	}
	if _, err := admin.Exec(bg, `DELETE FROM crashtest.arm`); err != nil {
		t.Fatal(err)
	}

	project(store, head)
	first := readModelIndexes(t, pool)
	sameDefinitions(t, "after the first people", first, migrated)
	// The tables the people's rows fill; person_events is filled batch by
	// batch before (each batch commits), so its indexes stay.
	filled := map[string]bool{"memberships": true, "accomplishments": true, "level_periods": true,
		"level_changes": true, "distribution_periods": true}
	rebuilt := 0
	for name, ix := range first {
		switch renewed, want := ix.oid != migrated[name].oid, filled[ix.table] && !ix.unique; {
		case renewed && !want:
			t.Errorf("the index %s of %s was built again", name, ix.table)
		case want && !renewed:
			t.Errorf("the secondary index %s of %s was kept up to date, not built after the rows", name, ix.table)
		case renewed:
			rebuilt++
		}
	}
	if rebuilt == 0 {
		t.Fatal("no secondary index: the test proves nothing")
	}

	store.ReindexAbove = 1 // any batch of people: only the read model's emptiness decides
	project(store, record("R4", "R5"))
	second := readModelIndexes(t, pool)
	sameDefinitions(t, "after more people", second, migrated)
	for name, ix := range second {
		if ix.oid != first[name].oid {
			t.Errorf("index %s was built again for a read model that held people", name)
		}
	}
	var n int
	if err := pool.QueryRow(bg, `SELECT count(*) FROM `+postgres.DefaultSchema+`.accomplishments`).Scan(&n); err != nil || n != 10 {
		t.Errorf("%d accomplishments stored (%v), want 10", n, err)
	}
}

// The head batch reads the definitions it builds again in its own
// transaction, once the tables are locked: an index redefined by a
// transaction that commits while the batch waits for its lock is built
// again as redefined, not as the catalog had it before the batch began.
func TestTheHeadBatchBuildsAgainTheDefinitionsItLocked(t *testing.T) {
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	var head uint64
	for _, id := range []string{"L1", "L2", "L3"} {
		if _, err := env.Recorder.RegisterPerson(bg, events.RegisterPerson{ID: id, Name: "Person " + id, Department: "Ops",
			JoinedOn: domain.MustDate("2015-01-01")}); err != nil {
			t.Fatal(err)
		}
		res, err := env.Recorder.RecordAccomplishment(bg, events.RecordAccomplishment{PersonID: id,
			Accomplishment: pt.Assessment(domain.ServiceSupportManagement, domain.Basic, "2016-02-01")})
		if err != nil {
			t.Fatal(err)
		}
		head = res.Position
	}
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	other := newPool(t, pool, "reindex_redefines")
	store := postgres.New(pool, cat, "")
	store.ReindexAbove = 2

	// Another session redefines an index of a table the batch fills and
	// holds its transaction open.
	const redefined = `"position" DESC`
	tx, err := other.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg) //nolint:errcheck // committed below
	for _, sql := range []string{`DROP INDEX careerledger.accomplishments_person`,
		`CREATE INDEX accomplishments_person ON careerledger.accomplishments (person_id, ` + redefined + `)`} {
		if _, err := tx.Exec(bg, sql); err != nil {
			t.Fatal(err)
		}
	}

	// One batch holds the whole log: it reaches the head and writes
	// everyone, so it builds the indexes after its rows.
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() {
		done <- (&projections.Projector{Catalogue: cat, Source: env.Log, Store: store, Bulk: true, MaxBatch: 100,
			Now: func() time.Time { return env.Clock.Peek() }}).Run(ctx)
	}()
	running := true
	defer func() { // a failed test still waits for the projector to stop
		cancel()
		if running {
			<-done
		}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var waiting int
		if err := other.QueryRow(bg, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the head batch never waited for the tables the other session holds")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Commit(bg); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		cp, err := store.Checkpoint(bg)
		if err != nil {
			t.Fatal(err)
		}
		if cp >= head {
			break
		}
		select {
		case err := <-done:
			running = false
			t.Fatalf("the projector stopped at %d before the head %d: %v", cp, head, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("read model stuck at %d, want %d", cp, head)
		}
	}
	cancel()
	running = false
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ix, ok := readModelIndexes(t, pool)["accomplishments_person"]
	if !ok || !strings.Contains(ix.def, redefined) {
		t.Errorf("after the head batch accomplishments_person is %q, want the definition committed while it waited (%s)", ix.def, redefined)
	}
}
