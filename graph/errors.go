package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/careerledger/careerledger/domain"
)

// codes maps domain error kinds to GraphQL extensions.code: the one table
// that decides what a client is told.
var codes = map[domain.ErrorKind]string{
	domain.KindInvalid:         "BAD_USER_INPUT",
	domain.KindNotFound:        "NOT_FOUND",
	domain.KindConflict:        "CONFLICT",
	domain.KindForbidden:       "FORBIDDEN",
	domain.KindUnauthenticated: "UNAUTHENTICATED",
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id logged with errors.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// errorPresenter turns resolver errors into GraphQL errors: domain errors
// keep their message and get their code; anything else is logged with the
// request id and shown as a generic INTERNAL error.
func errorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		var de *domain.Error
		if errors.As(err, &de) {
			if de.Kind == domain.KindInvalid && de.Field == "" {
				// A malformed scalar: it knows its rule, the path its field.
				named := *de
				named.Field = inputName(gerr.Path)
				named.Message = named.Field + ": " + named.Rule
				de = &named
			}
			if code, ok := codes[de.Kind]; ok {
				gerr.Message = de.Message
				if gerr.Extensions == nil {
					gerr.Extensions = map[string]any{}
				}
				gerr.Extensions["code"] = code
				if de.Kind == domain.KindInvalid {
					gerr.Extensions["field"] = de.Field
					gerr.Extensions["rule"] = de.Rule
				}
				return gerr
			}
		}
		var ge *gqlerror.Error
		if errors.As(err, &ge) {
			switch {
			case ge.Extensions != nil && ge.Extensions["code"] != nil:
				return gerr // parse and validation errors carry their own code
			case ge.Err == nil:
				// gqlgen's own words about the request (a persisted-query
				// hash that does not match, a body it could not read): the
				// client's to fix, and safe to show.
				gerr.Extensions = map[string]any{"code": "BAD_REQUEST"}
				return gerr
			case ge.Err.Error() == "introspection disabled":
				// gqlgen reports it as a plain error; it is not a failure.
				gerr.Extensions = map[string]any{"code": "INTROSPECTION_DISABLED"}
				return gerr
			}
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			gerr.Message = "the request timed out or was cancelled"
			gerr.Extensions = map[string]any{"code": "TIMEOUT", "requestId": RequestID(ctx)}
			return gerr
		}
		log.ErrorContext(ctx, "request failed", "request_id", RequestID(ctx), "path", gerr.Path.String(), "err", err)
		gerr.Message = "internal error"
		gerr.Extensions = map[string]any{"code": "INTERNAL", "requestId": RequestID(ctx)}
		return gerr
	}
}

// inputName is the last name in an input's path (the field or argument a
// malformed value came in), "input" if it has none.
func inputName(path ast.Path) string {
	for i := len(path) - 1; i >= 0; i-- {
		if name, ok := path[i].(ast.PathName); ok {
			return string(name)
		}
	}
	return "input"
}

// recoverFunc logs a resolver panic and reports a generic internal error.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "resolver panic", "request_id", RequestID(ctx), "panic", fmt.Sprint(v))
		return errors.New("internal error")
	}
}
