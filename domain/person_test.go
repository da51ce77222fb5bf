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
