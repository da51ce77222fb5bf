package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/careerledger/careerledger/domain"
)

// codecOf is what the tests know of one event type's decoding: the fast
// reader alone, and the reference (encoding/json, then normalizeIn).
type codecOf struct {
	typ  string
	fast func([]byte) (Event, bool)
	ref  func([]byte) (Event, error)
}

func codecFor[T Event](members []member[T]) codecOf {
	return codecOf{
		typ: (*new(T)).EventType(),
		fast: func(body []byte) (Event, bool) {
			v := new(T)
			r := reader{b: body, ok: true}
			object(&r, v, members)
			if !r.end() {
				return nil, false
			}
			normalizeIn(v)
			return *v, true
		},
		ref: func(body []byte) (Event, error) {
			v := new(T)
			if err := json.Unmarshal(body, v); err != nil {
				return nil, err
			}
			normalizeIn(v)
			return *v, nil
		},
	}
}

var codecs = []codecOf{
	codecFor(registeredMembers), codecFor(transferredMembers), codecFor(departedMembers),
	codecFor(engagementMembers), codecFor(successionMembers), codecFor(developmentMembers),
	codecFor(assessmentMembers), codecFor(amendedMembers), codecFor(retractedMembers),
}

func codecNamed(t testing.TB, typ string) codecOf {
	for _, c := range codecs {
		if c.typ == typ {
			return c
		}
	}
	t.Fatalf("no codec for %s", typ)
	return codecOf{}
}

// checkDecode compares, for one body, the fast reader with the reference,
// and Decode with the reference on the body without NUL; it returns
// whether the fast reader took the body.
func checkDecode(t testing.TB, c codecOf, body []byte) bool {
	t.Helper()
	want, refErr := c.ref(body)
	got, ok := c.fast(body)
	if ok && refErr != nil {
		t.Fatalf("%s %q: fast reader accepted a body encoding/json refuses (%v): %#v", c.typ, body, refErr, got)
	}
	if ok && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s %q: fast reader\n got %#v\nwant %#v", c.typ, body, got, want)
	}
	want, refErr = c.ref(withoutNUL(body))
	ver, _ := CurrentVersion(c.typ)
	e, err := Decode(c.typ, ver, body)
	if (err != nil) != (refErr != nil) || !reflect.DeepEqual(e, want) {
		t.Fatalf("%s %q: Decode = %#v, %v; want %#v, %v", c.typ, body, e, err, want, refErr)
	}
	return ok
}

// goldenBodies returns each current-version golden body by type.
func goldenBodies(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for _, typ := range Types() {
		ver, _ := CurrentVersion(typ)
		b, err := os.ReadFile(filepath.Join("testdata", fmt.Sprintf("%s.v%d.json", typ, ver)))
		if err != nil {
			t.Fatal(err)
		}
		out[typ] = bytes.TrimSpace(b)
	}
	return out
}

// jsonbSpaced is body as PostgreSQL prints jsonb: a space after each ':'
// and ',' outside strings.
func jsonbSpaced(body []byte) []byte {
	var out []byte
	in := false
	for i, c := range body {
		out = append(out, c)
		switch {
		case c == '"' && (i == 0 || body[i-1] != '\\'):
			in = !in
		case !in && (c == ':' || c == ','):
			out = append(out, ' ')
		}
	}
	return out
}

// TestFastReaderTakesWhatTheLogHolds: every golden body, also spaced as
// jsonb prints it, is read by the fast reader, to the same event.
func TestFastReaderTakesWhatTheLogHolds(t *testing.T) {
	for typ, body := range goldenBodies(t) {
		c := codecNamed(t, typ)
		for _, b := range [][]byte{body, jsonbSpaced(body), []byte(" \t\r\n" + string(jsonbSpaced(body)) + "\n ")} {
			if !checkDecode(t, c, b) {
				t.Errorf("%s: fast reader refused %s", typ, b)
			}
		}
	}
}

// TestFastReaderEdges: bodies the fast reader must take, and bodies it must
// leave to encoding/json; either way Decode answers as encoding/json does.
func TestFastReaderEdges(t *testing.T) {
	const eng = `{"accomplishmentId":"E1.A","field":"NETWORK_OPERATION","title":%s,"role":"LEAD","startedOn":"2021-04-01","outcome":"SUCCESSFUL","withinBudget":true,%s"complexity":[%s]}`
	body := func(title, more, list string) string { return fmt.Sprintf(eng, title, more, list) }
	for _, c := range []struct {
		name string
		body string
		fast bool
	}{
		{"plain", body(`"Backbone"`, ``, `"ORGANIZATION"`), true},
		{"escapes", body(`"a\"b\\c\/d\b\f\n\r\tz"`, ``, ``), true},
		{"unicode escapes", body(`"\u00e9\u65E5\u0026\u003c\u003e\ud83d\ude00"`, ``, ``), true},
		{"lone surrogate", body(`"x\ud800y\udc00\ud800\u0041"`, ``, ``), true},
		{"NUL escape", body(`"a\u0000b"`, ``, ``), true},
		{"Japanese title", body(`"基幹ネットワーク移行 第3期"`, ``, `"組織"`), true},
		{"HTML characters", body(`"R&D <lab> & 'x'"`, ``, ``), true},
		{"DEL and U+2028", body("\"a\x7f\u2028\u2029b\"", ``, ``), true},
		{"whitespace", strings.ReplaceAll(body(`"x"`, `"peakHeadcount" :	12 ,`, ` "A" , "B" `), ",", " ,\n\t"), true},
		{"empty list", body(`"x"`, ``, ``), true},
		{"missing optional fields", `{"accomplishmentId":"E1.A","startedOn":"2021-04-01"}`, true},
		{"empty object", `{}`, true},
		{"empty date", body(`"x"`, `"completedOn":"",`, ``), true},
		{"all sizes", body(`"x"`, `"peakHeadcount":0,"annualContractValueYen":-9223372036854775808,"installationSites":9223372036854775807,"inquiriesPerYear":-0,`, ``), true},

		{"duplicate key", body(`"x"`, `"title":"y",`, ``), false},
		{"duplicate list", body(`"x"`, `"complexity":["A"],`, `"B"`), false},
		{"case-variant key", body(`"x"`, `"Title":"y",`, ``), false},
		{"escaped key", body(`"x"`, `"\u0070eakHeadcount":3,`, ``), false},
		{"unknown key", body(`"x"`, `"budgetKept":false,`, ``), false},
		{"null string", body(`null`, ``, ``), false},
		{"null size", body(`"x"`, `"peakHeadcount":null,`, ``), false},
		{"null list", strings.Replace(body(`"x"`, ``, ``), `[]`, `null`, 1), false},
		{"null in list", body(`"x"`, ``, `null`), false},
		{"float", body(`"x"`, `"peakHeadcount":12.0,`, ``), false},
		{"exponent", body(`"x"`, `"peakHeadcount":1e3,`, ``), false},
		{"beyond int64", body(`"x"`, `"peakHeadcount":9223372036854775808,`, ``), false},
		{"below int64", body(`"x"`, `"peakHeadcount":-9223372036854775809,`, ``), false},
		{"leading zero", body(`"x"`, `"peakHeadcount":012,`, ``), false},
		{"quoted number", body(`"x"`, `"peakHeadcount":"12",`, ``), false},
		{"bool as string", strings.Replace(body(`"x"`, ``, ``), `true`, `"true"`, 1), false},
		{"bad literal", strings.Replace(body(`"x"`, ``, ``), `true`, `True`, 1), false},
		{"number as string", body(`12`, ``, ``), false},
		{"invalid UTF-8", body("\"a\xffb\"", ``, ``), false},
		{"control character", body("\"a\nb\"", ``, ``), false},
		{"bad escape", body(`"a\x"`, ``, ``), false},
		{"truncated escape", `{"title":"\u00e`, false},
		{"truncated pair", `{"title":"\ud83d\ude0`, false},
		{"bad date", body(`"x"`, `"completedOn":"2021-02-30",`, ``), false},
		{"trailing data", body(`"x"`, ``, ``) + `{}`, false},
		{"trailing comma", strings.Replace(body(`"x"`, ``, ``), `]}`, `],}`, 1), false},
		{"trailing NUL", body(`"x"`, ``, ``) + "\x00", false},
		{"not an object", `["E1.A"]`, false},
		{"truncated", `{"accomplishmentId":"E1.A"`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := checkDecode(t, codecNamed(t, "EngagementRecorded"), []byte(c.body)); got != c.fast {
				t.Errorf("fast reader took %s: %v, want %v", c.body, got, c.fast)
			}
		})
	}
	amended := codecNamed(t, "AccomplishmentAmended")
	if !checkDecode(t, amended, []byte(`{"accomplishmentId":"E1.A","succession":{"accomplishmentId":"E1.A"}, "development":{}}`)) {
		t.Error("fast reader refused nested events")
	}
	if checkDecode(t, amended, []byte(`{"accomplishmentId":"E1.A","engagement":null}`)) {
		t.Error("fast reader took a null nested event")
	}
}

// encodeCases are events whose strings need escaping or none.
func encodeCases() []Event {
	var out []Event
	for _, s := range []string{"", "plain", "基幹ネットワーク移行", `R&D <lab> "q" \ /`, "tab\tnl\nnul\x00bell\x07\x1f\x7f",
		"\b\f\r", "bad \xff\xfe utf8 \xe6\x97", "line\u2028para\u2029", "emoji 😀", "\ufffd"} {
		for _, e := range examples() {
			out = append(out, withStrings(e, s))
		}
	}
	return out
}

// withStrings is e with every string field set to s.
func withStrings(e Event, s string) Event {
	v := reflect.New(reflect.TypeOf(e)).Elem()
	v.Set(reflect.ValueOf(e))
	setStrings(v, s)
	return v.Interface().(Event)
}

func setStrings(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Pointer:
		if !v.IsNil() {
			n := reflect.New(v.Type().Elem())
			n.Elem().Set(v.Elem())
			setStrings(n.Elem(), s)
			v.Set(n)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			v.Set(reflect.ValueOf([]string{s, "x" + s}))
		}
	case reflect.Struct:
		if v.Type() != reflect.TypeFor[domain.Date]() {
			for i := range v.NumField() {
				setStrings(v.Field(i), s)
			}
		}
	}
}

// checkEncode compares marshal with json.Marshal for e as given and as
// normalized, and Encode with json.Marshal.
func checkEncode(t testing.TB, e Event) {
	t.Helper()
	for _, v := range []Event{e, normalize(e)} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := marshal(v); !bytes.Equal(got, want) {
			t.Fatalf("marshal(%#v)\n got %s\nwant %s", v, got, want)
		}
	}
	_, _, got, err := Encode(e)
	if want, _ := json.Marshal(normalize(e)); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Encode(%#v) = %s, %v; want %s", e, got, err, want)
	}
}

func TestMarshalAsEncodingJSON(t *testing.T) {
	for _, e := range encodeCases() {
		checkEncode(t, e)
	}
	if _, _, b, _ := Encode(withStrings(examples()[8], "R&D <x>\u2028")); !bytes.Contains(b, []byte(`"R\u0026D \u003cx\u003e\u2028"`)) {
		t.Errorf("Encode escaped HTML characters as %s", b)
	}
}

func FuzzDecode(f *testing.F) {
	for typ, body := range goldenBodies(f) {
		for i, c := range codecs {
			if c.typ == typ {
				f.Add(uint8(i), body)
				f.Add(uint8(i), jsonbSpaced(body))
			}
		}
	}
	eng := uint8(3)
	for _, s := range []string{`{"title":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800"}`, `{"title":"基幹","role":"<&>"}`,
		`{"peakHeadcount":-9223372036854775808}`, `{"peakHeadcount":9223372036854775808}`, `{"peakHeadcount":1.0}`,
		`{"title":null}`, `{"Title":"x"}`, `{"title":"x","title":"y"}`, "{\"title\":\"\xff\"}", `{"complexity":[]} x`,
		`{"completedOn":""}`, `{"completedOn":"2021-02-29"}`, `{"withinBudget":false,"complexity":["A", "B"]}`} {
		f.Add(eng, []byte(s))
	}
	f.Fuzz(func(t *testing.T, i uint8, body []byte) {
		checkDecode(t, codecs[int(i)%len(codecs)], body)
	})
}

func FuzzEncode(f *testing.F) {
	f.Add("E1.A", "NETWORK_OPERATION", "Backbone migration", "LEAD", int32(18718), int32(19082), true, int64(12), int64(3_000_000_000), uint8(0b0011), "NETWORK_REQUIREMENTS|ORGANIZATION", uint8(0))
	f.Add("", "", "", "", int32(-719529), int32(-719529), false, int64(0), int64(-1), uint8(0b1111), "", uint8(1))
	f.Add("R&D <lab>", "\"\\\b\f\n\r\t\x00\x1f", "基幹 \u2028\u2029", "\xff\xe6\x97", int32(2147483647), int32(-2147483648), true,
		int64(-9223372036854775808), int64(9223372036854775807), uint8(0b1010), "|a|\x7f|", uint8(2))
	f.Add("x", "y", "z", "w", int32(2932896), int32(-719530), false, int64(7), int64(8), uint8(0b0101), "𝄞|\ud7ff", uint8(3))
	f.Fuzz(func(t *testing.T, a, b, c, d string, day1, day2 int32, flag bool, n1, n2 int64, sizes uint8, list string, mode uint8) {
		epoch := domain.MustDate("1970-01-01")
		date1, date2 := epoch.AddDays(int(day1)), epoch.AddDays(int(day2))
		size := func(bit uint8, n int64) *int64 {
			if sizes&bit == 0 {
				return nil
			}
			return &n
		}
		var items []string // nil, empty or split at '|'
		switch {
		case mode%3 == 1:
			items = []string{}
		case mode%3 == 2:
			items = strings.Split(list, "|")
		}
		eng := EngagementRecorded{AccomplishmentID: a, Field: b, Title: c, Role: d, StartedOn: date1, CompletedOn: date2,
			Outcome: list, WithinBudget: flag, PeakHeadcount: size(1, n1), AnnualContractValueYen: size(2, n2),
			InstallationSites: size(4, n1), InquiriesPerYear: size(8, n2), Complexity: items}
		succ := TechnologySuccessionRecorded{AccomplishmentID: a, Kind: b, Title: c, OccurredOn: date1, Fields: items}
		dev := SubordinateDevelopmentRecorded{AccomplishmentID: a, Kind: b, OccurredOn: date2, SubordinateID: d}
		theme := ThemeAssessed{AccomplishmentID: a, Theme: b, Proficiency: c, AssessedOn: date1}
		amended := AccomplishmentAmended{AccomplishmentID: d}
		switch mode % 5 {
		case 1:
			amended.Engagement = &eng
		case 2:
			amended.Succession = &succ
		case 3:
			amended.Development, amended.Assessment = &dev, &theme
		}
		for _, e := range []Event{
			PersonRegistered{PersonID: a, Name: b, Department: c, JoinedOn: date1},
			PersonTransferred{PersonID: a, Department: b, EffectiveOn: date2},
			PersonDeparted{PersonID: c, EffectiveOn: date1},
			eng, succ, dev, theme, amended,
			AccomplishmentRetracted{AccomplishmentID: a, Reason: c},
		} {
			checkEncode(t, e)
		}
	})
}
