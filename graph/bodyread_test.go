package graph_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careerledger/careerledger/graph"
)

// slowDepartments answers Departments after delay (when set), or the
// request's end, whichever comes first.
type slowDepartments struct {
	graph.ReadModel
	delay *atomic.Int64
}

func (s slowDepartments) Departments(ctx context.Context) ([]string, error) {
	if d := time.Duration(s.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.ReadModel.Departments(ctx)
}

// stalled sends head (a request line and headers, without the blank line
// that ends them) and then the first part of a body over a connection of
// its own, sends nothing more, and returns the answer, its body and how
// long it took to come; the connection must then be closed, not held for
// the rest of the body.
func stalled(t *testing.T, e *env, head, first string) (*http.Response, string, time.Duration) {
	t.Helper()
	start := time.Now()
	res, body, br := answerTo(t, e, head, first)
	took := time.Since(start)
	if _, err := br.ReadByte(); err == nil {
		t.Errorf("the connection went on after the answer")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("the connection is still open %v after the answer", time.Since(start))
	}
	return res, body, took
}

// answerTo sends head and the first part of a body as stalled does and
// returns the answer, its body and the connection's reader (its deadline 8
// s from the start). It does not wait for the connection to close: after
// answering a request whose chunked body it did not read, the server still
// reads on it, up to 256 KiB or the body read timeout, before it closes
// (net/http, to reuse the connection), though the answer has gone.
func answerTo(t *testing.T, e *env, head, first string) (*http.Response, string, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	start := time.Now()
	if _, err := io.WriteString(conn, head+"\r\n\r\n"+first); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(8 * time.Second)) //nolint:errcheck // a test's bound
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer after %v: %v", time.Since(start), err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body), br
}

// TestASlowBodyIsCutOff: a body that has not arrived within the body read
// timeout is answered 408 REQUEST_TIMEOUT, saying so, and records nothing,
// on /graphql (of a known length or chunked) and /v1/import (whose lines
// already sent are not recorded either); a request refused for its token
// is not held by its body either. Before, each held its connection and a
// goroutine for as long as the client kept sending a byte now and then.
// A request refused for its token, its content type or its number of
// lines is answered at once, its connection closed, rather than after its
// body (which nothing reads) or the bound.
func TestASlowBodyIsCutOff(t *testing.T) {
	const bound = 400 * time.Millisecond
	e := newEnv(t, backends[0], options{limits: graph.Limits{BodyRead: bound}, importBodyRead: bound})
	adm := e.token(t, admin)
	before := e.head(t)
	register, _ := json.Marshal(map[string]any{"query": mRegister, "variables": map[string]any{"in": map[string]any{
		"id": "S1", "name": "Slow One", "department": "Operations", "joinedOn": "2020-01-01"}}})
	line := `{"op":"registerPerson","input":{"id":"S2","name":"Slow Two","department":"Operations","joinedOn":"2020-01-01"}}` + "\n"
	host := "Host: " + e.srv.Listener.Addr().String()
	auth := "Authorization: Bearer " + adm
	half := len(register) / 2
	overLines := strings.Repeat("{}\n", graph.MaxImportLines+1)
	for _, c := range []struct {
		name, head, first string
		status            int
		code              string
	}{
		{"a /graphql body of known length", "POST /graphql HTTP/1.1\r\n" + host + "\r\n" + auth + "\r\nContent-Type: application/json\r\n" +
			fmt.Sprintf("Content-Length: %d", len(register)), string(register[:half]), http.StatusRequestTimeout, "REQUEST_TIMEOUT"},
		{"a chunked /graphql body", "POST /graphql HTTP/1.1\r\n" + host + "\r\n" + auth + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked",
			fmt.Sprintf("%x\r\n%s\r\n", half, register[:half]), http.StatusRequestTimeout, "REQUEST_TIMEOUT"},
		{"an import whose first line has arrived", "POST /v1/import HTTP/1.1\r\n" + host + "\r\n" + auth + "\r\nContent-Type: application/x-ndjson\r\n" +
			fmt.Sprintf("Content-Length: %d", 2*len(line)), line, http.StatusRequestTimeout, "REQUEST_TIMEOUT"},
		{"a /graphql body without a token", "POST /graphql HTTP/1.1\r\n" + host + "\r\nContent-Type: application/json\r\n" +
			fmt.Sprintf("Content-Length: %d", len(register)), string(register[:half]), http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"an import without a token", "POST /v1/import HTTP/1.1\r\n" + host + "\r\nContent-Type: application/x-ndjson\r\n" +
			fmt.Sprintf("Content-Length: %d", 2*len(line)), line, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"a /graphql body of a type not served", "POST /graphql HTTP/1.1\r\n" + host + "\r\n" + auth + "\r\nContent-Type: text/plain\r\n" +
			fmt.Sprintf("Content-Length: %d", len(register)), string(register[:half]), http.StatusBadRequest, "BAD_REQUEST"},
		{"a chunked /graphql body of a type not served", "POST /graphql HTTP/1.1\r\n" + host + "\r\n" + auth + "\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked",
			fmt.Sprintf("%x\r\n%s\r\n", half, register[:half]), http.StatusBadRequest, "BAD_REQUEST"},
		{"an import over its lines", "POST /v1/import HTTP/1.1\r\n" + host + "\r\n" + auth + "\r\nContent-Type: application/x-ndjson\r\n" +
			fmt.Sprintf("Content-Length: %d", len(overLines)+len(line)), overLines, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body, took := stalled(t, e, c.head, c.first)
			var r response
			json.Unmarshal([]byte(body), &r) //nolint:errcheck // checked below
			if res.StatusCode != c.status || len(r.Errors) != 1 || r.Errors[0].code() != c.code {
				t.Fatalf("HTTP %d %s, want %d %s", res.StatusCode, body, c.status, c.code)
			}
			if c.status == http.StatusRequestTimeout && !strings.Contains(r.Errors[0].Message, "body read timeout ("+bound.String()+")") {
				t.Errorf("the message does not name the bound: %s", body)
			}
			if took < bound && c.status == http.StatusRequestTimeout || took > bound+5*time.Second {
				t.Errorf("answered after %v, want about %v", took, bound)
			}
			if c.status != http.StatusRequestTimeout && took >= bound {
				t.Errorf("refused (%d) after %v: the server read on the body it will not use, up to the bound (%v)", c.status, took, bound)
			}
		})
	}
	if got := e.head(t); got != before {
		t.Errorf("the log moved from %d to %d", before, got)
	}
	for _, id := range []string{"S1", "S2"} {
		if r := e.gql(t, adm, `{ person(id: "`+id+`") { name } }`, nil); len(r.Errors) == 0 || r.Errors[0].code() != "NOT_FOUND" {
			t.Errorf("%s: %s", id, r.Raw)
		}
	}
}

// TestTheBodyBoundEndsWithTheBody: a body that arrives within the bound,
// if slowly, is read, and the request then runs past the bound: the bound
// is on reading the body, not on the request (which, once its body is
// read, the server watches for its client going away).
func TestTheBodyBoundEndsWithTheBody(t *testing.T) {
	const bound = 500 * time.Millisecond
	delay := &atomic.Int64{}
	e := newEnv(t, backends[0], options{limits: graph.Limits{BodyRead: bound}, importBodyRead: bound,
		readModel: func(rm graph.ReadModel) graph.ReadModel { return slowDepartments{rm, delay} }})
	adm := e.token(t, admin)
	e.gql(t, adm, mRegister, map[string]any{"in": map[string]any{"id": "P1", "name": "Pat", "department": "Operations", "joinedOn": "2020-01-01"}}).ok(t)
	delay.Store(int64(3 * bound))
	body := `{"query":"{ departments }"}`
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, body[:10]) //nolint:errcheck // the request fails if not
		time.Sleep(bound / 3)
		io.WriteString(pw, body[10:]) //nolint:errcheck // the request fails if not
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, e.url, pr)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adm)
	start := time.Now()
	r := e.do(t, http.DefaultClient, req).ok(t)
	if took := time.Since(start); took < 3*bound {
		t.Errorf("answered after %v, before the read model did", took)
	}
	if !strings.Contains(string(r.Data), "Operations") {
		t.Errorf("departments: %s", r.Raw)
	}
}
