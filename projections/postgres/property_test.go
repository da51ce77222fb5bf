package postgres_test

import (
	"testing"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// TestProperty: for random command sequences, the PostgreSQL read model
// answers what folding the same events with the domain evaluator gives.
func TestProperty(t *testing.T) {
	projectionstest.RunProperty(t, func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel {
		return postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")
	}, projectionstest.PropertyConfig{})
}

// TestPropertyBulk: the same, when the projector catches up a backlog in
// bulk (events first, each person judged once at the head).
func TestPropertyBulk(t *testing.T) {
	projectionstest.RunProperty(t, func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel {
		return postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")
	}, projectionstest.PropertyConfig{Seeds: 10, Bulk: true})
}

// TestPropertyCopying: the same when every row is written by COPY, as
// large batches (a rebuild's) are; the other tests write small batches'
// rows in the transaction's pipeline.
func TestPropertyCopying(t *testing.T) {
	projectionstest.RunProperty(t, func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel {
		s := postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")
		s.CopyAbove = 1
		return s
	}, projectionstest.PropertyConfig{Seeds: 10})
}

// TestPropertyEvicting: the same when the projector keeps at most one person
// folded between batches, dropping and reloading the others from
// the store.
func TestPropertyEvicting(t *testing.T) {
	projectionstest.RunProperty(t, func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel {
		return postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")
	}, projectionstest.PropertyConfig{Seeds: 10, MaxCached: 1})
}

// TestPropertyBulkEvicting: a bulk catch-up (which keeps everyone it
// touches until the head) followed by live batches under a bound of one
// person.
func TestPropertyBulkEvicting(t *testing.T) {
	projectionstest.RunProperty(t, func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel {
		return postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")
	}, projectionstest.PropertyConfig{Seeds: 6, Bulk: true, MaxCached: 1})
}

// TestPropertyBulkReindexing: a bulk catch-up whose head batch, writing the
// first people of the empty read model, builds the secondary indexes after
// its rows (as a rebuild's does from DefaultReindexAbove people).
func TestPropertyBulkReindexing(t *testing.T) {
	projectionstest.RunProperty(t, func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel {
		s := postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")
		s.ReindexAbove = 1
		return s
	}, projectionstest.PropertyConfig{Seeds: 6, Bulk: true})
}
