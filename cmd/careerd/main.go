// Command careerd is the careerledger server: the GraphQL API over HTTP,
// the projector that folds the event log into the read models, health,
// readiness and metrics.
//
//	careerd --dev                               everything embedded, in-process
//	NATS_URL=... DATABASE_URL=... careerd       production
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // --time-zone works in images without zoneinfo
)

func main() {
	cfg, err := ParseConfig(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the usage is printed, and asking for it is no error
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "careerd:", err)
		os.Exit(2)
	}
	setGCPercent(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := serve(ctx, NewMain(cfg, os.Stdout))
	stop()
	os.Exit(code)
}

// serve runs m until ctx is done, then stops it, and returns careerd's exit
// status: 2 when Run refused a setting (a settingError: a --catalogue it
// cannot use), as main does for the settings ParseConfig refuses; 1 when
// it failed to start otherwise (Run has logged why, and nothing is said of
// stopping what never served) or did not stop cleanly; else 0. Every word
// goes to m's log, as structured as the rest of it.
func serve(ctx context.Context, m *Main) int {
	if err := m.Run(ctx); err != nil {
		_ = m.Close() // releases what the start opened; its failure is logged
		if _, ok := errors.AsType[*settingError](err); ok {
			return 2
		}
		return 1
	}
	<-ctx.Done()
	if err := m.Close(); err != nil {
		m.log.Error("careerd did not stop cleanly", "err", err)
		return 1
	}
	return 0
}

// defaultGCPercent is careerd's garbage-collector target when GOGC is not
// set. Most of careerd's heap is long-lived (the projector's and the
// recorder's folded people, the memory read model), which the default of
// 100 re-marks each time the little short-lived garbage doubles it: a
// quarter of the CPU under load. 400 trades memory for that CPU; GOGC set
// in the environment wins.
const defaultGCPercent = 400

func setGCPercent(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
