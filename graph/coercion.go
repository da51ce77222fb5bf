package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph/model"
)

// What gqlgen refuses before a request runs, told in the API's terms.
//
// An Int that is a whole number reaches model.UnmarshalInt, which refuses
// one beyond 32 bits (or a string of digits) as bad input naming its field.
// Anything else given for an Int is refused earlier, by gqlparser: in a
// variable by the coercion of the variables, in the document by validation.

// intVariables wraps a transport so that a variable (or a field of one)
// whose value cannot be an Int, such as 1.5 or "five", is bad input naming
// that variable or field and the Int's rule, like one out of range, rather
// than gqlparser's GRAPHQL_VALIDATION_FAILED ("cannot use value 0 as Int");
// likewise a value that is not one of its enum's ("BOSS" for a role), and
// one that is not a String, an ID or a Boolean where one goes (5 for a
// String, 1.5 for an ID), which gqlparser either refuses so or, for a
// number given as a String or an ID, lets through.
//
// It also counts the mutation fields of every operation refused there,
// by gqlgen or by it, before anything ran (refusals).
type intVariables struct {
	graphql.Transport
	schema  *ast.Schema
	refused refusals
}

func (t intVariables) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.Transport.Do(w, r, intVariableExecutor{GraphExecutor: exec, schema: t.schema, refused: t.refused})
}

type intVariableExecutor struct {
	graphql.GraphExecutor
	schema  *ast.Schema
	refused refusals
}

func (x intVariableExecutor) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	oc, errs := x.createOperationContext(ctx, params)
	x.refused.request(oc, params, errs)
	return oc, errs
}

func (x intVariableExecutor) createOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	oc, errs := x.GraphExecutor.CreateOperationContext(ctx, params)
	if len(errs) == 1 && oc != nil && oc.Operation != nil {
		if bad := x.badInt(oc.Operation, params.Variables, errs[0]); bad != nil {
			errs = gqlerror.List{bad}
		} else if bad := x.badShape(oc.Operation, params.Variables, errs[0]); bad != nil {
			errs = gqlerror.List{bad}
		}
	}
	if len(errs) == 0 && oc != nil && oc.Operation != nil {
		// gqlparser takes a JSON number (a json.Number, whose kind is a
		// string's) for a String or an ID, and gqlgen then reads it as
		// text: refused here, before anything runs.
		for _, def := range oc.Operation.VariableDefinitions {
			val, given := params.Variables[def.Variable]
			if !given {
				continue
			}
			if bad := x.badText(ast.Path{ast.PathName("variable"), ast.PathName(def.Variable)}, def.Type, val); bad != nil {
				return oc, gqlerror.List{bad}
			}
		}
	}
	return oc, errs
}

// badText returns the bad-input error of the first value in val, a
// variable's value as sent, at path, of type typ, that is given for a
// String or an ID and is not one (textRule); nil if there is none.
func (x intVariableExecutor) badText(path ast.Path, typ *ast.Type, val any) *gqlerror.Error {
	return firstBad(x.schema, path, typ, val, func(path ast.Path, named string, v any) *gqlerror.Error {
		if rule := textRule(named, v); rule != "" {
			return badInput(path, rule)
		}
		return nil
	})
}

// firstBad walks val, a value of type typ at path (a list's items, an
// input object's fields, at any depth), and returns the first error leaf
// gives for a value of a named type other than an input object, or nil.
func firstBad(schema *ast.Schema, path ast.Path, typ *ast.Type, val any, leaf func(path ast.Path, named string, v any) *gqlerror.Error) *gqlerror.Error {
	if val == nil {
		return nil
	}
	if typ.Elem != nil {
		list, ok := val.([]any)
		if !ok {
			return firstBad(schema, path, typ.Elem, val, leaf) // one value given for a list
		}
		for i, v := range list {
			if bad := firstBad(schema, append(path[:len(path):len(path)], ast.PathIndex(i)), typ.Elem, v, leaf); bad != nil {
				return bad
			}
		}
		return nil
	}
	def := schema.Types[typ.NamedType]
	if def == nil {
		return nil
	}
	if def.Kind == ast.InputObject {
		fields, _ := val.(map[string]any)
		for _, f := range def.Fields {
			if v, ok := fields[f.Name]; ok {
				if bad := firstBad(schema, append(path[:len(path):len(path)], ast.PathName(f.Name)), f.Type, v, leaf); bad != nil {
					return bad
				}
			}
		}
		return nil
	}
	return leaf(path, typ.NamedType, val)
}

// badInput is the bad-input error, whole, of the value at path (a
// variable or a field of one), named by its last name: the websocket
// transport sends these errors as they are, without the presenter.
func badInput(path ast.Path, rule string) *gqlerror.Error {
	de := domain.Invalid(inputName(path), rule)
	return &gqlerror.Error{Message: de.Message, Path: path, Err: de,
		Extensions: map[string]any{"code": codes[de.Kind], "field": de.Field, "rule": de.Rule}}
}

// The rules of the built-in scalars other than Int, as the GraphQL
// specification's input coercion has them: a String is a string only (not
// a number, as gqlgen would take it), an ID a string or an integer.
const (
	stringRule  = "must be a string (GraphQL String)"
	idRule      = "must be a string or an integer written without a fraction or an exponent (GraphQL ID)"
	booleanRule = "must be true or false (GraphQL Boolean)"
)

// textRule returns the rule, and the value given, when val (a variable's
// value as sent) is not a named's (String, ID or Boolean); "" when it is
// one, or named is another type.
func textRule(named string, val any) string {
	switch named {
	case "String":
		if _, ok := val.(string); ok {
			return ""
		}
		return stringRule + ", not " + jsonKind(val)
	case "ID":
		switch v := val.(type) {
		case string, int, int32, int64:
			return ""
		case json.Number:
			if jsonInteger.MatchString(string(v)) {
				return ""
			}
		case float64:
			// Decoded without json.Number: gqlparser takes a whole one.
			if v == math.Trunc(v) && math.Abs(v) <= 1<<53-1 {
				return ""
			}
		}
		return idRule + ", not " + jsonKind(val)
	case "Boolean":
		if _, ok := val.(bool); ok {
			return ""
		}
		return booleanRule + ", not " + jsonKind(val)
	}
	return ""
}

// jsonInteger is a JSON number written as an integer.
var jsonInteger = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// jsonKind says what val, a decoded JSON value, is: "the number 1.5", "a
// JSON boolean", ...
func jsonKind(val any) string {
	switch v := val.(type) {
	case json.Number:
		return "the number " + string(v)
	case float64, float32, int, int32, int64:
		return fmt.Sprint("the number ", v)
	case string:
		return "a JSON string"
	case bool:
		return "a JSON boolean"
	case []any:
		return "a JSON array"
	case map[string]any:
		return "a JSON object"
	}
	return fmt.Sprintf("a %T", val)
}

// variableOf returns the path of gqlparser's refusal e of a variable's
// value (["variable", name, field...]), the variable's name and its
// definition in op; the definition is nil when e is of no variable of op.
func variableOf(op *ast.OperationDefinition, e *gqlerror.Error) (ast.Path, ast.PathName, *ast.VariableDefinition) {
	p := e.Path
	if len(p) < 2 || p[0] != ast.PathName("variable") {
		return p, "", nil
	}
	name, _ := p[1].(ast.PathName)
	return p, name, op.VariableDefinitions.ForName(string(name))
}

// badInt returns, when e is gqlparser's refusal of a variable's value where
// an Int or an enum goes, the bad-input error of that value at the same path
// (["variable", name, field...]); nil for any other error.
func (x intVariableExecutor) badInt(op *ast.OperationDefinition, vars map[string]any, e *gqlerror.Error) *gqlerror.Error {
	p, name, def := variableOf(op, e)
	if def == nil {
		return nil
	}
	typ, val := def.Type, vars[string(name)]
	for _, step := range p[2:] {
		switch s := step.(type) {
		case ast.PathName:
			in := x.schema.Types[typ.Name()]
			if typ.Elem != nil || in == nil || in.Fields.ForName(string(s)) == nil {
				return nil
			}
			typ = in.Fields.ForName(string(s)).Type
			fields, _ := val.(map[string]any)
			val = fields[string(s)]
		case ast.PathIndex:
			if typ.Elem == nil {
				return nil
			}
			typ = typ.Elem
			if list, ok := val.([]any); ok {
				if int(s) >= len(list) {
					return nil
				}
				val = list[s]
			} // else one value given for a list, coerced to a list of one
		}
	}
	if typ.Elem != nil || val == nil {
		return nil
	}
	if enum := x.schema.Types[typ.NamedType]; enum != nil && enum.Kind == ast.Enum {
		if s, ok := val.(string); ok && enum.EnumValues.ForName(s) != nil {
			return nil // refused for another reason
		}
		// As /v1/import names it: the value as given, in JSON.
		var given bytes.Buffer
		enc := json.NewEncoder(&given)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(val) // a decoded JSON value
		field := inputName(p)
		de := domain.Invalid(field, "is not a valid "+enum.Name+": "+strings.TrimSuffix(given.String(), "\n")+oneOf(enum.Name))
		return &gqlerror.Error{Message: de.Message, Path: p, Err: de,
			Extensions: map[string]any{"code": codes[de.Kind], "field": de.Field, "rule": de.Rule}}
	}
	if rule := textRule(typ.NamedType, val); rule != "" {
		return badInput(p, rule)
	}
	if typ.NamedType != "Int" {
		return nil
	}
	if _, err := model.UnmarshalInt(val); err != nil {
		// Whole here, as the presenter would make it: the websocket
		// transport sends these errors as they are.
		var de *domain.Error
		if errors.As(err, &de) {
			named := *de
			named.Field = inputName(p)
			named.Message = named.Field + ": " + named.Rule
			return &gqlerror.Error{Message: named.Message, Path: p, Err: &named,
				Extensions: map[string]any{"code": codes[named.Kind], "field": named.Field, "rule": named.Rule}}
		}
		return &gqlerror.Error{Message: err.Error(), Path: p, Err: err}
	}
	return nil
}

// badShape returns, when e is gqlparser's refusal of a variable (or a
// field or an item of one) that is absent or null where a value is
// required ("must be defined", "cannot be null"), that names a field its
// input type does not have ("unknown field"), or that is not an object
// where an input object goes, the bad-input error naming that field as
// /v1/import names it ("title: is required"); nil for any other error.
// The value is found again from the variables as sent, so the rule is
// told from what was given, not from gqlparser's wording.
func (x intVariableExecutor) badShape(op *ast.OperationDefinition, vars map[string]any, e *gqlerror.Error) *gqlerror.Error {
	p, name, def := variableOf(op, e)
	if def == nil {
		return nil
	}
	typ := def.Type
	val, given := vars[string(name)]
	for _, step := range p[2:] {
		if !given || val == nil {
			return nil
		}
		switch s := step.(type) {
		case ast.PathName:
			in := x.schema.Types[typ.Name()]
			fields, ok := val.(map[string]any)
			if typ.Elem != nil || in == nil || in.Kind != ast.InputObject || !ok {
				return nil
			}
			f := in.Fields.ForName(string(s))
			if f == nil {
				if _, named := fields[string(s)]; named {
					return badInput(p, "is not an input field of "+in.Name)
				}
				return nil
			}
			typ = f.Type
			val, given = fields[string(s)]
		case ast.PathIndex:
			if typ.Elem == nil {
				return nil
			}
			typ = typ.Elem
			list, ok := val.([]any)
			if !ok {
				continue // one value given for a list, coerced to a list of one
			}
			if int(s) >= len(list) {
				return nil
			}
			val = list[s]
		}
	}
	if !given || val == nil {
		if !typ.NonNull {
			return nil
		}
		if _, item := p[len(p)-1].(ast.PathIndex); item {
			return badInput(p, "must not hold null")
		}
		return badInput(p, "is required")
	}
	if in := x.schema.Types[typ.NamedType]; typ.Elem == nil && in != nil && in.Kind == ast.InputObject {
		if _, ok := val.(map[string]any); !ok {
			return badInput(p, "must be a JSON object ("+in.Name+"), not "+jsonKind(val))
		}
	}
	return nil
}

// validationRules are gqlparser's, except that a value of the wrong type in
// the document (first: 1.5), refused by validation as the GraphQL
// specification says, gets a message that starts with the name of the
// argument or input field it came in, as bad input's does.
func validationRules() *rules.Rules {
	r := rules.NewDefaultRules()
	r.ReplaceRule(rules.ValuesOfCorrectTypeRule.Name, namingValues(rules.ValuesOfCorrectTypeRule.RuleFunc))
	return r
}

// namingValues wraps a rule that reports errors about values so that each
// error's message starts with "name: ", the name of the value's argument,
// input field or variable.
func namingValues(rule core.RuleFunc) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		var (
			current *ast.Value
			doc     *ast.QueryDocument
			names   map[*ast.Value]string
		)
		// Registered before the rule's own observer, so it sees each value
		// first; the names are looked up only when there is an error.
		observers.OnValue(func(w *core.Walker, v *ast.Value) { current, doc = v, w.Document })
		rule(observers, func(options ...core.ErrorOption) {
			if names == nil && doc != nil {
				names = valueNames(doc)
			}
			if name := names[current]; name != "" {
				options = append(options, func(err *gqlerror.Error) { err.Message = name + ": " + err.Message })
			}
			if current != nil && current.ExpectedType != nil {
				// A value its enum does not have: the values it has.
				if enum := current.ExpectedType.Name(); EnumValues(enum) != nil {
					options = append(options, func(err *gqlerror.Error) {
						if strings.Contains(err.Message, `"`+enum) {
							err.Message = strings.TrimSuffix(err.Message, ".") + oneOf(enum)
						}
					})
				}
			}
			addError(options...)
		})
	}
}

// valueNames maps every value of doc to the name it is given under: its
// argument's, its input field's or its variable's (a list's elements take
// the list's name).
func valueNames(doc *ast.QueryDocument) map[*ast.Value]string {
	names := map[*ast.Value]string{}
	var value func(name string, v *ast.Value)
	value = func(name string, v *ast.Value) {
		if v == nil {
			return
		}
		names[v] = name
		for _, c := range v.Children {
			if v.Kind == ast.ObjectValue {
				value(c.Name, c.Value)
			} else {
				value(name, c.Value)
			}
		}
	}
	arguments := func(args ast.ArgumentList) {
		for _, a := range args {
			value(a.Name, a.Value)
		}
	}
	directives := func(ds ast.DirectiveList) {
		for _, d := range ds {
			arguments(d.Arguments)
		}
	}
	var selections func(set ast.SelectionSet)
	selections = func(set ast.SelectionSet) {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				arguments(s.Arguments)
				directives(s.Directives)
				selections(s.SelectionSet)
			case *ast.InlineFragment:
				directives(s.Directives)
				selections(s.SelectionSet)
			case *ast.FragmentSpread:
				directives(s.Directives)
			}
		}
	}
	for _, op := range doc.Operations {
		for _, v := range op.VariableDefinitions {
			value(v.Variable, v.DefaultValue)
			directives(v.Directives)
		}
		directives(op.Directives)
		selections(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		directives(f.Directives)
		selections(f.SelectionSet)
	}
	return names
}
