package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// An engagement's line says what its levels are judged by, as far as it
// was recorded.
func TestEngagementTerms(t *testing.T) {
	yes, no := true, false
	n := func(v int) *int { return &v }
	yen := int64(3_000_000_000)
	for _, c := range []struct {
		a    accomplishmentView
		want string
	}{
		{accomplishmentView{Role: "LEAD", Outcome: "SUCCESSFUL", WithinBudget: &yes, PeakHeadcount: n(12), ContractYen: &yen,
			Sites: n(3), InquiriesPerYear: n(48000), Complexity: &[]string{"CONTRACT", "ORGANIZATION"}},
			"LEAD, SUCCESSFUL, 12 people at peak, 3,000,000,000 yen a year, 3 sites, 48,000 inquiries a year, complexity CONTRACT+ORGANIZATION"},
		{accomplishmentView{Role: "MEMBER", Outcome: "ONGOING", WithinBudget: &no}, "MEMBER, ONGOING, not within budget"},
		{accomplishmentView{Role: "PARTICIPANT", Outcome: "FAILED", Complexity: &[]string{}}, "PARTICIPANT, FAILED"},
		{accomplishmentView{Role: "LEAD", Outcome: "SUCCESSFUL", PeakHeadcount: n(1), Sites: n(1), InquiriesPerYear: n(1)},
			"LEAD, SUCCESSFUL, 1 person at peak, 1 site, 1 inquiry a year"},
	} {
		if got := strings.Join(engagementTerms(c.a), ", "); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

// A catalogue with levels above 9 keeps its level columns as wide as their
// headers.
func TestLevelColumnsHoldTheirHeaders(t *testing.T) {
	var b strings.Builder
	if err := printLevels(&b, "ON", []levelRow{{"2025-01-01", map[int]int{0: 1, 10: 2}}}, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 || len(lines[0]) != len(lines[1]) || !strings.HasSuffix(lines[0], "L10  TOTAL") || !strings.HasSuffix(lines[1], "  2      3") {
		t.Errorf("levels 0-10:\n%s", b.String())
	}
}

// Recorded text is quoted where it would break a table line, and shown as
// written otherwise: a Japanese full-width space stays one.
func TestQuoteTextKeepsWhatATerminalShows(t *testing.T) {
	for in, want := range map[string]string{
		"ヘルプデスク\u3000第２期": "\"ヘルプデスク\u3000第２期\"", // the space as written, not escaped
		"重複\t登録":          `"重複\t登録"`,
		"a\nb \"c\"":      `"a\nb \"c\""`,
	} {
		if got := quoteText(in); got != want {
			t.Errorf("quoteText(%q) = %s, want %s", in, got, want)
		}
	}
}

// A person with no accomplishments is an empty list in --json, and an
// engagement's complexity is its list, empty or not.
func TestAccomplishmentsJSONLists(t *testing.T) {
	var b strings.Builder
	if err := writeJSON(&b, map[string]any{"accomplishments": []accomplishmentView{}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"accomplishments": []`) {
		t.Errorf("no accomplishments: %s", b.String())
	}
	var a accomplishmentView
	if err := json.Unmarshal([]byte(`{"id": "E1.X", "kind": "ENGAGEMENT", "complexity": []}`), &a); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"complexity":[]`) {
		t.Errorf("an engagement without complexity criteria: %s, want \"complexity\":[]", out)
	}
}

func TestEventCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0 events", 1: "1 event", 2: "2 events", 41174: "41,174 events"} {
		if got := eventCount(n); got != want {
			t.Errorf("eventCount(%d) = %q, want %q", n, got, want)
		}
	}
}
