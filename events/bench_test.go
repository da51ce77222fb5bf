package events

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// syncModes are the two durability settings benchmarked: fsync every write
// (the default) and the server's 2-minute interval.
var syncModes = []struct {
	name     string
	interval time.Duration
}{{"sync=always", 0}, {"sync=2m", 2 * time.Minute}}

func benchLog(b *testing.B, interval time.Duration) (*Log, *nats.Conn) {
	b.Helper()
	nc := connectEmbedded(b, startEmbedded(b, interval))
	l, err := OpenLog(context.Background(), nc, LogConfig{})
	if err != nil {
		b.Fatal(err)
	}
	return l, nc
}

// benchEvent is a typical engagement (about 330 bytes of JSON).
func benchEvent(i int) Event {
	e := FromAccomplishment(sampleEngagement("Backbone migration " + strconv.Itoa(i))).(EngagementRecorded)
	e.AccomplishmentID = fmt.Sprintf("P%d.ABCDEFGHIJ", i)
	return e
}

// rawMessage builds what Append publishes, with every header.
func rawMessage(b *testing.B, l *Log, person string, expected uint64, i int) *nats.Msg {
	m, err := l.message(person, expected, person+":"+strconv.Itoa(i), benchEvent(i), time.Now(), strconv.Itoa(i), "")
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// The scenario benchmarks run each workload twice in the same process, on
// fresh in-process servers with the same durability setting: raw (what the
// log's own publishing costs, every header included) and through the
// Recorder. The second reports vs-raw: its throughput as a fraction of the
// raw one's (raw ns/op divided by its ns/op).
//
//	go test -run XXX -bench 'SingleWriter|EightWriters|Bulk' ./events

// rawNsPerOp remembers the raw sub-benchmark's cost for the next one.
var rawNsPerOp float64

func reportRaw(b *testing.B) {
	rawNsPerOp = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

func reportVsRaw(b *testing.B) {
	if rawNsPerOp > 0 && b.N > 0 {
		b.ReportMetric(rawNsPerOp/(float64(b.Elapsed().Nanoseconds())/float64(b.N)), "vs-raw")
	}
}

// eventsPerPerson is how many accomplishments each person gets in the
// single-command scenarios, so that a person's history is 1-20 events, as a
// real person's would be.
const eventsPerPerson = 20

// registerPeople registers people prefix0..prefix(n-1) (untimed), so that
// the Recorder knows them as it would after serving them.
func registerPeople(b *testing.B, r *Recorder, prefix string, n int) {
	cmds := make([]Command, n)
	for i := range cmds {
		cmds[i] = RegisterPerson{ID: prefix + strconv.Itoa(i), Name: "n", Department: "d", JoinedOn: domain.MustDate("2020-01-01"), IdempotencyKey: "reg"}
	}
	for _, res := range r.RecordBatch(context.Background(), cmds) {
		if res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

// publishRaw publishes n engagements synchronously, eventsPerPerson per
// person, with the expected subject sequence chained per person.
func publishRaw(b *testing.B, l *Log, prefix string, n int) {
	ctx := context.Background()
	var last uint64
	for i := range n {
		if i%eventsPerPerson == 0 {
			last = 0
		}
		ack, err := l.js.PublishMsg(ctx, rawMessage(b, l, prefix+strconv.Itoa(i/eventsPerPerson), last, i))
		if err != nil {
			b.Error(err)
			return
		}
		last = ack.Sequence
	}
}

// recordMany records n engagements through the Recorder, eventsPerPerson
// per (registered) person, each with an idempotency key.
func recordMany(b *testing.B, r *Recorder, prefix string, n int) {
	ctx := context.Background()
	a := sampleEngagement("Backbone migration")
	for i := range n {
		if _, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: prefix + strconv.Itoa(i/eventsPerPerson), Accomplishment: a, IdempotencyKey: strconv.Itoa(i)}); err != nil {
			b.Error(err)
			return
		}
	}
}

// BenchmarkSingleWriter: one writer recording engagements.
func BenchmarkSingleWriter(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name+"/raw", func(b *testing.B) {
			l, _ := benchLog(b, mode.interval)
			b.ResetTimer()
			publishRaw(b, l, "P", b.N)
			reportRaw(b)
		})
		b.Run(mode.name+"/recorder", func(b *testing.B) {
			l, _ := benchLog(b, mode.interval)
			r := NewRecorder(l, testCatalogue, time.Now)
			registerPeople(b, r, "P", b.N/eventsPerPerson+1)
			b.ResetTimer()
			recordMany(b, r, "P", b.N)
			reportVsRaw(b)
		})
	}
}

// BenchmarkEightWriters: 8 writers, each on people of its own.
func BenchmarkEightWriters(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name+"/raw", func(b *testing.B) {
			l, _ := benchLog(b, mode.interval)
			parallel8(b, func(w, n int) { publishRaw(b, l, "W"+strconv.Itoa(w)+"x", n) })
			reportRaw(b)
		})
		b.Run(mode.name+"/recorder", func(b *testing.B) {
			l, _ := benchLog(b, mode.interval)
			r := NewRecorder(l, testCatalogue, time.Now)
			for w := range 8 {
				registerPeople(b, r, "W"+strconv.Itoa(w)+"x", b.N/8/eventsPerPerson+1)
			}
			parallel8(b, func(w, n int) { recordMany(b, r, "W"+strconv.Itoa(w)+"x", n) })
			reportVsRaw(b)
		})
	}
}

// parallel8 splits b.N operations over 8 goroutines.
func parallel8(b *testing.B, f func(worker, n int)) {
	const workers = 8
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range workers {
		n := b.N / workers
		if w < b.N%workers {
			n++
		}
		wg.Go(func() { f(w, n) })
	}
	wg.Wait()
}

// BenchmarkBulk: b.N events in one go. raw-async publishes b.N engagements
// asynchronously, each to a new person with expected sequence 0, a msg id
// and a key (the cheapest a bulk import can be: no chains, no reads), and
// waits for every ack. record-batch runs b.N commands through RecordBatch,
// ten per new person: a registration, then nine engagements (a chain of
// ten appends per person). record-batch-known records b.N engagements for people the Recorder
// already knows, ten per person.
func BenchmarkBulk(b *testing.B) {
	const per = 10
	for _, mode := range syncModes {
		b.Run(mode.name+"/raw-async", func(b *testing.B) {
			l, _ := benchLog(b, mode.interval)
			b.ResetTimer()
			futs := make([]jetstream.PubAckFuture, 0, b.N)
			for i := range b.N {
				f, err := l.asyncJS.PublishMsgAsync(rawMessage(b, l, "A"+strconv.Itoa(i), 0, i), jetstream.WithStallWait(asyncStallWait))
				if err != nil {
					b.Fatal(err)
				}
				futs = append(futs, f)
			}
			for _, f := range futs {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					b.Fatal(err)
				}
			}
			reportRaw(b)
		})
		b.Run(mode.name+"/record-batch", func(b *testing.B) {
			l, _ := benchLog(b, mode.interval)
			r := NewRecorder(l, testCatalogue, time.Now)
			a := sampleEngagement("Backbone migration")
			cmds := make([]Command, b.N)
			for i := range cmds {
				id := "A" + strconv.Itoa(i/per)
				if i%per == 0 {
					cmds[i] = RegisterPerson{ID: id, Name: "n", Department: "d", JoinedOn: domain.MustDate("2020-01-01"), IdempotencyKey: strconv.Itoa(i)}
				} else {
					cmds[i] = RecordAccomplishment{PersonID: id, Accomplishment: a, IdempotencyKey: strconv.Itoa(i)}
				}
			}
			b.ResetTimer()
			recordBatch(b, r, cmds)
			reportVsRaw(b)
		})
		b.Run(mode.name+"/record-batch-known", func(b *testing.B) {
			l, _ := benchLog(b, mode.interval)
			r := NewRecorder(l, testCatalogue, time.Now)
			registerPeople(b, r, "A", b.N/per+1)
			a := sampleEngagement("Backbone migration")
			cmds := make([]Command, b.N)
			for i := range cmds {
				cmds[i] = RecordAccomplishment{PersonID: "A" + strconv.Itoa(i/per), Accomplishment: a, IdempotencyKey: strconv.Itoa(i)}
			}
			b.ResetTimer()
			recordBatch(b, r, cmds)
			reportVsRaw(b)
		})
	}
}

func recordBatch(b *testing.B, r *Recorder, cmds []Command) {
	for i, res := range r.RecordBatch(context.Background(), cmds) {
		if res.Err != nil || res.Result.Duplicate {
			b.Fatalf("command %d: %+v", i, res)
		}
	}
}

// BenchmarkAppendBatch runs the same workload through AppendBatch (one event
// per person), and with 10 events per person (chains of 10 appends).
func BenchmarkAppendBatch(b *testing.B) {
	for _, perPerson := range []int{1, 10} {
		for _, mode := range syncModes {
			b.Run(fmt.Sprintf("perPerson=%d/%s", perPerson, mode.name), func(b *testing.B) {
				l, _ := benchLog(b, mode.interval)
				ps := make([]Pending, b.N)
				for i := range ps {
					person := "A" + strconv.Itoa(i/perPerson)
					ps[i] = Pending{PersonID: person, MsgID: person + ":" + strconv.Itoa(i), Event: benchEvent(i), RecordedAt: time.Now(), IdempotencyKey: strconv.Itoa(i)}
				}
				b.ResetTimer()
				out, err := l.AppendBatch(context.Background(), ps)
				if err != nil {
					b.Fatal(err)
				}
				for _, o := range out {
					if o.Err != nil {
						b.Fatal(o.Err)
					}
				}
			})
		}
	}
}

// BenchmarkLoad compares the ways to load a person of n events: message
// gets only, an ephemeral consumer only, and the hybrid Load uses.
func BenchmarkLoad(b *testing.B) {
	l, _ := benchLog(b, 2*time.Minute)
	ctx := context.Background()
	sizes := []int{0, 1, 5, 20, 100, 500}
	// Interleave other people's events, as in a real log.
	var ps []Pending
	for _, n := range sizes {
		for i := range n {
			for _, p := range []string{"L" + strconv.Itoa(n), "noise" + strconv.Itoa(i%7)} {
				ps = append(ps, Pending{PersonID: p, Event: benchEvent(i), RecordedAt: time.Now()})
			}
		}
	}
	if _, err := l.AppendBatch(ctx, ps); err != nil {
		b.Fatal(err)
	}
	saved := loadGetsBeforeConsumer
	defer func() { loadGetsBeforeConsumer = saved }()
	for _, strategy := range []struct {
		name string
		gets int
	}{{"gets", 1 << 30}, {"consumer", 0}, {"hybrid", saved}} {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/events=%d", strategy.name, n), func(b *testing.B) {
				loadGetsBeforeConsumer = strategy.gets
				for b.Loop() {
					rs, _, err := l.Load(ctx, "L"+strconv.Itoa(n))
					if err != nil || len(rs) != n {
						b.Fatal(len(rs), err)
					}
				}
			})
		}
	}
}

// histories are the commands that register people prefix0, prefix1, ...
// and record per-1 engagements for each, every command with a key.
func histories(prefix string, people, per int) []Command {
	a := sampleEngagement("Backbone migration")
	cmds := make([]Command, 0, people*per)
	for i := range people * per {
		id := prefix + strconv.Itoa(i/per)
		if i%per == 0 {
			cmds = append(cmds, RegisterPerson{ID: id, Name: "n", Department: "d", JoinedOn: domain.MustDate("2020-01-01"), IdempotencyKey: "k" + strconv.Itoa(i)})
		} else {
			cmds = append(cmds, RecordAccomplishment{PersonID: id, Accomplishment: a, IdempotencyKey: "k" + strconv.Itoa(i)})
		}
	}
	return cmds
}

// BenchmarkRepeats: requests sent again with their idempotency keys (a
// client's retry, a file imported again). batch re-sends a batch of 2,000
// commands already recorded (200 people: a registration and nine
// engagements each) through RecordBatch, per op: to the Recorder that
// recorded it (remembered), and to a new Recorder each time, as after a
// restart (restarted: it reads each person once). single repeats one
// recorded engagement per op through RecordAccomplishment.
func BenchmarkRepeats(b *testing.B) {
	const people, per = 200, 10
	cmds := histories("R", people, per)
	repeated := func(b *testing.B, out []BatchResult) {
		for i, res := range out {
			if res.Err != nil || !res.Result.Duplicate {
				b.Fatalf("command %d: %+v", i, res)
			}
		}
	}
	l, _ := benchLog(b, 2*time.Minute)
	r := NewRecorder(l, testCatalogue, time.Now)
	recordBatch(b, r, cmds)
	b.Run("batch=2000/remembered", func(b *testing.B) {
		for b.Loop() {
			repeated(b, r.RecordBatch(context.Background(), cmds))
		}
	})
	b.Run("batch=2000/restarted", func(b *testing.B) {
		for b.Loop() {
			repeated(b, NewRecorder(l, testCatalogue, time.Now).RecordBatch(context.Background(), cmds))
		}
	})
	b.Run("single/remembered", func(b *testing.B) {
		ctx := context.Background()
		var recs []RecordAccomplishment
		for _, c := range cmds {
			if c, ok := c.(RecordAccomplishment); ok {
				recs = append(recs, c)
			}
		}
		i := 0
		for b.Loop() {
			if res, err := r.RecordAccomplishment(ctx, recs[i%len(recs)]); err != nil || !res.Duplicate {
				b.Fatalf("%+v, %v", res, err)
			}
			i++
		}
	})
}

// BenchmarkWarm is the live path of RecordAccomplishment: one command at a
// time, each with a key of its own, on people the Recorder already knows
// (2,000 of them with ten events each, as careerd serves them), from one
// writer and from four at once. It is what the Recorder costs a command
// beyond the append: compare it with SingleWriter's raw.
//
//	go test -run XXX -bench Warm -benchmem ./events
func BenchmarkWarm(b *testing.B) {
	const people, per = 2000, 10
	for _, writers := range []int{1, 4} {
		// One server and Recorder for every run of the sub-benchmark (its
		// b.N ramp): a person's history grows across runs, as it would.
		l, _ := benchLog(b, 2*time.Minute)
		r := NewRecorder(l, testCatalogue, time.Now)
		recordBatch(b, r, histories("W", people, per))
		a := sampleEngagement("Backbone migration")
		var next atomic.Int64
		record := func(b *testing.B) {
			i := next.Add(1)
			c := RecordAccomplishment{PersonID: "W" + strconv.FormatInt(i%people, 10), Accomplishment: a, IdempotencyKey: "w" + strconv.FormatInt(i, 10)}
			if res, err := r.RecordAccomplishment(context.Background(), c); err != nil || res.Duplicate {
				b.Errorf("%+v, %v", res, err) // not Fatal: RunParallel's goroutines
			}
		}
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			if writers == 1 {
				for b.Loop() {
					record(b)
				}
				return
			}
			b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					record(b)
				}
			})
		})
	}
}

// BenchmarkWarmCPU is Warm's command without the round trip to the log:
// what the Recorder itself computes for a command (plan, decision, the
// message to publish, the fold of the event into the person it knows), on
// 2,000 people of ten events each, free of the server's share of Warm's
// time and allocations.
func BenchmarkWarmCPU(b *testing.B) {
	const people, per = 2000, 10
	r := NewRecorder(nil, testCatalogue, time.Now)
	a := sampleEngagement("Backbone migration")
	entries := make([]*personEntry, people)
	pos := uint64(0)
	apply := func(e *personEntry, c Command) {
		p, err := planOf(r, c)
		if err != nil {
			b.Fatal(err)
		}
		d, err := p.decideFor(e)
		if err != nil {
			b.Fatal(err)
		}
		at := r.now().Truncate(time.Microsecond)
		if _, err := buildMessage("career.person."+p.personID, e.last, msgID(p.personID, p.key), d.event, at, p.key, ""); err != nil {
			b.Fatal(err)
		}
		pos++
		e.apply(Recorded{Position: pos, PersonID: p.personID, RecordedAt: at.UTC(), IdempotencyKey: p.key, Event: d.event},
			Result{Position: pos, PersonID: p.personID, AccomplishmentID: d.accomplishmentID})
	}
	for i := range people * per {
		n := i / per
		id := "W" + strconv.Itoa(n)
		if i%per == 0 {
			entries[n] = &personEntry{id: id, known: true}
			apply(entries[n], RegisterPerson{ID: id, Name: "n", Department: "d", JoinedOn: domain.MustDate("2020-01-01"), IdempotencyKey: "k" + strconv.Itoa(i)})
			continue
		}
		apply(entries[n], RecordAccomplishment{PersonID: id, Accomplishment: a, IdempotencyKey: "k" + strconv.Itoa(i)})
	}
	i := 0
	for b.Loop() {
		n := i % people
		apply(entries[n], RecordAccomplishment{PersonID: "W" + strconv.Itoa(n), Accomplishment: a, IdempotencyKey: "w" + strconv.Itoa(i)})
		i++
	}
}
