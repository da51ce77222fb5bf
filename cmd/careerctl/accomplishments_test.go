package main

import (
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
			Sites: n(3), InquiriesPerYear: n(48000), Complexity: []string{"CONTRACT", "ORGANIZATION"}},
			"LEAD, SUCCESSFUL, 12 people at peak, 3,000,000,000 yen a year, 3 sites, 48,000 inquiries a year, complexity CONTRACT+ORGANIZATION"},
		{accomplishmentView{Role: "MEMBER", Outcome: "ONGOING", WithinBudget: &no}, "MEMBER, ONGOING, not within budget"},
		{accomplishmentView{Role: "PARTICIPANT", Outcome: "FAILED"}, "PARTICIPANT, FAILED"},
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
