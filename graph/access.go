package graph

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
)

// The roles table of the API contract, in one place:
//   admin    everything
//   hr       read everyone and all analytics; record for anyone
//   manager  read and record for people in their own department (as of
//            today); analytics for that department
//   employee read their own person and record their own accomplishments

func principal(ctx context.Context) (Principal, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return Principal{}, &domain.Error{Kind: domain.KindUnauthenticated, Message: "missing bearer token"}
	}
	return p, nil
}

func (r *Resolver) allowedPerson(p Principal, v projections.PersonView) bool {
	switch {
	case p.Has(RoleAdmin), p.Has(RoleHR):
		return true
	case p.Has(RoleManager) && p.Department != "" && v.DepartmentOn(r.today()) == p.Department:
		return true
	case (p.Has(RoleEmployee) || p.Has(RoleManager)) && isSelf(p, v.ID):
		// The person the token names is the caller, with the employee
		// role or a manager's alone (as actsAsEmployee takes it): they
		// read themselves wherever they are, departed included, as the
		// employee they are. What they record of their own is limited as
		// an employee's is (refuseDeparted).
		return true
	}
	return false
}

// isSelf reports whether id is the person p's token names: the person the
// caller is (the contract's person claim, whatever the roles beside it, as
// actsAsEmployee takes it), an id that tells them nothing they do not
// know, whether or not anyone registered it yet.
func isSelf(p Principal, id string) bool {
	return p.Person != "" && p.Person == id
}

// authorizePerson loads a person and checks the caller may read it and
// record for it (the two coincide in the roles table, but for a departed
// employee acting as themselves: refuseDeparted). An id that breaks the id
// rule is bad input naming field, the argument it came in, whoever asks
// (personIDInput).
func (r *Resolver) authorizePerson(ctx context.Context, field, id string) (projections.PersonView, error) {
	p, err := principal(ctx)
	if err != nil {
		return projections.PersonView{}, err
	}
	if err := personIDInput(field, id); err != nil {
		return projections.PersonView{}, err
	}
	v, err := r.ReadModel.Person(ctx, id)
	if err != nil {
		if domain.KindOf(err) == domain.KindNotFound && !p.Has(RoleAdmin) && !p.Has(RoleHR) && !isSelf(p, id) {
			// Do not tell a manager or employee which ids exist elsewhere.
			// Their own id tells them nothing they do not know: an
			// employee whose person no registration names (not registered
			// yet, or a token with a typo) is told NOT_FOUND, as an admin
			// is, not that they may not see themselves.
			return v, domain.Forbidden("not allowed to access person %s", id)
		}
		return v, err
	}
	if !r.allowedPerson(p, v) {
		return v, domain.Forbidden("not allowed to access person %s", id)
	}
	return v, nil
}

// personIDInput refuses a person id that breaks the id rule (1-64
// characters of A-Z a-z 0-9 _ -) as bad input naming field, the argument
// or input field as the caller wrote it (personId, id), for every role:
// every id ever recorded keeps the rule (the log refuses an append to any
// other), so such an id is no one's, and saying so tells a manager or an
// employee nothing of which ids exist elsewhere.
func personIDInput(field, id string) error {
	return domain.ValidatePersonIDOf(field, id)
}

// accomplishmentIDInput is personIDInput for the person part of an
// accomplishment id (before its first "."), named as field. An id without
// a "." is no accomplishment's, told as such where it is looked up. The
// Recorder refuses such an id in the same words.
func accomplishmentIDInput(field, id string) error {
	return domain.ValidateAccomplishmentIDOf(field, id)
}

// refuseDeparted refuses a record, amendment or retraction by a caller
// acting on v only as the employee v is (actsAsEmployee) once v is in no
// department today: an employee records their own accomplishments while
// they work here, as a manager reaches the people in their department as
// of today. A departed employee still reads their own person; admin and
// hr record for them (back-dated evidence included), and a transfer that
// places them in a department again (a return) gives them back the right.
// "Today" is the resolver's, in careerd's time zone, the recorder's too,
// so a departure it takes (none dated after today) counts at once.
func (r *Resolver) refuseDeparted(p Principal, v projections.PersonView) error {
	today := r.today()
	if !r.actsAsEmployee(p, v) || v.DepartmentOn(today) != "" {
		return nil
	}
	// The departure that decides today: the latest end of a membership
	// on or before it.
	var on domain.Date
	for _, m := range v.Memberships {
		if !m.To.IsZero() && !m.To.After(today) && m.To.After(on) {
			on = m.To
		}
	}
	since := "is in no department today"
	if !on.IsZero() {
		since = fmt.Sprintf("departed on %s and is in no department today", on)
	}
	return domain.Forbidden("person %s %s: a departed employee no longer records, amends or retracts their own accomplishments; hr or an admin records them instead", v.ID, since)
}

// followedTogether refuses a levelChanged subscription naming both a
// person (v) and a department (dept) the person is not in today: a change
// is published with the person's department on the day it is found, so the
// two together would deliver nothing until the person moves there, in
// silence (an employee naming a department not theirs is refused alike).
// Bad input naming both arguments: leaving department out follows the
// person wherever they are.
func (r *Resolver) followedTogether(v projections.PersonView, dept string) error {
	now := v.DepartmentOn(r.today())
	if now == dept {
		return nil
	}
	where := fmt.Sprintf("they are in department %s", now)
	if now == "" {
		where = "they are in no department"
	}
	return &domain.Error{Kind: domain.KindInvalid, Field: "personId",
		Rule: "must be in the department given today (leave department out to follow the person wherever they are)",
		Message: fmt.Sprintf("personId: %s is not in department %s today (%s): a level change is published with the person's department when it is found, "+
			"so levelChanged with both would deliver nothing until they move there; leave department out to follow %s wherever they are", v.ID, dept, where, v.ID)}
}

// authorizePlacement checks the caller may change where a person works
// from effectiveOn on (transfer, departure): admin, hr, or the manager of
// the department the person has belonged to every day from effectiveOn to
// today: a back-dated change rewrites where they worked from its date, and
// a manager rewrites only their own department's days. A date before the
// person joined is invalid whoever sends it: the manager is told so, as an
// admin is, not that the days are another department's. An employee
// records only their own accomplishments: told so before the person is
// looked up, whether or not anyone is registered under id (their own id
// included), an id that breaks the id rule aside (bad input, to anyone).
func (r *Resolver) authorizePlacement(ctx context.Context, id string, effectiveOn domain.Date) error {
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	if err := personIDInput("personId", id); err != nil {
		return err // no one's, whoever asks: bad input before the role
	}
	if !p.Has(RoleAdmin) && !p.Has(RoleHR) && !(p.Has(RoleManager) && p.Department != "") {
		return errPlacementRole(id)
	}
	v, err := r.authorizePerson(ctx, "personId", id)
	if err != nil {
		return err
	}
	if p.Has(RoleAdmin) || p.Has(RoleHR) {
		return nil
	}
	today := r.today()
	if p.Has(RoleManager) && p.Department != "" && v.DepartmentOn(today) == p.Department {
		if !effectiveOn.IsZero() && effectiveOn.Before(v.JoinedOn) {
			// The refusal the Recorder gives anyone: the date's own
			// rules first (a date before 1900 is refused as such), then
			// the joining day.
			if err := domain.ValidateDate("effectiveOn", effectiveOn, today); err != nil {
				return err
			}
			return domain.ValidatePlacementDate(effectiveOn, v.JoinedOn)
		}
		if from, ok := inDepartmentSince(v, p.Department, effectiveOn, today); !ok {
			return domain.Forbidden("not allowed to change where person %s works from %s: they have been in department %s only since %s, and a manager changes only their own department's days",
				id, effectiveOn, p.Department, from)
		}
		return nil
	}
	if p.Has(RoleManager) && p.Department != "" {
		// Their own person outside their department (departed, say),
		// whom they read as the employee they are: a manager, who is
		// not told they need the manager role.
		where := fmt.Sprintf("are not in department %s today", p.Department)
		if v.DepartmentOn(today) == "" {
			where = "are in no department today"
		}
		return domain.Forbidden("not allowed to transfer or record the departure of person %s: they %s, and a manager does so only for the people of their own department", id, where)
	}
	return errPlacementRole(id)
}

func errPlacementRole(id string) error {
	return domain.Forbidden("not allowed to transfer or record the departure of person %s: needs the admin, hr or manager role", id)
}

// inDepartmentSince returns since when v has belonged to dept without a
// break up to today (they do today), and whether that covers every day
// from d (a d that is missing or after today is taken as today: it is
// refused as such elsewhere). The department changes only where a
// membership begins or ends: the latest such day whose eve is not in
// dept begins the stretch.
func inDepartmentSince(v projections.PersonView, dept string, d, today domain.Date) (domain.Date, bool) {
	if d.IsZero() || d.After(today) {
		d = today
	}
	var bounds []domain.Date
	for _, m := range v.Memberships {
		bounds = append(bounds, m.From)
		if !m.To.IsZero() {
			bounds = append(bounds, m.To)
		}
	}
	slices.SortFunc(bounds, func(a, b domain.Date) int { return cmp.Compare(b.Days(), a.Days()) }) // latest first
	since := today
	for _, b := range bounds {
		if b.After(today) {
			continue
		}
		since = b
		if v.DepartmentOn(b.AddDays(-1)) != dept {
			break
		}
	}
	return since, !d.Before(since)
}

// authorizeDepartment checks the caller may act on a department (register
// into it, transfer into it, or see its analytics). It returns the
// department an analytics query is limited to ("" = all).
func authorizeDepartment(p Principal, dept *string) (string, error) {
	want := ""
	if dept != nil {
		want = strings.TrimSpace(*dept) // as the recorder keeps it
	}
	switch {
	case p.Has(RoleAdmin), p.Has(RoleHR):
		return want, nil
	case p.Has(RoleManager) && p.Department != "":
		if want == "" || want == p.Department {
			return p.Department, nil
		}
		return "", domain.Forbidden("a manager may only act on department %s", p.Department)
	}
	return "", domain.Forbidden("not allowed: needs the admin, hr or manager role")
}

// department authorizes a department filter (authorizeDepartment) and,
// for an admin or hr, who may name any department, checks that someone has
// been in the one named: a misspelt name would otherwise answer an empty
// list that looks like a true one. A manager's filter is their own
// department, checked likewise: a token minted with a misspelt one would
// answer every list empty (the refusal names no other department). A name is taken exactly as given when
// a department has it (a log written before departments were trimmed may
// hold "QA Dept " beside "QA Dept"), else trimmed, as the recorder keeps
// it. Given empty, it is refused.
//
// With knownAt (analytics as known then), a department only a superseded
// placement named (a transfer recorded later, back-dated to before anyone
// was there) is a department too: any name an event placed someone in.
func (r *Resolver) department(ctx context.Context, p Principal, dept *string, knownAt *time.Time) (string, error) {
	if dept != nil && strings.TrimSpace(*dept) == "" {
		// Left out, the filter is every department; given empty it is a
		// mistake (an unset variable), not a request for everyone.
		return "", errEmptyDepartment()
	}
	want, err := authorizeDepartment(p, dept)
	if err != nil || want == "" {
		return want, err
	}
	manager := !(p.Has(RoleAdmin) || p.Has(RoleHR))
	if manager {
		// The department of the token, as given: a misspelt one would
		// answer every list empty, and every write refused, in silence.
		dept = &want
	}
	if knownAt != nil {
		// Allowed: the read model is waited for before it tells which
		// departments exist (a placement recorded before knownAt may
		// not be applied yet).
		if err := r.awaitKnownAt(ctx); err != nil {
			return "", err
		}
	}
	known, err := r.ReadModel.Departments(ctx)
	if err != nil {
		return "", err
	}
	// The name exactly as given first: where an older log holds both
	// "QA Dept " and "QA Dept", each is reached by its own name, and one
	// an older release recorded with a control character ("Ops\tDesk")
	// by the name departments lists.
	names := []string{*dept}
	if want != *dept {
		names = append(names, want)
	}
	for _, name := range names {
		if _, ok := slices.BinarySearch(known, name); ok {
			return name, nil
		}
		if knownAt == nil {
			continue
		}
		// Not a department now: a name no department could have is not
		// searched for in the log (the trimmed name may still be).
		if domain.ValidateDepartment(name) != nil {
			continue
		}
		ids, err := r.ReadModel.PeopleEverIn(ctx, name)
		if err != nil {
			return "", err
		}
		if len(ids) > 0 {
			return name, nil
		}
	}
	if manager {
		// Other departments' names are not told to a manager (departments
		// lists only theirs): no hint.
		return "", &domain.Error{Kind: domain.KindInvalid, Field: "department",
			Rule: "must name a department someone has been in",
			Message: fmt.Sprintf("department: no one has been in department %q, the department of your token: "+
				"a manager's token names their department as it is recorded (ask hr or an admin for one that does)", want)}
	}
	if err := domain.ValidateDepartment(want); err != nil {
		return "", err
	}
	msg := fmt.Sprintf("department: no one has been in department %q", want)
	if like := closestName(want, known); like != "" {
		msg += fmt.Sprintf("; did you mean %q?", like)
	}
	return "", &domain.Error{Kind: domain.KindInvalid, Field: "department",
		Rule: "must name a department someone has been in (see departments)", Message: msg}
}

// errEmptyDepartment refuses a department filter given empty (or spaces
// only): left out, it is every department; given empty, it is most likely
// an unset variable.
func errEmptyDepartment() error {
	return domain.Invalid("department", "must not be empty (leave it out for every department)")
}

// newDepartment warns of a registration or transfer into a department no
// one has been in, as the read model knows before the write: a new
// department is recorded (an organisation changes), but a misspelt one
// would split a department in two, unseen. The warning names the closest
// known department to an admin or hr (a manager is not told other
// departments' names, as departments does not list them). A repeat of the
// request recorded nothing and is not warned of (personPayload).
func (r *Resolver) newDepartment(ctx context.Context, department string) ([]string, error) {
	name := strings.TrimSpace(department) // as the recorder keeps it
	if name == "" {
		return nil, nil // the recorder refuses it, naming the field
	}
	known, err := r.ReadModel.Departments(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := slices.BinarySearch(known, name); ok {
		return nil, nil
	}
	return []string{newDepartmentWarning(ctx, name, known)}, nil
}

// supersededPlacement warns of a transfer (to department) or a departure
// (department nil) that does not decide where the person is today: the log takes
// placements in any order of valid time, so a back-dated one recorded
// after a later-dated one holds only until that one, and whoever
// back-dated a move (hr correcting last year, say) was left with the
// person where they were, told only by the payload's department. Recorded all the same (it rewrites the
// days in between); the warning names the placement that decides today.
// It reads the person as projected after the write.
func (r *Resolver) supersededPlacement(ctx context.Context, id string, department *string, effectiveOn domain.Date) []string {
	what, want := "the departure", ""
	if department != nil {
		want = strings.TrimSpace(*department) // as the recorder keeps it
		what = fmt.Sprintf("the transfer to %q", want)
	}
	today := r.today()
	v, err := r.ReadModel.Person(ctx, id)
	if err != nil || effectiveOn.After(today) {
		return nil
	}
	got := v.DepartmentOn(today)
	if got == want {
		return nil
	}
	// The placement that decides today: the start of the membership
	// today is in, or, in none, the end of the latest one (a departure).
	var on domain.Date
	for _, m := range v.Memberships {
		switch {
		case got != "" && m.Department == got && !m.From.After(today) && (m.To.IsZero() || m.To.After(today)):
			on = m.From
		case got == "" && !m.To.IsZero() && !m.To.After(today) && m.To.After(on):
			on = m.To
		}
	}
	if on.IsZero() {
		return nil
	}
	if got == "" {
		return []string{fmt.Sprintf("%s takes effect on %s, but a departure effective %s, recorded before it, ends it: %s is in no department today", what, effectiveOn, on, id)}
	}
	return []string{fmt.Sprintf("%s takes effect on %s, but a placement effective %s, recorded before it, has %s in %q from then on: their department today is %q", what, effectiveOn, on, id, got, got)}
}

// newDepartmentWarning is the warning of a placement into department, no
// one's before: with the closest of known to an admin or hr.
func newDepartmentWarning(ctx context.Context, department string, known []string) string {
	w := fmt.Sprintf("department %q is new: no one has been in it before", department)
	if p, _ := PrincipalFrom(ctx); p.Has(RoleAdmin) || p.Has(RoleHR) {
		if like := closestName(department, known); like != "" {
			w += fmt.Sprintf(" (did you mean %q?)", like)
		}
	}
	return w
}

// closestName returns the name of known closest to name by at most two
// single-character edits, case aside (and fewer than half its
// characters), the first in known's order of those as close; "" if none
// is.
func closestName(name string, known []string) string {
	best, bestD := "", 3
	n := utf8.RuneCountInString(name)
	limit := (n + 1) / 2
	lower := strings.ToLower(name)
	for _, k := range known {
		if m := utf8.RuneCountInString(k); m < n-2 || m > n+2 {
			continue // more than two edits apart
		}
		if d := editDistance(lower, strings.ToLower(k)); d < bestD && d < limit {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// awaitProjection blocks until the read model has applied position: a
// mutation returns only once every query sees its effect.
func (r *Resolver) awaitProjection(ctx context.Context, pos uint64) error {
	timeout := r.ReadYourWritesTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := r.ReadModel.WaitFor(wctx, pos); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The request's own deadline (Limits.Request): the write is
			// as certain as at the read-your-writes timeout.
			return domain.Conflict("recorded at position %d, but the read model did not apply it before the request's deadline; retry the query shortly", pos)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, projections.ErrUnavailable) {
			// Not a wait that ran out: the read model could not be asked.
			return err
		}
		return domain.Conflict("recorded at position %d, but the read model did not apply it within %s; retry the query shortly", pos, timeout)
	}
	return nil
}
