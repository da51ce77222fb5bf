package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/careerledger/careerledger/events"
)

// syncModes are the two durability settings: fsync on every write (the
// default of events.EmbeddedConfig) and the server's 2-minute interval.
var syncModes = []syncMode{{"sync=always", 0}, {"sync=2m", 2 * time.Minute}}

type syncMode struct {
	name     string
	interval time.Duration
}

// natsEnv is an embedded JetStream server, one in-process connection, the
// event log on it and the raw JetStream handles the baselines publish with.
type natsEnv struct {
	emb    *events.Embedded // nil: an external server (connectNATS)
	stream string           // the log's stream
	nc     *nats.Conn
	log    *events.Log
	js     jetstream.JetStream // synchronous raw publishes
	ajs    jetstream.JetStream // asynchronous raw publishes, the same window as the Log's
}

// Async publishing limits, the same as events.Log's AppendBatch uses.
const (
	asyncMaxPending = 4096
	asyncStallWait  = 30 * time.Second
)

func startNATS(ctx context.Context, dir string, interval time.Duration) (*natsEnv, error) {
	emb, err := events.StartEmbedded(events.EmbeddedConfig{Dir: dir, SyncInterval: interval})
	if err != nil {
		return nil, err
	}
	nc, err := emb.Connect()
	if err != nil {
		emb.Shutdown()
		return nil, err
	}
	e, err := openEnv(ctx, nc, events.LogConfig{})
	if err != nil {
		emb.Shutdown()
		return nil, err
	}
	e.emb = emb
	return e, nil
}

// connectNATS connects to the server at url over TCP and opens a log on a
// stream of its own (CAREERBENCH_<random>, subjects careerbench<random>.person.*),
// which close deletes.
func connectNATS(ctx context.Context, url string, replicas int) (*natsEnv, error) {
	nc, err := nats.Connect(url, nats.Name("careerledger-bench"), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, err
	}
	tag := strconv.FormatUint(rand.Uint64(), 36)
	return openEnv(ctx, nc, events.LogConfig{Stream: "CAREERBENCH_" + tag, SubjectPrefix: "careerbench" + tag + ".person", Replicas: replicas})
}

// openEnv opens the log and the raw handles on nc; it closes nc on error.
func openEnv(ctx context.Context, nc *nats.Conn, cfg events.LogConfig) (*natsEnv, error) {
	e := &natsEnv{nc: nc, stream: cfg.Stream}
	var err error
	if e.log, err = events.OpenLog(ctx, nc, cfg); err != nil {
		nc.Close()
		return nil, err
	}
	e.js, _ = jetstream.New(nc)
	e.ajs, _ = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(asyncMaxPending))
	return e, nil
}

func (e *natsEnv) close() {
	if e.emb == nil { // an external server: the stream was the run's own
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := e.js.DeleteStream(ctx, e.stream); err != nil {
			progress("delete stream %s: %v", e.stream, err)
		}
		cancel()
	}
	e.nc.Close()
	if e.emb != nil {
		e.emb.Shutdown()
	}
}

// rawMsg builds what the Log publishes for an event, with the same headers:
// type, version, recorded-at, idempotency key, Nats-Msg-Id and (unless
// expected < 0) Nats-Expected-Last-Subject-Sequence.
func rawMsg(subject string, expected int64, e events.Event, key, msgID string) (*nats.Msg, error) {
	typ, ver, body, err := events.Encode(e)
	if err != nil {
		return nil, err
	}
	h := make(nats.Header, 6)
	h[events.HeaderType] = []string{typ}
	h[events.HeaderVersion] = []string{strconv.Itoa(ver)}
	h[events.HeaderRecordedAt] = []string{time.Now().UTC().Format(time.RFC3339Nano)}
	h[events.HeaderIdempotencyKey] = []string{key}
	h[jetstream.MsgIDHeader] = []string{msgID}
	if expected >= 0 {
		h[jetstream.ExpectedLastSubjSeqHeader] = []string{strconv.FormatInt(expected, 10)}
	}
	return &nats.Msg{Subject: subject, Header: h, Data: body}, nil
}

// population is people with a history in the log and the position of each
// one's last event (the raw writers' expected sequences).
type population struct {
	people []string
	last   map[string]uint64
}

// populate appends a history of about `history` events for n new people
// (not measured).
func populate(ctx context.Context, l *events.Log, g *gen, prefix string, n, history int) (population, error) {
	pop := population{last: make(map[string]uint64, n)}
	logs := make([][]events.Event, n)
	for i := range n {
		id := prefix + strconv.Itoa(i)
		pop.people = append(pop.people, id)
		logs[i] = g.personEvents(id, history)
	}
	ps := pendings(pop.people, logs, time.Now())
	out, err := l.AppendBatch(ctx, ps)
	if err != nil {
		return pop, err
	}
	for i, o := range out {
		if o.Err != nil {
			return pop, o.Err
		}
		pop.last[ps[i].PersonID] = o.Position
	}
	return pop, nil
}

// keys makes unique idempotency keys.
type keys struct {
	prefix string
	n      int
}

func (k *keys) next() string {
	k.n++
	return k.prefix + strconv.Itoa(k.n)
}

// recordFor runs RecordAccomplishment round robin over people until the
// deadline (or for len(people) commands when deadline is zero) and returns
// how many it recorded.
func recordFor(ctx context.Context, rec *events.Recorder, g *gen, k *keys, people []string, deadline time.Time) (int, error) {
	n := 0
	for i := 0; ; i++ {
		if deadline.IsZero() {
			if i == len(people) {
				return n, nil
			}
		} else if i%8 == 0 && !time.Now().Before(deadline) {
			return n, nil
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		p := people[i%len(people)]
		_, err := rec.RecordAccomplishment(ctx, events.RecordAccomplishment{PersonID: p,
			Accomplishment: g.accomplishment("", epoch), IdempotencyKey: k.next()})
		if err != nil {
			return n, fmt.Errorf("record for %s: %w", p, err)
		}
		n++
	}
}

// publishFor is recordFor's raw baseline: a synchronous PublishMsg with the
// same headers and the person's last sequence, round robin over people.
func publishFor(ctx context.Context, env *natsEnv, pop population, g *gen, k *keys, people []string, deadline time.Time) (int, error) {
	n := 0
	for i := 0; ; i++ {
		if i%8 == 0 && !time.Now().Before(deadline) {
			return n, nil
		}
		p := people[i%len(people)]
		key := k.next()
		e := events.FromAccomplishment(g.accomplishment(p+"."+g.token(), epoch))
		m, err := rawMsg(env.log.Subject(p), int64(pop.last[p]), e, key, p+":"+key)
		if err != nil {
			return n, err
		}
		ack, err := env.js.PublishMsg(ctx, m)
		if err != nil {
			return n, fmt.Errorf("publish for %s: %w", p, err)
		}
		pop.last[p] = ack.Sequence
		n++
	}
}

// side is one of the two things compared, measured over rounds.
type side struct {
	best  float64 // events/s of the best round
	total int
}

func (s *side) add(n int, d time.Duration) {
	s.total += n
	s.best = max(s.best, rate(n, d))
}

// split cuts people into w slices of (almost) equal size.
func split(people []string, w int) [][]string {
	out := make([][]string, w)
	for i, p := range people {
		out[i%w] = append(out[i%w], p)
	}
	return out
}

// writerSet is what the recording scenarios share on one server: people with
// a history for each side and the Recorder.
type writerSet struct {
	env            *natsEnv
	g              *gen
	rec            *events.Recorder
	recPop, rawPop population
	ks, rawKeys    *keys
	history        int
}

// prepareWriters gives each side its people, with a short history each
// (not measured).
func (b *bench) prepareWriters(ctx context.Context, env *natsEnv, name string) (*writerSet, error) {
	w := &writerSet{env: env, g: newGen(2, b.cat), history: 6, ks: &keys{prefix: "rec-"}, rawKeys: &keys{prefix: "raw-"}}
	np := b.cfg.recordPeople
	progress("record %s: %d + %d people with %d events of history each (not measured)", name, np, np, w.history)
	var err error
	if w.recPop, err = populate(ctx, env.log, w.g, "R", np, w.history); err != nil {
		return nil, err
	}
	if w.rawPop, err = populate(ctx, env.log, w.g, "W", np, w.history); err != nil {
		return nil, err
	}
	w.rec = events.NewRecorder(env.log, b.cat, nil)
	return w, nil
}

// single measures one writer: the Recorder's first write to each person
// (which loads the whole history; it remembers people afterwards), then
// rounds of the Recorder against raw synchronous publishes, alternating
// which side goes first.
func (b *bench) single(ctx context.Context, w *writerSet, name string) (cold float64, recSide, rawSide side, err error) {
	progress("record %s: cold pass: one command for each of %d people", name, len(w.recPop.people))
	t0 := time.Now()
	n, err := recordFor(ctx, w.rec, w.g, w.ks, w.recPop.people, time.Time{})
	if err != nil {
		return 0, recSide, rawSide, err
	}
	cold = rate(n, time.Since(t0))
	dur := b.cfg.recordDur
	for r := range b.cfg.rounds {
		order := []string{"raw", "recorder"}
		if r%2 == 1 {
			order = []string{"recorder", "raw"}
		}
		for _, which := range order {
			t := time.Now()
			var n int
			if which == "raw" {
				n, err = publishFor(ctx, w.env, w.rawPop, w.g, w.rawKeys, w.rawPop.people, t.Add(dur))
				rawSide.add(n, time.Since(t))
			} else {
				n, err = recordFor(ctx, w.rec, w.g, w.ks, w.recPop.people, t.Add(dur))
				recSide.add(n, time.Since(t))
			}
			if err != nil {
				return cold, recSide, rawSide, err
			}
			progress("record %s: single writer, round %d, %s: %s", name, r+1, which, fmtRate(rate(n, time.Since(t)), "ev"))
		}
	}
	return cold, recSide, rawSide, nil
}

// singleRows adds the rows of scenario 2 and 2c.
func (b *bench) singleRows(label, name string, w *writerSet, cold float64, recSide, rawSide side) {
	ratio := recSide.best / rawSide.best
	b.add(row{
		Scenario: "2" + label + " Single writer, Recorder vs sync publish, " + name,
		Measured: fmtRate(recSide.best, "ev"), Baseline: fmtRate(rawSide.best, "ev"),
		Ratio: fmtRatio(ratio), Goal: ">= 70%", Verdict: verdict(ratio >= 0.70),
		Note: fmt.Sprintf("RecordAccomplishment (validate, catch up the cached person, append with expected sequence and msg id) vs js.PublishMsg with the same 6 headers; %d people with %d events of history each side, warm Recorder cache; best of %d rounds of %s, alternating order.",
			len(w.recPop.people), w.history, b.cfg.rounds, b.cfg.recordDur),
	})
	b.add(row{
		Scenario: "2" + label + "c Recorder cold first write per person, " + name,
		Measured: fmtRate(cold, "ev"), Baseline: fmtRate(rawSide.best, "ev"), Ratio: fmtRatio(cold / rawSide.best),
		Goal: "-", Verdict: info,
		Note: fmt.Sprintf("The first command for each of %d people: a full load of a %d-event history (two message gets, then an ephemeral consumer) before the append.", len(w.recPop.people), w.history),
	})
}

// record runs scenarios 2-4 with one durability setting.
func (b *bench) record(ctx context.Context, mode syncMode) error {
	progress("record %s: starting the embedded server", mode.name)
	env, err := startNATS(ctx, filepath.Join(b.dir, "record-"+mode.name[5:]), mode.interval)
	if err != nil {
		return err
	}
	defer env.close()
	w, err := b.prepareWriters(ctx, env, mode.name)
	if err != nil {
		return err
	}

	// 2. Single writer.
	coldRate, recSide, rawSide, err := b.single(ctx, w, mode.name)
	if err != nil {
		return err
	}
	if mode.interval > 0 {
		b.singleRecorderRate2m = recSide.best
	} else {
		b.singleRecorderRateAlways = recSide.best
	}
	b.singleRows("", mode.name, w, coldRate, recSide, rawSide)
	rec, recPop, rawPop, np, dur := w.rec, w.recPop, w.rawPop, b.cfg.recordPeople, b.cfg.recordDur

	// 3. Eight writers on people of their own.
	const writers = 8
	progress("record %s: 8 writers", mode.name)
	recParts, rawParts := split(recPop.people, writers), split(rawPop.people, writers)
	gens := make([]*gen, writers)
	recKeys, rawKeysW := make([]*keys, writers), make([]*keys, writers)
	for w := range writers {
		gens[w] = newGen(uint64(100+w), b.cat)
		recKeys[w] = &keys{prefix: fmt.Sprintf("rec8-%d-", w)}
		rawKeysW[w] = &keys{prefix: fmt.Sprintf("raw8-%d-", w)}
	}
	var rec8, raw8 side
	var mu sync.Mutex // guards rawPop.last across writers
	for r := range b.cfg.rounds {
		order := []string{"raw", "recorder"}
		if r%2 == 1 {
			order = []string{"recorder", "raw"}
		}
		for _, which := range order {
			t := time.Now()
			deadline := t.Add(dur)
			counts := make([]int, writers)
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					if which == "raw" {
						// Each writer owns its people: a private copy of
						// their last sequences avoids sharing the map.
						mine := population{last: map[string]uint64{}}
						mu.Lock()
						for _, p := range rawParts[w] {
							mine.last[p] = rawPop.last[p]
						}
						mu.Unlock()
						counts[w], errs[w] = publishFor(ctx, env, mine, gens[w], rawKeysW[w], rawParts[w], deadline)
						mu.Lock()
						for p, s := range mine.last {
							rawPop.last[p] = s
						}
						mu.Unlock()
					} else {
						counts[w], errs[w] = recordFor(ctx, rec, gens[w], recKeys[w], recParts[w], deadline)
					}
				})
			}
			wg.Wait()
			took := time.Since(t)
			total := 0
			for w := range writers {
				total += counts[w]
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			if which == "raw" {
				raw8.add(total, took)
			} else {
				rec8.add(total, took)
			}
			progress("record %s: 8 writers, round %d, %s: %s", mode.name, r+1, which, fmtRate(rate(total, took), "ev"))
		}
	}
	ratio := rec8.best / raw8.best
	b.add(row{
		Scenario: "3 8 writers, Recorder vs sync publish, " + mode.name,
		Measured: fmtRate(rec8.best, "ev"), Baseline: fmtRate(raw8.best, "ev"),
		Ratio: fmtRatio(ratio), Goal: ">= 60%", Verdict: verdict(ratio >= 0.60),
		Note: fmt.Sprintf("One shared Recorder, 8 goroutines on %d people each (no contention on a person) vs 8 goroutines of raw publishes; best of %d rounds of %s.",
			np/writers, b.cfg.rounds, dur),
	})

	// 4. Bulk import.
	size := b.cfg.batch
	if mode.interval == 0 {
		size = b.cfg.batchAlways
	}
	return b.bulk(ctx, env, mode, size)
}

// bulk is scenario 4: a bulk import of size events (10 per new person)
// through the batch command path vs raw asynchronous publishes.
func (b *bench) bulk(ctx context.Context, env *natsEnv, mode syncMode, size int) error {
	const perPerson = 10
	g := newGen(3, b.cat)
	var batchSide, rawSide side
	impl := batchImpl(b, env)
	for r := range b.cfg.rounds {
		// New people every time, so each measurement imports the same kind
		// of data: every person starts with expected sequence 0.
		mk := func(prefix string) ([]string, [][]events.Event) {
			n := max(size/perPerson, 1)
			people := make([]string, n)
			logs := make([][]events.Event, n)
			for i := range n {
				people[i] = fmt.Sprintf("%s%d_%d", prefix, r, i)
				logs[i] = g.importEvents(people[i], perPerson)
			}
			return people, logs
		}
		order := []string{"raw", "batch"}
		if r%2 == 1 {
			order = []string{"batch", "raw"}
		}
		for _, which := range order {
			var n int
			var err error
			var took time.Duration
			if which == "raw" {
				people, logs := mk("XA")
				t := time.Now()
				n, err = rawAsync(ctx, env, people, logs)
				took = time.Since(t)
				rawSide.add(n, took)
			} else {
				people, logs := mk("BA")
				t := time.Now()
				n, err = impl.run(ctx, people, logs)
				took = time.Since(t)
				batchSide.add(n, took)
			}
			if err != nil {
				return fmt.Errorf("bulk %s: %w", which, err)
			}
			progress("record %s: bulk import of %d events, round %d, %s: %s", mode.name, n, r+1, which, fmtRate(rate(n, took), "ev"))
		}
	}
	ratio := batchSide.best / rawSide.best
	b.add(row{
		Scenario: "4 Bulk import, " + impl.name + " vs PublishAsync, " + mode.name,
		Measured: fmtRate(batchSide.best, "ev"), Baseline: fmtRate(rawSide.best, "ev"),
		Ratio: fmtRatio(ratio), Goal: ">= 60%", Verdict: verdict(ratio >= 0.60),
		Note: fmt.Sprintf("%d events per import, %d new people with %d events each (registration first); %s. Raw: PublishMsgAsync of every event with the same headers except the expected subject sequence (unknowable without waiting for the previous ack), window %d, all acks awaited; best of %d rounds.",
			size, max(size/perPerson, 1), perPerson, impl.note, asyncMaxPending, b.cfg.rounds),
	})
	return nil
}

// rawAsync publishes every event asynchronously and waits for all acks.
func rawAsync(ctx context.Context, env *natsEnv, people []string, logs [][]events.Event) (int, error) {
	var futs []jetstream.PubAckFuture
	for i, p := range people {
		subj := env.log.Subject(p)
		for j, e := range logs[i] {
			key := "import-" + p + "-" + strconv.Itoa(j)
			m, err := rawMsg(subj, -1, e, key, p+":"+key)
			if err != nil {
				return 0, err
			}
			f, err := env.ajs.PublishMsgAsync(m, jetstream.WithStallWait(asyncStallWait))
			if err != nil {
				return 0, err
			}
			futs = append(futs, f)
		}
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return 0, err
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return len(futs), nil
}
