package projections_test

import (
	"math/rand/v2"
	"testing"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
)

func d(s string) domain.Date { return domain.MustDate(s) }

// On every day the periods must say exactly what memberships and level
// periods say: the department, and the level (0 when none).
func TestDistributionPeriodsAgreeWithMembershipsAndLevels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := d("2015-01-01")
	fields := []domain.Field{domain.SystemOperation, domain.ServiceDesk}
	for n := 0; n < 500; n++ {
		var ms []domain.Membership
		day := r.IntN(30)
		for i := 0; i < 1+r.IntN(3); i++ {
			from := base.AddDays(day)
			day += 1 + r.IntN(40)
			to := base.AddDays(day)
			if r.IntN(4) == 0 {
				day += r.IntN(20) // a gap: departed, later rejoined
			}
			ms = append(ms, domain.Membership{Department: string(rune('A' + r.IntN(3))), From: from, To: to})
		}
		if r.IntN(2) == 0 {
			ms[len(ms)-1].To = domain.Date{}
		}
		var levels []domain.LevelPeriod
		for _, f := range fields {
			day := r.IntN(60)
			for i := 0; i < r.IntN(4); i++ {
				from := base.AddDays(day)
				day += 1 + r.IntN(50)
				levels = append(levels, domain.LevelPeriod{Field: f, Level: 1 + r.IntN(5), From: from, To: base.AddDays(day)})
				day += r.IntN(10)
			}
			if len(levels) > 0 && r.IntN(2) == 0 && levels[len(levels)-1].Field == f {
				levels[len(levels)-1].To = domain.Date{}
			}
		}
		periods := projections.DistributionPeriodsOf(fields, ms, levels)
		view := projections.PersonView{Memberships: ms}
		for day := 0; day < 250; day++ {
			on := base.AddDays(day)
			for _, f := range fields {
				wantDept := view.DepartmentOn(on)
				wantLevel := projections.LevelOnPeriods(levels, f, on)
				var hits []projections.DistributionPeriod
				for _, p := range periods {
					if p.Field == f && !p.From.After(on) && (p.To.IsZero() || p.To.After(on)) {
						hits = append(hits, p)
					}
				}
				switch {
				case wantDept == "" && len(hits) != 0:
					t.Fatalf("case %d %s on %s: periods %+v for a day without department", n, f, on, hits)
				case wantDept != "" && (len(hits) != 1 || hits[0].Department != wantDept || hits[0].Level != wantLevel):
					t.Fatalf("case %d %s on %s: periods %+v, want %s at level %d\nms=%+v\nlevels=%+v", n, f, on, hits, wantDept, wantLevel, ms, levels)
				}
			}
		}
	}
}
