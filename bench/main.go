// Command bench runs every benchmark scenario of careerledger against its
// raw baseline in the same run and prints one table (plain text, then
// Markdown) to stdout; progress goes to stderr.
//
//	go run ./bench                       # the target sizes (make bench)
//	go run ./bench -events 200000 -people 20000 -only rebuild,lag,dist
//	go run ./bench -out docs/bench-table.md
//
// Scenarios: judge (domain judgment), record (command path vs raw
// publishes, both durability settings), rebuild (projector into PostgreSQL
// vs the simplest projector), lag (publish ack to read-model commit), dist
// (skill distribution on PostgreSQL and memory), tcp (the single writer and
// the live lag with the NATS server reached over TCP, careerd's production
// topology), graphql (gqlgen vs a bare handler). It needs the local
// PostgreSQL (make services); JetStream runs embedded in this process,
// except for the tcp scenario, which uses the server at -nats-url.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/careerledger/careerledger/domain"
)

// config is the command line.
type config struct {
	out      string
	cpuprof  string
	lagProf  string
	lagTrace string
	lagMem   string
	lagCSV   string
	only     map[string]bool
	pgURL    string
	dir      string
	keepDB   bool

	judgePeople int

	recordDur    time.Duration
	rounds       int
	recordPeople int
	batch        int
	batchAlways  int

	events     int
	people     int
	chunk      int
	maxBatch   int
	maxCached  int
	analyze    bool
	lagDur     time.Duration
	lagPeople  int
	lagRecent  int
	lagRate    float64
	distRuns   int
	natsURL    string
	natsServer string
	skipMemory bool
	noBulk     bool

	gqlDur     time.Duration
	gqlPeople  int
	gqlClients int
}

// careerdGCPercent is careerd's collector target when GOGC is unset
// (cmd/careerd: defaultGCPercent).
const careerdGCPercent = 400

var scenarios = []string{"judge", "record", "rebuild", "lag", "dist", "tcp", "graphql", "cluster"}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	only := fs.String("only", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarios, ","))
	fs.StringVar(&c.out, "out", "", "also write the Markdown table to this file")
	fs.StringVar(&c.cpuprof, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&c.lagProf, "lag-cpuprofile", "", "write a CPU profile of the first live-lag measurement only to this file (not with -cpuprofile)")
	fs.StringVar(&c.lagTrace, "lag-trace", "", "write an execution trace of the first live-lag measurement only to this file (go tool trace; -pprof=sched for where goroutines waited for a core)")
	fs.StringVar(&c.lagMem, "lag-memprofile", "", "write a heap profile (live objects after a collection) at the end of the first live-lag measurement to this file, and one at its start to FILE.start (pprof -diff_base FILE.start FILE: the window's allocations)")
	fs.StringVar(&c.lagCSV, "lag-series", "", "write the first live-lag measurement's events to this CSV file (ms since the first command: acknowledged, batch delivered, Apply started, committed)")
	fs.StringVar(&c.pgURL, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL admin URL; a database careerledger_bench_<random> is created on it and dropped at the end")
	fs.StringVar(&c.dir, "dir", "", "directory for the embedded JetStream stores (default: a new temporary directory, removed at the end)")
	fs.BoolVar(&c.keepDB, "keep-db", false, "keep the benchmark database (its name is printed)")
	fs.IntVar(&c.judgePeople, "judge-people", 100_000, "people re-evaluated in scenario 1 (50 pieces of evidence each)")
	fs.DurationVar(&c.recordDur, "record-dur", 3*time.Second, "duration of each recording measurement (per side, per round)")
	fs.IntVar(&c.rounds, "rounds", 2, "rounds of each recording measurement, alternating which side runs first; the best round of each side is reported")
	fs.IntVar(&c.recordPeople, "record-people", 1000, "people (with history) the single-writer scenario writes to, per side")
	fs.IntVar(&c.batch, "batch", 20_000, "events per bulk import measurement with sync interval 2m")
	fs.IntVar(&c.batchAlways, "batch-always", 4_000, "events per bulk import measurement with fsync on every write")
	fs.IntVar(&c.events, "events", 200_000, "events in the rebuild log (the target is 1,000,000: see docs/benchmarks.md for why the default is smaller)")
	fs.IntVar(&c.people, "people", 20_000, "people in the rebuild log (the target: 100,000)")
	fs.IntVar(&c.chunk, "chunk", 10_000, "people per generation chunk: each chunk's events interleave in the log, as a year of activity would")
	fs.IntVar(&c.maxBatch, "max-batch", 1000, "projector batch size (real and baseline)")
	fs.IntVar(&c.maxCached, "max-cached", 0, "people the PostgreSQL projector keeps folded between batches (0: projections.DefaultMaxCached, negative: no bound)")
	fs.BoolVar(&c.analyze, "analyze", true, "ANALYZE the read model after the rebuild before querying distributions (what autovacuum does shortly after)")
	fs.DurationVar(&c.lagDur, "lag-dur", 10*time.Second, "how long to record in the live-lag scenario")
	fs.IntVar(&c.lagRecent, "lag-recent", 0, "date the live-lag scenario's evidence within this many days before 2026-06-30 (0: any day since 2012, each event rewriting years of its person's levels)")
	fs.IntVar(&c.lagPeople, "lag-people", 2000, "people the live-lag scenario writes to (warmed first, then each written to in turn)")
	fs.Float64Var(&c.lagRate, "lag-rate", 0, "events/s in the live-lag scenario (default: half the single-writer recorder rate measured with sync interval 2m, or 1000)")
	fs.IntVar(&c.distRuns, "dist-runs", 50, "distribution queries per store")
	fs.StringVar(&c.natsURL, "nats-url", "nats://127.0.0.1:4222", "the NATS server (with JetStream) of the tcp scenario, careerd's production topology; the scenario uses a stream of its own and deletes it")
	fs.StringVar(&c.natsServer, "nats-server", "nats-server", "the nats-server binary the cluster scenario starts three of (a path, or a command on PATH; /usr/sbin/nats-server if not on PATH)")
	fs.BoolVar(&c.noBulk, "no-bulk", false, "rebuild without the projector's bulk catch-up (judge every touched person in every batch)")
	fs.BoolVar(&c.skipMemory, "skip-memory", false, "skip the rebuild into the memory store (and its distribution row)")
	fs.DurationVar(&c.gqlDur, "gql-dur", 5*time.Second, "duration of each HTTP measurement")
	fs.IntVar(&c.gqlPeople, "gql-people", 5000, "people in the memory store the GraphQL scenario reads")
	fs.IntVar(&c.gqlClients, "gql-clients", 8, "concurrent HTTP clients")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.only = map[string]bool{}
	for s := range strings.SplitSeq(*only, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		known := false
		for _, k := range scenarios {
			known = known || k == s
		}
		if !known {
			return c, fmt.Errorf("-only: unknown scenario %q (one of %s)", s, strings.Join(scenarios, ","))
		}
		c.only[s] = true
	}
	if c.people <= 0 || c.events < c.people {
		return c, fmt.Errorf("-events must be at least -people (> 0)")
	}
	return c, nil
}

func (c config) runs(s string) bool { return len(c.only) == 0 || c.only[s] }

// progress prints to stderr with the elapsed time.
var started = time.Now()

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if err == flag.ErrHelp {
			return
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	// The process stands in for careerd (recorder, projector, read model
	// and embedded server in one heap): the same collector target.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(careerdGCPercent)
	}
	if cfg.cpuprof != "" {
		f, err := os.Create(cfg.cpuprof)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// bench holds what the scenarios share.
type bench struct {
	cfg   config
	cat   *domain.Catalogue
	dir   string
	rows  []row
	late  []row // rows printed after all others (see run)
	db    *benchDB
	timed *timedSource // the log the projectors follow, timed
	// measured by the recording scenario, used to pace the live-lag one
	singleRecorderRate2m float64
	// singleRecorderRateAlways is the same with an fsync on every write,
	// careerd's embedded default.
	singleRecorderRateAlways float64
	// measured by the rebuild scenario: what the real projector sustains
	projectorRate float64
	// natsApart names the NATS server(s) the running live-lag measurement
	// reaches as processes of their own ("": the embedded one).
	natsApart string
}

func (b *bench) add(r row) {
	b.rows = append(b.rows, r)
	progress("result: %s: %s (baseline %s, %s; goal %s) %s", r.Scenario, r.Measured, r.Baseline, r.Ratio, r.Goal, r.Verdict)
}

func run(ctx context.Context, cfg config, stdout io.Writer) error {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	b := &bench{cfg: cfg, cat: domain.DefaultCatalogue()}
	b.dir = cfg.dir
	if b.dir == "" {
		d, err := os.MkdirTemp("", "careerledger-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		b.dir = d
	}
	env := machine(ctx, cfg.pgURL)
	progress("machine: %s", strings.Join(env, "; "))

	needDB := cfg.runs("rebuild") || cfg.runs("lag") || cfg.runs("dist") || cfg.runs("tcp") || cfg.runs("cluster")
	if needDB {
		db, err := createDB(ctx, cfg.pgURL)
		if err != nil {
			return err
		}
		b.db = db
		defer func() {
			if cfg.keepDB {
				progress("kept database %s", db.name)
				db.pool.Close()
				return
			}
			if err := db.drop(); err != nil {
				progress("drop database %s: %v", db.name, err)
			}
		}()
	}

	if cfg.runs("judge") {
		b.judge(ctx)
	}
	if cfg.runs("record") {
		for _, mode := range syncModes {
			if err := b.record(ctx, mode); err != nil {
				return fmt.Errorf("record (%s): %w", mode.name, err)
			}
		}
	}
	if cfg.runs("rebuild") || cfg.runs("lag") || cfg.runs("dist") {
		if err := b.rebuildLagDist(ctx); err != nil {
			return err
		}
	}
	if cfg.runs("tcp") {
		if err := b.tcp(ctx); err != nil {
			return fmt.Errorf("tcp: %w", err)
		}
	}
	if cfg.runs("graphql") {
		if err := b.graphql(ctx); err != nil {
			return fmt.Errorf("graphql: %w", err)
		}
	}
	if cfg.runs("cluster") {
		if err := b.cluster(ctx); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	total := time.Since(started)

	// Rows added after the others, so that adding a scenario does not
	// renumber the rows the documentation names.
	for _, r := range b.late {
		b.add(r)
	}
	fmt.Fprintln(stdout)
	writeText(stdout, b.rows)
	fmt.Fprintln(stdout)
	var md strings.Builder
	fmt.Fprintf(&md, "Machine: %s\n\n", strings.Join(env, "; "))
	fmt.Fprintf(&md, "Command: `go run ./bench %s` (%s), total %s\n\n", strings.Join(os.Args[1:], " "), time.Now().Format("2006-01-02 15:04 MST"), total.Round(time.Second))
	writeMarkdown(&md, b.rows)
	fmt.Fprint(stdout, md.String())
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(md.String()), 0o644); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// machine describes where the numbers come from.
func machine(ctx context.Context, pgURL string) []string {
	gogc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gogc)
	out := []string{fmt.Sprintf("%d CPUs (GOMAXPROCS %d, GOGC %d)", runtime.NumCPU(), runtime.GOMAXPROCS(0), gogc)}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				out = append(out, strings.TrimSpace(v))
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb int64
			if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
				out = append(out, fmt.Sprintf("%.1f GiB RAM", float64(kb)/(1<<20)))
				break
			}
		}
		f.Close()
	}
	out = append(out, runtime.Version(), "nats-server "+server.VERSION+" (embedded, in-process)")
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(cctx, pgURL); err == nil {
		var v string
		if conn.QueryRow(cctx, "SHOW server_version").Scan(&v) == nil {
			out = append(out, "PostgreSQL "+strings.Fields(v)[0])
		}
		conn.Close(cctx)
	} else {
		out = append(out, "PostgreSQL unreachable")
	}
	return out
}
