package graph

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph/model"
)

// argumentsFirst refuses a mutation any of whose arguments holds a
// malformed Date, DateTime, Yen or Int (beyond 32 bits), or one its
// field's resolver refuses (answerRules), wherever it stands (in the answer's
// fields, in a fragment, in a later mutation of the same request), before
// anything runs. GraphQL reads a field's arguments when the field runs: a
// query's refused field costs nothing, but a mutation's answer is read after
// the mutation is recorded, and the second mutation of a request after the
// first one is: `registerPerson(...) { person { standing(asOf:
// "2024-13-01") } }` recorded the person, then refused the date. The error
// is the one the field would give (BAD_USER_INPUT naming the argument or
// input field and the rule). Enum and String values are checked before
// anything runs already (intVariables, and GraphQL's own validation of
// literals). A field that @skip or @include leaves out is left out here
// too: it never runs.
type argumentsFirst struct{ schema *ast.Schema }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = argumentsFirst{}

func (argumentsFirst) ExtensionName() string                   { return "ArgumentsFirst" }
func (argumentsFirst) Validate(graphql.ExecutableSchema) error { return nil }

func (a argumentsFirst) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return nil
	}
	return a.malformedIn(nil, oc.Operation.SelectionSet, oc.Doc.Fragments, oc.Variables, map[string]bool{})
}

// scalarReaders read the custom scalars whose values GraphQL's validation
// cannot judge (a Date is a string to it).
var scalarReaders = map[string]func(any) error{
	"Date":     func(v any) error { _, err := model.UnmarshalDate(v); return err },
	"DateTime": func(v any) error { _, err := model.UnmarshalDateTime(v); return err },
	"Yen":      func(v any) error { _, err := model.UnmarshalYen(v); return err },
	"Int":      func(v any) error { _, err := model.UnmarshalInt(v); return err },
}

// answerRules are the checks of arguments that a field's resolver makes,
// by "Type.field", for the fields a mutation's answer reaches: the
// resolver's own function, given the arguments as sent (absent ones nil).
var answerRules = map[string]func(args map[string]any) error{
	"Person.accomplishments": func(args map[string]any) error {
		var first *int
		if v := args["first"]; v != nil {
			n, err := model.UnmarshalInt(v)
			if err != nil {
				return err
			}
			first = &n
		}
		after, _ := args["after"].(string)
		_, _, _, err := accomplishmentsPage(first, &after)
		return err
	},
}

// skipped reports whether directives leave their field or fragment out:
// @skip(if: true) or @include(if: false), a literal or a variable.
func skipped(directives ast.DirectiveList, vars map[string]any) bool {
	for _, d := range directives {
		if d.Name != "skip" && d.Name != "include" {
			continue
		}
		arg := d.Arguments.ForName("if")
		if arg == nil {
			continue
		}
		if v, err := arg.Value.Value(vars); err == nil {
			if b, ok := v.(bool); ok && b == (d.Name == "skip") {
				return true
			}
		}
	}
	return false
}

// malformedIn returns the refusal of the first malformed argument in set
// (its fragments included, each looked at once), the fields of the answer
// at path, or nil. The refusal's path is the field's (list indices aside),
// then the argument's and its input fields', as the field's own would be.
func (a argumentsFirst) malformedIn(path ast.Path, set ast.SelectionSet, frags ast.FragmentDefinitionList, vars map[string]any, seen map[string]bool) *gqlerror.Error {
	for _, sel := range set {
		var bad *gqlerror.Error
		switch s := sel.(type) {
		case *ast.Field:
			if skipped(s.Directives, vars) {
				continue
			}
			at := append(path[:len(path):len(path)], ast.PathName(s.Alias))
			if s.Definition != nil {
				args := map[string]any{}
				for _, arg := range s.Arguments {
					def := s.Definition.Arguments.ForName(arg.Name)
					if def == nil {
						continue
					}
					v, err := arg.Value.Value(vars)
					if err != nil {
						continue // left to the field
					}
					if bad = a.malformed(append(at[:len(at):len(at)], ast.PathName(arg.Name)), def.Type, v); bad != nil {
						return bad
					}
					args[arg.Name] = v
				}
				if s.ObjectDefinition != nil {
					if rule := answerRules[s.ObjectDefinition.Name+"."+s.Name]; rule != nil {
						var de *domain.Error
						if err := rule(args); errors.As(err, &de) && de.Field != "" {
							return badInput(append(at[:len(at):len(at)], ast.PathName(de.Field)), de.Rule)
						}
					}
				}
			}
			bad = a.malformedIn(at, s.SelectionSet, frags, vars, seen)
		case *ast.InlineFragment:
			if skipped(s.Directives, vars) {
				continue
			}
			bad = a.malformedIn(path, s.SelectionSet, frags, vars, seen)
		case *ast.FragmentSpread:
			if skipped(s.Directives, vars) {
				continue
			}
			if f := frags.ForName(s.Name); f != nil && !seen[s.Name] {
				seen[s.Name] = true
				bad = a.malformedIn(path, f.SelectionSet, frags, vars, seen)
			}
		}
		if bad != nil {
			return bad
		}
	}
	return nil
}

// malformed returns the refusal of the first malformed custom scalar in v,
// a value of type typ at path, or nil.
func (a argumentsFirst) malformed(path ast.Path, typ *ast.Type, v any) *gqlerror.Error {
	return firstBad(a.schema, path, typ, v, func(path ast.Path, named string, v any) *gqlerror.Error {
		read, ok := scalarReaders[named]
		if !ok {
			return nil
		}
		var de *domain.Error
		if err := read(v); errors.As(err, &de) {
			return badInput(path, de.Rule)
		}
		return nil
	})
}
