package postgres_test

import (
	"testing"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

func TestContract(t *testing.T) {
	projectionstest.Run(t, func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel {
		return postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")
	})
}

// TestContractCopying: the contract when every row is written by COPY.
func TestContractCopying(t *testing.T) {
	projectionstest.Run(t, func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel {
		s := postgres.New(pgtest.NewPool(t, postgres.DefaultSchema), cat, "")
		s.CopyAbove = 1
		return s
	})
}
