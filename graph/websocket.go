package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/careerledger/careerledger/domain"
)

// Close codes a websocket connection ends with besides the transport's own.
const (
	// closeForbidden ends a connection whose token is refused at
	// connection_init or expires later. graphql-transport-ws clients
	// (graphql-ws) reconnect after it, asking again for their connection
	// parameters: a fresh token. 4401 would read as "Unauthorized" but is
	// the protocol's code for a subscribe sent before connection_ack, and
	// graphql-ws gives up for good after it.
	closeForbidden = 4403
	// closeGoingAway (RFC 6455's 1001) ends every connection when the
	// server shuts down; clients reconnect after it, as after a restart.
	closeGoingAway = 1001
)

// Websockets tracks the websocket connections of the servers configured
// with it, so that Shutdown can end them with a close frame: without one,
// a client sees its connection drop ("EOF") and cannot tell a restart from
// a crash. http.Server.Shutdown does not do it: it neither closes nor waits
// for upgraded connections.
type Websockets struct {
	mu       sync.Mutex
	closing  bool
	sessions map[*wsSession]struct{}
	// callers counts the subscriptions each caller (a token's subject)
	// holds across all its connections.
	callers map[string]int
	wg      sync.WaitGroup
}

// NewWebsockets returns an empty set of websocket connections for
// ServerConfig.Websockets.
func NewWebsockets() *Websockets {
	return &Websockets{sessions: map[*wsSession]struct{}{}, callers: map[string]int{}}
}

// Shutdown ends every websocket connection with 1001 Going Away (a
// subscription's next message is not sent), refuses new ones with 503, and
// waits until each has ended: the client answered the close frame, or the
// close handshake gave up on it (5 s). It returns ctx's error if some are
// still open when ctx is done.
func (ws *Websockets) Shutdown(ctx context.Context) error {
	ws.mu.Lock()
	ws.closing = true
	open := make([]*wsSession, 0, len(ws.sessions))
	for s := range ws.sessions {
		open = append(open, s)
	}
	ws.mu.Unlock()
	for _, s := range open {
		s.end(closeGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		ws.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// open registers a session for an upgrade request, or reports false once
// Shutdown has begun.
func (ws *Websockets) open(s *wsSession) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closing {
		return false
	}
	ws.sessions[s] = struct{}{}
	ws.wg.Add(1)
	return true
}

// takeCaller counts a subscription subject starts, unless it holds max
// already across its connections (then false; max 0: no bound).
func (ws *Websockets) takeCaller(subject string, max int) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if max > 0 && ws.callers[subject] >= max {
		return false
	}
	ws.callers[subject]++
	return true
}

// releaseCaller uncounts a subscription of subject that has ended.
func (ws *Websockets) releaseCaller(subject string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.callers[subject]--; ws.callers[subject] <= 0 {
		delete(ws.callers, subject)
	}
}

// Subscriptions returns how many subscriptions the connections hold now,
// all callers together.
func (ws *Websockets) Subscriptions() int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	n := 0
	for _, c := range ws.callers {
		n += c
	}
	return n
}

func (ws *Websockets) release(s *wsSession) {
	ws.mu.Lock()
	delete(ws.sessions, s)
	ws.mu.Unlock()
	ws.wg.Done()
}

// wsSession is one websocket connection as the server ends it: when its
// token expires or the server shuts down. Ending it stops every write
// (nothing is delivered after the token's expiry, even a message already
// on its way), cancels the connection's context (its subscriptions stop)
// and sends a close frame with the session's code.
type wsSession struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	code    int // 0 while the session runs: the transport's own closes pass
	reason  string
	expires time.Time // the token's expiry; zero: none known yet
	timer   *time.Timer

	maxSubs int // subscriptions the connection may hold at once (Limits.Subscriptions)
	subs    int // subscriptions it holds

	ws            *Websockets // counts each caller's subscriptions (nil: none counted)
	maxCallerSubs int         // subscriptions one caller may hold at once (Limits.SubscriptionsPerCaller)
}

// takeSubscription counts a subscription subject starts on the connection,
// unless the connection holds maxSubs already or subject holds
// maxCallerSubs across all its connections: then it returns the error that
// refuses it. Each one holds a buffer of level changes and two goroutines
// until it completes, so neither one connection's subscribe messages nor
// one caller's connections must hold the server's memory.
func (s *wsSession) takeSubscription(subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxSubs > 0 && s.subs >= s.maxSubs {
		return errTooManySubscriptions(s.maxSubs)
	}
	if s.ws != nil && !s.ws.takeCaller(subject, s.maxCallerSubs) {
		return errTooManyCallerSubscriptions(s.maxCallerSubs)
	}
	s.subs++
	return nil
}

// releaseSubscription uncounts a subscription of subject that has ended.
func (s *wsSession) releaseSubscription(subject string) {
	s.mu.Lock()
	s.subs--
	s.mu.Unlock()
	if s.ws != nil {
		s.ws.releaseCaller(subject)
	}
}

type wsSessionKey struct{}

func sessionFrom(ctx context.Context) *wsSession {
	s, _ := ctx.Value(wsSessionKey{}).(*wsSession)
	return s
}

// expireAt ends the session at t, the expiry of the token it is
// authenticated by, replacing an earlier token's (a connection_init token
// wins over the upgrade's).
func (s *wsSession) expireAt(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.expires = t
	if t.IsZero() {
		return
	}
	s.timer = time.AfterFunc(time.Until(t), func() { s.end(closeForbidden, "token expired") })
}

// authenticated reports whether the session knows the token it is
// authenticated by (its upgrade's or its connection_init's).
func (s *wsSession) authenticated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.expires.IsZero()
}

// end closes the session with code and reason, unless it was ended already.
func (s *wsSession) end(code int, reason string) {
	s.mu.Lock()
	if s.code == 0 {
		s.code, s.reason = code, reason
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.mu.Unlock()
	s.cancel()
}

// ended returns the code and reason the session was ended with (0 if it
// was not), treating a token past its expiry as ended even before the
// timer has fired.
func (s *wsSession) ended() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.code == 0 && !s.expires.IsZero() && !time.Now().Before(s.expires) {
		return closeForbidden, "token expired"
	}
	return s.code, s.reason
}

// release stops the expiry timer and cancels the context once the
// connection is over, without a close of its own.
func (s *wsSession) release() {
	s.mu.Lock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.mu.Unlock()
	s.cancel()
}

// sessions wraps the websocket transport: each upgrade gets a session,
// registered in ws, whose context the transport's connection (and every
// operation on it) derives from.
type sessions struct {
	graphql.Transport
	ws            *Websockets
	maxSubs       int // Limits.Subscriptions
	maxCallerSubs int // Limits.SubscriptionsPerCaller
}

func (t sessions) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx, cancel := context.WithCancel(r.Context())
	s := &wsSession{cancel: cancel, maxSubs: t.maxSubs, ws: t.ws, maxCallerSubs: t.maxCallerSubs}
	s.ctx = context.WithValue(ctx, wsSessionKey{}, s)
	if !t.ws.open(s) {
		cancel()
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the server is shutting down")
		return
	}
	defer t.ws.release(s)
	defer s.release()
	if p, ok := PrincipalFrom(r.Context()); ok {
		// Authenticated by the upgrade's Authorization header: its token's
		// expiry ends the connection, initialised or not.
		s.expireAt(p.Expires)
	}
	t.Transport.Do(w, r.WithContext(s.ctx), exec)
}

// wsImplementation accepts websocket connections with inner and binds each
// to its request's session.
type wsImplementation struct {
	inner   transport.WebsocketImplementation
	refused refusals // counts a mutation in a message refused before the transport reads it
}

func (i wsImplementation) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := i.inner.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	s := sessionFrom(r.Context())
	if s == nil {
		return conn, nil
	}
	c := &wsConn{WebsocketConn: conn, s: s, refused: i.refused}
	go func() {
		// The transport closes a connection whose context is cancelled
		// only once it runs (after connection_init), and with 1000; this
		// closes it in any state, with the session's code.
		<-s.ctx.Done()
		if code, reason := s.ended(); code != 0 {
			_ = c.WriteClose(code, reason)
		}
	}()
	return c, nil
}

// errSessionEnded is what a write on an ended session returns.
var errSessionEnded = errors.New("websocket session ended: token expired or server shutting down")

// wsConn is a connection that sends nothing once its session has ended,
// and closes with the session's code whatever code the transport asks for.
type wsConn struct {
	transport.WebsocketConn
	s       *wsSession
	refused refusals
}

var (
	_ transport.WebsocketReadLimiter   = (*wsConn)(nil)
	_ transport.WebsocketReadDeadliner = (*wsConn)(nil)
)

func (c *wsConn) WriteJSON(v any) error {
	if code, _ := c.s.ended(); code != 0 {
		return errSessionEnded
	}
	return c.WebsocketConn.WriteJSON(v)
}

// closeInitTimeout is graphql-transport-ws's close code for a connection
// that sent no connection_init in time; the transport closes it with 1002.
const closeInitTimeout = 4408

func (c *wsConn) WriteClose(code int, reason string) error {
	if own, why := c.s.ended(); own != 0 {
		code, reason = own, why
	} else if code == transport.WebsocketCloseProtocolError && reason == "connection initialisation timeout" {
		code, reason = closeInitTimeout, "Connection initialisation timeout"
	}
	return c.WebsocketConn.WriteClose(code, reason)
}

// closeNotUTF8 is the close code for a message that is not UTF-8 (RFC
// 6455, 1007: data inconsistent with the type of the message).
const closeNotUTF8 = 1007

// NextReader refuses a message that is not UTF-8 by closing the connection
// with 1007, as RFC 6455 has an endpoint fail one: decoded, each byte that
// is not UTF-8 becomes U+FFFD, and a mutation's name or title sent so would
// be recorded as replacement characters for good (a POST body is refused
// so too: postJSON).
func (c *wsConn) NextReader() (int, io.Reader, error) {
	typ, r, err := c.WebsocketConn.NextReader()
	if err != nil {
		return typ, r, err
	}
	msg, err := io.ReadAll(r)
	if err != nil {
		return typ, nil, err
	}
	if !utf8.Valid(msg) {
		_ = c.WriteClose(closeNotUTF8, "a message is not UTF-8")
		return typ, nil, errMessageNotUTF8
	}
	if k, ok := RepeatedKey(msg); ok {
		// As a POST body that gives a key twice is refused: decoded, the
		// last value would be taken (a mutation's variables recorded for
		// the second personId). The close reason holds at most 123 bytes.
		if len(k) > 40 {
			k = strings.ToValidUTF8(k[:40], "") + "..."
		}
		c.countRefused(msg, domain.Invalid(k, RepeatedKeyInRequestRule))
		_ = c.WriteClose(closeInvalidMessage, fmt.Sprintf("a message gives the key %q more than once", k))
		return typ, nil, errMessageRepeatsAKey
	}
	return typ, bytes.NewReader(msg), nil
}

// countRefused counts the mutation fields of msg, a message refused before
// the transport read it, when it is an operation (graphql-transport-ws's
// subscribe, graphql-ws's start: a query or a mutation is sent so too) of
// a connection that has said who it is (its upgrade's token or its
// connection_init's): one that has not would have had the message refused
// for that, no command.
func (c *wsConn) countRefused(msg []byte, err error) {
	if c.refused.unsent == nil || !c.s.authenticated() {
		return
	}
	var m struct {
		Type    string `json:"type"`
		Payload struct {
			Query         string          `json:"query"`
			OperationName string          `json:"operationName"`
			Extensions    json.RawMessage `json:"extensions"`
			Variables     json.RawMessage `json:"variables"`
		} `json:"payload"`
	}
	if json.Unmarshal(msg, &m) == nil && (m.Type == "subscribe" || m.Type == "start") {
		var ext, vars map[string]any // ext: a persisted query's hash, the query then empty
		_ = json.Unmarshal(m.Payload.Extensions, &ext)
		_ = json.Unmarshal(m.Payload.Variables, &vars)
		c.refused.query(c.s.ctx, m.Payload.Query, m.Payload.OperationName, ext, vars, err)
	}
}

// closeInvalidMessage is graphql-transport-ws's close code for a message
// the server cannot take.
const closeInvalidMessage = 4400

// errMessageRepeatsAKey is what NextReader returns for a message that gives
// a key twice in one of its objects.
var errMessageRepeatsAKey = errors.New("websocket message gives a key more than once")

// errMessageNotUTF8 is what NextReader returns for a message that is not UTF-8.
var errMessageNotUTF8 = errors.New("websocket message is not UTF-8")

func (c *wsConn) SetReadLimit(n int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(n)
	}
}

func (c *wsConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// errTooManySubscriptions refuses a subscription beyond the max a websocket
// connection holds at once.
func errTooManySubscriptions(max int) error {
	err := gqlerror.Errorf("a websocket connection holds at most %d subscriptions at once: complete one, or open another connection", max)
	err.Extensions = map[string]any{"code": "SUBSCRIPTION_LIMIT_EXCEEDED"}
	return err
}

// errTooManyCallerSubscriptions refuses a subscription beyond the max one
// caller (a token's subject) holds at once across all its connections.
func errTooManyCallerSubscriptions(max int) error {
	err := gqlerror.Errorf("a caller (a token's subject) holds at most %d subscriptions at once across all its websocket connections: complete one", max)
	err.Extensions = map[string]any{"code": "SUBSCRIPTION_LIMIT_EXCEEDED"}
	return err
}
