package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
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
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
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
		fmt.Fprintf(c.stderr, "exported %s events to %s", groupDigits(n), filepath.Clean(*out))
		if n > 0 {
			fmt.Fprintf(c.stderr, " (last position %s; --after %s continues from there)", last, last)
		}
		fmt.Fprintln(c.stderr)
	}
	return nil
}

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
	var last []byte
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			if len(bytes.TrimSpace(line)) > 0 {
				n++
				last = line
			}
			if _, werr := bw.Write(line); werr != nil {
				return n, "", werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, "", fmt.Errorf("GET /v1/export: the stream broke after %d events: %w", n, err)
		}
	}
	if len(last) > 0 && last[len(last)-1] != '\n' {
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return n, "", err
	}
	// The trailer comes after the body: careerd says whether the export
	// reached the end of the log. A careerd without it (an older one)
	// is taken at its word.
	if got := res.Trailer.Get(graph.ExportTrailer); got != "" && got != graph.ExportComplete {
		return n, positionOf(last), fmt.Errorf("GET /v1/export: careerd stopped after %d events: %s; --after %s continues from the last one received",
			n, got, positionOf(last))
	}
	return n, positionOf(last), nil
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
