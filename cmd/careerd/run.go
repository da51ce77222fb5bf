package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
	"github.com/nats-io/nats.go"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/derived"
	"github.com/careerledger/careerledger/projections/memory"
	"github.com/careerledger/careerledger/projections/postgres"
)

// idleTimeout is how long a kept-alive HTTP connection may wait for its
// next request before it is closed: without one (and without a
// ReadTimeout, which it would default to) an idle connection was held
// for as long as its client kept it.
const idleTimeout = 2 * time.Minute

var (
	_ projections.ReadModel = (*memory.Store)(nil)
	_ projections.ReadModel = (*postgres.Store)(nil)
	_ graph.ReadModel       = (*projections.Switch)(nil)
)

// Main is the careerd program, separate from main() so tests can run it
// whole on port 0.
type Main struct {
	Config Config
	Out    io.Writer
	// Now is the clock; nil = time.Now.
	Now func() time.Time

	loc      *time.Location // --time-zone (see now)
	locOnce  sync.Once
	log      *slog.Logger
	runCtx   context.Context // done when Close begins
	cat      *domain.Catalogue
	embedded *events.Embedded
	nc       *nats.Conn
	eventLog *events.Log
	pool     *pgxpool.Pool
	store    *projections.Switch
	rebuild  *rebuilder
	projMu   sync.Mutex
	// projector is the live projector (startProjector): /readyz asks it
	// whether a bulk catch-up's write is running (BulkWrite).
	projector *projections.Projector
	// projectorStore, when set (by tests), is the store the live projector
	// writes to, in place of store: a real one wrapped, to delay a write.
	projectorStore func(*projections.Switch) projections.Store
	projStop       context.CancelFunc // stops the live projector's current run (pauseLive)
	// projFailures counts the projector's failed runs since it last
	// applied a batch or gave up the projector lock, for saying when it
	// recovers (and for /readyz).
	projFailures atomic.Int64
	projRun      chan struct{} // closed when the live projector's current run has returned
	projDone     chan struct{} // closed when the live projector has stopped
	// liveMu is held by a read-model switch while the live projector must
	// not run (pauseLive); the projector takes it before each run.
	liveMu    sync.Mutex
	tokens    *graph.Tokens
	metrics   *metrics
	broadcast *projections.Broadcaster
	bus       *derived.Bus
	// websockets are the GraphQL websocket connections, closed with a
	// close frame at shutdown (http.Server.Shutdown leaves them).
	websockets *graph.Websockets
	server     *http.Server
	listener   net.Listener

	cancel context.CancelFunc
	// staleCatalogue: the active read model was judged by another catalogue
	// or built in an older format. servedNewer: it was judged by a newer
	// version of this instance's catalogue, or built in a newer format by
	// this version, which this instance's own rebuild never replaces.
	staleCatalogue, servedNewer bool
	// standingBy: the projector leaves the read model to an instance of
	// the catalogue that judged it (standsBy).
	standingBy atomic.Bool
	// olderReleases is how many instances of a release before format
	// presences run on this read model, as watchLag last counted them
	// (postgres.OlderReleasesPresent): /readyz reads it, not the lock table.
	olderReleases atomic.Int64
	activeAtStart postgres.Active // the registry's entry for the read model served at start
	wg            sync.WaitGroup
	closeOnce     sync.Once
	// closing is set when Close starts: a NATS connection closed from then
	// on is closed at shutdown. natsOpen counts the NATS connections whose
	// closed handler has not run yet; Close waits for them, so that each
	// says it closed before the process exits.
	closing  atomic.Bool
	natsOpen sync.WaitGroup
	// failed is set when Run fails: Close then releases what the start
	// opened and logs nothing of stopping, since nothing served.
	failed atomic.Bool
	// ran is set by the first Run: a Main runs once (a second Run would
	// take over what the first started, and Close could stop neither).
	ran atomic.Bool
	// served is set once Run has started serving the API.
	served atomic.Bool
	// progressCP and progressStored are the read model's readable
	// position and checkpoint as last observed, and progressAt when either
	// last moved or the read model was caught up (observe).
	progressMu     sync.Mutex
	progressCP     uint64
	progressStored uint64
	progressAt     time.Time
	devToken       string
	// dataDirLock holds --data-dir while the embedded server runs
	// (lockDataDir); closed after the server shuts down.
	dataDirLock *os.File
}

// NewMain returns a program for cfg that logs to out.
func NewMain(cfg Config, out io.Writer) *Main {
	return &Main{Config: cfg, Out: out}
}

// now is the clock, in --time-zone: every "today" careerd decides (the
// recorder's, the queries' default, the projector's) is that zone's date.
func (m *Main) now() time.Time {
	t := time.Now()
	if m.Now != nil {
		t = m.Now()
	}
	m.locOnce.Do(func() {
		m.loc = time.UTC
		if l, err := time.LoadLocation(m.Config.TimeZone); err == nil && m.Config.TimeZone != "" {
			m.loc = l
		}
	})
	return t.In(m.loc)
}

// Addr returns the address the API listens on (after Run).
func (m *Main) Addr() string { return m.listener.Addr().String() }

// DevToken returns the admin token printed in development mode.
func (m *Main) DevToken() string { return m.devToken }

// Run starts every part of careerd and returns once the API is serving. A
// start that fails (a dependency that cannot be reached, say) returns a
// one-line error and logs it, once, at error ("careerd failed to start");
// Close then releases what was opened without saying it stops anything.
func (m *Main) Run(ctx context.Context) (err error) {
	if !m.ran.CompareAndSwap(false, true) {
		return errors.New("careerd: Run called on a careerd that already ran; make a new one")
	}
	cfg := m.Config
	level, lerr := logLevel(cfg.LogLevel)
	m.log = slog.New(slog.NewJSONHandler(m.Out, &slog.HandlerOptions{Level: level}))
	defer func() {
		if err != nil {
			m.failed.Store(true)
			m.log.Error("careerd failed to start", "err", err)
		}
	}()
	if lerr != nil {
		return lerr
	}
	m.log.Info("careerd starting", cfg.Masked()...)
	if cfg.NATSURL != "" {
		// Settings of the embedded server, which does not run: said, so
		// that no one counts on them.
		if cfg.NATSListen != "" {
			m.log.Warn("--nats-listen ($CAREER_NATS_LISTEN) is ignored: it opens the embedded server to NATS clients, and with --nats-url none runs; clients reach the NATS server itself",
				"nats_listen", cfg.NATSListen)
		}
		if cfg.SyncInterval != 0 {
			m.log.Warn("--sync-interval ($CAREER_SYNC_INTERVAL) is ignored: it is the embedded server's, and with --nats-url none runs; durability is the NATS server's setting (jetstream { sync_interval: always })",
				"sync_interval", cfg.SyncInterval.String())
		}
	}

	if m.cat, err = loadCatalogue(cfg.Catalogue); err != nil {
		return err
	}
	m.log.Info("catalogue loaded", "id", m.cat.ID(), "version", m.cat.Version())

	secret := cfg.AuthSecret
	if secret == "" {
		secret = randomSecret()
	}
	if m.tokens, err = graph.NewTokens(secret); err != nil {
		return err
	}
	m.tokens.SetMaxLifetime(cfg.MaxTokenLifetime)

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel, m.runCtx = cancel, runCtx

	if err := m.openLog(ctx); err != nil {
		return err
	}
	if err := m.openReadModel(ctx); err != nil {
		return err
	}
	m.metrics = newMetrics()
	m.broadcast = &projections.Broadcaster{}
	if err := m.startBus(runCtx); err != nil {
		return err
	}
	m.startProjector(runCtx)
	m.rebuild = &rebuilder{m: m}
	m.watchLag(runCtx)
	if m.pool != nil {
		m.followActive(runCtx)
		m.sweepRetired(runCtx)
	}

	recorder := events.NewRecorder(m.eventLog, m.cat, m.now)
	recorder.History = m.store
	resolver := &graph.Resolver{
		ReadModel: m.store, Commands: countingCommands{recorder, m.metrics}, Catalogue: m.cat,
		LevelChanges: m.broadcast, Logger: m.log, Now: m.now, ReadYourWritesTimeout: cfg.RYWTimeout,
		NoSelfAssessment: !cfg.SelfAssessment, Head: m.eventLog.Head, Unsent: m.metrics.unsent,
		RecordedAt: func(ctx context.Context, pos uint64) (time.Time, error) {
			rec, err := m.eventLog.HeaderAt(ctx, pos)
			return rec.RecordedAt, err
		},
	}
	mux := http.NewServeMux()
	m.websockets = graph.NewWebsockets()
	mux.Handle("/graphql", compressed(graph.NewServer(graph.ServerConfig{Resolver: resolver, Tokens: m.tokens, Dev: cfg.Dev, Logger: m.log,
		OnOperation: m.metrics.operation, Websockets: m.websockets, Limits: graph.Limits{Request: cfg.RequestTimeout, BodyRead: cfg.BodyReadTimeout}})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", m.ready)
	mux.Handle("GET /metrics", m.metrics.handler())
	mux.Handle("/v1/", compressed(graph.NewBulkHandler(graph.BulkConfig{Resolver: resolver, Tokens: m.tokens, Log: m.eventLog, Rebuilder: m.rebuild,
		BodyRead: cfg.ImportReadTimeout})))
	if cfg.Dev {
		mux.Handle("GET /{$}", graph.Playground())
	}
	m.listener, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	// No ReadTimeout: it would bound a websocket's life and every body
	// alike; each handler bounds the reading of its own body instead
	// (--body-read-timeout, --import-read-timeout). IdleTimeout closes a
	// kept-alive connection that sends no next request.
	m.server = &http.Server{Handler: requestIDs(m.metrics.instrument(m.log, mux)), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: idleTimeout}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.server.Serve(m.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("http server stopped", "err", err)
		}
	}()
	if cfg.Dev {
		m.devToken, err = m.tokens.Mint(graph.Principal{Subject: "dev-admin", Roles: []string{graph.RoleAdmin}}, devTokenTTL(cfg.MaxTokenLifetime), m.now())
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Out, "\ncareerd is serving at http://%s/ (GraphiQL)\nadmin token (development mode):\n\n  %s\n\n", m.Addr(), m.devToken)
	}
	m.served.Store(true)
	m.log.Info("careerd serving", "addr", m.Addr())
	if m.servedNewer {
		// A rebuild for this instance's catalogue would be refused at its
		// switch (never back over a newer one): an instance of an older
		// release or catalogue, say during a rolling upgrade, or started
		// with the wrong --catalogue.
		m.log.Warn("the read model was judged by a newer version of this catalogue than this instance's, or built in a newer format: not rebuilt; "+
			"while its catalogue is newer, its answers mix two rule books (the stored levels follow the newer one), which /readyz and careerledger_catalogue_behind_read_model say. "+
			"Start careerd with the catalogue the read model was judged by, or rebuild the read model for this one (careerctl rebuild --wait)",
			"catalogue", m.cat.ID(), "version", m.cat.Version(), "format", postgres.Format,
			"read_model_version", m.activeAtStart.CatalogueVersion, "read_model_format", m.activeAtStart.Format)
	} else if m.staleCatalogue {
		m.log.Warn("the read model was built by another catalogue or format; rebuilding it while the old one serves",
			"catalogue", m.cat.ID(), "version", m.cat.Version(), "format", postgres.Format,
			"read_model_catalogue", m.activeAtStart.CatalogueID, "read_model_version", m.activeAtStart.CatalogueVersion,
			"read_model_format", m.activeAtStart.Format)
		if _, err := m.rebuild.startAutomatic(runCtx); err != nil {
			m.log.Error("rebuild", "err", err)
		}
		m.retryStaleRebuild(runCtx)
	}
	return nil
}

func (m *Main) openLog(ctx context.Context) error {
	cfg := m.Config
	var err error
	if cfg.NATSURL == "" {
		if m.dataDirLock, err = lockDataDir(cfg.DataDir); err != nil {
			return err
		}
		m.embedded, err = events.StartEmbedded(events.EmbeddedConfig{
			Dir: filepath.Join(cfg.DataDir, "jetstream"), Listen: cfg.NATSListen, SyncInterval: cfg.SyncInterval,
		})
		if err != nil {
			return fmt.Errorf("embedded JetStream: %w", err)
		}
	}
	m.nc, err = m.connectNATS("careerd")
	if err != nil {
		return fmt.Errorf("cannot reach NATS at %q: %w", maskURL(cfg.NATSURL), redact(err, cfg.NATSURL))
	}
	m.eventLog, err = events.OpenLog(ctx, m.nc, events.LogConfig{Stream: cfg.Stream, SubjectPrefix: cfg.SubjectPrefix, Replicas: cfg.Replicas, DuplicateWindow: cfg.DuplicateWindow})
	if err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	return nil
}

// connectNATS opens a connection to the embedded server or to --nats-url,
// with natsOptions.
func (m *Main) connectNATS(name string) (*nats.Conn, error) {
	var nc *nats.Conn
	var err error
	m.natsOpen.Add(1) // Done by the closed handler of a connection made
	if m.embedded != nil {
		nc, err = m.embedded.Connect(m.natsOptions(name)...)
	} else {
		nc, err = nats.Connect(m.Config.NATSURL, append(m.natsOptions(name), nats.Timeout(5*time.Second),
			nats.RetryOnFailedConnect(false))...)
	}
	if err != nil {
		m.natsOpen.Done()
	}
	return nc, err
}

// natsOptions are the options of every connection careerd makes: the log's
// (events.ConnectOptions: no reconnect buffer, so that a write while NATS is
// away fails at once and is never sent behind its caller's back when the
// connection comes back; reconnect forever, every 2 s), and a log line when
// the connection is lost (warn), made again (info) or closed (info at
// shutdown, debug when careerd never served: a failed start's one record
// says why; error otherwise), and for NATS's asynchronous errors (warn),
// each with the connection's name and its address, credentials masked.
func (m *Main) natsOptions(name string) []nats.Option {
	log := m.log.With("connection", name)
	addr := func(nc *nats.Conn) string {
		if u := nc.ConnectedUrl(); u != "" {
			return maskURL(u)
		}
		if m.Config.NATSURL == "" {
			return "embedded" // connected in-process, without a URL
		}
		return maskURL(m.Config.NATSURL)
	}
	return append(events.ConnectOptions(), nats.Name(name),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // closing: the closed handler says so
			}
			log.Warn("NATS connection lost; reconnecting (writes fail as unavailable meanwhile)",
				"url", addr(nc), "err", redact(err, m.Config.NATSURL))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS connection restored", "url", addr(nc))
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			defer m.natsOpen.Done()
			if err := nc.LastError(); err != nil && !m.closing.Load() {
				log.Error("NATS connection closed", "url", addr(nc), "err", redact(err, m.Config.NATSURL))
				return
			}
			if !m.served.Load() {
				// Released after a failed start, whose one record says why.
				log.Debug("NATS connection closed", "url", addr(nc))
				return
			}
			log.Info("NATS connection closed", "url", addr(nc))
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("NATS asynchronous error", "url", addr(nc), "subject", subject, "err", redact(err, m.Config.NATSURL))
		}),
	)
}

// defaultConnectTimeout bounds the opening of a PostgreSQL connection when
// DATABASE_URL sets no connect_timeout. Without it, a database that takes
// the connection and says nothing (a host behind a silent network, a
// stalled server) held every read needing a new connection until the
// request's deadline, 60 s, and answered TIMEOUT: the read model
// unreachable, told UNAVAILABLE only when it refused. 5 s, as the ping at
// start and a NATS write.
const defaultConnectTimeout = 5 * time.Second

// poolConfig parses DATABASE_URL for careerd's pool: a connect_timeout it
// sets (0, no bound, included) is kept; none gets defaultConnectTimeout.
func poolConfig(databaseURL string) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	if pc.ConnConfig.ConnectTimeout == 0 && !strings.Contains(databaseURL, "connect_timeout") {
		pc.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	return pc, nil
}

func (m *Main) openReadModel(ctx context.Context) error {
	cfg := m.Config
	if cfg.DatabaseURL == "" {
		m.store = projections.NewSwitch(memory.New(m.cat))
		return nil
	}
	pc, err := poolConfig(cfg.DatabaseURL)
	if err == nil {
		m.pool, err = pgxpool.NewWithConfig(ctx, pc)
	}
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = m.pool.Ping(pctx)
		cancel()
	}
	if err != nil {
		return fmt.Errorf("cannot reach PostgreSQL at %s: %w", maskURL(cfg.DatabaseURL), err)
	}
	active, ok, err := postgres.ReadActive(ctx, m.pool, cfg.Schema)
	if err != nil {
		return err
	}
	if !ok {
		first := postgres.Active{Schema: cfg.Schema, CatalogueID: m.cat.ID(), CatalogueVersion: m.cat.Version(), Format: postgres.Format}
		if err := postgres.Migrate(ctx, m.pool, first.Schema); err != nil {
			return err
		}
		// Another instance may have been first (and even switched since).
		if active, err = postgres.InitActive(ctx, m.pool, cfg.Schema, first); err != nil {
			return err
		}
		if active.Schema != first.Schema {
			// Ours was made for nothing, or made anew after a switch away
			// from it and a sweep: the sweep's to drop.
			if err := postgres.NoteRetired(ctx, m.pool, cfg.Schema, first.Schema); err != nil {
				return err
			}
		}
	}
	for {
		merr := postgres.Migrate(ctx, m.pool, active.Schema)
		// A switch while the migration waited may have retired the schema,
		// and a sweep dropped it: the migration then made it anew, empty,
		// or failed as the drop ran. Follow the switch, and leave that one
		// to the sweep.
		again, ok, err := postgres.ReadActive(ctx, m.pool, cfg.Schema)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("the read-model pointer of %q in public.careerledger_read_models went away while careerd started", cfg.Schema)
		}
		if again.Schema == active.Schema {
			if merr != nil {
				return merr
			}
			break
		}
		if err := postgres.NoteRetired(ctx, m.pool, cfg.Schema, active.Schema); err != nil {
			return err
		}
		active = again
	}
	m.staleCatalogue = active.CatalogueID != m.cat.ID() || active.CatalogueVersion != m.cat.Version() ||
		active.Format != postgres.Format
	m.servedNewer = m.staleCatalogue && m.newerThanOurs(active)
	m.activeAtStart = active
	st := m.postgresStore(active.Schema)
	m.store = projections.NewSwitch(st)
	return m.readModelOfThisLog(ctx, active.Schema, st)
}

// readModelOfThisLog refuses a read model built from another log (the
// stream deleted and the database kept, or careerd pointed at another
// server or data directory). Served, it would show people the log does
// not have, its projector would wait for positions the log reaches with
// other events, and the Recorder, which reads people from it, would take
// its events for the log's. Two checks tell: a read model of this log has
// applied no more than the log holds, and the last event it stored is the
// log's at that position (same person, type, idempotency key and
// recording time), which tells another log that has grown past the
// read model's checkpoint.
func (m *Main) readModelOfThisLog(ctx context.Context, schema string, st *postgres.Store) error {
	applied, err := st.Checkpoint(ctx)
	if err != nil || applied == 0 {
		return err
	}
	head, err := m.eventLog.Head(ctx)
	if err != nil {
		return err
	}
	const fix = "Start careerd with the log it was built from, or with another --schema to build a new read model from this log"
	if applied > head {
		return fmt.Errorf("the read model in schema %q has applied the event log up to position %d, but the log ends at %d: it was built from another log. %s",
			schema, applied, head, fix)
	}
	held, ok, err := st.LastEventUpTo(ctx, applied)
	if err != nil || !ok {
		return err
	}
	logged, err := m.eventLog.HeaderAt(ctx, held.Position) // its headers: a newer release's event too
	if errors.Is(err, events.ErrNoEvent) {
		return fmt.Errorf("the read model in schema %q holds an event at position %d (%s of person %q), but the event log holds none there: it was built from another log. %s",
			schema, held.Position, held.Type, held.PersonID, fix)
	}
	if err != nil {
		return err
	}
	if !sameRecord(held, logged) {
		return fmt.Errorf("the read model in schema %q holds at position %d %s, but the event log holds %s: it was built from another log. %s",
			schema, held.Position, describeRecord(held), describeRecord(logged), fix)
	}
	return nil
}

// sameRecord reports whether a read model's stored event is the log's:
// the same person, type, idempotency key and recording time. A read model
// keeps the time to the microsecond; one written by an early release
// through PostgreSQL's text protocol rounded it where the log's reading
// truncates, hence a microsecond either way.
func sameRecord(stored, logged events.Recorded) bool {
	d := stored.RecordedAt.Sub(logged.RecordedAt)
	return stored.PersonID == logged.PersonID && stored.Type == logged.Type && stored.IdempotencyKey == logged.IdempotencyKey &&
		d >= -time.Microsecond && d <= time.Microsecond
}

func describeRecord(r events.Recorded) string {
	s := fmt.Sprintf("%s of person %q recorded at %s", r.Type, r.PersonID, r.RecordedAt.UTC().Format(time.RFC3339Nano))
	if r.IdempotencyKey != "" {
		s += fmt.Sprintf(" under key %q", r.IdempotencyKey)
	}
	return s
}

// postgresStore is a store serving schema as this deployment's active read
// model (for a rebuild's new model, newReadModel clears Deployment).
func (m *Main) postgresStore(schema string) *postgres.Store {
	st := postgres.New(m.pool, m.cat, schema)
	st.Logger = m.log
	st.Deployment = m.Config.Schema
	return st
}

// derivedPrefix is the subject prefix of a deployment's derived events,
// beside its log's subjects and never under them (the stream would take
// them in): "career.person" (the default) gives "career.derived", as
// before; "acme.person" gives "acme.derived"; a prefix not ending in
// ".person" gets "-derived" on its last token ("hr.people" gives
// "hr.people-derived"). Deployments sharing a NATS server have log
// subjects apart (streams cannot overlap), so their level changes are
// apart too.
func derivedPrefix(subjectPrefix string) string {
	if base, ok := strings.CutSuffix(subjectPrefix, ".person"); ok && base != "" {
		return base + ".derived"
	}
	return subjectPrefix + "-derived"
}

// startBus routes derived events (level changes) from the projecting
// instance, through Watermill on NATS, to this instance's subscribers.
func (m *Main) startBus(ctx context.Context) error {
	// The bus gets a connection of its own: Watermill closes its
	// connection when the bus closes.
	nc, err := m.connectNATS("careerd-derived")
	if err != nil {
		return fmt.Errorf("cannot reach NATS at %q: %w", maskURL(m.Config.NATSURL), redact(err, m.Config.NATSURL))
	}
	m.bus, err = derived.New(nc, derived.Config{Logger: m.log, TopicPrefix: derivedPrefix(m.Config.SubjectPrefix),
		OnPublishFailed: m.metrics.derivedFailed.Inc,
		OnDropped:       func(n int) { m.metrics.derivedDropped.Add(float64(n)) }}, m.broadcast.LevelChanged)
	if err != nil {
		nc.Close()
		return err
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.bus.Run(ctx); err != nil {
			m.log.Error("derived-event router stopped", "err", err)
		}
	}()
	select {
	case <-m.bus.Running():
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("derived-event router did not start")
	}
}

// failureLogEvery is how often a projector that goes on failing (it tries
// again every second) says so again after its first failure.
var failureLogEvery = time.Minute

// startProjector folds the log into the read model in the background,
// restarting after errors; with PostgreSQL only the instance holding the
// projector lock projects.
func (m *Main) startProjector(ctx context.Context) {
	var store projections.Store = m.store
	if m.projectorStore != nil {
		store = m.projectorStore(m.store)
	}
	p := &projections.Projector{
		Catalogue: m.cat, Source: m.eventLog, Store: store, Notifier: m.bus, Now: m.now, Logger: m.log,
		// A backlog (a fresh memory model at start, a long stop) is caught up
		// in bulk: each person judged once, at the head. Up to ten batches
		// (a restart after a crash, a lock handed over) are projected as
		// they come, and their level changes published.
		Bulk:      true,
		BulkAbove: 10 * projections.DefaultMaxBatch,
		OnApplied: func(pos uint64, n int) {
			m.metrics.applied(pos, n)
			if failures := m.projFailures.Swap(0); failures > 0 {
				m.log.Info("projector recovered: a batch was applied after failed runs", "failed_runs", failures, "position", pos)
			}
		},
		OnStored:    func(_ uint64, n int) { m.metrics.projected.Add(float64(n)) },
		OnCommitted: m.metrics.committed,
		MaxCached:   m.Config.maxCached(),
		OnEvicted:   func(n int) { m.metrics.evicted.Add(float64(n)) },
	}
	m.projector = p
	var lastLogged time.Time // when a failure of the projector was last logged
	run := func(ctx context.Context) error {
		for {
			// Before every run (the first, and after each switch followed):
			// a read model of another catalogue is left to an instance of
			// that catalogue, if one runs.
			if by, _ := m.standsBy(ctx); by { // a database that fails the look fails the run too, as ever
				return nil
			}
			m.liveMu.Lock() // not while a switch holds it
			pctx, stop := context.WithCancel(ctx)
			ran := make(chan struct{})
			m.projMu.Lock()
			m.projStop, m.projRun = stop, ran
			m.projMu.Unlock()
			m.liveMu.Unlock()
			err := p.Run(pctx)
			// Stopped on purpose (a switch), asked before stop cancels pctx
			// itself: read after it, every failure looked stopped on purpose
			// and was retried at once, unlogged, in a tight loop.
			switched := pctx.Err() != nil
			stop()
			close(ran)
			if ctx.Err() != nil {
				return nil
			}
			if switched {
				continue // restarted on purpose: the read model was switched
			}
			if by, _ := m.standsBy(ctx); by && errors.Is(err, postgres.ErrStandBy) {
				// An instance of the read model's catalogue started: the
				// batch did not commit, and this one stands by.
				return nil
			}
			if errors.Is(err, postgres.ErrNotActive) && m.followNow(ctx) {
				// Another instance switched the read model: followed now,
				// not at the next look.
				continue
			}
			m.metrics.projFails.Inc()
			// The first failure is logged with its error; while the
			// projector goes on failing (once a second), it is said again
			// only once every failureLogEvery, and its recovery once
			// (OnApplied).
			if now := time.Now(); m.projFailures.Add(1) == 1 {
				lastLogged = now
				m.log.Error("projector failed; restarting from the checkpoint", "err", err)
			} else if now.Sub(lastLogged) >= failureLogEvery {
				lastLogged = now
				m.log.Error("projector still failing; restarting from the checkpoint every second", "err", err, "failed_runs", m.projFailures.Load())
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
	m.projDone = make(chan struct{})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(m.projDone)
		if m.pool != nil {
			// Which instance projects shows in its log and its metrics; one
			// that finds the lock held says so too, once.
			var took atomic.Bool
			standby := time.AfterFunc(2*time.Second, func() {
				if !took.Load() && ctx.Err() == nil {
					m.log.Info("projector lock held by another instance: this instance serves and takes over if that one stops")
				}
			})
			defer standby.Stop()
			locked := func(ctx context.Context) error {
				if by, _ := m.standsBy(ctx); by {
					took.Store(true) // it stood by, and said so: not "held by another"
					return nil       // the lock goes back: an instance of the read model's catalogue takes it
				}
				took.Store(true)
				m.log.Info("projector lock taken: this instance projects")
				m.metrics.setProjecting(true)
				defer m.metrics.setProjecting(false)
				// The failed runs end with the lock: an instance standing
				// by is no failing projector (/readyz), and a failure after
				// it takes the lock again begins a series, logged as the
				// first, not one muted as a repeat within failureLogEvery.
				defer m.projFailures.Store(0)
				// While it projects, an instance of the read model's catalogue
				// may start: it then projects, and this one stops.
				lctx, cancel := context.WithCancel(ctx)
				defer cancel()
				every := standByEvery // read here: nothing waits for the look's goroutine
				go func() {
					tick := time.NewTicker(every)
					defer tick.Stop()
					for {
						select {
						case <-lctx.Done():
							return
						case <-tick.C:
							if by, _ := m.standsBy(lctx); by {
								cancel()
								return
							}
						}
					}
				}()
				err := run(lctx)
				if cause := context.Cause(lctx); errors.Is(cause, postgres.ErrLockLost) {
					// Not a hand-over: RunExclusive logs the lost lock, with
					// its error, as "projector lock lost".
					return err
				}
				if err != nil {
					m.log.Warn("projector lock released after the projector failed", "err", err)
					return err
				}
				m.log.Info("projector lock released")
				return nil
			}
			postgres.RunExclusive(ctx, m.pool, m.Config.Schema, m.log, time.Second, locked) //nolint:errcheck // returns nil when ctx is done
			return
		}
		m.metrics.setProjecting(true)
		run(ctx) //nolint:errcheck // returns nil when ctx is done
	}()
}

// ready reports whether the log and read model are reachable and the
// projector is caught up within the configured lag.
func (m *Main) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	head, err := m.eventLog.Head(ctx)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "event log unreachable", "error": err.Error()})
		return
	}
	cp, err := m.store.Readable(ctx)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "read model unreachable", "error": err.Error()})
		return
	}
	// The head was read first: events appended and applied since make the
	// checkpoint the later reading of where the log is.
	head = max(head, cp)
	lag := head - cp
	body := map[string]any{"head": head, "checkpoint": cp, "lag": lag}
	// A projector that stalls (a process stopped, a statement hung) with
	// few events behind is behind all the same. One in a bulk catch-up
	// moves its checkpoint, not the readable position, until it reaches
	// the head: that is not a stall.
	stored := cp
	if lag > 0 {
		stored = m.storedCheckpoint(ctx, cp)
	}
	stalled := m.observe(cp, stored, lag)
	if since, people, ok := m.projector.BulkWrite(); ok && lag > 0 {
		// The write that judges everyone at the end of a bulk catch-up
		// moves nothing until it commits (32 s at a million events): a
		// projector busy with it is not stalled, until it has run for
		// longer than --ready-max-write. Only this instance's projector
		// is seen: another instance's /readyz sees the read model alone.
		running := time.Since(since)
		body["writing_people"], body["writing_seconds"] = people, running.Seconds()
		if running <= m.Config.ReadyMaxWrite {
			stalled = 0
		}
	}
	if stalled > 0 {
		body["stalled_seconds"] = stalled.Seconds()
		if m.Config.ReadyMaxStall > 0 && stalled > m.Config.ReadyMaxStall {
			body["status"] = "projector stalled"
			writeJSON(w, http.StatusServiceUnavailable, body)
			return
		}
	}
	// This instance's projector failing (its runs retried once a second)
	// with anything behind is not ready at once, not only once the stall
	// bound has passed.
	if failures := m.projFailures.Load(); failures > 0 && lag > 0 {
		body["status"], body["failed_runs"] = "projector failing", failures
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	if lag > m.Config.ReadyMaxLag {
		body["status"] = "projector behind"
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	active, behind, aerr := m.catalogueBehind(ctx)
	if aerr == nil && behind {
		// Serving, and saying why its answers mix two rule books.
		body["catalogue"] = "older than the read model's: rebuild the read model for it (careerctl rebuild --wait) or start careerd with the read model's catalogue"
		body["catalogue_version"], body["read_model_catalogue_version"] = m.cat.Version(), active.CatalogueVersion
	}
	if aerr == nil && m.formatBehind(active) {
		// A release older than the one that rebuilt the read model.
		body["format"] = "older than the read model's: this release serves it as it is; upgrade it, or rebuild the read model for it (careerctl rebuild --wait)"
		body["read_model_format_version"], body["format_version"] = active.Format, postgres.Format
	}
	if n := m.olderReleases.Load(); n > 0 {
		// Instances of a release before format presences (format 3) never
		// stand by for this format: one holding the projector lock stores
		// its own format's judgments in this read model (counted each
		// second by watchLag, not on every probe: it reads the server's
		// lock table).
		body["older_releases"] = fmt.Sprintf("%d instance(s) of a release of an older read-model format run and may project into this read model by their format's rules: "+
			"once they are all replaced, rebuild the read model (careerctl rebuild --wait) if the catalogue has an evidence window of months or years", n)
	}
	if m.standingBy.Load() {
		// Whatever the versions (a rebuild on request may have gone back to
		// an older catalogue than this instance's): another projects.
		body["projector"] = "stands by: the read model is judged by another catalogue, and an instance with that catalogue projects"
		if aerr == nil && active.CatalogueID == m.cat.ID() && active.CatalogueVersion == m.cat.Version() {
			body["projector"] = "stands by: the read model was built in another format, and an instance of that format projects"
		}
	}
	body["status"] = "ready"
	writeJSON(w, http.StatusOK, body)
}

// standByEvery is how often an instance that projects looks whether an
// instance of the read model's catalogue has started. A variable for tests.
var standByEvery = time.Second

// standsBy reports whether this instance leaves projecting to another: the
// active read model was judged by another catalogue (id or version) than
// this instance's, and an instance with that catalogue runs
// (postgres.CataloguePresent); or by this catalogue in another read-model
// format than this release writes, and an instance of that catalogue and
// format runs (postgres.FormatPresent). Projecting, this instance would
// store levels by its own rules beside those of the read model's, and the
// next rebuild would be the only way back to one rule book. With no such
// instance (every instance rolled back) it projects. It logs when it
// starts and when it stops standing by.
func (m *Main) standsBy(ctx context.Context) (bool, error) {
	if m.pool == nil {
		return false, nil
	}
	active, ok, err := postgres.ReadActive(ctx, m.pool, m.Config.Schema)
	sameCatalogue := active.CatalogueID == m.cat.ID() && active.CatalogueVersion == m.cat.Version()
	if err != nil || !ok || (sameCatalogue && active.Format == postgres.Format) {
		m.noteStandBy(false, active, err)
		return false, err
	}
	var present bool
	if sameCatalogue {
		present, err = postgres.FormatPresent(ctx, m.pool, m.Config.Schema, active.CatalogueID, active.CatalogueVersion, active.Format)
	} else {
		present, err = postgres.CataloguePresent(ctx, m.pool, m.Config.Schema, active.CatalogueID, active.CatalogueVersion)
	}
	m.noteStandBy(present, active, err)
	return present, err
}

// noteStandBy logs a change of whether this instance stands by.
func (m *Main) noteStandBy(by bool, active postgres.Active, err error) {
	if err != nil || m.standingBy.Swap(by) == by {
		return
	}
	if by && active.CatalogueID == m.cat.ID() && active.CatalogueVersion == m.cat.Version() {
		m.log.Warn("the read model was built in another format and an instance of that format runs: that instance projects, this one serves and stands by",
			"catalogue", m.cat.ID(), "version", m.cat.Version(), "format", postgres.Format, "read_model_format", active.Format)
		return
	}
	if by {
		m.log.Warn("the read model is judged by another catalogue and an instance with that catalogue runs: that instance projects, this one serves and stands by",
			"catalogue", m.cat.ID(), "version", m.cat.Version(),
			"read_model_catalogue", active.CatalogueID, "read_model_version", active.CatalogueVersion)
		return
	}
	m.log.Info("no longer standing by: the read model is judged by this instance's catalogue, or no instance with its catalogue runs",
		"catalogue", m.cat.ID(), "version", m.cat.Version(), "format", postgres.Format)
}

// catalogueBehind reports whether the active read model was judged by a
// newer version of this instance's catalogue (another instance's rebuild
// switched to it, or this one started with an older --catalogue): the
// stored levels then follow the newer rules, while every explanation,
// history and knownAt answer this instance evaluates on read follows its
// own. Never with the memory store, which this instance builds itself.
func (m *Main) catalogueBehind(ctx context.Context) (postgres.Active, bool, error) {
	if m.pool == nil {
		return postgres.Active{}, false, nil
	}
	active, ok, err := postgres.ReadActive(ctx, m.pool, m.Config.Schema)
	if err != nil || !ok {
		return active, false, err
	}
	return active, active.CatalogueID == m.cat.ID() && active.CatalogueVersion > m.cat.Version(), nil
}

// formatBehind reports whether active was built by this instance's
// catalogue in a newer read-model format than this release writes (a
// newer release's rebuild switched to it: a rolling upgrade, or a
// rollback).
func (m *Main) formatBehind(active postgres.Active) bool {
	return active.CatalogueID == m.cat.ID() && active.CatalogueVersion == m.cat.Version() && active.Format > postgres.Format
}

// observe notes the read model's readable position (cp), its checkpoint
// (stored) and lag, on this instance's clock, and returns how long the
// read model has been behind the log without either position moving (0
// while it is caught up or moving). /readyz and the lag watch (every
// second) observe. A bulk catch-up (a first start on a long log, a long
// stop) stores events batch by batch and makes them readable only at the
// head, so the readable position alone stood still for as long as it
// took: past --ready-max-stall (30 s; a million events took 54 s) /readyz
// said "projector stalled" of a projector busy catching up.
func (m *Main) observe(cp, stored, lag uint64) time.Duration {
	m.progressMu.Lock()
	defer m.progressMu.Unlock()
	now := time.Now()
	if lag == 0 || cp != m.progressCP || stored != m.progressStored || m.progressAt.IsZero() {
		m.progressCP, m.progressStored, m.progressAt = cp, stored, now
		return 0
	}
	return now.Sub(m.progressAt)
}

// storedCheckpoint is the read model's checkpoint: the events it stored,
// readable or not yet. When the read model does not answer in time it is
// the checkpoint last observed (lastStored): a read that failed is no
// news, where taking cp for it moved the checkpoint twice (to cp, then
// back at the next read that answered), and a stalled bulk catch-up on a
// slow read model never came out stalled.
func (m *Main) storedCheckpoint(ctx context.Context, cp uint64) uint64 {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	stored, err := m.store.Checkpoint(ctx)
	if err != nil {
		return m.lastStored(cp)
	}
	return stored
}

// lastStored is the checkpoint last observed, or cp, the readable
// position, when none was or it is behind cp (a checkpoint is never
// behind the readable position).
func (m *Main) lastStored(cp uint64) uint64 {
	m.progressMu.Lock()
	defer m.progressMu.Unlock()
	return max(m.progressStored, cp)
}

// watchLag exports how far the read model trails the log, in events and in
// the age of the oldest event not yet applied.
func (m *Main) watchLag(ctx context.Context) {
	// known is the read model's last readable position this watch could
	// read: while the read model does not answer (a lock held on it, a
	// stalled database) the lag grows from there rather than stand still.
	known, haveKnown := uint64(0), false
	m.every(ctx, time.Second, func(ctx context.Context) {
		hctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
		defer cancel()
		head, err := m.eventLog.Head(hctx)
		if err != nil {
			return
		}
		m.metrics.head.Set(float64(head))
		actx, acancel := context.WithTimeout(ctx, 500*time.Millisecond)
		if active, behind, err := m.catalogueBehind(actx); err == nil {
			v, f := 0.0, 0.0
			if behind {
				v = 1
			}
			if m.formatBehind(active) {
				f = 1
			}
			m.metrics.catalogueBehind.Set(v)
			m.metrics.formatBehind.Set(f)
			older := 0
			if active.CatalogueID == m.cat.ID() && active.CatalogueVersion == m.cat.Version() && active.Format == postgres.Format && m.pool != nil {
				if n, err := postgres.OlderReleasesPresent(actx, m.pool, m.Config.Schema, m.cat.ID(), m.cat.Version()); err == nil {
					older = n
				}
			}
			m.olderReleases.Store(int64(older))
		}
		acancel()
		rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		cp, err := m.store.Readable(rctx)
		rcancel()
		read := err == nil
		switch {
		case read:
			known, haveKnown = cp, true
		case haveKnown:
			cp = known
		default:
			return
		}
		m.metrics.readModelAt(cp)
		if head <= cp {
			m.observe(cp, cp, 0)
			m.metrics.lag.Set(0)
			m.metrics.lagAge.Set(0)
			return
		}
		m.metrics.lag.Set(float64(head - cp))
		if oldest, err := m.eventLog.HeaderAt(hctx, cp+1); err == nil {
			m.metrics.lagAge.Set(m.now().Sub(oldest.RecordedAt).Seconds())
		}
		// After the metrics: a read model that did not answer is not
		// asked again (its checkpoint taken as last observed).
		stored := m.lastStored(cp)
		if read {
			stored = m.storedCheckpoint(ctx, cp)
		}
		m.observe(cp, stored, head-cp)
	})
}

// every calls fn every d, on a goroutine Close waits for, until ctx is done.
func (m *Main) every(ctx context.Context, d time.Duration, fn func(ctx context.Context)) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(ctx)
			}
		}
	}()
}

// Close shuts down gracefully: stop accepting, finish in-flight requests,
// stop the projector (a batch in flight rolls back, or commits and is
// published; the next start publishes again what it cannot tell), then
// close the bus, the log and stores.
func (m *Main) Close() error {
	var err error
	m.closeOnce.Do(func() {
		m.closing.Store(true)
		said := m.log != nil && !m.failed.Load()
		if said {
			m.log.Info("careerd stopping: finishing requests in flight, then the projector's batch")
		}
		timeout := m.Config.ShutdownTimeout
		if timeout <= 0 {
			timeout = 20 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if m.server != nil {
			err = m.server.Shutdown(ctx)
		}
		if m.cancel != nil {
			m.cancel()
		}
		if m.projDone != nil {
			// The projector's last batch publishes its level changes on
			// the bus before the bus closes.
			select {
			case <-m.projDone:
			case <-ctx.Done():
			}
		}
		if m.websockets != nil {
			// After the projector's last batch, so that subscribers get its
			// level changes; with 1001 Going Away, so that they reconnect.
			if werr := m.websockets.Shutdown(ctx); werr != nil && err == nil {
				err = werr
			}
		}
		if m.bus != nil {
			m.bus.Close() //nolint:errcheck // shutting down; the router logs its own errors
		}
		m.wg.Wait()
		if m.nc != nil {
			if derr := m.nc.Drain(); derr != nil && err == nil {
				err = derr
			}
		}
		// Drain returns before the connection closes: wait (a while) for
		// every connection's closed handler, so that each logs its close.
		closed := make(chan struct{})
		go func() { m.natsOpen.Wait(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
		}
		if m.pool != nil {
			m.pool.Close()
		}
		if m.embedded != nil {
			m.embedded.Shutdown()
		}
		if m.dataDirLock != nil {
			m.dataDirLock.Close() // releases the lock, after the server has written its last
		}
		if said {
			m.log.Info("careerd stopped")
		}
	})
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}

// compressedResponses is compressed's wrapper: gzip at its fastest level
// (a daily trend of a year, 2 MB of JSON, is about a tenth of that and
// costs milliseconds to compress), for answers of 1 KB and more to clients
// that accept it.
var compressedResponses = func() func(http.Handler) http.HandlerFunc {
	w, err := gzhttp.NewWrapper(gzhttp.MinSize(1024), gzhttp.CompressionLevel(gzip.BestSpeed), gzhttp.EnableZstd(false))
	if err != nil {
		panic(err) // the options are constants
	}
	return w
}()

// compressed gzips h's answers for clients that accept it (every HTTP
// client library and browser, careerctl included, asks and decompresses
// without being told), except a websocket upgrade's, which is not an
// answer but a connection.
func compressed(h http.Handler) http.Handler {
	z := compressedResponses(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			h.ServeHTTP(w, r)
			return
		}
		z.ServeHTTP(w, r)
	})
}

// devTokenTTL is how long the admin token --dev prints lives: 30 days, or
// the maximum token lifetime when that is shorter (a longer one would be
// refused).
func devTokenTTL(maxLifetime time.Duration) time.Duration {
	const ttl = 30 * 24 * time.Hour
	if maxLifetime > 0 && maxLifetime < ttl {
		return maxLifetime
	}
	return ttl
}
