package graph

import (
	"context"
	"io"
	"testing"
	"time"
)

// recordingConn is a websocket connection that records what is written to
// it.
type recordingConn struct {
	written []any
	closed  []int
}

func (c *recordingConn) Close() error                        { return nil }
func (c *recordingConn) NextReader() (int, io.Reader, error) { return 0, nil, io.EOF }
func (c *recordingConn) WriteJSON(v any) error               { c.written = append(c.written, v); return nil }
func (c *recordingConn) WriteClose(code int, _ string) error {
	c.closed = append(c.closed, code)
	return nil
}
func (c *recordingConn) Subprotocol() string { return "graphql-transport-ws" }

// TestNothingIsSentPastTheTokensExpiry: between a token's expiry and the
// moment its timer has closed the connection, a message on its way (a
// level change the subscription had already taken) is not sent, and the
// transport's own close carries 4403 "token expired".
func TestNothingIsSentPastTheTokensExpiry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &wsSession{ctx: ctx, cancel: cancel}
	inner := &recordingConn{}
	c := &wsConn{WebsocketConn: inner, s: s}

	s.expireAt(time.Now().Add(time.Hour))
	if err := c.WriteJSON("before"); err != nil || len(inner.written) != 1 {
		t.Fatalf("before the expiry: %v, written %v", err, inner.written)
	}
	// The expiry has passed; the timer (stopped here) has not fired.
	s.mu.Lock()
	s.timer.Stop()
	s.expires = time.Now().Add(-time.Millisecond)
	s.mu.Unlock()
	if err := c.WriteJSON("after"); err == nil || len(inner.written) != 1 {
		t.Errorf("past the expiry: %v, written %v; want nothing more", err, inner.written)
	}
	if err := c.WriteClose(1000, "terminated"); err != nil || len(inner.closed) != 1 || inner.closed[0] != closeForbidden {
		t.Errorf("the transport's close: %v, sent %v; want 4403", err, inner.closed)
	}
}
