package memory

import (
	"math/rand/v2"
	"testing"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
)

// TestDistIndexCountsPeriods: for random periods, some removed again, the
// index's count of every department and level on every day equals the
// number of periods that contain the day.
func TestDistIndexCountsPeriods(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := domain.MustDate("2018-11-25")
	for iter := 0; iter < 200; iter++ {
		x := distIndex{}
		var ps []projections.DistributionPeriod
		for i := 0; i < 30; i++ {
			from := base.AddDays(r.IntN(900))
			p := projections.DistributionPeriod{Field: "F", Department: []string{"a", "b"}[r.IntN(2)], Level: r.IntN(3), From: from}
			if r.IntN(3) > 0 {
				p.To = from.AddDays(1 + r.IntN(400))
			}
			ps = append(ps, p)
			x.add(p, 1)
		}
		// Remove some, as a rewritten person's old periods are.
		for i := 0; i < 10; i++ {
			k := r.IntN(len(ps))
			x.add(ps[k], -1)
			ps = append(ps[:k], ps[k+1:]...)
		}
		for d := base.AddDays(-3); d.Before(base.AddDays(1400)); d = d.AddDays(1) {
			want := map[cell]int{}
			for _, p := range ps {
				if !d.Before(p.From) && (p.To.IsZero() || d.Before(p.To)) {
					want[cell{p.Department, p.Level}]++
				}
			}
			got := x.counts("F", d, "")
			if len(got) != len(want) {
				t.Fatalf("%s: got %v want %v", d, got, want)
			}
			for c, n := range want {
				if got[c] != n {
					t.Fatalf("%s: got %v want %v", d, got, want)
				}
			}
		}
	}
}
