package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections"
)

type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	appended  *prometheus.CounterVec
	projected prometheus.Counter
	evicted   prometheus.Counter
	projFails prometheus.Counter
	position  prometheus.Gauge
	lag       prometheus.Gauge
	lagAge    prometheus.Gauge
	liveLag   prometheus.Histogram
	head      prometheus.Gauge
	ops       *prometheus.HistogramVec
	// derivedFailed counts failed attempts to publish level changes on
	// NATS; derivedDropped the changes dropped while too many waited.
	derivedFailed  prometheus.Counter
	derivedDropped prometheus.Counter
	// projecting is 1 while this instance projects (holds the projector
	// lock, with PostgreSQL).
	projecting prometheus.Gauge
	// active is what projecting says, under posMu with position: while
	// this instance projects, position is the projector's, otherwise the
	// read model's as watchLag reads it (readModelAt).
	posMu  sync.Mutex
	active bool
	// catalogueBehind is 1 while this instance's catalogue is an older
	// version than the one that judged the read model it serves.
	catalogueBehind prometheus.Gauge
	// formatBehind is 1 while this release writes an older read-model
	// format than the one the read model it serves was built in.
	formatBehind prometheus.Gauge

	// opNames are the operation names ops has series for: clients name
	// operations, so at most maxOperationNames get series of their own.
	opMu    sync.Mutex
	opNames map[string]bool
}

// maxOperationNames bounds the operation names that get series of their own
// in careerledger_graphql_operation_duration_seconds (about 18 series each);
// later ones are counted as "other", and a name is cut to
// maxOperationNameLength bytes.
const (
	maxOperationNames      = 200
	maxOperationNameLength = 64
)

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careerledger_http_requests_total", Help: "HTTP requests by path and status code.",
		}, []string{"path", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "careerledger_http_request_duration_seconds", Help: "HTTP request latency by path.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"path"}),
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careerledger_commands_total", Help: "Commands by mutation name and result (recorded, duplicate, refused, unavailable, failed), each counted once where it ended: a command refused or failed before it reached the recorder too, and each mutation field of a request refused before it ran (validation, variables, a limit, a key given twice).",
		}, []string{"command", "result"}),
		projected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "careerledger_projected_events_total", Help: "Events applied to the read model by this instance.",
		}),
		projFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "careerledger_projector_failures_total",
			Help: "Projector runs that failed (each retried a second later from the checkpoint): alert on its rate.",
		}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "careerledger_projector_cache_evictions_total", Help: "People the projector dropped from its cache (--projector-cache); each is loaded from the read model when it appears again.",
		}),
		projecting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "careerledger_projector_active", Help: "1 while this instance projects the log into the read model (with PostgreSQL: holds the projector lock), 0 otherwise.",
		}),
		position: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "careerledger_projection_position", Help: "Log position up to which the read model answers: while this instance projects (careerledger_projector_active 1), of the last event it applied; while it stands by, the read model's as read each second.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "careerledger_projection_lag_events", Help: "Events between the log head and the read model checkpoint.",
		}),
		lagAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "careerledger_projection_lag_seconds", Help: "Age of the oldest event not yet in the read model (0 when caught up).",
		}),
		liveLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "careerledger_projection_live_lag_seconds",
			Help:    "Per event, from the log server's timestamp of it (taken as it stores the event, just before acknowledging the append) to the commit of the read-model transaction that holds it, as this instance projected it; a bulk catch-up is not counted.",
			Buckets: liveLagBuckets(),
		}),
		head: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "careerledger_log_head_position", Help: "Position of the last event in the log.",
		}),
		catalogueBehind: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "careerledger_catalogue_behind_read_model", Help: "1 while this instance's catalogue is an older version than the one that judged the read model it serves (its explanations, histories and knownAt answers follow older rules than the stored levels), 0 otherwise.",
		}),
		formatBehind: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "careerledger_format_behind_read_model", Help: "1 while this release writes an older read-model format than the one the read model it serves was built in (a newer release rebuilt it), 0 otherwise.",
		}),
		ops: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "careerledger_graphql_operation_duration_seconds", Help: "GraphQL operations by name, type and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"operation", "type", "outcome"}),
		derivedFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "careerledger_derived_publish_failures_total", Help: "Failed attempts to publish level changes on NATS; each is retried until NATS takes them.",
		}),
		derivedDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "careerledger_derived_dropped_total", Help: "Level changes dropped unpublished because the queue of those waiting for NATS was full.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.appended, m.projected, m.evicted, m.projFails, m.position, m.lag, m.lagAge, m.liveLag, m.head, m.catalogueBehind, m.formatBehind, m.ops,
		m.derivedFailed, m.derivedDropped, m.projecting,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

func (m *metrics) applied(pos uint64, n int) {
	m.projected.Add(float64(n))
	m.posMu.Lock()
	defer m.posMu.Unlock()
	m.position.Set(float64(pos))
}

// setProjecting says whether this instance projects
// (careerledger_projector_active).
func (m *metrics) setProjecting(on bool) {
	m.posMu.Lock()
	defer m.posMu.Unlock()
	m.active = on
	v := 0.0
	if on {
		v = 1
	}
	m.projecting.Set(v)
}

// readModelAt is the read model's readable position as watchLag read it:
// the position gauge of an instance that does not project. Before, the
// gauge of an instance standing by kept the last position it applied when
// it last projected (or 0 if it never had), and a dashboard showed that
// instance's projection frozen while the read model they share moved on.
// A reading taken before this instance took the projector lock is
// dropped: the projector's own is newer.
func (m *metrics) readModelAt(pos uint64) {
	m.posMu.Lock()
	defer m.posMu.Unlock()
	if !m.active {
		m.position.Set(float64(pos))
	}
}

// liveLagBuckets doubles from 1 ms to about 65 s, with the 50 ms of the
// projection's latency goal as a bound of its own: the share of events
// within it is then a ratio of two series, and a p99 near it is not
// interpolated across 32-64 ms.
func liveLagBuckets() []float64 {
	b := append(prometheus.ExponentialBuckets(0.001, 2, 17), 0.05)
	slices.Sort(b)
	return b
}

// committed observes the live lag of each event of a committed batch. A
// server clock ahead of this one counts as no lag.
func (m *metrics) committed(batch []events.Recorded) {
	now := time.Now()
	for _, r := range batch {
		if !r.StoredAt.IsZero() {
			m.liveLag.Observe(max(now.Sub(r.StoredAt), 0).Seconds())
		}
	}
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController and websocket upgrades reach the
// underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (m *metrics) instrument(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		switch path {
		case "/graphql", "/healthz", "/readyz", "/metrics", "/", "/v1/import", "/v1/export", "/v1/rebuild":
		default:
			path = "other"
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: 200}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		m.latency.WithLabelValues(path).Observe(d.Seconds())
		m.requests.WithLabelValues(path, strconv.Itoa(sw.code)).Inc()
		log.LogAttrs(r.Context(), slog.LevelDebug, "request", slog.String("request_id", graph.RequestID(r.Context())),
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.code),
			slog.Duration("duration", d))
	})
}

// requestIDs gives every request an id (the caller's X-Request-Id or a new
// one), echoed in the response and logged with errors.
func requestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			var b [8]byte
			rand.Read(b[:]) //nolint:errcheck // crypto/rand never fails on Linux
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(graph.WithRequestID(r.Context(), id)))
	})
}

func randomSecret() string {
	var b [32]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand never fails on Linux
	return hex.EncodeToString(b[:])
}

// countingCommands counts commands by result for /metrics.
type countingCommands struct {
	graph.Commands
	m *metrics
}

func (c countingCommands) count(name string, res events.Result, err error) (events.Result, error) {
	result := resultOf(err)
	if err == nil && res.Duplicate {
		result = "duplicate"
	}
	c.m.appended.WithLabelValues(name, result).Inc()
	return res, err
}

// unsent counts a command that failed before it reached the Recorder
// (graph.Resolver.Unsent): refused there (not authorized, bad input the
// resolver found first, or a request refused before any resolver ran),
// the read model unreachable, or failed. Before,
// such a command was not counted at all, and an outage of the read model
// never showed in careerledger_commands_total.
func (m *metrics) unsent(command string, err error) {
	m.appended.WithLabelValues(command, resultOf(err)).Inc()
}

// resultOf is the result label of a command that ended with err:
// recorded (nil), unavailable (the event log or the read model
// unreachable: nothing recorded, safe to send again), failed (an internal
// error, a deadline or a cancel), refused (the client's: bad input,
// forbidden, not found, a conflict).
func resultOf(err error) string {
	switch {
	case err == nil:
		return "recorded"
	case errors.Is(err, events.ErrUnavailable) || errors.Is(err, projections.ErrUnavailable):
		return "unavailable"
	case graphKind(err) == "internal":
		return "failed"
	}
	return "refused"
}

func (c countingCommands) RegisterPerson(ctx context.Context, cmd events.RegisterPerson) (events.Result, error) {
	res, err := c.Commands.RegisterPerson(ctx, cmd)
	return c.count("registerPerson", res, err)
}

func (c countingCommands) TransferPerson(ctx context.Context, cmd events.TransferPerson) (events.Result, error) {
	res, err := c.Commands.TransferPerson(ctx, cmd)
	return c.count("transferPerson", res, err)
}

func (c countingCommands) RecordDeparture(ctx context.Context, cmd events.RecordDeparture) (events.Result, error) {
	res, err := c.Commands.RecordDeparture(ctx, cmd)
	return c.count("recordDeparture", res, err)
}

func (c countingCommands) RecordAccomplishment(ctx context.Context, cmd events.RecordAccomplishment) (events.Result, error) {
	res, err := c.Commands.RecordAccomplishment(ctx, cmd)
	return c.count(recordingCommand[cmd.Accomplishment.Kind()], res, err)
}

// recordingCommand names each kind's command label after the mutation that
// records it.
var recordingCommand = map[domain.AccomplishmentKind]string{
	domain.KindEngagement:      "recordEngagement",
	domain.KindSuccession:      "recordTechnologySuccession",
	domain.KindDevelopment:     "recordSubordinateDevelopment",
	domain.KindThemeAssessment: "assessTheme",
	"":                         "recordAccomplishment", // refused before it has a kind
}

func (c countingCommands) AmendAccomplishment(ctx context.Context, cmd events.AmendAccomplishment) (events.Result, error) {
	res, err := c.Commands.AmendAccomplishment(ctx, cmd)
	return c.count("amendAccomplishment", res, err)
}

func (c countingCommands) RetractAccomplishment(ctx context.Context, cmd events.RetractAccomplishment) (events.Result, error) {
	res, err := c.Commands.RetractAccomplishment(ctx, cmd)
	return c.count("retractAccomplishment", res, err)
}

func graphKind(err error) string { return domain.KindOf(err).String() }

func (m *metrics) operation(name, kind string, d time.Duration, failed bool) {
	if name == "" {
		name = "anonymous"
	}
	if !graphQLName(name) {
		name = "invalid"
	}
	if len(name) > maxOperationNameLength {
		name = name[:maxOperationNameLength] // ASCII: graphQLName
	}
	m.opMu.Lock()
	if !m.opNames[name] {
		if len(m.opNames) < maxOperationNames {
			if m.opNames == nil {
				m.opNames = map[string]bool{}
			}
			m.opNames[name] = true
		} else {
			name = "other"
		}
	}
	m.opMu.Unlock()
	outcome := "ok"
	if failed {
		outcome = "error"
	}
	m.ops.WithLabelValues(name, kind, outcome).Observe(d.Seconds())
}

// graphQLName reports whether s is a GraphQL name: [_A-Za-z][_0-9A-Za-z]*.
func graphQLName(s string) bool {
	for i, c := range s {
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}
