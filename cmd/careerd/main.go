// Command careerd is the careerledger server: the GraphQL API over HTTP,
// the projector that folds the event log into the read models, health,
// readiness and metrics.
//
//	careerd --dev                               everything embedded, in-process
//	NATS_URL=... DATABASE_URL=... careerd       production
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := ParseConfig(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "careerd:", err)
		os.Exit(2)
	}
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
