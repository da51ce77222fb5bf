package events

import (
	"context"
	"fmt"
	"strconv"
	"sync"
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
	m, err := l.message(person, expected, person+":"+strconv.Itoa(i), benchEvent(i), time.Now(), strconv.Itoa(i))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkAppendRaw publishes synchronously with the same headers as
// Append (expected subject sequence included), one writer.
func BenchmarkAppendRaw(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			l, _ := benchLog(b, mode.interval)
			ctx := context.Background()
			var last uint64
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				ack, err := l.js.PublishMsg(ctx, rawMessage(b, l, "P1", last, i))
				if err != nil {
					b.Fatal(err)
				}
				last = ack.Sequence
			}
		})
	}
}

// BenchmarkAppendRaw8 is BenchmarkAppendRaw with 8 writers on 8 people.
func BenchmarkAppendRaw8(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			l, _ := benchLog(b, mode.interval)
			parallel8(b, func(w, n int) {
				ctx := context.Background()
				person := "W" + strconv.Itoa(w)
				var last uint64
				for i := range n {
					ack, err := l.js.PublishMsg(ctx, rawMessage(b, l, person, last, i))
					if err != nil {
						b.Error(err)
						return
					}
					last = ack.Sequence
				}
			})
		})
	}
}

// BenchmarkRecorderAppend records accomplishments through the Recorder
// (load, decide, append), one writer. People get 20 events each, so every
// load reads 1-20 events, as a real person's would.
func BenchmarkRecorderAppend(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			l, _ := benchLog(b, mode.interval)
			r := NewRecorder(l, testValidator{}, time.Now)
			recordMany(b, r, "R", b.N)
		})
	}
}

// BenchmarkRecorderAppend8 is BenchmarkRecorderAppend with 8 writers, each
// on people of its own.
func BenchmarkRecorderAppend8(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
			l, _ := benchLog(b, mode.interval)
			r := NewRecorder(l, testValidator{}, time.Now)
			parallel8(b, func(w, n int) { recordMany(b, r, "W"+strconv.Itoa(w)+"x", n) })
		})
	}
}

func recordMany(b *testing.B, r *Recorder, prefix string, n int) {
	ctx := context.Background()
	const perPerson = 20
	for i := range n {
		person := prefix + strconv.Itoa(i/perPerson)
		if i%perPerson == 0 {
			b.StopTimer()
			if _, err := r.RegisterPerson(ctx, RegisterPerson{ID: person, Name: "n", Department: "d", JoinedOn: domain.MustDate("2020-01-01")}); err != nil {
				b.Error(err)
				return
			}
			b.StartTimer()
		}
		if _, err := r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: person, Accomplishment: sampleEngagement("job")}); err != nil {
			b.Error(err)
			return
		}
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

// BenchmarkAppendAsyncRaw publishes b.N events asynchronously, each to a
// new person with expected sequence 0 and a msg id (a bulk import of
// registrations), and waits for every ack.
func BenchmarkAppendAsyncRaw(b *testing.B) {
	for _, mode := range syncModes {
		b.Run(mode.name, func(b *testing.B) {
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
		})
	}
}

// BenchmarkAppendBatch runs the same workload through AppendBatch (one
// wave: one event per person), and with 10 events per person (10 waves).
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
