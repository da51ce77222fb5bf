package graph

import (
	"context"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph/model"
	"github.com/careerledger/careerledger/projections"
)

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefDate(p *domain.Date) domain.Date { return deref(p) }

func (r *Resolver) record(ctx context.Context, cmd events.RecordAccomplishment) (*model.AccomplishmentPayload, error) {
	if err := r.authorizeRecord(ctx, cmd); err != nil {
		return nil, err
	}
	sending(ctx)
	res, err := r.Commands.RecordAccomplishment(ctx, cmd)
	return r.accomplishmentPayload(ctx, res, err)
}

// authorizeRecord checks the caller may record cmd: they may record for
// its person, not as a departed employee of themselves (refuseDeparted),
// and, with NoSelfAssessment, an assessment is not their own as an
// employee.
func (r *Resolver) authorizeRecord(ctx context.Context, cmd events.RecordAccomplishment) error {
	v, err := r.authorizePerson(ctx, "personId", cmd.PersonID)
	if err != nil {
		return err
	}
	p, _ := PrincipalFrom(ctx)
	if err := r.refuseDeparted(p, v); err != nil {
		return err
	}
	if r.NoSelfAssessment && cmd.Accomplishment.Assessment != nil && r.actsAsEmployee(p, v) {
		return errNoSelfAssessment(cmd.PersonID)
	}
	return nil
}

func errNoSelfAssessment(personID string) error {
	return domain.Forbidden("a theme assessment of %s is recorded by their manager or hr: this server does not take self-assessments", personID)
}

// actsAsEmployee reports whether p acts on v only as the employee v is: not
// as admin, hr, or v's manager (a manager acting on themselves is an
// employee there).
func (r *Resolver) actsAsEmployee(p Principal, v projections.PersonView) bool {
	return !p.Has(RoleAdmin) && !p.Has(RoleHR) &&
		!(p.Has(RoleManager) && p.Department != "" && v.DepartmentOn(r.today()) == p.Department && p.Person != v.ID)
}

// authorizeAccomplishment finds the person an accomplishment belongs to and
// checks the caller may read it and record for the person; field is the
// argument the id came in (an id whose person part breaks the id rule is
// bad input naming it: accomplishmentIDInput).
func (r *Resolver) authorizeAccomplishment(ctx context.Context, field, id string) (string, error) {
	_, personID, err := r.authorizeAccomplishmentPerson(ctx, field, id)
	return personID, err
}

func (r *Resolver) authorizeAccomplishmentPerson(ctx context.Context, field, id string) (projections.PersonView, string, error) {
	personID, _, ok := strings.Cut(id, ".")
	if !ok {
		return projections.PersonView{}, "", domain.NotFound("accomplishment %s not found", id)
	}
	if _, err := principal(ctx); err != nil {
		return projections.PersonView{}, "", err
	}
	if err := accomplishmentIDInput(field, id); err != nil {
		return projections.PersonView{}, "", err
	}
	v, err := r.authorizePerson(ctx, field, personID)
	if err != nil {
		if domain.KindOf(err) == domain.KindNotFound {
			return v, "", domain.NotFound("accomplishment %s not found", id)
		}
		return v, "", err
	}
	return v, personID, nil
}

// authorizeChange checks the caller may amend or retract an accomplishment:
// they may record for its person. It returns the actor the change is
// limited to (the command's OnlyBy): "" for admin, hr and the person's
// manager (not a manager changing their own), the caller otherwise, who
// then changes only what they recorded and nobody else changed since.
// The Recorder decides that on the log, not on a read model that may lag.
// A departed employee changes nothing of theirs (refuseDeparted).
func (r *Resolver) authorizeChange(ctx context.Context, id string) (onlyBy string, err error) {
	v, _, err := r.authorizeAccomplishmentPerson(ctx, "accomplishmentId", id)
	if err != nil {
		return "", err
	}
	p, _ := PrincipalFrom(ctx)
	if !r.actsAsEmployee(p, v) {
		return "", nil
	}
	if err := r.refuseDeparted(p, v); err != nil {
		return "", err
	}
	if r.NoSelfAssessment {
		// Nor does an employee change an assessment of theirs, recorded
		// before self-assessments were turned off. (One the read model
		// does not hold yet was recorded since, so not by them.)
		a, err := r.ReadModel.Accomplishment(ctx, id)
		if err != nil && domain.KindOf(err) != domain.KindNotFound {
			return "", err
		}
		if err == nil && a.Accomplishment.Assessment != nil {
			return "", domain.Forbidden("accomplishment %s is a theme assessment, changed by the person's manager or hr: this server does not take self-assessments", id)
		}
	}
	return events.ActorFrom(ctx), nil
}

func (r *Resolver) personPayload(ctx context.Context, res events.Result, err error, warnings ...string) (*model.PersonPayload, error) {
	if err != nil {
		return nil, err
	}
	if err := r.awaitProjection(ctx, res.Position); err != nil {
		return nil, afterWrite(err)
	}
	v, err := r.ReadModel.Person(ctx, res.PersonID)
	if err != nil {
		return nil, afterWrite(err)
	}
	if warnings == nil || res.Duplicate {
		warnings = []string{} // a repeat recorded nothing: nothing to warn of
	}
	return &model.PersonPayload{Position: position(res.Position), Person: *personModel(v), Warnings: warnings}, nil
}

func (r *Resolver) accomplishmentPayload(ctx context.Context, res events.Result, err error) (*model.AccomplishmentPayload, error) {
	if err != nil {
		return nil, err
	}
	if err := r.awaitProjection(ctx, res.Position); err != nil {
		return nil, afterWrite(err)
	}
	v, err := r.ReadModel.Person(ctx, res.PersonID)
	if err != nil {
		return nil, afterWrite(err)
	}
	a, err := r.ReadModel.Accomplishment(ctx, res.AccomplishmentID)
	if err != nil {
		return nil, afterWrite(err)
	}
	return &model.AccomplishmentPayload{Position: position(res.Position), Person: *personModel(v),
		AccomplishmentID: res.AccomplishmentID, Accomplishment: accomplishmentModel(a)}, nil
}

// set applies an omittable input value: absent keeps old, null clears it
// (when clear is allowed), a value replaces it.
func set[T any](o graphql.Omittable[*T], field string, nullable bool, apply func(v *T)) error {
	if !o.IsSet() {
		return nil
	}
	v := o.Value()
	if v == nil && !nullable {
		return domain.Invalid(field, "cannot be cleared")
	}
	apply(v)
	return nil
}

// notFor reports amendment fields that do not belong to the accomplishment's kind.
func notFor(kind domain.AccomplishmentKind, fields map[string]bool) error {
	for _, name := range []string{"field", "title", "role", "startedOn", "completedOn", "outcome", "withinBudget",
		"peakHeadcount", "annualContractValueYen", "installationSites", "inquiriesPerYear", "complexity", "kind",
		"occurredOn", "fields", "subordinateId", "theme", "proficiency", "assessedOn"} {
		if fields[name] {
			return domain.Invalid(name, "does not apply to an accomplishment of kind "+string(kind))
		}
	}
	return nil
}

// subordinateInput refuses a subordinateId given as "": left out, there is
// no one to name; given empty, it is a mistake (an unset variable), as an
// empty department filter is. One that breaks the id rule is no one's, and
// refused as such (the domain's words), whoever asks: like the empty one,
// from the input alone, before who may record for the person is asked.
func subordinateInput(p *string) error {
	switch {
	case p == nil:
		return nil
	case *p == "":
		return domain.Invalid("subordinateId", "must not be empty (leave it out when no one is named)")
	}
	return domain.ValidatePersonIDOf("subordinateId", *p)
}

// amendsNothing refuses an amendment that names no field to change: it
// would add an event that changes nothing to a log kept forever, and an
// empty subordinateId or one that breaks the id rule. It needs no state,
// so it runs before the command.
func amendsNothing(in model.AmendAccomplishmentInput) error {
	if v, _ := in.SubordinateID.ValueOK(); v != nil {
		if err := subordinateInput(v); err != nil {
			return err
		}
	}
	if in.Field.IsSet() || in.Title.IsSet() || in.Role.IsSet() || in.StartedOn.IsSet() || in.CompletedOn.IsSet() ||
		in.Outcome.IsSet() || in.WithinBudget.IsSet() || in.PeakHeadcount.IsSet() || in.AnnualContractValueYen.IsSet() ||
		in.InstallationSites.IsSet() || in.InquiriesPerYear.IsSet() || in.Complexity.IsSet() || in.Kind.IsSet() ||
		in.OccurredOn.IsSet() || in.Fields.IsSet() || in.SubordinateID.IsSet() || in.Theme.IsSet() ||
		in.Proficiency.IsSet() || in.AssessedOn.IsSet() {
		return nil
	}
	return domain.Invalid("input", "must give at least one field to change besides accomplishmentId")
}

// amendPatch returns the patch that applies an amendment input to the
// current value of an accomplishment. The recorder re-validates the result
// as a whole.
func amendPatch(in model.AmendAccomplishmentInput) func(domain.Accomplishment) (domain.Accomplishment, error) {
	given := map[string]bool{
		"field": in.Field.IsSet(), "title": in.Title.IsSet(), "role": in.Role.IsSet(), "startedOn": in.StartedOn.IsSet(),
		"completedOn": in.CompletedOn.IsSet(), "outcome": in.Outcome.IsSet(), "withinBudget": in.WithinBudget.IsSet(),
		"peakHeadcount": in.PeakHeadcount.IsSet(), "annualContractValueYen": in.AnnualContractValueYen.IsSet(),
		"installationSites": in.InstallationSites.IsSet(), "inquiriesPerYear": in.InquiriesPerYear.IsSet(),
		"complexity": in.Complexity.IsSet(), "kind": in.Kind.IsSet(), "occurredOn": in.OccurredOn.IsSet(),
		"fields": in.Fields.IsSet(), "subordinateId": in.SubordinateID.IsSet(), "theme": in.Theme.IsSet(),
		"proficiency": in.Proficiency.IsSet(), "assessedOn": in.AssessedOn.IsSet(),
	}
	only := func(allowed ...string) map[string]bool {
		rest := map[string]bool{}
		for k, v := range given {
			if v && !slices.Contains(allowed, k) {
				rest[k] = true
			}
		}
		return rest
	}
	return func(cur domain.Accomplishment) (domain.Accomplishment, error) {
		switch {
		case cur.Engagement != nil:
			e := *cur.Engagement
			e.Complexity = slices.Clone(e.Complexity)
			if err := notFor(domain.KindEngagement, only("field", "title", "role", "startedOn", "completedOn", "outcome",
				"withinBudget", "peakHeadcount", "annualContractValueYen", "installationSites", "inquiriesPerYear", "complexity")); err != nil {
				return cur, err
			}
			errs := []error{
				set(in.Field, "field", false, func(v *model.SpecialtyField) { e.Field = domain.Field(*v) }),
				set(in.Title, "title", false, func(v *string) { e.Title = *v }),
				set(in.Role, "role", false, func(v *model.EngagementRole) { e.Role = domain.Role(*v) }),
				set(in.StartedOn, "startedOn", false, func(v *domain.Date) { e.StartedOn = *v }),
				set(in.CompletedOn, "completedOn", true, func(v *domain.Date) { e.CompletedOn = derefDate(v) }),
				set(in.Outcome, "outcome", false, func(v *model.Outcome) { e.Outcome = domain.Outcome(*v) }),
				set(in.WithinBudget, "withinBudget", false, func(v *bool) { e.WithinBudget = *v }),
				set(in.PeakHeadcount, "peakHeadcount", true, func(v *int) { e.PeakHeadcount = int64Ptr(v) }),
				set(in.AnnualContractValueYen, "annualContractValueYen", true, func(v *int64) { e.AnnualContractValueYen = v }),
				set(in.InstallationSites, "installationSites", true, func(v *int) { e.InstallationSites = int64Ptr(v) }),
				set(in.InquiriesPerYear, "inquiriesPerYear", true, func(v *int) { e.InquiriesPerYear = int64Ptr(v) }),
			}
			if in.Complexity.IsSet() {
				e.Complexity = nil
				for _, c := range in.Complexity.Value() {
					e.Complexity = append(e.Complexity, domain.Criterion(c))
				}
			}
			if err := firstError(errs); err != nil {
				return cur, err
			}
			return domain.Accomplishment{Engagement: &e}, nil
		case cur.Succession != nil:
			s := *cur.Succession
			s.Fields = slices.Clone(s.Fields)
			if err := notFor(domain.KindSuccession, only("kind", "title", "occurredOn", "fields")); err != nil {
				return cur, err
			}
			errs := []error{
				set(in.Kind, "kind", false, func(v *string) { s.Kind = domain.SuccessionKind(*v) }),
				set(in.Title, "title", false, func(v *string) { s.Title = *v }),
				set(in.OccurredOn, "occurredOn", false, func(v *domain.Date) { s.OccurredOn = *v }),
			}
			if in.Fields.IsSet() {
				s.Fields = nil
				for _, f := range in.Fields.Value() {
					s.Fields = append(s.Fields, domain.Field(f))
				}
			}
			if err := firstError(errs); err != nil {
				return cur, err
			}
			return domain.Accomplishment{Succession: &s}, nil
		case cur.Development != nil:
			d := *cur.Development
			if err := notFor(domain.KindDevelopment, only("kind", "occurredOn", "subordinateId")); err != nil {
				return cur, err
			}
			errs := []error{
				set(in.Kind, "kind", false, func(v *string) { d.Kind = domain.DevelopmentKind(*v) }),
				set(in.OccurredOn, "occurredOn", false, func(v *domain.Date) { d.OccurredOn = *v }),
				set(in.SubordinateID, "subordinateId", true, func(v *string) { d.SubordinateID = deref(v) }),
			}
			if err := firstError(errs); err != nil {
				return cur, err
			}
			return domain.Accomplishment{Development: &d}, nil
		default:
			t := *cur.Assessment
			if err := notFor(domain.KindThemeAssessment, only("theme", "proficiency", "assessedOn")); err != nil {
				return cur, err
			}
			errs := []error{
				set(in.Theme, "theme", false, func(v *model.Theme) { t.Theme = domain.Theme(*v) }),
				set(in.Proficiency, "proficiency", false, func(v *model.Proficiency) { t.Proficiency = domain.Proficiency(*v) }),
				set(in.AssessedOn, "assessedOn", false, func(v *domain.Date) { t.AssessedOn = *v }),
			}
			if err := firstError(errs); err != nil {
				return cur, err
			}
			return domain.Accomplishment{Assessment: &t}, nil
		}
	}
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
