package domain_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
)

// generator makes random but plausible evidence, biased toward the
// thresholds so that every level is reached now and then.
type generator struct {
	r   *rand.Rand
	seq int
}

func newGenerator(seed uint64) *generator {
	return &generator{r: rand.New(rand.NewPCG(seed, 0x5eed))}
}

func (g *generator) id(prefix string) string {
	g.seq++
	return fmt.Sprintf("%s%03d", prefix, g.seq)
}

func (g *generator) date() domain.Date { return day("2015-01-01").AddDays(g.r.IntN(3000)) }

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

func (g *generator) size(values ...int64) *int64 {
	if g.r.IntN(3) == 0 {
		return nil
	}
	return num(pick(g.r, values))
}

func (g *generator) engagement() Engagement {
	f := pick(g.r, domain.Fields)
	e := Engagement{ID: g.id("e"), Field: f, Title: "work", Role: pick(g.r, domain.Roles),
		StartedOn: g.date(), Outcome: pick(g.r, []domain.Outcome{domain.Successful, domain.Successful, domain.Unsuccessful, domain.Ongoing}),
		WithinBudget:           g.r.IntN(4) > 0,
		PeakHeadcount:          g.size(1, 9, 10, 19, 20, 60),
		AnnualContractValueYen: g.size(0, 99_999_999, 100_000_000, 149_999_999, 150_000_000),
		InstallationSites:      g.size(0, 99, 100),
		InquiriesPerYear:       g.size(0, 2999, 3000),
	}
	if e.Outcome != domain.Ongoing {
		e.CompletedOn = e.StartedOn.AddDays(g.r.IntN(400))
	}
	for _, c := range catalogue.CriteriaOf(f) {
		if g.r.IntN(2) == 0 {
			e.Complexity = append(e.Complexity, c)
		}
	}
	return e
}

func (g *generator) succession() SuccessionItem {
	s := SuccessionItem{ID: g.id("s"), Kind: pick(g.r, domain.SuccessionKinds), Title: "item", OccurredOn: g.date()}
	for _, f := range domain.Fields {
		if g.r.IntN(2) == 0 {
			s.Fields = append(s.Fields, f)
		}
	}
	if len(s.Fields) == 0 {
		s.Fields = []Field{pick(g.r, domain.Fields)}
	}
	return s
}

func (g *generator) assessment(t domain.Theme) ThemeAssessment {
	return ThemeAssessment{ID: g.id("a"), Theme: t, Proficiency: pick(g.r, domain.Proficiencies), AssessedOn: g.date()}
}

// evidence returns about n pieces of evidence; with reassess false every
// theme is assessed at most once.
func (g *generator) evidence(n int, reassess bool, used map[domain.Theme]bool) Evidence {
	var ev Evidence
	for range n {
		switch g.r.IntN(10) {
		case 0, 1, 2, 3:
			ev.Engagements = append(ev.Engagements, g.engagement())
		case 4, 5:
			ev.Successions = append(ev.Successions, g.succession())
		case 6:
			ev.Developments = append(ev.Developments, Development{ID: g.id("d"), Kind: pick(g.r, domain.DevelopmentKinds), OccurredOn: g.date()})
		default:
			t := pick(g.r, domain.Themes)
			if !reassess {
				if used[t] {
					continue
				}
				used[t] = true
			}
			ev.Assessments = append(ev.Assessments, g.assessment(t))
		}
	}
	return ev
}

func shuffled(r *rand.Rand, ev Evidence) Evidence {
	out := with(Evidence{})
	out.Engagements = append(out.Engagements, ev.Engagements...)
	out.Successions = append(out.Successions, ev.Successions...)
	out.Developments = append(out.Developments, ev.Developments...)
	out.Assessments = append(out.Assessments, ev.Assessments...)
	r.Shuffle(len(out.Engagements), func(i, j int) { out.Engagements[i], out.Engagements[j] = out.Engagements[j], out.Engagements[i] })
	r.Shuffle(len(out.Successions), func(i, j int) { out.Successions[i], out.Successions[j] = out.Successions[j], out.Successions[i] })
	r.Shuffle(len(out.Developments), func(i, j int) { out.Developments[i], out.Developments[j] = out.Developments[j], out.Developments[i] })
	r.Shuffle(len(out.Assessments), func(i, j int) { out.Assessments[i], out.Assessments[j] = out.Assessments[j], out.Assessments[i] })
	return out
}

// probeDates returns every date on which something could change, the day
// before each, and a few random days.
func probeDates(g *generator, ev Evidence, changes []domain.LevelChange) []domain.Date {
	var ds []domain.Date
	addBoth := func(d domain.Date) {
		if !d.IsZero() {
			ds = append(ds, d, d.AddDays(-1))
		}
	}
	for _, e := range ev.Engagements {
		addBoth(e.StartedOn)
		addBoth(e.CompletedOn)
	}
	for _, s := range ev.Successions {
		addBoth(s.OccurredOn)
	}
	for _, d := range ev.Developments {
		addBoth(d.OccurredOn)
	}
	for _, a := range ev.Assessments {
		addBoth(a.AssessedOn)
	}
	for _, ch := range changes {
		addBoth(ch.On)
	}
	for range 5 {
		ds = append(ds, g.date())
	}
	return ds
}

func windowedCatalogue(t *testing.T) *domain.Catalogue {
	t.Helper()
	c, err := domain.ParseCatalogue([]byte(edit(t, `"version": 1,`, "\"version\": 1,\n  \"evidenceWindow\": {\"years\": 2, \"months\": 1},", 1)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPropertyRecordingOrderNeverChangesTheJudgment(t *testing.T) {
	t.Parallel()
	for _, c := range []*domain.Catalogue{catalogue, windowedCatalogue(t)} {
		for seed := range uint64(200) {
			g := newGenerator(seed)
			ev := g.evidence(10+g.r.IntN(50), true, nil)
			wantTL := c.Timeline(ev)
			wantS := c.Evaluate(ev, day(asOf))
			for range 3 {
				other := shuffled(g.r, ev)
				if got := c.Timeline(other); !reflect.DeepEqual(got, wantTL) {
					t.Fatalf("seed %d: timeline depends on recording order:\n%v\n%v", seed, got, wantTL)
				}
				if got := c.Evaluate(other, day(asOf)); !reflect.DeepEqual(got, wantS) {
					t.Fatalf("seed %d: standing depends on recording order:\n%+v\n%+v", seed, got, wantS)
				}
			}
		}
	}
}

func TestPropertyTimelineAgreesWithLevelOnAndEvaluate(t *testing.T) {
	t.Parallel()
	reached := map[int]bool{}
	for _, c := range []*domain.Catalogue{catalogue, windowedCatalogue(t)} {
		for seed := range uint64(200) {
			g := newGenerator(1000 + seed)
			ev := g.evidence(10+g.r.IntN(50), true, nil)
			changes := c.Timeline(ev)
			for i, ch := range changes {
				if ch.From == ch.To || (i > 0 && changes[i-1].On.After(ch.On)) {
					t.Fatalf("seed %d: bad change %d in %v", seed, i, changes)
				}
			}
			for _, d := range probeDates(g, ev, changes) {
				s := c.Evaluate(ev, d)
				for fi, f := range domain.Fields {
					want := levelFromTimeline(changes, f, d)
					reached[want] = true
					if got := c.LevelOn(ev, f, d); got != want {
						t.Fatalf("seed %d: %s on %s: LevelOn %d, timeline %d", seed, f, d, got, want)
					}
					fs := s.Fields[fi]
					if fs.Level != want {
						t.Fatalf("seed %d: %s on %s: Evaluate %d, timeline %d", seed, f, d, fs.Level, want)
					}
					var attained domain.Date
					for _, ch := range changes {
						if ch.Field == f && !ch.On.After(d) {
							attained = ch.On
						}
					}
					if want == 0 {
						attained = domain.Date{}
					}
					if fs.AttainedOn != attained {
						t.Fatalf("seed %d: %s on %s: attainedOn %s, want %s", seed, f, d, fs.AttainedOn, attained)
					}
				}
			}
		}
	}
	for l := range 6 {
		if !reached[l] {
			t.Errorf("the generator never reached level %d; the property is weak", l)
		}
	}
}

func TestPropertyAddingEvidenceNeverLowersALevelWithoutReassessment(t *testing.T) {
	t.Parallel()
	for seed := range uint64(300) {
		g := newGenerator(5000 + seed)
		used := map[domain.Theme]bool{}
		ev := g.evidence(5+g.r.IntN(40), false, used)
		more := g.evidence(1+g.r.IntN(20), false, used)
		bigger := with(ev)
		bigger.Engagements = append(bigger.Engagements, more.Engagements...)
		bigger.Successions = append(bigger.Successions, more.Successions...)
		bigger.Developments = append(bigger.Developments, more.Developments...)
		bigger.Assessments = append(bigger.Assessments, more.Assessments...)
		before, after := catalogue.Timeline(ev), catalogue.Timeline(bigger)
		for _, d := range probeDates(g, bigger, append(before, after...)) {
			for _, f := range domain.Fields {
				if lo, hi := levelFromTimeline(before, f, d), levelFromTimeline(after, f, d); hi < lo {
					t.Fatalf("seed %d: %s on %s fell from %d to %d after adding evidence", seed, f, d, lo, hi)
				}
			}
		}
	}
}

// TestPersonEvidenceKeptUpToDate: the evidence a Person keeps while
// recordings only add accomplishments equals the one rebuilt from its
// changes, through random recordings, amendments, retractions and
// re-recordings after a retraction; and the caller's copy is its own.
func TestPersonEvidenceKeptUpToDate(t *testing.T) {
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	for seed := uint64(1); seed <= 50; seed++ {
		g := newGenerator(seed)
		p := domain.NewPerson("P1", "P", "ops", day("2015-01-01"))
		var ids []Engagement
		at := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		for step := 0; step < 60; step++ {
			at = at.Add(time.Minute)
			switch k := g.r.IntN(10); {
			case k < 6 || len(ids) == 0: // a new accomplishment
				e := g.engagement()
				ids = append(ids, e)
				p.Record(domain.Accomplishment{Engagement: &e}, at)
			case k < 8: // an amendment (or a re-recording after a retraction)
				e := pick(g.r, ids)
				e.Title = fmt.Sprintf("amended %d", step)
				p.Record(domain.Accomplishment{Engagement: &e}, at)
			default:
				p.Retract(pick(g.r, ids).ID, "wrong", at)
			}
			got := p.Evidence()
			if want := p.EvidenceKnownAt(far); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d step %d: kept evidence\n %+v\nwant (rebuilt)\n %+v", seed, step, got, want)
			}
			if len(got.Engagements) > 0 {
				got.Engagements[0].Title = "scribbled by the caller"
				if again := p.Evidence(); again.Engagements[0].Title == "scribbled by the caller" {
					t.Fatalf("seed %d: Evidence returned the person's own slice", seed)
				}
			}
		}
	}
}

// TestJudgeLevelsIsJudgeWithoutExplanation: the projection's judgment gives
// the same levels, dates and timeline as the full one.
func TestJudgeLevelsIsJudgeWithoutExplanation(t *testing.T) {
	cat := domain.DefaultCatalogue()
	for seed := uint64(1); seed <= 200; seed++ {
		g := newGenerator(seed)
		ev := g.evidence(5+g.r.IntN(40), true, map[domain.Theme]bool{})
		asOf := g.date()
		full, fullChanges := cat.Judge(ev, asOf)
		lean, leanChanges := cat.JudgeLevels(ev, asOf)
		if !reflect.DeepEqual(fullChanges, leanChanges) {
			t.Fatalf("seed %d: timelines differ", seed)
		}
		for i := range full.Fields {
			f := full.Fields[i]
			f.Criteria, f.Next = nil, nil
			if !reflect.DeepEqual(f, lean.Fields[i]) {
				t.Fatalf("seed %d field %s: JudgeLevels %+v, Judge %+v", seed, f.Field, lean.Fields[i], f)
			}
		}
		if full.CatalogueID != lean.CatalogueID || full.CatalogueVersion != lean.CatalogueVersion || full.AsOf != lean.AsOf {
			t.Fatalf("seed %d: headers differ", seed)
		}
	}
}

// TestJudgePersonLevelsEqualsJudgeLevels: judging a person through the
// derivations kept on them gives what judging a fresh copy of their
// evidence gives, after every step of random recordings of every kind,
// amendments, retractions and re-recordings, and when another catalogue
// judges the same person in between.
func TestJudgePersonLevelsEqualsJudgeLevels(t *testing.T) {
	cat := domain.DefaultCatalogue()
	// Another catalogue whose rules derive other things from the same
	// engagements: every "minCriteria": 2 becomes 1.
	file := bytes.ReplaceAll(domain.DefaultCatalogueJSON(), []byte(`"minCriteria": 2`), []byte(`"minCriteria": 1`))
	file = bytes.Replace(file, []byte(`"version": 1`), []byte(`"version": 2`), 1)
	other, err := domain.ParseCatalogue(file)
	if err != nil {
		t.Fatal(err)
	}
	differ := false
	for seed := uint64(1); seed <= 60; seed++ {
		g := newGenerator(seed)
		p := domain.NewPerson("P1", "P", "ops", day("2015-01-01"))
		var recorded []domain.Accomplishment
		at := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		asOf := day("2026-11-26")
		for step := 0; step < 80; step++ {
			at = at.Add(time.Minute)
			switch k := g.r.IntN(12); {
			case k < 8 || len(recorded) == 0: // a new accomplishment of any kind
				var a domain.Accomplishment
				switch g.r.IntN(4) {
				case 0:
					e := g.engagement()
					a.Engagement = &e
				case 1:
					s := g.succession()
					a.Succession = &s
				case 2:
					a.Development = &Development{ID: g.id("d"), Kind: pick(g.r, domain.DevelopmentKinds), OccurredOn: g.date()}
				default:
					as := g.assessment(pick(g.r, domain.Themes))
					a.Assessment = &as
				}
				recorded = append(recorded, a)
				p.Record(a, at)
			case k < 10: // an amendment (or a re-recording after a retraction)
				a := pick(g.r, recorded)
				if a.Engagement != nil {
					e := *a.Engagement
					e.Outcome = pick(g.r, domain.Outcomes)
					a.Engagement = &e
				}
				p.Record(a, at)
			default:
				p.Retract(pick(g.r, recorded).ID(), "wrong", at)
			}
			judge := cat
			if step%7 == 3 {
				judge = other
			}
			got, gotChanges := judge.JudgePersonLevels(p, asOf)
			want, wantChanges := judge.JudgeLevels(p.Evidence(), asOf)
			if _, c := cat.JudgeLevels(p.Evidence(), asOf); !reflect.DeepEqual(c, gotChanges) && judge == other {
				differ = true
			}
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotChanges, wantChanges) {
				t.Fatalf("seed %d step %d: JudgePersonLevels\n %+v %+v\nJudgeLevels of the evidence\n %+v %+v",
					seed, step, got, gotChanges, want, wantChanges)
			}
		}
	}
	if !differ {
		t.Fatal("the two catalogues never judged differently: the test cannot tell their derivations apart")
	}
}
