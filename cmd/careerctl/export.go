package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/careerledger/careerledger/graph"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
)

// exportCommand streams the event log as NDJSON from GET /v1/export.
func exportCommand(c *cli, args []string) error {
	fs := newFlagSet("export")
	fs.SetOutput(c.stderr)
	ep := endpointFlags(fs, c)
	after := fs.Uint64("after", 0, "only events after this log position")
	out := fs.String("out", "", "write to this file (default stdout); written to FILE.partial and renamed when complete")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	w := c.stdout
	var f *os.File
	if *out != "" {
		var err error
		if f, err = os.Create(*out + ".partial"); err != nil {
			return err
		}
		defer func() {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}()
		w = f
	}
	n, last, err := ep.export(c.ctx, *after, w)
	var cut *exportCutShort
	if errors.As(err, &cut) && f != nil && n > 0 {
		// What was received is kept, whole lines only, under the name
		// that says it is not the whole log: the rest can be added to it
		// (--after continues from its last line).
		cerr := f.Close()
		f = nil
		if cerr != nil {
			return fmt.Errorf("%w (and %s could not be written: %v)", err, filepath.Clean(*out+".partial"), cerr)
		}
		return fmt.Errorf("%w; the %s received are in %s (%s was not written)",
			err, eventCount(n), filepath.Clean(*out+".partial"), filepath.Clean(*out))
	}
	if err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(f.Name(), *out); err != nil {
			return err
		}
		f = nil
		fmt.Fprintf(c.stderr, "exported %s to %s", eventCount(n), filepath.Clean(*out))
		if n > 0 {
			fmt.Fprintf(c.stderr, " (last position %s; --after %s continues from there)", last, last)
		}
		fmt.Fprintln(c.stderr)
	}
	return nil
}

// exportCutShort is an export that ended before the end of the log: the
// stream broke, or careerd's trailer says it stopped. The whole lines
// received were written; after is the position --after continues from
// (the last of them, or the --after the export started from).
type exportCutShort struct {
	after string
	why   string
	err   error
}

func (e *exportCutShort) Error() string {
	return fmt.Sprintf("GET /v1/export: %s; --after %s continues from the last one received", e.why, e.after)
}

func (e *exportCutShort) Unwrap() error { return e.err }

// export copies the export stream to w and returns the number of events
// and the last event's position.
func (e *endpoint) export(ctx context.Context, after uint64, w io.Writer) (int64, string, error) {
	req, err := e.request(ctx, http.MethodGet, "/v1/export?after="+strconv.FormatUint(after, 10), nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Accept", "application/x-ndjson")
	res, err := e.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return 0, "", fmt.Errorf("GET /v1/export: %w", errNotImplemented)
	}
	if res.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return 0, "", httpError(res, raw)
	}
	r := bufio.NewReaderSize(res.Body, 1<<20)
	bw := bufio.NewWriterSize(w, 1<<20)
	var n int64
	continueAt := strconv.FormatUint(after, 10)
	// cutShort flushes the whole lines written and says where to continue.
	cutShort := func(err error, why string) (int64, string, error) {
		if ferr := bw.Flush(); ferr != nil {
			return n, continueAt, ferr
		}
		return n, continueAt, &exportCutShort{after: continueAt, why: why, err: err}
	}
	for {
		line, err := r.ReadBytes('\n')
		// Only whole lines are written: one cut off by a broken stream
		// would be an event that is not one, and --after would skip it.
		// The last line of a body that ended cleanly may lack its
		// newline; it is whole if it is JSON.
		whole := err == nil || err == io.EOF && json.Valid(line)
		if whole && len(bytes.TrimSpace(line)) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n')
			}
			if _, werr := bw.Write(line); werr != nil {
				return n, continueAt, werr
			}
			n++
			if pos := positionOf(line); pos != "" {
				continueAt = pos
			}
		}
		if err == io.EOF && (whole || len(bytes.TrimSpace(line)) == 0) {
			break
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the body ended in the middle of a line
		}
		if err != nil {
			return cutShort(err, fmt.Sprintf("the stream broke after %s (last position %s): %v", eventCount(n), continueAt, err))
		}
	}
	if err := bw.Flush(); err != nil {
		return n, continueAt, err
	}
	// The trailer comes after the body: careerd says whether the export
	// reached the end of the log. A careerd without it (an older one)
	// is taken at its word.
	if got := res.Trailer.Get(graph.ExportTrailer); got != "" && got != graph.ExportComplete {
		return cutShort(nil, fmt.Sprintf("careerd stopped after %s: %s", eventCount(n), got))
	}
	return n, continueAt, nil
}

// positionOf extracts "position" from an exported event line.
func positionOf(line []byte) string {
	var ev struct {
		Position json.Number `json:"position"`
	}
	if json.Unmarshal(line, &ev) != nil {
		return ""
	}
	return string(ev.Position)
}

// eventCount is n events, its digits grouped: "1 event", "41,174 events".
func eventCount(n int64) string { return plural(n, "event", "events") }

// plural is n and the noun in its number, the digits grouped: "1 line",
// "40,000 lines".
func plural[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return groupDigits(int64(n)) + " " + many
}
