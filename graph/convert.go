package graph

import (
	"strconv"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph/model"
	"github.com/careerledger/careerledger/projections"
)

func personModel(v projections.PersonView) *model.Person {
	return &model.Person{ID: v.ID, Name: v.Name, JoinedOn: v.JoinedOn, MembershipPeriods: v.Memberships}
}

func datePtr(d domain.Date) *domain.Date {
	if d.IsZero() {
		return nil
	}
	return &d
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func intPtr(p *int64) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

func int64Ptr(p *int) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}

func position(p uint64) string { return strconv.FormatUint(p, 10) }

func criteriaModel(cs []domain.CriterionResult) []model.CriterionResult {
	out := make([]model.CriterionResult, len(cs))
	for i, c := range cs {
		ev := c.Evidence
		if ev == nil {
			ev = []string{}
		}
		out[i] = model.CriterionResult{Criterion: c.Criterion, Met: c.Met, Evidence: ev, Missing: strPtr(c.Missing)}
	}
	return out
}

func standingModel(st domain.Standing) []model.FieldStanding {
	out := make([]model.FieldStanding, len(st.Fields))
	for i, f := range st.Fields {
		fs := model.FieldStanding{
			Field: model.SpecialtyField(f.Field), Level: f.Level, AttainedOn: datePtr(f.AttainedOn),
			Criteria: criteriaModel(f.Criteria), CatalogueID: st.CatalogueID, CatalogueVersion: st.CatalogueVersion,
		}
		if f.Next != nil {
			fs.Next = &model.LevelGap{Level: f.Next.Level, Criteria: criteriaModel(f.Next.Criteria)}
		}
		out[i] = fs
	}
	return out
}

func changeModel(personID string, c domain.LevelChange) model.LevelChange {
	return model.LevelChange{PersonID: personID, Field: model.SpecialtyField(c.Field), On: c.On, From: c.From, To: c.To}
}

func cellsModel(cs []projections.Cell) []model.DistributionCell {
	out := make([]model.DistributionCell, len(cs))
	for i, c := range cs {
		out[i] = model.DistributionCell{Department: c.Department, Level: c.Level, Count: c.Count}
	}
	return out
}

func accomplishmentModel(v projections.AccomplishmentView) model.Accomplishment {
	var amended *time.Time
	if !v.AmendedAt.IsZero() {
		t := v.AmendedAt
		amended = &t
	}
	var reason *string
	if v.Retracted {
		reason = &v.RetractionReason
	}
	pos := position(v.Position)
	a := v.Accomplishment
	switch {
	case a.Engagement != nil:
		e := a.Engagement
		cx := make([]model.ComplexityCriterion, len(e.Complexity))
		for i, c := range e.Complexity {
			cx[i] = model.ComplexityCriterion(c)
		}
		return model.Engagement{ID: v.ID, Kind: model.AccomplishmentKindEngagement, PersonID: v.PersonID, Position: pos,
			RecordedAt: v.RecordedAt, AmendedAt: amended, Retracted: v.Retracted, RetractionReason: reason,
			RecordedBy: strPtr(v.RecordedBy), AmendedBy: strPtr(v.AmendedBy), RetractedBy: strPtr(v.RetractedBy),
			Field: model.SpecialtyField(e.Field), Title: e.Title, Role: model.EngagementRole(e.Role), StartedOn: e.StartedOn,
			CompletedOn: datePtr(e.CompletedOn), Outcome: model.Outcome(e.Outcome), WithinBudget: e.WithinBudget,
			PeakHeadcount: intPtr(e.PeakHeadcount), AnnualContractValueYen: e.AnnualContractValueYen,
			InstallationSites: intPtr(e.InstallationSites), InquiriesPerYear: intPtr(e.InquiriesPerYear), Complexity: cx}
	case a.Succession != nil:
		s := a.Succession
		fs := make([]model.SpecialtyField, len(s.Fields))
		for i, f := range s.Fields {
			fs[i] = model.SpecialtyField(f)
		}
		return model.TechnologySuccession{ID: v.ID, Kind: model.AccomplishmentKindTechnologySuccession, PersonID: v.PersonID,
			Position: pos, RecordedAt: v.RecordedAt, AmendedAt: amended, Retracted: v.Retracted, RetractionReason: reason,
			RecordedBy: strPtr(v.RecordedBy), AmendedBy: strPtr(v.AmendedBy), RetractedBy: strPtr(v.RetractedBy),
			SuccessionKind: model.SuccessionKind(s.Kind), Title: s.Title, OccurredOn: s.OccurredOn, Fields: fs}
	case a.Development != nil:
		d := a.Development
		return model.SubordinateDevelopment{ID: v.ID, Kind: model.AccomplishmentKindSubordinateDevelopment, PersonID: v.PersonID,
			Position: pos, RecordedAt: v.RecordedAt, AmendedAt: amended, Retracted: v.Retracted, RetractionReason: reason,
			RecordedBy: strPtr(v.RecordedBy), AmendedBy: strPtr(v.AmendedBy), RetractedBy: strPtr(v.RetractedBy),
			DevelopmentKind: model.DevelopmentKind(d.Kind), OccurredOn: d.OccurredOn, SubordinateID: strPtr(d.SubordinateID)}
	default:
		t := a.Assessment
		return model.ThemeAssessment{ID: v.ID, Kind: model.AccomplishmentKindThemeAssessment, PersonID: v.PersonID,
			Position: pos, RecordedAt: v.RecordedAt, AmendedAt: amended, Retracted: v.Retracted, RetractionReason: reason,
			RecordedBy: strPtr(v.RecordedBy), AmendedBy: strPtr(v.AmendedBy), RetractedBy: strPtr(v.RetractedBy),
			Theme: model.Theme(t.Theme), Proficiency: model.Proficiency(t.Proficiency), AssessedOn: t.AssessedOn}
	}
}
