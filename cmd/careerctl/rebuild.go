package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// rebuildStatus is the server's answer on /v1/rebuild.
type rebuildStatus struct {
	ID              string  `json:"id"`    // names the rebuild (careerd of this release on)
	State           string  `json:"state"` // idle, running, done or failed
	Position        int64   `json:"position"`
	Head            int64   `json:"head"`
	EventsPerSecond float64 `json:"eventsPerSecond"`
	ETASeconds      float64 `json:"etaSeconds"`
	Error           string  `json:"error"`
}

// errRebuildLost is rebuild --wait's answer when careerd stops knowing the
// rebuild it was following.
var errRebuildLost = errors.New("careerd no longer knows of the rebuild: it restarted (a rebuild it had not finished was dropped) or another instance answered; whether it finished is unknown: run careerctl rebuild --wait again")

// rebuildPoll is how often rebuild --wait asks for progress.
var rebuildPoll = 500 * time.Millisecond

// rebuildCommand asks careerd to rebuild its read model from the log.
func rebuildCommand(c *cli, args []string) error {
	fs := newFlagSet("rebuild")
	fs.SetOutput(c.stderr)
	ep := endpointFlags(fs, c)
	wait := fs.Bool("wait", false, "show progress until the rebuild is done")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	st, err := ep.rebuild(c.ctx, http.MethodPost)
	if err != nil {
		return err
	}
	if !*wait {
		if st.State == "running" && st.Head == 0 {
			// careerd answers a rebuild it just started before it knows
			// the log's head: "position 0 of 0" would read as an empty log.
			fmt.Fprintln(c.stdout, "rebuild started (careerctl rebuild --wait shows its progress)")
			return nil
		}
		fmt.Fprintf(c.stdout, "rebuild %s (position %s of %s)\n", st.State, groupDigits(st.Position), groupDigits(st.Head))
		return nil
	}
	prog := newProgress(c.stderr, nil, "rebuild", "events", st.Head, st.Position)
	id := st.ID
	for {
		if id != "" && st.ID != id {
			// Another rebuild: another instance's behind a load
			// balancer, or one careerd started after a restart.
			prog.Stopped(prog.done)
			return errRebuildLost
		}
		switch st.State {
		case "done":
			prog.SetReported(st.Head, st.Head, st.EventsPerSecond, 0)
			prog.Finish()
			fmt.Fprintf(c.stdout, "rebuild done: %s events\n", groupDigits(st.Head))
			return nil
		case "failed":
			// The last line shows where it failed, as the error does, not
			// the position of the last poll.
			prog.Stopped(st.Position)
			return fmt.Errorf("rebuild failed at position %s: %s", groupDigits(st.Position), st.Error)
		case "idle":
			// careerd keeps the state of the last rebuild it ran until it
			// stops, so "idle" after it answered the start is another
			// process: careerd restarted (a rebuild it had not switched
			// to is dropped by the next start) or another instance
			// answered. That is not a rebuild done.
			prog.Stopped(prog.done) // where it was last seen
			return errRebuildLost
		}
		eta := time.Duration(-1)
		if st.ETASeconds >= 0 && st.EventsPerSecond > 0 {
			eta = time.Duration(st.ETASeconds * float64(time.Second))
		}
		if st.Head > 0 {
			prog.SetReported(st.Position, st.Head, st.EventsPerSecond, eta)
		}
		select {
		case <-c.ctx.Done():
			fmt.Fprintln(c.stderr)
			return errors.New("stopped waiting; the rebuild goes on on the server (careerctl rebuild --wait shows it again)")
		case <-time.After(rebuildPoll):
		}
		if st, err = ep.pollRebuild(c.ctx); err != nil {
			if c.ctx.Err() != nil {
				fmt.Fprintln(c.stderr)
				return errors.New("stopped waiting; the rebuild goes on on the server (careerctl rebuild --wait shows it again)")
			}
			// careerd went away (killed, restarting) or its answers
			// failed for longer than a restart takes: the rebuild may
			// have switched just before, or been dropped with careerd.
			prog.Stopped(prog.done) // where it was last seen
			return fmt.Errorf("could not follow the rebuild (careerd gone or failing): %w; whether it finished is unknown: run careerctl rebuild --wait again", err)
		}
	}
}

// pollRebuild asks how the rebuild is going, asking again (as an import
// sends a chunk again: eight attempts over about 24 s) while careerd is
// unreachable or answers 5xx: a careerd restarting, a proxy's 502. Before,
// the first failed poll ended the wait with the transport's words alone,
// as if the rebuild had failed; a careerd back in time answers "idle",
// which says the rebuild was dropped (errRebuildLost).
func (e *endpoint) pollRebuild(ctx context.Context) (rebuildStatus, error) {
	var lastErr error
	for attempt := range bulkAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return rebuildStatus{}, ctx.Err()
			case <-time.After(min(bulkRetryDelay<<(attempt-1), 32*bulkRetryDelay)):
			}
		}
		st, err := e.rebuild(ctx, http.MethodGet)
		var pe *pollError
		if err == nil || !errors.As(err, &pe) || ctx.Err() != nil {
			return st, err
		}
		lastErr = err
	}
	return rebuildStatus{}, fmt.Errorf("%d polls failed, the last: %w", bulkAttempts, lastErr)
}

// pollError is a failure that asking again may mend: careerd unreachable,
// or answering 5xx.
type pollError struct{ err error }

func (e *pollError) Error() string { return e.err.Error() }
func (e *pollError) Unwrap() error { return e.err }

// rebuild starts a rebuild (POST) or asks how it is going (GET).
func (e *endpoint) rebuild(ctx context.Context, method string) (rebuildStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := e.request(ctx, method, "/v1/rebuild", nil)
	if err != nil {
		return rebuildStatus{}, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := e.http.Do(req)
	if err != nil {
		return rebuildStatus{}, &pollError{err}
	}
	defer res.Body.Close()
	raw, rerr := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	switch {
	case rerr != nil:
		return rebuildStatus{}, &pollError{fmt.Errorf("%s /v1/rebuild: reading the answer: %w", method, rerr)}
	case res.StatusCode >= 500:
		return rebuildStatus{}, &pollError{httpError(res, raw)}
	case res.StatusCode == http.StatusNotFound:
		return rebuildStatus{}, fmt.Errorf("%s /v1/rebuild: %w", method, errNotImplemented)
	case res.StatusCode == http.StatusConflict && method == http.MethodPost:
		// Already running: follow that one.
		return e.rebuild(ctx, http.MethodGet)
	case res.StatusCode != http.StatusOK && res.StatusCode != http.StatusAccepted:
		return rebuildStatus{}, httpError(res, raw)
	}
	var st rebuildStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		return rebuildStatus{}, fmt.Errorf("%s /v1/rebuild: unexpected answer %q", method, raw)
	}
	return st, nil
}
