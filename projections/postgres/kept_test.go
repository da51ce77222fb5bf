package postgres

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The level changes kept with the checkpoint (last_derived) are read by the
// next release that starts: a shipped version of the kept form never
// changes, and this release reads every one.
func TestKeptLevelChangesGoldenForms(t *testing.T) {
	change := func(on string, from, to int, withdrawn bool) projections.LevelChanged {
		return projections.LevelChanged{PersonID: "E1001", Department: "Service Desk", Position: 4711, Withdrawn: withdrawn,
			Change: domain.LevelChange{Field: domain.SystemOperation, On: domain.MustDate(on), From: from, To: to}}
	}
	// A moved date: the old change withdrawn, then the new one.
	moved := []projections.LevelChanged{change("2024-05-01", 2, 3, true), change("2024-07-01", 2, 3, false)}
	body, err := encodeDerived(4711, moved)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "last_derived.v2.json")
	if *update {
		if err := os.WriteFile(path, append(body, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v2, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(append(body, '\n'), v2) {
		t.Errorf("the kept form changed:\n got %s\nwant %s", body, v2)
	}
	if at, got, err := decodeDerived(v2); err != nil || at != 4711 || !reflect.DeepEqual(got, moved) {
		t.Errorf("decodeDerived(v2 golden) = %d, %+v, %v; want 4711, %+v", at, got, err, moved)
	}

	// Version 1, as the release that added migration 008 keeps it: its
	// changes are announcements. This release keeps a batch without
	// withdrawals in it too, byte for byte, so that an earlier release
	// taking over reads it.
	v1, err := os.ReadFile(filepath.Join("testdata", "last_derived.v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	type keptV1 struct { // the kept form of that release
		Version  int                          `json:"version"`
		Position uint64                       `json:"position"`
		Changes  []projections.LevelChangedV1 `json:"changes"`
	}
	old, err := json.Marshal(keptV1{Version: 1, Position: 4711, Changes: []projections.LevelChangedV1{{PersonID: "E1001",
		Department: "Service Desk", Field: "SYSTEM_OPERATION", On: domain.MustDate("2024-05-01"), From: 2, To: 3, Position: 4711}}})
	if err != nil || !bytes.Equal(append(old, '\n'), v1) {
		t.Errorf("the version 1 golden file is not what that release wrote:\n got %s\nwant %s", v1, old)
	}
	want := []projections.LevelChanged{change("2024-05-01", 2, 3, false)}
	if at, got, err := decodeDerived(v1); err != nil || at != 4711 || !reflect.DeepEqual(got, want) {
		t.Errorf("decodeDerived(v1 golden) = %d, %+v, %v; want 4711, %+v", at, got, err, want)
	}
	if body, err := encodeDerived(4711, want); err != nil || !bytes.Equal(append(body, '\n'), v1) {
		t.Errorf("a batch without withdrawals kept as %s, %v; want the version 1 form %s", body, err, v1)
	}

	for _, bad := range []string{
		`{"version": 3, "position": 1, "changes": []}`,
		`{"version": 0, "position": 1, "changes": []}`,
		`{"version": 2, "position": 1, "changes": [[]]}`,
		`{"version": 1, "position": 1, "changes": [{"on": "2024-13-01"}]}`,
	} {
		if _, got, err := decodeDerived([]byte(bad)); !errors.Is(err, projections.ErrDerivedUnreadable) {
			t.Errorf("decodeDerived(%s) = %+v, %v; want ErrDerivedUnreadable", bad, got, err)
		}
	}
}
