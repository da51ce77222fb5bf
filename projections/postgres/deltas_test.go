package postgres

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
)

func TestMonthOf(t *testing.T) {
	for _, c := range []struct{ day, month string }{
		{"2019-12-31", "2019-12-01"},
		{"2020-01-01", "2020-01-01"},
		{"2020-01-31", "2020-01-01"},
		{"2020-02-01", "2020-02-01"},
		{"2020-02-29", "2020-02-01"},
		{"2020-03-01", "2020-03-01"},
		{"2021-02-28", "2021-02-01"},
		{"2023-04-30", "2023-04-01"},
		{"2023-05-01", "2023-05-01"},
		{"2023-07-15", "2023-07-01"},
	} {
		if got, want := monthOf(domain.MustDate(c.day)), domain.MustDate(c.month); got != want {
			t.Errorf("month of %s: got %s, want %s", c.day, got, want)
		}
	}
}

// countOn counts (field, department, level) on day as the distribution
// query does: the delta rows of the months before day's month, plus the
// periods starting (+1) or ending (-1) in its month up to it.
func countOn(rows map[deltaKey]int64, periods []projections.DistributionPeriod, field domain.Field, department string, level int, day domain.Date) int64 {
	month := monthOf(day)
	var n int64
	for k, d := range rows {
		if k.field == string(field) && k.department == department && k.level == level && k.bucket.Before(month) {
			n += d
		}
	}
	inMonth := func(d domain.Date) bool { return !d.IsZero() && !d.Before(month) && !d.After(day) }
	for _, p := range periods {
		if p.Field != field || p.Department != department || p.Level != level {
			continue
		}
		if inMonth(p.From) {
			n++
		}
		if inMonth(p.To) {
			n--
		}
	}
	return n
}

func TestDeltasOfOnePeriod(t *testing.T) {
	p := projections.DistributionPeriod{Field: domain.SystemOperation, Department: "Ops", Level: 2,
		From: domain.MustDate("2019-12-31"), To: domain.MustDate("2020-03-01")}
	m := distributionDeltas{}
	m.addPeriod(p, +1)
	for day, want := range map[string]int64{
		"2018-06-01": 0, "2019-12-30": 0, "2019-12-31": 1, "2020-01-01": 1, "2020-01-31": 1,
		"2020-02-01": 1, "2020-02-29": 1, "2020-03-01": 0, "2020-03-02": 0, "2021-01-01": 0,
	} {
		if got := countOn(m.rows(), []projections.DistributionPeriod{p}, p.Field, p.Department, p.Level, domain.MustDate(day)); got != want {
			t.Errorf("on %s: %d, want %d", day, got, want)
		}
	}
	if got := countOn(m.rows(), []projections.DistributionPeriod{p}, domain.ServiceDesk, p.Department, p.Level, domain.MustDate("2020-01-15")); got != 0 {
		t.Errorf("another field counts %d", got)
	}

	// An open period never ends.
	open := p
	open.To = domain.Date{}
	m = distributionDeltas{}
	m.addPeriod(open, +1)
	if rows := m.rows(); len(rows) != 1 {
		t.Errorf("an open period writes %d rows, want 1 (its start's month)", len(rows))
	}
	if got := countOn(m.rows(), []projections.DistributionPeriod{open}, p.Field, p.Department, p.Level, domain.MustDate("2040-02-29")); got != 1 {
		t.Errorf("open period in 2040: %d, want 1", got)
	}

	// A period within one month leaves its month as it was: no
	// row at all; its days are counted from the period itself.
	short := p
	short.From, short.To = domain.MustDate("2024-02-05"), domain.MustDate("2024-02-29")
	m = distributionDeltas{}
	m.addPeriod(short, +1)
	if got := m.rows(); len(got) != 0 {
		t.Errorf("rows of a period within a month: %v, want none", got)
	}
	for day, want := range map[string]int64{"2024-02-04": 0, "2024-02-05": 1, "2024-02-28": 1, "2024-02-29": 0, "2024-03-01": 0} {
		if got := countOn(m.rows(), []projections.DistributionPeriod{short}, p.Field, p.Department, p.Level, domain.MustDate(day)); got != want {
			t.Errorf("period within a month, on %s: %d, want %d", day, got, want)
		}
	}

	// Removing a period and adding it back changes nothing.
	m.addPeriod(open, +1)
	m.addPeriod(short, -1)
	m.addPeriod(open, -1)
	m.addPeriod(p, +1)
	m.addPeriod(p, -1)
	if c := m.columns(); len(c.deltas) != 0 {
		t.Errorf("a period removed and added back leaves %d rows", len(c.deltas))
	}
}

// For random periods, on every day the rows sum to the number of periods
// that contain it, none of them zero, and columns holds exactly the rows,
// sorted.
func TestDeltasCountPeriods(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	base := domain.MustDate("2019-11-20")
	fields := []domain.Field{domain.SystemOperation, domain.ServiceDesk}
	departments := []string{"Ops", "Desk"}
	for n := 0; n < 50; n++ {
		var periods []projections.DistributionPeriod
		m := distributionDeltas{}
		for i := 0; i < 1+r.IntN(30); i++ {
			from := base.AddDays(r.IntN(900))
			p := projections.DistributionPeriod{Field: fields[r.IntN(2)], Department: departments[r.IntN(2)],
				Level: r.IntN(3), From: from, To: from.AddDays(1 + r.IntN(500))}
			if r.IntN(5) == 0 {
				p.To = domain.Date{}
			}
			m.addPeriod(p, +1)
			if r.IntN(4) == 0 {
				m.addPeriod(p, -1) // replaced by the next one, as a rewritten person's periods are
				continue
			}
			periods = append(periods, p)
		}
		rows := m.rows()
		for day := base.AddDays(-40); day.Before(base.AddDays(1500)); day = day.AddDays(1) {
			for _, f := range fields {
				for _, dept := range departments {
					for level := 0; level < 3; level++ {
						var want int64
						for _, p := range periods {
							if p.Field == f && p.Department == dept && p.Level == level &&
								!p.From.After(day) && (p.To.IsZero() || p.To.After(day)) {
								want++
							}
						}
						if got := countOn(rows, periods, f, dept, level, day); got != want {
							t.Fatalf("case %d: %s %s level %d on %s: %d, want %d (periods %+v)", n, f, dept, level, day, got, want, periods)
						}
					}
				}
			}
		}
		c := m.columns()
		if len(c.deltas) != len(rows) || len(c.fields) != len(rows) || len(c.buckets) != len(rows) {
			t.Fatalf("case %d: %d columns rows, want the %d rows", n, len(c.deltas), len(rows))
		}
		for i := range c.deltas {
			k := deltaKey{field: c.fields[i], bucket: domain.DateOf(c.buckets[i]),
				department: c.departments[i], level: int(c.levels[i])}
			if c.deltas[i] == 0 || rows[k] != c.deltas[i] {
				t.Fatalf("case %d: row %d %+v = %d, summed %d", n, i, k, c.deltas[i], rows[k])
			}
			if i > 0 {
				prev := deltaKey{field: c.fields[i-1], bucket: domain.DateOf(c.buckets[i-1]),
					department: c.departments[i-1], level: int(c.levels[i-1])}
				if !keyLess(prev, k) {
					t.Fatalf("case %d: rows %d and %d out of order: %+v, %+v", n, i-1, i, prev, k)
				}
			}
		}
	}
}

func keyLess(a, b deltaKey) bool {
	switch {
	case a.field != b.field:
		return a.field < b.field
	case a.bucket != b.bucket:
		return a.bucket.Before(b.bucket)
	case a.department != b.department:
		return a.department < b.department
	}
	return a.level < b.level
}

// Many changes are added up in a map before they are sorted: the rows are
// those the sort alone gives.
func TestManyDeltasMergeAsFew(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base := domain.MustDate("2012-04-01")
	var many, sorted distributionDeltas
	for len(many.changes) <= 3*mergeAbove {
		from := base.AddDays(r.IntN(5000))
		p := projections.DistributionPeriod{Field: domain.Fields[r.IntN(len(domain.Fields))],
			Department: []string{"Ops", "Desk", "Net"}[r.IntN(3)], Level: r.IntN(6), From: from, To: from.AddDays(1 + r.IntN(900))}
		sign := int64(1)
		if r.IntN(3) == 0 {
			sign = -1
		}
		many.addPeriod(p, sign)
		sorted.addPeriod(p, sign)
	}
	want := slices.Clone(sorted.changes)
	slices.SortFunc(want, func(a, b deltaChange) int { return compareKeys(a.key, b.key) })
	sums := map[deltaKey]int64{}
	for _, c := range want {
		sums[c.key] += c.n
	}
	got := many.sum()
	var rows int
	for k, n := range sums {
		if n != 0 {
			rows++
			if i, ok := slices.BinarySearchFunc(got, k, func(c deltaChange, k deltaKey) int { return compareKeys(c.key, k) }); !ok || got[i].n != n {
				t.Fatalf("row %+v: missing or wrong in the merged sum (want %d)", k, n)
			}
		}
	}
	if len(got) != rows {
		t.Fatalf("merged sum has %d rows, want %d", len(got), rows)
	}
	for i := 1; i < len(got); i++ {
		if compareKeys(got[i-1].key, got[i].key) >= 0 || got[i].n == 0 {
			t.Fatalf("merged rows %d and %d out of order or zero: %+v, %+v", i-1, i, got[i-1], got[i])
		}
	}
}
