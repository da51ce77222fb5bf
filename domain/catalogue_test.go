package domain_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/careerledger/careerledger/domain"
)

func TestDefaultCatalogue(t *testing.T) {
	t.Parallel()
	c := domain.DefaultCatalogue()
	if c.ID() != "itss-operations" || c.Version() != 1 || c.MaxLevel() != 5 {
		t.Fatalf("default catalogue %q v%d with %d levels", c.ID(), c.Version(), c.MaxLevel())
	}
	if !reflect.DeepEqual(c.Fields(), domain.Fields) {
		t.Errorf("Fields() = %v, want %v", c.Fields(), domain.Fields)
	}
	if _, ok := c.Window(); ok {
		t.Error("default catalogue has an evidence window; Reading 4 says evidence does not expire")
	}
	levels := c.Levels()
	for i, l := range levels {
		if l.Level != i+1 || l.Common != (i < 2) {
			t.Errorf("level %d: Level %d Common %v", i+1, l.Level, l.Common)
		}
	}
	// The complexity table of levels.md.
	wantUse := map[Field][]Criterion{
		SO: {domain.OperationRequirements, domain.OperationSystems, domain.ApplicationRequirements, domain.Organization, domain.Contract},
		NO: {domain.NetworkRequirements, domain.ApplicationRequirements, domain.Organization, domain.Contract},
		SD: {domain.SupportedSystem, domain.NetworkRequirements, domain.ApplicationRequirements, domain.Organization, domain.Contract},
	}
	wantL3 := map[Field][]Criterion{
		SO: wantUse[SO],
		NO: {domain.NetworkRequirements, domain.ApplicationRequirements, domain.Organization},
		SD: {domain.SupportedSystem, domain.NetworkRequirements, domain.ApplicationRequirements},
	}
	for _, f := range domain.Fields {
		if got := c.CriteriaOf(f); !reflect.DeepEqual(got, wantUse[f]) {
			t.Errorf("CriteriaOf(%s) = %v, want %v", f, got, wantUse[f])
		}
		r3, _ := c.Requirement(3, f)
		if !reflect.DeepEqual(r3.Engagement.Criteria, wantL3[f]) {
			t.Errorf("level 3 criteria of %s = %v, want %v", f, r3.Engagement.Criteria, wantL3[f])
		}
		for _, l := range []int{4, 5} {
			r, _ := c.Requirement(l, f)
			if !reflect.DeepEqual(r.Engagement.Criteria, wantUse[f]) {
				t.Errorf("level %d criteria of %s = %v, want %v", l, f, r.Engagement.Criteria, wantUse[f])
			}
		}
	}
	if _, ok := c.Requirement(6, SO); ok {
		t.Error("Requirement(6) exists")
	}
	if _, ok := c.Requirement(1, "DATA_CENTER"); ok {
		t.Error("Requirement of an unknown field exists")
	}
}

func TestCatalogueViewsAreCopies(t *testing.T) {
	t.Parallel()
	c, err := domain.ParseCatalogue(domain.DefaultCatalogueJSON())
	if err != nil {
		t.Fatal(err)
	}
	levels := c.Levels()
	levels[4].Fields[0].Requirement.Engagement.Size[0].Min = 1
	levels[0].Requirement.Themes.Themes[0] = "X"
	c.Fields()[0] = "X"
	c.CriteriaOf(SO)[0] = "X"
	if !reflect.DeepEqual(c.Levels(), domain.DefaultCatalogue().Levels()) || c.Fields()[0] != SO || c.CriteriaOf(SO)[0] != domain.OperationRequirements {
		t.Error("changing a returned view changed the catalogue")
	}
}

func TestCatalogueRoundTrip(t *testing.T) {
	t.Parallel()
	c := domain.DefaultCatalogue()
	data, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := domain.ParseCatalogue(data)
	if err != nil {
		t.Fatalf("re-parsing the marshalled catalogue: %v", err)
	}
	if back.ID() != c.ID() || back.Version() != c.Version() || !reflect.DeepEqual(back.Levels(), c.Levels()) ||
		!reflect.DeepEqual(back.FieldCriteria(), c.FieldCriteria()) {
		t.Error("round trip changed the catalogue")
	}
	again, _ := back.MarshalJSON()
	if !bytes.Equal(again, data) {
		t.Error("marshalling is not stable")
	}
}

// edit returns the default catalogue with the n-th (1-based) occurrence of
// old replaced by new.
func edit(t *testing.T, old, new string, n int) string {
	t.Helper()
	s := string(domain.DefaultCatalogueJSON())
	at := -1
	for range n {
		i := strings.Index(s[at+1:], old)
		if i < 0 {
			t.Fatalf("%q occurs fewer than %d times", old, n)
		}
		at += 1 + i
	}
	return s[:at] + new + s[at+len(old):]
}

func lineOf(s, marker string) int {
	i := strings.Index(s, marker)
	if i < 0 {
		return -1
	}
	return strings.Count(s[:i], "\n") + 1
}

func TestMalformedCataloguesAreRefusedWithTheLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		doc      func(t *testing.T) string
		marker   string // the line the error must name holds this text ("" = line given by wantLine)
		wantLine int
		want     string // substring of the error
	}{
		{name: "unknown criterion in service desk level 4",
			doc: func(t *testing.T) string {
				return edit(t, `"SUPPORTED_SYSTEM", "NETWORK_REQUIREMENTS", "APPLICATION_REQUIREMENTS", "ORGANIZATION"`, `"FOO", "NETWORK_REQUIREMENTS", "APPLICATION_REQUIREMENTS", "ORGANIZATION"`, 2)
			},
			marker: `"FOO"`, want: `levels[3].fields.SERVICE_DESK.engagement.criteria[0]: unknown criterion "FOO"`},
		{name: "a criterion the field never uses (SUPPORTED_SYSTEM in system operation level 3)",
			doc: func(t *testing.T) string {
				return edit(t, `"OPERATION_REQUIREMENTS", "OPERATION_SYSTEMS", "APPLICATION_REQUIREMENTS", "ORGANIZATION", "CONTRACT"],`+"\n            \"minCriteria\"", `"SUPPORTED_SYSTEM", "OPERATION_SYSTEMS", "APPLICATION_REQUIREMENTS", "ORGANIZATION", "CONTRACT"],`+"\n            \"minCriteria\"", 1)
			},
			marker: `"SUPPORTED_SYSTEM", "OPERATION_SYSTEMS"`, want: "levels[2].fields.SYSTEM_OPERATION.engagement.criteria[0]: SUPPORTED_SYSTEM is not a criterion of SYSTEM_OPERATION"},
		{name: "unknown key",
			doc: func(t *testing.T) string {
				return edit(t, `"minRole": "MEMBER",`, `"minRole": "MEMBER", "colour": "red",`, 2)
			},
			marker: `"colour"`, want: `unknown key "colour"`},
		{name: "a key given twice in one object",
			doc: func(t *testing.T) string {
				return edit(t, `"minRole": "MEMBER",`, `"minRole": "MEMBER", "minRole": "LEAD",`, 2)
			},
			marker: `"minRole": "LEAD"`, want: `minRole: duplicate key "minRole"`},
		{name: "a key given twice in one object, in another case (encoding/json ignores case)",
			doc: func(t *testing.T) string {
				return edit(t, `"minRole": "MEMBER",`, `"minRole": "MEMBER", "MinRole": "LEAD",`, 2)
			},
			marker: `"MinRole": "LEAD"`, want: `duplicate key "MinRole"`},
		{name: "unknown role",
			doc:    func(t *testing.T) string { return edit(t, `"minRole": "LEAD"`, `"minRole": "BOSS"`, 3) },
			marker: `"BOSS"`, want: `levels[3].fields.SERVICE_DESK.engagement.minRole: unknown role "BOSS"`},
		{name: "missing level 3",
			doc: func(t *testing.T) string {
				s := edit(t, `"level": 3,`, `"level": 4,`, 1)
				return s
			},
			marker: `"level": 4,`, want: "levels[2].level: is 4 where level 3 is expected"},
		{name: "negative threshold",
			doc: func(t *testing.T) string {
				return edit(t, `{"attribute": "installationSites", "min": 100}`, `{"attribute": "installationSites", "min": -100}`, 1)
			},
			marker: `-100`, want: "levels[4].fields.NETWORK_OPERATION.engagement.size[2].min: must not be negative"},
		{name: "minCriteria above the number of criteria",
			doc:    func(t *testing.T) string { return edit(t, `"minCriteria": 2`, `"minCriteria": 9`, 2) },
			marker: `"minCriteria": 9`, want: "levels[2].fields.NETWORK_OPERATION.engagement.minCriteria: is 9 but only 3 criteria are listed"},
		{name: "a per-field level naming a field the catalogue does not have",
			doc:    func(t *testing.T) string { return edit(t, `"SERVICE_DESK": {`, `"SERVICE_DESX": {`, 2) },
			marker: `"SERVICE_DESX"`, want: `levels[3].fields.SERVICE_DESX: "SERVICE_DESX" is not a field of this catalogue`},
		{name: "a per-field level missing a field",
			doc: func(*testing.T) string {
				return `{"id": "x", "version": 1,
"fields": [{"field": "SERVICE_DESK", "criteria": ["CONTRACT"]}, {"field": "SYSTEM_OPERATION", "criteria": ["CONTRACT"]}],
"levels": [
  {"level": 1,
   "fields": {"SERVICE_DESK": {"subordinateDevelopment": {"minCount": 1}}}}]}`
			},
			wantLine: 5, want: "levels[0].fields: missing SYSTEM_OPERATION"},
		{name: "unknown proficiency",
			doc: func(t *testing.T) string {
				return edit(t, `"minProficiency": "GUIDES_OTHERS"`, `"minProficiency": "GURU"`, 1)
			},
			marker: `"GURU"`, want: `levels[4].fields.SYSTEM_OPERATION.themes.minProficiency: unknown proficiency "GURU"`},
		{name: "theme count zero",
			doc:    func(t *testing.T) string { return edit(t, `"minCount": 1`, `"minCount": 0`, 1) },
			marker: `"minCount": 0`, want: "levels[0].requirement.themes.minCount: must be between 1 and 3"},
		{name: "four distinct kinds more than exist",
			doc: func(t *testing.T) string {
				return edit(t, `{"minCount": 3, "distinctKinds": true}`, `{"minCount": 8, "distinctKinds": true}`, 1)
			},
			marker: `"minCount": 8`, want: "asks for 8 distinct kinds but only 7 exist"},
		{name: "wrong type",
			doc:    func(t *testing.T) string { return edit(t, `"version": 1,`, `"version": "one",`, 1) },
			marker: `"version"`, want: "version: expected an integer, got string"},
		{name: "fractional threshold",
			doc:    func(t *testing.T) string { return edit(t, `"min": 3000`, `"min": 3000.5`, 1) },
			marker: `3000.5`, want: "expected an integer"},
		{name: "unknown countsFrom",
			doc: func(t *testing.T) string {
				return edit(t, `"countsFrom": "STARTED_ON"`, `"countsFrom": "JOINED_ON"`, 2)
			},
			marker: `"JOINED_ON"`, want: `levels[1].requirement.engagement.countsFrom: must be STARTED_ON or COMPLETED_ON, got "JOINED_ON"`},
		{name: "syntax error",
			doc:    func(t *testing.T) string { return edit(t, `"level": 2,`, `"level": 2,,`, 1) },
			marker: `"level": 2,,`, want: "invalid character"},
		{name: "truncated", doc: func(t *testing.T) string { s := string(domain.DefaultCatalogueJSON()); return s[:len(s)/2] },
			wantLine: -1, want: "unexpected end"},
		{name: "trailing data", doc: func(t *testing.T) string { return string(domain.DefaultCatalogueJSON()) + "\n{}" },
			wantLine: -2, want: "after the catalogue"},
		{name: "empty", doc: func(*testing.T) string { return "" }, wantLine: 1, want: "empty catalogue"},
		{name: "no fields", doc: func(*testing.T) string { return "{\n\"id\": \"x\",\n\"version\": 2,\n\"fields\": [],\n\"levels\": []}" },
			wantLine: 4, want: "fields: must list at least one field"},
		{name: "no id", doc: func(*testing.T) string { return "{\n\"version\": 2}" }, wantLine: 1, want: "id: must be 1-64 characters"},
		{name: "window of zero", doc: func(t *testing.T) string {
			return edit(t, `"version": 1,`, "\"version\": 1,\n  \"evidenceWindow\": {},", 1)
		},
			marker: `"evidenceWindow"`, want: "evidenceWindow: must be longer than zero"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := tc.doc(t)
			_, err := domain.ParseCatalogue([]byte(doc))
			if err == nil {
				t.Fatal("malformed catalogue accepted")
			}
			var ce *domain.CatalogueError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *CatalogueError", err)
			}
			want := tc.wantLine
			switch {
			case tc.marker != "":
				want = lineOf(doc, tc.marker)
			case want == -1: // the end of the document
				want = strings.Count(doc, "\n") + 1
			case want == -2: // the last line
				want = strings.Count(doc, "\n") + 1
			}
			if ce.Line != want {
				t.Errorf("line %d, want %d (%v)", ce.Line, want, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "catalogue line ") {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// A custom catalogue that changes one number changes the judgment: the
// evaluator has no threshold of its own.
func TestCustomCatalogueThresholdChangesTheJudgment(t *testing.T) {
	t.Parallel()
	doc := edit(t, `{"attribute": "peakHeadcount", "min": 10}`, `{"attribute": "peakHeadcount", "min": 5}`, 1)
	doc = strings.Replace(doc, `"version": 1,`, `"version": 7,`, 1)
	custom, err := domain.ParseCatalogue([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	ev := level5(SO, sized(domain.SizePeakHeadcount, 6))
	if got := catalogue.LevelOn(ev, SO, day(asOf)); got != 4 {
		t.Errorf("default catalogue: level %d, want 4", got)
	}
	s := custom.Evaluate(ev, day(asOf))
	if s.Fields[0].Level != 5 || s.CatalogueVersion != 7 {
		t.Errorf("custom catalogue: level %d version %d, want 5 and 7", s.Fields[0].Level, s.CatalogueVersion)
	}
}

func TestCustomCatalogueListsAndKindsAreData(t *testing.T) {
	t.Parallel()
	// Level 5 asks for 3 items of any kind, and level 3 of service desk
	// counts ORGANIZATION.
	doc := strings.ReplaceAll(string(domain.DefaultCatalogueJSON()), `{"minCount": 3, "distinctKinds": true}`, `{"minCount": 3}`)
	doc = strings.Replace(doc, `"criteria": ["SUPPORTED_SYSTEM", "NETWORK_REQUIREMENTS", "APPLICATION_REQUIREMENTS"],`,
		`"criteria": ["SUPPORTED_SYSTEM", "NETWORK_REQUIREMENTS", "APPLICATION_REQUIREMENTS", "ORGANIZATION"],`, 1)
	custom, err := domain.ParseCatalogue([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	sameKind := level5(SO, nil)
	for i := range sameKind.Successions {
		sameKind.Successions[i].Kind = domain.InternalPaper
	}
	if got := custom.LevelOn(sameKind, SO, day(asOf)); got != 5 {
		t.Errorf("three internal papers under a non-distinct rule: level %d, want 5", got)
	}
	sd := evidence(member("e3", SD, "2022-06-01", domain.SupportedSystem, domain.Organization), assess("t3", kit[SD].theme, domain.Practice, "2022-01-01"))
	if got, def := custom.LevelOn(sd, SD, day(asOf)), catalogue.LevelOn(sd, SD, day(asOf)); got != 3 || def != 0 {
		t.Errorf("service desk with ORGANIZATION: custom level %d (want 3), default %d (want 0)", got, def)
	}
}

func TestEvidenceWindowExpiresEvidence(t *testing.T) {
	t.Parallel()
	doc := edit(t, `"version": 1,`, "\"version\": 2,\n  \"evidenceWindow\": {\"years\": 3},", 1)
	windowed, err := domain.ParseCatalogue([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := windowed.Window(); !ok || w.Years != 3 {
		t.Fatalf("window = %+v %v", w, ok)
	}
	// Level 5 on 2022-06-01; each piece then expires three years after its date.
	ev := level5(NO, nil)
	want := []domain.LevelChange{
		{Field: NO, On: day("2022-06-01"), From: 0, To: 5},
		{Field: NO, On: day("2024-01-01"), From: 5, To: 4}, // the book expires: 2 kinds left
		{Field: NO, On: day("2024-03-01"), From: 4, To: 3}, // the last item and the development expire
		{Field: NO, On: day("2025-01-01"), From: 3, To: 0}, // the assessment of 2022-01-01 expires
	}
	if got := windowed.Timeline(ev); !reflect.DeepEqual(got, want) {
		t.Errorf("Timeline =\n%v\nwant\n%v", got, want)
	}
	fs, _ := windowed.Evaluate(ev, day("2024-06-30")).Field(NO)
	if fs.Level != 3 || fs.AttainedOn != day("2024-03-01") {
		t.Errorf("level %d since %s, want 3 since 2024-03-01", fs.Level, fs.AttainedOn)
	}
	if got := windowed.LevelOn(ev, NO, day("2023-12-31")); got != 5 {
		t.Errorf("the day before expiry: level %d, want 5", got)
	}
	if got := catalogue.LevelOn(ev, NO, day("2030-01-01")); got != 5 {
		t.Errorf("without a window: level %d, want 5", got)
	}
	// Expired, the assessment is named with its expiry, not as never made.
	ev = with(ev, assess("t0", domain.ServiceSupportManagement, domain.Basic, "2021-06-01"))
	fs, _ = windowed.Evaluate(ev, day("2025-06-30")).Field(NO)
	var themes string
	for _, c := range fs.Next.Criteria {
		if c.Criterion == "themes" {
			themes = c.Missing
		}
	}
	if !strings.Contains(themes, "none in force; best: ") || !strings.Contains(themes, "SERVICE_SUPPORT_MANAGEMENT at BASIC, assessed 2021-06-01, expired 2024-06-01") {
		t.Errorf("the themes gap after the assessment expired: %q", themes)
	}
}

// A common level's succession rule counts items of any catalogue field, and
// evidence in a field the catalogue does not have is ignored.
func TestCustomCatalogueWithOneFieldAndACommonSuccessionRule(t *testing.T) {
	t.Parallel()
	doc := `{"id": "desk-only", "version": 3,
  "fields": [{"field": "SERVICE_DESK", "criteria": ["SUPPORTED_SYSTEM"]}],
  "levels": [
    {"level": 1, "common": true, "requirement": {
      "engagement": {"minRole": "PARTICIPANT", "countsFrom": "STARTED_ON"},
      "technologySuccession": {"minCount": 2}}}]}`
	c, err := domain.ParseCatalogue([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	ev := evidence(
		member("e1", SO, "2022-06-01"),
		item("s1", domain.Book, "2021-01-01", SD),
		item("s2", domain.Book, "2021-02-01", SD, SO),
	)
	if s := c.Evaluate(ev, day(asOf)); len(s.Fields) != 1 || s.Fields[0].Level != 0 || s.CatalogueID != "desk-only" {
		t.Errorf("an engagement outside the catalogue's fields counted: %+v", s)
	}
	ev = with(ev, member("e2", SD, "2022-06-01"))
	s := c.Evaluate(ev, day(asOf))
	if s.Fields[0].Level != 1 || s.Fields[0].AttainedOn != day("2021-06-01") || s.Fields[0].Next != nil {
		t.Errorf("standing %+v, want level 1 since 2021-06-01 (the start of e2) and no next level", s.Fields[0])
	}
}

// A window of months or years ends on the same day of the month, or on
// the month's last day when it is shorter: evidence of a later day never
// expires sooner than evidence of an earlier one.
func TestAWindowOfMonthsEndsOnTheMonthsLastDayWhenShorter(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		w          domain.EvidenceWindow
		from, want string
	}{
		{domain.EvidenceWindow{Months: 1}, "2024-01-30", "2024-02-29"},
		{domain.EvidenceWindow{Months: 1}, "2024-01-31", "2024-02-29"},
		{domain.EvidenceWindow{Months: 1}, "2024-02-01", "2024-03-01"},
		{domain.EvidenceWindow{Months: 1}, "2023-01-31", "2023-02-28"},
		{domain.EvidenceWindow{Months: 3}, "2024-11-30", "2025-02-28"},
		{domain.EvidenceWindow{Months: 13}, "2024-12-31", "2026-01-31"},
		{domain.EvidenceWindow{Years: 1}, "2024-02-29", "2025-02-28"},
		{domain.EvidenceWindow{Years: 4}, "2024-02-29", "2028-02-29"},
		{domain.EvidenceWindow{Years: 2, Months: 1}, "2022-12-31", "2025-01-31"},
		{domain.EvidenceWindow{Months: 1, Days: 1}, "2024-01-31", "2024-03-01"},
		{domain.EvidenceWindow{Days: 30}, "2024-01-31", "2024-03-01"},
	} {
		if got := c.w.ExpiresOn(day(c.from)); got != day(c.want) {
			t.Errorf("%+v from %s expires on %s, want %s", c.w, c.from, got, c.want)
		}
	}
	// Never sooner for later evidence, day by day over eight years.
	for _, w := range []domain.EvidenceWindow{{Months: 1}, {Years: 1}, {Years: 2, Months: 5, Days: 3}} {
		prev := w.ExpiresOn(day("2019-12-31"))
		for d := day("2020-01-01"); d.Before(day("2028-01-01")); d = d.AddDays(1) {
			got := w.ExpiresOn(d)
			if got.Before(prev) || !d.Before(got) {
				t.Fatalf("%+v: %s expires on %s, the day before on %s", w, d, got, prev)
			}
			prev = got
		}
	}
}
