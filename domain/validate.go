package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Input limits that levels.md leaves open (see docs/judgment.md).
const (
	MaxTitleLength      = 200     // characters of an engagement's or item's title
	MaxNameLength       = 200     // characters of a person's name
	MaxDepartmentLength = 100     // characters of a department's name
	MaxReasonLength     = 1000    // characters of a retraction's reason
	MaxYen              = 1 << 53 // the largest amount the Yen scalar carries exactly
)

// ValidateAccomplishment checks a as recorded or amended against the rules of
// levels.md "Validation" and this catalogue's fields and criteria; today is
// the caller's current date (no date may lie after it). It returns nil or
// the first violation as an *Error of KindInvalid whose Field is the
// GraphQL input field (e.g. "completedOn"), checking fields in input order.
//
//	err := c.ValidateAccomplishment(domain.Accomplishment{Engagement: &e}, today)
//	// completedOn: must not be before startedOn
func (c *Catalogue) ValidateAccomplishment(a Accomplishment, today Date) error {
	n := 0
	for _, set := range []bool{a.Engagement != nil, a.Succession != nil, a.Development != nil, a.Assessment != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return Invalid("accomplishment", "must hold exactly one engagement, technology-succession item, subordinate development or theme assessment")
	}
	switch {
	case a.Engagement != nil:
		return c.validateEngagement(a.Engagement, today)
	case a.Succession != nil:
		return c.validateSuccession(a.Succession, today)
	case a.Development != nil:
		return validateDevelopment(a.Development, today)
	default:
		return validateAssessment(a.Assessment, today)
	}
}

func (c *Catalogue) validateEngagement(e *Engagement, today Date) error {
	if !c.HasField(e.Field) {
		return oneOf("field", "SpecialtyField", e.Field, c.fields)
	}
	if err := validateText("title", e.Title, MaxTitleLength); err != nil {
		return err
	}
	if !e.Role.Valid() {
		return oneOf("role", "EngagementRole", e.Role, Roles)
	}
	if err := ValidateDate("startedOn", e.StartedOn, today); err != nil {
		return err
	}
	if !e.Outcome.Valid() {
		return oneOf("outcome", "Outcome", e.Outcome, Outcomes)
	}
	switch {
	case e.Outcome == Ongoing && !e.CompletedOn.IsZero():
		return Invalid("completedOn", "must be absent while outcome is ONGOING")
	case e.Outcome != Ongoing && e.CompletedOn.IsZero():
		return Invalid("completedOn", "is required unless outcome is ONGOING")
	case !e.CompletedOn.IsZero() && e.CompletedOn.Before(e.StartedOn):
		return Invalid("completedOn", "must not be before startedOn")
	case !e.CompletedOn.IsZero() && e.CompletedOn.After(today):
		return Invalid("completedOn", "must not be in the future (after "+today.String()+")")
	}
	if v := e.PeakHeadcount; v != nil && *v < 1 {
		return Invalid("peakHeadcount", "must be a whole number >= 1 when given")
	}
	if v := e.AnnualContractValueYen; v != nil {
		if *v < 0 {
			return Invalid("annualContractValueYen", "must be a whole number >= 0")
		}
		if *v > MaxYen {
			return Invalid("annualContractValueYen", fmt.Sprintf("must be at most %d", int64(MaxYen)))
		}
	}
	if v := e.InstallationSites; v != nil && *v < 0 {
		return Invalid("installationSites", "must be a whole number >= 0")
	}
	if v := e.InquiriesPerYear; v != nil && *v < 0 {
		return Invalid("inquiriesPerYear", "must be a whole number >= 0")
	}
	usable := c.criteriaOf(e.Field)
	for i, cr := range e.Complexity {
		switch {
		case !cr.Valid():
			return oneOf("complexity", "ComplexityCriterion", cr, Criteria)
		case !slices.Contains(usable, cr):
			return Invalid("complexity", fmt.Sprintf("%s is not a criterion of %s (it uses %s)", cr, e.Field, joinCodes(usable)))
		case slices.Contains(e.Complexity[:i], cr):
			return Invalid("complexity", fmt.Sprintf("lists %s more than once", cr))
		}
	}
	return nil
}

func (c *Catalogue) validateSuccession(s *SuccessionItem, today Date) error {
	if !s.Kind.Valid() {
		return oneOf("kind", "SuccessionKind", s.Kind, SuccessionKinds)
	}
	if err := validateText("title", s.Title, MaxTitleLength); err != nil {
		return err
	}
	if err := ValidateDate("occurredOn", s.OccurredOn, today); err != nil {
		return err
	}
	if len(s.Fields) == 0 {
		return Invalid("fields", "must name at least one field")
	}
	for i, f := range s.Fields {
		if !c.HasField(f) {
			return oneOf("fields", "SpecialtyField", f, c.fields)
		}
		if slices.Contains(s.Fields[:i], f) {
			return Invalid("fields", fmt.Sprintf("lists %s more than once", f))
		}
	}
	return nil
}

func validateDevelopment(d *Development, today Date) error {
	if !d.Kind.Valid() {
		return oneOf("kind", "DevelopmentKind", d.Kind, DevelopmentKinds)
	}
	if err := ValidateDate("occurredOn", d.OccurredOn, today); err != nil {
		return err
	}
	if d.SubordinateID != "" {
		return ValidatePersonIDOf("subordinateId", d.SubordinateID)
	}
	return nil
}

func validateAssessment(a *ThemeAssessment, today Date) error {
	if !a.Theme.Valid() {
		return oneOf("theme", "Theme", a.Theme, Themes)
	}
	if !a.Proficiency.Valid() {
		return oneOf("proficiency", "Proficiency", a.Proficiency, Proficiencies)
	}
	return ValidateDate("assessedOn", a.AssessedOn, today)
}

// ValidateName checks a person's name: not blank, at most MaxNameLength
// characters of valid UTF-8. It returns an *Error for the input "name".
func ValidateName(name string) error { return validateText("name", name, MaxNameLength) }

// ValidateDepartment checks a department's name: not blank, at most
// MaxDepartmentLength characters of valid UTF-8. It returns an *Error for
// the input "department".
func ValidateDepartment(name string) error {
	return validateText("department", name, MaxDepartmentLength)
}

// ValidateReason checks a retraction's reason: not blank, at most
// MaxReasonLength characters of valid UTF-8. It returns an *Error for the
// input "reason".
func ValidateReason(reason string) error {
	return validateText("reason", reason, MaxReasonLength)
}

func validateText(field, s string, maxLen int) error {
	switch {
	case !utf8.ValidString(s):
		return Invalid(field, "must be valid UTF-8")
	case strings.TrimSpace(s) == "":
		return Invalid(field, "must not be empty")
	case utf8.RuneCountInString(s) > maxLen:
		return Invalid(field, fmt.Sprintf("must be at most %d characters", maxLen))
	}
	return ValidatePrintable(field, s, field == "reason")
}

// ValidatePrintable refuses control characters in a text (with multiline,
// a reason's line breaks and tabs aside): a NUL, which PostgreSQL cannot
// store, a terminal's escape sequence, a tab that breaks a table, and the
// direction overrides that make a name read as another. It returns an
// *Error for the input field, naming the character and where it is.
func ValidatePrintable(field, s string, multiline bool) error {
	n := 0
	for _, r := range s {
		n++
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if unprintable(r) {
			return &Error{Kind: KindInvalid, Field: field, Rule: "must not contain control characters",
				Message: fmt.Sprintf("%s: must not contain control characters (U+%04X at character %d)", field, r, n)}
		}
		if r == utf8.RuneError {
			// What a JSON decoder makes of text it could not read (a lone
			// surrogate escape such as \ud800): recorded, it would stand
			// for the lost characters forever.
			return &Error{Kind: KindInvalid, Field: field, Rule: "must not contain the replacement character",
				Message: fmt.Sprintf("%s: must not contain the replacement character U+FFFD (at character %d), which stands for text that could not be read", field, n)}
		}
	}
	return nil
}

// unprintable reports the C0 and C1 control characters, DEL, and the
// bidirectional embeddings, overrides and isolates.
func unprintable(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// EarliestDate is the earliest date a command may carry: no career
// evidence, joining or transfer is older, and a year typed short (0202 for
// 2020) is refused instead of recorded forever.
var EarliestDate = MustDate("1900-01-01")

// ValidateDate checks a date a command carries in field: given, not after
// today, not before EarliestDate.
func ValidateDate(field string, d, today Date) error {
	switch {
	case d.IsZero():
		return Invalid(field, "is required")
	case d.After(today):
		return Invalid(field, "must not be in the future (after "+today.String()+")")
	case d.Before(EarliestDate):
		return Invalid(field, "must not be before "+EarliestDate.String())
	}
	return nil
}

// oneOf refuses got, given for field, a value of the enum typ (its name in
// the API: "SuccessionKind") that valid does not hold, in the words the
// API refuses any enum's value with: the value as JSON writes it,
// " (enum values are upper case)" for one of valid in another case, then
// the values it takes, in their order:
//
//	kind: is not a valid SuccessionKind: "MENTORING"; must be one of COMMUNITY_ACTIVITY, BOOK, ...
//
// An empty value is refused alike (`is not a valid SuccessionKind: ""`),
// as GraphQL refuses an empty enum value: only a value given empty reaches
// here (the API's inputs require each enum's field, and a null amendment
// of one is refused before). The error's Field is field, its Rule what
// follows "field: ".
func oneOf[T ~string](field, typ string, got T, valid []T) error {
	values := "; must be one of " + joinCodes(valid)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(got)) // a string always encodes
	rule := "is not a valid " + typ + ": " + strings.TrimSuffix(b.String(), "\n")
	if slices.Contains(valid, T(strings.ToUpper(string(got)))) {
		rule += " (enum values are upper case)"
	}
	return Invalid(field, rule+values)
}
