package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
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

// What a client is told when the event log cannot be reached (UNAVAILABLE:
// nothing was sent, or no stream took it) and when an answer did not come
// in time or was lost (TIMEOUT): a mutation's write may then have been
// recorded, and only a retry under the same idempotency key is sure to
// record it once.
const (
	unavailableMutation = "the event log is unreachable: nothing was recorded; send the request again once it is back"
	unavailableQuery    = "the event log is unreachable; try again once it is back"
	timeoutMutation     = "the write was not confirmed (the request timed out, was cancelled, or lost its answer with the connection to the event log): " +
		"it may have been recorded. Sending it again with the same idempotencyKey is safe (it is recorded once); without one, a retry may record it twice"
	timeoutQuery = "the request timed out or was cancelled"
	// A mutation that ended before it sent its write.
	timeoutBeforeWrite = "the request timed out or was cancelled before its write was sent: nothing was recorded; send it again"

	// The read model (PostgreSQL) unreachable (UNAVAILABLE): before a
	// mutation sent its write (reading who may do what, or the departments
	// to warn of), or after the write was recorded, reading the answer.
	readModelMutation   = "the read model is unreachable: nothing was recorded; send the request again once it is back"
	readModelQuery      = "the read model is unreachable; try again once it is back"
	readModelAfterWrite = "the write was recorded, but the read model is unreachable and its answer cannot be read: " +
		"query it once the read model is back. Sending the request again with the same idempotencyKey records nothing more; without one, a retry records it twice"
)

// logLine ends the warning logged for each failureOf code.
var logLine = map[string]string{"UNAVAILABLE": "the event log is unreachable", "TIMEOUT": "timed out or cancelled"}

// logLineOf ends the warning logged for err, told code by failureOf.
func logLineOf(err error, code string) string {
	if code == "UNAVAILABLE" && !errors.Is(err, events.ErrUnavailable) {
		return "the read model is unreachable"
	}
	return logLine[code]
}

// answerUnread is the failure of a mutation whose command was recorded
// (or repeated one recorded before) to read its answer: the read-your-
// writes wait or the read of the payload.
type answerUnread struct{ err error }

func (e answerUnread) Error() string { return "recorded, but the answer is unread: " + e.err.Error() }
func (e answerUnread) Unwrap() error { return e.err }

// afterWrite marks err, a failure to read a recorded command's answer, as
// such, so that the client is not told that nothing was recorded.
func afterWrite(err error) error {
	if err == nil || !errors.Is(err, projections.ErrUnavailable) {
		return err
	}
	return answerUnread{err}
}

// failureOf returns the code and message a client is told for an error
// that is neither the client's nor a bug: the event log or the read model
// unreachable (UNAVAILABLE) or an answer that did not come in time or was
// lost (TIMEOUT); mutation chooses the words for a write. It returns "" for
// any other error.
func failureOf(err error, mutation, writing bool) (code, message string) {
	switch {
	case errors.Is(err, events.ErrUnavailable):
		if mutation {
			return "UNAVAILABLE", unavailableMutation
		}
		return "UNAVAILABLE", unavailableQuery
	case errors.Is(err, projections.ErrUnavailable):
		// Before the deadline's case: a connection that timed out wraps
		// context.DeadlineExceeded, but the request had time left.
		var unread answerUnread
		switch {
		case mutation && errors.As(err, &unread):
			return "UNAVAILABLE", readModelAfterWrite
		case mutation:
			return "UNAVAILABLE", readModelMutation
		}
		return "UNAVAILABLE", readModelQuery
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, events.ErrUnconfirmed):
		if mutation && (errors.Is(err, events.ErrNothingSent) || !writing) {
			return "TIMEOUT", timeoutBeforeWrite
		}
		if mutation {
			return "TIMEOUT", timeoutMutation
		}
		return "TIMEOUT", timeoutQuery
	}
	return "", ""
}

// isMutation reports whether ctx is a field of a mutation.
func isMutation(ctx context.Context) bool {
	if !graphql.HasOperationContext(ctx) {
		return false
	}
	op := graphql.GetOperationContext(ctx).Operation
	return op != nil && op.Operation == ast.Mutation
}

// notAValidEnum is the refusal of gqlgen's generated enum types.
var notAValidEnum = regexp.MustCompile(`^(?s)(.*) is not a valid ([A-Z][A-Za-z]*)$`)

// errorPresenter turns resolver errors into GraphQL errors: domain errors
// keep their message and get their code; an event log that cannot be
// reached is UNAVAILABLE, as is a read model that cannot be, a deadline, a cancel or a lost acknowledgement
// TIMEOUT (each logged at warn with the request id); anything else is
// logged with the request id and shown as a generic INTERNAL error.
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
			case notAValidEnum.MatchString(ge.Err.Error()) && len(gerr.Path) > 0:
				// gqlgen's generated enum refusing a variable's value that
				// gqlparser let through ("lead" for LEAD): bad input named
				// as the coercion of variables names it, not a failure.
				m := notAValidEnum.FindStringSubmatch(ge.Err.Error())
				given, _ := json.Marshal(m[1])
				de := domain.Invalid(inputName(gerr.Path), "is not a valid "+m[2]+": "+string(given)+" (enum values are upper case)"+oneOf(m[2]))
				gerr.Message = de.Message
				gerr.Extensions = map[string]any{"code": codes[de.Kind], "field": de.Field, "rule": de.Rule}
				return gerr
			case ge.Err.Error() == "introspection disabled":
				// gqlgen reports it as a plain error; it is not a failure.
				gerr.Extensions = map[string]any{"code": "INTROSPECTION_DISABLED"}
				return gerr
			}
		}
		if isMutation(ctx) && len(gerr.Path) > 1 {
			// A field of a mutation's payload: the mutation's own field
			// answered, so its command was recorded.
			err = afterWrite(err)
		}
		if code, msg := failureOf(err, isMutation(ctx), writing(ctx)); code != "" {
			log.WarnContext(ctx, "request failed: "+logLineOf(err, code), "request_id", RequestID(ctx),
				"path", gerr.Path.String(), "code", code, "err", err)
			gerr.Message = msg
			gerr.Extensions = map[string]any{"code": code, "requestId": RequestID(ctx)}
			return gerr
		}
		log.ErrorContext(ctx, "request failed", "request_id", RequestID(ctx), "path", gerr.Path.String(), "code", "INTERNAL", "err", err)
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

// writeMark says whether a mutation has sent its command to the recorder:
// before, a timeout means nothing was recorded.
type writeMark struct{ sent atomic.Bool }

type writeKey struct{}

// fieldWriteKey holds the writeMark of one mutation field (countUnsent).
type fieldWriteKey struct{}

// countUnsent tells unsent of each mutation field that failed before it
// sent its command (Resolver.Unsent).
func countUnsent(unsent func(command string, err error)) graphql.FieldMiddleware {
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		if fc == nil || fc.Object != "Mutation" || inputs[fc.Field.Name] == nil {
			return next(ctx)
		}
		m := &writeMark{}
		res, err := next(context.WithValue(ctx, fieldWriteKey{}, m))
		if err != nil && !m.sent.Load() {
			unsent(fc.Field.Name, err)
		}
		return res, err
	}
}

// mutationFields runs mw around every field of a mutation operation,
// outside any middleware srv.AroundFields adds, and leaves queries and
// subscriptions alone.
type mutationFields struct{ mw graphql.FieldMiddleware }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = mutationFields{}

func (mutationFields) ExtensionName() string                   { return "MutationFields" }
func (mutationFields) Validate(graphql.ExecutableSchema) error { return nil }

func (m mutationFields) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return nil
	}
	inner := oc.ResolverMiddleware
	oc.ResolverMiddleware = func(ctx context.Context, next graphql.Resolver) (any, error) {
		return m.mw(ctx, func(ctx context.Context) (any, error) { return inner(ctx, next) })
	}
	return nil
}

// withWriteMark gives an operation a writeMark (NewServer).
func withWriteMark(ctx context.Context) context.Context {
	return context.WithValue(ctx, writeKey{}, &writeMark{})
}

// sending marks the operation of ctx as having sent a command.
func sending(ctx context.Context) {
	if m, ok := ctx.Value(writeKey{}).(*writeMark); ok {
		m.sent.Store(true)
	}
	if m, ok := ctx.Value(fieldWriteKey{}).(*writeMark); ok {
		m.sent.Store(true)
	}
}

// writing reports whether the operation of ctx may have sent a command
// (true when it is not known).
func writing(ctx context.Context) bool {
	m, ok := ctx.Value(writeKey{}).(*writeMark)
	return !ok || m.sent.Load()
}

// httpError answers an HTTP request that never reached GraphQL (no valid
// token, a body too large or unreadable, a websocket refused at shutdown)
// with status and a GraphQL-shaped body, {"errors": [{"message": ...,
// "extensions": {"code": ...}}]}, labelled as the JSON it is: http.Error
// labels whatever it writes text/plain, and a client that goes by the label
// did not read the code.
func httpError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"message": message, "extensions": map[string]string{"code": code}}}})
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n')) //nolint:errcheck // the client went away
}

// EnumValues returns the values of the schema's enum name, in the schema's
// order, or nil when name is no enum of the schema.
func EnumValues(name string) []string {
	def := inputSchema.Types[name]
	if def == nil || def.Kind != ast.Enum {
		return nil
	}
	values := make([]string, len(def.EnumValues))
	for i, v := range def.EnumValues {
		values[i] = v.Name
	}
	return values
}

// InputEnum returns the enum type of the input field field of the input
// type typ (of its elements, for a list of enum values), or "" when the
// field is not an enum (amendAccomplishment's kind is a String).
func InputEnum(typ, field string) string {
	def := inputSchema.Types[typ]
	if def == nil {
		return ""
	}
	f := def.Fields.ForName(field)
	if f == nil {
		return ""
	}
	t := f.Type
	for t.Elem != nil {
		t = t.Elem
	}
	if EnumValues(t.NamedType) == nil {
		return ""
	}
	return t.NamedType
}

// oneOf ends the rule of a value its enum refused with the values it
// takes: "; must be one of SYSTEM_OPERATION, NETWORK_OPERATION,
// SERVICE_DESK" ("" when enum is no enum of the schema).
// enumRule is the rule a value given for enum (a decoded JSON value) breaks,
// in the words GraphQL refuses a variable's with: the value as given in
// JSON, " (enum values are upper case)" for one of the enum's values in
// another case, then the values it takes; "" when given is one of them or
// enum is no enum.
func enumRule(enum string, given any) string {
	values := EnumValues(enum)
	if values == nil {
		return ""
	}
	s, isString := given.(string)
	if isString && slices.Contains(values, s) {
		return ""
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(given) // a decoded JSON value
	rule := "is not a valid " + enum + ": " + strings.TrimSuffix(b.String(), "\n")
	if isString && slices.Contains(values, strings.ToUpper(s)) {
		rule += " (enum values are upper case)"
	}
	return rule + oneOf(enum)
}

func oneOf(enum string) string {
	values := EnumValues(enum)
	if values == nil {
		return ""
	}
	return "; must be one of " + strings.Join(values, ", ")
}
