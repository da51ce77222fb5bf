package projectionstest

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
)

// Queries says what a Snapshot asks a read model.
type Queries struct {
	IDs         []string      // people (unknown ids are fine: the NotFound is compared)
	Dates       []domain.Date // asOf dates for standings, people and distributions
	KnownAt     []time.Time   // knownAt times for standings (zero = now is always asked)
	Departments []string
	PageSize    int // for paged queries; default 3
}

// Snapshot asks rm everything q names and returns the answers by query, with
// times in UTC and domain errors reduced to their kind, so that two read
// models that hold the same state give reflect.DeepEqual snapshots. An error
// that is not a domain error fails the test.
func Snapshot(t testing.TB, rm ReadModel, q Queries) map[string]any {
	t.Helper()
	ctx := context.Background()
	size := q.PageSize
	if size <= 0 {
		size = 3
	}
	out := map[string]any{}
	put := func(key string, v any, err error) {
		t.Helper()
		if err != nil {
			if k := domain.KindOf(err); k == domain.KindInternal {
				t.Fatalf("snapshot %s: %v", key, err)
			}
			v = fmt.Sprintf("error: %v", domain.KindOf(err))
		}
		out[key] = v
	}
	cp, err := rm.Checkpoint(ctx)
	put("checkpoint", cp, err)
	byID, err := rm.PeopleByID(ctx, q.IDs)
	put("peopleByID", byID, err)
	evs, err := rm.PersonEvents(ctx, q.IDs)
	for id, rs := range evs {
		evs[id] = NormalizeEvents(rs)
	}
	put("personEvents", evs, err)
	fields := append([]*domain.Field{nil}, fieldPtrs()...)
	for _, id := range q.IDs {
		p, err := rm.Person(ctx, id)
		put("person "+id, p, err)
		for _, f := range fields {
			h, err := rm.History(ctx, id, f)
			if len(h) == 0 {
				h = nil
			}
			put(fmt.Sprintf("history %s %s", id, fieldName(f)), h, err)
		}
		for _, d := range q.Dates {
			for _, k := range append([]time.Time{{}}, q.KnownAt...) {
				st, err := rm.Standing(ctx, id, d, k)
				put(fmt.Sprintf("standing %s %s knownAt %s", id, d, k.UTC().Format(time.RFC3339Nano)), st, err)
			}
		}
		var pages []projections.AccomplishmentPage
		after := uint64(0)
		for n := 0; ; n++ {
			page, err := rm.Accomplishments(ctx, id, size, after)
			if err != nil {
				put("accomplishments "+id, nil, err)
				break
			}
			page.Items = NormalizeAccomplishments(page.Items)
			pages = append(pages, page)
			for _, a := range page.Items {
				after = a.Position
				one, err := rm.Accomplishment(ctx, a.ID)
				put("accomplishment "+a.ID, NormalizeAccomplishments([]projections.AccomplishmentView{one})[0], err)
			}
			if !page.HasNext || n > 10000 {
				put("accomplishments "+id, pages, nil)
				break
			}
		}
	}
	_, err = rm.Accomplishment(ctx, "nobody.AAAAAAAAAA")
	put("accomplishment unknown", nil, err)
	for _, d := range q.Dates {
		filters := []projections.PeopleFilter{{AsOf: d}}
		for _, dept := range q.Departments {
			filters = append(filters, projections.PeopleFilter{AsOf: d, Department: dept})
		}
		for level := 1; level <= 3; level++ {
			filters = append(filters, projections.PeopleFilter{AsOf: d, MinLevel: level})
			for _, f := range domain.Fields {
				filters = append(filters, projections.PeopleFilter{AsOf: d, Field: f, MinLevel: level})
			}
		}
		for _, f := range filters {
			f.First = size
			pages, err := AllPeople(ctx, rm, f)
			put(fmt.Sprintf("people %+v", f), pages, err)
		}
		for _, f := range domain.Fields {
			for _, dept := range append([]string{""}, q.Departments...) {
				cells, err := rm.Distribution(ctx, f, d, dept)
				if len(cells) == 0 {
					cells = nil
				}
				put(fmt.Sprintf("distribution %s %s %q", f, d, dept), cells, err)
			}
		}
	}
	return out
}

// AllPeople walks every page of a people query.
func AllPeople(ctx context.Context, rm ReadModel, f projections.PeopleFilter) ([]projections.PeoplePage, error) {
	var pages []projections.PeoplePage
	for n := 0; ; n++ {
		page, err := rm.People(ctx, f)
		if err != nil {
			return nil, err
		}
		pages = append(pages, page)
		if !page.HasNext || len(page.People) == 0 || n > 10000 {
			return pages, nil
		}
		f.After = page.People[len(page.People)-1].ID
	}
}

// CompareSnapshots reports every query whose answers differ.
func CompareSnapshots(t testing.TB, got, want map[string]any) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	bad := 0
	for _, k := range keys {
		if !reflect.DeepEqual(got[k], want[k]) {
			if bad++; bad <= 10 {
				t.Errorf("%s:\n got %+v\nwant %+v", k, got[k], want[k])
			}
		}
	}
	if bad > 10 {
		t.Errorf("... and %d more differences (of %d queries)", bad-10, len(keys))
	}
}

// NormalizeEvents returns rs with recorded times in UTC.
func NormalizeEvents(rs []events.Recorded) []events.Recorded {
	out := make([]events.Recorded, len(rs))
	for i, r := range rs {
		r.RecordedAt = r.RecordedAt.UTC()
		out[i] = r
	}
	return out
}

// NormalizeAccomplishments returns as with times in UTC.
func NormalizeAccomplishments(as []projections.AccomplishmentView) []projections.AccomplishmentView {
	out := make([]projections.AccomplishmentView, len(as))
	for i, a := range as {
		a.RecordedAt = a.RecordedAt.UTC()
		if !a.AmendedAt.IsZero() {
			a.AmendedAt = a.AmendedAt.UTC()
		}
		out[i] = a
	}
	return out
}

func fieldPtrs() []*domain.Field {
	var out []*domain.Field
	for _, f := range domain.Fields {
		out = append(out, &f)
	}
	return out
}

func fieldName(f *domain.Field) string {
	if f == nil {
		return "all"
	}
	return string(*f)
}
