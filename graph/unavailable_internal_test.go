package graph

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/careerledger/careerledger/projections"
)

// TestAPayloadFieldOfARecordedMutationIsNotToldNothingWasRecorded: a field
// of a mutation's payload resolved after its command was recorded (the
// mutation's own field answered) that cannot read the read model is told
// the write was recorded; the mutation's own field, which failed before
// its command, that nothing was, and a query's field to try again.
func TestAPayloadFieldOfARecordedMutationIsNotToldNothingWasRecorded(t *testing.T) {
	present := errorPresenter(slog.New(slog.NewTextHandler(io.Discard, nil)))
	gone := fmt.Errorf("person: %w", projections.ErrUnavailable)
	op := func(kind ast.Operation) context.Context {
		return withWriteMark(graphql.WithOperationContext(context.Background(),
			&graphql.OperationContext{Operation: &ast.OperationDefinition{Operation: kind}}))
	}
	for _, c := range []struct {
		what string
		ctx  context.Context
		path ast.Path
		want string
	}{
		{"a payload's field", op(ast.Mutation), ast.Path{ast.PathName("registerPerson"), ast.PathName("person"), ast.PathName("standing")}, readModelAfterWrite},
		{"the mutation's field", op(ast.Mutation), ast.Path{ast.PathName("registerPerson")}, readModelMutation},
		{"a query's field", op(ast.Query), ast.Path{ast.PathName("person"), ast.PathName("history")}, readModelQuery},
	} {
		got := present(c.ctx, &gqlerror.Error{Err: gone, Message: gone.Error(), Path: c.path})
		if got.Message != c.want || got.Extensions["code"] != "UNAVAILABLE" {
			t.Errorf("%s: %q %v, want UNAVAILABLE %q", c.what, got.Message, got.Extensions, c.want)
		}
	}
}
