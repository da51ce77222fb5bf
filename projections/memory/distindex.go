package memory

import (
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
)

// cell is one department and level.
type cell struct {
	department string
	level      int
}

// distIndex answers a distribution on any date without visiting people: the
// changes of each (department, level) count, summed per year, per month and
// per day, as the PostgreSQL read model keeps them per year and month. The
// count on a date is the sum of the years before it, the months of its year
// before it and the days of its month up to it.
type distIndex map[domain.Field]*fieldChanges

type fieldChanges struct {
	years, months, days map[domain.Date]map[cell]int
}

// add adds sign (+1 for a new period, -1 for a removed one) at the period's
// start, and takes it back at its end unless open.
func (x distIndex) add(p projections.DistributionPeriod, sign int) {
	f := x[p.Field]
	if f == nil {
		f = &fieldChanges{years: map[domain.Date]map[cell]int{}, months: map[domain.Date]map[cell]int{}, days: map[domain.Date]map[cell]int{}}
		x[p.Field] = f
	}
	c := cell{p.Department, p.Level}
	f.point(p.From, c, sign)
	if !p.To.IsZero() {
		f.point(p.To, c, -sign)
	}
}

func (f *fieldChanges) point(day domain.Date, c cell, n int) {
	y, m, _ := day.Time().Date()
	for _, g := range []struct {
		rows   map[domain.Date]map[cell]int
		bucket domain.Date
	}{{f.years, domain.NewDate(y, time.January, 1)}, {f.months, domain.NewDate(y, m, 1)}, {f.days, day}} {
		cells := g.rows[g.bucket]
		if cells == nil {
			cells = map[cell]int{}
			g.rows[g.bucket] = cells
		}
		if cells[c] += n; cells[c] == 0 {
			delete(cells, c)
			if len(cells) == 0 {
				delete(g.rows, g.bucket)
			}
		}
	}
}

// counts returns the count of every (department, level) of field on day
// (zero counts left out), of one department unless department is "".
func (x distIndex) counts(field domain.Field, day domain.Date, department string) map[cell]int {
	out := map[cell]int{}
	f := x[field]
	if f == nil {
		return out
	}
	y, m, _ := day.Time().Date()
	year, month := domain.NewDate(y, time.January, 1), domain.NewDate(y, m, 1)
	sum := func(cells map[cell]int) {
		for c, n := range cells {
			if department == "" || c.department == department {
				out[c] += n
			}
		}
	}
	for b, cells := range f.years {
		if b.Before(year) {
			sum(cells)
		}
	}
	for mm := time.January; mm < m; mm++ {
		sum(f.months[domain.NewDate(y, mm, 1)])
	}
	for d := month; !d.After(day); d = d.AddDays(1) {
		sum(f.days[d])
	}
	for c, n := range out {
		if n == 0 {
			delete(out, c)
		}
	}
	return out
}
