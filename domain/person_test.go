package domain_test

import (
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
)

func TestEvidenceAfterRetractAndRecordAgainHoldsTheIDOnce(t *testing.T) {
	t.Parallel()
	p := domain.NewPerson("p1", "Hanako", "Ops", day("2020-01-01"))
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	d := develop("d1", "2021-01-01")
	p.Record(domain.Accomplishment{Development: &d}, t0)
	p.Retract("d1", "typo", t0.Add(time.Hour))
	p.Record(domain.Accomplishment{Development: &d}, t0.Add(2*time.Hour))
	if n := p.Evidence().Len(); n != 1 {
		t.Errorf("evidence holds %d pieces, want 1", n)
	}
	if n := p.EvidenceKnownAt(t0.Add(90 * time.Minute)).Len(); n != 0 {
		t.Errorf("evidence known between retraction and re-recording holds %d pieces, want 0", n)
	}
}

// TestKnownAtWithAStampOutOfOrder: what was known at T is every change
// stamped at or before T, even after a change stamped later in the log
// (two writers' clocks apart), as the read models' knownAt answers it.
func TestKnownAtWithAStampOutOfOrder(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	p := domain.NewPerson("P1", "n", "Ops", day("2021-01-01"))
	a1 := assess("P1.a", domain.ServiceSupportManagement, domain.Basic, "2022-01-01")
	a2 := assess("P1.b", domain.SystemOperationManagement, domain.Basic, "2022-01-01")
	p.Record(domain.Accomplishment{Assessment: &a1}, t0.Add(time.Second))
	p.Record(domain.Accomplishment{Assessment: &a2}, t0.Add(500*time.Millisecond))
	got := p.EvidenceKnownAt(t0.Add(700 * time.Millisecond))
	if len(got.Assessments) != 1 || got.Assessments[0].ID != "P1.b" {
		t.Errorf("known at t0+0.7s: %+v, want P1.b only (recorded at t0+0.5s)", got.Assessments)
	}
	if got := p.EvidenceKnownAt(t0.Add(time.Second)); len(got.Assessments) != 2 {
		t.Errorf("known at t0+1s: %+v, want both", got.Assessments)
	}
}
