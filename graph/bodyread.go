package graph

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Default bounds on reading a request's body (readBodyWithin).
const (
	// DefaultBodyRead bounds a /graphql body: at most 1 MiB, sent at
	// once by any client.
	DefaultBodyRead = 30 * time.Second
	// DefaultImportBodyRead bounds a /v1/import body: at most
	// MaxImportBytes (32 MiB), which a link of 1 Mbit/s carries in about
	// 4.5 minutes.
	DefaultImportBodyRead = 5 * time.Minute
)

// readBodyWithin bounds how long reading the body of a request to next may
// take: d from when the request reaches it. http.Server.ReadTimeout cannot
// (it would bound a websocket's whole life, and an import's body and a
// query's alike): without a bound, a client that sends its body a byte a
// minute holds a connection and a goroutine for as long as it likes. A
// request without a body (a websocket handshake, a GET) is left as it is;
// the deadline of one with a body is set before its token is checked, so
// that the body a refused request leaves unread (which the server reads
// on to reuse the connection) is bounded too. The server lifts the
// deadline once the body is read to its end (it then reads the connection
// to see whether the client goes away, which the deadline would take for
// its leaving): it bounds the body, not the request. A read past it fails
// with a *slowBody error, which the handlers answer with 408
// (refuseSlowBody).
func readBodyWithin(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(d)); err == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, d: d}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody is a request body read under a deadline (readBodyWithin).
type deadlineBody struct {
	io.ReadCloser
	d time.Duration
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = &slowBody{limit: b.d}
	}
	return n, err
}

// slowBody is the error of a body not read within its bound.
type slowBody struct{ limit time.Duration }

func (e *slowBody) Error() string {
	return fmt.Sprintf("the request body was not received within the body read timeout (%s): send the whole body at once, or less of it per request; nothing was recorded", e.limit)
}

// refuseSlowBody answers a request whose body read failed with err: 408
// REQUEST_TIMEOUT when err is a *slowBody, and reports whether it did.
func refuseSlowBody(w http.ResponseWriter, err error) bool {
	var slow *slowBody
	if !errors.As(err, &slow) {
		return false
	}
	httpError(w, http.StatusRequestTimeout, "REQUEST_TIMEOUT", slow.Error())
	return true
}
