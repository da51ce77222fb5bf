package domain_test

import (
	"github.com/careerledger/careerledger/domain"
)

// The tests read like the rule book, so the vocabulary is imported whole.
type (
	Evidence        = domain.Evidence
	Engagement      = domain.Engagement
	SuccessionItem  = domain.SuccessionItem
	Development     = domain.Development
	ThemeAssessment = domain.ThemeAssessment
	Field           = domain.Field
	Criterion       = domain.Criterion
)

const (
	SO = domain.SystemOperation
	NO = domain.NetworkOperation
	SD = domain.ServiceDesk
)

var catalogue = domain.DefaultCatalogue()

func day(s string) domain.Date { return domain.MustDate(s) }

func num(v int64) *int64 { return &v }

// lead is a SUCCESSFUL, within-budget engagement led by the person, completed
// on the given day, a year after it started.
func lead(id string, f Field, completed string, crit ...Criterion) Engagement {
	c := day(completed)
	return Engagement{ID: id, Field: f, Title: "operations " + id, Role: domain.Lead,
		StartedOn: c.AddDate(-1, 0, 0), CompletedOn: c, Outcome: domain.Successful,
		WithinBudget: true, Complexity: crit}
}

// member is lead's engagement with the MEMBER role.
func member(id string, f Field, completed string, crit ...Criterion) Engagement {
	e := lead(id, f, completed, crit...)
	e.Role = domain.Member
	return e
}

func assess(id string, t domain.Theme, p domain.Proficiency, on string) ThemeAssessment {
	return ThemeAssessment{ID: id, Theme: t, Proficiency: p, AssessedOn: day(on)}
}

func item(id string, k domain.SuccessionKind, on string, fields ...Field) SuccessionItem {
	return SuccessionItem{ID: id, Kind: k, Title: "item " + id, OccurredOn: day(on), Fields: fields}
}

func develop(id, on string) Development {
	return Development{ID: id, Kind: domain.Mentoring, OccurredOn: day(on)}
}

// with returns ev plus the given pieces of evidence, leaving ev untouched.
func with(ev Evidence, pieces ...any) Evidence {
	out := Evidence{
		Engagements:  append([]Engagement(nil), ev.Engagements...),
		Successions:  append([]SuccessionItem(nil), ev.Successions...),
		Developments: append([]Development(nil), ev.Developments...),
		Assessments:  append([]ThemeAssessment(nil), ev.Assessments...),
	}
	for _, p := range pieces {
		switch v := p.(type) {
		case Engagement:
			out.Engagements = append(out.Engagements, v)
		case SuccessionItem:
			out.Successions = append(out.Successions, v)
		case Development:
			out.Developments = append(out.Developments, v)
		case ThemeAssessment:
			out.Assessments = append(out.Assessments, v)
		default:
			panic("with: not evidence")
		}
	}
	return out
}

func evidence(pieces ...any) Evidence { return with(Evidence{}, pieces...) }
