package main

import (
	"context"
	"fmt"

	"github.com/careerledger/careerledger/projections/postgres"
)

// tcpSchema is the read model of the production-topology scenario, beside
// the one of scenarios 5-7 in the same database.
const tcpSchema = "careerledger_tcp"

// tcp is scenario 6t, the live lag in careerd's production topology: the
// NATS server is a process of its own, reached over TCP (-nats-url; the
// machine's server as it runs, with its own durability setting), and the
// read model is PostgreSQL. On a stream of its own it measures the single
// writer (Recorder vs raw publishes, as scenario 2), generates the same log
// as scenario 5, rebuilds a read model from it, and records at half the
// single-writer Recorder rate it measured while the projector runs.
func (b *bench) tcp(ctx context.Context) error {
	url := b.cfg.natsURL
	env, err := connectNATS(ctx, url)
	if err != nil {
		progress("tcp: %s: %v; skipped", url, err)
		b.add(row{Scenario: "6t Live lag over TCP", Measured: "skipped", Baseline: "-", Ratio: "-", Goal: "p99 < 50 ms",
			Verdict: info, Note: fmt.Sprintf("No NATS server with JetStream at %s (-nats-url): %v.", url, err)})
		return nil
	}
	defer env.close()
	name := "nats-server " + env.nc.ConnectedServerVersion() + " over TCP"
	progress("tcp: stream %s on %s", env.stream, url)

	w, err := b.prepareWriters(ctx, env, name)
	if err != nil {
		return err
	}
	cold, recSide, rawSide, err := b.single(ctx, w, name)
	if err != nil {
		return err
	}
	b.singleRows("t", name, w, cold, recSide, rawSide)

	people, head, err := b.generate(ctx, env.log)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	pool := b.db.pool
	if err := postgres.Migrate(ctx, pool, tcpSchema); err != nil {
		return err
	}
	progress("tcp: rebuilding the read model of %d events", head)
	ts := &timedStore{Store: postgres.New(pool, b.cat, tcpSchema), Fields: b.cat.Fields()}
	pr, err := projectToHead(ctx, b, env.log, ts, head)
	if err != nil {
		return err
	}
	defer pr.stop()
	progress("tcp: rebuilt in %s (%s)", fmtDur(pr.took), fmtRate(rate(int(head), pr.took), "ev"))

	rec, set, err := b.warm(ctx, env, ts, people)
	if err != nil {
		return err
	}
	target, why := recSide.best/2, "half the single-writer Recorder rate of scenario 2t, over the same connection"
	if b.cfg.lagRate > 0 {
		target, why = b.cfg.lagRate, "-lag-rate"
	}
	b.natsApart = true
	defer func() { b.natsApart = false }()
	return b.lagAt(ctx, rec, ts, set, target, b.cfg.lagDur, "6t Live lag over TCP ("+url+")", why, true)
}
