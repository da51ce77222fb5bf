package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/careerledger/careerledger/domain"
)

// schema is what the codec knows about one event type: its current version,
// how to decode a body of that version, and the upcasters that lift a body
// of each older version to the next one (upcast[v] turns a version v body
// into a version v+1 body).
type schema struct {
	version int
	decode  func([]byte) (Event, error)
	upcast  map[int]func([]byte) ([]byte, error)
}

var schemas = map[string]schema{
	"PersonRegistered":  {version: 1, decode: decodeAs(registeredMembers)},
	"PersonTransferred": {version: 1, decode: decodeAs(transferredMembers)},
	"PersonDeparted":    {version: 1, decode: decodeAs(departedMembers)},
	"EngagementRecorded": {version: 2, decode: decodeAs(engagementMembers),
		upcast: map[int]func([]byte) ([]byte, error){1: upcastEngagementV1}},
	"TechnologySuccessionRecorded":   {version: 1, decode: decodeAs(successionMembers)},
	"SubordinateDevelopmentRecorded": {version: 1, decode: decodeAs(developmentMembers)},
	"ThemeAssessed":                  {version: 1, decode: decodeAs(assessmentMembers)},
	"AccomplishmentAmended":          {version: 1, decode: decodeAs(amendedMembers)},
	"AccomplishmentRetracted":        {version: 1, decode: decodeAs(retractedMembers)},
}

// Types returns every event type name, sorted.
func Types() []string {
	out := make([]string, 0, len(schemas))
	for t := range schemas {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// CurrentVersion returns the schema version Encode writes for an event type.
func CurrentVersion(typ string) (int, bool) {
	s, ok := schemas[typ]
	return s.version, ok
}

// Encode returns the type name, current schema version and JSON body of e.
// It accepts the event structs of this package as values or pointers. The
// body is written by the fast writer (fastjson.go), which spells it exactly
// as json.Marshal does; json.Marshal itself writes a type the writer does
// not know.
func Encode(e Event) (typ string, version int, body []byte, err error) {
	e = normalize(deref(e))
	if e == nil {
		return "", 0, nil, fmt.Errorf("encode: nil event")
	}
	typ = e.EventType()
	s, ok := schemas[typ]
	if !ok {
		return "", 0, nil, fmt.Errorf("encode: unknown event type %q", typ)
	}
	if body = marshal(e); body != nil {
		return typ, s.version, body, nil
	}
	if body, err = json.Marshal(e); err != nil {
		return "", 0, nil, fmt.Errorf("encode %s: %w", typ, err)
	}
	return typ, s.version, body, nil
}

// Decode turns a stored body back into its event, running the upcasters for
// bodies written under an older version. It returns the event as a value
// (e.g. EngagementRecorded, not *EngagementRecorded). An unknown type, a
// version newer than this code knows, or a version without an upcaster is an
// error: the caller must not silently skip a fact.
func Decode(typ string, version int, body []byte) (Event, error) {
	s, ok := schemas[typ]
	if !ok {
		return nil, fmt.Errorf("decode: unknown event type %q", typ)
	}
	if version < 1 || version > s.version {
		return nil, fmt.Errorf("decode %s: unknown version %d (current is %d)", typ, version, s.version)
	}
	body = withoutNUL(body)
	if version < s.version {
		var err error
		if body, err = lift(typ, body, version, s.version); err != nil {
			return nil, err
		}
	}
	e, err := s.decode(body)
	if err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w", typ, version, err)
	}
	return e, nil
}

// lift runs typ's upcasters on a body of version from until it is a body
// of version to: Decode's, and an amendment's for the body it nests.
func lift(typ string, body []byte, from, to int) ([]byte, error) {
	s := schemas[typ]
	for v := from; v < to; v++ {
		up, ok := s.upcast[v]
		if !ok {
			return nil, fmt.Errorf("decode %s: no upcaster from version %d", typ, v)
		}
		var err error
		if body, err = up(body); err != nil {
			return nil, fmt.Errorf("decode %s: upcast from version %d: %w", typ, v, err)
		}
	}
	return body, nil
}

// amendedNests says, for every version of AccomplishmentAmended, whose
// body each of its members nests, and under which version of that event:
// an amendment's engagement is an EngagementRecorded body. Version 1 came
// with EngagementRecorded version 2, so no amendment holds an engagement
// of version 1. The amendment's own members have not changed; its versions
// follow those of what it nests. When a nested event gets a new version,
// AccomplishmentAmended gets one too, with its row here: its upcaster is
// derived from this table and lifts each nested body through that event's
// own upcasters, so an amendment's engagement is read as a recorded one is
// (TestAnAmendmentNestsTheCurrentBodies fails until the row is added).
var amendedNests = map[int]map[string]nestedBody{
	1: {
		"engagement":  {"EngagementRecorded", 2},
		"succession":  {"TechnologySuccessionRecorded", 1},
		"development": {"SubordinateDevelopmentRecorded", 1},
		"assessment":  {"ThemeAssessed", 1},
	},
}

// nestedBody is the event type and version of a nested body.
type nestedBody struct {
	typ     string
	version int
}

func init() {
	// Here, not in schemas' literal: the upcasters read schemas.
	s := schemas["AccomplishmentAmended"]
	s.upcast = nestedUpcasters(amendedNests)
	schemas["AccomplishmentAmended"] = s
}

// nestedUpcasters returns the upcasters of an event whose versions differ
// only in what they nest (nests, by version): upcast[v] lifts each member
// nested under another version in v+1 through its own event's upcasters.
func nestedUpcasters(nests map[int]map[string]nestedBody) map[int]func([]byte) ([]byte, error) {
	up := map[int]func([]byte) ([]byte, error){}
	for v, from := range nests {
		to, ok := nests[v+1]
		if !ok {
			continue
		}
		up[v] = func(body []byte) ([]byte, error) {
			var members map[string]json.RawMessage
			if err := json.Unmarshal(body, &members); err != nil {
				return nil, err
			}
			for name, raw := range members {
				f, t := from[name], to[name]
				if f.typ == "" || f == t || bytes.Equal(raw, []byte("null")) {
					continue
				}
				if f.typ != t.typ {
					return nil, fmt.Errorf("member %q nests %s in version %d, %s in version %d", name, f.typ, v, t.typ, v+1)
				}
				lifted, err := lift(f.typ, raw, f.version, t.version)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				members[name] = lifted
			}
			return json.Marshal(members)
		}
	}
	return up
}

// withoutNUL is body with each NUL character of its strings (the escape
// \u0000) replaced by U+FFFD. Commands are refused such characters, but a
// log written before that may hold them, and PostgreSQL cannot store a NUL
// in text or jsonb: read as the replacement character, the event projects
// alike into either read model. A body without one is returned as is.
func withoutNUL(body []byte) []byte {
	const esc = `\u0000`
	if !bytes.Contains(body, []byte(esc)) {
		return body
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		if body[i] != '\\' {
			out = append(out, body[i])
			i++
			continue
		}
		// An escape: \u0000 is a NUL; any other (\\ among them) is copied
		// whole, so that the text \u0000 written as \\u0000 stays as it is.
		if i+len(esc) <= len(body) && string(body[i:i+len(esc)]) == esc {
			out = append(out, `\ufffd`...)
			i += len(esc)
			continue
		}
		end := min(i+2, len(body))
		out = append(out, body[i:end]...)
		i = end
	}
	return out
}

// decodeAs returns the decoder of one event type: the fast reader
// (fastjson.go) for its members when it accepts the body, else
// encoding/json. Either way
// normalizeIn runs on the result, and both give the same event for every
// body the fast reader accepts.
func decodeAs[T Event](members []member[T]) func([]byte) (Event, error) {
	return func(body []byte) (Event, error) {
		// Normalised in place and boxed once: the value passed to normalize
		// would be boxed, and one it changes boxed again on the way out.
		d := &struct {
			r reader
			v T
		}{r: reader{b: body, ok: true}} // one allocation for both
		if object(&d.r, &d.v, members); d.r.end() {
			normalizeIn(&d.v)
			return d.v, nil
		}
		v := new(T)
		if err := json.Unmarshal(body, v); err != nil {
			return nil, err
		}
		normalizeIn(v)
		return *v, nil
	}
}

// deref turns a pointer to one of this package's events into the value, so
// that callers may pass either.
func deref(e Event) Event {
	switch v := e.(type) {
	case *PersonRegistered:
		return derefOrNil(v)
	case *PersonTransferred:
		return derefOrNil(v)
	case *PersonDeparted:
		return derefOrNil(v)
	case *EngagementRecorded:
		return derefOrNil(v)
	case *TechnologySuccessionRecorded:
		return derefOrNil(v)
	case *SubordinateDevelopmentRecorded:
		return derefOrNil(v)
	case *ThemeAssessed:
		return derefOrNil(v)
	case *AccomplishmentAmended:
		return derefOrNil(v)
	case *AccomplishmentRetracted:
		return derefOrNil(v)
	}
	return e
}

func derefOrNil[T Event](p *T) Event {
	if p == nil {
		return nil
	}
	return *p
}

// normalize makes list fields non-nil so that a body always spells an empty
// list as [] (never null) and a decoded event compares equal to a built one.
func normalize(e Event) Event {
	switch v := e.(type) {
	case EngagementRecorded:
		normalizeIn(&v)
		return v
	case TechnologySuccessionRecorded:
		normalizeIn(&v)
		return v
	case AccomplishmentAmended:
		normalizeIn(&v)
		return v
	}
	return e
}

// normalizeIn is normalize on the event p points to, in place; an
// amendment's nested event is normalised in a copy, so that what the
// caller's pointer shares is left as it was.
func normalizeIn(p any) {
	switch v := p.(type) {
	case *EngagementRecorded:
		if v.Complexity == nil {
			v.Complexity = []string{}
		}
	case *TechnologySuccessionRecorded:
		if v.Fields == nil {
			v.Fields = []string{}
		}
	case *AccomplishmentAmended:
		if v.Engagement != nil {
			n := *v.Engagement
			normalizeIn(&n)
			v.Engagement = &n
		}
		if v.Succession != nil {
			n := *v.Succession
			normalizeIn(&n)
			v.Succession = &n
		}
	}
}

// engagementRecordedV1 is EngagementRecorded as written under schema
// version 1, kept only to read old bodies. Version 1 called withinBudget
// "budgetKept" and nested the size attributes in a "size" object; version 2
// spells every attribute flat and exactly as the GraphQL input does, so that
// the log, the API and the rule book use one vocabulary.
type engagementRecordedV1 struct {
	AccomplishmentID string      `json:"accomplishmentId"`
	Field            string      `json:"field"`
	Title            string      `json:"title"`
	Role             string      `json:"role"`
	StartedOn        domain.Date `json:"startedOn"`
	CompletedOn      domain.Date `json:"completedOn,omitzero"`
	Outcome          string      `json:"outcome"`
	BudgetKept       bool        `json:"budgetKept"`
	Size             struct {
		PeakHeadcount          *int64 `json:"peakHeadcount,omitempty"`
		AnnualContractValueYen *int64 `json:"annualContractValueYen,omitempty"`
		InstallationSites      *int64 `json:"installationSites,omitempty"`
		InquiriesPerYear       *int64 `json:"inquiriesPerYear,omitempty"`
	} `json:"size"`
	Complexity []string `json:"complexity"`
}

func upcastEngagementV1(body []byte) ([]byte, error) {
	var v1 engagementRecordedV1
	if err := json.Unmarshal(body, &v1); err != nil {
		return nil, err
	}
	return json.Marshal(normalize(EngagementRecorded{
		AccomplishmentID:       v1.AccomplishmentID,
		Field:                  v1.Field,
		Title:                  v1.Title,
		Role:                   v1.Role,
		StartedOn:              v1.StartedOn,
		CompletedOn:            v1.CompletedOn,
		Outcome:                v1.Outcome,
		WithinBudget:           v1.BudgetKept,
		PeakHeadcount:          v1.Size.PeakHeadcount,
		AnnualContractValueYen: v1.Size.AnnualContractValueYen,
		InstallationSites:      v1.Size.InstallationSites,
		InquiriesPerYear:       v1.Size.InquiriesPerYear,
		Complexity:             v1.Complexity,
	}))
}
