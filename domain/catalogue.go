package domain

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// The default catalogue: the whole ITSS Operations rule set of levels.md.
//
//go:embed catalogue/itss-operations.json
var defaultCatalogueJSON []byte

var defaultCatalogue = sync.OnceValue(func() *Catalogue {
	c, err := ParseCatalogue(defaultCatalogueJSON)
	if err != nil {
		panic("domain: embedded catalogue: " + err.Error())
	}
	return c
})

// DefaultCatalogue returns the built-in ITSS Operations catalogue, parsed
// once. It is shared and read-only.
//
//	c := domain.DefaultCatalogue()
//	fmt.Println(c.ID(), c.Version()) // itss-operations 1
func DefaultCatalogue() *Catalogue { return defaultCatalogue() }

// DefaultCatalogueJSON returns a copy of the built-in catalogue file, e.g. as
// a starting point for an organisation's own catalogue.
func DefaultCatalogueJSON() []byte { return bytes.Clone(defaultCatalogueJSON) }

// EngagementDate says from which of its dates an engagement counts toward a
// level.
type EngagementDate string

// The engagement dates a level can count from.
const (
	FromStartedOn   EngagementDate = "STARTED_ON"
	FromCompletedOn EngagementDate = "COMPLETED_ON"
)

// SizeAttribute names what a level's size alternative measures on one
// engagement: one of its recorded size attributes, or how many of the
// level's complexity criteria it meets.
type SizeAttribute string

// The size attributes. SizeCriteriaMet counts the engagement's complexity
// codes that are in the level's criteria list.
const (
	SizePeakHeadcount          SizeAttribute = "peakHeadcount"
	SizeAnnualContractValueYen SizeAttribute = "annualContractValueYen"
	SizeInstallationSites      SizeAttribute = "installationSites"
	SizeInquiriesPerYear       SizeAttribute = "inquiriesPerYear"
	SizeCriteriaMet            SizeAttribute = "criteriaMet"
)

// SizeAttributes lists every size attribute.
var SizeAttributes = []SizeAttribute{SizePeakHeadcount, SizeAnnualContractValueYen,
	SizeInstallationSites, SizeInquiriesPerYear, SizeCriteriaMet}

// Valid reports whether a is a known size attribute.
func (a SizeAttribute) Valid() bool { return indexOf(SizeAttributes, a) >= 0 }

// EvidenceWindow is how long a piece of evidence counts after its effective
// date: evidence effective on E counts on the days from E up to, not
// including, E plus the window. A catalogue without a window never lets
// evidence expire (levels.md, Reading 4).
type EvidenceWindow struct {
	Years  int `json:"years,omitempty"`
	Months int `json:"months,omitempty"`
	Days   int `json:"days,omitempty"`
}

// ExpiresOn returns the first day on which evidence effective on d no longer
// counts: the years and months are calendar months, landing on the same day
// of the month or, when that month is shorter, on its last day (2024-01-31
// plus a month is 2024-02-29, 2024-02-29 plus a year 2025-02-28), and the
// days are added after them. So later evidence never expires sooner, as it
// would with time.AddDate's overflow into the next month (2024-01-31 plus a
// month would be 2024-03-02, after 2024-02-01's 2024-03-01).
func (w EvidenceWindow) ExpiresOn(d Date) Date {
	return d.addMonthsClamped(12*w.Years + w.Months).AddDays(w.Days)
}

// String describes the window in words, e.g. "5 years".
func (w EvidenceWindow) String() string {
	var parts []string
	for _, p := range []struct {
		n    int
		unit string
	}{{w.Years, "year"}, {w.Months, "month"}, {w.Days, "day"}} {
		switch {
		case p.n == 1:
			parts = append(parts, "1 "+p.unit)
		case p.n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", p.n, p.unit))
		}
	}
	return strings.Join(parts, " ")
}

// FieldCriteria says which complexity criteria engagements in a field may
// record at all; recording any other code is invalid input.
type FieldCriteria struct {
	Field    Field       `json:"field"`
	Criteria []Criterion `json:"criteria"`
}

// Requirement is everything one level asks of one field (or, for a common
// level, of every field). A nil part asks nothing.
type Requirement struct {
	Engagement             *EngagementRule  `json:"engagement,omitempty"`
	Themes                 *ThemeRule       `json:"themes,omitempty"`
	TechnologySuccession   *SuccessionRule  `json:"technologySuccession,omitempty"`
	SubordinateDevelopment *DevelopmentRule `json:"subordinateDevelopment,omitempty"`
}

// EngagementRule asks for one qualifying engagement: a single engagement
// that meets the role, outcome, budget, complexity and size lines together
// (levels.md, Reading 1).
type EngagementRule struct {
	MinRole      Role           `json:"minRole"`                // a higher role satisfies it
	Outcomes     []Outcome      `json:"outcomes,omitempty"`     // accepted outcomes; empty accepts any
	WithinBudget bool           `json:"withinBudget,omitempty"` // the engagement must be within budget
	CountsFrom   EngagementDate `json:"countsFrom"`             // the date from which it counts
	Criteria     []Criterion    `json:"criteria,omitempty"`     // the complexity criteria that count
	MinCriteria  int            `json:"minCriteria,omitempty"`  // how many of Criteria it must meet
	// Size lists alternatives of which the engagement must meet one; empty
	// means any size (levels.md, Reading 2).
	Size []SizeAlternative `json:"size,omitempty"`
}

// SizeAlternative is met when the engagement's Attribute is recorded and is
// at least Min (thresholds are inclusive).
type SizeAlternative struct {
	Attribute SizeAttribute `json:"attribute"`
	Min       int64         `json:"min"`
}

// ThemeRule asks for at least MinCount of Themes to be in force at
// MinProficiency or higher.
type ThemeRule struct {
	Themes         []Theme     `json:"themes"`
	MinProficiency Proficiency `json:"minProficiency"`
	MinCount       int         `json:"minCount"`
}

// SuccessionRule asks for at least MinCount technology-succession items that
// name the field; with DistinctKinds, items of one kind count once
// (levels.md, Reading 3).
type SuccessionRule struct {
	MinCount      int  `json:"minCount"`
	DistinctKinds bool `json:"distinctKinds,omitempty"`
}

// DevelopmentRule asks for at least MinCount subordinate-development records.
type DevelopmentRule struct {
	MinCount int `json:"minCount"`
}

// LevelRule is one level of a catalogue, as shown to users. A common level
// has Requirement set and holds for every field once attained; a per-field
// level has one FieldRequirement per catalogue field, in catalogue order.
type LevelRule struct {
	Level       int
	Common      bool
	Requirement *Requirement
	Fields      []FieldRequirement
}

// FieldRequirement is what a per-field level asks of one field.
type FieldRequirement struct {
	Field       Field
	Requirement Requirement
}

// Catalogue is a versioned, validated rule set: which fields exist, what each
// level asks of each field, and every threshold. It is immutable; every
// accessor returns a copy.
type Catalogue struct {
	file catalogueFile // validated source, for the read-only views

	fields   []Field
	usable   []uint64 // per field: criteria bits it may record
	window   *EvidenceWindow
	levels   []compiledLevel
	reqs     []req
	startReq uint64 // bits of reqs whose engagement counts from startedOn
	doneReq  uint64 // bits of reqs whose engagement counts from completedOn
	// Which reqs a sweep event can change the judgment of (see timeline):
	// per succession scope (fields, then "any field"), for developments,
	// and per theme.
	succReqs  []uint64
	devReqs   uint64
	themeReqs []uint64
}

// catalogueFile is the JSON shape of a catalogue file.
type catalogueFile struct {
	ID             string          `json:"id"`
	Version        int             `json:"version"`
	Name           string          `json:"name,omitempty"`
	EvidenceWindow *EvidenceWindow `json:"evidenceWindow,omitempty"`
	Fields         []FieldCriteria `json:"fields"`
	Levels         []levelFile     `json:"levels"`
}

type levelFile struct {
	Level       int                    `json:"level"`
	Common      bool                   `json:"common"`
	Requirement *Requirement           `json:"requirement,omitempty"`
	Fields      map[Field]*Requirement `json:"fields,omitempty"`
}

// MaxCatalogueLevels is the most levels a catalogue may list: no level
// above it exists in any catalogue (careerctl refuses one before asking).
const MaxCatalogueLevels = maxLevels

// The limits that keep compiled rules in machine words.
const (
	maxLevels       = 9
	maxRequirements = 64
)

// ID returns the catalogue's id, e.g. "itss-operations".
func (c *Catalogue) ID() string { return c.file.ID }

// Version returns the catalogue's version; every standing records it.
func (c *Catalogue) Version() int { return c.file.Version }

// Name returns the catalogue's human-readable name ("" when not given).
func (c *Catalogue) Name() string { return c.file.Name }

// Fields returns the catalogue's specialty fields in catalogue order.
func (c *Catalogue) Fields() []Field { return slices.Clone(c.fields) }

// HasField reports whether f is one of the catalogue's fields.
func (c *Catalogue) HasField(f Field) bool { return c.fieldIndex(f) >= 0 }

// MaxLevel returns the highest level of the catalogue (5 for ITSS).
func (c *Catalogue) MaxLevel() int { return len(c.levels) }

// Window returns the evidence window and true, or false when evidence never
// expires.
func (c *Catalogue) Window() (EvidenceWindow, bool) {
	if c.window == nil {
		return EvidenceWindow{}, false
	}
	return *c.window, true
}

// FieldCriteria returns, per field in catalogue order, the complexity
// criteria its engagements may record.
func (c *Catalogue) FieldCriteria() []FieldCriteria {
	out := make([]FieldCriteria, len(c.file.Fields))
	for i, fc := range c.file.Fields {
		out[i] = FieldCriteria{Field: fc.Field, Criteria: slices.Clone(fc.Criteria)}
	}
	return out
}

// CriteriaOf returns the complexity criteria engagements in f may record
// (nil for a field the catalogue does not have).
func (c *Catalogue) CriteriaOf(f Field) []Criterion { return slices.Clone(c.criteriaOf(f)) }

// criteriaOf is CriteriaOf without the copy, for the catalogue's own
// reading (validating an engagement, which every recorded one is): the
// caller must not change it.
func (c *Catalogue) criteriaOf(f Field) []Criterion {
	if i := c.fieldIndex(f); i >= 0 {
		return c.file.Fields[i].Criteria
	}
	return nil
}

// Levels returns every level of the catalogue, lowest first.
func (c *Catalogue) Levels() []LevelRule {
	out := make([]LevelRule, len(c.file.Levels))
	for i, lf := range c.file.Levels {
		lr := LevelRule{Level: lf.Level, Common: lf.Common}
		if lf.Common {
			r := lf.Requirement.clone()
			lr.Requirement = &r
		} else {
			for _, f := range c.fields {
				lr.Fields = append(lr.Fields, FieldRequirement{Field: f, Requirement: lf.Fields[f].clone()})
			}
		}
		out[i] = lr
	}
	return out
}

// Requirement returns what level asks of field f (the common requirement for
// a common level), and false when the catalogue has no such level or field.
func (c *Catalogue) Requirement(level int, f Field) (Requirement, bool) {
	fi := c.fieldIndex(f)
	if level < 1 || level > len(c.levels) || fi < 0 {
		return Requirement{}, false
	}
	return c.reqs[c.reqFor(level, fi)].src.clone(), true
}

// MarshalJSON encodes the catalogue in its file format;
// ParseCatalogue(MarshalJSON()) gives back an equal catalogue.
func (c *Catalogue) MarshalJSON() ([]byte, error) {
	return json.MarshalIndent(c.file, "", "  ")
}

func (r *Requirement) clone() Requirement {
	out := Requirement{}
	if e := r.Engagement; e != nil {
		cp := *e
		cp.Outcomes = slices.Clone(e.Outcomes)
		cp.Criteria = slices.Clone(e.Criteria)
		cp.Size = slices.Clone(e.Size)
		out.Engagement = &cp
	}
	if t := r.Themes; t != nil {
		cp := *t
		cp.Themes = slices.Clone(t.Themes)
		out.Themes = &cp
	}
	if s := r.TechnologySuccession; s != nil {
		cp := *s
		out.TechnologySuccession = &cp
	}
	if d := r.SubordinateDevelopment; d != nil {
		cp := *d
		out.SubordinateDevelopment = &cp
	}
	return out
}

// CatalogueError reports a malformed catalogue: the line (1-based), the JSON
// path of the offending value where known, and the problem.
type CatalogueError struct {
	Line    int
	Path    string
	Problem string
}

// Error formats the error as "catalogue line 42: levels[3].fields...: problem".
func (e *CatalogueError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("catalogue line %d: %s", e.Line, e.Problem)
	}
	return fmt.Sprintf("catalogue line %d: %s: %s", e.Line, e.Path, e.Problem)
}

// ParseCatalogue decodes and validates a catalogue file. A malformed one (bad
// JSON, an unknown key or enum code, a missing level or field, a negative or
// unreachable threshold) is refused with a *CatalogueError naming the line.
//
//	c, err := domain.ParseCatalogue(data)
//	// err: catalogue line 42: levels[3].fields.SERVICE_DESK.engagement.criteria[1]: unknown criterion "FOO"
func ParseCatalogue(data []byte) (*Catalogue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f catalogueFile
	if err := dec.Decode(&f); err != nil {
		return nil, decodeError(data, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &CatalogueError{Line: lineAt(data, dec.InputOffset()),
			Problem: "unexpected data after the catalogue object"}
	}
	// encoding/json keeps the last of two equal keys: one of them is a
	// mistake the file's author should see.
	if path, key, off, dup := duplicateKey(data); dup {
		return nil, &CatalogueError{Line: lineAt(data, off), Path: path, Problem: fmt.Sprintf("duplicate key %q", key)}
	}
	c, perr := compileCatalogue(f)
	if perr != nil {
		return nil, &CatalogueError{Line: lineOfPath(data, perr.path), Path: perr.path, Problem: perr.problem}
	}
	return c, nil
}

func decodeError(data []byte, dec *json.Decoder, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return &CatalogueError{Line: 1, Problem: "empty catalogue"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &CatalogueError{Line: lineAt(data, int64(len(data))), Problem: "unexpected end of the catalogue"}
	case errors.As(err, &syn):
		return &CatalogueError{Line: lineAt(data, syn.Offset), Problem: strings.TrimPrefix(syn.Error(), "json: ")}
	case errors.As(err, &typ):
		return &CatalogueError{Line: lineAt(data, typ.Offset), Path: typ.Field,
			Problem: fmt.Sprintf("expected %s, got %s", jsonKind(typ.Type), typ.Value)}
	}
	msg := err.Error()
	if key, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name := strings.Trim(key, `"`)
		path, line := findKey(data, name)
		return &CatalogueError{Line: line, Path: path, Problem: "unknown key " + key}
	}
	return &CatalogueError{Line: lineAt(data, dec.InputOffset()), Problem: strings.TrimPrefix(msg, "json: ")}
}

func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	}
	return t.String()
}

// lineAt converts a byte offset into a 1-based line number.
func lineAt(data []byte, off int64) int {
	off = max(0, min(off, int64(len(data))))
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

// walkJSON visits every value of a syntactically valid JSON document with
// its path ("levels[3].fields.SERVICE_DESK") and the offset just after its
// first token, which lies on the line where the value starts. visit returns
// true to stop.
func walkJSON(data []byte, visit func(path, key string, off int64) bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var value func(path, key string) bool
	value = func(path, key string) bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if visit(path, key, dec.InputOffset()) {
			return false
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return true
		}
		switch d {
		case '{':
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return false
				}
				k, _ := kt.(string)
				p := k
				if path != "" {
					p = path + "." + k
				}
				if !value(p, k) {
					return false
				}
			}
		case '[':
			for i := 0; dec.More(); i++ {
				if !value(fmt.Sprintf("%s[%d]", path, i), "") {
					return false
				}
			}
		}
		_, err = dec.Token()
		return err == nil
	}
	value("", "")
}

// duplicateKey finds the first key repeated within one object of a
// syntactically valid JSON document: its path, the key, and an offset on
// the line where its second value starts. Every object has a path of its
// own (array elements are indexed), so a member is a repeat when its
// object's path and its key were seen before.
func duplicateKey(data []byte) (dupPath, key string, off int64, found bool) {
	seen := map[string]bool{}
	walkJSON(data, func(p, k string, o int64) bool {
		if k == "" && (p == "" || strings.HasSuffix(p, "]")) {
			return false // the document, or an array element: no key
		}
		parent := strings.TrimSuffix(strings.TrimSuffix(p, k), ".")
		// encoding/json matches keys to fields without regard to case:
		// "minRole" and "MinRole" are the same key.
		member := parent + "\x00" + strings.ToLower(k)
		if seen[member] {
			dupPath, key, off, found = p, k, o, true
			return true
		}
		seen[member] = true
		return false
	})
	return dupPath, key, off, found
}

// lineOfPath finds the line of the value at path, or of its deepest present
// ancestor when the value itself is absent (e.g. a missing key).
func lineOfPath(data []byte, path string) int {
	line := 1
	walkJSON(data, func(p, _ string, off int64) bool {
		if p == path {
			line = lineAt(data, off)
			return true
		}
		if p == "" || (strings.HasPrefix(path, p) && (path[len(p)] == '.' || path[len(p)] == '[')) {
			line = lineAt(data, off)
		}
		return false
	})
	return line
}

// findKey finds the first object key named key and returns its path and line.
func findKey(data []byte, key string) (string, int) {
	path, line := "", 1
	walkJSON(data, func(p, k string, off int64) bool {
		if k == key {
			path, line = p, lineAt(data, off)
			return true
		}
		return false
	})
	return path, line
}
