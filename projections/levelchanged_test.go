package projections_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares body with testdata/name (rewritten with -update) and
// returns the file.
func golden(t *testing.T, name string, body []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(body, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(append(body, '\n'), want) {
		t.Errorf("the JSON form in %s changed:\n got %s\nwant %s", name, body, want)
	}
	return bytes.TrimSuffix(want, []byte("\n"))
}

// exampleChange is the level change of the golden files.
var exampleChange = projections.LevelChanged{PersonID: "E1001", Department: "Service Desk", Position: 4711,
	Change: domain.LevelChange{Field: domain.SystemOperation, On: domain.MustDate("2024-05-01"), From: 2, To: 3}}

// The JSON forms of a level change are sent on the derived-event bus and
// kept with a checkpoint: a shipped version never changes, and this
// release reads every one.
func TestLevelChangedGoldenForms(t *testing.T) {
	if projections.LevelChangedVersion != 2 {
		t.Fatalf("LevelChangedVersion = %d: add its golden file and its upcaster", projections.LevelChangedVersion)
	}
	withdrawn := exampleChange
	withdrawn.Withdrawn = true
	if projections.VersionFor(withdrawn) != 2 || projections.VersionFor(exampleChange) != 1 {
		t.Errorf("VersionFor: a withdrawal %d, an announcement %d; want 2 and 1",
			projections.VersionFor(withdrawn), projections.VersionFor(exampleChange))
	}
	body, err := projections.EncodeLevelChanged(2, withdrawn)
	if err != nil {
		t.Fatal(err)
	}
	v2 := golden(t, "LevelChanged.v2.json", body)
	if got, err := projections.DecodeLevelChanged(2, v2); err != nil || got != withdrawn {
		t.Errorf("DecodeLevelChanged(2, golden) = %+v, %v; want %+v", got, err, withdrawn)
	}

	// Version 1, as releases before withdrawals wrote it, reads as an
	// announcement.
	w := projections.LevelChangedV1{PersonID: "E1001", Department: "Service Desk", Field: "SYSTEM_OPERATION",
		On: domain.MustDate("2024-05-01"), From: 2, To: 3, Position: 4711}
	body, err = json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	v1 := golden(t, "LevelChanged.v1.json", body)
	if got, err := projections.DecodeLevelChanged(1, v1); err != nil || got != exampleChange {
		t.Errorf("DecodeLevelChanged(1, golden) = %+v, %v; want %+v", got, err, exampleChange)
	}
	// This release writes an announcement in version 1, byte for byte what
	// earlier releases wrote, so that they read it.
	if again, err := projections.EncodeLevelChanged(1, exampleChange); err != nil || !bytes.Equal(again, v1) {
		t.Errorf("an announcement in version 1:\n got %s, %v\nwant %s", again, err, v1)
	}
	// In version 2 it is the withdrawal's form with withdrawn false.
	again, err := projections.EncodeLevelChanged(2, exampleChange)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Replace(v2, []byte(`"withdrawn":true`), []byte(`"withdrawn":false`), 1)
	if !bytes.Equal(again, want) {
		t.Errorf("an announcement in version 2:\n got %s\nwant %s", again, want)
	}
	// Version 1 cannot hold a withdrawal, nor is there a version 3.
	if b, err := projections.EncodeLevelChanged(1, withdrawn); err == nil {
		t.Errorf("a withdrawal in version 1: %s, want an error", b)
	}
	if b, err := projections.EncodeLevelChanged(3, exampleChange); err == nil {
		t.Errorf("version 3: %s, want an error", b)
	}
}

func TestDecodeLevelChangedRefusesTheUnknown(t *testing.T) {
	for _, c := range []struct {
		name    string
		version int
		body    string
	}{
		{"version zero", 0, `{}`},
		{"a future version", 3, `{}`},
		{"not an object", 2, `[]`},
		{"a bad date", 1, `{"on":"2024-13-01"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, err := projections.DecodeLevelChanged(c.version, []byte(c.body)); err == nil {
				t.Errorf("DecodeLevelChanged(%d, %s) = %+v, want an error", c.version, c.body, got)
			}
		})
	}
}
