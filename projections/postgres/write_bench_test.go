package postgres

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/memory"
)

// liveBatch is one batch as the projector hands it to the store on the live
// path: its events and the people they touched.
type liveBatch struct {
	events []events.Recorded
	people []projections.PersonProjection
}

// sliceSource delivers events in batches of a fixed size, then waits.
type sliceSource struct {
	all  []events.Recorded
	size int
}

func (s sliceSource) Follow(ctx context.Context, after uint64, _ int, handle func(context.Context, []events.Recorded) error) error {
	for i := int(after); i < len(s.all); i += s.size {
		if err := handle(ctx, s.all[i:min(i+s.size, len(s.all))]); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// capture is a memory store that keeps the batches the projector applies
// from position from on.
type capture struct {
	*memory.Store
	from    uint64
	mu      sync.Mutex
	batches []liveBatch
	done    chan struct{}
	want    int
}

func (c *capture) Apply(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection) error {
	if len(batch) > 0 && batch[0].Position > c.from {
		c.mu.Lock()
		c.batches = append(c.batches, liveBatch{batch, people})
		if len(c.batches) == c.want {
			close(c.done)
		}
		c.mu.Unlock()
	}
	return c.Store.Apply(ctx, position, batch, people)
}

// liveBatches folds people with a history of about ten events each, then
// n batches of 23 new accomplishments of random ones among them, as the
// live path of the lag benchmark does, and returns those n batches.
func liveBatches(tb testing.TB, cat *domain.Catalogue, n int) []liveBatch {
	r := rand.New(rand.NewPCG(7, 11))
	const people, history, perBatch = 400, 10, 23
	depts := []string{"Operations Tokyo", "Network Osaka", "Service Desk Nagoya", "Security Fukuoka"}
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	var all []events.Recorded
	add := func(id string, e events.Event) {
		at = at.Add(time.Second)
		all = append(all, events.Recorded{Position: uint64(len(all) + 1), PersonID: id, Type: e.EventType(),
			Version: 1, RecordedAt: at, RecordedBy: "bench", Event: e})
	}
	seq := 0
	accomplishment := func(id string) events.Event {
		seq++
		aid := id + ".A" + strconv.Itoa(seq)
		day := domain.MustDate("2014-01-01").AddDays(r.IntN(12 * 365))
		if r.IntN(2) == 0 {
			return events.FromAccomplishment(domain.Accomplishment{Assessment: &domain.ThemeAssessment{ID: aid,
				Theme: domain.Themes[r.IntN(len(domain.Themes))], Proficiency: domain.Proficiencies[r.IntN(len(domain.Proficiencies))],
				AssessedOn: day}})
		}
		f := domain.Fields[r.IntN(len(domain.Fields))]
		e := &domain.Engagement{ID: aid, Field: f, Title: "Backbone migration " + strconv.Itoa(r.IntN(1000)),
			Role: domain.Roles[r.IntN(len(domain.Roles))], StartedOn: day, CompletedOn: day.AddDays(r.IntN(400)),
			Outcome: domain.Successful, WithinBudget: r.IntN(4) > 0}
		for _, c := range cat.CriteriaOf(f) {
			if r.IntN(2) == 0 {
				e.Complexity = append(e.Complexity, c)
			}
		}
		return events.FromAccomplishment(domain.Accomplishment{Engagement: e})
	}
	for p := range people {
		id := "P" + strconv.Itoa(100000+p)
		add(id, events.PersonRegistered{PersonID: id, Name: "Person " + id, Department: depts[p%len(depts)],
			JoinedOn: domain.MustDate("2010-04-01").AddDays(r.IntN(1500))})
		for range history - 1 {
			add(id, accomplishment(id))
		}
	}
	from := uint64(len(all))
	for range n * perBatch {
		id := "P" + strconv.Itoa(100000+r.IntN(people))
		add(id, accomplishment(id))
	}
	c := &capture{Store: memory.New(cat), from: from, done: make(chan struct{}), want: n}
	ctx, cancel := context.WithCancel(context.Background())
	p := &projections.Projector{Catalogue: cat, Source: sliceSource{all, perBatch}, Store: c, MaxBatch: perBatch,
		Now: func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }}
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	select {
	case <-c.done:
	case err := <-errc:
		tb.Fatalf("projector: %v", err)
	case <-time.After(60 * time.Second):
		tb.Fatal("projector stuck")
	}
	cancel()
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
	return c.batches
}

// encoder encodes queued statements as pgx does for a pipeline (parameters
// by the statement's description, then the Bind message), without sending.
type encoder struct {
	conn *pgx.Conn
	sds  map[string]*pgconn.StatementDescription
	eqb  pgx.ExtendedQueryBuilder
}

func (e *encoder) encode(tb testing.TB, b *pgx.Batch) int {
	buf := make([]byte, 0, 1024) // pgx's write buffer after a flush
	for _, q := range b.QueuedQueries {
		sd, ok := e.sds[q.SQL]
		if !ok {
			var err error
			if sd, err = e.conn.Prepare(context.Background(), "", q.SQL); err != nil {
				tb.Fatalf("prepare %s: %v", q.SQL, err)
			}
			e.sds[q.SQL] = sd
		}
		if err := e.eqb.Build(e.conn.TypeMap(), sd, q.Arguments); err != nil {
			tb.Fatalf("encode %s: %v", q.SQL, err)
		}
		var err error
		if buf, err = (&pgproto3.Bind{ParameterFormatCodes: e.eqb.ParamFormats, Parameters: e.eqb.ParamValues,
			ResultFormatCodes: e.eqb.ResultFormats}).Encode(buf); err != nil {
			tb.Fatal(err)
		}
	}
	return len(buf)
}

// BenchmarkLiveBatchWrites builds and encodes the statements of one live
// batch (23 accomplishments of people with a history): writeEvents and
// replacePeople queue them, pgx encodes their parameters and Bind messages.
// No statement runs; the database only describes them once.
func BenchmarkLiveBatchWrites(b *testing.B) {
	cat := domain.DefaultCatalogue()
	batches := liveBatches(b, cat, 40)
	pool := benchPool(b)
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	s := New(pool, cat, "")
	e := &encoder{conn: conn.Conn(), sds: map[string]*pgconn.StatementDescription{}}
	ctx := context.Background()
	run := func(b *testing.B, events, people bool) {
		bytes := 0
		for i := 0; b.Loop(); i++ {
			lb := batches[i%len(batches)]
			w := &writes{schema: s.schema, copyAbove: s.copyAbove(false)}
			if events {
				if err := s.writeEvents(ctx, w, lb.events, 0); err != nil {
					b.Fatal(err)
				}
			}
			if people {
				if err := s.replacePeople(ctx, w, lb.people); err != nil {
					b.Fatal(err)
				}
			}
			bytes += e.encode(b, &w.b)
		}
		b.ReportMetric(float64(bytes)/float64(b.N), "bind-B/op")
	}
	b.Run("people", func(b *testing.B) { run(b, false, true) })
	b.Run("events", func(b *testing.B) { run(b, true, false) })
	b.Run("batch", func(b *testing.B) { run(b, true, true) })
}

// benchPool is a pool on a fresh migrated database, dropped at the end
// (pgtest imports this package, so its tests inside it cannot use it).
func benchPool(b *testing.B) *pgxpool.Pool {
	const admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		b.Skipf("no PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	name := "careerledger_test_bench_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			b.Error(err)
		}
	})
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:5432/"+name+"?sslmode=disable")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if err := Migrate(ctx, pool, DefaultSchema); err != nil {
		b.Fatal(err)
	}
	return pool
}
