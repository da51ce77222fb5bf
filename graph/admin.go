package graph

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/careerledger/careerledger/events"
)

// Bulk limits: what one import request may carry.
const (
	MaxImportLines = 10000
	MaxImportBytes = 32 << 20
)

// LogReader reads the event log in order, for export.
type LogReader interface {
	Read(ctx context.Context, after uint64, max int) ([]events.Recorded, error)
}

// RebuildStatus is the progress of a read-model rebuild.
type RebuildStatus struct {
	// ID names the rebuild (random, set when it starts): a client that
	// follows one tells it from another instance's, or a later one.
	ID              string  `json:"id,omitempty"`
	State           string  `json:"state"` // idle, running, done, failed
	Position        uint64  `json:"position"`
	Head            uint64  `json:"head"`
	EventsPerSecond float64 `json:"eventsPerSecond"`
	ETASeconds      float64 `json:"etaSeconds"`
	Error           string  `json:"error,omitempty"`
}

// Rebuilder rebuilds the read model from position 0 beside the serving one
// and switches over when it has caught up.
type Rebuilder interface {
	StartRebuild(ctx context.Context) (RebuildStatus, error)
	RebuildStatus() RebuildStatus
}

// BulkConfig configures the bulk endpoints.
type BulkConfig struct {
	Resolver  *Resolver
	Tokens    *Tokens
	Log       LogReader
	Rebuilder Rebuilder // optional
	// BodyRead bounds how long a request's body (an import's) may take to
	// arrive (default DefaultImportBodyRead, 5 minutes), as
	// Limits.BodyRead bounds a /graphql body.
	BodyRead time.Duration
}

// NewBulkHandler serves POST /v1/import (NDJSON commands in, NDJSON results
// out), GET /v1/export (the log as NDJSON) and /v1/rebuild.
func NewBulkHandler(cfg BulkConfig) http.Handler {
	b := &bulk{BulkConfig: cfg}
	mux := http.NewServeMux()
	b.routeImport(mux)
	mux.HandleFunc("GET /v1/export", b.export)
	mux.HandleFunc("POST /v1/rebuild", b.startRebuild)
	mux.HandleFunc("GET /v1/rebuild", b.rebuildStatus)
	d := cfg.BodyRead
	if d <= 0 {
		d = DefaultImportBodyRead
	}
	return readBodyWithin(cfg.Tokens.Authenticate(mux), d)
}

type bulk struct {
	BulkConfig
}

// ExportedEvent is one line of an export.
type ExportedEvent struct {
	Position       uint64          `json:"position"`
	PersonID       string          `json:"personId"`
	Type           string          `json:"type"`
	Version        int             `json:"version"`
	RecordedAt     time.Time       `json:"recordedAt"`
	IdempotencyKey string          `json:"idempotencyKey"`
	RecordedBy     string          `json:"recordedBy,omitempty"` // who recorded it; absent on events before it was kept
	Event          json.RawMessage `json:"event"`
}

func (b *bulk) export(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, _ := principal(ctx)
	if !p.Has(RoleAdmin) && !p.Has(RoleHR) {
		httpError(w, http.StatusForbidden, "FORBIDDEN", "export needs the admin or hr role")
		return
	}
	after := uint64(0)
	if s := r.URL.Query().Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			httpError(w, http.StatusBadRequest, "BAD_USER_INPUT", "after: must be a log position")
			return
		}
		after = n
	}
	if after > 0 && b.Resolver != nil && b.Resolver.Head != nil {
		// A position past the log's end (one of another log, a typo) would
		// export nothing and say it was complete. A head that cannot be
		// read is left to the read below, which says why.
		if head, err := b.Resolver.Head(ctx); err == nil && after > head {
			httpError(w, http.StatusBadRequest, "BAD_USER_INPUT", fmt.Sprintf("after: %d is past the end of the log (its last position is %d)", after, head))
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	// Sent after the body: "complete" once every event to the end of the
	// log went out, the reason otherwise, so that a client tells a whole
	// export from one cut short (the status went out with the first line).
	w.Header().Set("Trailer", ExportTrailer)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	from := after
	for {
		batch, err := b.Log.Read(ctx, after, 1000)
		if err != nil && after == from && (errors.Is(err, events.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)) && ctx.Err() == nil {
			// Nothing went out yet: the status can still say it, as a
			// mutation's UNAVAILABLE does (a log that does not answer
			// within events.RequestTimeout is as good as away).
			b.Resolver.logger().WarnContext(ctx, "export failed: "+logLine["UNAVAILABLE"], "request_id", RequestID(ctx), "after", after, "err", err)
			w.Header().Del("Trailer")
			httpError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the event log is unreachable: try again once it is back")
			return
		}
		if err != nil {
			b.Resolver.logger().ErrorContext(ctx, "export failed", "request_id", RequestID(ctx), "after", after, "err", err)
			bw.Flush() //nolint:errcheck // the client went away
			w.Header().Set(ExportTrailer, fmt.Sprintf("failed after position %d: %v", after, err))
			return // positions let the client resume
		}
		if len(batch) == 0 {
			break
		}
		for _, rec := range batch {
			typ, version, body, err := events.Encode(rec.Event)
			if err != nil {
				b.Resolver.logger().ErrorContext(ctx, "export encode", "position", rec.Position, "err", err)
				bw.Flush() //nolint:errcheck // the client went away
				w.Header().Set(ExportTrailer, fmt.Sprintf("failed at position %d: %v", rec.Position, err))
				return
			}
			enc.Encode(ExportedEvent{Position: rec.Position, PersonID: rec.PersonID, Type: typ, Version: version, //nolint:errcheck // checked by Flush
				RecordedAt: rec.RecordedAt, IdempotencyKey: rec.IdempotencyKey, RecordedBy: rec.RecordedBy, Event: body})
			after = rec.Position
		}
		if err := bw.Flush(); err != nil {
			return
		}
	}
	if bw.Flush() == nil {
		w.Header().Set(ExportTrailer, ExportComplete)
	}
}

// ExportTrailer is the HTTP trailer of /v1/export: ExportComplete when the
// export reached the end of the log, the reason it stopped otherwise.
const (
	ExportTrailer  = "Career-Export"
	ExportComplete = "complete"
)

func (b *bulk) startRebuild(w http.ResponseWriter, r *http.Request) {
	p, _ := principal(r.Context())
	if !p.Has(RoleAdmin) {
		httpError(w, http.StatusForbidden, "FORBIDDEN", "rebuild needs the admin role")
		return
	}
	if b.Rebuilder == nil {
		httpError(w, http.StatusNotImplemented, "NOT_IMPLEMENTED", "this server cannot rebuild its read model")
		return
	}
	st, err := b.Rebuilder.StartRebuild(context.WithoutCancel(r.Context()))
	if msg := rebuildUnavailable(err); msg != "" {
		// Refused at once, as a write is: nothing started, and the caller
		// is told why, not "running" and then a failure in careerd's log.
		b.Resolver.logger().WarnContext(r.Context(), "rebuild not started: "+logLine["UNAVAILABLE"], "request_id", RequestID(r.Context()), "err", err)
		httpError(w, http.StatusServiceUnavailable, "UNAVAILABLE", msg)
		return
	}
	if err != nil {
		writeStatus(w, http.StatusConflict, st)
		return
	}
	writeStatus(w, http.StatusAccepted, st)
}

// rebuildUnavailable is what a client is told when a rebuild did not start
// because the event log could not be reached (or did not answer in time),
// in the plain words of the log's error ("the event log is unreachable: the
// connection to NATS is lost and reconnecting"); "" for any other error.
func rebuildUnavailable(err error) string {
	const notStarted = ": the rebuild was not started; start it again once it is back"
	switch {
	case errors.Is(err, events.ErrUnavailable):
		why := err.Error()
		if i := strings.Index(why, events.ErrUnavailable.Error()); i >= 0 {
			why = why[i:] // without the operation's own words ("head of career: ")
		}
		return why + notStarted
	case errors.Is(err, context.DeadlineExceeded):
		return "the event log did not answer in time" + notStarted
	}
	return ""
}

func (b *bulk) rebuildStatus(w http.ResponseWriter, r *http.Request) {
	p, _ := principal(r.Context())
	if !p.Has(RoleAdmin) && !p.Has(RoleHR) {
		httpError(w, http.StatusForbidden, "FORBIDDEN", "rebuild status needs the admin or hr role")
		return
	}
	if b.Rebuilder == nil {
		writeStatus(w, http.StatusOK, RebuildStatus{State: "idle"})
		return
	}
	writeStatus(w, http.StatusOK, b.Rebuilder.RebuildStatus())
}

func writeStatus(w http.ResponseWriter, code int, st RebuildStatus) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(st) //nolint:errcheck // the client went away
}
