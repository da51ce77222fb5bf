package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// gen produces realistic, valid careers: every accomplishment passes the
// default catalogue's validation (dates in the past, criteria of the field,
// ongoing engagements without completedOn), so the same values serve the
// command path, the bulk loads and the judgment benchmark.
type gen struct {
	r   *rand.Rand
	cat *domain.Catalogue
	seq uint64
}

func newGen(seed uint64, cat *domain.Catalogue) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, 0xca2ee21ed6e2)), cat: cat}
}

// departments: 24 of them, so that a distribution has a realistic number of
// rows (24 departments x up to 6 levels).
var departments = func() []string {
	var out []string
	for _, d := range []string{"Operations", "Network", "Service Desk", "Infrastructure", "Security", "Data Centre"} {
		for _, region := range []string{"Tokyo", "Osaka", "Nagoya", "Fukuoka"} {
			out = append(out, d+" "+region)
		}
	}
	return out
}()

var titles = []string{"Backbone migration", "Mail platform operations", "Service desk consolidation",
	"Data centre relocation", "Monitoring renewal", "Backup redesign", "WAN replacement",
	"Incident process rollout", "Cloud landing zone operations", "ERP operations takeover"}

// epoch is the first day evidence may carry; latest the last one (all dates
// stay well in the past, so validation against today always passes).
var (
	epoch  = domain.MustDate("2012-01-01")
	latest = domain.MustDate("2026-06-30")
)

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// date returns a day between from and latest.
func (g *gen) date(from domain.Date) domain.Date {
	span := int(latest.Days() - from.Days())
	if span <= 0 {
		return latest
	}
	return from.AddDays(g.r.IntN(span + 1))
}

func (g *gen) size(values ...int64) *int64 {
	if g.r.IntN(3) == 0 {
		return nil
	}
	v := pick(g.r, values)
	return &v
}

// token is a unique 10-character accomplishment token in the Recorder's
// alphabet, so that "<personId>.<token>" is a well-formed accomplishment id.
func (g *gen) token() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	g.seq++
	n := g.seq*0x9E3779B97F4A7C15 ^ 0x5bd1e995 // spread, still unique (odd multiplier)
	var b [10]byte
	for i := range b {
		b[i] = alphabet[n&31]
		n >>= 5
	}
	return string(b[:])
}

func (g *gen) engagement(id string, from domain.Date) *domain.Engagement {
	f := pick(g.r, domain.Fields)
	e := &domain.Engagement{ID: id, Field: f,
		Title: pick(g.r, titles) + " " + strconv.Itoa(g.r.IntN(1000)),
		Role:  pick(g.r, domain.Roles), StartedOn: g.date(from),
		Outcome:                pick(g.r, []domain.Outcome{domain.Successful, domain.Successful, domain.Successful, domain.Unsuccessful, domain.Ongoing}),
		WithinBudget:           g.r.IntN(4) > 0,
		PeakHeadcount:          g.size(1, 9, 10, 19, 20, 60),
		AnnualContractValueYen: g.size(0, 99_999_999, 100_000_000, 149_999_999, 150_000_000),
		InstallationSites:      g.size(0, 99, 100),
		InquiriesPerYear:       g.size(0, 2999, 3000),
	}
	if e.Outcome != domain.Ongoing {
		e.CompletedOn = e.StartedOn.AddDays(g.r.IntN(400))
		if e.CompletedOn.After(latest) {
			e.CompletedOn = latest
		}
	}
	for _, c := range g.cat.CriteriaOf(f) {
		if g.r.IntN(2) == 0 {
			e.Complexity = append(e.Complexity, c)
		}
	}
	return e
}

func (g *gen) succession(id string, from domain.Date) *domain.SuccessionItem {
	s := &domain.SuccessionItem{ID: id, Kind: pick(g.r, domain.SuccessionKinds),
		Title: "Operations know-how " + strconv.Itoa(g.r.IntN(1000)), OccurredOn: g.date(from)}
	for _, f := range domain.Fields {
		if g.r.IntN(2) == 0 {
			s.Fields = append(s.Fields, f)
		}
	}
	if len(s.Fields) == 0 {
		s.Fields = []domain.Field{pick(g.r, domain.Fields)}
	}
	return s
}

func (g *gen) development(id string, from domain.Date) *domain.Development {
	return &domain.Development{ID: id, Kind: pick(g.r, domain.DevelopmentKinds), OccurredOn: g.date(from)}
}

func (g *gen) assessment(id string, from domain.Date) *domain.ThemeAssessment {
	return &domain.ThemeAssessment{ID: id, Theme: pick(g.r, domain.Themes),
		Proficiency: pick(g.r, domain.Proficiencies), AssessedOn: g.date(from)}
}

// accomplishment returns one accomplishment of a realistic mix: half
// engagements, then assessments, succession items and development.
func (g *gen) accomplishment(id string, from domain.Date) domain.Accomplishment {
	switch k := g.r.IntN(20); {
	case k < 9:
		return domain.Accomplishment{Engagement: g.engagement(id, from)}
	case k < 14:
		return domain.Accomplishment{Assessment: g.assessment(id, from)}
	case k < 18:
		return domain.Accomplishment{Succession: g.succession(id, from)}
	default:
		return domain.Accomplishment{Development: g.development(id, from)}
	}
}

// career returns n pieces of evidence in the proportions of
// domain/bench_test.go's careerOf50 (20 engagements, 10 succession items, 5
// developments, 15 assessments for n = 50).
func (g *gen) career(n int) domain.Evidence {
	var ev domain.Evidence
	for i := range n {
		id := "e" + strconv.Itoa(i)
		switch k := i % 10; {
		case k < 4:
			ev.Engagements = append(ev.Engagements, *g.engagement(id, epoch))
		case k < 6:
			ev.Successions = append(ev.Successions, *g.succession(id, epoch))
		case k < 7:
			ev.Developments = append(ev.Developments, *g.development(id, epoch))
		default:
			ev.Assessments = append(ev.Assessments, *g.assessment(id, epoch))
		}
	}
	return ev
}

// personEvents returns a person's log: a registration and then about n-1
// facts: accomplishments of every kind, transfers, amendments of earlier
// accomplishments and the odd retraction or departure.
func (g *gen) personEvents(personID string, n int) []events.Event {
	joined := domain.MustDate("2008-04-01").AddDays(g.r.IntN(12 * 365))
	out := []events.Event{events.PersonRegistered{PersonID: personID,
		Name: "Person " + personID, Department: pick(g.r, departments), JoinedOn: joined}}
	var accs []domain.Accomplishment
	departed := false
	for len(out) < n {
		switch k := g.r.IntN(100); {
		case k < 6 && !departed:
			out = append(out, events.PersonTransferred{PersonID: personID, Department: pick(g.r, departments), EffectiveOn: g.date(joined)})
		case k < 7 && !departed && len(out) > n/2:
			departed = true
			out = append(out, events.PersonDeparted{PersonID: personID, EffectiveOn: g.date(joined)})
		case k < 13 && len(accs) > 0:
			// An amendment: a corrected whole value of an earlier one.
			old := pick(g.r, accs)
			a := g.accomplishment(old.ID(), joined)
			for a.Kind() != old.Kind() {
				a = g.accomplishment(old.ID(), joined)
			}
			out = append(out, amendment(a))
		case k < 15 && len(accs) > 0:
			i := g.r.IntN(len(accs))
			out = append(out, events.AccomplishmentRetracted{AccomplishmentID: accs[i].ID(), Reason: "recorded twice"})
			accs = append(accs[:i], accs[i+1:]...) // never amended or retracted again
		default:
			a := g.accomplishment(personID+"."+g.token(), joined)
			accs = append(accs, a)
			out = append(out, events.FromAccomplishment(a))
		}
	}
	return out
}

func amendment(a domain.Accomplishment) events.AccomplishmentAmended {
	out := events.AccomplishmentAmended{AccomplishmentID: a.ID()}
	switch v := events.FromAccomplishment(a).(type) {
	case events.EngagementRecorded:
		out.Engagement = &v
	case events.TechnologySuccessionRecorded:
		out.Succession = &v
	case events.SubordinateDevelopmentRecorded:
		out.Development = &v
	case events.ThemeAssessed:
		out.Assessment = &v
	}
	return out
}

// eventsPer returns how many events person i of a population gets so that
// people with perPerson on average vary between about half and 1.5 times it.
func (g *gen) eventsPer(perPerson int) int {
	if perPerson <= 2 {
		return max(perPerson, 1)
	}
	return perPerson/2 + g.r.IntN(perPerson+1)
}

// pendings turns people's logs into AppendBatch input, each event with a msg
// id and an idempotency key, as a bulk import would send them.
func pendings(people []string, logs [][]events.Event, at time.Time) []events.Pending {
	var out []events.Pending
	for i, id := range people {
		for j, e := range logs[i] {
			key := fmt.Sprintf("import-%s-%d", id, j)
			out = append(out, events.Pending{PersonID: id, MsgID: id + ":" + key, Event: e, RecordedAt: at, IdempotencyKey: key})
		}
	}
	return out
}
