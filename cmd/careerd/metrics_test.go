package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestOperationNamesAreBounded: clients name their operations, so the
// operation label takes at most maxOperationNames names (each cut to
// maxOperationNameLength bytes); later names are counted as "other".
func TestOperationNamesAreBounded(t *testing.T) {
	m := newMetrics()
	for i := range maxOperationNames + 50 {
		m.operation(fmt.Sprintf("Op%d", i), "query", time.Millisecond, false)
	}
	m.operation("Op0", "query", time.Millisecond, false) // known: its own series
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, f := range fams {
		if f.GetName() != "careerledger_graphql_operation_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "operation" {
					counts[l.GetValue()] += s.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	if len(counts) != maxOperationNames+1 || counts["other"] != 50 || counts["Op0"] != 2 {
		t.Errorf("%d operation names (other: %d, Op0: %d), want %d (other: 50, Op0: 2)", len(counts), counts["other"], counts["Op0"], maxOperationNames+1)
	}

	long := newMetrics()
	long.operation(strings.Repeat("L", 300), "query", time.Millisecond, false)
	if !long.opNames[strings.Repeat("L", maxOperationNameLength)] || len(long.opNames) != 1 {
		t.Errorf("a long name is kept as %v, want cut to %d bytes", long.opNames, maxOperationNameLength)
	}
}
