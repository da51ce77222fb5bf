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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := ParseConfig(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the usage is printed, and asking for it is no error
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "careerd:", err)
		os.Exit(2)
	}
	setGCPercent(os.Getenv)
	m := NewMain(cfg, os.Stdout)
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "careerd:", err)
		m.Close()
		os.Exit(1)
	}
	<-ctx.Done()
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "careerd: shutdown:", err)
		os.Exit(1)
	}
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
