package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph"
)

// valueKind is how a GraphQL input field's value is written on the command
// line and sent as JSON.
type valueKind int

const (
	kindString   valueKind = iota // a JSON string
	kindEnum                      // a JSON string, upper-cased
	kindDate                      // a JSON string, YYYY-MM-DD
	kindInt                       // a JSON integer (Int)
	kindYen                       // a JSON integer up to 2^53
	kindBool                      // a JSON boolean; --flag alone means true
	kindEnumList                  // a JSON array of strings, comma-separated on the command line
)

// inputFields describes every GraphQL input field the mutation commands
// take: its kind and the flag's usage line.
var inputFields = map[string]struct {
	kind  valueKind
	usage string
}{
	"id":                     {kindString, "employee `number`, [A-Za-z0-9_-]{1,64} (generated when absent)"},
	"name":                   {kindString, "the person's `name`"},
	"department":             {kindString, "`department`"},
	"joinedOn":               {kindDate, "date the person joined, `YYYY-MM-DD`"},
	"effectiveOn":            {kindDate, "date it takes effect, `YYYY-MM-DD`"},
	"personId":               {kindString, "the person's `id`"},
	"field":                  {kindEnum, "SYSTEM_OPERATION, NETWORK_OPERATION or SERVICE_DESK (a `field`)"},
	"title":                  {kindString, "`title`"},
	"role":                   {kindEnum, "PARTICIPANT, PRACTITIONER, MEMBER or LEAD (a `role`)"},
	"startedOn":              {kindDate, "start date, `YYYY-MM-DD`"},
	"completedOn":            {kindDate, "completion date, `YYYY-MM-DD` (absent while ONGOING)"},
	"outcome":                {kindEnum, "SUCCESSFUL, UNSUCCESSFUL or ONGOING (an `outcome`)"},
	"withinBudget":           {kindBool, "the service was provided within budget"},
	"peakHeadcount":          {kindInt, "`persons` on the work at its peak"},
	"annualContractValueYen": {kindYen, "annual contract value in `yen`"},
	"installationSites":      {kindInt, "network installation `sites`"},
	"inquiriesPerYear":       {kindInt, "user `inquiries` answered per year"},
	"complexity":             {kindEnumList, "complexity `criteria` met, comma-separated (e.g. ORGANIZATION,CONTRACT)"},
	"kind":                   {kindEnum, "SuccessionKind (BOOK, EXTERNAL_PAPER, ...) or DevelopmentKind (MENTORING, COACHING): the `kind`"},
	"occurredOn":             {kindDate, "date, `YYYY-MM-DD`"},
	"fields":                 {kindEnumList, "specialty `fields` it concerns, comma-separated"},
	"subordinateId":          {kindString, "`id` of the person developed (optional)"},
	"theme":                  {kindEnum, "`theme`, e.g. SERVICE_LEVEL_MANAGEMENT"},
	"proficiency":            {kindEnum, "BASIC, PRACTICE, GUIDES_SUBORDINATES or GUIDES_OTHERS (a `proficiency`)"},
	"assessedOn":             {kindDate, "assessment date, `YYYY-MM-DD`"},
	"accomplishmentId":       {kindString, "the accomplishment's `id`"},
	"reason":                 {kindString, "why it is retracted (a `reason`)"},
	"idempotencyKey":         {kindString, "the same `key` sent twice records once"},
}

// nullable lists the amendAccomplishment fields an explicit null clears.
var nullable = []string{"completedOn", "peakHeadcount", "annualContractValueYen", "installationSites", "inquiriesPerYear", "subordinateId"}

// mutationSpec is one mutation and its command.
type mutationSpec struct {
	command, mutation, usage string
	inputType                string
	accomplishment           bool     // the payload is an AccomplishmentPayload
	fields                   []string // input fields, in flag order
	required                 []string
	defaults                 map[string]any // sent when the flag is absent (the schema requires them)
}

var mutations = []mutationSpec{
	{command: "register-person", mutation: "registerPerson", usage: "register a person", inputType: "RegisterPersonInput",
		fields: []string{"id", "name", "department", "joinedOn"}, required: []string{"name", "department", "joinedOn"}},
	{command: "transfer-person", mutation: "transferPerson", usage: "move a person to another department", inputType: "TransferPersonInput",
		fields: []string{"personId", "department", "effectiveOn"}, required: []string{"personId", "department", "effectiveOn"}},
	{command: "record-departure", mutation: "recordDeparture", usage: "record that a person left", inputType: "RecordDepartureInput",
		fields: []string{"personId", "effectiveOn"}, required: []string{"personId", "effectiveOn"}},
	{command: "record-engagement", mutation: "recordEngagement", usage: "record an engagement (operations work)", inputType: "RecordEngagementInput", accomplishment: true,
		fields: []string{"personId", "field", "title", "role", "startedOn", "completedOn", "outcome", "withinBudget", "peakHeadcount",
			"annualContractValueYen", "installationSites", "inquiriesPerYear", "complexity"},
		required: []string{"personId", "field", "title", "role", "startedOn", "outcome"},
		defaults: map[string]any{"withinBudget": false, "complexity": []string{}}},
	{command: "record-technology-succession", mutation: "recordTechnologySuccession", usage: "record a paper, talk, patent, ...", inputType: "RecordTechnologySuccessionInput", accomplishment: true,
		fields: []string{"personId", "kind", "title", "occurredOn", "fields"}, required: []string{"personId", "kind", "title", "occurredOn", "fields"}},
	{command: "record-subordinate-development", mutation: "recordSubordinateDevelopment", usage: "record mentoring or coaching", inputType: "RecordSubordinateDevelopmentInput", accomplishment: true,
		fields: []string{"personId", "kind", "occurredOn", "subordinateId"}, required: []string{"personId", "kind", "occurredOn"}},
	{command: "assess-theme", mutation: "assessTheme", usage: "record a theme proficiency assessment", inputType: "AssessThemeInput", accomplishment: true,
		fields: []string{"personId", "theme", "proficiency", "assessedOn"}, required: []string{"personId", "theme", "proficiency", "assessedOn"}},
	{command: "amend-accomplishment", mutation: "amendAccomplishment", usage: "correct an accomplishment (given fields replace)", inputType: "AmendAccomplishmentInput", accomplishment: true,
		fields: []string{"accomplishmentId", "field", "title", "role", "startedOn", "completedOn", "outcome", "withinBudget", "peakHeadcount",
			"annualContractValueYen", "installationSites", "inquiriesPerYear", "complexity", "kind", "occurredOn", "fields",
			"subordinateId", "theme", "proficiency", "assessedOn"},
		required: []string{"accomplishmentId"}},
	{command: "retract-accomplishment", mutation: "retractAccomplishment", usage: "withdraw an accomplishment", inputType: "RetractAccomplishmentInput", accomplishment: true,
		fields: []string{"accomplishmentId", "reason"}, required: []string{"accomplishmentId", "reason"}},
}

// mutationOps maps the bulk endpoint's op names to their specs.
func mutationByOp(op string) (mutationSpec, bool) {
	for _, m := range mutations {
		if m.mutation == op {
			return m, true
		}
	}
	return mutationSpec{}, false
}

// rawFlag keeps a flag's text; the value is converted after parsing so that
// only flags actually given are sent.
type rawFlag struct {
	text   string
	isBool bool
}

func (r *rawFlag) String() string     { return r.text }
func (r *rawFlag) Set(v string) error { r.text = v; return nil }
func (r *rawFlag) IsBoolFlag() bool   { return r.isBool }

// convertValue turns a command-line (or CSV cell) text into the JSON value
// of input field name.
func convertValue(name, text string) (any, error) {
	f, ok := inputFields[name]
	if !ok {
		return nil, fmt.Errorf("unknown input field %q", name)
	}
	text = strings.TrimSpace(text)
	switch f.kind {
	case kindEnum:
		return strings.ToUpper(text), nil
	case kindDate:
		if _, err := time.Parse(time.DateOnly, text); err != nil {
			return nil, usagef("%s: %q is not a date (YYYY-MM-DD)", name, text)
		}
		return text, nil
	case kindInt, kindYen:
		n, err := strconv.ParseInt(strings.ReplaceAll(text, "_", ""), 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			// A whole number, too long for what careerd takes: its rule,
			// not "is not a whole number".
			if f.kind == kindYen {
				return nil, usagef("%s: %q must be at most 2^53 (9007199254740992) in absolute value", name, text)
			}
			return nil, usagef("%s: %q must be from -2147483648 to 2147483647 (a 32-bit integer)", name, text)
		}
		if err != nil {
			return nil, usagef("%s: %q is not a whole number", name, text)
		}
		return n, nil
	case kindBool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not true or false", name, text)
		}
		return b, nil
	case kindEnumList:
		return splitList(text, ","), nil
	default:
		return text, nil
	}
}

// checkEnum refuses, as a usage error naming the flag, a value of the
// enum (each item of a comma-separated list of them, when list is true)
// that is not one of its values, in any case (careerctl upper-cases them),
// listing the values it takes. An enum careerctl does not know ("") takes
// anything.
func checkEnum(flagName, enum, text string, list bool) error {
	values := graph.EnumValues(enum)
	if values == nil {
		return nil
	}
	items := []string{text}
	if list {
		items = strings.Split(text, ",")
	}
	for _, item := range items {
		item = strings.TrimSpace(item)
		if (item != "" || !list) && !slices.Contains(values, strings.ToUpper(item)) {
			return usagef("--%s: %q is not a valid %s; must be one of %s", flagName, item, enum, strings.Join(values, ", "))
		}
	}
	return nil
}

// checkDate refuses a --flag value that is not YYYY-MM-DD.
func checkDate(flagName, s string) error {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return usagef("--%s: %q is not a date (YYYY-MM-DD)", flagName, s)
	}
	return nil
}

// checkInstant refuses, as a usage error naming the flag, an instant that
// is not RFC 3339 with its offset (what careerd's DateTime takes).
func checkInstant(flagName, s string) error {
	if _, err := domain.ParseInstant(s); err != nil {
		return usagef("--%s: %q is not an RFC 3339 instant with its offset (such as 2026-01-02T15:04:05Z or 2026-01-02T15:04:05+09:00)", flagName, s)
	}
	return nil
}

// splitList splits a list value on sep, upper-cases and drops empty items;
// it is never nil (an empty list is sent as []).
func splitList(text, sep string) []string {
	out := []string{}
	for _, s := range strings.Split(text, sep) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, strings.ToUpper(s))
		}
	}
	return out
}

// run executes the mutation's command.
func (m mutationSpec) run(c *cli, args []string) error {
	fs := newFlagSet(m.command)
	fs.SetOutput(c.stderr)
	ep := endpointFlags(fs, c)
	asJSON := fs.Bool("json", false, "print the GraphQL response data as JSON")
	raw := map[string]*rawFlag{}
	for _, name := range append(slices.Clone(m.fields), "idempotencyKey") {
		f := inputFields[name]
		usage := f.usage
		if slices.Contains(m.required, name) {
			usage += " (required)"
		}
		raw[name] = &rawFlag{isBool: f.kind == kindBool}
		fs.Var(raw[name], name, usage)
	}
	var clear multiFlag
	if m.mutation == "amendAccomplishment" {
		fs.Var(&clear, "clear", "optional `fields` to clear (send as null), comma-separated: "+strings.Join(nullable, ", "))
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (every value is a flag, e.g. --personId E1)", fs.Arg(0))
	}
	input := map[string]any{}
	var errs []error
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		r, ok := raw[f.Name]
		if !ok {
			return
		}
		v, err := convertValue(f.Name, r.text)
		if err != nil {
			err = usageError{fmt.Errorf("--%w", err)}
		} else {
			// Checked here, with the values it takes: careerd would refuse
			// it after a round trip (amendAccomplishment's kind, a String
			// for either kind's values, is careerd's to check). Its error
			// names the flag with its dashes already.
			err = checkEnum(f.Name, graph.InputEnum(m.inputType, f.Name), r.text, inputFields[f.Name].kind == kindEnumList)
		}
		if err != nil {
			errs = append(errs, err)
			bad = append(bad, f.Name) // given, if wrongly: not also "required"
			return
		}
		input[f.Name] = v
	})
	for _, name := range clear {
		if !slices.Contains(nullable, name) {
			errs = append(errs, usagef("--clear %s: only %s can be cleared", name, strings.Join(nullable, ", ")))
			continue
		}
		if _, given := input[name]; given {
			errs = append(errs, usagef("--clear %s: also given a value", name))
			continue
		}
		input[name] = nil
	}
	for name, def := range m.defaults {
		if _, given := input[name]; !given {
			input[name] = def
		}
	}
	for _, name := range m.required {
		if _, given := input[name]; !given && !slices.Contains(bad, name) {
			errs = append(errs, usagef("--%s is required", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	data, err := ep.graphql(c.ctx, m.query(true), map[string]any{"input": input})
	var gerrs GraphQLErrors
	if errors.As(err, &gerrs) && gerrs.Code() == "GRAPHQL_VALIDATION_FAILED" && strings.Contains(gerrs.Error(), `"warnings"`) {
		// A careerd before warnings: refused at validation, nothing was
		// recorded; ask again without them.
		data, err = ep.graphql(c.ctx, m.query(false), map[string]any{"input": input})
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.stdout, data)
	}
	return m.printPayload(c, data)
}

// query is the mutation document; withWarnings selects a person
// payload's warnings (a careerd before them refuses the field).
func (m mutationSpec) query(withWarnings bool) string {
	sel := "position person { id name department }"
	switch {
	case m.accomplishment:
		sel += " accomplishmentId accomplishment { kind retracted }"
	case withWarnings:
		sel += " warnings"
	}
	return fmt.Sprintf("mutation($input: %s!) { %s(input: $input) { %s } }", m.inputType, m.mutation, sel)
}

// mutationPayload is what the mutation commands ask for.
type mutationPayload struct {
	Position string `json:"position"`
	Person   struct {
		ID         string  `json:"id"`
		Name       string  `json:"name"`
		Department *string `json:"department"`
	} `json:"person"`
	Warnings         []string `json:"warnings"`
	AccomplishmentID string   `json:"accomplishmentId"`
	Accomplishment   *struct {
		Kind      string `json:"kind"`
		Retracted bool   `json:"retracted"`
	} `json:"accomplishment"`
}

func (m mutationSpec) printPayload(c *cli, data json.RawMessage) error {
	var res map[string]mutationPayload
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("unexpected response: %w", err)
	}
	p := res[m.mutation]
	dept := "no department today"
	if p.Person.Department != nil {
		dept = *p.Person.Department
	}
	tw := newTable(c.stdout, 2)
	fmt.Fprintf(tw, "position\t%s\n", p.Position)
	fmt.Fprintf(tw, "person\t%s (%s, %s)\n", p.Person.ID, p.Person.Name, dept)
	if m.accomplishment {
		line := p.AccomplishmentID
		if a := p.Accomplishment; a != nil {
			line += " (" + strings.ToLower(strings.ReplaceAll(a.Kind, "_", " "))
			if a.Retracted {
				line += ", retracted"
			}
			line += ")"
		}
		fmt.Fprintf(tw, "accomplishment\t%s\n", line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, w := range p.Warnings {
		// Recorded all the same: said on stderr, the exit code stays 0.
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	return nil
}
