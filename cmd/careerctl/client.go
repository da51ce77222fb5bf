package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// endpoint is where a command finds careerd and how it authenticates: the
// common --server and --token flags.
type endpoint struct {
	server string
	token  string
	http   *http.Client
}

// endpointFlags registers --server and --token on fs, defaulting to
// $CAREER_SERVER and $CAREER_TOKEN.
func endpointFlags(fs *flag.FlagSet, c *cli) *endpoint {
	e := &endpoint{http: &http.Client{}}
	fs.StringVar(&e.server, "server", envOr(c.getenv, "CAREER_SERVER", "http://127.0.0.1:8080"), "careerd base URL ($CAREER_SERVER)")
	secretFlag(fs, &e.token, "token", c.getenv("CAREER_TOKEN"), "bearer `token` ($CAREER_TOKEN)")
	return e
}

// secretValue is a string flag whose value -h never prints: a token or a
// key taken from the environment must not land in a terminal or a log.
type secretValue struct{ p *string }

func (v secretValue) String() string { return "" }

func (v secretValue) Set(s string) error { *v.p = s; return nil }

// secretFlag registers a string flag on fs that defaults to def (from the
// environment) without showing it.
func secretFlag(fs *flag.FlagSet, p *string, name, def, usage string) {
	*p = def
	fs.Var(secretValue{p}, name, usage)
}

// url returns the absolute URL of path on the server.
func (e *endpoint) url(path string) string {
	return strings.TrimRight(e.server, "/") + path
}

// request builds an authenticated request.
func (e *endpoint) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, e.url(path), body)
	if err != nil {
		return nil, err
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	return req, nil
}

// gqlError is one GraphQL error as careerd reports it.
type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code      string `json:"code"`
		Field     string `json:"field"`
		Rule      string `json:"rule"`
		RequestID string `json:"requestId"`
	} `json:"extensions"`
}

// String renders the error as "CODE: message (field: x)".
func (g gqlError) String() string {
	var b strings.Builder
	if g.Extensions.Code != "" {
		b.WriteString(g.Extensions.Code + ": ")
	}
	b.WriteString(g.Message)
	if g.Extensions.Field != "" {
		b.WriteString(" (field: " + g.Extensions.Field + ")")
	}
	if g.Extensions.RequestID != "" {
		b.WriteString(" [request " + g.Extensions.RequestID + "]")
	}
	return b.String()
}

// GraphQLErrors are the errors of one GraphQL response.
type GraphQLErrors []gqlError

func (es GraphQLErrors) Error() string {
	// Each distinct error once: a variable used by two fields is refused
	// by both in the same words.
	var parts []string
	for _, e := range es {
		if s := e.String(); !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

// Code returns the code of the first error.
func (es GraphQLErrors) Code() string {
	if len(es) == 0 {
		return ""
	}
	return es[0].Extensions.Code
}

// graphql posts query with vars and returns the response's data. A response
// with errors is an error of type GraphQLErrors (the data, possibly partial,
// is returned too).
func (e *endpoint) graphql(ctx context.Context, query string, vars map[string]any) (json.RawMessage, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := e.request(ctx, http.MethodPost, "/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := e.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors GraphQLErrors   `json:"errors"`
	}
	if jerr := json.Unmarshal(raw, &out); jerr != nil {
		return nil, httpError(res, raw)
	}
	if len(out.Errors) > 0 {
		if res.StatusCode == http.StatusUnauthorized && e.token == "" {
			out.Errors[0].Message += " (give --token or set $CAREER_TOKEN)"
		}
		return out.Data, out.Errors
	}
	if res.StatusCode != http.StatusOK {
		return nil, httpError(res, raw)
	}
	return out.Data, nil
}

// httpError describes an unexpected HTTP answer.
func httpError(res *http.Response, body []byte) error {
	msg := strings.TrimSpace(string(body))
	// careerd's refusals outside GraphQL are GraphQL-shaped: say their
	// code and message, not the JSON (an older careerd's are plain text).
	var g struct{ Errors GraphQLErrors }
	if json.Unmarshal(body, &g) == nil && len(g.Errors) > 0 {
		msg = g.Errors.Error()
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	if msg == "" {
		return fmt.Errorf("%s %s answered %s", res.Request.Method, res.Request.URL.Path, res.Status)
	}
	return fmt.Errorf("%s %s answered %s: %s", res.Request.Method, res.Request.URL.Path, res.Status, msg)
}

// errNotImplemented marks a server that does not have an endpoint yet.
var errNotImplemented = errors.New("the server does not have this endpoint (answered 404); it needs a newer careerd")

// writeJSON prints v as indented JSON; a json.RawMessage is re-indented.
func writeJSON(w io.Writer, v any) error {
	if raw, ok := v.(json.RawMessage); ok {
		var b bytes.Buffer
		if err := json.Indent(&b, raw, "", "  "); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err := w.Write(b.Bytes())
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
