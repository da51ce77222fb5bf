package domain_test

import (
	"reflect"
	"testing"

	"github.com/careerledger/careerledger/domain"
)

const asOf = "2024-06-30"

// Per field: two criteria that count at levels 3-5, and a theme of the
// field's level-3 and level-4/5 lists.
var kit = map[Field]struct {
	crit  []Criterion
	theme domain.Theme
}{
	SO: {[]Criterion{domain.OperationRequirements, domain.OperationSystems}, domain.ServiceLevelManagement},
	NO: {[]Criterion{domain.NetworkRequirements, domain.ApplicationRequirements}, domain.NetworkOperationManagement},
	SD: {[]Criterion{domain.SupportedSystem, domain.NetworkRequirements}, domain.CustomerSatisfaction},
}

// level3 is evidence meeting every level-3 criterion of f by 2022-06-01.
func level3(f Field) Evidence {
	return evidence(
		member("e3", f, "2022-06-01", kit[f].crit...),
		assess("t3", kit[f].theme, domain.Practice, "2022-01-01"),
	)
}

// level4 is evidence meeting every level-4 criterion of f by 2022-06-01,
// with the engagement changed by change.
func level4(f Field, change func(*Engagement)) Evidence {
	e := lead("e4", f, "2022-06-01", kit[f].crit...)
	if change != nil {
		change(&e)
	}
	return evidence(e,
		assess("t4", kit[f].theme, domain.GuidesSubordinates, "2022-01-01"),
		item("s1", domain.Book, "2021-01-01", f),
		develop("d1", "2021-03-01"),
	)
}

// level5 is evidence meeting every level-5 criterion of f by 2022-06-01
// (size through peakHeadcount 50), with the engagement changed by change.
func level5(f Field, change func(*Engagement)) Evidence {
	e := lead("e5", f, "2022-06-01", kit[f].crit...)
	e.PeakHeadcount = num(50)
	if change != nil {
		change(&e)
	}
	return evidence(e,
		assess("t5", kit[f].theme, domain.GuidesOthers, "2022-01-01"),
		item("s1", domain.Book, "2021-01-01", f),
		item("s2", domain.ExternalPaper, "2021-02-01", f),
		item("s3", domain.PatentApplication, "2021-03-01", f),
		develop("d1", "2021-03-01"),
	)
}

// sized makes the engagement's size exactly one recorded attribute.
func sized(attr domain.SizeAttribute, v int64) func(*Engagement) {
	return func(e *Engagement) {
		e.PeakHeadcount = nil
		switch attr {
		case domain.SizePeakHeadcount:
			e.PeakHeadcount = num(v)
		case domain.SizeAnnualContractValueYen:
			e.AnnualContractValueYen = num(v)
		case domain.SizeInstallationSites:
			e.InstallationSites = num(v)
		case domain.SizeInquiriesPerYear:
			e.InquiriesPerYear = num(v)
		}
	}
}

func criteria(crit ...Criterion) func(*Engagement) {
	return func(e *Engagement) { e.Complexity = crit }
}

func TestLevelRules(t *testing.T) {
	t.Parallel()
	commonTheme := assess("tc", domain.ServiceSupportManagement, domain.Basic, "2020-01-01")
	participant := Engagement{ID: "e1", Field: SD, Title: "desk", Role: domain.Participant,
		StartedOn: day("2020-03-01"), CompletedOn: day("2020-09-01"), Outcome: domain.Unsuccessful}
	practitioner := participant
	practitioner.Role = domain.Practitioner
	ongoing := participant
	ongoing.Outcome, ongoing.CompletedOn = domain.Ongoing, domain.Date{}
	ongoingMember := member("e3", SO, "2022-06-01", kit[SO].crit...)
	ongoingMember.Outcome, ongoingMember.CompletedOn = domain.Ongoing, domain.Date{}
	unsuccessful := member("e3", SO, "2022-06-01", kit[SO].crit...)
	unsuccessful.Outcome = domain.Unsuccessful
	sdL4OutsideL3 := evidence(
		lead("e4", SD, "2022-06-01", domain.Organization, domain.Contract),
		assess("t4", domain.ContractManagement, domain.GuidesSubordinates, "2022-01-01"),
		item("s1", domain.Book, "2021-01-01", SD),
		develop("d1", "2021-03-01"),
	)

	tests := []struct {
		name  string
		ev    Evidence
		field Field
		asOf  string // default asOf
		want  int
	}{
		{name: "no evidence is level 0", ev: Evidence{}, field: SO, want: 0},

		// Levels 1 and 2 (common).
		{name: "L1: a PARTICIPANT engagement and a common theme at BASIC", ev: evidence(participant, commonTheme), field: SD, want: 1},
		{name: "L1 needs a common theme", ev: evidence(participant), field: SD, want: 0},
		{name: "L1 needs an engagement", ev: evidence(commonTheme), field: SD, want: 0},
		{name: "L1 counts any outcome (UNSUCCESSFUL)", ev: evidence(participant, commonTheme), field: SD, want: 1},
		{name: "L1 counts an ONGOING engagement from startedOn", ev: evidence(ongoing, commonTheme), field: SD, want: 1},
		{name: "L1 counts from startedOn, not completedOn", ev: evidence(participant, commonTheme), field: SD, asOf: "2020-03-01", want: 1},
		{name: "L1 not before startedOn", ev: evidence(participant, commonTheme), field: SD, asOf: "2020-02-29", want: 0},
		{name: "L2: a PRACTITIONER engagement", ev: evidence(practitioner, commonTheme), field: SD, want: 2},
		{name: "L1/L2 are common: a SERVICE_DESK engagement lifts SYSTEM_OPERATION", ev: evidence(practitioner, commonTheme), field: SO, want: 2},
		{name: "L1/L2 are common: and NETWORK_OPERATION", ev: evidence(practitioner, commonTheme), field: NO, want: 2},
		{name: "Reading 5: one common theme is enough (INFORMATION_ASSET_MANAGEMENT)",
			ev: evidence(practitioner, assess("tc", domain.InformationAssetManagement, domain.Basic, "2020-01-01")), field: SO, want: 2},
		{name: "L1 theme must be a common theme (STRESS_MANAGEMENT is not)",
			ev: evidence(practitioner, assess("tc", domain.StressManagement, domain.GuidesOthers, "2020-01-01")), field: SO, want: 0},
		{name: "ONGOING counts for L2 but not L3",
			ev: evidence(ongoingMember, commonTheme, assess("t3", domain.ServiceLevelManagement, domain.Practice, "2022-01-01")), field: SO, want: 2},

		// Level 3.
		{name: "L3: MEMBER, SUCCESSFUL, 2 of the field's criteria, theme at PRACTICE", ev: level3(SO), field: SO, want: 3},
		{name: "L3 in NETWORK_OPERATION", ev: level3(NO), field: NO, want: 3},
		{name: "L3 in SERVICE_DESK", ev: level3(SD), field: SD, want: 3},
		{name: "L3 is per field: SYSTEM_OPERATION L3 leaves SERVICE_DESK at 0", ev: level3(SO), field: SD, want: 0},
		{name: "L3 counts from completedOn", ev: level3(SO), field: SO, asOf: "2022-06-01", want: 3},
		{name: "L3 not before completedOn", ev: level3(SO), field: SO, asOf: "2022-05-31", want: 0},
		{name: "L3 needs a SUCCESSFUL engagement", ev: evidence(unsuccessful, assess("t3", kit[SO].theme, domain.Practice, "2022-01-01")), field: SO, want: 0},
		{name: "L3 needs 2 criteria, 1 is not enough",
			ev: evidence(member("e3", SO, "2022-06-01", domain.Contract), assess("t3", kit[SO].theme, domain.Practice, "2022-01-01")), field: SO, want: 0},
		{name: "L3 needs MEMBER: PRACTITIONER is not enough",
			ev: func() Evidence {
				e := member("e3", SO, "2022-06-01", kit[SO].crit...)
				e.Role = domain.Practitioner
				return evidence(e, assess("t3", kit[SO].theme, domain.Practice, "2022-01-01"))
			}(), field: SO, want: 0},
		{name: "L3 needs the engagement in the field",
			ev: evidence(member("e3", NO, "2022-06-01", kit[NO].crit...), assess("t3", domain.ServiceLevelManagement, domain.Practice, "2022-01-01")), field: SO, want: 0},
		{name: "L3 theme at BASIC is not enough",
			ev: evidence(member("e3", SO, "2022-06-01", kit[SO].crit...), assess("t3", kit[SO].theme, domain.Basic, "2022-01-01")), field: SO, want: 0},
		{name: "L3 theme from another field's list does not count",
			ev: evidence(member("e3", SD, "2022-06-01", kit[SD].crit...), assess("t3", domain.NetworkOperationManagement, domain.GuidesOthers, "2022-01-01")), field: SD, want: 0},
		{name: "network L3 ignores CONTRACT",
			ev: evidence(member("e3", NO, "2022-06-01", domain.NetworkRequirements, domain.Contract), assess("t3", kit[NO].theme, domain.Practice, "2022-01-01")), field: NO, want: 0},
		{name: "network L3 counts ORGANIZATION",
			ev: evidence(member("e3", NO, "2022-06-01", domain.NetworkRequirements, domain.Organization), assess("t3", kit[NO].theme, domain.Practice, "2022-01-01")), field: NO, want: 3},
		{name: "service desk L3 ignores ORGANIZATION and CONTRACT",
			ev: evidence(member("e3", SD, "2022-06-01", domain.Organization, domain.Contract), assess("t3", kit[SD].theme, domain.Practice, "2022-01-01")), field: SD, want: 0},
		{name: "service desk L3 ignores ORGANIZATION next to one L3 criterion",
			ev: evidence(member("e3", SD, "2022-06-01", domain.SupportedSystem, domain.Organization), assess("t3", kit[SD].theme, domain.Practice, "2022-01-01")), field: SD, want: 0},
		{name: "system operation L3 counts CONTRACT",
			ev: evidence(member("e3", SO, "2022-06-01", domain.Organization, domain.Contract), assess("t3", kit[SO].theme, domain.Practice, "2022-01-01")), field: SO, want: 3},
		{name: "service desk L3 theme list excludes CONTRACT_MANAGEMENT",
			ev: evidence(member("e3", SD, "2022-06-01", kit[SD].crit...), assess("t3", domain.ContractManagement, domain.GuidesOthers, "2022-01-01")), field: SD, want: 0},

		// Level 4.
		{name: "L4: LEAD, within budget, 2 criteria, GUIDES_SUBORDINATES, 1 item, 1 development", ev: level4(SO, nil), field: SO, want: 4},
		{name: "L4 in NETWORK_OPERATION", ev: level4(NO, nil), field: NO, want: 4},
		{name: "L4 in SERVICE_DESK", ev: level4(SD, nil), field: SD, want: 4},
		{name: "MEMBER is L3; LEAD is needed at L4", ev: level4(SO, func(e *Engagement) { e.Role = domain.Member }), field: SO, want: 3},
		{name: "L4 needs within budget", ev: level4(SO, func(e *Engagement) { e.WithinBudget = false }), field: SO, want: 3},
		{name: "L4 needs SUCCESSFUL", ev: level4(SO, func(e *Engagement) { e.Outcome = domain.Unsuccessful }), field: SO, want: 0},
		{name: "Reading 2: L4 size has no floor (peakHeadcount 1)", ev: level4(SO, func(e *Engagement) { e.PeakHeadcount = num(1) }), field: SO, want: 4},
		{name: "network L4 counts CONTRACT", ev: level4(NO, criteria(domain.NetworkRequirements, domain.Contract)), field: NO, want: 4},
		{name: "service desk L4 counts ORGANIZATION and CONTRACT", ev: level4(SD, criteria(domain.Organization, domain.Contract)), field: SD, want: 4},
		{name: "lower levels are not prerequisites: service desk L4 without L3", ev: sdL4OutsideL3, field: SD, want: 4},
		{name: "L4 needs a technology-succession item for the field",
			ev: func() Evidence { ev := level4(SO, nil); ev.Successions[0].Fields = []Field{NO}; return ev }(), field: SO, want: 3},
		{name: "L4 needs a subordinate development",
			ev: func() Evidence { ev := level4(SO, nil); ev.Developments = nil; return ev }(), field: SO, want: 3},
		{name: "L4 theme at PRACTICE is only L3",
			ev: func() Evidence { ev := level4(SO, nil); ev.Assessments[0].Proficiency = domain.Practice; return ev }(), field: SO, want: 3},
		{name: "L4 is per field", ev: level4(SO, nil), field: NO, want: 0},

		// Level 5.
		{name: "L5: L4 plus size, GUIDES_OTHERS and 3 distinct kinds", ev: level5(SO, nil), field: SO, want: 5},
		{name: "L5 in NETWORK_OPERATION", ev: level5(NO, nil), field: NO, want: 5},
		{name: "L5 in SERVICE_DESK", ev: level5(SD, nil), field: SD, want: 5},
		{name: "L5 GUIDES_SUBORDINATES is only L4",
			ev: func() Evidence {
				ev := level5(SO, nil)
				ev.Assessments[0].Proficiency = domain.GuidesSubordinates
				return ev
			}(), field: SO, want: 4},
		{name: "system operation L5 peakHeadcount 10 meets", ev: level5(SO, sized(domain.SizePeakHeadcount, 10)), field: SO, want: 5},
		{name: "system operation L5 peakHeadcount 9 does not", ev: level5(SO, sized(domain.SizePeakHeadcount, 9)), field: SO, want: 4},
		{name: "system operation L5 100,000,000 yen meets", ev: level5(SO, sized(domain.SizeAnnualContractValueYen, 100_000_000)), field: SO, want: 5},
		{name: "system operation L5 99,999,999 yen does not", ev: level5(SO, sized(domain.SizeAnnualContractValueYen, 99_999_999)), field: SO, want: 4},
		{name: "system operation L5 ignores installation sites", ev: level5(SO, sized(domain.SizeInstallationSites, 1000)), field: SO, want: 4},
		{name: "network L5 peakHeadcount 10 meets", ev: level5(NO, sized(domain.SizePeakHeadcount, 10)), field: NO, want: 5},
		{name: "network L5 100 sites meets", ev: level5(NO, sized(domain.SizeInstallationSites, 100)), field: NO, want: 5},
		{name: "network L5 99 sites does not", ev: level5(NO, sized(domain.SizeInstallationSites, 99)), field: NO, want: 4},
		{name: "network L5 100,000,000 yen meets", ev: level5(NO, sized(domain.SizeAnnualContractValueYen, 100_000_000)), field: NO, want: 5},
		{name: "service desk L5 peakHeadcount 20 meets", ev: level5(SD, sized(domain.SizePeakHeadcount, 20)), field: SD, want: 5},
		{name: "service desk L5 peakHeadcount 19 does not", ev: level5(SD, sized(domain.SizePeakHeadcount, 19)), field: SD, want: 4},
		{name: "service desk L5 150,000,000 yen meets", ev: level5(SD, sized(domain.SizeAnnualContractValueYen, 150_000_000)), field: SD, want: 5},
		{name: "service desk L5 149,999,999 yen does not", ev: level5(SD, sized(domain.SizeAnnualContractValueYen, 149_999_999)), field: SD, want: 4},
		{name: "service desk L5 3,000 inquiries meets", ev: level5(SD, sized(domain.SizeInquiriesPerYear, 3000)), field: SD, want: 5},
		{name: "service desk L5 2,999 inquiries does not", ev: level5(SD, sized(domain.SizeInquiriesPerYear, 2999)), field: SD, want: 4},
		{name: "a size attribute not recorded never meets a threshold", ev: level5(SO, sized("", 0)), field: SO, want: 4},
		{name: "L5 by meeting 4 of the field's criteria, no size recorded",
			ev: level5(SO, func(e *Engagement) {
				sized("", 0)(e)
				e.Complexity = []Criterion{domain.OperationRequirements, domain.OperationSystems, domain.ApplicationRequirements, domain.Contract}
			}), field: SO, want: 5},
		{name: "3 criteria and no size is L4",
			ev: level5(SO, func(e *Engagement) {
				sized("", 0)(e)
				e.Complexity = []Criterion{domain.OperationRequirements, domain.OperationSystems, domain.Contract}
			}), field: SO, want: 4},
		{name: "network L5 by all four network criteria",
			ev: level5(NO, func(e *Engagement) {
				sized("", 0)(e)
				e.Complexity = []Criterion{domain.NetworkRequirements, domain.ApplicationRequirements, domain.Organization, domain.Contract}
			}), field: NO, want: 5},
		{name: "service desk L5 by 4 criteria including ORGANIZATION and CONTRACT",
			ev: level5(SD, func(e *Engagement) {
				sized("", 0)(e)
				e.Complexity = []Criterion{domain.SupportedSystem, domain.ApplicationRequirements, domain.Organization, domain.Contract}
			}), field: SD, want: 5},
		{name: "Reading 1: a complex small job and a simple big job are not one complex big job",
			ev: func() Evidence {
				ev := level5(SO, sized(domain.SizePeakHeadcount, 5))
				big := lead("e6", SO, "2022-06-01", domain.Contract)
				big.PeakHeadcount = num(500)
				return with(ev, big)
			}(), field: SO, want: 4},
		{name: "Reading 1: the big job must be led by the person",
			ev: level5(SO, func(e *Engagement) { e.Role = domain.Member }), field: SO, want: 3},
		{name: "Reading 3: three items of one kind are one kind",
			ev: func() Evidence {
				ev := level5(SO, nil)
				for i := range ev.Successions {
					ev.Successions[i].Kind = domain.InternalPaper
				}
				return ev
			}(), field: SO, want: 4},
		{name: "Reading 3: two kinds are not enough",
			ev: func() Evidence { ev := level5(SO, nil); ev.Successions[2].Kind = domain.Book; return ev }(), field: SO, want: 4},
		{name: "an item counts only for the fields it names",
			ev: func() Evidence { ev := level5(SO, nil); ev.Successions[2].Fields = []Field{NO, SD}; return ev }(), field: SO, want: 4},
		{name: "an item naming two fields counts for both",
			ev: func() Evidence {
				ev := level5(SO, nil)
				for i := range ev.Successions {
					ev.Successions[i].Fields = []Field{NO, SO}
				}
				return ev
			}(), field: SO, want: 5},
		{name: "L5 needs subordinate development",
			ev: func() Evidence { ev := level5(SO, nil); ev.Developments = nil; return ev }(), field: SO, want: 3},
		{name: "evidence effective on asOf counts", ev: level5(SO, nil), field: SO, asOf: "2022-06-01", want: 5},
		{name: "evidence effective one day after asOf does not", ev: level5(SO, nil), field: SO, asOf: "2022-05-31", want: 0},
		{name: "Reading 4: evidence does not expire", ev: level5(SO, nil), field: SO, asOf: "2099-12-31", want: 5},

		// Common and per-field levels together.
		{name: "a common L2 holds in a field without per-field evidence",
			ev: with(level5(SO, nil), practitioner, commonTheme), field: SD, want: 2},
		{name: "a per-field level above the common one wins",
			ev: with(level5(SO, nil), practitioner, commonTheme), field: SO, want: 5},
		{name: "the latest assessment is in force: a fall from GUIDES_OTHERS to PRACTICE is L3",
			ev: with(level5(SO, nil), assess("t6", kit[SO].theme, domain.Practice, "2023-05-01")), field: SO, want: 3},
		{name: "a later reassessment undoes the fall",
			ev: with(level5(SO, nil), assess("t6", kit[SO].theme, domain.Practice, "2023-05-01"),
				assess("t7", kit[SO].theme, domain.GuidesOthers, "2024-01-01")), field: SO, want: 5},
		{name: "a fall in one theme is covered by another theme still in force",
			ev: with(level5(SO, nil), assess("t6", domain.StressManagement, domain.GuidesOthers, "2022-01-01"),
				assess("t7", kit[SO].theme, domain.Basic, "2023-05-01")), field: SO, want: 5},
		{name: "same-day assessments of a theme: the higher proficiency is in force",
			ev: with(level5(SO, nil), assess("t6", kit[SO].theme, domain.Basic, "2022-01-01")), field: SO, want: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			on := asOf
			if tc.asOf != "" {
				on = tc.asOf
			}
			if got := catalogue.LevelOn(tc.ev, tc.field, day(on)); got != tc.want {
				t.Errorf("LevelOn(%s, %s) = %d, want %d", tc.field, on, got, tc.want)
			}
			s := catalogue.Evaluate(tc.ev, day(on))
			fs, _ := s.Field(tc.field)
			if fs.Level != tc.want {
				t.Errorf("Evaluate(%s).Level = %d, want %d", on, fs.Level, tc.want)
			}
			if got := levelFromTimeline(catalogue.Timeline(tc.ev), tc.field, day(on)); got != tc.want {
				t.Errorf("timeline level on %s = %d, want %d", on, got, tc.want)
			}
			if fs.Level > 0 {
				for _, c := range fs.Criteria {
					if !c.Met || c.Missing != "" || len(c.Evidence) == 0 {
						t.Errorf("criterion of the attained level not met with evidence: %+v", c)
					}
				}
			}
		})
	}
}

func levelFromTimeline(changes []domain.LevelChange, f Field, d domain.Date) int {
	level := 0
	for _, ch := range changes {
		if ch.Field == f && !ch.On.After(d) {
			level = ch.To
		}
	}
	return level
}

func TestFallLowersTheLevelAndAttainedOnIsTheDayOfTheFall(t *testing.T) {
	t.Parallel()
	ev := with(level5(SO, nil), assess("t6", kit[SO].theme, domain.Practice, "2023-05-01"))
	s := catalogue.Evaluate(ev, day(asOf))
	fs, _ := s.Field(SO)
	if fs.Level != 3 || fs.AttainedOn != day("2023-05-01") {
		t.Fatalf("level %d since %s, want 3 since 2023-05-01", fs.Level, fs.AttainedOn)
	}
	want := []domain.LevelChange{
		{Field: SO, On: day("2022-06-01"), From: 0, To: 5},
		{Field: SO, On: day("2023-05-01"), From: 5, To: 3},
	}
	if got := catalogue.Timeline(ev); !reflect.DeepEqual(got, want) {
		t.Errorf("Timeline = %v, want %v", got, want)
	}
	wantPeriods := []domain.LevelPeriod{
		{Field: SO, Level: 5, From: day("2022-06-01"), To: day("2023-05-01")},
		{Field: SO, Level: 3, From: day("2023-05-01")},
	}
	if got := catalogue.LevelPeriods(ev); !reflect.DeepEqual(got, wantPeriods) {
		t.Errorf("LevelPeriods = %v, want %v", got, wantPeriods)
	}
	// Before the fall the level was 5, attained on completion.
	before, _ := catalogue.Evaluate(ev, day("2023-04-30")).Field(SO)
	if before.Level != 5 || before.AttainedOn != day("2022-06-01") {
		t.Errorf("before the fall: level %d since %s, want 5 since 2022-06-01", before.Level, before.AttainedOn)
	}
}

func TestTimelineOrdersByDateThenCatalogueField(t *testing.T) {
	t.Parallel()
	ev := evidence(
		Engagement{ID: "e1", Field: SD, Title: "desk", Role: domain.Practitioner, StartedOn: day("2020-03-01"), Outcome: domain.Ongoing},
		assess("tc", domain.SystemOperationManagement, domain.Basic, "2019-01-01"),
		member("e3", SD, "2021-06-01", kit[SD].crit...),
		member("e4", NO, "2021-06-01", kit[NO].crit...),
		assess("t3", domain.StressManagement, domain.Practice, "2021-01-01"), // in the NO and SD level-3 lists
	)
	want := []domain.LevelChange{
		{Field: SO, On: day("2020-03-01"), From: 0, To: 2},
		{Field: NO, On: day("2020-03-01"), From: 0, To: 2},
		{Field: SD, On: day("2020-03-01"), From: 0, To: 2},
		{Field: NO, On: day("2021-06-01"), From: 2, To: 3},
		{Field: SD, On: day("2021-06-01"), From: 2, To: 3},
	}
	if got := catalogue.Timeline(ev); !reflect.DeepEqual(got, want) {
		t.Errorf("Timeline =\n%v\nwant\n%v", got, want)
	}
	s := catalogue.Evaluate(ev, day(asOf))
	for i, f := range []Field{SO, NO, SD} {
		if s.Fields[i].Field != f {
			t.Errorf("Fields[%d] = %s, want %s", i, s.Fields[i].Field, f)
		}
	}
	if fs := s.Fields[0]; fs.Level != 2 || fs.AttainedOn != day("2020-03-01") {
		t.Errorf("SO: level %d since %s, want common level 2 since 2020-03-01", fs.Level, fs.AttainedOn)
	}
}

func TestStandingHasEveryFieldAndCatalogueVersion(t *testing.T) {
	t.Parallel()
	s := catalogue.Evaluate(Evidence{}, day(asOf))
	if s.CatalogueID != "itss-operations" || s.CatalogueVersion != 1 || s.AsOf != day(asOf) {
		t.Errorf("standing header = %q v%d %s", s.CatalogueID, s.CatalogueVersion, s.AsOf)
	}
	if len(s.Fields) != 3 {
		t.Fatalf("%d fields, want 3", len(s.Fields))
	}
	for _, fs := range s.Fields {
		if fs.Level != 0 || !fs.AttainedOn.IsZero() || len(fs.Criteria) != 0 {
			t.Errorf("%s: %+v, want level 0 with no attainedOn and no criteria", fs.Field, fs)
		}
		if fs.Next == nil || fs.Next.Level != 1 {
			t.Errorf("%s: next = %+v, want level 1", fs.Field, fs.Next)
		}
	}
}

func TestNextIsNilAtTheTopLevel(t *testing.T) {
	t.Parallel()
	fs, _ := catalogue.Evaluate(level5(NO, nil), day(asOf)).Field(NO)
	if fs.Level != 5 || fs.Next != nil {
		t.Errorf("level %d next %+v, want 5 and nil", fs.Level, fs.Next)
	}
	want := []domain.CriterionResult{
		{Criterion: "engagement", Met: true, Evidence: []string{"e5"}},
		{Criterion: "themes", Met: true, Evidence: []string{"t5"}},
		{Criterion: "technologySuccession", Met: true, Evidence: []string{"s1", "s2", "s3"}},
		{Criterion: "subordinateDevelopment", Met: true, Evidence: []string{"d1"}},
	}
	if !reflect.DeepEqual(fs.Criteria, want) {
		t.Errorf("criteria =\n%+v\nwant\n%+v", fs.Criteria, want)
	}
}

func TestExplanations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		ev    Evidence
		field Field
		level int
		want  []domain.CriterionResult
	}{
		{
			name: "nothing yet: the level-1 gap", ev: Evidence{}, field: SO, level: 1,
			want: []domain.CriterionResult{
				{Criterion: "engagement", Evidence: []string{}, Missing: "needs an engagement in any field as PARTICIPANT or higher, started on or before 2024-06-30"},
				{Criterion: "themes", Evidence: []string{}, Missing: "needs an assessment of one of SERVICE_SUPPORT_MANAGEMENT, SYSTEM_OPERATION_MANAGEMENT, INFORMATION_ASSET_MANAGEMENT at BASIC or higher (none of them assessed)"},
			},
		},
		{
			name: "level 4 to level 5 in NETWORK_OPERATION", field: NO, level: 5,
			ev: func() Evidence {
				ev := level4(NO, nil)
				return with(ev, item("s2", domain.Book, "2021-05-01", NO), assess("t9", domain.StressManagement, domain.GuidesSubordinates, "2021-01-01"))
			}(),
			want: []domain.CriterionResult{
				{Criterion: "engagement", Evidence: []string{}, Missing: "needs a SUCCESSFUL engagement within budget in NETWORK_OPERATION as LEAD meeting >= 2 of: NETWORK_REQUIREMENTS, APPLICATION_REQUIREMENTS, ORGANIZATION, CONTRACT, with peakHeadcount >= 10 or annualContractValueYen >= 100000000 or installationSites >= 100 or >= 4 of those criteria, completed on or before 2024-06-30; closest: e4 \"operations e4\" lacks size (has peakHeadcount -, annualContractValueYen -, installationSites -, 2 criteria)"},
				{Criterion: "themes", Evidence: []string{}, Missing: "needs an assessment of one of SERVICE_LEVEL_MANAGEMENT, NETWORK_OPERATION_MANAGEMENT, STRESS_MANAGEMENT, INFORMATION_ASSET_MANAGEMENT at GUIDES_OTHERS or higher (best: NETWORK_OPERATION_MANAGEMENT at GUIDES_SUBORDINATES)"},
				{Criterion: "technologySuccession", Evidence: []string{"s1", "s2"}, Missing: "needs technology-succession items of 2 more distinct kinds for NETWORK_OPERATION (has: BOOK)"},
				{Criterion: "subordinateDevelopment", Met: true, Evidence: []string{"d1"}},
			},
		},
		{
			// CONTRACT is a criterion of NETWORK_OPERATION, but not of its
			// level 3: the explanation says it is recorded and not counted.
			name: "a criterion of the field that its level does not count", field: NO, level: 3,
			ev: evidence(member("e3", NO, "2022-06-01", domain.NetworkRequirements, domain.Contract),
				assess("t1", domain.ServiceSupportManagement, domain.Basic, "2021-01-01"),
				assess("t3", domain.NetworkOperationManagement, domain.Practice, "2022-01-01")),
			want: []domain.CriterionResult{
				{Criterion: "engagement", Evidence: []string{}, Missing: "needs a SUCCESSFUL engagement in NETWORK_OPERATION as MEMBER or higher meeting >= 2 of: NETWORK_REQUIREMENTS, APPLICATION_REQUIREMENTS, ORGANIZATION, completed on or before 2024-06-30; closest: e3 \"operations e3\" lacks at least 2 of the criteria (has 1: NETWORK_REQUIREMENTS; CONTRACT does not count here)"},
				{Criterion: "themes", Met: true, Evidence: []string{"t3"}},
			},
		},
		{
			name: "level 3 to level 4 in SERVICE_DESK", ev: level3(SD), field: SD, level: 4,
			want: []domain.CriterionResult{
				{Criterion: "engagement", Evidence: []string{}, Missing: "needs a SUCCESSFUL engagement within budget in SERVICE_DESK as LEAD meeting >= 2 of: SUPPORTED_SYSTEM, NETWORK_REQUIREMENTS, APPLICATION_REQUIREMENTS, ORGANIZATION, CONTRACT, completed on or before 2024-06-30; closest: e3 \"operations e3\" lacks role LEAD (is MEMBER)"},
				{Criterion: "themes", Evidence: []string{}, Missing: "needs an assessment of one of STRESS_MANAGEMENT, CUSTOMER_SATISFACTION, SUBCONTRACT_MANAGEMENT, CONTRACT_MANAGEMENT at GUIDES_SUBORDINATES or higher (best: CUSTOMER_SATISFACTION at PRACTICE)"},
				{Criterion: "technologySuccession", Evidence: []string{}, Missing: "needs a technology-succession item for SERVICE_DESK"},
				{Criterion: "subordinateDevelopment", Evidence: []string{}, Missing: "needs a subordinate-development record (MENTORING or COACHING)"},
			},
		},
		{
			// A paper recorded for another field only is the likeliest
			// reason someone who wrote one is told they need one: the
			// gap names it, and one dated after asOf is left out.
			name: "an item recorded for another field only", field: SD, level: 4,
			ev: with(level3(SD), item("s9", domain.InternalPaper, "2022-03-01", NO, SO),
				item("s8", domain.Book, "2025-01-01", NO)),
			want: []domain.CriterionResult{
				{Criterion: "engagement", Evidence: []string{}, Missing: "needs a SUCCESSFUL engagement within budget in SERVICE_DESK as LEAD meeting >= 2 of: SUPPORTED_SYSTEM, NETWORK_REQUIREMENTS, APPLICATION_REQUIREMENTS, ORGANIZATION, CONTRACT, completed on or before 2024-06-30; closest: e3 \"operations e3\" lacks role LEAD (is MEMBER)"},
				{Criterion: "themes", Evidence: []string{}, Missing: "needs an assessment of one of STRESS_MANAGEMENT, CUSTOMER_SATISFACTION, SUBCONTRACT_MANAGEMENT, CONTRACT_MANAGEMENT at GUIDES_SUBORDINATES or higher (best: CUSTOMER_SATISFACTION at PRACTICE)"},
				{Criterion: "technologySuccession", Evidence: []string{}, Missing: "needs a technology-succession item for SERVICE_DESK (recorded for other fields only: INTERNAL_PAPER s9 for SYSTEM_OPERATION+NETWORK_OPERATION)"},
				{Criterion: "subordinateDevelopment", Evidence: []string{}, Missing: "needs a subordinate-development record (MENTORING or COACHING)"},
			},
		},
		{
			// Of the kinds the field lacks, the least id of each kind
			// recorded for other fields only; a kind the field has
			// already is not named again.
			name: "distinct kinds recorded for other fields only", field: NO, level: 5,
			ev: func() Evidence {
				ev := level4(NO, nil)
				return with(ev, item("s2", domain.Book, "2021-05-01", NO),
					item("s7", domain.ExternalTalk, "2021-06-01", SD), item("s5", domain.ExternalTalk, "2021-07-01", SO),
					item("s6", domain.Book, "2021-08-01", SD),
					assess("t9", domain.StressManagement, domain.GuidesSubordinates, "2021-01-01"))
			}(),
			want: []domain.CriterionResult{
				{Criterion: "engagement", Evidence: []string{}, Missing: "needs a SUCCESSFUL engagement within budget in NETWORK_OPERATION as LEAD meeting >= 2 of: NETWORK_REQUIREMENTS, APPLICATION_REQUIREMENTS, ORGANIZATION, CONTRACT, with peakHeadcount >= 10 or annualContractValueYen >= 100000000 or installationSites >= 100 or >= 4 of those criteria, completed on or before 2024-06-30; closest: e4 \"operations e4\" lacks size (has peakHeadcount -, annualContractValueYen -, installationSites -, 2 criteria)"},
				{Criterion: "themes", Evidence: []string{}, Missing: "needs an assessment of one of SERVICE_LEVEL_MANAGEMENT, NETWORK_OPERATION_MANAGEMENT, STRESS_MANAGEMENT, INFORMATION_ASSET_MANAGEMENT at GUIDES_OTHERS or higher (best: NETWORK_OPERATION_MANAGEMENT at GUIDES_SUBORDINATES)"},
				{Criterion: "technologySuccession", Evidence: []string{"s1", "s2"}, Missing: "needs technology-succession items of 2 more distinct kinds for NETWORK_OPERATION (has: BOOK; recorded for other fields only: EXTERNAL_TALK s5 for SYSTEM_OPERATION)"},
				{Criterion: "subordinateDevelopment", Met: true, Evidence: []string{"d1"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs, _ := catalogue.Evaluate(tc.ev, day(asOf)).Field(tc.field)
			if fs.Next == nil || fs.Next.Level != tc.level {
				t.Fatalf("next = %+v, want level %d", fs.Next, tc.level)
			}
			if !reflect.DeepEqual(fs.Next.Criteria, tc.want) {
				t.Errorf("gap =\n%#v\nwant\n%#v", fs.Next.Criteria, tc.want)
			}
		})
	}
}
