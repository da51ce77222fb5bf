package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph/model"
	"github.com/careerledger/careerledger/projections"
)

// maxPage is the largest page a connection serves, as GitHub's API does.
const maxPage = 100

func pageSize(first *int) (int, error) {
	if first == nil {
		return 20, nil
	}
	if *first < 1 || *first > maxPage {
		return 0, domain.Invalid("first", "must be between 1 and 100")
	}
	return *first, nil
}

// accomplishmentsPage reads Person.accomplishments' arguments: the size of
// the page, the position after which it starts, and the person whose list
// the cursor pages ("" without one).
func accomplishmentsPage(first *int, after *string) (int, uint64, string, error) {
	n, err := pageSize(first)
	if err != nil {
		return 0, 0, "", err
	}
	from, person, err := projections.DecodePositionCursor(deref(after))
	if err != nil {
		return 0, 0, "", err
	}
	return n, from, person, nil
}

// maxTrendPoints bounds the work one skillTrend request can ask for.
const maxTrendPoints = 400

// addMonths is d n months on, on the same day of the month or, where that
// month is shorter, on its last day: from January 31 monthly gives February
// 29 (or 28), March 31, April 30; from February 29 yearly, February 28. A
// date never rolls into the month after (time.AddDate would skip February
// from January 31).
func addMonths(d domain.Date, n int) domain.Date {
	t := d.Time()
	y, m := t.Year(), int(t.Month())-1+n
	y, m = y+m/12, m%12
	if m < 0 {
		y, m = y-1, m+12
	}
	month := time.Month(m + 1)
	last := time.Date(y, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return domain.NewDate(y, month, min(t.Day(), last))
}

func trendDates(from, to domain.Date, interval model.Interval) ([]domain.Date, error) {
	if to.Before(from) {
		return nil, domain.Invalid("to", "must not be before from")
	}
	var out []domain.Date
	for i := 0; ; i++ {
		var d domain.Date
		switch interval {
		case model.IntervalDay:
			d = from.AddDays(i)
		case model.IntervalWeek:
			d = from.AddDays(7 * i)
		case model.IntervalMonth:
			d = addMonths(from, i)
		case model.IntervalQuarter:
			d = addMonths(from, 3*i)
		default:
			d = addMonths(from, 12*i)
		}
		if d.After(to) {
			return out, nil
		}
		if len(out) == maxTrendPoints {
			return nil, domain.Invalid("interval", "yields more than 400 points between from and to")
		}
		out = append(out, d)
	}
}

// selectsField reports whether the field being resolved, of type typ,
// has name among its selections.
func selectsField(ctx context.Context, typ, name string) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return true
	}
	for _, f := range graphql.CollectFields(graphql.GetOperationContext(ctx), fc.Field.Selections, []string{typ}) {
		if f.Name == name {
			return true
		}
	}
	return false
}

// selectsWithdrawn reports whether the levelChanged subscription in ctx
// selects withdrawn. Only such a subscription is sent withdrawals: one
// written before withdrawals existed would receive a withdrawal as a
// message identical to the announcement it withdraws.
func selectsWithdrawn(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return false
	}
	for _, f := range graphql.CollectFields(graphql.GetOperationContext(ctx), fc.Field.Selections, []string{"LevelChange"}) {
		if f.Name == "withdrawn" {
			return true
		}
	}
	return false
}
