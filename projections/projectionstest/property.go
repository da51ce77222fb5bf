package projectionstest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
)

// PropertyConfig sizes RunProperty.
type PropertyConfig struct {
	Seeds  int // random sequences; default 20
	Steps  int // commands per sequence; default 60
	People int // people per sequence; default 5
	// Bulk stops the projector until a random step, then catches up with
	// a bulk projector in small batches (each person judged at the head),
	// instead of restarting it.
	Bulk bool
	// MaxCached is the projector's cache bound (0: its default); with 1 or
	// 2 people among several, the projector drops and reloads people
	// nearly every batch.
	MaxCached int
}

// RunProperty checks, for random command sequences recorded through the real
// Recorder and projected into read models made by newStore, that everything
// the read model answers equals what the domain computes directly from the
// log: for every person the standing on random dates (now and as known at
// random times), the history, the memberships and the accomplishments; and
// the people filters and distributions on random dates. The projector is
// restarted once in the middle of each sequence, so that it also folds
// people reloaded from the store.
func RunProperty(t *testing.T, newStore Factory, cfg PropertyConfig) {
	if cfg.Seeds <= 0 {
		cfg.Seeds = 20
	}
	if cfg.Steps <= 0 {
		cfg.Steps = 60
	}
	if cfg.People <= 0 {
		cfg.People = 5
	}
	// Guard against a vacuous property: over all sequences, the workload must
	// have reached high levels, amended and retracted, and "as known at" must
	// have differed from "now".
	cov := &coverage{types: map[string]int{}}
	t.Cleanup(func() {
		cov.mu.Lock()
		defer cov.mu.Unlock()
		t.Logf("coverage: %d standings compared (max level %d), %d knownAt standings differing from now, %d batches deferred, %d people dropped from the cache, events %v",
			cov.standings, cov.maxLevel, cov.knownAtDiffers, cov.deferred, cov.evicted, cov.types)
		if t.Failed() {
			return
		}
		if cfg.MaxCached > 0 && cov.evicted == 0 {
			t.Errorf("nobody was dropped from the projector's cache: the bound was not exercised")
		}
		if cfg.Bulk && cov.deferred == 0 {
			t.Errorf("no batch was deferred: the bulk catch-up was not exercised")
		}
		if cov.maxLevel < 3 || cov.knownAtDiffers == 0 || cov.types["AccomplishmentAmended"] == 0 ||
			cov.types["AccomplishmentRetracted"] == 0 || cov.types["PersonDeparted"] == 0 {
			t.Errorf("the random sequences do not cover the interesting cases")
		}
	})
	for seed := uint64(1); seed <= uint64(cfg.Seeds); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			cat := domain.DefaultCatalogue()
			e := Start(t, newStore(t, cat), cat)
			if cfg.MaxCached != 0 {
				e.StopProjector()
				e.MaxCached = cfg.MaxCached
				e.StartProjector()
			}
			w := NewWorkload(seed, cat, e.Recorder, "E", cfg.People)
			restartAt := w.R.IntN(cfg.Steps)
			if cfg.Bulk {
				e.StopProjector()
				e.Bulk, e.MaxBatch = true, 1+w.R.IntN(5)
			}
			var last uint64
			for i := 0; i < cfg.Steps; i++ {
				if i == restartAt {
					e.StopProjector()
					e.StartProjector()
				}
				res, err := w.Step(ctx)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				last = max(last, res.Position)
				if cfg.MaxCached != 0 && i%2 == 0 && (!cfg.Bulk || i > restartAt) {
					// Let the batch commit, so that the next one finds
					// people the bound can drop (never those of a batch
					// still being applied). A bulk projector is stopped
					// until restartAt.
					e.Wait(last)
				}
			}
			e.Wait(last)
			cov.mu.Lock()
			cov.deferred += e.Deferred.Load()
			cov.evicted += e.Evicted.Load()
			cov.mu.Unlock()
			checkAgainstFold(t, e, w.R, w.IDs, cov)
		})
	}
}

// personFold is one person's events and their direct fold.
type personFold struct {
	events []events.Recorded
	person *domain.Person
}

// coverage counts what the property checks saw.
type coverage struct {
	mu             sync.Mutex
	standings      int
	maxLevel       int
	knownAtDiffers int
	deferred       int64
	evicted        int64
	types          map[string]int
}

func (c *coverage) standing(st domain.Standing, differsFromNow bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.standings++
	for _, fs := range st.Fields {
		c.maxLevel = max(c.maxLevel, fs.Level)
	}
	if differsFromNow {
		c.knownAtDiffers++
	}
}

func checkAgainstFold(t *testing.T, e *Env, r *rand.Rand, ids []string, cov *coverage) {
	all, err := e.Log.Read(ctx, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	folds := map[string]*personFold{}
	cov.mu.Lock()
	for _, rec := range all {
		cov.types[rec.Type]++
	}
	cov.mu.Unlock()
	for _, rec := range all {
		f := folds[rec.PersonID]
		if f == nil {
			f = &personFold{}
			folds[rec.PersonID] = f
		}
		f.events = append(f.events, rec)
	}
	for _, f := range folds {
		f.person = events.Fold(f.events)
	}
	// Dates: random ones, today, and the edges of every level change.
	dates := []domain.Date{Today, domain.MustDate("2013-01-01")}
	for range 6 {
		dates = append(dates, domain.MustDate("2012-01-01").AddDays(r.IntN(int(Today.Days()-domain.MustDate("2012-01-01").Days())+1)))
	}
	for _, id := range ids {
		f := folds[id]
		if f == nil {
			if _, err := e.Store.Person(ctx, id); domain.KindOf(err) != domain.KindNotFound {
				t.Errorf("%s was never registered: Person err = %v, want NotFound", id, err)
			}
			continue
		}
		checkPerson(t, e, r, id, f, dates, cov)
	}
	checkPeopleAndDistribution(t, e, folds, dates)
	checkTrend(t, e, dates)
}

func checkPerson(t *testing.T, e *Env, r *rand.Rand, id string, f *personFold, common []domain.Date, cov *coverage) {
	cat, p := e.Cat, f.person
	ev := p.Evidence()
	timeline := cat.Timeline(ev)

	view, err := e.Store.Person(ctx, id)
	if err != nil {
		t.Fatalf("person %s: %v", id, err)
	}
	wantView := projections.PersonView{ID: id, Name: p.Name, JoinedOn: p.JoinedOn, Memberships: p.Memberships(),
		Position: f.events[len(f.events)-1].Position}
	if len(view.Memberships) == 0 {
		view.Memberships = nil
	}
	if len(wantView.Memberships) == 0 {
		wantView.Memberships = nil
	}
	if !reflect.DeepEqual(view, wantView) {
		t.Errorf("person %s:\n got %+v\nwant %+v", id, view, wantView)
	}

	// Standing as known now, on common and person-specific dates.
	dates := append([]domain.Date(nil), common...)
	for _, c := range timeline {
		dates = append(dates, c.On, c.On.AddDays(-1))
	}
	for _, d := range dates {
		got, err := e.Store.Standing(ctx, id, d, time.Time{})
		if err != nil {
			t.Fatalf("standing %s %s: %v", id, d, err)
		}
		if want := cat.Evaluate(ev, d); !reflect.DeepEqual(got, want) {
			t.Errorf("standing %s on %s differs from Evaluate of the fold:\n got %+v\nwant %+v", id, d, got, want)
		}
		cov.standing(got, false)
	}

	// History, of all fields and of each.
	gotH, err := e.Store.History(ctx, id, nil)
	if err != nil {
		t.Fatalf("history %s: %v", id, err)
	}
	if !sameChanges(gotH, timeline) {
		t.Errorf("history %s:\n got %+v\nwant %+v", id, gotH, timeline)
	}
	for _, fl := range domain.Fields {
		gotF, err := e.Store.History(ctx, id, &fl)
		if err != nil {
			t.Fatalf("history %s %s: %v", id, fl, err)
		}
		if want := projections.HistoryOf(timeline, &fl); !sameChanges(gotF, want) {
			t.Errorf("history %s of %s:\n got %+v\nwant %+v", id, fl, gotF, want)
		}
	}

	// Standing as known at random times: exactly, just before and after
	// events' recorded times, and before the person existed.
	var knownAt []time.Time
	for range 8 {
		rec := f.events[r.IntN(len(f.events))].RecordedAt
		knownAt = append(knownAt, rec, rec.Add(-time.Nanosecond), rec.Add(500*time.Millisecond))
	}
	knownAt = append(knownAt, f.events[0].RecordedAt.Add(-time.Second))
	for _, k := range knownAt {
		var known []events.Recorded
		for _, rec := range f.events {
			if !rec.RecordedAt.After(k) {
				known = append(known, rec)
			}
		}
		kp := events.Fold(known)
		for range 3 {
			d := dates[r.IntN(len(dates))]
			got, err := e.Store.Standing(ctx, id, d, k)
			if kp == nil {
				// Nothing was known of the person: judged on no evidence, no error.
				want := cat.Evaluate(domain.Evidence{}, d)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("standing %s on %s known at %s (before registration): %+v, %v; want %+v", id, d, k, got, err, want)
				}
				continue
			}
			if err != nil {
				t.Fatalf("standing %s on %s known at %s: %v", id, d, k, err)
			}
			want := cat.Evaluate(kp.Evidence(), d)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("standing %s on %s known at %s differs from the fold of the events recorded by then:\n got %+v\nwant %+v",
					id, d, k, got, want)
			}
			now := cat.Evaluate(ev, d)
			cov.standing(got, !reflect.DeepEqual(levelsOf(got), levelsOf(now)))
			// The domain's own "as known at" agrees.
			if alt := cat.Evaluate(p.EvidenceKnownAt(k), d); !reflect.DeepEqual(alt, want) {
				t.Errorf("standing %s on %s: EvidenceKnownAt(%s) disagrees with folding the known events", id, d, k)
			}
		}
	}

	// Accomplishments, every page, against a walk of the events.
	want := expectedAccomplishments(id, f.events)
	var got []projections.AccomplishmentView
	after := uint64(0)
	for n := 0; ; n++ {
		size := 1 + r.IntN(4)
		page, err := e.Store.Accomplishments(ctx, id, size, after)
		if err != nil {
			t.Fatalf("accomplishments %s: %v", id, err)
		}
		if page.TotalCount != len(want) {
			t.Errorf("accomplishments %s: totalCount %d, want %d", id, page.TotalCount, len(want))
		}
		if len(page.Items) > size {
			t.Errorf("accomplishments %s: page of %d items, asked for %d", id, len(page.Items), size)
		}
		got = append(got, page.Items...)
		if !page.HasNext || len(page.Items) == 0 || n > len(want)+1 {
			break
		}
		after = page.Items[len(page.Items)-1].Position
	}
	got = NormalizeAccomplishments(got)
	if len(got) == 0 {
		got = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("accomplishments %s:\n got %s\nwant %s", id, describe(got), describe(want))
	}
	for _, a := range want {
		one, err := e.Store.Accomplishment(ctx, a.ID)
		if err != nil {
			t.Fatalf("accomplishment %s: %v", a.ID, err)
		}
		if one = NormalizeAccomplishments([]projections.AccomplishmentView{one})[0]; !reflect.DeepEqual(one, a) {
			t.Errorf("accomplishment %s:\n got %s\nwant %s", a.ID, describe([]projections.AccomplishmentView{one}), describe([]projections.AccomplishmentView{a}))
		}
	}
}

// expectedAccomplishments walks a person's events: every accomplishment in
// recording order, with its latest value and whether it was retracted.
func expectedAccomplishments(id string, rs []events.Recorded) []projections.AccomplishmentView {
	var out []projections.AccomplishmentView
	index := map[string]int{}
	for _, r := range rs {
		switch v := r.Event.(type) {
		case events.AccomplishmentRetracted:
			out[index[v.AccomplishmentID]].Retracted = true
			out[index[v.AccomplishmentID]].RetractionReason = v.Reason
			out[index[v.AccomplishmentID]].RetractedBy = r.RecordedBy
		case *events.AccomplishmentRetracted:
			out[index[v.AccomplishmentID]].Retracted = true
			out[index[v.AccomplishmentID]].RetractionReason = v.Reason
			out[index[v.AccomplishmentID]].RetractedBy = r.RecordedBy
		case events.AccomplishmentAmended, *events.AccomplishmentAmended:
			a, _ := events.ToAccomplishment(v)
			i := index[a.ID()]
			out[i].Accomplishment = a
			out[i].AmendedAt = r.RecordedAt.UTC()
			out[i].AmendedBy = r.RecordedBy
			out[i].VersionPosition = r.Position
		default:
			if a, ok := events.ToAccomplishment(v); ok {
				index[a.ID()] = len(out)
				out = append(out, projections.AccomplishmentView{ID: a.ID(), PersonID: id, Accomplishment: a,
					Position: r.Position, VersionPosition: r.Position, RecordedAt: r.RecordedAt.UTC(), RecordedBy: r.RecordedBy})
			}
		}
	}
	return out
}

// checkTrend: a trend over the random dates, and a daily one over a month
// of the workload's years, equal a Distribution per date (which
// checkPeopleAndDistribution holds to the folds), for everyone and for
// one department.
func checkTrend(t *testing.T, e *Env, dates []domain.Date) {
	sorted := slices.Clone(dates)
	slices.SortFunc(sorted, func(a, b domain.Date) int { return cmp.Compare(a.Days(), b.Days()) })
	sorted = slices.Compact(sorted)
	for d := domain.MustDate("2016-01-15"); d.Before(domain.MustDate("2016-02-15")); d = d.AddDays(1) {
		sorted = append(sorted, d) // a daily run (ascending on its own)
	}
	runs := [][]domain.Date{sorted[:len(sorted)-31], sorted[len(sorted)-31:]}
	for _, run := range runs {
		for _, fl := range domain.Fields {
			for _, dept := range []string{"", departments[0]} {
				trend, err := projections.Trend(ctx, e.Store, fl, run, dept)
				if err != nil {
					t.Fatalf("trend: %v", err)
				}
				if len(trend) != len(run) {
					t.Fatalf("trend of %d dates: %d points", len(run), len(trend))
				}
				for i, d := range run {
					want, err := e.Store.Distribution(ctx, fl, d, dept)
					if err != nil {
						t.Fatalf("distribution: %v", err)
					}
					got := trend[i]
					if len(got) == 0 && len(want) == 0 {
						continue
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("trend of %s in %q, point %s:\n got %+v\nwant %+v", fl, dept, d, got, want)
					}
				}
			}
		}
	}
}

func checkPeopleAndDistribution(t *testing.T, e *Env, folds map[string]*personFold, dates []domain.Date) {
	var ids []string
	for id, f := range folds {
		if f.person != nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, d := range dates {
		levels := map[string]domain.Standing{}
		for _, id := range ids {
			levels[id] = e.Cat.Evaluate(folds[id].person.Evidence(), d)
		}
		// Distribution: count the folds directly.
		for _, fl := range domain.Fields {
			for _, dept := range append([]string{""}, departments...) {
				counts := map[projections.Cell]int{}
				for _, id := range ids {
					pd := folds[id].person.DepartmentOn(d)
					if pd == "" || (dept != "" && pd != dept) {
						continue
					}
					counts[projections.Cell{Department: pd, Level: LevelOf(levels[id], fl)}]++
				}
				var want []projections.Cell
				for c, n := range counts {
					c.Count = n
					want = append(want, c)
				}
				sort.Slice(want, func(i, j int) bool {
					if want[i].Department != want[j].Department {
						return want[i].Department < want[j].Department
					}
					return want[i].Level < want[j].Level
				})
				got, err := e.Store.Distribution(ctx, fl, d, dept)
				if err != nil {
					t.Fatalf("distribution: %v", err)
				}
				if len(got) == 0 {
					got = nil
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("distribution of %s on %s in %q:\n got %+v\nwant %+v", fl, d, dept, got, want)
				}
			}
		}
		// People filters, walked page by page.
		type filter struct {
			dept  string
			field domain.Field
			min   int
		}
		filters := []filter{{}}
		for _, dept := range departments {
			filters = append(filters, filter{dept: dept}, filter{dept: dept, min: 2})
		}
		for min := 1; min <= 4; min++ {
			filters = append(filters, filter{min: min})
			for _, fl := range domain.Fields {
				filters = append(filters, filter{field: fl, min: min})
			}
		}
		for _, fi := range filters {
			var want []string
			for _, id := range ids {
				if fi.dept != "" && folds[id].person.DepartmentOn(d) != fi.dept {
					continue
				}
				if fi.min > 0 {
					ok := false
					for _, fl := range domain.Fields {
						if (fi.field == "" || fi.field == fl) && LevelOf(levels[id], fl) >= fi.min {
							ok = true
						}
					}
					if !ok {
						continue
					}
				}
				want = append(want, id)
			}
			pages, err := AllPeople(ctx, e.Store, projections.PeopleFilter{Department: fi.dept, Field: fi.field, MinLevel: fi.min, AsOf: d, First: 2})
			if err != nil {
				t.Fatalf("people: %v", err)
			}
			var got []string
			for _, pg := range pages {
				if pg.TotalCount != len(want) {
					t.Errorf("people %+v on %s: totalCount %d, want %d", fi, d, pg.TotalCount, len(want))
				}
				for _, pv := range pg.People {
					got = append(got, pv.ID)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("people %+v on %s: %v, want %v", fi, d, got, want)
			}
		}
	}
}

func levelsOf(st domain.Standing) []int {
	var out []int
	for _, fs := range st.Fields {
		out = append(out, fs.Level)
	}
	return out
}

func sameChanges(a, b []domain.LevelChange) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func describe(as []projections.AccomplishmentView) string {
	s := ""
	for _, a := range as {
		s += fmt.Sprintf("\n  {%s pos=%d rec=%s by %q amended=%s by %q retracted=%v by %q %q %s}", a.ID, a.Position, a.RecordedAt, a.RecordedBy, a.AmendedAt, a.AmendedBy, a.Retracted, a.RetractedBy,
			a.RetractionReason, describeAccomplishment(a.Accomplishment))
	}
	return s
}

func describeAccomplishment(a domain.Accomplishment) string {
	switch {
	case a.Engagement != nil:
		return fmt.Sprintf("%+v", *a.Engagement)
	case a.Succession != nil:
		return fmt.Sprintf("%+v", *a.Succession)
	case a.Development != nil:
		return fmt.Sprintf("%+v", *a.Development)
	case a.Assessment != nil:
		return fmt.Sprintf("%+v", *a.Assessment)
	}
	return "{}"
}
