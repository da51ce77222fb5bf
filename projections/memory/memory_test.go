package memory_test

import (
	"testing"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections/memory"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

func TestContract(t *testing.T) {
	projectionstest.Run(t, func(t *testing.T, cat *domain.Catalogue) projectionstest.ReadModel {
		return memory.New(cat)
	})
}
