// Command careerctl is careerledger's command-line client: it mints tokens
// and talks to a running careerd over its API.
//
//	careerctl token --subject S --role R [--department D] [--person P] [--ttl 24h]
//	careerctl record-engagement --personId E1 --field SYSTEM_OPERATION ...
//	careerctl person E1
//	careerctl import commands.ndjson
//
// docs/careerctl.md describes every command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runContext(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errReported is returned by a command that has already told the user what
// went wrong: careerctl exits 1 without another message.
var errReported = errors.New("reported")

// command is one careerctl subcommand.
type command struct {
	name, usage string
	run         func(c *cli, args []string) error
}

// cli carries what every subcommand may use.
type cli struct {
	ctx    context.Context // cancelled on interrupt
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func commands() []command {
	list := []command{
		{"token", "mint a bearer token with $CAREER_AUTH_SECRET", tokenCommand},
		{"health", "check that a careerd is alive (or --ready)", healthCommand},
	}
	for _, m := range mutations {
		list = append(list, command{m.command, m.usage, m.run})
	}
	return append(list,
		command{"person", "a person's levels, criteria, gaps and history", personCommand},
		command{"accomplishments", "a person's accomplishments, with their ids and who recorded them", accomplishmentsCommand},
		command{"distribution", "people per department and level in a field", distributionCommand},
		command{"trend", "people per level in a field on a series of dates (monthly by default)", trendCommand},
		command{"people", "list people (all pages), optionally filtered", peopleCommand},
		command{"departments", "every department anyone has been or is in", departmentsCommand},
		command{"import", "record commands from an NDJSON or CSV file in bulk (resumable)", importCommand},
		command{"export", "the whole event log as NDJSON", exportCommand},
		command{"rebuild", "rebuild the server's read model (--wait shows progress)", rebuildCommand},
		command{"migrate", "apply the PostgreSQL read-model migrations", migrateCommand},
		command{"demo", "fill a careerd with a realistic demo organisation", demoCommand},
	)
}

// run executes careerctl and returns its exit code.
func run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, getenv, stdin, stdout, stderr)
}

// runContext is run with a context that an interrupt cancels.
func runContext(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 0 // asked for
	}
	for _, cmd := range commands() {
		if cmd.name == args[0] {
			if err := cmd.run(c, args[1:]); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					return 0 // -h: the usage was asked for and printed
				}
				if !errors.Is(err, errReported) {
					fmt.Fprintf(stderr, "careerctl %s: %v\n", cmd.name, err)
				}
				if errors.As(err, new(usageError)) {
					return 2
				}
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(stderr, "careerctl: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: careerctl <command> [flags]\n\ncommands:\n")
	for _, cmd := range commands() {
		fmt.Fprintf(&b, "  %-31s %s\n", cmd.name, cmd.usage)
	}
	b.WriteString("\nRun 'careerctl <command> -h' for its flags.\n")
	b.WriteString("\nenvironment:\n")
	b.WriteString("  $CAREER_SERVER       careerd's base URL (--server; default http://127.0.0.1:8080)\n")
	b.WriteString("  $CAREER_TOKEN        the bearer token (--token)\n")
	b.WriteString("  $CAREER_AUTH_SECRET  the key token signs with (careerd's --auth-secret)\n")
	io.WriteString(w, b.String())
}

// usageError is a command used wrongly (a flag or an argument): careerctl
// exits 2 for it, 1 for a command that failed.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usagef returns a usageError.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// newFlagSet is a command's flag set: errors are returned, not exited on,
// and -h prints "usage: careerctl NAME [flags]" before the flags (the flag
// package's own "Usage of NAME:" does not say how to run it). A command
// with arguments sets a usage of its own.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: careerctl %s [flags]\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags is fs.Parse with its errors (an unknown flag, a bad value)
// marked as usage errors. The flag package would print such an error and
// then the whole usage, ending in its own "parse error": the error is
// returned alone instead, a value of the wrong kind naming the rule
// (--ttl: "1d" is not a duration (such as 30s, 2m or 1h30m)), and -h
// prints the usage as before.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output() // a command's own usage prints there too
	fs.SetOutput(io.Discard)
	var bad error
	fs.VisitAll(func(f *flag.Flag) { f.Value = &ruleValue{Value: f.Value, name: f.Name, bad: &bad} })
	err := fs.Parse(args)
	fs.VisitAll(func(f *flag.Flag) { f.Value = f.Value.(*ruleValue).Value })
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		if bad != nil {
			return usageError{bad}
		}
		return usageError{fmt.Errorf("%w (careerctl %s -h lists its flags)", err, fs.Name())}
	}
	if err == nil {
		if f := fs.Lookup("server"); f != nil {
			if err := checkServer(f.Value.String()); err != nil {
				return usageError{err}
			}
		}
	}
	return err
}

// ruleValue is a flag's value while parseFlags parses: a value of the
// wrong kind for one of the flag package's own types (a duration, a
// number, a boolean) is put in the rule it breaks; other values' errors
// say theirs already.
type ruleValue struct {
	flag.Value
	name string
	bad  *error
}

func (v *ruleValue) Set(s string) error {
	err := v.Value.Set(s)
	if err == nil || (err.Error() != "parse error" && err.Error() != "value out of range") {
		return err
	}
	rule := "is not a value it takes"
	if g, ok := v.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			rule = "is not a duration (such as 30s, 2m or 1h30m)"
		case int, int64, uint, uint64:
			rule = "is not a whole number in range"
		case float64:
			rule = "is not a number"
		case bool:
			rule = "is not true or false (1, t, TRUE, 0, f, FALSE...)"
		}
	}
	*v.bad = fmt.Errorf("--%s: %q %s", v.name, s, rule)
	return *v.bad
}

// IsBoolFlag is the wrapped value's: a boolean flag takes no value.
func (v *ruleValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// checkServer refuses a --server that is no http or https URL with a host:
// "http//host:8080" or "host:8080" would otherwise fail every request
// with Go's "unsupported protocol scheme", which import and demo retry
// for half a minute before saying to run the command again.
func checkServer(server string) error {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--server ($CAREER_SERVER) must be careerd's base URL, http:// or https:// and a host, such as http://127.0.0.1:8080, not %q", server)
	}
	return nil
}
