package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/careerledger/careerledger/projections"
)

// Config is careerd's whole configuration. Every flag can also be set by an
// environment variable; flags win.
type Config struct {
	HTTPAddr        string
	NATSURL         string
	NATSListen      string
	DatabaseURL     string
	DataDir         string
	AuthSecret      string
	Dev             bool
	Catalogue       string
	Stream          string
	SubjectPrefix   string
	Replicas        int
	DuplicateWindow time.Duration
	SyncInterval    time.Duration
	Schema          string
	ReadyMaxLag     uint64
	ProjectorCache  int
	RYWTimeout      time.Duration
	ShutdownTimeout time.Duration
	LogLevel        string
}

type envFlag struct {
	name, env, usage string
}

// ParseConfig reads flags from args with defaults from getenv.
func ParseConfig(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("careerd", flag.ContinueOnError)
	var c Config
	str := func(p *string, f envFlag, def string) {
		if v := getenv(f.env); v != "" {
			def = v
		}
		fs.StringVar(p, f.name, def, f.usage+" ($"+f.env+")")
	}
	var errs []string
	dur := func(p *time.Duration, f envFlag, def time.Duration) {
		if v := getenv(f.env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("$%s: %v", f.env, err))
			}
			def = d
		}
		fs.DurationVar(p, f.name, def, f.usage+" ($"+f.env+")")
	}
	num := func(p *int, f envFlag, def int) {
		if v := getenv(f.env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("$%s: %v", f.env, err))
			}
			def = n
		}
		fs.IntVar(p, f.name, def, f.usage+" ($"+f.env+")")
	}
	str(&c.HTTPAddr, envFlag{"http-addr", "CAREER_HTTP_ADDR", "where the API listens"}, "127.0.0.1:8080")
	str(&c.NATSURL, envFlag{"nats-url", "NATS_URL", "NATS server with JetStream; empty = embedded in-process server"}, "")
	str(&c.NATSListen, envFlag{"nats-listen", "CAREER_NATS_LISTEN", "embedded server: also listen for NATS clients here (host:port); empty = no TCP port"}, "")
	str(&c.DatabaseURL, envFlag{"database-url", "DATABASE_URL", "PostgreSQL for the read models; empty = in-memory read models rebuilt from the log"}, "")
	str(&c.DataDir, envFlag{"data-dir", "CAREER_DATA_DIR", "embedded JetStream storage"}, "./data")
	str(&c.AuthSecret, envFlag{"auth-secret", "CAREER_AUTH_SECRET", "HMAC key for bearer tokens; empty = refuse to start unless --dev"}, "")
	dev := getenv("CAREER_DEV")
	fs.BoolVar(&c.Dev, "dev", dev == "1" || strings.EqualFold(dev, "true"), "development mode: admin token printed, GraphiQL and introspection on ($CAREER_DEV)")
	str(&c.Catalogue, envFlag{"catalogue", "CAREER_CATALOGUE", "catalogue file; empty = built-in ITSS Operations catalogue"}, "")
	str(&c.Stream, envFlag{"stream", "CAREER_STREAM", "JetStream stream name"}, "CAREER")
	str(&c.SubjectPrefix, envFlag{"subject-prefix", "CAREER_SUBJECT_PREFIX", "subject prefix of the per-person subjects"}, "career.person")
	num(&c.Replicas, envFlag{"replicas", "CAREER_REPLICAS", "stream replicas (3 in a cluster)"}, 1)
	dur(&c.DuplicateWindow, envFlag{"duplicate-window", "CAREER_DUPLICATE_WINDOW", "JetStream duplicate window for idempotency keys"}, 2*time.Minute)
	dur(&c.SyncInterval, envFlag{"sync-interval", "CAREER_SYNC_INTERVAL", "embedded server fsync interval; 0 = sync every write"}, 0)
	str(&c.Schema, envFlag{"schema", "CAREER_SCHEMA", "PostgreSQL schema of the read models"}, "careerledger")
	var lag int
	num(&lag, envFlag{"ready-max-lag", "CAREER_READY_MAX_LAG", "events the projector may be behind the log and still be ready"}, 1000)
	num(&c.ProjectorCache, envFlag{"projector-cache", "CAREER_PROJECTOR_CACHE",
		"people the projector keeps folded between batches (the rest are loaded from the read model when they appear); 0 = no bound"},
		projections.DefaultMaxCached)
	dur(&c.RYWTimeout, envFlag{"read-your-writes-timeout", "CAREER_RYW_TIMEOUT", "how long a mutation waits for the read model"}, 10*time.Second)
	dur(&c.ShutdownTimeout, envFlag{"shutdown-timeout", "CAREER_SHUTDOWN_TIMEOUT", "how long a graceful shutdown may take"}, 20*time.Second)
	str(&c.LogLevel, envFlag{"log-level", "CAREER_LOG_LEVEL", "debug, info, warn or error"}, "info")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	if lag < 0 {
		return c, fmt.Errorf("--ready-max-lag must be >= 0")
	}
	c.ReadyMaxLag = uint64(lag)
	if c.ProjectorCache < 0 {
		return c, fmt.Errorf("--projector-cache must be >= 0 (0 = no bound)")
	}
	if c.AuthSecret == "" && !c.Dev {
		return c, fmt.Errorf("--auth-secret ($CAREER_AUTH_SECRET) is required unless --dev")
	}
	if c.Replicas < 1 {
		return c, fmt.Errorf("--replicas must be >= 1")
	}
	return c, nil
}

// Masked returns the configuration as printable key/value pairs with
// secrets masked.
func (c Config) Masked() []any {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "********"
	}
	return []any{
		"http_addr", c.HTTPAddr, "nats_url", maskURL(c.NATSURL), "nats_listen", c.NATSListen,
		"database_url", maskURL(c.DatabaseURL), "data_dir", c.DataDir, "auth_secret", mask(c.AuthSecret),
		"dev", c.Dev, "catalogue", c.Catalogue, "stream", c.Stream, "subject_prefix", c.SubjectPrefix, "replicas", c.Replicas,
		"duplicate_window", c.DuplicateWindow.String(), "sync_interval", c.SyncInterval.String(), "schema", c.Schema,
		"ready_max_lag", c.ReadyMaxLag, "projector_cache", c.ProjectorCache, "read_your_writes_timeout", c.RYWTimeout.String(),
		"shutdown_timeout", c.ShutdownTimeout.String(), "log_level", c.LogLevel,
	}
}

// maskURL hides a password in a URL's user info.
func maskURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	userinfo := u[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return u[:scheme+3] + user + ":********" + u[at:]
	}
	return u
}

// maxCached is Projector.MaxCached for --projector-cache (0: no bound).
func (c Config) maxCached() int {
	if c.ProjectorCache == 0 {
		return -1
	}
	return c.ProjectorCache
}
