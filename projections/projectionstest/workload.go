package projectionstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// Workload issues random but valid commands through a Recorder: it
// registers, transfers and parts people, records every kind of
// accomplishment with attributes biased toward the catalogue's thresholds,
// and amends and retracts them. It is deterministic for a seed (apart from
// the accomplishment ids the Recorder assigns) and not safe for concurrent
// use.
type Workload struct {
	R        *rand.Rand
	Cat      *domain.Catalogue
	Recorder *events.Recorder
	Today    domain.Date
	// IDs are the people the workload may register, in order.
	IDs []string

	joined map[string]domain.Date
	live   []string // ids of accomplishments neither retracted nor unknown
	kinds  map[string]domain.AccomplishmentKind
}

// NewWorkload returns a workload over n people named prefix1..prefixN.
func NewWorkload(seed uint64, cat *domain.Catalogue, rec *events.Recorder, prefix string, n int) *Workload {
	w := &Workload{R: rand.New(rand.NewPCG(seed, 0xc0ffee)), Cat: cat, Recorder: rec, Today: Today,
		joined: map[string]domain.Date{}, kinds: map[string]domain.AccomplishmentKind{}}
	for i := 1; i <= n; i++ {
		w.IDs = append(w.IDs, fmt.Sprintf("%s%d", prefix, i))
	}
	return w
}

var departments = []string{"Ops", "Net", "Apps", "Desk"}

// Departments are the departments the workload uses.
func Departments() []string { return append([]string(nil), departments...) }

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// date returns a date between from and the workload's today.
func (w *Workload) date(from domain.Date) domain.Date {
	span := int(w.Today.Days() - from.Days())
	if span <= 0 {
		return w.Today
	}
	return from.AddDays(w.R.IntN(span + 1))
}

// evidenceDate is biased to the years the catalogue's windows look at.
func (w *Workload) evidenceDate() domain.Date {
	return w.date(domain.MustDate("2014-01-01").AddDays(w.R.IntN(3500)))
}

func (w *Workload) size(values ...int64) *int64 {
	if w.R.IntN(3) == 0 {
		return nil
	}
	v := pick(w.R, values)
	return &v
}

// Accomplishment returns a random valid accomplishment of kind ("" = any).
func (w *Workload) Accomplishment(kind domain.AccomplishmentKind) domain.Accomplishment {
	if kind == "" {
		kind = pick(w.R, []domain.AccomplishmentKind{domain.KindEngagement, domain.KindEngagement, domain.KindEngagement,
			domain.KindSuccession, domain.KindDevelopment, domain.KindThemeAssessment, domain.KindThemeAssessment})
	}
	switch kind {
	case domain.KindEngagement:
		f := pick(w.R, w.Cat.Fields())
		e := &domain.Engagement{Field: f, Title: "work", Role: pick(w.R, domain.Roles),
			StartedOn: w.evidenceDate(), WithinBudget: w.R.IntN(4) > 0,
			Outcome:                pick(w.R, []domain.Outcome{domain.Successful, domain.Successful, domain.Unsuccessful, domain.Ongoing}),
			PeakHeadcount:          w.size(1, 9, 10, 19, 20, 60),
			AnnualContractValueYen: w.size(0, 99_999_999, 100_000_000, 149_999_999, 150_000_000),
			InstallationSites:      w.size(0, 99, 100),
			InquiriesPerYear:       w.size(0, 2999, 3000),
		}
		if e.Outcome != domain.Ongoing {
			e.CompletedOn = w.date(e.StartedOn.AddDays(w.R.IntN(400)))
			if e.CompletedOn.Before(e.StartedOn) {
				e.CompletedOn = e.StartedOn
			}
		}
		for _, c := range w.Cat.CriteriaOf(f) {
			if w.R.IntN(2) == 0 {
				e.Complexity = append(e.Complexity, c)
			}
		}
		return domain.Accomplishment{Engagement: e}
	case domain.KindSuccession:
		s := &domain.SuccessionItem{Kind: pick(w.R, domain.SuccessionKinds), Title: "item", OccurredOn: w.evidenceDate()}
		for _, f := range w.Cat.Fields() {
			if w.R.IntN(2) == 0 {
				s.Fields = append(s.Fields, f)
			}
		}
		if len(s.Fields) == 0 {
			s.Fields = []domain.Field{pick(w.R, w.Cat.Fields())}
		}
		return domain.Accomplishment{Succession: s}
	case domain.KindDevelopment:
		d := &domain.Development{Kind: pick(w.R, domain.DevelopmentKinds), OccurredOn: w.evidenceDate()}
		if w.R.IntN(2) == 0 {
			d.SubordinateID = pick(w.R, w.IDs)
		}
		return domain.Accomplishment{Development: d}
	default:
		return domain.Accomplishment{Assessment: &domain.ThemeAssessment{Theme: pick(w.R, domain.Themes),
			Proficiency: pick(w.R, domain.Proficiencies), AssessedOn: w.evidenceDate()}}
	}
}

// registered returns the people registered so far.
func (w *Workload) registered() []string {
	var out []string
	for _, id := range w.IDs {
		if _, ok := w.joined[id]; ok {
			out = append(out, id)
		}
	}
	return out
}

// actors are who a Workload's commands are recorded by.
var actors = []string{"", "hr.ito", "manager.sato", "self"}

// Step issues one random command and returns its result. Every command it
// issues is valid, so any error is a failure.
func (w *Workload) Step(ctx context.Context) (events.Result, error) {
	people := w.registered()
	op := w.R.IntN(100)
	// Who acts: nobody told (as before events said who), or one of three,
	// taken from op so that a seed's commands stay what they were.
	ctx = events.WithActor(ctx, actors[op%len(actors)])
	switch {
	case len(people) < len(w.IDs) && (len(people) == 0 || op < 12):
		id := w.IDs[len(people)]
		joined := w.date(domain.MustDate("2012-01-01").AddDays(w.R.IntN(3000)))
		res, err := w.Recorder.RegisterPerson(ctx, events.RegisterPerson{ID: id, Name: "Person " + id,
			Department: pick(w.R, departments), JoinedOn: joined})
		if err == nil {
			w.joined[id] = joined
		}
		return res, err
	case op < 22:
		id := pick(w.R, people)
		return w.Recorder.TransferPerson(ctx, events.TransferPerson{PersonID: id, Department: pick(w.R, departments),
			EffectiveOn: w.date(w.joined[id])})
	case op < 26:
		id := pick(w.R, people)
		return w.Recorder.RecordDeparture(ctx, events.RecordDeparture{PersonID: id, EffectiveOn: w.date(w.joined[id])})
	case op < 36 && len(w.live) > 0:
		id := pick(w.R, w.live)
		next := notSelf(w.Accomplishment(w.kinds[id]), id[:strings.IndexByte(id, '.')])
		return w.Recorder.AmendAccomplishment(ctx, events.AmendAccomplishment{AccomplishmentID: id,
			Patch: func(domain.Accomplishment) (domain.Accomplishment, error) { return next, nil }})
	case op < 42 && len(w.live) > 0:
		i := w.R.IntN(len(w.live))
		id := w.live[i]
		res, err := w.Recorder.RetractAccomplishment(ctx, events.RetractAccomplishment{AccomplishmentID: id,
			Reason: pick(w.R, []string{"entered twice", "wrong person", "withdrawn"})})
		if err == nil {
			w.live = append(w.live[:i], w.live[i+1:]...)
		}
		return res, err
	default:
		a := w.Accomplishment("")
		person := pick(w.R, people)
		a = notSelf(a, person)
		res, err := w.Recorder.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: person, Accomplishment: a})
		if err == nil {
			w.live = append(w.live, res.AccomplishmentID)
			w.kinds[res.AccomplishmentID] = a.Kind()
		}
		return res, err
	}
}

// notSelf drops a development's subordinate when it is the person
// themself, which the recorder refuses.
func notSelf(a domain.Accomplishment, personID string) domain.Accomplishment {
	if a.Development != nil && a.Development.SubordinateID == personID {
		a.Development.SubordinateID = ""
	}
	return a
}

// Run issues n commands and returns the position of the last one.
func (w *Workload) Run(ctx context.Context, n int) (uint64, error) {
	var last uint64
	for i := 0; i < n; i++ {
		res, err := w.Step(ctx)
		if err != nil {
			return last, fmt.Errorf("workload step %d: %w", i, err)
		}
		last = max(last, res.Position)
	}
	return last, nil
}
