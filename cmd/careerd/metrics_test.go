package main

import (
	"fmt"
	"io"
	"net/http"
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
	// What is not a GraphQL name (it may come from elsewhere than a
	// document) is "invalid", never a label Prometheus refuses.
	odd := newMetrics()
	for _, name := range []string{strings.Repeat("a", 63) + "é", "\xff", "1abc", "a b"} {
		odd.operation(name, "query", time.Millisecond, false)
	}
	if len(odd.opNames) != 1 || !odd.opNames["invalid"] {
		t.Errorf("names kept: %v, want only invalid", odd.opNames)
	}
}

// TestOperationsAreNamedByTheirDocument: the operation label is the name
// of the operation that ran, not the request's operationName, which names
// anything when it matches nothing.
func TestOperationsAreNamedByTheirDocument(t *testing.T) {
	m := start(t, baseConfig(t))
	for _, op := range []string{"Real", "Junk"} {
		body := `{"query":"query Real { catalogue { id } }","operationName":"` + op + `"}`
		req, _ := http.NewRequest("POST", "http://"+m.Addr()+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+m.DevToken())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body) //nolint:errcheck // only the metrics matter
		res.Body.Close()
	}
	_, metrics := get(t, "http://"+m.Addr()+"/metrics")
	for _, want := range []string{`operation="Real",outcome="ok"`, `operation="invalid",outcome="error"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics: missing %s", want)
		}
	}
	if strings.Contains(metrics, `operation="Junk"`) {
		t.Error("/metrics labels an operation by a name that matched nothing")
	}
}
