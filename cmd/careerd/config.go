package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/careerledger/careerledger/domain"

	"github.com/careerledger/careerledger/cmd/internal/secrets"
	"github.com/careerledger/careerledger/graph"
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
	// ReadyMaxStall bounds how long /readyz tolerates a projector behind
	// the log that applies nothing (0: no bound).
	ReadyMaxStall time.Duration
	// ReadyMaxWrite bounds how long the write of the people a bulk
	// catch-up judges at its head (one transaction) counts as progress
	// for ReadyMaxStall (0: never).
	ReadyMaxWrite  time.Duration
	ProjectorCache int
	RYWTimeout     time.Duration
	RequestTimeout time.Duration
	// BodyReadTimeout and ImportReadTimeout bound how long a request's
	// body may take to arrive, on /graphql and on /v1/import.
	BodyReadTimeout   time.Duration
	ImportReadTimeout time.Duration
	// SelfAssessment lets an employee record theme assessments of
	// themselves (the contract's default); off, only managers and hr do.
	SelfAssessment  bool
	ShutdownTimeout time.Duration
	LogLevel        string
	// TimeZone names where "today" is: the date a new record may not pass,
	// and the default asOf of queries.
	TimeZone string
	// MaxTokenLifetime bounds how long a bearer token may live, from now
	// and from its iat (0: no bound).
	MaxTokenLifetime time.Duration
}

type envFlag struct {
	name, env, usage string
}

// DefaultMaxTokenLifetime is --max-token-lifetime's default, 400 days: far
// above the tokens careerctl (24h) and careerd --dev (30 days) mint, and
// above a year's, so that the tokens deployments use keep working, while a
// token minted to last for years does not.
const DefaultMaxTokenLifetime = 400 * 24 * time.Hour

// DefaultReadyMaxWrite is --ready-max-write's default: ten times the 32 s
// the write at the head of a bulk catch-up took at a million events over
// 100,000 people on the benchmark VM.
const DefaultReadyMaxWrite = 5 * time.Minute

// usageOutput is where -h and flag errors are printed.
var usageOutput io.Writer = os.Stderr

// ParseConfig reads flags from args with defaults from getenv.
func ParseConfig(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("careerd", flag.ContinueOnError)
	// The flag package prints its own error and then the whole usage on a
	// value it cannot parse, which buries the one line that matters: -h
	// prints the usage below, and a bad value is the error returned alone.
	fs.SetOutput(io.Discard)
	var c Config
	// envOf is each flag's variable, for the errors.
	envOf := map[string]string{}
	// bad is the value a flag refused (the flag package keeps only its
	// message, prefixed with its own words).
	var bad *badValueError
	str := func(p *string, f envFlag, def string) {
		if v := getenv(f.env); v != "" {
			def = v
		}
		fs.StringVar(p, f.name, def, f.usage+" ($"+f.env+")")
	}
	// secret is str for a value that may hold a credential: -h shows its
	// default (from the environment) masked.
	secret := func(p *string, f envFlag, def string, mask func(string) string) {
		if v := getenv(f.env); v != "" {
			def = v
		}
		*p = def
		fs.Var(maskedValue{P: p, Mask: mask}, f.name, f.usage+" ($"+f.env+")")
	}
	var errs []string
	// envErrs are the variables whose values do not parse, by the flag
	// they set: an error unless the flag is given (flags win).
	envErrs := map[string]string{}
	var durations []envFlag
	dur := func(p *time.Duration, f envFlag, def time.Duration) {
		if v := getenv(f.env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				envErrs[f.name] = fmt.Sprintf("$%s (--%s): %q %s", f.env, f.name, v, ruleDuration)
			}
			def = d
		}
		fs.DurationVar(p, f.name, def, f.usage+" ($"+f.env+")")
		durations = append(durations, f)
	}
	num := func(p *int, f envFlag, def int) {
		if v := getenv(f.env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				envErrs[f.name] = fmt.Sprintf("$%s (--%s): %q %s", f.env, f.name, v, ruleInt)
			}
			def = n
		}
		fs.IntVar(p, f.name, def, f.usage+" ($"+f.env+")")
	}
	str(&c.HTTPAddr, envFlag{"http-addr", "CAREER_HTTP_ADDR", "where the API listens"}, "127.0.0.1:8080")
	secret(&c.NATSURL, envFlag{"nats-url", "NATS_URL", "NATS server with JetStream; empty = embedded in-process server"}, "", maskURL)
	str(&c.NATSListen, envFlag{"nats-listen", "CAREER_NATS_LISTEN", "embedded server: also listen for NATS clients here (host:port); empty = no TCP port"}, "")
	secret(&c.DatabaseURL, envFlag{"database-url", "DATABASE_URL", "PostgreSQL for the read models; empty = in-memory read models rebuilt from the log"}, "", maskURL)
	str(&c.DataDir, envFlag{"data-dir", "CAREER_DATA_DIR", "embedded JetStream storage"}, "./data")
	secret(&c.AuthSecret, envFlag{"auth-secret", "CAREER_AUTH_SECRET", "HMAC key for bearer tokens; empty = refuse to start unless --dev"}, "", maskAll)
	dur(&c.MaxTokenLifetime, envFlag{"max-token-lifetime", "CAREER_MAX_TOKEN_LIFETIME",
		"longest a bearer token may live: one expiring later than this from now, or from its iat, is refused (401); 0 = no bound"}, DefaultMaxTokenLifetime)
	dev := false
	if v := getenv("CAREER_DEV"); v != "" {
		var err error
		if dev, err = strconv.ParseBool(v); err != nil {
			envErrs["dev"] = fmt.Sprintf("$CAREER_DEV (--dev): %q %s", v, ruleBool)
		}
	}
	fs.BoolVar(&c.Dev, "dev", dev, "development mode: admin token printed, GraphiQL and introspection on ($CAREER_DEV)")
	str(&c.Catalogue, envFlag{"catalogue", "CAREER_CATALOGUE", "catalogue file; empty = built-in ITSS Operations catalogue"}, "")
	str(&c.Stream, envFlag{"stream", "CAREER_STREAM", "JetStream stream name"}, "CAREER")
	str(&c.SubjectPrefix, envFlag{"subject-prefix", "CAREER_SUBJECT_PREFIX", "subject prefix of the per-person subjects"}, "career.person")
	num(&c.Replicas, envFlag{"replicas", "CAREER_REPLICAS", "stream replicas (3 in a cluster)"}, 1)
	dur(&c.DuplicateWindow, envFlag{"duplicate-window", "CAREER_DUPLICATE_WINDOW", "JetStream duplicate window for idempotency keys"}, 2*time.Minute)
	dur(&c.SyncInterval, envFlag{"sync-interval", "CAREER_SYNC_INTERVAL", "embedded server fsync interval; 0 = sync every write"}, 0)
	str(&c.Schema, envFlag{"schema", "CAREER_SCHEMA", "PostgreSQL schema of the read models"}, "careerledger")
	var lag int
	num(&lag, envFlag{"ready-max-lag", "CAREER_READY_MAX_LAG", "events the projector may be behind the log and still be ready"}, 1000)
	dur(&c.ReadyMaxStall, envFlag{"ready-max-stall", "CAREER_READY_MAX_STALL",
		"how long the projector may be behind the log without applying anything and the instance still be ready; 0 = no bound"}, 30*time.Second)
	dur(&c.ReadyMaxWrite, envFlag{"ready-max-write", "CAREER_READY_MAX_WRITE",
		"how long the one write that judges everyone at the end of a bulk catch-up (32 s at a million events) counts as progress for --ready-max-stall; past it, a write still running is a stall; 0 = never"}, DefaultReadyMaxWrite)
	num(&c.ProjectorCache, envFlag{"projector-cache", "CAREER_PROJECTOR_CACHE",
		"people the projector keeps folded between batches (the rest are loaded from the read model when they appear); 0 = no bound"},
		projections.DefaultMaxCached)
	dur(&c.RYWTimeout, envFlag{"read-your-writes-timeout", "CAREER_RYW_TIMEOUT", "how long a mutation waits for the read model"}, 10*time.Second)
	dur(&c.RequestTimeout, envFlag{"request-timeout", "CAREER_REQUEST_TIMEOUT", "how long a GraphQL query or mutation may take, over HTTP or a websocket (subscriptions excepted); 0 = 60s"}, 60*time.Second)
	dur(&c.BodyReadTimeout, envFlag{"body-read-timeout", "CAREER_BODY_READ_TIMEOUT",
		"how long a /graphql request's body may take to arrive (408 past it, nothing recorded); 0 = 30s"}, graph.DefaultBodyRead)
	dur(&c.ImportReadTimeout, envFlag{"import-read-timeout", "CAREER_IMPORT_READ_TIMEOUT",
		"how long a /v1/import request's body (at most 32 MiB) may take to arrive (408 past it, nothing recorded); 0 = 5m"}, graph.DefaultImportBodyRead)
	selfAssessment := true
	if v := getenv("CAREER_SELF_ASSESSMENT"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			envErrs["self-assessment"] = fmt.Sprintf("$CAREER_SELF_ASSESSMENT (--self-assessment): %q %s", v, ruleBool)
		}
		selfAssessment = b
	}
	fs.BoolVar(&c.SelfAssessment, "self-assessment", selfAssessment,
		"an employee may record theme assessments of themselves; false = only their manager or hr ($CAREER_SELF_ASSESSMENT)")
	dur(&c.ShutdownTimeout, envFlag{"shutdown-timeout", "CAREER_SHUTDOWN_TIMEOUT", "how long a graceful shutdown may take"}, 20*time.Second)
	str(&c.LogLevel, envFlag{"log-level", "CAREER_LOG_LEVEL", "debug, info, warn or error"}, "info")
	str(&c.TimeZone, envFlag{"time-zone", "CAREER_TIME_ZONE", "IANA time zone of \"today\" (no date after today is accepted; queries default to today), e.g. Asia/Tokyo"}, "UTC")
	fs.VisitAll(func(f *flag.Flag) {
		if i := strings.LastIndex(f.Usage, "($"); i >= 0 && strings.HasSuffix(f.Usage, ")") {
			envOf[f.Name] = f.Usage[i+2 : len(f.Usage)-1]
		}
		f.Value = &checkedValue{Value: f.Value, flag: f.Name, env: envOf[f.Name], bad: &bad}
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			// The usage names each flag's kind from its own value.
			fs.VisitAll(func(f *flag.Flag) { f.Value = f.Value.(*checkedValue).Value })
			fs.SetOutput(usageOutput)
			fmt.Fprintln(usageOutput, "Usage of careerd (every flag can also be set by the variable named with it; flags win):")
			fs.PrintDefaults()
			return c, err
		}
		if bad != nil {
			return c, bad
		}
		return c, fmt.Errorf("%w (careerd -h lists the flags)", err)
	}
	if fs.NArg() > 0 {
		// careerd takes flags only: a stray word (a flag's value given after
		// a space where it takes none, "--dev false") would otherwise be
		// ignored, and careerd start on its defaults.
		return c, fmt.Errorf("unexpected argument %q: careerd takes flags only (careerd -h)", fs.Arg(0))
	}
	// A flag on the command line wins over its variable, even one that
	// does not parse; the others are reported by flag name.
	fs.Visit(func(f *flag.Flag) { delete(envErrs, f.Name) })
	fs.VisitAll(func(f *flag.Flag) {
		if e, ok := envErrs[f.Name]; ok {
			errs = append(errs, e)
		}
	})
	for _, f := range durations {
		if d := fs.Lookup(f.name).Value.(flag.Getter).Get().(time.Duration); d < 0 {
			errs = append(errs, fmt.Sprintf("--%s ($%s) must not be negative, not %s", f.name, f.env, d))
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	if lag < 0 {
		return c, fmt.Errorf("--ready-max-lag ($CAREER_READY_MAX_LAG) must be >= 0, not %d", lag)
	}
	c.ReadyMaxLag = uint64(lag)
	if err := checkListenAddr(c.HTTPAddr, false); err != nil {
		return c, fmt.Errorf("--http-addr ($CAREER_HTTP_ADDR) %w", err)
	}
	if err := checkListenAddr(c.NATSListen, true); err != nil {
		return c, fmt.Errorf("--nats-listen ($CAREER_NATS_LISTEN) %w", err)
	}
	if c.ProjectorCache < 0 {
		return c, fmt.Errorf("--projector-cache ($CAREER_PROJECTOR_CACHE) must be >= 0 (0 = no bound), not %d", c.ProjectorCache)
	}
	if _, err := logLevel(c.LogLevel); err != nil {
		return c, err
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" || c.TimeZone == "Local" {
		return c, fmt.Errorf("--time-zone ($CAREER_TIME_ZONE) must name an IANA time zone such as UTC or Asia/Tokyo, not %q", c.TimeZone)
	}
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		return c, err
	}
	if c.AuthSecret == "" && !c.Dev {
		return c, fmt.Errorf("--auth-secret ($CAREER_AUTH_SECRET) is required unless --dev")
	}
	if c.DuplicateWindow == 0 {
		// JetStream takes a window of 0 for its default, 2 minutes: "0"
		// would start careerd on a window it does not say, never "none".
		return c, fmt.Errorf("--duplicate-window ($CAREER_DUPLICATE_WINDOW) must be more than 0 (JetStream takes 0 for its default, 2m: there is no turning the window off), not 0s")
	}
	if c.Replicas < 1 {
		return c, fmt.Errorf("--replicas ($CAREER_REPLICAS) must be >= 1, not %d", c.Replicas)
	}
	if c.Replicas > 1 && c.NATSURL == "" {
		// NATS's own refusal came only once the log was opened, naming
		// neither the flag nor the embedded server.
		return c, fmt.Errorf("--replicas ($CAREER_REPLICAS) must be 1 with the embedded server (no --nats-url), which is one server, not %d: replicas need a NATS cluster given by --nats-url", c.Replicas)
	}
	// Empty is the default, here as in the log, so that the level changes'
	// subjects (derivedPrefix) follow the subjects the log writes.
	if c.Stream == "" {
		c.Stream = "CAREER"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "career.person"
	}
	if c.Schema == "" {
		c.Schema = "careerledger"
	}
	if err := checkSchemaName(c.Schema); err != nil {
		return c, fmt.Errorf("--schema ($CAREER_SCHEMA) %w", err)
	}
	if strings.ContainsAny(c.Stream, ".*>/\\ \t\r\n\f") {
		return c, fmt.Errorf("--stream ($CAREER_STREAM) must be a JetStream stream name, without '.', '*', '>', '/', '\\' or spaces, not %q", c.Stream)
	}
	if !validSubjectPrefix(c.SubjectPrefix) {
		return c, fmt.Errorf("--subject-prefix ($CAREER_SUBJECT_PREFIX) must be NATS subject tokens joined by '.' (none empty, no '*', '>' or spaces), such as career.person, not %q", c.SubjectPrefix)
	}
	// A catalogue careerd cannot read or use is a bad setting, refused
	// here (status 2) as the others are, not a start that failed.
	if _, err := loadCatalogue(c.Catalogue); err != nil {
		return c, err
	}
	return c, nil
}

// loadCatalogue reads and parses the catalogue file path (""= the built-in
// one). Its errors are settingErrors naming --catalogue, its variable and
// the file.
func loadCatalogue(path string) (*domain.Catalogue, error) {
	if path == "" {
		return domain.DefaultCatalogue(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &settingError{fmt.Errorf("--catalogue ($CAREER_CATALOGUE) must name a catalogue file careerd can read: %w", err)}
	}
	cat, err := domain.ParseCatalogue(data)
	if err != nil {
		return nil, &settingError{fmt.Errorf("--catalogue ($CAREER_CATALOGUE) %s must be a valid catalogue: %w", path, err)}
	}
	return cat, nil
}

// settingError is a setting careerd refuses when Run finds it unusable
// (a --catalogue file changed or removed since ParseConfig read it, say):
// careerd exits with status 2, as for the settings ParseConfig refuses,
// not 1, a start that failed.
type settingError struct{ err error }

func (e *settingError) Error() string { return e.err.Error() }
func (e *settingError) Unwrap() error { return e.err }

// The rules a flag's value breaks, in the errors of both its sources.
const (
	ruleDuration = "is not a duration (such as 30s, 2m or 1h30m)"
	ruleInt      = "is not a whole number"
	ruleBool     = "is not true or false (1, t, TRUE, 0, f, FALSE...)"
)

// badValueError is a flag given on the command line with a value of the
// wrong kind: it names the flag, its variable, the value and the rule,
// where the flag package says only "parse error".
type badValueError struct {
	flag, env, value, rule string
}

func (e *badValueError) Error() string {
	return fmt.Sprintf("--%s ($%s): %q %s", e.flag, e.env, e.value, e.rule)
}

// checkedValue is a flag's value that fails with a badValueError.
type checkedValue struct {
	flag.Value
	flag, env string
	bad       **badValueError
}

func (v *checkedValue) Set(s string) error {
	err := v.Value.Set(s)
	if err == nil {
		return nil
	}
	rule := "is not a value it takes: " + err.Error()
	var kind any
	if g, ok := v.Value.(flag.Getter); ok {
		kind = g.Get()
	}
	switch kind.(type) {
	case time.Duration:
		rule = ruleDuration
	case int:
		rule = ruleInt
	case bool:
		rule = ruleBool
	}
	*v.bad = &badValueError{flag: v.flag, env: v.env, value: s, rule: rule}
	return *v.bad
}

// Get and IsBoolFlag are the wrapped value's: the flag package asks them
// of a boolean flag (--dev takes no value) and ParseConfig of a duration.
func (v *checkedValue) Get() any {
	if g, ok := v.Value.(flag.Getter); ok {
		return g.Get()
	}
	return v.Value.String()
}

func (v *checkedValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// checkListenAddr refuses an address to listen on that is no host:port
// (a bare port such as 8080, a URL): found here it is a usage error naming
// the flag, where the listen at start fails only after the log is opened.
// An empty one is allowed where it means "none".
func checkListenAddr(addr string, emptyOK bool) error {
	if addr == "" && emptyOK {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("must be host:port to listen on (such as 127.0.0.1:8080 or :8080), not %q", addr)
	}
	return nil
}

// checkSchemaName refuses a read model's name that would name a schema
// other than the one meant: spaces around it ("careerledger " is another
// schema, built anew from the whole log beside the real one) or a control
// character.
func checkSchemaName(name string) error {
	if strings.TrimSpace(name) != name || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Errorf("must name a PostgreSQL schema, without spaces around it or control characters, not %q", name)
	}
	// PostgreSQL cuts a longer name at 63 bytes without an error: two
	// read models whose names differ after that would share one schema.
	if len(name) > maxSchemaName {
		return fmt.Errorf("must be at most %d bytes (PostgreSQL cuts a longer name, and read models named alike up to there would share a schema), not %d: %q", maxSchemaName, len(name), name)
	}
	return nil
}

// validSubjectPrefix reports whether p can begin the log's subjects
// (p.<personId>): tokens joined by dots, none empty, with no wildcard or
// white space (an empty one is the default by then). NATS refuses any other as
// "invalid subject" only once careerd opens the log, an error that named
// neither the flag nor the value.
func validSubjectPrefix(p string) bool {
	for _, tok := range strings.Split(p, ".") {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
			return false
		}
	}
	return true
}

// checkDatabaseURL refuses a --database-url that PostgreSQL's client cannot
// read (a usage error, before anything starts); one it reads but cannot
// reach is found at start. The error quotes the setting masked.
func checkDatabaseURL(u string) error {
	if u == "" {
		return nil
	}
	if err := secrets.ConnectionStringError(u); err != nil {
		return fmt.Errorf("--database-url ($DATABASE_URL) %q is not a PostgreSQL connection string careerd can use "+
			"(postgres://user:password@host:5432/dbname?sslmode=..., or host=... dbname=... key=value pairs): %s", maskURL(u), err)
	}
	return nil
}

// maskedValue, maskURL and redact are the secrets package's (careerctl
// masks the same $DATABASE_URL alike).
type maskedValue = secrets.MaskedValue

var (
	maskURL = secrets.MaskURL
	redact  = secrets.Redact
)

// maskAll hides a secret whole.
func maskAll(s string) string {
	if s == "" {
		return ""
	}
	return "********"
}

// Masked returns the configuration as printable key/value pairs with
// secrets masked: the settings that apply only. The embedded server's
// (--data-dir, --nats-listen, --sync-interval) are left out with
// --nats-url, where none runs (Run warns of those given anyway), and
// --schema without --database-url, where the read models are in memory.
// Before, the start's record showed a data_dir that nothing used.
func (c Config) Masked() []any {
	mask := maskAll
	out := []any{"http_addr", c.HTTPAddr, "nats_url", maskURL(c.NATSURL)}
	if c.NATSURL == "" {
		out = append(out, "nats_listen", c.NATSListen, "data_dir", c.DataDir)
	}
	out = append(out, "database_url", maskURL(c.DatabaseURL), "auth_secret", mask(c.AuthSecret),
		"max_token_lifetime", c.MaxTokenLifetime.String(),
		"dev", c.Dev, "catalogue", c.Catalogue, "stream", c.Stream, "subject_prefix", c.SubjectPrefix, "replicas", c.Replicas,
		"duplicate_window", c.DuplicateWindow.String())
	if c.NATSURL == "" {
		out = append(out, "sync_interval", c.SyncInterval.String())
	}
	if c.DatabaseURL != "" {
		out = append(out, "schema", c.Schema)
	}
	return append(out,
		"ready_max_lag", c.ReadyMaxLag, "ready_max_stall", c.ReadyMaxStall.String(), "ready_max_write", c.ReadyMaxWrite.String(), "projector_cache", c.ProjectorCache, "read_your_writes_timeout", c.RYWTimeout.String(),
		"request_timeout", c.RequestTimeout.String(), "body_read_timeout", c.BodyReadTimeout.String(),
		"import_read_timeout", c.ImportReadTimeout.String(), "self_assessment", c.SelfAssessment,
		"shutdown_timeout", c.ShutdownTimeout.String(), "log_level", c.LogLevel, "time_zone", c.TimeZone,
	)
}

// maxCached is Projector.MaxCached for --projector-cache (0: no bound).
func (c Config) maxCached() int {
	if c.ProjectorCache == 0 {
		return -1
	}
	return c.ProjectorCache
}

// logLevel is --log-level's level.
func logLevel(s string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo, fmt.Errorf("--log-level ($CAREER_LOG_LEVEL) must be debug, info, warn or error, not %q", s)
	}
	return level, nil
}
