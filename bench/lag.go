package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lag is scenario 6: record at half the single-writer rate while the
// projector runs, and measure per event the time from the append's
// acknowledgement (the command returning) to the commit of the read-model
// transaction that holds it.
func (b *bench) lag(ctx context.Context, env *natsEnv, ts *timedStore, people []string) error {
	cfg := b.cfg
	target, why := cfg.lagRate, "-lag-rate"
	if target <= 0 && b.singleRecorderRate2m > 0 {
		target, why = b.singleRecorderRate2m/2, "half the single-writer Recorder rate of scenario 2 (sync=2m)"
	}
	if target <= 0 {
		target, why = 1000, "default (scenario 2 not run)"
	}
	if err := b.coldAtScale(ctx, env, ts, people); err != nil {
		return err
	}
	rec, set, err := b.warm(ctx, env, ts, people)
	if err != nil {
		return err
	}
	if err := b.lagAt(ctx, rec, ts, set, target, cfg.lagDur, "6 Live lag", why, true); err != nil {
		return err
	}
	// The other reading of "the single-writer recording rate": with an
	// fsync on every write, the durability careerd runs with by default.
	if durable := b.singleRecorderRateAlways / 2; cfg.lagRate <= 0 && durable > 0 {
		if err := b.caughtUp(ctx, env, ts); err != nil {
			return err
		}
		if err := b.lagAt(ctx, rec, ts, set, durable, cfg.lagDur, "6c Live lag", "half the single-writer Recorder rate of scenario 2 (sync=always, the embedded default)", true); err != nil {
			return err
		}
	}
	// The same measurement at a rate the projector sustains: the latency
	// of the pipeline itself rather than of a growing backlog.
	if b.projectorRate > 0 && b.projectorRate/2 < target {
		head, err := env.log.Head(ctx)
		if err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err = ts.WaitFor(wctx, head)
		cancel()
		if err != nil {
			progress("lag: the projector has not caught up after 5 minutes; skipping the low-rate measurement")
			return nil
		}
		return b.lagAt(ctx, rec, ts, set, b.projectorRate/2, min(cfg.lagDur, 5*time.Second), "6b Live lag (info)",
			"half the real projector's rebuild rate of scenario 5", false)
	}
	return nil
}

// coldPeople is how many people each side of scenario 2h writes to.
const coldPeople = 1000

// coldAtScale is scenario 2h: the first command for people the Recorder
// does not know, in the rebuilt log (many people's events interleaved),
// read from the read model up to its checkpoint (careerd's Recorder)
// against read from the log alone. It writes to people beyond the
// live-lag set, so that the live-lag scenario's warm-up stays its own.
func (b *bench) coldAtScale(ctx context.Context, env *natsEnv, ts *timedStore, people []string) error {
	from := min(b.cfg.lagPeople, len(people))
	if len(people)-from < 2*coldPeople {
		progress("cold at scale: fewer than %d people beyond the live-lag set; skipped", 2*coldPeople)
		return nil
	}
	sides := []struct {
		name    string
		history bool
		people  []string
	}{{"the log alone", false, people[from : from+coldPeople]}, {"the read model, then the log", true, people[from+coldPeople : from+2*coldPeople]}}
	rates := make([]float64, len(sides))
	for i, s := range sides {
		rec := events.NewRecorder(env.log, b.cat, nil)
		if s.history {
			rec.History = projections.History(ts)
		}
		t := time.Now()
		n, err := recordFor(ctx, rec, newGen(uint64(300+i), b.cat), &keys{prefix: fmt.Sprintf("cold-%d-", i)}, s.people, time.Time{})
		if err != nil {
			return err
		}
		rates[i] = rate(n, time.Since(t))
		progress("cold at scale: %d first writes reading %s: %s", n, s.name, fmtRate(rates[i], "ev"))
	}
	head, err := env.log.Head(ctx)
	if err != nil {
		return err
	}
	b.late = append(b.late, row{
		Scenario: "2h Recorder cold first write per person at scale, reading the read model (careerd) vs the log alone",
		Measured: fmtRate(rates[1], "ev"), Baseline: fmtRate(rates[0], "ev"), Ratio: fmtRatio(rates[1] / rates[0]),
		Goal: "-", Verdict: info,
		Note: fmt.Sprintf("One command each for %d people per side that the Recorder does not know, in a %d-event log of %d people's interleaved histories: careerd's Recorder reads a person from the PostgreSQL read model up to its checkpoint and the log after it; the baseline reads the person from the log alone (message gets and an ephemeral consumer, which walk the stream past every other person's events).",
			coldPeople, head, len(people)),
	})
	return nil
}

// warm records one event for each of up to -lag-people people with a new
// Recorder (not measured), so that the measurement that follows writes to
// people the Recorder and the projector both hold, and waits until the
// projector has applied them.
func (b *bench) warm(ctx context.Context, env *natsEnv, ts *timedStore, people []string) (*events.Recorder, []string, error) {
	set := people[:min(b.cfg.lagPeople, len(people))]
	rec := events.NewRecorder(env.log, b.cat, nil)
	rec.History = projections.History(ts) // as careerd's, its read model
	g := newGen(5, b.cat)
	progress("lag: warming the Recorder on %d people (not measured)", len(set))
	if _, err := recordFor(ctx, rec, g, &keys{prefix: "lagwarm-"}, set, time.Time{}); err != nil {
		return nil, nil, err
	}
	head, err := env.log.Head(ctx)
	if err != nil {
		return nil, nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := ts.WaitFor(wctx, head); err != nil {
		return nil, nil, fmt.Errorf("projector did not catch up with the warm-up: %w", err)
	}
	return rec, set, nil
}

// caughtUp waits (up to 5 minutes) until the projector has applied the log.
func (b *bench) caughtUp(ctx context.Context, env *natsEnv, ts *timedStore) error {
	head, err := env.log.Head(ctx)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := ts.WaitFor(wctx, head); err != nil {
		return fmt.Errorf("the projector has not caught up after 5 minutes: %w", err)
	}
	return nil
}

// lagAt records at target events/s for dur and adds a row with the lag
// from each command's return to the commit that holds its event.
func (b *bench) lagAt(ctx context.Context, rec *events.Recorder, ts *timedStore, set []string, target float64, dur time.Duration, label, why string, judged bool) error {
	total := max(int(target*dur.Seconds()), 1)
	interval := time.Duration(float64(time.Second) / target)
	// As testing.B does before each benchmark: the garbage of what ran
	// before (a rebuild, or the previous rate's burst) is collected now
	// rather than in this measurement's window.
	runtime.GC()
	progress("lag: recording %d events at %s (%s) for %s with the projector running", total, fmtRate(target, "ev"), why, dur)
	if b.cfg.lagProf != "" && b.cfg.cpuprof == "" {
		f, err := os.Create(b.cfg.lagProf)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		b.cfg.lagProf = "" // the first measurement only
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if b.cfg.lagTrace != "" {
		f, err := os.Create(b.cfg.lagTrace)
		if err != nil {
			return err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			return err
		}
		b.cfg.lagTrace = "" // the first measurement only
		defer func() {
			trace.Stop()
			f.Close()
		}()
	}
	if b.cfg.lagMem != "" {
		path := b.cfg.lagMem
		b.cfg.lagMem = "" // the first measurement only
		// The window's own allocations: pprof -diff_base path.start path.
		if err := writeHeapProfile(path + ".start"); err != nil {
			progress("lag: heap profile: %v", err)
		}
		defer func() {
			if err := writeHeapProfile(path); err != nil {
				progress("lag: heap profile: %v", err)
			}
		}()
	}
	ts.track(true)
	if b.timed != nil {
		b.timed.take()
	}
	type obs struct {
		pos uint64
		ack time.Time
	}
	const workers = 4
	jobs := make(chan int, 4096)
	results := make([][]obs, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			g := newGen(uint64(200+w), b.cat)
			k := &keys{prefix: fmt.Sprintf("lag-%d-", w)}
			for i := range jobs {
				if errs[w] != nil {
					continue
				}
				p := set[i%len(set)]
				res, err := rec.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: p,
					Accomplishment: g.accomplishment("", b.lagFrom()), IdempotencyKey: k.next()})
				if err != nil {
					errs[w] = err
					continue
				}
				results[w] = append(results[w], obs{pos: res.Position, ack: time.Now()})
			}
		})
	}
	cpu0, gc0 := readCPU(), readGC()
	start := time.Now()
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var all []obs
	var last uint64
	for _, rs := range results {
		all = append(all, rs...)
		for _, o := range rs {
			last = max(last, o.pos)
		}
	}
	// A projector slower than the recording rate is still catching up:
	// give it time (at least 500 events/s), then count what it has not
	// applied with its lag so far (a lower bound).
	wctx, cancel := context.WithTimeout(ctx, time.Minute+time.Duration(len(all))*2*time.Millisecond)
	_ = ts.WaitFor(wctx, last) // nil, or the wait gave up: see unapplied
	cancel()
	if err := ctx.Err(); err != nil {
		return err
	}
	caughtAt := time.Now()
	cpu1, gc1 := readCPU(), readGC()
	commits := ts.track(false)
	lags := make([]time.Duration, 0, len(all))
	waits, stores := make([]time.Duration, 0, len(all)), make([]time.Duration, 0, len(all))
	var delivered []time.Duration
	var deliveries []delivery
	if b.timed != nil {
		deliveries = b.timed.take()
	}
	var series *strings.Builder
	if b.cfg.lagCSV != "" {
		series = &strings.Builder{}
		series.WriteString("ack_ms,delivered_ms,apply_ms,commit_ms\n")
	}
	ms := func(t time.Time) string { return fmt.Sprintf("%.2f", float64(t.Sub(start).Microseconds())/1000) }
	early, unapplied := 0, 0
	for _, o := range all {
		i := sort.Search(len(commits), func(i int) bool { return commits[i].position >= o.pos })
		if i == len(commits) {
			unapplied++
			lags = append(lags, caughtAt.Sub(o.ack))
			continue
		}
		l := commits[i].at.Sub(o.ack)
		waits = append(waits, max(commits[i].start.Sub(o.ack), 0))
		if j := sort.Search(len(deliveries), func(j int) bool { return deliveries[j].last >= o.pos }); j < len(deliveries) {
			delivered = append(delivered, max(deliveries[j].at.Sub(o.ack), 0))
		}
		stores = append(stores, commits[i].at.Sub(commits[i].start))
		if series != nil {
			got := ""
			if j := sort.Search(len(deliveries), func(j int) bool { return deliveries[j].last >= o.pos }); j < len(deliveries) {
				got = ms(deliveries[j].at)
			}
			fmt.Fprintf(series, "%s,%s,%s,%s\n", ms(o.ack), got, ms(commits[i].start), ms(commits[i].at))
		}
		if l < 0 {
			early++ // committed before the command returned to its caller
			l = 0
		}
		lags = append(lags, l)
	}
	if series != nil {
		path := b.cfg.lagCSV
		b.cfg.lagCSV = "" // the first measurement only
		if err := os.WriteFile(path, []byte(series.String()), 0o644); err != nil {
			return err
		}
	}
	slices.Sort(lags)
	slices.Sort(waits)
	slices.Sort(stores)
	slices.Sort(delivered)
	if len(delivered) > 0 {
		progress("lag: ack to the projector's batch p50 %s p99 %s", fmtDur(percentile(delivered, 50)), fmtDur(percentile(delivered, 99)))
	}
	if len(waits) > 0 {
		progress("lag: ack to the store's Apply p50 %s p99 %s; Apply to commit p50 %s p99 %s",
			fmtDur(percentile(waits, 50)), fmtDur(percentile(waits, 99)), fmtDur(percentile(stores, 50)), fmtDur(percentile(stores, 99)))
	}
	p50, p99, worst := percentile(lags, 50), percentile(lags, 99), lags[len(lags)-1]
	// The same events as careerd's live-lag histogram sees them: from the
	// server's stamp (before the acknowledgement) to the report of the
	// commit.
	stamped := ""
	if st := ts.stamps(); len(st) > 0 {
		slices.Sort(st)
		stamped = fmt.Sprintf(" careerd's live-lag histogram (server stamp to commit) would have seen %d events with p50 %s, p99 %s.",
			len(st), fmtDur(percentile(st, 50)), fmtDur(percentile(st, 99)))
		progress("lag:%s", stamped)
	}
	applied := 0
	for _, c := range commits {
		applied += c.size
	}
	rest := "PostgreSQL, the kernel"
	if b.natsApart != "" {
		rest = "PostgreSQL, " + b.natsApart + ", the kernel"
	}
	cpu := cpuBetween(cpu0, cpu1, len(all), rest)
	if cpu != "" {
		window := "From the first command to the last commit"
		if unapplied > 0 {
			window = "From the first command to the end of the wait for the projector"
		}
		progress("lag: %s, %s", strings.ToLower(window[:1])+window[1:], cpu)
		cpu = " " + window + ", " + cpu + "."
	}
	gc := gcBetween(gc0, gc1)
	progress("lag: in the window, %s", gc)
	cpu += " In the window, " + gc + "." + stamped
	b.add(row{
		Scenario: fmt.Sprintf("%s, ack to read-model commit, at %s (PostgreSQL)", label, fmtRate(rate(len(all), elapsed), "ev")),
		Measured: fmt.Sprintf("p99 %s (p50 %s, max %s)", fmtDur(p99), fmtDur(p50), fmtDur(worst)),
		Baseline: "-", Ratio: "-", Goal: "p99 < 50 ms", Verdict: verdictIf(judged, p99 < 50*time.Millisecond),
		Note: fmt.Sprintf("Target %s (%s); %d RecordAccomplishment commands over %s from 4 paced goroutines on %d warm people, the projector (PostgreSQL store, %d-event log) running; %d transactions, %.1f events each on average; %d events were committed before their command returned (counted as 0); %d were still not applied when the wait gave up (counted with their lag so far).%s",
			fmtRate(target, "ev"), why, len(all), elapsed.Round(time.Millisecond), len(set), last, len(commits), float64(applied)/float64(max(len(commits), 1)), early, unapplied, cpu),
	})
	return nil
}

// distribution is scenario 7: the skill distribution of every department
// on a date (the skillDistribution query's read-model call) over the
// rebuilt population, on PostgreSQL and on the memory store.
func (b *bench) distribution(ctx context.Context, env *natsEnv, pool *pgxpool.Pool, pg *postgres.Store, npeople int) error {
	cfg := b.cfg
	if cfg.analyze {
		progress("dist: ANALYZE")
		if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
			return err
		}
	}
	type query struct {
		field domain.Field
		asOf  domain.Date
	}
	today := domain.MustDate("2026-11-26")
	span := int(today.Days() - epoch.Days())
	queries := make([]query, cfg.distRuns)
	for i := range queries {
		queries[i] = query{field: domain.Fields[i%len(domain.Fields)], asOf: epoch.AddDays(span * (i + 1) / len(queries))}
	}
	measure := func(rm interface {
		Distribution(context.Context, domain.Field, domain.Date, string) ([]projections.Cell, error)
	}) (p50, p99 time.Duration, counted int, err error) {
		for _, q := range queries[:2] { // warm-up
			if _, err := rm.Distribution(ctx, q.field, q.asOf, ""); err != nil {
				return 0, 0, 0, err
			}
		}
		lat := make([]time.Duration, 0, len(queries))
		for _, q := range queries {
			t := time.Now()
			cells, err := rm.Distribution(ctx, q.field, q.asOf, "")
			lat = append(lat, time.Since(t))
			if err != nil {
				return 0, 0, 0, err
			}
			if q == queries[len(queries)-1] {
				for _, c := range cells {
					counted += c.Count
				}
			}
		}
		return percentile(lat, 50), percentile(lat, 99), counted, nil
	}
	progress("dist: %d distributions on PostgreSQL", len(queries))
	p50, p99, counted, err := measure(pg)
	if err != nil {
		return err
	}
	b.add(row{
		Scenario: fmt.Sprintf("7a Distribution of %d people on a date, PostgreSQL", npeople),
		Measured: fmt.Sprintf("p50 %s, p99 %s", fmtDur(p50), fmtDur(p99)),
		Baseline: "-", Ratio: "-", Goal: "< 50 ms (p99)", Verdict: verdict(p99 < 50*time.Millisecond),
		Note: fmt.Sprintf("postgres.Store.Distribution (what skillDistribution calls), all departments, %d dates from %s to %s cycling the 3 fields; the last one counted %d people in %d departments; ANALYZE before: %v.",
			len(queries), queries[0].asOf, queries[len(queries)-1].asOf, counted, len(departments), cfg.analyze),
	})
	if err := b.trend(ctx, pg, npeople, today); err != nil {
		return err
	}
	if err := b.knownAt(ctx, "7k", "PostgreSQL", pg, npeople, today); err != nil {
		return err
	}
	if cfg.skipMemory {
		return nil
	}
	head, err := env.log.Head(ctx)
	if err != nil {
		return err
	}
	progress("dist: rebuilding the memory store from %d events", head)
	c0 := cpuTime()
	mem, took, err := b.memoryRebuild(ctx, env.log, head)
	used := cpuTime() - c0
	if err != nil {
		return err
	}
	b.add(row{
		Scenario: fmt.Sprintf("7b Rebuild %d events into the memory store", head),
		Measured: fmtRate(rate(int(head), took), "ev") + " (" + fmtDur(took) + ")",
		Baseline: "-", Ratio: "-", Goal: "-", Verdict: info,
		Note: fmt.Sprintf("The same Projector with memory.Store: the projector's own cost (fold, judge, views, in-process NATS) without PostgreSQL; CPU of this process %s (%.0f%% of the wall time, %s per event).",
			fmtDur(used), 100*used.Seconds()/took.Seconds(), fmtDur(used/time.Duration(head))),
	})
	progress("dist: %d distributions on the memory store", len(queries))
	p50, p99, counted, err = measure(mem)
	if err != nil {
		return err
	}
	b.add(row{
		Scenario: fmt.Sprintf("7c Distribution of %d people on a date, memory store", npeople),
		Measured: fmt.Sprintf("p50 %s, p99 %s", fmtDur(p50), fmtDur(p99)),
		Baseline: "-", Ratio: "-", Goal: "< 50 ms (p99)", Verdict: verdict(p99 < 50*time.Millisecond),
		Note: fmt.Sprintf("memory.Store.Distribution, the same %d queries; the last one counted %d people.", len(queries), counted),
	})
	return b.knownAt(ctx, "7m", "memory store", mem, npeople, today)
}

// knownAt measures skillDistribution with knownAt on today, for everyone:
// projections.DistributionsKnownAt, a replay of every person's events,
// as known now (so that it must equal the store's Distribution, which it
// checks), best of two.
func (b *bench) knownAt(ctx context.Context, id, name string, rm interface {
	projections.KnownAtReader
	Distribution(context.Context, domain.Field, domain.Date, string) ([]projections.Cell, error)
}, npeople int, today domain.Date) error {
	field := domain.NetworkOperation
	progress("dist: a distribution as known at an instant (replay) on the %s", name)
	want, err := rm.Distribution(ctx, field, today, "")
	if err != nil {
		return err
	}
	var best time.Duration
	c0 := cpuTime()
	for i := range 2 {
		t := time.Now()
		got, err := projections.DistributionsKnownAt(ctx, rm, b.cat, field, []domain.Date{today}, "", time.Now())
		if d := time.Since(t); i == 0 || d < best {
			best = d
		}
		if err != nil {
			return err
		}
		if !slices.Equal(got[0], want) && (len(got[0]) > 0 || len(want) > 0) {
			return fmt.Errorf("knownAt: the replay as known now differs from the distribution: %+v against %+v", got[0], want)
		}
	}
	used := (cpuTime() - c0) / 2
	b.add(row{
		Scenario: fmt.Sprintf("%s A distribution of %d people as known at an instant (replay), %s (info)", id, npeople, name),
		Measured: fmtDur(best), Baseline: "-", Ratio: "-", Goal: "-", Verdict: info,
		Note: fmt.Sprintf("projections.DistributionsKnownAt (what skillDistribution(knownAt:) calls) for %s on %s, all departments: every person's events read, folded up to the instant, judged and counted; best of 2, %s of this process's CPU each; equal to the store's Distribution, as it must be for an instant after the last event.",
			field, today, fmtDur(used)),
	})
	return nil
}

// verdictIf is verdict(ok) for a judged row and info otherwise.
func verdictIf(judged, ok bool) string {
	if !judged {
		return info
	}
	return verdict(ok)
}

// writeHeapProfile writes the live heap, as the last collection found it,
// after one more collection.
func writeHeapProfile(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// trend measures a daily skillTrend over the year before today on
// PostgreSQL: the store's Trend (one statement) against a Distribution per
// date (what the resolver did before), best of three each, and checks that
// the two agree.
func (b *bench) trend(ctx context.Context, pg *postgres.Store, npeople int, today domain.Date) error {
	var dates []domain.Date
	for d := today.AddDays(-365); !d.After(today); d = d.AddDays(1) {
		dates = append(dates, d)
	}
	field := domain.ServiceDesk
	progress("dist: a daily trend of %d dates on PostgreSQL, both ways", len(dates))
	best := func(run func() ([][]projections.Cell, error)) (time.Duration, [][]projections.Cell, error) {
		var bestD time.Duration
		var out [][]projections.Cell
		for i := range 3 {
			t := time.Now()
			got, err := run()
			if d := time.Since(t); i == 0 || d < bestD {
				bestD = d
			}
			if err != nil {
				return 0, nil, err
			}
			out = got
		}
		return bestD, out, nil
	}
	one, trend, err := best(func() ([][]projections.Cell, error) { return pg.Trend(ctx, field, dates, "") })
	if err != nil {
		return err
	}
	each, perDate, err := best(func() ([][]projections.Cell, error) {
		out := make([][]projections.Cell, len(dates))
		for i, d := range dates {
			cells, err := pg.Distribution(ctx, field, d, "")
			if err != nil {
				return nil, err
			}
			out[i] = cells
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	for i := range dates {
		if !slices.Equal(trend[i], perDate[i]) {
			return fmt.Errorf("trend: the point on %s differs from its distribution: %+v against %+v", dates[i], trend[i], perDate[i])
		}
	}
	b.add(row{
		Scenario: fmt.Sprintf("7t A daily trend over a year, %d people, PostgreSQL (info)", npeople),
		Measured: fmtDur(one), Baseline: fmtDur(each), Ratio: fmt.Sprintf("%.0fx", float64(each)/float64(max(one, 1))),
		Goal: "-", Verdict: info,
		Note: fmt.Sprintf("postgres.Store.Trend (what skillTrend calls) for %s on the %d days up to %s, all departments, against one Distribution per day (the baseline, what skillTrend did before); best of 3 each; every point equal.",
			field, len(dates), today),
	})
	return nil
}

// lagFrom is the first day the live-lag scenario's evidence may carry:
// any day since epoch, or the last -lag-recent days before latest.
func (b *bench) lagFrom() domain.Date {
	if b.cfg.lagRecent <= 0 {
		return epoch
	}
	return latest.AddDays(-b.cfg.lagRecent)
}
