package graph

import (
	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph/model"
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

// maxTrendPoints bounds the work one skillTrend request can ask for.
const maxTrendPoints = 400

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
			d = from.AddDate(0, i, 0)
		case model.IntervalQuarter:
			d = from.AddDate(0, 3*i, 0)
		default:
			d = from.AddDate(i, 0, 0)
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
