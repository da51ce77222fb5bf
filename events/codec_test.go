package events

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/careerledger/careerledger/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// examples holds a fixed example of every event type. Their encoded bodies
// are the golden files: the log is forever, so changing a stored shape must
// be a deliberate act (a new version with an upcaster), never an accident.
func examples() []Event {
	engagement := EngagementRecorded{
		AccomplishmentID: "E1001.ABCDEFGHIJ", Field: "NETWORK_OPERATION",
		Title: "Backbone migration", Role: "LEAD",
		StartedOn: domain.MustDate("2021-04-01"), CompletedOn: domain.MustDate("2022-03-31"),
		Outcome: "SUCCESSFUL", WithinBudget: true,
		PeakHeadcount: i64(12), AnnualContractValueYen: i64(3_000_000_000), InstallationSites: i64(140),
		Complexity: []string{"NETWORK_REQUIREMENTS", "ORGANIZATION"},
	}
	return []Event{
		PersonRegistered{PersonID: "E1001", Name: "Sato Aiko", Department: "Infrastructure", JoinedOn: domain.MustDate("2015-04-01")},
		PersonTransferred{PersonID: "E1001", Department: "Service Desk", EffectiveOn: domain.MustDate("2023-10-01")},
		PersonDeparted{PersonID: "E1001", EffectiveOn: domain.MustDate("2025-03-31")},
		engagement,
		TechnologySuccessionRecorded{AccomplishmentID: "E1001.KLMNOPQRST", Kind: "EXTERNAL_TALK",
			Title: "Operating multi-vendor networks", OccurredOn: domain.MustDate("2023-06-15"),
			Fields: []string{"NETWORK_OPERATION", "SYSTEM_OPERATION"}},
		SubordinateDevelopmentRecorded{AccomplishmentID: "E1001.UVWXYZ2345", Kind: "MENTORING",
			OccurredOn: domain.MustDate("2024-01-20"), SubordinateID: "E2002"},
		ThemeAssessed{AccomplishmentID: "E1001.67ABCDEFGH", Theme: "STRESS_MANAGEMENT",
			Proficiency: "GUIDES_SUBORDINATES", AssessedOn: domain.MustDate("2024-02-01")},
		AccomplishmentAmended{AccomplishmentID: "E1001.ABCDEFGHIJ", Engagement: func() *EngagementRecorded {
			e := engagement
			e.Outcome, e.CompletedOn, e.InstallationSites = "ONGOING", domain.Date{}, nil
			return &e
		}()},
		AccomplishmentRetracted{AccomplishmentID: "E1001.KLMNOPQRST", Reason: "recorded for the wrong person"},
	}
}

func TestGoldenBodies(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range examples() {
		typ, ver, body, err := Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		seen[typ] = true
		t.Run(typ, func(t *testing.T) {
			path := filepath.Join("testdata", fmt.Sprintf("%s.v%d.json", typ, ver))
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
				t.Errorf("Encode(%s) changed the stored shape of version %d:\n got %s\nwant %s", typ, ver, body, want)
			}
			got, err := Decode(typ, ver, want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Errorf("Decode(golden) = %#v, want %#v", got, e)
			}
		})
	}
	for _, typ := range Types() {
		if !seen[typ] {
			t.Errorf("no golden example for %s", typ)
		}
	}
}

// TestUpcastEngagementV1 decodes a body written under EngagementRecorded
// version 1 (budgetKept, nested size) into the current shape.
func TestUpcastEngagementV1(t *testing.T) {
	v1, err := os.ReadFile(filepath.Join("testdata", "EngagementRecorded.v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode("EngagementRecorded", 1, v1)
	if err != nil {
		t.Fatal(err)
	}
	want := examples()[3]
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode(v1) = %#v\nwant %#v", got, want)
	}
	_, _, body, _ := Encode(got)
	current, _ := os.ReadFile(filepath.Join("testdata", "EngagementRecorded.v2.json"))
	if !bytes.Equal(append(body, '\n'), current) {
		t.Errorf("re-encoding an upcast v1 body:\n got %s\nwant %s", body, current)
	}
}

// TestAnAmendmentNestsTheCurrentBodies: the current version of
// AccomplishmentAmended nests each *Recorded event's body at that event's
// current version, every member of the amendment is in amendedNests under
// the event its field holds, and every version has its row. A new version
// of EngagementRecorded fails here until AccomplishmentAmended gets its
// own with its row, whose upcaster lifts the old amendments' engagements:
// left alone, they would be read in the new shape (a version 1
// engagement's budgetKept and size read as nothing).
func TestAnAmendmentNestsTheCurrentBodies(t *testing.T) {
	current, _ := CurrentVersion("AccomplishmentAmended")
	for v := 1; v <= current; v++ {
		if amendedNests[v] == nil {
			t.Errorf("amendedNests has no row for AccomplishmentAmended version %d", v)
		}
	}
	if len(amendedNests) != current {
		t.Errorf("amendedNests has %d rows, AccomplishmentAmended %d versions", len(amendedNests), current)
	}
	nests := amendedNests[current]
	st := reflect.TypeFor[AccomplishmentAmended]()
	members := 0
	for i := range st.NumField() {
		f := st.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "accomplishmentId" {
			continue
		}
		members++
		n, ok := nests[name]
		if !ok {
			t.Errorf("member %q of AccomplishmentAmended is not in amendedNests", name)
			continue
		}
		if typ := reflect.Zero(f.Type.Elem()).Interface().(Event).EventType(); n.typ != typ {
			t.Errorf("member %q nests %s, amendedNests says %s", name, typ, n.typ)
		}
		if v, _ := CurrentVersion(n.typ); n.version != v {
			t.Errorf("AccomplishmentAmended version %d nests %s version %d, whose current version is %d: give AccomplishmentAmended a version nesting it",
				current, n.typ, n.version, v)
		}
	}
	if members != len(nests) {
		t.Errorf("AccomplishmentAmended has %d nested members, amendedNests %d", members, len(nests))
	}
}

// TestAnAmendmentsEngagementIsUpcastAsARecordedOne: an amendment whose
// engagement is a body of an older EngagementRecorded version is lifted
// through EngagementRecorded's own upcasters, to the engagement Decode
// reads from that body recorded. No amendment holds a version 1
// engagement (the type came with version 2), so the table here is one
// such an amendment would have had.
func TestAnAmendmentsEngagementIsUpcastAsARecordedOne(t *testing.T) {
	v1, err := os.ReadFile(filepath.Join("testdata", "EngagementRecorded.v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"accomplishmentId":"E1001.ABCDEFGHIJ","engagement":` + string(bytes.TrimSpace(v1)) + `}`)
	decoded, err := Decode("EngagementRecorded", 1, v1)
	if err != nil {
		t.Fatal(err)
	}
	recorded := decoded.(EngagementRecorded)
	decode := schemas["AccomplishmentAmended"].decode
	// Read as it is, the old engagement loses what version 2 renamed.
	asIs, err := decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if e := asIs.(AccomplishmentAmended).Engagement; e == nil || reflect.DeepEqual(*e, recorded) {
		t.Fatalf("an old engagement read without its upcaster: %+v, want it to differ from %+v", e, recorded)
	}
	up := nestedUpcasters(map[int]map[string]nestedBody{
		1: {"engagement": {"EngagementRecorded", 1}, "assessment": {"ThemeAssessed", 1}},
		2: {"engagement": {"EngagementRecorded", 2}, "assessment": {"ThemeAssessed", 1}},
	})
	lifted, err := up[1](body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(lifted)
	if err != nil {
		t.Fatal(err)
	}
	want := AccomplishmentAmended{AccomplishmentID: "E1001.ABCDEFGHIJ", Engagement: &recorded}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(recorded, examples()[3]) {
		t.Errorf("the amendment upcast: %#v\nwant %#v", got, want)
	}
	if _, err := up[1]([]byte(`{"accomplishmentId":"E1.AAAAAAAAAA","engagement":{"size":7}}`)); err == nil {
		t.Error("an engagement its upcaster cannot read was lifted without an error")
	}
}

func TestDecodeRefusesTheUnknown(t *testing.T) {
	for _, c := range []struct {
		name string
		typ  string
		ver  int
	}{
		{"unknown type", "PersonPromoted", 1},
		{"future version", "PersonRegistered", 2},
		{"version zero", "EngagementRecorded", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Decode(c.typ, c.ver, []byte(`{}`)); err == nil {
				t.Errorf("Decode(%s, %d) succeeded", c.typ, c.ver)
			}
		})
	}
	if _, err := Decode("PersonRegistered", 1, []byte(`{"joinedOn":"2020-13-01"}`)); err == nil {
		t.Error("Decode accepted a bad date")
	}
}

func TestEncodeAcceptsPointersAndNilLists(t *testing.T) {
	_, _, a, err := Encode(&PersonDeparted{PersonID: "X", EffectiveOn: domain.MustDate("2020-01-02")})
	if err != nil || string(a) != `{"personId":"X","effectiveOn":"2020-01-02"}` {
		t.Errorf("Encode(pointer) = %s, %v", a, err)
	}
	_, _, b, _ := Encode(TechnologySuccessionRecorded{AccomplishmentID: "X.1", Kind: "BOOK", OccurredOn: domain.MustDate("2020-01-02")})
	if !bytes.Contains(b, []byte(`"fields":[]`)) {
		t.Errorf("nil list encoded as %s, want []", b)
	}
}

func TestAccomplishmentRoundTrip(t *testing.T) {
	for _, e := range examples() {
		a, ok := ToAccomplishment(e)
		if _, amended := e.(AccomplishmentAmended); !ok || amended {
			continue
		}
		if got := FromAccomplishment(a); !reflect.DeepEqual(got, e) {
			t.Errorf("FromAccomplishment(ToAccomplishment(%s)) = %#v", e.EventType(), got)
		}
	}
	if _, ok := ToAccomplishment(PersonDeparted{}); ok {
		t.Error("ToAccomplishment(PersonDeparted) = true")
	}
	amended := examples()[7].(AccomplishmentAmended)
	a, ok := ToAccomplishment(&amended)
	if !ok || a.ID() != "E1001.ABCDEFGHIJ" || a.Engagement.Outcome != domain.Ongoing || a.Engagement.InstallationSites != nil {
		t.Errorf("ToAccomplishment(amended) = %+v, %v", a.Engagement, ok)
	}
}

// TestANULIsReadAsTheReplacementCharacter: an event body written before
// commands were refused control characters may hold a NUL (\u0000), which
// PostgreSQL cannot store; it is read as U+FFFD, while the text \u0000
// (written \\u0000) is read as it was written.
func TestANULIsReadAsTheReplacementCharacter(t *testing.T) {
	for body, want := range map[string]string{
		`{"accomplishmentId":"N1.A","reason":"a\u0000b"}`:         "a\uFFFDb",
		`{"accomplishmentId":"N1.A","reason":"a\\u0000b"}`:        `a\u0000b`,
		`{"accomplishmentId":"N1.A","reason":"a\\\u0000b"}`:       "a\\\uFFFDb",
		`{"accomplishmentId":"N1.A","reason":"\u0000\u0000"}`:     "\uFFFD\uFFFD",
		`{"accomplishmentId":"N1.A","reason":"plain \"quoted\""}`: `plain "quoted"`,
	} {
		e, err := Decode("AccomplishmentRetracted", 1, []byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if got := e.(AccomplishmentRetracted).Reason; got != want {
			t.Errorf("%s: reason %q, want %q", body, got, want)
		}
	}
}
