package projections

import (
	"context"

	"github.com/careerledger/careerledger/domain"
)

// DistributionPeriod says that from From (inclusive) to To (exclusive, zero
// = open) the person belonged to Department at Level in Field. A person's
// periods cover every day they belong to a department, level 0 included, so
// the distribution on a date is one count over the periods valid on it.
type DistributionPeriod struct {
	Field      domain.Field
	Department string
	Level      int
	From, To   domain.Date
}

// DistributionPeriodsOf intersects department memberships with level
// periods, per field.
func DistributionPeriodsOf(fields []domain.Field, ms []domain.Membership, levels []domain.LevelPeriod) []DistributionPeriod {
	var out []DistributionPeriod
	for _, f := range fields {
		for _, m := range ms {
			cur := m.From
			for _, p := range levels {
				if p.Field != f {
					continue // another field's: the periods are walked in place, not copied per field
				}
				if !before(p.From, m.To) || !before(cur, p.To) || !p.To.IsZero() && !p.To.After(cur) {
					continue
				}
				start := later(p.From, cur)
				if start.After(cur) {
					out = append(out, DistributionPeriod{Field: f, Department: m.Department, Level: 0, From: cur, To: start})
				}
				end := earlier(p.To, m.To)
				out = append(out, DistributionPeriod{Field: f, Department: m.Department, Level: p.Level, From: start, To: end})
				cur = end
				if cur.IsZero() {
					break
				}
			}
			if !cur.IsZero() && before(cur, m.To) {
				out = append(out, DistributionPeriod{Field: f, Department: m.Department, Level: 0, From: cur, To: m.To})
			}
		}
	}
	return out
}

// before reports a < b where a zero b is the open end (infinity).
func before(a, b domain.Date) bool { return b.IsZero() || a.Before(b) }

func later(a, b domain.Date) domain.Date {
	if a.After(b) {
		return a
	}
	return b
}

// earlier returns the earlier of two period ends (zero = open).
func earlier(a, b domain.Date) domain.Date {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case a.Before(b):
		return a
	}
	return b
}

// TrendReader is a read model that answers the distributions of one field
// on many dates at once, faster than a Distribution per date (the
// PostgreSQL store reads them in one statement).
type TrendReader interface {
	Trend(ctx context.Context, field domain.Field, dates []domain.Date, department string) ([][]Cell, error)
}

// Distributor is what Trend needs of a read model without a Trend of its
// own.
type Distributor interface {
	Distribution(ctx context.Context, field domain.Field, asOf domain.Date, department string) ([]Cell, error)
}

// Trend returns the distribution of field on each of dates (ascending),
// each as Distribution answers it: from rm's Trend when it has one, else
// one Distribution per date.
func Trend(ctx context.Context, rm Distributor, field domain.Field, dates []domain.Date, department string) ([][]Cell, error) {
	if tr, ok := rm.(TrendReader); ok {
		return tr.Trend(ctx, field, dates, department)
	}
	out := make([][]Cell, len(dates))
	for i, d := range dates {
		cells, err := rm.Distribution(ctx, field, d, department)
		if err != nil {
			return nil, err
		}
		out[i] = cells
	}
	return out, nil
}
