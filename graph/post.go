package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/careerledger/careerledger/domain"
)

// postJSON is gqlgen's POST transport (transport.POST with its defaults:
// the same requests, status codes, headers and bodies) but for how it
// writes an answer. transport.POST passes every answer to json.Marshal,
// which copies the data gqlgen has already encoded through a compacting
// scanner, byte by byte: for a person's standing a tenth of a request's
// processor time outside the resolvers. An answer of data alone, which
// that pass would leave as it is, is written as it stands; any other goes
// through json.Marshal as before (writeResponse). A body refused before
// gqlgen (a key given twice) has the mutation fields it names counted as
// refused (refused).
type postJSON struct {
	transport.POST
	refused refusals
}

var _ graphql.Transport = postJSON{}

// The two answer types transport.POST negotiates.
const (
	contentJSON            = "application/json"
	contentGraphQLResponse = "application/graphql-response+json"
)

func (t postJSON) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := responseContentType(r)
	w.Header().Add("Content-Type", contentType)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if refuseSlowBody(w, err) {
		return
	}
	if err != nil {
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %+v", err)}))
		return
	}
	if !utf8.Valid(body) {
		// JSON is UTF-8: decoded, the bytes that are not would become
		// U+FFFD, and a name or title sent so recorded as such for good.
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf(
			"the request body is not UTF-8: JSON is UTF-8, and text in another encoding (such as Shift_JIS) would be recorded as replacement characters")}))
		return
	}
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf(
			"json request body could not be decoded: %+v body:%s", err, string(body))}))
		return
	}
	if k, ok := RepeatedKey(body); ok {
		// encoding/json keeps the last of two equal keys: a variable's
		// {"personId": "E1", ..., "personId": "E2"} recorded for E2, where
		// the same input written in the query is refused ("There can be
		// only one input field named"). Its mutation is counted as
		// refused, as the same line of an import is (unsentLine).
		t.refused.query(ctx, params.Query, params.OperationName, params.Extensions, params.Variables, domain.Invalid(k, RepeatedKeyInRequestRule))
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{{
			Message:    k + ": " + RepeatedKeyInRequestRule,
			Extensions: map[string]any{"code": "BAD_USER_INPUT", "field": k, "rule": RepeatedKeyInRequestRule},
		}}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		w.WriteHeader(statusOf(contentType, opErr))
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	if rc.Operation != nil && rc.Operation.Operation == ast.Subscription {
		// A subscription is served over a websocket, where its connection
		// and its caller hold a bounded number (Limits.Subscriptions,
		// SubscriptionsPerCaller): over a POST it was counted by neither,
		// and no request deadline ended it, so that any number of them
		// each held a connection, a subscriber's buffer and goroutines
		// until a level change came.
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), gqlerror.List{gqlerror.Errorf(
			"a subscription is served over a websocket only (graphql-transport-ws on /graphql), not over a POST")}))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx))
}

// responseContentType is the answer's media type as transport.POST picks
// it from the Accept header: application/json when none is given, else
// the first of application/json, application/graphql-response+json and
// the wildcards (application/json) that it names, else
// application/graphql-response+json.
func responseContentType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return contentJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", contentJSON:
			return contentJSON
		case contentGraphQLResponse:
			return contentGraphQLResponse
		}
	}
	return contentGraphQLResponse
}

// statusOf is the status of a request refused before it ran, as
// transport.POST gives it: a protocol error is 400 under
// application/graphql-response+json, 422 under application/json; any
// other refusal is 200.
func statusOf(contentType string, errs gqlerror.List) int {
	if errcode.GetErrorKind(errs) != errcode.KindProtocol {
		return http.StatusOK
	}
	if contentType == contentGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}

// writeResponse writes resp as json.Marshal encodes it. An answer of data
// alone whose encoding json.Marshal's pass would leave unchanged (no white
// space between tokens, nothing it escapes for HTML: see untouched) is
// written around that encoding as it stands. That pass also checks that
// the data is JSON, which this one does not: gqlgen's marshallers and this
// schema's scalars and enums write nothing else (TestScalarsWriteValidJSON;
// the schema has no Float, which can write NaN), where transport.POST
// would answer 500 for data that is not.
func writeResponse(w io.Writer, resp *graphql.Response) {
	if resp != nil && len(resp.Errors) == 0 && resp.Label == "" && resp.Path == nil && resp.HasNext == nil &&
		len(resp.Extensions) == 0 && len(resp.Data) > 0 && untouched(resp.Data) {
		b := make([]byte, 0, len(`{"data":}`)+len(resp.Data))
		b = append(b, `{"data":`...)
		b = append(b, resp.Data...)
		b = append(b, '}')
		w.Write(b) //nolint:errcheck // as transport.POST: the client went away
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		panic(fmt.Errorf("unable to marshal %s: %w", string(resp.Data), err))
	}
	w.Write(b) //nolint:errcheck // as transport.POST: the client went away
}

// notable marks the bytes untouched stops at: the string delimiters, the
// white space json.Compact removes between tokens, and what json.Marshal
// escapes for HTML (<, > and &; U+2028 and U+2029 begin with 0xE2).
var notable = func() (t [256]bool) {
	for _, c := range []byte("\"\\ \t\n\r<>&\xe2") {
		t[c] = true
	}
	return t
}()

// untouched reports whether json.Marshal's pass over data, JSON encoded
// by gqlgen, would copy it unchanged: no white space outside strings, and
// no <, >, &, U+2028 or U+2029 anywhere. It answers false for anything it
// is unsure of, which json.Marshal then handles.
func untouched(data []byte) bool {
	in := false // inside a string
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !notable[c] {
			continue
		}
		switch c {
		case '"':
			in = !in
		case '\\':
			if !in {
				return false
			}
			i++ // the escaped byte: a quote, a backslash, a letter
		case ' ':
			if !in {
				return false
			}
		case 0xe2:
			if i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xa8 || data[i+2] == 0xa9) {
				return false
			}
		default: // tab, line breaks (never raw in a string), <, >, &
			return false
		}
	}
	return !in
}

// getQuery is gqlgen's GET transport but for text that is not UTF-8: a
// query string's values are percent-decoded into bytes, which the parser
// and the JSON decoder of variables take each for U+FFFD, so a department
// or an id sent so reached the resolvers as replacement characters. Such a
// request is refused as postJSON refuses such a body. Its other refusals
// of the request itself (a malformed percent escape, variables or
// extensions that are not JSON, a mutation) carry extensions.code
// BAD_REQUEST like postJSON's: transport.GET writes them with a message
// alone.
//
// A mutation it refuses (406) is counted as refused (refused).
type getQuery struct {
	transport.GET
	refused refusals
}

var _ graphql.Transport = getQuery{}

func (t getQuery) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	refuse := func(status int, msg string) {
		w.Header().Set("Content-Type", responseContentType(r))
		w.WriteHeader(status)
		writeResponse(w, exec.DispatchError(r.Context(), gqlerror.List{gqlerror.Errorf("%s", msg)}))
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	switch {
	case err != nil:
		refuse(http.StatusBadRequest, "the query string could not be parsed: "+err.Error())
		return
	case !validQuery(query):
		refuse(http.StatusBadRequest, "the query string is not UTF-8 once percent-decoded: JSON and GraphQL are UTF-8, and text in another encoding (such as Shift_JIS) would be read as replacement characters")
		return
	}
	for _, name := range []string{"variables", "extensions"} {
		if v := query.Get(name); v != "" {
			var m map[string]any
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				refuse(http.StatusBadRequest, name+" could not be decoded: not a JSON object: "+err.Error())
				return
			}
		}
	}
	gw := &queriesOnly{ResponseWriter: w}
	seen := &seenOperation{GraphExecutor: exec}
	t.GET.Do(gw, r, seen)
	if gw.refused {
		// transport.GET refused the operation it had prepared: the one
		// the query string names, or a persisted one its hash names (the
		// query string then holds no document to parse).
		var doc *ast.QueryDocument
		var op *ast.OperationDefinition
		var vars map[string]any
		if seen.oc != nil {
			doc, op, vars = seen.oc.Doc, seen.oc.Operation, seen.oc.Variables
		}
		if op != nil && op.Operation == ast.Subscription {
			refuse(http.StatusNotAcceptable, "a subscription is served over a websocket only (graphql-transport-ws on /graphql), not over a GET")
			return
		}
		const rule = "GET requests only allow query operations: send a mutation with POST"
		t.refused.operation(doc, op, vars, domain.Invalid("query", rule))
		refuse(http.StatusNotAcceptable, rule)
	}
}

// seenOperation is a GraphExecutor that keeps the operation context it
// prepared last (getQuery's, of one request).
type seenOperation struct {
	graphql.GraphExecutor
	oc *graphql.OperationContext
}

func (x *seenOperation) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	oc, errs := x.GraphExecutor.CreateOperationContext(ctx, params)
	x.oc = oc
	return oc, errs
}

// queriesOnly holds back transport.GET's refusal of an operation that is
// not a query (406, its message alone) for getQuery to write with a code.
type queriesOnly struct {
	http.ResponseWriter
	refused bool
}

func (w *queriesOnly) WriteHeader(status int) {
	if status == http.StatusNotAcceptable {
		w.refused = true
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *queriesOnly) Write(b []byte) (int, error) {
	if w.refused {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// validQuery reports whether every name and value of q is UTF-8.
func validQuery(q url.Values) bool {
	for k, vs := range q {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

// unsupported answers the requests no other transport serves (a POST of
// another content type than JSON, a PUT, ...), as gqlgen does, 400, but
// naming what is served, with a code, and at once: without it, gqlgen's
// answer to a POST it does not serve left the body unread, and the
// server read on it, to reuse the connection, before sending the answer
// (up to the body read timeout for a client that sends slowly).
type unsupported struct{}

var _ graphql.Transport = unsupported{}

func (unsupported) Supports(*http.Request) bool { return true }

func (unsupported) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	closeUnread(w, r)
	what := r.Method
	if ct := r.Header.Get("Content-Type"); ct != "" && r.Method == http.MethodPost {
		what = fmt.Sprintf("a POST of %q", ct)
	}
	httpError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf(
		"%s is not served: a GraphQL request is a POST of application/json, a GET with the query in its query string, or a websocket upgrade (graphql-transport-ws)", what))
}
