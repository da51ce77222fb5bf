package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// careerd's shutdown closes a subscriber's websocket with 1001 Going Away,
// so that its client tells a restart from a crash and reconnects.
func TestShutdownClosesSubscriptionsWithGoingAway(t *testing.T) {
	m := start(t, baseConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := openSession(ctx, t, m, m.DevToken())
	defer c.CloseNow()
	if err := wsjson.Write(ctx, c, map[string]any{"id": "1", "type": "subscribe",
		"payload": map[string]any{"query": `subscription { levelChanged { personId } }`}}); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		for {
			var msg map[string]any
			if err := wsjson.Read(ctx, c, &msg); err != nil {
				closed <- err
				return
			}
		}
	}()
	time.Sleep(200 * time.Millisecond) // the subscription is running
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-closed:
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway {
			t.Fatalf("the subscriber's connection ended with %v, want close code 1001", err)
		}
	case <-ctx.Done():
		t.Fatal("the subscriber's connection was not closed")
	}
}

// openSession opens a graphql-transport-ws connection to m's /graphql
// with token on its upgrade and waits for its connection_ack.
func openSession(ctx context.Context, t *testing.T, m *Main, token string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws://"+m.Addr()+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + token}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init"}); err != nil {
		c.CloseNow() //nolint:errcheck // failing anyway
		t.Fatal(err)
	}
	var ack struct{ Type string }
	if err := wsjson.Read(ctx, c, &ack); err != nil || ack.Type != "connection_ack" {
		c.CloseNow() //nolint:errcheck // failing anyway
		t.Fatalf("connection_init: %+v, %v", ack, err)
	}
	return c
}
