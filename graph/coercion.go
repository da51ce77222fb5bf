package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
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
// likewise a value that is not one of its enum's ("BOSS" for a role).
type intVariables struct {
	graphql.Transport
	schema *ast.Schema
}

func (t intVariables) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.Transport.Do(w, r, intVariableExecutor{GraphExecutor: exec, schema: t.schema})
}

type intVariableExecutor struct {
	graphql.GraphExecutor
	schema *ast.Schema
}

func (x intVariableExecutor) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	oc, errs := x.GraphExecutor.CreateOperationContext(ctx, params)
	if len(errs) == 1 && oc != nil && oc.Operation != nil {
		if bad := x.badInt(oc.Operation, params.Variables, errs[0]); bad != nil {
			errs = gqlerror.List{bad}
		}
	}
	return oc, errs
}

// badInt returns, when e is gqlparser's refusal of a variable's value where
// an Int or an enum goes, the bad-input error of that value at the same path
// (["variable", name, field...]); nil for any other error.
func (x intVariableExecutor) badInt(op *ast.OperationDefinition, vars map[string]any, e *gqlerror.Error) *gqlerror.Error {
	p := e.Path
	if len(p) < 2 || p[0] != ast.PathName("variable") {
		return nil
	}
	name, _ := p[1].(ast.PathName)
	def := op.VariableDefinitions.ForName(string(name))
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
		de := domain.Invalid(field, "is not a valid "+enum.Name+": "+strings.TrimSuffix(given.String(), "\n"))
		return &gqlerror.Error{Message: de.Message, Path: p, Err: de,
			Extensions: map[string]any{"code": codes[de.Kind], "field": de.Field, "rule": de.Rule}}
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
