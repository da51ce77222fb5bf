package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/careerledger/careerledger/domain"
)

func FuzzParseCatalogue(f *testing.F) {
	f.Add(domain.DefaultCatalogueJSON())
	f.Add([]byte(`{"id":"x","version":1,"fields":[{"field":"SERVICE_DESK","criteria":["CONTRACT"]}],"levels":[{"level":1,"common":true,"requirement":{"subordinateDevelopment":{"minCount":1}}}]}`))
	f.Add([]byte(`{"id":"x","version":1,"fields":[{"field":"SERVICE_DESK"}],"levels":[{"level":1,"fields":{"SERVICE_DESK":{"themes":{"themes":["STRESS_MANAGEMENT"],"minProficiency":"BASIC","minCount":1}}}}]}`))
	f.Add([]byte("{\n\"id\": 1\n}"))
	f.Add([]byte("[]"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := domain.ParseCatalogue(data)
		if err != nil {
			var ce *domain.CatalogueError
			if !errors.As(err, &ce) || ce.Line < 1 || !strings.Contains(err.Error(), "line") {
				t.Fatalf("refusal without a line: %v", err)
			}
			return
		}
		// Whatever parses must judge without panicking and round-trip.
		ev := level5(SD, nil)
		if len(c.Evaluate(ev, day(asOf)).Fields) != len(c.Fields()) {
			t.Fatal("standing does not have one entry per field")
		}
		c.Timeline(ev)
		data2, err := c.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := domain.ParseCatalogue(data2); err != nil {
			t.Fatalf("marshalled catalogue refused: %v", err)
		}
	})
}

func FuzzValidateAccomplishment(f *testing.F) {
	f.Add(uint8(0), "SERVICE_DESK", "desk", "LEAD", int32(19000), int32(19100), "SUCCESSFUL", int64(20), int64(-1), int64(5), int64(3000), "SUPPORTED_SYSTEM,CONTRACT", "")
	f.Add(uint8(0), "SYSTEM_OPERATION", "", "BOSS", int32(0), int32(-5), "ONGOING", int64(0), int64(1<<60), int64(-1), int64(-1), "FOO,FOO", "")
	f.Add(uint8(1), "NETWORK_OPERATION,NETWORK_OPERATION", "talk", "BOOK", int32(19000), int32(0), "", int64(0), int64(0), int64(0), int64(0), "", "")
	f.Add(uint8(2), "", "", "COACHING", int32(19000), int32(0), "", int64(0), int64(0), int64(0), int64(0), "", "bad id!")
	f.Add(uint8(3), "STRESS_MANAGEMENT", "", "GUIDES_OTHERS", int32(30000), int32(0), "", int64(0), int64(0), int64(0), int64(0), "", "")
	f.Fuzz(func(t *testing.T, kind uint8, field, title, code string, d1, d2 int32, outcome string, peak, yen, sites, inquiries int64, list, other string) {
		date := func(n int32) domain.Date { return day("1970-01-02").AddDays(int(n) - 1) }
		var a domain.Accomplishment
		switch kind % 5 {
		case 0:
			e := Engagement{ID: "e1", Field: Field(field), Title: title, Role: domain.Role(code), StartedOn: date(d1), CompletedOn: date(d2),
				Outcome: domain.Outcome(outcome), WithinBudget: peak%2 == 0, PeakHeadcount: &peak, AnnualContractValueYen: &yen,
				InstallationSites: &sites, InquiriesPerYear: &inquiries}
			if list != "" {
				for _, c := range strings.Split(list, ",") {
					e.Complexity = append(e.Complexity, Criterion(c))
				}
			}
			if inquiries%3 == 0 {
				e.InquiriesPerYear = nil
			}
			a.Engagement = &e
		case 1:
			s := SuccessionItem{ID: "s1", Kind: domain.SuccessionKind(code), Title: title, OccurredOn: date(d1)}
			if field != "" {
				for _, f := range strings.Split(field, ",") {
					s.Fields = append(s.Fields, Field(f))
				}
			}
			a.Succession = &s
		case 2:
			a.Development = &Development{ID: "d1", Kind: domain.DevelopmentKind(code), OccurredOn: date(d1), SubordinateID: other}
		case 3:
			a.Assessment = &ThemeAssessment{ID: "a1", Theme: domain.Theme(field), Proficiency: domain.Proficiency(code), AssessedOn: date(d1)}
		}
		err := catalogue.ValidateAccomplishment(a, day(today))
		if err != nil {
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != domain.KindInvalid || de.Field == "" || de.Rule == "" {
				t.Fatalf("refusal is not an invalid *Error with field and rule: %#v", err)
			}
			return
		}
		// Valid evidence judges without panicking.
		var ev Evidence
		ev.Add(a)
		catalogue.Judge(ev, day(today))
	})
}
