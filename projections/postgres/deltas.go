package postgres

import (
	"cmp"
	"slices"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
)

// deltaKey is the primary key of a distribution_deltas row: a change of a
// (field, department, level) count on a day is summed into the row of its
// month, so that the count on a date is a sum over the months before its
// month (at most 12 rows a year per department and level, whatever the
// number of people), plus the periods that start or end in its month up to
// it, counted from distribution_periods through its start and end indexes.
// Day rows would make the count a little cheaper and every write much
// dearer: a day is rarely shared, so nearly every change would be a row of
// its own. Year rows as well as month rows (migration 004, dropped by 007)
// made the count cheaper still and doubled the rows every change wrote.
type deltaKey struct {
	field      string
	bucket     domain.Date // the first day of the month
	department string
	level      int
}

// monthOf returns the first day of day's month: its bucket.
func monthOf(day domain.Date) domain.Date {
	y, m, _ := day.Time().Date()
	return domain.NewDate(y, m, 1)
}

// deltaPoint is a day on which the count of a field, department and level
// changes.
type deltaPoint struct {
	field      string
	department string
	level      int
	day        domain.Date
}

// distributionDeltas accumulates the changes a batch makes to the
// distribution, per day: a person's periods are subtracted and added back
// whole, so most changes cancel out before they are spread over the grains,
// and each row is written once however many periods touch it.
type distributionDeltas map[deltaPoint]int64

// addPeriod adds sign (+1 for a new period, -1 for a removed one) to the
// count of the period's field, department and level on each of its days: at
// its start, and back at its end unless it is open.
func (m distributionDeltas) addPeriod(p projections.DistributionPeriod, sign int64) {
	pt := deltaPoint{field: string(p.Field), department: p.Department, level: p.Level, day: p.From}
	m[pt] += sign
	if !p.To.IsZero() {
		pt.day = p.To
		m[pt] -= sign
	}
}

// rows sums the changes into the rows of their month; sums that cancel out
// are dropped.
func (m distributionDeltas) rows() map[deltaKey]int64 {
	out := make(map[deltaKey]int64, len(m))
	for pt, n := range m {
		if n == 0 {
			continue
		}
		out[deltaKey{field: pt.field, bucket: monthOf(pt.day), department: pt.department, level: pt.level}] += n
	}
	for k, n := range out {
		if n == 0 {
			delete(out, k)
		}
	}
	return out
}

// deltaColumns are the rows of a distributionDeltas as column arrays for
// unnest, in key order.
type deltaColumns struct {
	fields      []string
	buckets     []time.Time
	departments []string
	levels      []int32
	deltas      []int64
}

// columns returns the rows as column arrays sorted by key, so that a batch
// writes its rows in a deterministic order.
func (m distributionDeltas) columns() deltaColumns {
	rows := m.rows()
	keys := make([]deltaKey, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b deltaKey) int {
		return cmp.Or(cmp.Compare(a.field, b.field), a.bucket.Compare(b.bucket),
			cmp.Compare(a.department, b.department), cmp.Compare(a.level, b.level))
	})
	c := deltaColumns{
		fields:      make([]string, len(keys)),
		buckets:     make([]time.Time, len(keys)),
		departments: make([]string, len(keys)),
		levels:      make([]int32, len(keys)),
		deltas:      make([]int64, len(keys)),
	}
	for i, k := range keys {
		c.fields[i], c.buckets[i], c.departments[i], c.levels[i], c.deltas[i] =
			k.field, k.bucket.Time(), k.department, int32(k.level), rows[k]
	}
	return c
}
