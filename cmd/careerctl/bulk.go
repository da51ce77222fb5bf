package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits of one POST /v1/import request.
const (
	maxBulkLines = 10000
	maxBulkBytes = 32 << 20
)

// bulkRetryDelay is the first pause before a retry; it doubles each time.
var bulkRetryDelay = 250 * time.Millisecond

// bulkResult is the server's answer to one line of a bulk request.
type bulkResult struct {
	Line             int      `json:"line"`
	OK               bool     `json:"ok"`
	Position         string   `json:"position"`
	PersonID         string   `json:"personId"`
	AccomplishmentID string   `json:"accomplishmentId"`
	Duplicate        bool     `json:"duplicate"`
	Code             string   `json:"code"`
	Field            string   `json:"field"`
	Rule             string   `json:"rule"`
	Message          string   `json:"message"`
	Warnings         []string `json:"warnings"`
}

// refusal renders a refused line for the report: "CODE field: message".
func (r bulkResult) refusal() string {
	s, msg := r.Code, r.Message
	if r.Field != "" {
		s += " " + r.Field
		msg = strings.TrimPrefix(msg, r.Field+": ") // named once
	}
	return s + ": " + msg
}

// bulkImport sends lines (each one JSON object, no newline) to POST
// /v1/import and returns one result per line, in order, and whether the
// server answered 202: it recorded the lines, but its read model had not
// shown them yet when it answered. Transport errors and 5xx answers are
// retried a few times: every line carries an idempotency key, so a repeat
// records nothing twice.
func (e *endpoint) bulkImport(ctx context.Context, lines [][]byte) ([]bulkResult, bool, error) {
	body := bytes.Join(lines, []byte("\n"))
	body = append(body, '\n')
	var lastErr error
	var earlier []bulkResult // the last attempt's answers, when it had transient failures
	// Eight attempts over about 24 s: long enough for a careerd that is
	// restarting, or whose event log is (the delay doubles up to 8 s).
	for attempt := range bulkAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, false, ctx.Err()
			case <-time.After(min(bulkRetryDelay<<(attempt-1), 32*bulkRetryDelay)):
			}
		}
		res, accepted, retry, err := e.postBulk(ctx, body, len(lines))
		if err == nil {
			res = keepRecorded(earlier, res)
			// Lines careerd could not send to its event log, or could not
			// authorize for want of its read model (UNAVAILABLE),
			// or whose write went unconfirmed (TIMEOUT) are sent again with
			// the chunk, as a failed request is: their keys make the lines
			// recorded meanwhile duplicates, answered as recorded above.
			if n := countFunc(res, transient); n > 0 {
				earlier, lastErr = res, fmt.Errorf("careerd could not record %d lines of the chunk (UNAVAILABLE or TIMEOUT: its event log or read model unreachable)", n)
				continue
			}
			return res, accepted, nil
		}
		if !retry || ctx.Err() != nil {
			return nil, false, err
		}
		lastErr = err
	}
	return nil, false, fmt.Errorf("gave up after %d attempts: %w", bulkAttempts, lastErr)
}

// bulkAttempts is how many times a chunk is sent: eight, over about 24 s.
const bulkAttempts = 8

// countFunc counts the elements of s that f reports.
func countFunc[T any](s []T, f func(T) bool) int {
	n := 0
	for _, v := range s {
		if f(v) {
			n++
		}
	}
	return n
}

// transient reports a line careerd answered with a failure that sending
// it again may mend.
func transient(r bulkResult) bool { return !r.OK && (r.Code == "UNAVAILABLE" || r.Code == "TIMEOUT") }

// keepRecorded is res with each line recorded by an earlier attempt of the
// same chunk answered as recorded: as that attempt answered it, or, for a
// line it answered TIMEOUT (recorded, unconfirmed) and res as a duplicate,
// as res answers it, recorded (res holds either as a duplicate of itself).
func keepRecorded(earlier, res []bulkResult) []bulkResult {
	if len(earlier) != len(res) {
		return res
	}
	for i, r := range earlier {
		switch {
		case r.OK && !r.Duplicate:
			res[i] = r
		case r.Code == "TIMEOUT" && res[i].OK && res[i].Duplicate:
			res[i].Duplicate = false
		}
	}
	return res
}

func (e *endpoint) postBulk(ctx context.Context, body []byte, n int) (results []bulkResult, accepted, retry bool, err error) {
	results, retry, err = e.postBulkOnce(ctx, body, n, &accepted)
	if err == nil && accepted {
		// The next chunk may name people this one registered (a manager
		// may record only for people the read model shows in their
		// department): wait until the read model holds this chunk.
		var last uint64
		for _, r := range results {
			if p, perr := strconv.ParseUint(r.Position, 10, 64); perr == nil {
				last = max(last, p)
			}
		}
		e.awaitReadModel(ctx, last)
	}
	return results, accepted, retry, err
}

// readModelWait bounds how long an import waits for careerd's read model
// after a chunk answered 202. A variable for tests.
var readModelWait = 5 * time.Minute

// awaitReadModel waits, up to readModelWait, until careerd's /readyz
// reports a checkpoint at or past pos; it gives up silently (the next
// chunk's answers say what could not be done).
func (e *endpoint) awaitReadModel(ctx context.Context, pos uint64) {
	if pos == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, readModelWait)
	defer cancel()
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		if req, err := e.request(ctx, http.MethodGet, "/readyz", nil); err == nil {
			if res, err := e.http.Do(req); err == nil {
				var body struct{ Checkpoint uint64 }
				derr := json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&body)
				res.Body.Close()
				if derr == nil && body.Checkpoint >= pos {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

func (e *endpoint) postBulkOnce(ctx context.Context, body []byte, n int, accepted *bool) (results []bulkResult, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := e.request(ctx, http.MethodPost, "/v1/import", bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/x-ndjson")
	res, err := e.http.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusNotFound:
		return nil, false, fmt.Errorf("POST /v1/import: %w", errNotImplemented)
	case res.StatusCode == http.StatusUnauthorized:
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		var g struct{ Errors GraphQLErrors }
		if json.Unmarshal(raw, &g) == nil && len(g.Errors) > 0 {
			return nil, false, g.Errors
		}
		return nil, false, errors.New("UNAUTHENTICATED: the server refused the token (give --token or set $CAREER_TOKEN)")
	case res.StatusCode >= 500:
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return nil, true, httpError(res, raw)
	case res.StatusCode == http.StatusAccepted:
		*accepted = true // recorded; the answer lines say what
	case res.StatusCode != http.StatusOK:
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return nil, false, httpError(res, raw)
	}
	results = make([]bulkResult, 0, n)
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r bulkResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, false, fmt.Errorf("POST /v1/import: bad answer line %d: %w", len(results)+1, err)
		}
		if r.Line != len(results)+1 {
			return nil, false, fmt.Errorf("POST /v1/import: answer line %d is for request line %d", len(results)+1, r.Line)
		}
		results = append(results, r)
	}
	if err := sc.Err(); err != nil {
		return nil, true, fmt.Errorf("POST /v1/import: reading the answer: %w", err)
	}
	if len(results) != n {
		return nil, true, fmt.Errorf("POST /v1/import: %d answers for %d lines", len(results), n)
	}
	return results, false, nil
}
