package graph

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph/generated"
	"github.com/careerledger/careerledger/graph/model"
	"github.com/careerledger/careerledger/projections"
)

// BatchCommands records many commands at once; the recorder's bulk path
// (asynchronous publishing) satisfies it. Results are in the order of cmds.
type BatchCommands interface {
	RecordBatch(ctx context.Context, cmds []events.Command) []events.BatchResult
}

func (b *bulk) routeImport(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/import", b.importLines)
}

// importLine is one line of an import.
type importLine struct {
	Op    string          `json:"op"`
	Input json.RawMessage `json:"input"`
}

// ImportResult is the answer to one import line.
type ImportResult struct {
	Line             int    `json:"line"`
	OK               bool   `json:"ok"`
	Position         string `json:"position,omitempty"`
	PersonID         string `json:"personId,omitempty"`
	AccomplishmentID string `json:"accomplishmentId,omitempty"`
	Duplicate        bool   `json:"duplicate,omitempty"`
	Code             string `json:"code,omitempty"`
	Field            string `json:"field,omitempty"`
	Rule             string `json:"rule,omitempty"`
	Message          string `json:"message,omitempty"`
	// Warnings are as PersonPayload's: the first line of an import into a
	// department no one had been in.
	Warnings []string `json:"warnings,omitempty"`
}

// MarshalJSON writes "duplicate" on every recorded line, false included,
// and leaves it off refused ones.
func (r ImportResult) MarshalJSON() ([]byte, error) {
	type plain ImportResult
	if !r.OK {
		return json.Marshal(plain(r))
	}
	return json.Marshal(struct {
		plain
		Duplicate bool `json:"duplicate"`
	}{plain(r), r.Duplicate})
}

func failed(line int, err error) ImportResult {
	res := ImportResult{Line: line, Code: "INTERNAL", Message: "internal error"}
	var de *domain.Error
	if errors.As(err, &de) {
		if code, ok := codes[de.Kind]; ok {
			res.Code, res.Message, res.Field, res.Rule = code, de.Message, de.Field, de.Rule
		}
	} else if code, msg := failureOf(err, true, true); code != "" {
		// The log unreachable (nothing recorded) or an answer lost (maybe
		// recorded: the line's idempotencyKey makes a re-import safe).
		res.Code, res.Message = code, msg
	}
	return res
}

// planned is a decoded, authorized line ready to run.
type planned struct {
	line int
	cmd  events.Command
}

func (b *bulk) importLines(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := principal(ctx)
	if err != nil {
		closeUnread(w, r)
		httpError(w, http.StatusUnauthorized, "UNAUTHENTICATED", err.Error())
		return
	}
	body := http.MaxBytesReader(w, r.Body, MaxImportBytes)
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), MaxImportBytes) // a line may be as long as the request allows
	var results []ImportResult
	type rawLine struct {
		line     int
		text     []byte
		register bool
	}
	var lines []rawLine
	line := 0
	for sc.Scan() {
		line++
		if line > MaxImportLines {
			closeUnread(w, r) // the rest is not read: answered at once
			httpError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("an import request carries at most %d lines", MaxImportLines))
			return
		}
		text := bytes.TrimSpace(sc.Bytes())
		results = append(results, ImportResult{Line: line})
		if len(text) == 0 {
			results[line-1] = failed(line, domain.Invalid("line", "is empty"))
			continue
		}
		if !utf8.Valid(text) {
			// JSON is UTF-8: decoded, the bytes that are not would be
			// recorded as U+FFFD for good (a CSV saved as Shift_JIS turned
			// every name into replacement characters).
			results[line-1] = failed(line, errNotUTF8("line"))
			continue
		}
		var head map[string]json.RawMessage
		var op string
		json.Unmarshal(text, &head)     //nolint:errcheck // planLine reports a malformed line
		json.Unmarshal(head["op"], &op) //nolint:errcheck // and a malformed op
		lines = append(lines, rawLine{line: line, text: bytes.Clone(text), register: op == "registerPerson"})
	}
	if err := sc.Err(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) || errors.Is(err, bufio.ErrTooLong) {
			// As /graphql answers a body over its bound, and as the line
			// bound is answered above: 413, not a malformed request.
			httpError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("an import request carries at most %d MiB", MaxImportBytes>>20))
			return
		}
		if refuseSlowBody(w, err) {
			// Before any line ran: nothing is recorded.
			return
		}
		httpError(w, http.StatusBadRequest, "BAD_REQUEST", "could not read the request body: "+err.Error())
		return
	}
	var last uint64
	// The departments known before the import: the first line placing
	// someone in another one is warned of (newDepartment).
	known, err := b.Resolver.ReadModel.Departments(ctx)
	warn := err == nil // unread, the departments warn of nothing: the lines are what matters
	if err != nil {
		b.Resolver.logger().WarnContext(ctx, "import without new-department warnings: the read model's departments are unreadable", "request_id", RequestID(ctx), "err", err)
	}
	placed := map[string]bool{}
	for _, d := range known {
		placed[d] = true
	}
	newDepartment := func(cmd events.Command) []string {
		var dept string
		switch c := cmd.(type) {
		case events.RegisterPerson:
			dept = c.Department
		case events.TransferPerson:
			dept = c.Department
		default:
			return nil
		}
		if dept = strings.TrimSpace(dept); !warn || dept == "" || placed[dept] {
			return nil
		}
		placed[dept] = true
		return []string{newDepartmentWarning(ctx, dept, known)}
	}
	// run plans and records one phase of lines, in order, and returns the
	// people it newly registered.
	transient := map[string]int{} // lines not recorded for want of the log or the read model, by code
	var transientErr error
	// fail answers a line that failed, before its command (planLine) or in
	// it.
	fail := func(line int, err error) {
		results[line-1] = failed(line, err)
		switch code := results[line-1].Code; {
		case code == "UNAVAILABLE" || code == "TIMEOUT":
			// Told once for the request below, at warn as a
			// mutation's is: the client sends the lines again.
			transient[code]++
			transientErr = err
			if errors.Is(err, projections.ErrUnavailable) {
				transient["readModel"]++
			}
		case code == "INTERNAL":
			b.Resolver.logger().ErrorContext(ctx, "import line failed", "request_id", RequestID(ctx), "line", line, "err", err)
		}
	}
	run := func(register bool, registered map[string]bool) map[string]bool {
		var plan []planned
		for _, l := range lines {
			if l.register != register {
				continue
			}
			cmd, err := b.Resolver.planLine(ctx, p, l.text, registered)
			if err != nil {
				fail(l.line, err)
				b.Resolver.unsentLine(l.text, err)
				continue
			}
			plan = append(plan, planned{line: l.line, cmd: cmd})
		}
		created := map[string]bool{}
		record := func(i int, res events.Result, err error) {
			pl := plan[i]
			if err != nil {
				fail(pl.line, err)
				return
			}
			results[pl.line-1] = ImportResult{Line: pl.line, OK: true, Position: position(res.Position), PersonID: res.PersonID,
				AccomplishmentID: res.AccomplishmentID, Duplicate: res.Duplicate}
			if !res.Duplicate {
				results[pl.line-1].Warnings = newDepartment(pl.cmd)
			}
			last = max(last, res.Position)
			if _, isRegistration := pl.cmd.(events.RegisterPerson); isRegistration && !res.Duplicate {
				created[res.PersonID] = true
			}
		}
		if batch, ok := b.Resolver.Commands.(BatchCommands); ok && len(plan) > 0 {
			cmds := make([]events.Command, len(plan))
			for i, pl := range plan {
				cmds[i] = pl.cmd
			}
			for i, br := range batch.RecordBatch(ctx, cmds) {
				record(i, br.Result, br.Err)
			}
		} else {
			for i, pl := range plan {
				res, err := execute(ctx, b.Resolver.Commands, pl.cmd)
				record(i, res, err)
			}
		}
		return created
	}
	// Registrations run first: a manager may then record for exactly the
	// people this request created in their department, and for no one
	// whose registration failed or repeated an earlier one.
	registered := run(true, nil)
	run(false, registered)
	if len(transient) > 0 {
		msg := "import lines not recorded: the event log is unreachable or did not answer"
		if transient["readModel"] == transient["UNAVAILABLE"]+transient["TIMEOUT"] {
			msg = "import lines not recorded: the read model is unreachable"
		}
		b.Resolver.logger().WarnContext(ctx, msg,
			"request_id", RequestID(ctx), "unavailable", transient["UNAVAILABLE"], "timeout", transient["TIMEOUT"], "err", transientErr)
	}
	status := http.StatusOK
	if last > 0 {
		if err := b.Resolver.awaitProjection(ctx, last); err != nil {
			// Recorded, but not yet visible: say so rather than hide it.
			status = http.StatusAccepted
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	for _, res := range results {
		enc.Encode(res) //nolint:errcheck // the client went away
	}
}

// inputs maps each op to its input type.
var inputs = map[string]reflect.Type{
	"registerPerson":               reflect.TypeFor[model.RegisterPersonInput](),
	"transferPerson":               reflect.TypeFor[model.TransferPersonInput](),
	"recordDeparture":              reflect.TypeFor[model.RecordDepartureInput](),
	"recordEngagement":             reflect.TypeFor[model.RecordEngagementInput](),
	"recordTechnologySuccession":   reflect.TypeFor[model.RecordTechnologySuccessionInput](),
	"recordSubordinateDevelopment": reflect.TypeFor[model.RecordSubordinateDevelopmentInput](),
	"assessTheme":                  reflect.TypeFor[model.AssessThemeInput](),
	"amendAccomplishment":          reflect.TypeFor[model.AmendAccomplishmentInput](),
	"retractAccomplishment":        reflect.TypeFor[model.RetractAccomplishmentInput](),
}

// unsentLine tells Resolver.Unsent of an import line refused before its
// command was sent, when it names a mutation (a line that is not a JSON
// object, or names none, is no command).
func (r *Resolver) unsentLine(text []byte, err error) {
	if r.Unsent == nil {
		return
	}
	var l struct {
		Op string `json:"op"`
	}
	if json.Unmarshal(text, &l) == nil && inputs[l.Op] != nil {
		r.Unsent(l.Op, err)
	}
}

// planLine decodes one import line strictly (every key known, every
// required field present, each error naming its field), turns it into a
// command and checks the caller may run it. registered holds the people
// this request itself created (a manager may record for them before the
// read model shows them).
func (r *Resolver) planLine(ctx context.Context, p Principal, text []byte, registered map[string]bool) (events.Command, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(text, &keys); err != nil || keys == nil {
		return nil, domain.Invalid("line", "is not a JSON object with op and input")
	}
	if err := lineKeys(keys); err != nil {
		return nil, err
	}
	if k, ok := RepeatedKey(text); ok {
		return nil, domain.Invalid(k, RepeatedKeyRule)
	}
	var l importLine // its keys now exactly importLine's, which encoding/json would match in any case
	if err := json.Unmarshal(text, &l); err != nil {
		return nil, domain.Invalid("line", "is not a JSON object with op and input")
	}
	typ, ok := inputs[l.Op]
	if !ok {
		return nil, domain.Invalid("op", "must be one of the mutations (registerPerson, recordEngagement, ...)")
	}
	v := reflect.New(typ)
	if err := decodeStrict(l.Input, v.Elem()); err != nil {
		return nil, err
	}
	var cmd events.Command
	var personID string
	switch in := v.Interface().(type) {
	case *model.RegisterPersonInput:
		if _, err := authorizeDepartment(p, &in.Department); err != nil {
			return nil, err
		}
		if in.ID != nil && *in.ID == "" {
			return nil, domain.ValidatePersonID("")
		}
		return registerCommand(*in), nil
	case *model.TransferPersonInput:
		cmd, personID = transferCommand(*in), in.PersonID
	case *model.RecordDepartureInput:
		cmd, personID = departureCommand(*in), in.PersonID
	case *model.RecordEngagementInput:
		cmd, personID = engagementCommand(*in), in.PersonID
	case *model.RecordTechnologySuccessionInput:
		cmd, personID = successionCommand(*in), in.PersonID
	case *model.RecordSubordinateDevelopmentInput:
		if err := subordinateInput(in.SubordinateID); err != nil {
			return nil, err
		}
		cmd, personID = developmentCommand(*in), in.PersonID
	case *model.AssessThemeInput:
		cmd, personID = assessmentCommand(*in), in.PersonID
	case *model.AmendAccomplishmentInput:
		// As in GraphQL: the id before what it amends.
		if err := accomplishmentIDInput("accomplishmentId", in.AccomplishmentID); err != nil {
			return nil, err
		}
		if err := amendsNothing(*in); err != nil {
			return nil, err
		}
		cmd, personID = amendCommand(*in), strings.SplitN(in.AccomplishmentID, ".", 2)[0]
	case *model.RetractAccomplishmentInput:
		if err := accomplishmentIDInput("accomplishmentId", in.AccomplishmentID); err != nil {
			return nil, err
		}
		cmd, personID = retractCommand(*in), strings.SplitN(in.AccomplishmentID, ".", 2)[0]
	}
	switch cmd.(type) {
	case events.AmendAccomplishment, events.RetractAccomplishment:
		// Checked above, by its accomplishmentId.
	default:
		// A personId that breaks the id rule is no one's: bad input,
		// whoever sends it, as in GraphQL.
		if err := personIDInput("personId", personID); err != nil {
			return nil, err
		}
	}
	// admin and hr may record for anyone (an unknown person is the
	// recorder's NOT_FOUND); others are checked against the read model, or
	// against the people they registered earlier in this request.
	if p.Has(RoleAdmin) || p.Has(RoleHR) {
		return cmd, nil
	}
	if registered[personID] {
		// Registered earlier in this request, by a manager into their own
		// department: theirs to record for, unless it is the manager
		// themselves, an employee there.
		return r.asEmployeeIf(ctx, p.Person == personID, cmd)
	}
	switch c := cmd.(type) {
	case events.AmendAccomplishment:
		onlyBy, err := r.authorizeChange(ctx, c.AccomplishmentID)
		if err != nil {
			return nil, err
		}
		c.OnlyBy = onlyBy
		return c, nil
	case events.RetractAccomplishment:
		onlyBy, err := r.authorizeChange(ctx, c.AccomplishmentID)
		if err != nil {
			return nil, err
		}
		c.OnlyBy = onlyBy
		return c, nil
	case events.RecordAccomplishment:
		if err := r.authorizeRecord(ctx, c); err != nil {
			return nil, err
		}
	case events.TransferPerson:
		if err := r.authorizePlacement(ctx, personID, c.EffectiveOn); err != nil {
			return nil, err
		}
	case events.RecordDeparture:
		if err := r.authorizePlacement(ctx, personID, c.EffectiveOn); err != nil {
			return nil, err
		}
	default:
		if _, err := r.authorizePerson(ctx, "personId", personID); err != nil {
			return nil, err
		}
	}
	return cmd, nil
}

// lineKeys refuses a line whose keys are not exactly "op" and "input" (or
// fewer): "OP" or "Input" are not taken for them, as encoding/json would,
// any more than an input field's name is matched without its case; the
// first such key, in byte order, is named.
func lineKeys(keys map[string]json.RawMessage) error {
	_, op := keys["op"]
	_, event := keys["event"]
	_, position := keys["position"]
	_, typ := keys["type"]
	if !op && event && (position || typ) {
		// A line of /v1/export: told as such rather than by its first key.
		return domain.Invalid("event", `is an event as /v1/export writes it (position, type, event: the log as recorded), `+
			`which /v1/import does not take: a line is a command, {"op": "<mutation>", "input": {...}}`)
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch {
		case k == "op" || k == "input":
		case strings.EqualFold(k, "op") || strings.EqualFold(k, "input"):
			return domain.Invalid(k, `is not a key of an import line: keys are matched exactly, write "`+strings.ToLower(k)+`"`)
		default:
			return domain.Invalid(k, `is not a key of an import line: a line is {"op": "<mutation>", "input": {...}}, with those two keys exactly`)
		}
	}
	return nil
}

// inputSchema is the GraphQL schema, where decodeStrict finds which input
// fields are a String, an ID or a Boolean.
var inputSchema = generated.NewExecutableSchema(generated.Config{}).Schema()

// scalarOf is the name of the GraphQL type of the input field name of the
// input type typ when it is a String, an ID or a Boolean (not a list of
// them), else "".
func scalarOf(typ reflect.Type, name string) string {
	def := inputSchema.Types[typ.Name()]
	if def == nil {
		return ""
	}
	f := def.Fields.ForName(name)
	if f == nil || f.Type.Elem != nil || (f.Type.NamedType != "String" && f.Type.NamedType != "ID" && f.Type.NamedType != "Boolean") {
		return ""
	}
	return f.Type.NamedType
}

// isDateField reports whether the input field name of the input type typ
// is a Date (not a list of them).
func isDateField(typ reflect.Type, name string) bool {
	def := inputSchema.Types[typ.Name()]
	if def == nil {
		return false
	}
	f := def.Fields.ForName(name)
	return f != nil && f.Type.Elem == nil && f.Type.NamedType == "Date"
}

// decodeStrict decodes a JSON object into the struct v field by field, so
// that an error names the input field, unknown keys are refused and
// required (non-pointer, non-omittable) fields must be present.
func decodeStrict(raw json.RawMessage, v reflect.Value) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return domain.Invalid("input", "must be a JSON object of the mutation's input fields")
	}
	t := v.Type()
	seen := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		val, ok := obj[name]
		seen[name] = true
		optional := f.Type.Kind() == reflect.Pointer || strings.HasPrefix(f.Type.Name(), "Omittable[")
		if !ok || (string(val) == "null" && !strings.HasPrefix(f.Type.Name(), "Omittable[")) {
			if !optional && f.Type.Kind() != reflect.Slice {
				return domain.Invalid(name, "is required")
			}
			if !optional && f.Type.Kind() == reflect.Slice {
				v.Field(i).Set(reflect.MakeSlice(f.Type, 0, 0))
			}
			continue
		}
		if scalar := scalarOf(t, name); scalar != "" && string(val) != "null" {
			// As GraphQL takes a String (a string only), an ID (a string
			// or an integer, taken as its digits) or a Boolean.
			dec := json.NewDecoder(bytes.NewReader(val))
			dec.UseNumber()
			var given any
			if err := dec.Decode(&given); err != nil {
				return domain.Invalid(name, "is not a valid "+typeName(f.Type)+": "+shortError(err, typeName(f.Type)))
			}
			if rule := textRule(scalar, given); rule != "" {
				return domain.Invalid(name, rule)
			}
			if n, ok := given.(json.Number); ok {
				val = json.RawMessage(strconv.Quote(string(n)))
			}
		}
		if isDateField(t, name) && string(val) != "null" {
			// As the Date scalar reads it in a mutation: encoding/json took
			// "" for a date left out, and told a day that does not exist
			// "is not YYYY-MM-DD".
			dec := json.NewDecoder(bytes.NewReader(val))
			dec.UseNumber()
			var given any
			if dec.Decode(&given) == nil {
				if _, err := model.UnmarshalDate(given); err != nil {
					var de *domain.Error
					if errors.As(err, &de) {
						return domain.Invalid(name, de.Rule)
					}
				}
			}
		}
		if trimmed := bytes.TrimLeft(val, " \t\r\n"); isList(f.Type) && len(trimmed) > 0 && trimmed[0] != '[' && string(val) != "null" {
			// One value given for a list is a list of one, as GraphQL's
			// input coercion has it.
			val = json.RawMessage("[" + string(val) + "]")
		}
		if EnumValues(typeName(f.Type)) != nil && string(val) != "null" {
			// As GraphQL refuses a variable's value.
			dec := json.NewDecoder(bytes.NewReader(val))
			dec.UseNumber()
			var given any
			if dec.Decode(&given) == nil {
				items := []any{given}
				if isList(f.Type) {
					items, _ = given.([]any) // each of a list's values (not a list: refused below)
				}
				for _, item := range items {
					if rule := enumRule(typeName(f.Type), item); rule != "" {
						return domain.Invalid(name, rule)
					}
				}
			}
		}
		if err := json.Unmarshal(val, v.Field(i).Addr().Interface()); err != nil {
			// An enum's refusal says the values it takes.
			return domain.Invalid(name, "is not a valid "+typeName(f.Type)+": "+shortError(err, typeName(f.Type))+oneOf(typeName(f.Type)))
		}
		// As in GraphQL, where the field is an Int (Yen is an int64).
		if beyondInt32(v.Field(i)) {
			return domain.Invalid(name, model.IntRule)
		}
	}
	for k := range obj {
		if !seen[k] {
			return domain.Invalid(k, "is not an input field of this mutation")
		}
	}
	return nil
}

// beyondInt32 reports whether v, an int, a pointer to one, or an
// Omittable of either, holds a number outside GraphQL's Int.
func beyondInt32(v reflect.Value) bool {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return false
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Int:
		return v.Int() < math.MinInt32 || v.Int() > math.MaxInt32
	case reflect.Struct:
		if m := v.MethodByName("Value"); m.IsValid() && m.Type().NumIn() == 0 && m.Type().NumOut() == 1 {
			return beyondInt32(m.Call(nil)[0])
		}
	}
	return false
}

// omitted is the type an Omittable (an amendment's field) holds, or t.
func omitted(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Struct && strings.HasPrefix(t.Name(), "Omittable[") && t.NumField() > 0 {
		return t.Field(0).Type
	}
	return t
}

// isList reports whether a field of type t (an Omittable's included) is a
// GraphQL list.
func isList(t reflect.Type) bool {
	t = omitted(t)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Slice
}

func typeName(t reflect.Type) string {
	for t = omitted(t); t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice; {
		t = t.Elem()
	}
	switch t.Name() {
	case "Date":
		return "date (YYYY-MM-DD)"
	case "int", "int64":
		return "whole number"
	case "string":
		return "string"
	case "bool":
		return "boolean"
	}
	return t.Name()
}

// shortError is what err says of the value, without Go's words: the JSON
// kind given where another was wanted ("got a string"), the value an enum
// refused ("\"BOSS\""), or the decoder's message without its prefix.
func shortError(err error, want string) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "got a JSON " + te.Value
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "json:") {
		s = s[i+2:]
	}
	if v, ok := strings.CutSuffix(s, " is not a valid "+want); ok {
		return strconv.Quote(v)
	}
	return s
}

// asEmployeeIf limits cmd as for a caller acting as the employee when self
// is true (a manager acting on themselves): no self-assessment when the
// server takes none, and changes of what they recorded only.
func (r *Resolver) asEmployeeIf(ctx context.Context, self bool, cmd events.Command) (events.Command, error) {
	if !self {
		return cmd, nil
	}
	switch c := cmd.(type) {
	case events.RecordAccomplishment:
		if r.NoSelfAssessment && c.Accomplishment.Assessment != nil {
			return nil, errNoSelfAssessment(c.PersonID)
		}
	case events.AmendAccomplishment:
		c.OnlyBy = events.ActorFrom(ctx)
		return c, nil
	case events.RetractAccomplishment:
		c.OnlyBy = events.ActorFrom(ctx)
		return c, nil
	}
	return cmd, nil
}

// errNotUTF8 refuses text that is not UTF-8, named as field.
func errNotUTF8(field string) error {
	return domain.Invalid(field, "must be UTF-8 (a file saved in another encoding, such as Shift_JIS, is to be saved as UTF-8 first)")
}
