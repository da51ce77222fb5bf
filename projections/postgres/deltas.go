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

// distributionDeltas accumulates the changes a batch makes to the
// distribution: a person's periods are subtracted and added back whole, so
// most changes cancel out before they are written, and each row is written
// once however many periods touch it. The changes are kept as they come,
// each already in its month, and summed once, sorted (columns): a batch
// makes a few dozen of them, which a sort merges for less than hashing
// them into a map. A rebuild's head batch makes one or two for every
// distribution period of the log (close to a million for 100,000 people)
// over a few thousand rows: those are added up in a map first
// (mergeAbove).
type distributionDeltas struct {
	changes []deltaChange
}

// deltaChange is a change of the count of a row's field, department and
// level on a day of its month.
type deltaChange struct {
	key deltaKey
	n   int64
}

// addPeriod adds sign (+1 for a new period, -1 for a removed one) to the
// count of the period's field, department and level on each of its days: at
// its start, and back at its end unless it is open.
func (m *distributionDeltas) addPeriod(p projections.DistributionPeriod, sign int64) {
	k := deltaKey{field: string(p.Field), bucket: monthOf(p.From), department: p.Department, level: p.Level}
	if !p.To.IsZero() {
		end := monthOf(p.To)
		if end == k.bucket {
			return // within one month: its row does not change
		}
		m.changes = append(m.changes, deltaChange{k, sign})
		k.bucket = end
		sign = -sign
	}
	m.changes = append(m.changes, deltaChange{k, sign})
}

// mergeAbove is the number of changes above which sum adds up each row's
// changes in a map before sorting: sorting close to a million changes
// compared their strings tens of millions of times (1.5 s of a rebuild of
// a million events); hashing each once takes a fraction of that.
const mergeAbove = 4096

// sum returns the rows the changes add up to, sorted by key; sums that
// cancel out are dropped.
func (m *distributionDeltas) sum() []deltaChange {
	if len(m.changes) > mergeAbove {
		m.merge()
	}
	slices.SortFunc(m.changes, func(a, b deltaChange) int { return compareKeys(a.key, b.key) })
	out := m.changes[:0] // summed in place: the sum of a run is written before the run's next one is read
	for _, c := range m.changes {
		if len(out) > 0 && out[len(out)-1].key == c.key {
			out[len(out)-1].n += c.n
			continue
		}
		if len(out) > 0 && out[len(out)-1].n == 0 {
			out = out[:len(out)-1]
		}
		out = append(out, c)
	}
	if len(out) > 0 && out[len(out)-1].n == 0 {
		out = out[:len(out)-1]
	}
	m.changes = out
	return out
}

// merge replaces the changes with one change a row, their sum.
func (m *distributionDeltas) merge() {
	sums := make(map[deltaKey]int64)
	for _, c := range m.changes {
		sums[c.key] += c.n
	}
	out := m.changes[:0] // the map holds no more rows than there were changes
	for k, n := range sums {
		out = append(out, deltaChange{k, n})
	}
	m.changes = out
}

// compareKeys orders delta rows by field, month, department and level.
func compareKeys(a, b deltaKey) int {
	return cmp.Or(cmp.Compare(a.field, b.field), a.bucket.Compare(b.bucket),
		cmp.Compare(a.department, b.department), cmp.Compare(a.level, b.level))
}

// rows returns the rows the changes add up to, as a map; sums that cancel
// out are dropped.
func (m *distributionDeltas) rows() map[deltaKey]int64 {
	sums := m.sum()
	out := make(map[deltaKey]int64, len(sums))
	for _, c := range sums {
		out[c.key] = c.n
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
func (m *distributionDeltas) columns() deltaColumns {
	rows := m.sum()
	c := deltaColumns{
		fields:      make([]string, len(rows)),
		buckets:     make([]time.Time, len(rows)),
		departments: make([]string, len(rows)),
		levels:      make([]int32, len(rows)),
		deltas:      make([]int64, len(rows)),
	}
	for i, r := range rows {
		c.fields[i], c.buckets[i], c.departments[i], c.levels[i], c.deltas[i] =
			r.key.field, r.key.bucket.Time(), r.key.department, int32(r.key.level), r.n
	}
	return c
}
