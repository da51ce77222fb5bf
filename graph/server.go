package graph

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph/generated"
	"github.com/careerledger/careerledger/graph/model"
)

// Limits bound what one request may cost.
type Limits struct {
	Complexity int // default 5000, in objects: see costs
	Depth      int // default 12
	// Selections bounds the fields an operation selects once each
	// fragment spread is replaced by its fragment (default 20,000): a
	// fragment spread twice in another, spread twice in a third, and so
	// on, doubles with each level, and the complexity and depth limits
	// walk every spread, so 30 such fragments (a 1 KB request) held a
	// core for minutes before either could refuse it.
	Selections  int
	ParserToken int   // default 10000
	BodyBytes   int64 // default 1 MiB
	// BodyRead bounds how long a request's body may take to arrive
	// (default DefaultBodyRead, 30 s), from when the request's headers
	// are read: a client sending it slower is answered 408 and nothing is
	// recorded. A request without a body (a websocket, a GET) is not
	// bounded by it.
	BodyRead time.Duration
	// WebsocketInit is how long a websocket may take to send
	// connection_init before it is closed (default 10 s): a connection
	// that never says who it is holds nothing open for long.
	WebsocketInit time.Duration
	// Subscriptions bounds the subscriptions one websocket connection
	// holds at once (default 100): each holds a buffer of level changes
	// and goroutines until it completes, and 50,000 subscribe messages on
	// one connection held 1.3 GB.
	Subscriptions int
	// SubscriptionsPerCaller bounds the subscriptions one caller (a
	// token's subject) holds at once across all its websocket connections
	// (default 1000): Subscriptions alone bounds nothing for a caller who
	// opens more connections. 1000 is ten connections' worth, room for a
	// dashboard following every department and person it shows, and holds
	// about 26 MB of buffers and goroutines at most.
	SubscriptionsPerCaller int
	// Request bounds a query or mutation, over HTTP or a websocket
	// (default DefaultRequest, 60 s, more than a mutation's read-your-writes wait): one
	// whose reads hang on a silent connection ends with an error instead
	// of holding its client forever. Subscriptions are not bounded by it.
	Request time.Duration
}

// DefaultRequest is Limits.Request's default: how long a query or
// mutation may take when no bound is given.
const DefaultRequest = 60 * time.Second

func (l Limits) withDefaults() Limits {
	if l.Complexity <= 0 {
		l.Complexity = 5000
	}
	if l.Depth <= 0 {
		l.Depth = 12
	}
	if l.Selections <= 0 {
		l.Selections = 20000
	}
	if l.ParserToken <= 0 {
		l.ParserToken = 10000
	}
	if l.BodyBytes <= 0 {
		l.BodyBytes = 1 << 20
	}
	if l.BodyRead <= 0 {
		l.BodyRead = DefaultBodyRead
	}
	if l.WebsocketInit <= 0 {
		l.WebsocketInit = 10 * time.Second
	}
	if l.Subscriptions <= 0 {
		l.Subscriptions = 100
	}
	if l.SubscriptionsPerCaller <= 0 {
		l.SubscriptionsPerCaller = 1000
	}
	if l.Request <= 0 {
		l.Request = DefaultRequest
	}
	return l
}

// ServerConfig configures the GraphQL HTTP handler.
type ServerConfig struct {
	Resolver *Resolver
	Tokens   *Tokens
	Dev      bool // introspection and GraphiQL
	Limits   Limits
	Logger   *slog.Logger
	// OnOperation, when set, observes every operation: its name (as the
	// document names the operation that ran, "" if anonymous, "invalid"
	// when none ran), type, duration and whether it returned errors.
	OnOperation func(name, kind string, d time.Duration, failed bool)
	// Websockets, when set, holds the server's websocket connections so
	// that Websockets.Shutdown ends them with a close frame (1001 Going
	// Away) when the server stops. Without it they are dropped without one
	// when the process exits.
	Websockets *Websockets
}

// NewServer returns the /graphql handler (authenticated) with explicit
// transports, a query cache, persisted queries and limits.
func NewServer(cfg ServerConfig) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	lim := cfg.Limits.withDefaults()
	c := generated.Config{Resolvers: cfg.Resolver}
	costs(&c.Complexity)
	es := generated.NewExecutableSchema(c)
	srv := handler.New(es)
	srv.SetValidationRulesFn(validationRules)
	persisted := lru.New[string](1000)
	refused := refusals{unsent: cfg.Resolver.Unsent, tokens: lim.ParserToken, persisted: persisted}
	addTransport := func(t graphql.Transport) {
		srv.AddTransport(intVariables{Transport: t, schema: es.Schema(), refused: refused})
	}
	ws := cfg.Websockets
	if ws == nil {
		ws = NewWebsockets()
	}
	addTransport(sessions{ws: ws, maxSubs: lim.Subscriptions, maxCallerSubs: lim.SubscriptionsPerCaller, Transport: transport.Websocket{
		// Every connection ends when the token it is authenticated by
		// expires (or the server shuts down): see wsSession. Its timer,
		// not a ping, closes it, at the expiry.
		Implementation:        wsImplementation{inner: transport.CoderWebsocketImplementation{}, refused: refused},
		KeepAlivePingInterval: 10 * time.Second,
		InitTimeout:           lim.WebsocketInit,
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			token, ok := bearer(payload.Authorization())
			if !ok {
				if t, _ := payload["token"].(string); t != "" {
					token, ok = t, true
				}
			}
			if !ok {
				if _, upgraded := PrincipalFrom(ctx); upgraded {
					// The upgrade request carried a valid Authorization
					// header (Authenticate checked it).
					return ctx, nil, nil
				}
			}
			// graphql-transport-ws refuses a connection by closing with
			// 4403 Forbidden (see closeForbidden).
			refuse := transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, "Forbidden"), closeForbidden)
			if !ok {
				return refuse, nil, errors.New("missing bearer token: neither an Authorization header on the upgrade nor one in the connection_init payload")
			}
			p, err := cfg.Tokens.Verify(token)
			if tokenExpired(err) {
				return transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, "token expired"), closeForbidden), nil, err
			}
			if tokenTooLong(err) {
				return transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, "token lifetime too long"), closeForbidden), nil, err
			}
			if err != nil {
				return refuse, nil, err
			}
			if s := sessionFrom(ctx); s != nil {
				// The connection ends when this token expires, whatever
				// the upgrade's token said.
				s.expireAt(p.Expires)
			}
			return WithPrincipal(ctx, p), nil, nil
		},
	}})
	addTransport(transport.Options{})
	addTransport(getQuery{refused: refused})
	addTransport(postJSON{refused: refused})
	addTransport(unsupported{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(lim.ParserToken)
	if cfg.Dev {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: persisted})
	// Before the complexity and depth limits, whose walks spread every
	// fragment where it stands: this one counts each fragment once.
	srv.Use(selectionLimit{max: lim.Selections})
	srv.Use(extension.FixedComplexityLimit(lim.Complexity, complexity.WithFixedScalarValue(0)))
	srv.Use(depthLimit{max: lim.Depth})
	srv.Use(noFutureKnownAt{now: cfg.Resolver.Now})
	srv.Use(argumentsFirst{schema: es.Schema()})
	if cfg.OnOperation != nil {
		srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
			start := time.Now()
			resp := next(ctx)
			if graphql.HasOperationContext(ctx) {
				oc := graphql.GetOperationContext(ctx)
				// The name of the operation that ran, as its document
				// names it: not the request's operationName, which a
				// client can fill with anything when it matches nothing.
				kind, name := "query", "invalid"
				if oc.Operation != nil {
					kind, name = string(oc.Operation.Operation), oc.Operation.Name
				}
				if kind != "subscription" {
					cfg.OnOperation(name, kind, time.Since(start), resp != nil && len(resp.Errors) > 0)
				}
			}
			return resp
		})
	}
	if cfg.Resolver.Unsent != nil {
		// Around the fields of mutations alone: srv.AroundFields would
		// wrap every field of every query too (a closure each, 4 % of a
		// standing query's allocations) to look at fields it passes on.
		srv.Use(mutationFields{mw: countUnsent(cfg.Resolver.Unsent)})
	}
	present := errorPresenter(log)
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return boundOperation(ctx, lim.Request, func(ctx context.Context) graphql.ResponseHandler {
			// A query with a knownAt waits for the read model to apply
			// the log's head as it is now (settleKnownAt): under the
			// operation's deadline and, on a websocket, on its own
			// goroutine, not on the connection's reading loop. Not here,
			// before its fields run: each field with a knownAt waits
			// (awaitKnownAt, once for the operation) after it has
			// authorised its caller, so that a field the caller may not
			// read is refused at once, FORBIDDEN, and never waits. A
			// mutation does not wait: its answer waits for the read
			// model to apply its own event, after the head it found, and
			// a wait before it ran would refuse it, recording nothing,
			// while the projector is behind.
			if latest, ok := latestKnownAt(ctx); ok && graphql.GetOperationContext(ctx).Operation.Operation != ast.Mutation {
				ctx = cfg.Resolver.withKnownAtWait(ctx, latest)
			}
			return next(withWriteMark(ctx))
		})
	})
	srv.SetErrorPresenter(present)
	srv.SetRecoverFunc(recoverFunc(log))

	var h http.Handler = srv
	// The token first: limitBody reads a body of unknown length (chunked)
	// into memory, up to BodyBytes, and a caller without a valid token
	// must not make the server hold a megabyte for them. The body's read
	// deadline before both: a refused request's body is bounded too.
	h = limitBody(h, lim.BodyBytes)
	h = cfg.Tokens.Authenticate(h)
	h = readBodyWithin(h, lim.BodyRead)
	return h
}

// boundOperation runs a query or mutation, over HTTP or a websocket, under
// a deadline of d (or its request's, if earlier) until its last response;
// a subscription runs unbounded.
func boundOperation(ctx context.Context, d time.Duration, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx).Operation
	if op == nil || op.Operation == ast.Subscription {
		return next(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	h := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if resp == nil || resp.HasNext == nil || !*resp.HasNext {
			cancel()
		}
		return resp
	}
}

// distributionCost is what one distribution costs besides its selection: each
// is a read of the store of its own (a query on PostgreSQL).
const distributionCost = 10

// replayCost is what an analytics answer as known at an instant costs
// besides its selection: it replays the events of everyone who may count
// (projections.DistributionsKnownAt), so a request holds at most a few.
const replayCost = 1000

// documentCost is what the catalogue document costs: a scalar, but one of
// about 8 KB, so that aliases of it cannot multiply an answer past what
// the limit allows any other request (100 aliases are refused).
const documentCost = 50

// costs sets the cost model that Limits.Complexity bounds. A request costs
// the objects it may return: a field whose value is an object (or a list of
// objects) costs 1 plus what is selected in it, and a scalar or enum field
// costs nothing (it is read from an object already fetched; the parser
// token limit bounds how many a request can name). A connection (people,
// accomplishments) costs 1 plus first (20 by default) times what is
// selected in it (at least 1, since the page is read whole even when only
// its totalCount is selected), as if every page were full. A distribution costs
// distributionCost plus its selection, and a skillTrend, which computes one
// distribution per point, costs 1 plus that times its points. Fragments on
// the accomplishment types add up (they select scalars only, so they cost
// nothing). Other lists count once, whatever their length: their length is
// the data's (a person's memberships, history, three fields' standing), not
// the request's. A person's department with knownAt, a read of their
// events as history(knownAt:) is, costs 1 as that list does. The catalogue
// document costs documentCost, the departments list distributionCost. An answer as known at an instant
// (knownAt: analytics, or a page of people) costs replayCost more, once
// for a whole trend.
func costs(c *generated.ComplexityRoot) {
	c.Catalogue.Document = func(int) int { return documentCost }
	listCost := func(child int, first *int) int {
		n := 20
		if first != nil && *first > 0 {
			n = *first
		}
		// A page is read whole even when only its totalCount is selected:
		// it costs at least first.
		return 1 + n*max(child, 1)
	}
	c.Query.People = func(child int, _ *string, _ *model.SpecialtyField, _ *int, _ *domain.Date, first *int, _ *string, knownAt *time.Time) int {
		if knownAt != nil {
			return replayCost + listCost(child, first)
		}
		return listCost(child, first)
	}
	c.Person.Accomplishments = func(child int, first *int, _ *string) int { return listCost(child, first) }
	// A department as known at an instant is a read of the person's
	// events, as history(knownAt:) is: it costs 1, as that list does.
	c.Person.Department = func(_ int, _ *domain.Date, knownAt *time.Time) int {
		if knownAt != nil {
			return 1
		}
		return 0
	}
	c.Query.SkillDistribution = func(child int, _ model.SpecialtyField, _ *domain.Date, _ *string, knownAt *time.Time) int {
		if knownAt != nil {
			return replayCost + child
		}
		return distributionCost + child
	}
	// The departments list is a read of the store of its own, as a
	// distribution is.
	c.Query.Departments = func(int) int { return distributionCost }
	c.Query.SkillTrend = func(child int, _ model.SpecialtyField, _ *string, from, to domain.Date, interval model.Interval, knownAt *time.Time) int {
		// A range the resolver refuses costs next to nothing; with knownAt
		// a replay is charged whatever the range.
		dates, err := trendDates(from, to, interval)
		if knownAt != nil && err != nil {
			return replayCost
		}
		if err != nil {
			return 1
		}
		if knownAt != nil {
			// One replay, then each point is counted from what it judged.
			return replayCost + len(dates)*(1+child)
		}
		return 1 + len(dates)*(distributionCost+child)
	}
}

// Playground returns the GraphiQL page, served only in development mode.
func Playground() http.Handler { return playground.Handler("careerledger", "/graphql") }

func limitBody(next http.Handler, n int64) http.Handler {
	tooLarge := func(w http.ResponseWriter) {
		httpError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", "request body too large")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			tooLarge(w)
			return
		}
		if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody && (postJSON{}).Supports(r) {
			// A body of unknown length (chunked) is read here, up to the
			// limit, so that an oversized one gets 413 like any other
			// rather than a transport's read error. Only one postJSON
			// reads: a request no transport serves is refused at once
			// (unsupported), not once its body, sent slowly, has come or
			// the body read timeout has passed.
			body, err := io.ReadAll(io.LimitReader(r.Body, n+1))
			if refuseSlowBody(w, err) {
				return
			}
			if err != nil {
				httpError(w, http.StatusBadRequest, "BAD_REQUEST", "could not read the request body")
				return
			}
			if int64(len(body)) > n {
				tooLarge(w)
				return
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// selectionLimit refuses operations that select more than max fields once
// their fragment spreads are replaced by their fragments. It counts each
// fragment's fields once (a spread adds what its fragment was counted), so
// it takes time in proportion to the document, however often fragments
// spread one another; the walks after it (gqlgen's complexity, depthLimit)
// take time in proportion to the count it bounds.
type selectionLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = selectionLimit{}

func (selectionLimit) ExtensionName() string                   { return "SelectionLimit" }
func (selectionLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l selectionLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if n := selectionCount(oc.Operation.SelectionSet, oc.Doc.Fragments, map[string]int{}, l.max); n > l.max {
		err := gqlerror.Errorf("operation selects more than %d fields once its fragments are spread (each spread counts its fragment's fields again); the limit is %d", l.max, l.max)
		err.Extensions = map[string]any{"code": "COMPLEXITY_LIMIT_EXCEEDED"}
		return err
	}
	return nil
}

// selectionCount returns the fields set selects with every fragment spread
// replaced by its fragment, or max+1 once that is more than max. counted
// holds what each fragment spread so far counted.
func selectionCount(set ast.SelectionSet, frags ast.FragmentDefinitionList, counted map[string]int, max int) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n += 1 + selectionCount(s.SelectionSet, frags, counted, max)
		case *ast.InlineFragment:
			n += selectionCount(s.SelectionSet, frags, counted, max)
		case *ast.FragmentSpread:
			c, ok := counted[s.Name]
			if !ok {
				// Validation refuses cycles; were one let through, it
				// would count as over the limit rather than recurse.
				counted[s.Name] = max + 1
				if f := frags.ForName(s.Name); f != nil {
					c = selectionCount(f.SelectionSet, frags, counted, max)
				} else {
					c = 0
				}
				counted[s.Name] = c
			}
			n += c
		}
		if n > max {
			return max + 1
		}
	}
	return n
}

// depthLimit refuses operations nested deeper than max selections.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, oc.Doc.Fragments, 0); depth > d.max {
		err := gqlerror.Errorf("operation is nested %d levels deep; the limit is %d", depth, d.max)
		err.Extensions = map[string]any{"code": "DEPTH_LIMIT_EXCEEDED"}
		return err
	}
	return nil
}

func selectionDepth(set ast.SelectionSet, frags ast.FragmentDefinitionList, seen int) int {
	if seen > 64 {
		return seen // cycles are refused by validation; stay bounded anyway
	}
	max := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.SelectionSet) == 0 {
				d = 1
			} else {
				d = 1 + selectionDepth(s.SelectionSet, frags, seen+1)
			}
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, frags, seen+1)
		case *ast.FragmentSpread:
			if f := frags.ForName(s.Name); f != nil {
				d = selectionDepth(f.SelectionSet, frags, seen+1)
			}
		}
		if d > max {
			max = d
		}
	}
	return max
}
