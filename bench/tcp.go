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
// read model is PostgreSQL.
func (b *bench) tcp(ctx context.Context) error {
	url := b.cfg.natsURL
	env, err := connectNATS(ctx, url, 1)
	if err != nil {
		progress("tcp: %s: %v; skipped", url, err)
		b.add(row{Scenario: "6t Live lag over TCP", Measured: "skipped", Baseline: "-", Ratio: "-", Goal: "p99 < 50 ms",
			Verdict: info, Note: fmt.Sprintf("No NATS server with JetStream at %s (-nats-url): %v.", url, err)})
		return nil
	}
	defer env.close()
	return b.apart(ctx, env, topology{
		label:  "t",
		name:   "nats-server " + env.nc.ConnectedServerVersion() + " over TCP",
		lag:    "6t Live lag over TCP (" + url + ")",
		schema: tcpSchema,
		rest:   "the NATS server",
	})
}

// topology names a NATS deployment that runs apart from the benchmark
// process, for the rows measured on it.
type topology struct {
	label  string // the rows' suffix: 2<label>, 2<label>c
	name   string // the server(s), for the writer rows
	lag    string // the live-lag row's scenario
	schema string // the read model's schema
	rest   string // the servers, in the CPU of the rest of the machine
}

// apart measures, on a stream of its own on a NATS deployment of its own
// (env), the single writer (Recorder vs raw publishes, as scenario 2),
// generates the same log as scenario 5, rebuilds a PostgreSQL read model
// from it, and records at half the single-writer Recorder rate it measured
// while the projector runs.
func (b *bench) apart(ctx context.Context, env *natsEnv, t topology) error {
	progress("%s: stream %s", t.name, env.stream)
	w, err := b.prepareWriters(ctx, env, t.name)
	if err != nil {
		return err
	}
	cold, recSide, rawSide, err := b.single(ctx, w, t.name)
	if err != nil {
		return err
	}
	b.singleRows(t.label, t.name, w, cold, recSide, rawSide)

	people, head, err := b.generate(ctx, env.log)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	pool := b.db.pool
	if err := postgres.Migrate(ctx, pool, t.schema); err != nil {
		return err
	}
	progress("%s: rebuilding the read model of %d events", t.name, head)
	pg := postgres.New(pool, b.cat, t.schema)
	if err := serveAsDeployment(ctx, b, pool, pg, t.schema); err != nil {
		return err
	}
	ts := &timedStore{Store: pg, Fields: b.cat.Fields()}
	pr, err := projectToHead(ctx, b, env.log, ts, head)
	if err != nil {
		return err
	}
	defer pr.stop()
	progress("%s: rebuilt in %s (%s)", t.name, fmtDur(pr.took), fmtRate(rate(int(head), pr.took), "ev"))

	rec, set, err := b.warm(ctx, env, ts, people)
	if err != nil {
		return err
	}
	target, why := recSide.best/2, "half the single-writer Recorder rate of scenario 2"+t.label+", over the same connection"
	if b.cfg.lagRate > 0 {
		target, why = b.cfg.lagRate, "-lag-rate"
	}
	b.natsApart = t.rest
	defer func() { b.natsApart = "" }()
	return b.lagAt(ctx, rec, ts, set, target, b.cfg.lagDur, t.lag, why, true)
}
