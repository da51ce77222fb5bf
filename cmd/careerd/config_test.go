package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph"
)

// TestDerivedEventsFollowTheSubjectPrefix: two deployments on one NATS
// server have their own level-change subjects, apart from their logs'.
func TestDerivedEventsFollowTheSubjectPrefix(t *testing.T) {
	for prefix, want := range map[string]string{
		"career.person": "career.derived", // the default, as before
		"acme.person":   "acme.derived",
		"hr.people":     "hr.people-derived",
		"people":        "people-derived",
		".person":       ".person-derived",
	} {
		got := derivedPrefix(prefix)
		if got != want {
			t.Errorf("derivedPrefix(%q) = %q, want %q", prefix, got, want)
		}
		if strings.HasPrefix(got+".", prefix+".") {
			t.Errorf("derivedPrefix(%q) = %q lies under the log's subjects", prefix, got)
		}
	}
	// An empty prefix or stream is the default, for the level changes too.
	empty, err := ParseConfig([]string{"--dev", "--subject-prefix", "", "--stream", ""}, func(string) string { return "" })
	if err != nil || empty.SubjectPrefix != "career.person" || empty.Stream != "CAREER" || derivedPrefix(empty.SubjectPrefix) != "career.derived" {
		t.Errorf("empty --subject-prefix and --stream: %q, %q, %v; want the defaults, and level changes on career.derived", empty.SubjectPrefix, empty.Stream, err)
	}
	cfg := baseConfig(t)
	cfg.SubjectPrefix = "optrial.person"
	m := start(t, cfg)
	if got, want := m.bus.Topic(), "optrial.derived.level-changed"; got != want {
		t.Errorf("the bus publishes on %q, want %q", got, want)
	}
}

// TestCredentialsAreNeverPrinted: the addresses and the key careerd is
// given are masked in -h, in the configuration it logs and in its errors.
func TestCredentialsAreNeverPrinted(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://postgres:Pa55word@db:5432/career?sslmode=disable":      "postgres://postgres:********@db:5432/career?sslmode=disable",
		"postgres://db:5432/career?user=u&password=Pa55word&sslmode=false": "postgres://db:5432/career?user=u&password=********&sslmode=false",
		"host=127.0.0.1 user=u password=Pa55word dbname=career":            "host=127.0.0.1 user=u password=******** dbname=career",
		"host=db password='Pa55 word' dbname=career":                       "host=db password=******** dbname=career",
		"nats://u:Pa55word@127.0.0.1:4222":                                 "nats://u:********@127.0.0.1:4222",
		"nats://Pa55word@127.0.0.1:4222":                                   "nats://********@127.0.0.1:4222",
		"nats://a:Pa55word@n1:4222,nats://Pa55word@n2:4222":                "nats://a:********@n1:4222,nats://********@n2:4222",
		"nats://127.0.0.1:4222":                                            "nats://127.0.0.1:4222",
		"postgres://db/career?application_name=a@b":                        "postgres://db/career?application_name=a@b",
		"postgres://db/x?password=Pa55word&application_name=a@b":           "postgres://db/x?password=********&application_name=a@b",
		"nats://a:4222,u:Pa55word@b:4222":                                  "nats://a:4222,u:********@b:4222",
		"Pa55word@nats.internal:4222":                                      "********@nats.internal:4222",
		"postgres://app:pa#Pa55word@db/x":                                  "postgres://app:********@db/x",
		"postgres://app:Pa55?word@db/x?sslmode=disable":                    "postgres://app:********@db/x?sslmode=disable",
		"postgres://app:pa/Pa55word@db/x":                                  "postgres://app:********@db/x",
		// A PostgreSQL URL's bare user info is its user name, no secret.
		"postgres://postgres@db:5432/career":                      "postgres://postgres@db:5432/career",
		"postgresql://postgres@db/career?password=Pa55word&x=a@b": "postgresql://postgres@db/career?password=********&x=a@b",
		"postgres://db/we@ird":                                    "postgres://db/we@ird",
	} {
		if got := maskURL(in); got != want {
			t.Errorf("maskURL(%q) = %q, want %q", in, got, want)
		}
	}

	env := map[string]string{"DATABASE_URL": "host=db password=Pa55word dbname=career",
		"NATS_URL": "nats://Pa55word@127.0.0.1:1", "CAREER_AUTH_SECRET": "Pa55word"}
	var help strings.Builder
	usageOutput = &help
	defer func() { usageOutput = os.Stderr }()
	if _, err := ParseConfig([]string{"-h"}, func(k string) string { return env[k] }); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if !strings.Contains(help.String(), "DATABASE_URL") || strings.Contains(help.String(), "Pa55word") {
		t.Errorf("-h shows a credential (or nothing):\n%s", help.String())
	}
	cfg, err := ParseConfig([]string{"--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL != env["DATABASE_URL"] || cfg.AuthSecret != "Pa55word" {
		t.Errorf("the values from the environment did not take effect: %+v", cfg)
	}
	if logged := fmt.Sprint(cfg.Masked()...); strings.Contains(logged, "Pa55word") {
		t.Errorf("the logged configuration shows a credential: %s", logged)
	}
	cfg.DatabaseURL = ""
	err = NewMain(cfg, io.Discard).Run(context.Background())
	if err == nil || strings.Contains(err.Error(), "Pa55word") || !strings.Contains(err.Error(), "NATS") {
		t.Errorf("unreachable NATS: %v, want an error without the token", err)
	}
	// Addresses that do not parse: the parser's error quotes them.
	for _, bad := range []string{"nats://u:Pa55word@127.0.0.1:badport", "nats://Pa55word@127.0.0.1:badport",
		"nats://Pa55word@127.0.0.1:4222/%zz", "nats://ok@127.0.0.1:1,nats://u:Pa55word@127.0.0.1:bad"} {
		cfg.NATSURL = bad
		err = NewMain(cfg, io.Discard).Run(context.Background())
		if err == nil || strings.Contains(err.Error(), "Pa55word") {
			t.Errorf("NATS_URL %q: %v, want an error without the password", maskURL(bad), err)
		}
	}
}

// TestBadValuesAreRefused: a value careerd cannot use is an error naming
// its variable or flag, never silently another value.
func TestBadValuesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"CAREER_DEV": "yes"}, nil, "$CAREER_DEV"},
		{map[string]string{"CAREER_DUPLICATE_WINDOW": "-1m"}, nil, "--duplicate-window"},
		{nil, []string{"--read-your-writes-timeout", "-1s"}, "--read-your-writes-timeout"},
		{nil, []string{"--shutdown-timeout", "-5s"}, "--shutdown-timeout"},
		{map[string]string{"CAREER_REQUEST_TIMEOUT": "-1s"}, nil, "--request-timeout"},
		{map[string]string{"CAREER_BODY_READ_TIMEOUT": "-1s"}, nil, "--body-read-timeout"},
		{nil, []string{"--import-read-timeout", "-1m"}, "--import-read-timeout"},
		{map[string]string{"CAREER_IMPORT_READ_TIMEOUT": "5"}, nil, "$CAREER_IMPORT_READ_TIMEOUT"},
		{map[string]string{"CAREER_SELF_ASSESSMENT": "maybe"}, nil, "$CAREER_SELF_ASSESSMENT"},
		{map[string]string{"DATABASE_URL": "not a url"}, nil, "--database-url ($DATABASE_URL) \"not a url\" is not a PostgreSQL connection string"},
		{nil, []string{"--database-url", "postgres://u:x@db:badport/career"}, "--database-url"},
		{nil, []string{"--subject-prefix", "bad..prefix"}, `--subject-prefix ($CAREER_SUBJECT_PREFIX) must be NATS subject tokens joined by '.'`},
		{map[string]string{"CAREER_SUBJECT_PREFIX": ".person"}, nil, `--subject-prefix ($CAREER_SUBJECT_PREFIX)`},
		{nil, []string{"--subject-prefix", "career.*"}, `--subject-prefix ($CAREER_SUBJECT_PREFIX)`},
		{nil, []string{"--subject-prefix", "career person"}, `--subject-prefix ($CAREER_SUBJECT_PREFIX)`},
		{nil, []string{"--stream", "bad.name"}, `--stream ($CAREER_STREAM) must be a JetStream stream name`},
		{nil, []string{"--stream", "bad/name"}, `--stream ($CAREER_STREAM) must be a JetStream stream name`},
		{map[string]string{"CAREER_STREAM": "CAREER>"}, nil, `--stream ($CAREER_STREAM)`},
		{nil, []string{"--dev", "false"}, `unexpected argument "false": careerd takes flags only`},
		{nil, []string{"--schema", "careerledger "}, `--schema ($CAREER_SCHEMA) must name a PostgreSQL schema, without spaces around it or control characters, not "careerledger "`},
		{map[string]string{"CAREER_SCHEMA": "career\tledger"}, nil, `--schema ($CAREER_SCHEMA) must name a PostgreSQL schema`},
		// PostgreSQL cuts a name at 63 bytes: one longer would share its
		// schema with every name alike up to there.
		{nil, []string{"--schema", strings.Repeat("s", 64)}, `--schema ($CAREER_SCHEMA) must be at most 63 bytes`},
		{map[string]string{"CAREER_SCHEMA": strings.Repeat("ß", 32)}, nil, `--schema ($CAREER_SCHEMA) must be at most 63 bytes`},
		// JetStream takes a window of 0 for its own default.
		{nil, []string{"--duplicate-window", "0"}, `--duplicate-window ($CAREER_DUPLICATE_WINDOW) must be more than 0`},
		{map[string]string{"CAREER_DUPLICATE_WINDOW": "0s"}, nil, `--duplicate-window ($CAREER_DUPLICATE_WINDOW) must be more than 0`},
		{nil, []string{"extra-arg", "--http-addr", "127.0.0.1:0"}, `unexpected argument "extra-arg"`},
		// Every refusal names the variable beside the flag, and the value.
		{map[string]string{"CAREER_READY_MAX_LAG": "-1"}, nil, `--ready-max-lag ($CAREER_READY_MAX_LAG) must be >= 0, not -1`},
		{nil, []string{"--projector-cache", "-5"}, `--projector-cache ($CAREER_PROJECTOR_CACHE) must be >= 0 (0 = no bound), not -5`},
		{map[string]string{"CAREER_REPLICAS": "0"}, nil, `--replicas ($CAREER_REPLICAS) must be >= 1, not 0`},
		{map[string]string{"CAREER_REPLICAS": "3"}, nil, `--replicas ($CAREER_REPLICAS) must be 1 with the embedded server (no --nats-url), which is one server, not 3`},
		{map[string]string{"CAREER_REPLICAS": "three"}, nil, `$CAREER_REPLICAS (--replicas): "three" is not a whole number`},
		{map[string]string{"CAREER_READY_MAX_STALL": "soon"}, nil, `$CAREER_READY_MAX_STALL (--ready-max-stall): "soon" is not a duration`},
		{map[string]string{"CAREER_MAX_TOKEN_LIFETIME": "-1h"}, nil, `--max-token-lifetime ($CAREER_MAX_TOKEN_LIFETIME) must not be negative, not -1h0m0s`},
		{nil, []string{"--max-token-lifetime", "-720h"}, `--max-token-lifetime ($CAREER_MAX_TOKEN_LIFETIME) must not be negative, not -720h0m0s`},
		{map[string]string{"CAREER_MAX_TOKEN_LIFETIME": "400d"}, nil, `$CAREER_MAX_TOKEN_LIFETIME (--max-token-lifetime): "400d" is not a duration`},
		// A flag's value of the wrong kind says the same, by the flag.
		{nil, []string{"--max-token-lifetime", "1y"}, `--max-token-lifetime ($CAREER_MAX_TOKEN_LIFETIME): "1y" is not a duration (such as 30s, 2m or 1h30m)`},
		{nil, []string{"--replicas", "three"}, `--replicas ($CAREER_REPLICAS): "three" is not a whole number`},
		{nil, []string{"--self-assessment=maybe"}, `--self-assessment ($CAREER_SELF_ASSESSMENT): "maybe" is not true or false`},
		{nil, []string{"--dev=yes"}, `--dev ($CAREER_DEV): "yes" is not true or false`},
		{nil, []string{"--no-such-flag"}, `flag provided but not defined: -no-such-flag (careerd -h lists the flags)`},
		// An address to listen on that is no host:port is refused before
		// anything starts.
		{nil, []string{"--http-addr", "8080"}, `--http-addr ($CAREER_HTTP_ADDR) must be host:port to listen on (such as 127.0.0.1:8080 or :8080), not "8080"`},
		{map[string]string{"CAREER_HTTP_ADDR": "http://127.0.0.1:8080"}, nil, `--http-addr ($CAREER_HTTP_ADDR) must be host:port`},
		{nil, []string{"--nats-listen", "4222"}, `--nats-listen ($CAREER_NATS_LISTEN) must be host:port`},
	} {
		args := append([]string{"--auth-secret", "x"}, tc.args...)
		_, err := ParseConfig(args, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want an error naming %s", tc.env, tc.args, err, tc.want)
		}
	}
	// A --database-url PostgreSQL's client cannot read is a usage error
	// (exit 2) naming the flag, its password masked; one it reads is left
	// to the start, which says when it cannot reach it (exit 1).
	for _, bad := range []string{"postgres://u:Pa55word@db:badport/career", "postgres://u:pa/Pa55word@db/career",
		"postgres://u:Pa55word@db/career?sslmode=bogus", "host=db port=abc password=Pa55word", "postgresql://u:Pa%zz55word@db/x"} {
		_, err := ParseConfig([]string{"--dev", "--database-url", bad}, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "--database-url") || strings.Contains(err.Error(), "Pa55word") {
			t.Errorf("--database-url %s: %v, want a usage error naming --database-url without the password", maskURL(bad), err)
		}
	}
	for _, good := range []string{"postgres://postgres@127.0.0.1:1/x?connect_timeout=1", "host=127.0.0.1 port=1 user=u password=p dbname=x"} {
		if _, err := ParseConfig([]string{"--dev", "--database-url", good}, func(string) string { return "" }); err != nil {
			t.Errorf("--database-url %s (well formed, unreachable): %v, want it accepted", maskURL(good), err)
		}
	}
	if _, err := ParseConfig([]string{"--dev", "--schema", strings.Repeat("s", 63)}, func(string) string { return "" }); err != nil {
		t.Errorf("--schema of 63 bytes: %v, want it accepted", err)
	}
	for _, good := range []string{"career.person", "acme-hr.people_v2", "people"} {
		if _, err := ParseConfig([]string{"--dev", "--subject-prefix", good, "--stream", "ACME_HR-2"}, func(string) string { return "" }); err != nil {
			t.Errorf("--subject-prefix %s: %v, want it accepted", good, err)
		}
	}
	cfg, err := ParseConfig(nil, func(k string) string { return map[string]string{"CAREER_DEV": "TRUE"}[k] })
	if err != nil || !cfg.Dev {
		t.Errorf("CAREER_DEV=TRUE: %+v, %v", cfg.Dev, err)
	}
	cfg, err = ParseConfig([]string{"--dev"}, func(k string) string { return map[string]string{"CAREER_DEV": "yes"}[k] })
	if err != nil || !cfg.Dev {
		t.Errorf("--dev with CAREER_DEV=yes (the flag wins): %+v, %v", cfg.Dev, err)
	}
	// Flags win over variables, also over ones that do not parse.
	bad := map[string]string{"CAREER_REPLICAS": "three", "CAREER_READY_MAX_STALL": "soon", "CAREER_SELF_ASSESSMENT": "maybe"}
	cfg, err = ParseConfig([]string{"--dev", "--nats-url", "nats://127.0.0.1:1", "--replicas", "3", "--ready-max-stall", "1m", "--self-assessment=false"}, func(k string) string { return bad[k] })
	if err != nil || cfg.Replicas != 3 || cfg.ReadyMaxStall != time.Minute || cfg.SelfAssessment {
		t.Errorf("flags over variables that do not parse: %d %s %v, %v", cfg.Replicas, cfg.ReadyMaxStall, cfg.SelfAssessment, err)
	}
	// The body read bounds: 30s and 5m unless set.
	cfg, err = ParseConfig([]string{"--dev"}, func(string) string { return "" })
	if err != nil || cfg.BodyReadTimeout != 30*time.Second || cfg.ImportReadTimeout != 5*time.Minute {
		t.Errorf("the body read bounds by default: %s %s, %v", cfg.BodyReadTimeout, cfg.ImportReadTimeout, err)
	}
	env := map[string]string{"CAREER_BODY_READ_TIMEOUT": "45s", "CAREER_IMPORT_READ_TIMEOUT": "20m"}
	cfg, err = ParseConfig([]string{"--dev", "--import-read-timeout", "10m"}, func(k string) string { return env[k] })
	if err != nil || cfg.BodyReadTimeout != 45*time.Second || cfg.ImportReadTimeout != 10*time.Minute {
		t.Errorf("the body read bounds set: %s %s, %v", cfg.BodyReadTimeout, cfg.ImportReadTimeout, err)
	}
}

// TestMaxTokenLifetimeSetting: --max-token-lifetime is 400 days unless
// set, by $CAREER_MAX_TOKEN_LIFETIME or the flag, which wins; 0 is no
// bound.
func TestMaxTokenLifetimeSetting(t *testing.T) {
	for _, c := range []struct {
		env  string
		args []string
		want time.Duration
	}{
		{"", nil, 9600 * time.Hour},
		{"720h", nil, 720 * time.Hour},
		{"0", nil, 0},
		{"720h", []string{"--max-token-lifetime", "8h"}, 8 * time.Hour},
		{"soon", []string{"--max-token-lifetime=0"}, 0},
	} {
		cfg, err := ParseConfig(append([]string{"--auth-secret", "x"}, c.args...), func(k string) string {
			if k == "CAREER_MAX_TOKEN_LIFETIME" {
				return c.env
			}
			return ""
		})
		if err != nil || cfg.MaxTokenLifetime != c.want {
			t.Errorf("$CAREER_MAX_TOKEN_LIFETIME=%q %v: %s, %v; want %s", c.env, c.args, cfg.MaxTokenLifetime, err, c.want)
		}
	}
}

// TestTokensThatLiveTooLongAreRefused: careerd refuses (401, naming the
// maximum) a token that lives longer than --max-token-lifetime, and serves
// one within it, the admin token --dev prints included (it lives 30 days,
// or the maximum when that is shorter).
func TestTokensThatLiveTooLongAreRefused(t *testing.T) {
	cfg := baseConfig(t)
	cfg.AuthSecret = "s3cret"
	cfg.MaxTokenLifetime = time.Hour
	m := NewMain(cfg, io.Discard)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tokens, err := graph.NewTokens("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	within, _ := tokens.Mint(graph.Principal{Subject: "ito", Roles: []string{graph.RoleHR}}, time.Hour, time.Now())
	beyond, _ := tokens.Mint(graph.Principal{Subject: "ito", Roles: []string{graph.RoleHR}}, 2*time.Hour, time.Now())
	for name, tok := range map[string]string{"the dev token": m.DevToken(), "a token for the maximum": within} {
		if code, res := post(t, m.Addr(), tok, `{ catalogue { id } }`, nil); code != http.StatusOK || len(res.Errors) > 0 {
			t.Errorf("%s: %d %+v, want it served", name, code, res.Errors)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+m.Addr()+"/graphql", strings.NewReader(`{"query":"{ catalogue { id } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+beyond)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if want := "more than the maximum token lifetime of 1h: mint one that expires sooner"; res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), want) {
		t.Errorf("a token for two hours: %d %s, want 401 saying %q", res.StatusCode, body, want)
	}
}

// TestTodayIsInTheConfiguredTimeZone: at 06:58 in Tokyo (21:58 UTC the day
// before), a deployment in Asia/Tokyo accepts evidence dated today there;
// one in UTC, the default, refuses it as in the future.
func TestTodayIsInTheConfiguredTimeZone(t *testing.T) {
	at := time.Date(2026, 11, 26, 21, 58, 0, 0, time.UTC)
	for zone, ok := range map[string]bool{"Asia/Tokyo": true, "UTC": false} {
		cfg := baseConfig(t)
		cfg.TimeZone = zone
		m := NewMain(cfg, io.Discard)
		m.Now = func() time.Time { return at }
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		if code, res := post(t, m.Addr(), m.DevToken(), registerMutation, map[string]any{"in": map[string]any{
			"id": "TZ1", "name": "n", "department": "Ops", "joinedOn": "2020-01-01"}}); code != 200 || len(res.Errors) > 0 {
			t.Fatalf("%s: register: %d %+v", zone, code, res.Errors)
		}
		_, res := post(t, m.Addr(), m.DevToken(), `mutation($in: AssessThemeInput!) { assessTheme(input: $in) { accomplishmentId } }`,
			map[string]any{"in": map[string]any{"personId": "TZ1", "theme": "SERVICE_SUPPORT_MANAGEMENT", "proficiency": "BASIC", "assessedOn": "2026-11-27"}})
		if got := len(res.Errors) == 0; got != ok {
			t.Errorf("%s: evidence dated 2026-11-27 at %s: errors %+v, want accepted %v", zone, at, res.Errors, ok)
		}
	}
	if _, err := ParseConfig([]string{"--dev", "--time-zone", "Mars/Olympus"}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "--time-zone") {
		t.Errorf("an unknown zone: %v, want an error naming --time-zone", err)
	}
}

// TestSelfAssessmentSetting: employees may assess themselves unless
// --self-assessment=false or $CAREER_SELF_ASSESSMENT says not; the flag
// wins over the variable.
func TestSelfAssessmentSetting(t *testing.T) {
	for _, c := range []struct {
		env  string
		args []string
		want bool
	}{
		{"", nil, true},
		{"false", nil, false},
		{"0", []string{"--self-assessment=true"}, true},
		{"", []string{"--self-assessment=false"}, false},
	} {
		cfg, err := ParseConfig(append([]string{"--auth-secret", "x"}, c.args...), func(k string) string {
			if k == "CAREER_SELF_ASSESSMENT" {
				return c.env
			}
			return ""
		})
		if err != nil || cfg.SelfAssessment != c.want {
			t.Errorf("$CAREER_SELF_ASSESSMENT=%q %v: %v, %v; want %v", c.env, c.args, cfg.SelfAssessment, err, c.want)
		}
	}
}

// TestMaskURLHidesPasswordsPostgresReads: every password PostgreSQL's
// client reads from a --database-url is hidden in its masked form (the
// "careerd starting" record logs it at every start): a URL password may
// hold a comma (a sub-delimiter, legal in user info, and not a host list's
// separator there), key/value pairs may be separated by any white space
// (a tab, a newline of a multi-line secret), a value may hold "://", and
// an unquoted value may hold an escaped space.
func TestMaskURLHidesPasswordsPostgresReads(t *testing.T) {
	for _, in := range []string{
		"postgres://app:Pa55,Secret@db/career",
		"postgres://app:Pa55,Secret@db1,db2/career",
		"host=db\tpassword=Pa55Secret",
		"host=db\npassword=Pa55Secret\ndbname=career",
		"host=db password=x://Pa55Secret",
		`host=db password=Pa55\ Secret`,
	} {
		cfg, err := pgxpool.ParseConfig(in)
		if err != nil || !strings.Contains(cfg.ConnConfig.Password, "Pa55") {
			t.Fatalf("%q: PostgreSQL's client reads no password Pa55...: %v", in, err)
		}
		got := maskURL(in)
		if strings.Contains(got, "Pa55") || strings.Contains(got, "Secret") {
			t.Errorf("maskURL(%q) = %q: the password shows", in, got)
		}
	}
}

// TestRedactMasksAPasswordOnce: an error quoting an address that does not
// parse (url.Parse's) shows it as maskURL does, its password hidden once
// and the rest unchanged, however the password compares with the user,
// the host, the path or the mask; the password quoted apart is still
// hidden.
func TestRedactMasksAPasswordOnce(t *testing.T) {
	for _, addr := range []string{
		"postgres://u:db@db:badport/career",
		"postgres://pass:pass@db:badport/career",
		"postgres://u:career@db:badport/career",
		"postgres://u:*@db:badport/career",
		"nats://tok@tok:badport",
		"nats://ok@h1:4222,nats://u:ok@h2:badport",
	} {
		part := addr[strings.LastIndex(addr, ",")+1:]
		_, perr := url.Parse(part)
		if perr == nil {
			t.Fatalf("%q parses", part)
		}
		want := strings.ReplaceAll(perr.Error(), part, maskURL(part))
		if got := redact(perr, addr).Error(); got != want {
			t.Errorf("redact(%q) = %q, want %q", addr, got, want)
		}
		if !errors.Is(redact(perr, addr), perr) {
			t.Errorf("redact(%q) does not unwrap to the error", addr)
		}
	}
	err := errors.New(`password "Pa55word" refused at "postgres://u:Pa55word@db:1/x"`)
	if got, want := redact(err, "postgres://u:Pa55word@db:1/x").Error(), `password "********" refused at "postgres://u:********@db:1/x"`; got != want {
		t.Errorf("the password quoted apart: %q, want %q", got, want)
	}
}

// TestMaskURLHidesAPasswordAfterLeadingSpace: a URL with white space
// before it (a secret file's, a quoted environment value's) is still a URL:
// its password was hidden before "://" was looked for a key/value pair's,
// and shows now, in the start log and in "cannot reach PostgreSQL at".
func TestMaskURLHidesAPasswordAfterLeadingSpace(t *testing.T) {
	for _, in := range []string{
		" postgres://app:Pa55Secret@db/career?sslmode=disable",
		"\tpostgres://app:Pa55Secret@db/career?sslmode=disable",
		" nats://app:Pa55Secret@h1:4222?x=y",
	} {
		if got := maskURL(in); strings.Contains(got, "Pa55") {
			t.Errorf("maskURL(%q) = %q: the password shows", in, got)
		}
	}
}

// An empty --schema is the default, as an empty --stream and
// --subject-prefix are (it failed at the first migration, in PostgreSQL's
// words).
func TestAnEmptySchemaIsTheDefault(t *testing.T) {
	cfg, err := ParseConfig([]string{"--dev", "--schema", ""}, func(string) string { return "" })
	if err != nil || cfg.Schema != "careerledger" {
		t.Errorf("--schema \"\": %q, %v; want careerledger", cfg.Schema, err)
	}
}

// TestABadFlagIsOneLine: a value of the wrong kind on the command line is
// the error alone, without the usage printed before it (sixty lines that
// pushed the error off the screen), and -h still prints the usage with
// each flag's kind and variable.
func TestABadFlagIsOneLine(t *testing.T) {
	var out strings.Builder
	usageOutput = &out
	defer func() { usageOutput = os.Stderr }()
	none := func(string) string { return "" }
	for _, args := range [][]string{{"--shutdown-timeout", "x"}, {"--replicas", "abc"}, {"--dev=maybe"}, {"--bogus"}, {"--auth-secret"}} {
		out.Reset()
		if _, err := ParseConfig(args, none); err == nil || errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v, want an error", args, err)
		}
		if out.Len() > 0 {
			t.Errorf("%v printed beside its error:\n%s", args, out.String())
		}
	}
	// The error is the rule alone, not the flag package's words around it.
	_, err := ParseConfig([]string{"--shutdown-timeout", "20"}, none)
	if want := `--shutdown-timeout ($CAREER_SHUTDOWN_TIMEOUT): "20" is not a duration (such as 30s, 2m or 1h30m)`; err == nil || err.Error() != want {
		t.Errorf("--shutdown-timeout 20: %v, want %s", err, want)
	}
	out.Reset()
	if _, err := ParseConfig([]string{"-h"}, none); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"-shutdown-timeout duration", "-replicas int", "-http-addr string", "($CAREER_SHUTDOWN_TIMEOUT) (default 20s)", "-dev\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h does not show %q:\n%s", want, out.String())
		}
	}
}

// TestAMissingCatalogueNamesTheFlag: a --catalogue careerd cannot read, or
// that is no valid catalogue, is a bad setting: refused before the start
// (status 2, as main does for every ParseConfig error) with an error
// naming the flag, its variable, the file and the reason; one that goes
// bad between the parse and the start is refused by Run, and serve exits
// with 2 as well, not 1 (a start that failed).
func TestAMissingCatalogueNamesTheFlag(t *testing.T) {
	dir := t.TempDir()
	invalid := filepath.Join(dir, "invalid.json")
	if err := os.WriteFile(invalid, []byte(`{"id": "x"`), 0o600); err != nil {
		t.Fatal(err)
	}
	args := func(path string) []string {
		return []string{"--dev", "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--catalogue", path}
	}
	missing := filepath.Join(dir, "none.json")
	for path, why := range map[string]string{missing: "no such file", invalid: "must be a valid catalogue"} {
		_, err := ParseConfig(args(path), func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "--catalogue ($CAREER_CATALOGUE)") || !strings.Contains(err.Error(), path) ||
			!strings.Contains(err.Error(), why) {
			t.Errorf("--catalogue %s: %v, want a refusal naming --catalogue, the file and %q", path, err, why)
		}
	}

	good := filepath.Join(dir, "catalogue.json")
	if err := os.WriteFile(good, domain.DefaultCatalogueJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(args(good), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(good); err != nil {
		t.Fatal(err)
	}
	var logs logLines
	if code := serve(context.Background(), NewMain(cfg, &logs)); code != 2 {
		t.Errorf("a catalogue gone before the start: exit status %d, want 2 (a bad setting)", code)
	}
	rec := logs.waitLog(t, "careerd failed to start", map[string]string{"level": "ERROR"})
	if e, _ := rec["err"].(string); !strings.Contains(e, "--catalogue ($CAREER_CATALOGUE)") || !strings.Contains(e, "catalogue.json") {
		t.Errorf("the refusal logged: %q, want it to name --catalogue and the file", e)
	}
}

// TestEmbeddedServerSettingsWithANATSURLAreSaid: --nats-listen and
// --sync-interval belong to the embedded server; given with --nats-url,
// where none runs, the start says they are ignored. Replicas need a
// cluster: with --nats-url they are accepted.
func TestEmbeddedServerSettingsWithANATSURLAreSaid(t *testing.T) {
	env := map[string]string{"NATS_URL": "nats://127.0.0.1:1", "CAREER_NATS_LISTEN": "127.0.0.1:0", "CAREER_SYNC_INTERVAL": "1s", "CAREER_REPLICAS": "3"}
	cfg, err := ParseConfig([]string{"--dev", "--http-addr", "127.0.0.1:0"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	m := NewMain(cfg, &log)
	_ = m.Run(context.Background()) // NATS is not there: the start fails after the warnings
	_ = m.Close()
	for _, want := range []string{`"msg":"--nats-listen ($CAREER_NATS_LISTEN) is ignored`, `"msg":"--sync-interval ($CAREER_SYNC_INTERVAL) is ignored`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the start does not say %s:\n%s", want, log.String())
		}
	}
	delete(env, "NATS_URL")
	log.Reset()
	cfg, err = ParseConfig([]string{"--dev", "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--replicas", "1"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	m = NewMain(cfg, &log)
	err = m.Run(context.Background())
	_ = m.Close()
	if err != nil || strings.Contains(log.String(), "is ignored") {
		t.Errorf("the embedded server's own settings: %v, %s", err, log.String())
	}
}

// TestTheStartLogsOnlyTheSettingsThatApply: the "careerd starting" record
// shows the embedded server's settings (data_dir, nats_listen,
// sync_interval) only when it runs, that is without --nats-url, and the
// read models' schema only with --database-url. Before, it showed a
// data_dir with --nats-url, where nothing uses it.
func TestTheStartLogsOnlyTheSettingsThatApply(t *testing.T) {
	starting := func(t *testing.T, args []string, env map[string]string) map[string]any {
		t.Helper()
		cfg, err := ParseConfig(append([]string{"--dev", "--http-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		var logs logLines
		m := NewMain(cfg, &logs)
		_ = m.Run(context.Background()) // with an unreachable NATS it fails after the record
		_ = m.Close()
		recs := logs.find(t, "careerd starting", nil)
		if len(recs) != 1 {
			t.Fatalf("%d records \"careerd starting\", want 1:\n%s", len(recs), logs.String())
		}
		return recs[0]
	}
	embeddedOnly := []string{"data_dir", "nats_listen", "sync_interval"}
	rec := starting(t, []string{"--data-dir", "/var/lib/careerd-unused"}, map[string]string{"NATS_URL": "nats://127.0.0.1:1"})
	for _, key := range append(embeddedOnly, "schema") {
		if v, ok := rec[key]; ok {
			t.Errorf("with --nats-url and no --database-url the start logs %s=%v, which does not apply", key, v)
		}
	}
	if rec["nats_url"] != "nats://127.0.0.1:1" || rec["replicas"] == nil {
		t.Errorf("with --nats-url the start does not log nats_url and replicas: %v", rec)
	}
	dir := t.TempDir()
	rec = starting(t, []string{"--data-dir", dir}, map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/x?connect_timeout=1"})
	for _, key := range append(embeddedOnly, "schema", "database_url") {
		if _, ok := rec[key]; !ok {
			t.Errorf("with the embedded server and a database the start does not log %s: %v", key, rec)
		}
	}
	if rec["data_dir"] != dir {
		t.Errorf("data_dir logged as %v, want %s", rec["data_dir"], dir)
	}
}
