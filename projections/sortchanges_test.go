package projections

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/careerledger/careerledger/domain"
)

// TestSortChangesFollowsTheCataloguesFieldOrder: the history a read model
// keeps row by row is put back in the order of the domain's timeline (by
// date, then the catalogue's field order), which is what the memory read
// model and history(knownAt:) answer. A catalogue listing SERVICE_DESK
// first has its same-day common changes start with SERVICE_DESK, not in
// the contract's order.
func TestSortChangesFollowsTheCataloguesFieldOrder(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(domain.DefaultCatalogueJSON(), &doc); err != nil {
		t.Fatal(err)
	}
	f := doc["fields"].([]any)
	doc["fields"] = []any{f[2], f[0], f[1]}
	raw, _ := json.Marshal(doc)
	cat, err := domain.ParseCatalogue(raw)
	if err != nil {
		t.Fatal(err)
	}
	d := domain.MustDate
	ev := domain.Evidence{
		Engagements: []domain.Engagement{{ID: "e1", Field: domain.NetworkOperation, Title: "t", Role: domain.Practitioner,
			StartedOn: d("2020-01-01"), Outcome: domain.Ongoing}},
		Assessments: []domain.ThemeAssessment{{ID: "a1", Theme: domain.ServiceSupportManagement,
			Proficiency: domain.Basic, AssessedOn: d("2020-02-01")}},
	}
	want := cat.Timeline(ev)
	if len(want) != 3 || want[0].Field != domain.ServiceDesk {
		t.Fatalf("the timeline %v does not start with SERVICE_DESK: the test proves nothing", want)
	}
	// As rows come back from a table: in no particular order.
	got := []domain.LevelChange{want[2], want[1], want[0]}
	SortChanges(got, cat.Fields())
	if !slices.Equal(got, want) {
		t.Errorf("sorted %v, want the timeline's %v", got, want)
	}
}
