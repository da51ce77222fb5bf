package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket/wsjson"
)

// TestASlowBodyIsCutOffAndAWebsocketIsNot: careerd answers a /graphql or
// /v1/import body that has not arrived within --body-read-timeout or
// --import-read-timeout with 408, recording nothing, through the wrappers
// its handlers sit in (metrics, compression); a websocket, which has no
// body, lives on past both. A kept-alive connection is closed once idle
// (IdleTimeout), and no ReadTimeout bounds the websockets' lives.
func TestASlowBodyIsCutOffAndAWebsocketIsNot(t *testing.T) {
	const bound = 300 * time.Millisecond
	cfg := baseConfig(t)
	cfg.BodyReadTimeout, cfg.ImportReadTimeout = bound, 2*bound
	m := start(t, cfg)
	if m.server.IdleTimeout <= 0 || m.server.ReadTimeout != 0 {
		t.Errorf("IdleTimeout %v, ReadTimeout %v: want an idle bound and no read bound", m.server.IdleTimeout, m.server.ReadTimeout)
	}
	tok := m.DevToken()

	// A websocket, open past both bounds.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := openSession(ctx, t, m, tok)
	defer c.CloseNow()

	in := map[string]any{"id": "SLOW1", "name": "Slow", "department": "Operations", "joinedOn": "2020-01-01"}
	body, _ := json.Marshal(map[string]any{"query": registerMutation, "variables": map[string]any{"in": in}})
	line, _ := json.Marshal(map[string]any{"op": "registerPerson", "input": in})
	for _, tc := range []struct {
		path, contentType, first string
		length                   int
		bound                    time.Duration
	}{
		{"/graphql", "application/json", string(body[:len(body)/2]), len(body), bound},
		{"/v1/import", "application/x-ndjson", string(line) + "\n", 2*len(line) + 2, 2 * bound},
	} {
		conn, err := net.Dial("tcp", m.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept-Encoding: gzip\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
			tc.path, m.Addr(), tok, tc.contentType, tc.length, tc.first)
		conn.SetReadDeadline(time.Now().Add(8 * time.Second)) //nolint:errcheck // a test's bound
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: no answer after %v: %v", tc.path, time.Since(start), err)
		}
		answer, _ := io.ReadAll(res.Body)
		res.Body.Close()
		took := time.Since(start)
		if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(answer), "REQUEST_TIMEOUT") ||
			!strings.Contains(string(answer), "body read timeout ("+tc.bound.String()+")") {
			t.Errorf("%s: HTTP %d %s", tc.path, res.StatusCode, answer)
		}
		if took < tc.bound || took > tc.bound+5*time.Second {
			t.Errorf("%s: answered after %v, want about %v", tc.path, took, tc.bound)
		}
	}
	if _, r := post(t, m.Addr(), tok, `{ person(id: "SLOW1") { name } }`, nil); len(r.Errors) == 0 {
		t.Errorf("the person of the slow bodies was registered: %+v", r)
	}

	// The websocket still answers.
	if err := wsjson.Write(ctx, c, map[string]any{"id": "1", "type": "subscribe",
		"payload": map[string]any{"query": `{ catalogue { id } }`}}); err != nil {
		t.Fatalf("the websocket after %v: %v", 2*bound, err)
	}
	for {
		var msg struct{ Type string }
		if err := wsjson.Read(ctx, c, &msg); err != nil {
			t.Fatalf("the websocket after the bounds: %v", err)
		}
		if msg.Type == "next" {
			break
		}
		if msg.Type != "ping" && msg.Type != "pong" {
			t.Fatalf("the websocket answered %q", msg.Type)
		}
	}
}
