package events

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/careerledger/careerledger/domain"
)

// The fast codec reads and writes event bodies without encoding/json's
// reflection. It exists only to be cheaper: what it produces is exactly
// what encoding/json produces, byte for byte and value for value.
//
// The reader accepts a strict subset of JSON: one object whose keys are
// spelled exactly as the struct's json tags, each at most once, with values
// of the field's own kind (a string, true or false, an integer that fits
// int64, an array of strings, a nested event object) and JSON whitespace
// between the tokens. Dates are parsed by domain.Date's own UnmarshalText.
// Anything else (null, an unknown or differently cased key, a repeated key,
// a float, invalid UTF-8, trailing data, ...) makes it give up, and the body
// is decoded by encoding/json as before, with the same result or error.
//
// The writer spells a body as json.Marshal does: fields in struct order,
// omitted under the same omitempty and omitzero rules, strings escaped the
// same way (HTML characters, control characters, invalid UTF-8, U+2028 and
// U+2029 included).

// reader is the state of one fast decode. A failure sets ok to false and
// moves to the end of the input, so that every later step fails too.
type reader struct {
	b   []byte
	i   int
	ok  bool
	buf []byte // the last string read that held escapes, unescaped
}

func (r *reader) fail() { r.ok, r.i = false, len(r.b) }

// ws skips JSON whitespace.
func (r *reader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// next skips whitespace and consumes c if it comes next.
func (r *reader) next(c byte) bool {
	if r.ws(); r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

func (r *reader) expect(c byte) {
	if !r.next(c) {
		r.fail()
	}
}

// end reports whether the whole input was read: nothing but whitespace
// follows.
func (r *reader) end() bool {
	r.ws()
	return r.ok && r.i == len(r.b)
}

// member is one key of a body and how to read its value into a T.
type member[T any] struct {
	key  string
	read func(*reader, *T)
}

// object reads into e an object whose keys are among members' (at most
// 64), each at most once.
func object[T any](r *reader, e *T, members []member[T]) {
	r.expect('{')
	if r.next('}') {
		return
	}
	var seen uint64
	for r.ok {
		r.expect('"')
		j := bytes.IndexByte(r.b[r.i:], '"')
		k := -1
		if j >= 0 {
			for n := range members {
				if string(r.b[r.i:r.i+j]) == members[n].key {
					k = n
					break
				}
			}
		}
		if k < 0 || seen&(1<<k) != 0 {
			r.fail()
			return
		}
		seen |= 1 << k
		r.i += j + 1
		r.expect(':')
		members[k].read(r, e)
		if !r.next(',') {
			break
		}
	}
	r.expect('}')
}

// text reads a string and returns its contents: a slice of the input when
// it holds no escape, else r.buf, valid until the next call.
func (r *reader) text() []byte {
	r.expect('"')
	start, escaped := r.i, false
	r.buf = r.buf[:0]
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case plain[c]:
			r.i++
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			if !escaped {
				return s
			}
			r.buf = append(r.buf, s...)
			return r.buf
		case c == '\\':
			r.buf = append(r.buf, r.b[start:r.i]...)
			r.escape()
			start, escaped = r.i, true
		case c < ' ':
			r.fail()
		case c < utf8.RuneSelf:
			r.i++
		default:
			c, n := utf8.DecodeRune(r.b[r.i:])
			if c == utf8.RuneError && n == 1 {
				r.fail() // encoding/json would substitute U+FFFD
			}
			r.i += n
		}
	}
	r.fail()
	return nil
}

// escape reads one escape sequence into r.buf, as encoding/json does: a
// lone or mismatched surrogate becomes U+FFFD.
func (r *reader) escape() {
	const from, to = `"\/bfnrt`, "\"\\/\b\f\n\r\t"
	b := r.b[r.i:]
	if len(b) < 2 {
		r.fail()
		return
	}
	if k := strings.IndexByte(from, b[1]); k >= 0 {
		r.buf = append(r.buf, to[k])
		r.i += 2
		return
	}
	c := hex4(b)
	if c < 0 {
		r.fail()
		return
	}
	r.i += 6
	if utf16.IsSurrogate(c) {
		if d := utf16.DecodeRune(c, hex4(b[6:])); d != utf8.RuneError {
			c = d
			r.i += 6
		}
	}
	r.buf = utf8.AppendRune(r.buf, c) // U+FFFD for a surrogate left alone
}

// hex4 is the value of the escape \uXXXX that b starts with, or -1.
func hex4(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var c rune
	for _, h := range b[2:6] {
		switch {
		case '0' <= h && h <= '9':
			h -= '0'
		case 'a' <= h && h <= 'f':
			h -= 'a' - 10
		case 'A' <= h && h <= 'F':
			h -= 'A' - 10
		default:
			return -1
		}
		c = c<<4 | rune(h)
	}
	return c
}

func (r *reader) str() string { return string(r.text()) }

func (r *reader) date() (d domain.Date) {
	if s := r.text(); r.ok && d.UnmarshalText(s) != nil {
		r.fail()
	}
	return d
}

func (r *reader) boolean() bool {
	r.ws()
	switch {
	case bytes.HasPrefix(r.b[r.i:], []byte("true")):
		r.i += 4
		return true
	case bytes.HasPrefix(r.b[r.i:], []byte("false")):
		r.i += 5
		return false
	}
	r.fail()
	return false
}

// int reads an integer without fraction or exponent that fits an int64.
func (r *reader) int() *int64 {
	neg := r.next('-')
	limit := uint64(1<<63 - 1)
	if neg {
		limit++
	}
	var n uint64
	digits := 0
	for ; r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9'; r.i++ {
		d := uint64(r.b[r.i] - '0')
		if (digits == 1 && n == 0) || n > (limit-d)/10 {
			r.fail() // a leading zero, or beyond int64
			return nil
		}
		n = n*10 + d
		digits++
	}
	if digits == 0 {
		r.fail()
		return nil
	}
	v := int64(n)
	if neg {
		v = -v
	}
	return &v
}

func (r *reader) strs() []string {
	r.expect('[')
	out := []string{}
	if r.next(']') {
		return out
	}
	for r.ok {
		out = append(out, r.str())
		if !r.next(',') {
			break
		}
	}
	r.expect(']')
	return out
}

// The members of each event's body, as its struct's json tags spell them.

var registeredMembers = []member[PersonRegistered]{
	{"personId", func(r *reader, e *PersonRegistered) { e.PersonID = r.str() }},
	{"name", func(r *reader, e *PersonRegistered) { e.Name = r.str() }},
	{"department", func(r *reader, e *PersonRegistered) { e.Department = r.str() }},
	{"joinedOn", func(r *reader, e *PersonRegistered) { e.JoinedOn = r.date() }},
}

var transferredMembers = []member[PersonTransferred]{
	{"personId", func(r *reader, e *PersonTransferred) { e.PersonID = r.str() }},
	{"department", func(r *reader, e *PersonTransferred) { e.Department = r.str() }},
	{"effectiveOn", func(r *reader, e *PersonTransferred) { e.EffectiveOn = r.date() }},
}

var departedMembers = []member[PersonDeparted]{
	{"personId", func(r *reader, e *PersonDeparted) { e.PersonID = r.str() }},
	{"effectiveOn", func(r *reader, e *PersonDeparted) { e.EffectiveOn = r.date() }},
}

var engagementMembers = []member[EngagementRecorded]{
	{"accomplishmentId", func(r *reader, e *EngagementRecorded) { e.AccomplishmentID = r.str() }},
	{"field", func(r *reader, e *EngagementRecorded) { e.Field = r.str() }},
	{"title", func(r *reader, e *EngagementRecorded) { e.Title = r.str() }},
	{"role", func(r *reader, e *EngagementRecorded) { e.Role = r.str() }},
	{"startedOn", func(r *reader, e *EngagementRecorded) { e.StartedOn = r.date() }},
	{"completedOn", func(r *reader, e *EngagementRecorded) { e.CompletedOn = r.date() }},
	{"outcome", func(r *reader, e *EngagementRecorded) { e.Outcome = r.str() }},
	{"withinBudget", func(r *reader, e *EngagementRecorded) { e.WithinBudget = r.boolean() }},
	{"peakHeadcount", func(r *reader, e *EngagementRecorded) { e.PeakHeadcount = r.int() }},
	{"annualContractValueYen", func(r *reader, e *EngagementRecorded) { e.AnnualContractValueYen = r.int() }},
	{"installationSites", func(r *reader, e *EngagementRecorded) { e.InstallationSites = r.int() }},
	{"inquiriesPerYear", func(r *reader, e *EngagementRecorded) { e.InquiriesPerYear = r.int() }},
	{"complexity", func(r *reader, e *EngagementRecorded) { e.Complexity = r.strs() }},
}

var successionMembers = []member[TechnologySuccessionRecorded]{
	{"accomplishmentId", func(r *reader, e *TechnologySuccessionRecorded) { e.AccomplishmentID = r.str() }},
	{"kind", func(r *reader, e *TechnologySuccessionRecorded) { e.Kind = r.str() }},
	{"title", func(r *reader, e *TechnologySuccessionRecorded) { e.Title = r.str() }},
	{"occurredOn", func(r *reader, e *TechnologySuccessionRecorded) { e.OccurredOn = r.date() }},
	{"fields", func(r *reader, e *TechnologySuccessionRecorded) { e.Fields = r.strs() }},
}

var developmentMembers = []member[SubordinateDevelopmentRecorded]{
	{"accomplishmentId", func(r *reader, e *SubordinateDevelopmentRecorded) { e.AccomplishmentID = r.str() }},
	{"kind", func(r *reader, e *SubordinateDevelopmentRecorded) { e.Kind = r.str() }},
	{"occurredOn", func(r *reader, e *SubordinateDevelopmentRecorded) { e.OccurredOn = r.date() }},
	{"subordinateId", func(r *reader, e *SubordinateDevelopmentRecorded) { e.SubordinateID = r.str() }},
}

var assessmentMembers = []member[ThemeAssessed]{
	{"accomplishmentId", func(r *reader, e *ThemeAssessed) { e.AccomplishmentID = r.str() }},
	{"theme", func(r *reader, e *ThemeAssessed) { e.Theme = r.str() }},
	{"proficiency", func(r *reader, e *ThemeAssessed) { e.Proficiency = r.str() }},
	{"assessedOn", func(r *reader, e *ThemeAssessed) { e.AssessedOn = r.date() }},
}

var amendedMembers = []member[AccomplishmentAmended]{
	{"accomplishmentId", func(r *reader, e *AccomplishmentAmended) { e.AccomplishmentID = r.str() }},
	{"engagement", func(r *reader, e *AccomplishmentAmended) { e.Engagement = nested(r, engagementMembers) }},
	{"succession", func(r *reader, e *AccomplishmentAmended) { e.Succession = nested(r, successionMembers) }},
	{"development", func(r *reader, e *AccomplishmentAmended) { e.Development = nested(r, developmentMembers) }},
	{"assessment", func(r *reader, e *AccomplishmentAmended) { e.Assessment = nested(r, assessmentMembers) }},
}

// nested reads an event object nested in another.
func nested[T any](r *reader, members []member[T]) *T {
	e := new(T)
	object(r, e, members)
	return e
}

var retractedMembers = []member[AccomplishmentRetracted]{
	{"accomplishmentId", func(r *reader, e *AccomplishmentRetracted) { e.AccomplishmentID = r.str() }},
	{"reason", func(r *reader, e *AccomplishmentRetracted) { e.Reason = r.str() }},
}

// The json functions below write a body as json.Marshal spells it, one
// member at a time.

// jsonKey starts a member, after a comma unless it is the object's first.
func jsonKey(b []byte, k string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	return append(append(append(b, '"'), k...), '"', ':')
}

func jsonStr(b []byte, k, s string) []byte {
	return jsonQuoted(jsonKey(b, k), s)
}

// jsonDate writes d as Date.MarshalText does ("" when absent).
func jsonDate(b []byte, k string, d domain.Date) []byte {
	b = append(jsonKey(b, k), '"')
	if !d.IsZero() {
		b = d.Time().AppendFormat(b, "2006-01-02")
	}
	return append(b, '"')
}

func jsonBool(b []byte, k string, v bool) []byte {
	return strconv.AppendBool(jsonKey(b, k), v)
}

// jsonInt writes *p, or nothing for nil (omitempty).
func jsonInt(b []byte, k string, p *int64) []byte {
	if p == nil {
		return b
	}
	return strconv.AppendInt(jsonKey(b, k), *p, 10)
}

func jsonStrs(b []byte, k string, v []string) []byte {
	b = jsonKey(b, k)
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonQuoted(b, s)
	}
	return append(b, ']')
}

// plain[c] reports whether c is an ASCII byte that stands for itself in a
// JSON string, and that json.Marshal writes as is: neither a control
// character, nor '"', '\\', '<', '>' or '&'.
var plain = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, c)
	}
	return t
}()

// jsonQuoted appends s as a JSON string escaped as encoding/json escapes
// it: \" \\ \b \f \n \r \t, \u00XX for the other control characters and
// for < > &, \ufffd for each byte of invalid UTF-8, \u2028 and \u2029.
func jsonQuoted(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && n == 1:
				b = append(append(b, s[start:i]...), `\ufffd`...)
				start = i + n
			case r == '\u2028' || r == '\u2029':
				b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xF])
				start = i + n
			}
			i += n
			continue
		}
		b = append(b, s[start:i]...)
		i++
		start = i
		switch k := strings.IndexByte("\"\\\b\f\n\r\t", c); {
		case k >= 0:
			b = append(b, '\\', `"\bfnrt`[k])
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
	}
	return append(append(b, s[start:]...), '"')
}

func jsonRegistered(b []byte, e *PersonRegistered) []byte {
	b = append(b, '{')
	b = jsonStr(b, "personId", e.PersonID)
	b = jsonStr(b, "name", e.Name)
	b = jsonStr(b, "department", e.Department)
	b = jsonDate(b, "joinedOn", e.JoinedOn)
	return append(b, '}')
}

func jsonTransferred(b []byte, e *PersonTransferred) []byte {
	b = append(b, '{')
	b = jsonStr(b, "personId", e.PersonID)
	b = jsonStr(b, "department", e.Department)
	b = jsonDate(b, "effectiveOn", e.EffectiveOn)
	return append(b, '}')
}

func jsonDeparted(b []byte, e *PersonDeparted) []byte {
	b = append(b, '{')
	b = jsonStr(b, "personId", e.PersonID)
	b = jsonDate(b, "effectiveOn", e.EffectiveOn)
	return append(b, '}')
}

func jsonEngagement(b []byte, e *EngagementRecorded) []byte {
	b = append(b, '{')
	b = jsonStr(b, "accomplishmentId", e.AccomplishmentID)
	b = jsonStr(b, "field", e.Field)
	b = jsonStr(b, "title", e.Title)
	b = jsonStr(b, "role", e.Role)
	b = jsonDate(b, "startedOn", e.StartedOn)
	if !e.CompletedOn.IsZero() {
		b = jsonDate(b, "completedOn", e.CompletedOn)
	}
	b = jsonStr(b, "outcome", e.Outcome)
	b = jsonBool(b, "withinBudget", e.WithinBudget)
	b = jsonInt(b, "peakHeadcount", e.PeakHeadcount)
	b = jsonInt(b, "annualContractValueYen", e.AnnualContractValueYen)
	b = jsonInt(b, "installationSites", e.InstallationSites)
	b = jsonInt(b, "inquiriesPerYear", e.InquiriesPerYear)
	b = jsonStrs(b, "complexity", e.Complexity)
	return append(b, '}')
}

func jsonSuccession(b []byte, e *TechnologySuccessionRecorded) []byte {
	b = append(b, '{')
	b = jsonStr(b, "accomplishmentId", e.AccomplishmentID)
	b = jsonStr(b, "kind", e.Kind)
	b = jsonStr(b, "title", e.Title)
	b = jsonDate(b, "occurredOn", e.OccurredOn)
	b = jsonStrs(b, "fields", e.Fields)
	return append(b, '}')
}

func jsonDevelopment(b []byte, e *SubordinateDevelopmentRecorded) []byte {
	b = append(b, '{')
	b = jsonStr(b, "accomplishmentId", e.AccomplishmentID)
	b = jsonStr(b, "kind", e.Kind)
	b = jsonDate(b, "occurredOn", e.OccurredOn)
	if e.SubordinateID != "" {
		b = jsonStr(b, "subordinateId", e.SubordinateID)
	}
	return append(b, '}')
}

func jsonAssessment(b []byte, e *ThemeAssessed) []byte {
	b = append(b, '{')
	b = jsonStr(b, "accomplishmentId", e.AccomplishmentID)
	b = jsonStr(b, "theme", e.Theme)
	b = jsonStr(b, "proficiency", e.Proficiency)
	b = jsonDate(b, "assessedOn", e.AssessedOn)
	return append(b, '}')
}

func jsonAmended(b []byte, e *AccomplishmentAmended) []byte {
	b = append(b, '{')
	b = jsonStr(b, "accomplishmentId", e.AccomplishmentID)
	if e.Engagement != nil {
		b = jsonKey(b, "engagement")
		b = jsonEngagement(b, e.Engagement)
	}
	if e.Succession != nil {
		b = jsonKey(b, "succession")
		b = jsonSuccession(b, e.Succession)
	}
	if e.Development != nil {
		b = jsonKey(b, "development")
		b = jsonDevelopment(b, e.Development)
	}
	if e.Assessment != nil {
		b = jsonKey(b, "assessment")
		b = jsonAssessment(b, e.Assessment)
	}
	return append(b, '}')
}

func jsonRetracted(b []byte, e *AccomplishmentRetracted) []byte {
	b = append(b, '{')
	b = jsonStr(b, "accomplishmentId", e.AccomplishmentID)
	b = jsonStr(b, "reason", e.Reason)
	return append(b, '}')
}

// marshal returns e's body as json.Marshal would, or nil for a type the
// writer does not know.
func marshal(e Event) []byte {
	var buf [512]byte // on the stack: the body is copied out at the end
	b := buf[:0]
	switch v := e.(type) {
	case PersonRegistered:
		b = jsonRegistered(b, &v)
	case PersonTransferred:
		b = jsonTransferred(b, &v)
	case PersonDeparted:
		b = jsonDeparted(b, &v)
	case EngagementRecorded:
		b = jsonEngagement(b, &v)
	case TechnologySuccessionRecorded:
		b = jsonSuccession(b, &v)
	case SubordinateDevelopmentRecorded:
		b = jsonDevelopment(b, &v)
	case ThemeAssessed:
		b = jsonAssessment(b, &v)
	case AccomplishmentAmended:
		b = jsonAmended(b, &v)
	case AccomplishmentRetracted:
		b = jsonRetracted(b, &v)
	default:
		return nil
	}
	return bytes.Clone(b)
}
