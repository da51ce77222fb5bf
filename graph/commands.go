package graph

import (
	"context"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph/model"
)

// The conversions from API inputs to commands, shared by the mutations and
// the bulk import so that both accept exactly the same input.

func registerCommand(in model.RegisterPersonInput) events.RegisterPerson {
	return events.RegisterPerson{ID: deref(in.ID), Name: in.Name, Department: in.Department, JoinedOn: in.JoinedOn,
		IdempotencyKey: deref(in.IdempotencyKey)}
}

func transferCommand(in model.TransferPersonInput) events.TransferPerson {
	return events.TransferPerson{PersonID: in.PersonID, Department: in.Department, EffectiveOn: in.EffectiveOn,
		IdempotencyKey: deref(in.IdempotencyKey)}
}

func departureCommand(in model.RecordDepartureInput) events.RecordDeparture {
	return events.RecordDeparture{PersonID: in.PersonID, EffectiveOn: in.EffectiveOn, IdempotencyKey: deref(in.IdempotencyKey)}
}

func engagementCommand(in model.RecordEngagementInput) events.RecordAccomplishment {
	cx := make([]domain.Criterion, len(in.Complexity))
	for i, c := range in.Complexity {
		cx[i] = domain.Criterion(c)
	}
	e := &domain.Engagement{
		Field: domain.Field(in.Field), Title: in.Title, Role: domain.Role(in.Role),
		StartedOn: in.StartedOn, CompletedOn: derefDate(in.CompletedOn), Outcome: domain.Outcome(in.Outcome),
		WithinBudget: in.WithinBudget, PeakHeadcount: int64Ptr(in.PeakHeadcount),
		AnnualContractValueYen: in.AnnualContractValueYen, InstallationSites: int64Ptr(in.InstallationSites),
		InquiriesPerYear: int64Ptr(in.InquiriesPerYear), Complexity: cx,
	}
	return events.RecordAccomplishment{PersonID: in.PersonID, Accomplishment: domain.Accomplishment{Engagement: e},
		IdempotencyKey: deref(in.IdempotencyKey)}
}

func successionCommand(in model.RecordTechnologySuccessionInput) events.RecordAccomplishment {
	fs := make([]domain.Field, len(in.Fields))
	for i, f := range in.Fields {
		fs[i] = domain.Field(f)
	}
	s := &domain.SuccessionItem{Kind: domain.SuccessionKind(in.Kind), Title: in.Title, OccurredOn: in.OccurredOn, Fields: fs}
	return events.RecordAccomplishment{PersonID: in.PersonID, Accomplishment: domain.Accomplishment{Succession: s},
		IdempotencyKey: deref(in.IdempotencyKey)}
}

func developmentCommand(in model.RecordSubordinateDevelopmentInput) events.RecordAccomplishment {
	d := &domain.Development{Kind: domain.DevelopmentKind(in.Kind), OccurredOn: in.OccurredOn, SubordinateID: deref(in.SubordinateID)}
	return events.RecordAccomplishment{PersonID: in.PersonID, Accomplishment: domain.Accomplishment{Development: d},
		IdempotencyKey: deref(in.IdempotencyKey)}
}

func assessmentCommand(in model.AssessThemeInput) events.RecordAccomplishment {
	a := &domain.ThemeAssessment{Theme: domain.Theme(in.Theme), Proficiency: domain.Proficiency(in.Proficiency), AssessedOn: in.AssessedOn}
	return events.RecordAccomplishment{PersonID: in.PersonID, Accomplishment: domain.Accomplishment{Assessment: a},
		IdempotencyKey: deref(in.IdempotencyKey)}
}

func amendCommand(in model.AmendAccomplishmentInput) events.AmendAccomplishment {
	return events.AmendAccomplishment{AccomplishmentID: in.AccomplishmentID, Patch: amendPatch(in), IdempotencyKey: deref(in.IdempotencyKey)}
}

func retractCommand(in model.RetractAccomplishmentInput) events.RetractAccomplishment {
	return events.RetractAccomplishment{AccomplishmentID: in.AccomplishmentID, Reason: in.Reason, IdempotencyKey: deref(in.IdempotencyKey)}
}

// execute runs one command of any kind.
func execute(ctx context.Context, c Commands, cmd any) (events.Result, error) {
	switch v := cmd.(type) {
	case events.RegisterPerson:
		return c.RegisterPerson(ctx, v)
	case events.TransferPerson:
		return c.TransferPerson(ctx, v)
	case events.RecordDeparture:
		return c.RecordDeparture(ctx, v)
	case events.RecordAccomplishment:
		return c.RecordAccomplishment(ctx, v)
	case events.AmendAccomplishment:
		return c.AmendAccomplishment(ctx, v)
	case events.RetractAccomplishment:
		return c.RetractAccomplishment(ctx, v)
	}
	return events.Result{}, domain.Invalid("op", "is not a known command")
}
