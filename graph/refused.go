package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/careerledger/careerledger/domain"
)

// refusals tells Resolver.Unsent of the mutation fields of a request
// refused before any resolver ran, each as a command refused: by gqlgen
// (its validation, the coercion of its variables, a limit: every error of
// CreateOperationContext, through intVariableExecutor), by a transport
// (a POST body or a websocket message that gives a key twice, a mutation
// sent with GET). countUnsent counts only the fields that ran, so that
// the same bad input (a wrong enum value, a missing field) was counted as
// refused on an import line and not at all in a mutation. Only the
// mutations of inputs are counted, so that a name a client makes up
// never becomes a label; a document that does not parse, has no
// operation to pick, or picks a query or a subscription counts nothing.
type refusals struct {
	unsent func(command string, err error) // Resolver.Unsent; nil counts nothing
	tokens int                             // Limits.ParserToken
	// persisted holds the documents of persisted queries by hash (the
	// server's AutomaticPersistedQuery cache): a refused body or message
	// that names its document so holds no query.
	persisted graphql.Cache[string]
}

// request counts what CreateOperationContext refused with errs: the
// operation oc holds when it got that far (its variables or a limit
// refused it), else, when the document parsed but did not validate (gqlgen
// then keeps no document), the operation of params.Query parsed again.
func (c refusals) request(oc *graphql.OperationContext, params *graphql.RawParams, errs gqlerror.List) {
	if c.unsent == nil || len(errs) == 0 {
		return
	}
	switch {
	case oc != nil && oc.Operation != nil:
		c.operation(oc.Doc, oc.Operation, params.Variables, refusedBeforeRun(errs))
	case oc != nil && oc.Doc != nil: // no operation of that name
	case invalidDocument(errs):
		c.query(context.Background(), params.Query, params.OperationName, nil, params.Variables, refusedBeforeRun(errs))
	}
}

// invalidDocument reports whether errs are gqlgen's refusal of a document
// that parsed but did not validate (not one that did not parse, nor a
// persisted query it could not find).
func invalidDocument(errs gqlerror.List) bool {
	for _, e := range errs {
		if e.Extensions["code"] != errcode.ValidationFailed {
			return false
		}
	}
	return true
}

// refusedBeforeRun is the error Unsent is told of for a command gqlgen
// refused before it ran: the client's (result refused), in gqlgen's words.
func refusedBeforeRun(errs gqlerror.List) error {
	return &domain.Error{Kind: domain.KindInvalid, Message: errs.Error()}
}

// query counts the mutation fields of the operation named name (the only
// one when name is "") in query, or when query is empty in the persisted
// document extensions name, err saying why it was refused. A query
// without the word mutation has none, and is not parsed.
func (c refusals) query(ctx context.Context, query, name string, extensions, vars map[string]any, err error) {
	if c.unsent == nil {
		return
	}
	if query == "" && c.persisted != nil {
		pq, _ := extensions["persistedQuery"].(map[string]any)
		if hash, _ := pq["sha256Hash"].(string); hash != "" {
			query, _ = c.persisted.Get(ctx, hash)
		}
	}
	if !strings.Contains(query, "mutation") {
		return
	}
	doc, perr := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, c.tokens)
	if perr != nil {
		return
	}
	c.operation(doc, doc.Operations.ForName(name), vars, err)
}

// operation counts each mutation field op selects, once per response key
// (an alias is a command of its own, as it runs as one), at its top
// level, through fragments on Mutation; a field or fragment that @skip or
// @include leaves out (with vars, the variables as sent) would never have
// run, and is no command.
func (c refusals) operation(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any, err error) {
	if c.unsent == nil || op == nil || op.Operation != ast.Mutation {
		return
	}
	keys := map[string]bool{}
	spread := map[string]bool{} // fragments walked: a cycle (refused by validation) is walked once
	var walk func(set ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if inputs[s.Name] != nil && !keys[s.Alias] && !skipped(s.Directives, vars) {
					keys[s.Alias] = true
					c.unsent(s.Name, err)
				}
			case *ast.InlineFragment:
				if (s.TypeCondition == "" || s.TypeCondition == "Mutation") && !skipped(s.Directives, vars) {
					walk(s.SelectionSet)
				}
			case *ast.FragmentSpread:
				if doc == nil || spread[s.Name] || skipped(s.Directives, vars) {
					continue
				}
				spread[s.Name] = true
				if f := doc.Fragments.ForName(s.Name); f != nil && f.TypeCondition == "Mutation" {
					walk(f.SelectionSet)
				}
			}
		}
	}
	walk(op.SelectionSet)
}
