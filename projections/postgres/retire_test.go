package postgres_test

import (
	"slices"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
)

// TestDropRetiredKeepsTheActiveAndNewerSchemas: after a switch has served
// for the grace period, the deployment's first schema and the rebuilds
// before the active one go; the active one, a rebuild still filling (newer)
// and another deployment's schemas stay. Before the grace nothing goes.
func TestDropRetiredKeepsTheActiveAndNewerSchemas(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	const name = "crm"
	schemas := []string{name, name + "_20260101t090000", name + "_20260102t090000", name + "_20260103t090000",
		"crm_archive", "crmx", "other_20260101t090000"}
	for _, s := range schemas {
		if err := postgres.Migrate(bg, pool, s); err != nil {
			t.Fatal(err)
		}
	}
	cat := domain.DefaultCatalogue()
	active := name + "_20260102t090000"
	if err := postgres.WriteActive(bg, pool, name, postgres.Active{Schema: active, CatalogueID: cat.ID(),
		CatalogueVersion: cat.Version(), Format: postgres.Format}); err != nil {
		t.Fatal(err)
	}
	present := func() []string {
		rows, err := pool.Query(bg, `SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY 1`, schemas)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}

	if dropped, err := postgres.DropRetired(bg, pool, name, time.Hour); err != nil || len(dropped) != 0 {
		t.Fatalf("within the grace: dropped %v, %v; want nothing", dropped, err)
	}
	dropped, err := postgres.DropRetired(bg, pool, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(dropped)
	if want := []string{name, name + "_20260101t090000"}; !slices.Equal(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
	if got, want := present(), []string{"crm_20260102t090000", "crm_20260103t090000", "crm_archive", "crmx", "other_20260101t090000"}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if dropped, err := postgres.DropRetired(bg, pool, "nobody", 0); err != nil || len(dropped) != 0 {
		t.Errorf("a deployment never switched: dropped %v, %v", dropped, err)
	}
}
