package domain_test

import (
	"testing"

	"github.com/careerledger/careerledger/domain"
)

// careerOf50 is a realistic career of 50 pieces of evidence: engagements in
// every field, reassessed themes, papers and talks, mentoring.
func careerOf50() Evidence {
	g := newGenerator(42)
	var ev Evidence
	for len(ev.Engagements) < 20 {
		ev.Engagements = append(ev.Engagements, g.engagement())
	}
	for len(ev.Successions) < 10 {
		ev.Successions = append(ev.Successions, g.succession())
	}
	for len(ev.Developments) < 5 {
		ev.Developments = append(ev.Developments, Development{ID: g.id("d"), Kind: domain.Coaching, OccurredOn: g.date()})
	}
	for len(ev.Assessments) < 15 {
		ev.Assessments = append(ev.Assessments, g.assessment(pick(g.r, domain.Themes)))
	}
	return ev
}

func BenchmarkJudge50(b *testing.B) {
	ev := careerOf50()
	asOf := day(asOf)
	b.ReportAllocs()
	for b.Loop() {
		catalogue.Judge(ev, asOf)
	}
}

func BenchmarkTimelineAndEvaluate50(b *testing.B) {
	ev := careerOf50()
	asOf := day(asOf)
	b.ReportAllocs()
	for b.Loop() {
		catalogue.Timeline(ev)
		catalogue.Evaluate(ev, asOf)
	}
}

func BenchmarkLevelOn50(b *testing.B) {
	ev := careerOf50()
	asOf := day(asOf)
	b.ReportAllocs()
	for b.Loop() {
		catalogue.LevelOn(ev, SO, asOf)
	}
}

func BenchmarkParseDefaultCatalogue(b *testing.B) {
	data := domain.DefaultCatalogueJSON()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.ParseCatalogue(data); err != nil {
			b.Fatal(err)
		}
	}
}
