package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/careerledger/careerledger/domain"
)

const today = "2024-06-30"

func validEngagement() Engagement {
	e := lead("e1", SD, "2024-01-31", domain.SupportedSystem, domain.Contract)
	e.PeakHeadcount, e.AnnualContractValueYen = num(12), num(5_000_000_000)
	e.InstallationSites, e.InquiriesPerYear = num(0), num(4000)
	return e
}

func TestValidateAccomplishment(t *testing.T) {
	t.Parallel()
	eng := func(change func(*Engagement)) domain.Accomplishment {
		e := validEngagement()
		change(&e)
		return domain.Accomplishment{Engagement: &e}
	}
	succ := func(change func(*SuccessionItem)) domain.Accomplishment {
		s := item("s1", domain.ExternalTalk, "2024-06-30", SO, NO)
		change(&s)
		return domain.Accomplishment{Succession: &s}
	}
	dev := func(change func(*Development)) domain.Accomplishment {
		d := develop("d1", "2023-01-01")
		d.SubordinateID = "emp-0042"
		change(&d)
		return domain.Accomplishment{Development: &d}
	}
	theme := func(change func(*ThemeAssessment)) domain.Accomplishment {
		a := assess("a1", domain.ContractManagement, domain.GuidesOthers, "2020-01-01")
		change(&a)
		return domain.Accomplishment{Assessment: &a}
	}

	tests := []struct {
		name      string
		a         domain.Accomplishment
		wantField string // "" for valid input
		wantRule  string // a substring of the rule
	}{
		{name: "valid engagement", a: eng(func(*Engagement) {})},
		{name: "valid ongoing engagement", a: eng(func(e *Engagement) { e.Outcome, e.CompletedOn = domain.Ongoing, domain.Date{} })},
		{name: "valid engagement without sizes", a: eng(func(e *Engagement) {
			e.PeakHeadcount, e.AnnualContractValueYen, e.InstallationSites, e.InquiriesPerYear = nil, nil, nil, nil
		})},
		{name: "valid engagement completed on its start day and today", a: eng(func(e *Engagement) { e.StartedOn, e.CompletedOn = day(today), day(today) })},
		{name: "valid succession item", a: succ(func(*SuccessionItem) {})},
		{name: "valid development without subordinate", a: dev(func(d *Development) { d.SubordinateID = "" })},
		{name: "valid development with subordinate", a: dev(func(*Development) {})},
		{name: "valid theme assessment", a: theme(func(*ThemeAssessment) {})},
		{name: "valid yen above 2^31", a: eng(func(e *Engagement) { e.AnnualContractValueYen = num(1 << 40) })},

		{name: "empty accomplishment", a: domain.Accomplishment{}, wantField: "accomplishment", wantRule: "exactly one"},
		{name: "two kinds at once", a: func() domain.Accomplishment {
			a := eng(func(*Engagement) {})
			a.Development = &Development{}
			return a
		}(), wantField: "accomplishment", wantRule: "exactly one"},

		{name: "engagement: unknown field", a: eng(func(e *Engagement) { e.Field = "DATA_CENTER" }), wantField: "field", wantRule: `is not a valid SpecialtyField: "DATA_CENTER"; must be one of SYSTEM_OPERATION, NETWORK_OPERATION, SERVICE_DESK`},
		{name: "engagement: an empty field", a: eng(func(e *Engagement) { e.Field = "" }), wantField: "field", wantRule: `is not a valid SpecialtyField: ""; must be one of SYSTEM_OPERATION,`},
		{name: "engagement: empty title", a: eng(func(e *Engagement) { e.Title = "" }), wantField: "title", wantRule: "must not be empty"},
		{name: "engagement: blank title", a: eng(func(e *Engagement) { e.Title = " \t" }), wantField: "title", wantRule: "must not be empty"},
		{name: "engagement: title of 201 characters", a: eng(func(e *Engagement) { e.Title = strings.Repeat("運", 201) }), wantField: "title", wantRule: "at most 200"},
		{name: "engagement: title of 200 characters is fine", a: eng(func(e *Engagement) { e.Title = strings.Repeat("運", 200) })},
		{name: "engagement: title not UTF-8", a: eng(func(e *Engagement) { e.Title = "\xff" }), wantField: "title", wantRule: "UTF-8"},
		{name: "engagement: unknown role", a: eng(func(e *Engagement) { e.Role = "BOSS" }), wantField: "role", wantRule: `is not a valid EngagementRole: "BOSS"; must be one of PARTICIPANT, PRACTITIONER, MEMBER, LEAD`},
		{name: "engagement: startedOn required", a: eng(func(e *Engagement) { e.StartedOn = domain.Date{} }), wantField: "startedOn", wantRule: "required"},
		{name: "engagement: startedOn in the future", a: eng(func(e *Engagement) { e.StartedOn = day(today).AddDays(1) }), wantField: "startedOn", wantRule: "future"},
		{name: "engagement: unknown outcome", a: eng(func(e *Engagement) { e.Outcome = "ABANDONED" }), wantField: "outcome", wantRule: `is not a valid Outcome: "ABANDONED"; must be one of`},
		{name: "engagement: completedOn required unless ONGOING", a: eng(func(e *Engagement) { e.CompletedOn = domain.Date{} }), wantField: "completedOn", wantRule: "required unless outcome is ONGOING"},
		{name: "engagement: completedOn required when UNSUCCESSFUL", a: eng(func(e *Engagement) { e.Outcome, e.CompletedOn = domain.Unsuccessful, domain.Date{} }), wantField: "completedOn", wantRule: "required"},
		{name: "engagement: completedOn absent when ONGOING", a: eng(func(e *Engagement) { e.Outcome = domain.Ongoing }), wantField: "completedOn", wantRule: "absent while outcome is ONGOING"},
		{name: "engagement: completedOn before startedOn", a: eng(func(e *Engagement) { e.CompletedOn = e.StartedOn.AddDays(-1) }), wantField: "completedOn", wantRule: "not be before startedOn"},
		{name: "engagement: startedOn before 1900", a: eng(func(e *Engagement) { e.StartedOn = day("1899-12-31") }), wantField: "startedOn", wantRule: "before 1900-01-01"},
		{name: "succession: occurredOn typed short", a: succ(func(s *SuccessionItem) { s.OccurredOn = day("0202-04-01") }), wantField: "occurredOn", wantRule: "before 1900-01-01"},
		{name: "assessment: assessedOn before 1900", a: theme(func(a *ThemeAssessment) { a.AssessedOn = day("1066-10-14") }), wantField: "assessedOn", wantRule: "before 1900-01-01"},
		{name: "development: occurredOn before 1900", a: dev(func(d *Development) { d.OccurredOn = day("1899-01-01") }), wantField: "occurredOn", wantRule: "before 1900-01-01"},
		{name: "engagement: completedOn in the future", a: eng(func(e *Engagement) { e.CompletedOn = day(today).AddDays(1) }), wantField: "completedOn", wantRule: "future"},
		{name: "engagement: peakHeadcount 0", a: eng(func(e *Engagement) { e.PeakHeadcount = num(0) }), wantField: "peakHeadcount", wantRule: ">= 1"},
		{name: "engagement: peakHeadcount negative", a: eng(func(e *Engagement) { e.PeakHeadcount = num(-3) }), wantField: "peakHeadcount", wantRule: ">= 1"},
		{name: "engagement: negative yen", a: eng(func(e *Engagement) { e.AnnualContractValueYen = num(-1) }), wantField: "annualContractValueYen", wantRule: ">= 0"},
		{name: "engagement: yen above 2^53", a: eng(func(e *Engagement) { e.AnnualContractValueYen = num(1<<53 + 1) }), wantField: "annualContractValueYen", wantRule: "at most"},
		{name: "engagement: zero yen is fine", a: eng(func(e *Engagement) { e.AnnualContractValueYen = num(0) })},
		{name: "engagement: negative installationSites", a: eng(func(e *Engagement) { e.InstallationSites = num(-1) }), wantField: "installationSites", wantRule: ">= 0"},
		{name: "engagement: negative inquiriesPerYear", a: eng(func(e *Engagement) { e.InquiriesPerYear = num(-1) }), wantField: "inquiriesPerYear", wantRule: ">= 0"},
		{name: "engagement: unknown complexity code", a: eng(func(e *Engagement) { e.Complexity = []Criterion{"FOO"} }), wantField: "complexity", wantRule: `is not a valid ComplexityCriterion: "FOO"; must be one of OPERATION_REQUIREMENTS,`},
		{name: "engagement: a code the field never uses (OPERATION_SYSTEMS in SERVICE_DESK)", a: eng(func(e *Engagement) { e.Complexity = []Criterion{domain.OperationSystems} }), wantField: "complexity", wantRule: "not a criterion of SERVICE_DESK"},
		{name: "engagement: SUPPORTED_SYSTEM in SYSTEM_OPERATION", a: eng(func(e *Engagement) { e.Field, e.Complexity = SO, []Criterion{domain.SupportedSystem} }), wantField: "complexity", wantRule: "not a criterion of SYSTEM_OPERATION"},
		{name: "engagement: NETWORK_REQUIREMENTS in SYSTEM_OPERATION", a: eng(func(e *Engagement) { e.Field, e.Complexity = SO, []Criterion{domain.NetworkRequirements} }), wantField: "complexity", wantRule: "not a criterion of SYSTEM_OPERATION"},
		{name: "engagement: CONTRACT is usable in NETWORK_OPERATION (L4-5)", a: eng(func(e *Engagement) { e.Field, e.Complexity = NO, []Criterion{domain.Contract, domain.Organization} })},
		{name: "engagement: a code twice", a: eng(func(e *Engagement) {
			e.Complexity = []Criterion{domain.Contract, domain.SupportedSystem, domain.Contract}
		}), wantField: "complexity", wantRule: "more than once"},
		{name: "engagement: first violation wins (field before title)", a: eng(func(e *Engagement) { e.Field, e.Title = "X", "" }), wantField: "field"},

		{name: "succession: unknown kind", a: succ(func(s *SuccessionItem) { s.Kind = "BLOG" }), wantField: "kind", wantRule: `is not a valid SuccessionKind: "BLOG"; must be one of COMMUNITY_ACTIVITY,`},
		{name: "succession: empty title", a: succ(func(s *SuccessionItem) { s.Title = "" }), wantField: "title", wantRule: "empty"},
		{name: "succession: occurredOn required", a: succ(func(s *SuccessionItem) { s.OccurredOn = domain.Date{} }), wantField: "occurredOn", wantRule: "required"},
		{name: "succession: occurredOn in the future", a: succ(func(s *SuccessionItem) { s.OccurredOn = day("2024-07-01") }), wantField: "occurredOn", wantRule: "future"},
		{name: "succession: names no field", a: succ(func(s *SuccessionItem) { s.Fields = nil }), wantField: "fields", wantRule: "at least one field"},
		{name: "succession: unknown field", a: succ(func(s *SuccessionItem) { s.Fields = []Field{SO, "DATA_CENTER"} }), wantField: "fields", wantRule: `is not a valid SpecialtyField: "DATA_CENTER"; must be one of SYSTEM_OPERATION,`},
		{name: "succession: a kind in lower case", a: succ(func(s *SuccessionItem) { s.Kind = "book" }), wantField: "kind", wantRule: `is not a valid SuccessionKind: "book" (enum values are upper case); must be one of`},
		{name: "succession: no kind", a: succ(func(s *SuccessionItem) { s.Kind = "" }), wantField: "kind", wantRule: `is not a valid SuccessionKind: ""; must be one of COMMUNITY_ACTIVITY,`},
		{name: "succession: a field twice", a: succ(func(s *SuccessionItem) { s.Fields = []Field{SO, SO} }), wantField: "fields", wantRule: "more than once"},

		{name: "development: unknown kind", a: dev(func(d *Development) { d.Kind = "TRAINING" }), wantField: "kind", wantRule: `is not a valid DevelopmentKind: "TRAINING"; must be one of MENTORING, COACHING`},
		{name: "development: occurredOn required", a: dev(func(d *Development) { d.OccurredOn = domain.Date{} }), wantField: "occurredOn", wantRule: "required"},
		{name: "development: occurredOn in the future", a: dev(func(d *Development) { d.OccurredOn = day("2030-01-01") }), wantField: "occurredOn", wantRule: "future"},
		{name: "development: subordinateId with a space", a: dev(func(d *Development) { d.SubordinateID = "emp 42" }), wantField: "subordinateId", wantRule: "A-Z a-z 0-9 _ -"},
		{name: "development: subordinateId of 65 characters", a: dev(func(d *Development) { d.SubordinateID = strings.Repeat("x", 65) }), wantField: "subordinateId", wantRule: "1-64"},

		{name: "assessment: unknown theme", a: theme(func(a *ThemeAssessment) { a.Theme = "COOKING" }), wantField: "theme", wantRule: `is not a valid Theme: "COOKING"; must be one of`},
		{name: "assessment: unknown proficiency", a: theme(func(a *ThemeAssessment) { a.Proficiency = "EXPERT" }), wantField: "proficiency", wantRule: `is not a valid Proficiency: "EXPERT"; must be one of BASIC, PRACTICE, GUIDES_SUBORDINATES, GUIDES_OTHERS`},
		{name: "assessment: assessedOn required", a: theme(func(a *ThemeAssessment) { a.AssessedOn = domain.Date{} }), wantField: "assessedOn", wantRule: "required"},
		{name: "assessment: assessedOn in the future", a: theme(func(a *ThemeAssessment) { a.AssessedOn = day("2024-07-01") }), wantField: "assessedOn", wantRule: "future"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := catalogue.ValidateAccomplishment(tc.a, day(today))
			checkInvalid(t, err, tc.wantField, tc.wantRule)
		})
	}
}

func checkInvalid(t *testing.T, err error, wantField, wantRule string) {
	t.Helper()
	if wantField == "" {
		if err != nil {
			t.Fatalf("refused valid input: %v", err)
		}
		return
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v is not a *domain.Error", err)
	}
	if de.Kind != domain.KindInvalid || de.Field != wantField || !strings.Contains(de.Rule, wantRule) {
		t.Errorf("got kind %v field %q rule %q, want invalid %q with rule containing %q", de.Kind, de.Field, de.Rule, wantField, wantRule)
	}
}

func TestValidateNameAndDepartment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		validate  func(string) error
		input     string
		wantField string
		wantRule  string
	}{
		{"name: ordinary", domain.ValidateName, "山田 花子", "", ""},
		{"name: empty", domain.ValidateName, "", "name", "must not be empty"},
		{"name: blank", domain.ValidateName, "   ", "name", "must not be empty"},
		{"name: 200 characters", domain.ValidateName, strings.Repeat("a", 200), "", ""},
		{"name: 201 characters", domain.ValidateName, strings.Repeat("a", 201), "name", "at most 200"},
		{"name: not UTF-8", domain.ValidateName, "a\xffb", "name", "UTF-8"},
		{"department: ordinary", domain.ValidateDepartment, "Infrastructure Ops", "", ""},
		{"department: empty", domain.ValidateDepartment, "", "department", "must not be empty"},
		{"department: 100 characters", domain.ValidateDepartment, strings.Repeat("部", 100), "", ""},
		{"department: 101 characters", domain.ValidateDepartment, strings.Repeat("部", 101), "department", "at most 100"},
		{"name: a NUL", domain.ValidateName, "Ha\x00na", "name", "must not contain control characters"},
		{"name: a C1 control", domain.ValidateName, "Ha\u0085na", "name", "must not contain control characters"},
		{"name: DEL", domain.ValidateName, "Hana\x7f", "name", "must not contain control characters"},
		{"department: an escape sequence", domain.ValidateDepartment, "Ops\x1b[31m", "department", "must not contain control characters"},
		{"department: a tab", domain.ValidateDepartment, "Ops\tDesk", "department", "must not contain control characters"},
		{"department: a direction override", domain.ValidateDepartment, "Ops\u202eksed", "department", "must not contain control characters"},
		{"department: an isolate", domain.ValidateDepartment, "Ops\u2066x", "department", "must not contain control characters"},
		{"reason: lines and tabs", domain.ValidateReason, "recorded twice:\n\tonce in March\r\n", "", ""},
		{"reason: a NUL", domain.ValidateReason, "twice\x00", "reason", "must not contain control characters"},
		{"name: a zero-width joiner and an emoji are text", domain.ValidateName, "Hana \u200d\U0001F469", "", ""},
		{"name: the replacement character", domain.ValidateName, "a\ufffdb", "name", "must not contain the replacement character"},
		{"reason: the replacement character", domain.ValidateReason, "twice \ufffd", "reason", "must not contain the replacement character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkInvalid(t, tc.validate(tc.input), tc.wantField, tc.wantRule)
		})
	}
}

// TestEveryDayIsADate: the absent Date is no calendar day, so 1970-01-01
// (day 0 of the Unix epoch) is a date like any other, from 0000-01-01 (as
// ever: the log may hold such dates) to 9999-12-31, and evidence on it is
// judged.
func TestEveryDayIsADate(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"1970-01-01", "1969-12-31", "1970-01-02", "0000-01-01", "0000-12-31", "9999-12-31"} {
		d, err := domain.ParseDate(s)
		if err != nil {
			t.Errorf("ParseDate(%s): %v", s, err)
			continue
		}
		if d.IsZero() || d.String() != s {
			t.Errorf("ParseDate(%s) = %q (absent %v)", s, d, d.IsZero())
		}
		if got := domain.DateOf(d.Time()); got != d {
			t.Errorf("%s: DateOf(Time()) = %s", s, got)
		}
	}
	epoch := domain.MustDate("1970-01-01")
	if epoch.Days() != 0 || epoch.AddDays(-1).String() != "1969-12-31" || !epoch.AddDays(-1).Before(epoch) {
		t.Errorf("1970-01-01: Days %d, the day before %s", epoch.Days(), epoch.AddDays(-1))
	}
	var absent domain.Date
	if !absent.IsZero() || absent.String() != "" || absent == epoch {
		t.Errorf("the absent date is %q", absent)
	}
	e := member("e1", SO, "1970-01-01")
	e.StartedOn = epoch
	if err := domain.DefaultCatalogue().ValidateAccomplishment(domain.Accomplishment{Engagement: &e}, domain.MustDate(today)); err != nil {
		t.Errorf("an engagement started and completed on 1970-01-01: %v", err)
	}
}

// TestParseInstantIsRFC3339: ParseInstant takes what RFC 3339's
// date-time allows, "T" and "Z" in either case included, and refuses what
// Go's RFC 3339 layout takes beyond it: an offset's hours past 23 or its
// minutes past 59 ("+00:60", read as an hour ahead), and a fraction of a
// second after a comma (time-secfrac is "." 1*DIGIT).
func TestParseInstantIsRFC3339(t *testing.T) {
	for _, s := range []string{"2026-01-02T15:04:05Z", "2026-01-02t15:04:05z", "2026-01-02T15:04:05.5+23:59",
		"2026-01-02T15:04:05-00:00", "2026-01-02T15:04:05.123456789+09:00"} {
		if _, err := domain.ParseInstant(s); err != nil {
			t.Errorf("ParseInstant(%q): %v, want it read", s, err)
		}
	}
	for _, s := range []string{"2026-01-02T15:04:05+24:00", "2026-01-02T15:04:05-24:00", "2026-01-02T15:04:05+00:60",
		"2026-01-02T15:04:05-05:99", "2026-01-02T15:04:05,5Z", "2026-01-02T15:04:05,123+09:00", "2026-01-02 15:04:05Z"} {
		if tm, err := domain.ParseInstant(s); err == nil {
			t.Errorf("ParseInstant(%q) = %v, want it refused: not RFC 3339", s, tm)
		}
	}
}
