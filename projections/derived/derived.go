// Package derived carries the events the projections derive from the log
// (level changes) to their consumers through Watermill on NATS. They travel
// on their own subjects, never on the CAREER stream: the log holds facts,
// these are conclusions that can always be recomputed.
//
// The projecting careerd publishes; every careerd instance subscribes (plain
// NATS fan-out, no queue group) and hands each change to its local
// subscribers, so a websocket client on any instance sees every change.
//
// Publishing never holds the projector up: LevelChanged queues the changes
// and returns, and one goroutine hands them to NATS in order, each attempt
// confirmed by a round trip to the server, retrying a failed one until it
// goes through or the bus closes (see Bus.LevelChanged).
package derived

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"

	"github.com/careerledger/careerledger/projections"
)

// DefaultTopicPrefix prefixes the derived-event subjects.
const DefaultTopicPrefix = "career.derived"

// LevelChangedV1 is the wire form of a level change, version 1 (no
// withdrawals); the bus still reads it.
type LevelChangedV1 = projections.LevelChangedV1

// LevelChangedV2 is the wire form of a level change, version 2 (with
// withdrawals): what the bus sends.
type LevelChangedV2 = projections.LevelChangedV2

const (
	headerType    = "Career-Derived-Type"
	headerVersion = "Career-Derived-Version"
	typeLevel     = "LevelChanged"
)

// Bus publishes derived events and routes them to a local handler.
type Bus struct {
	nc     *nats.Conn
	pub    *wmnats.Publisher
	sub    *wmnats.Subscriber
	router *message.Router
	topic  string
	poison string
	log    *slog.Logger
	seen   *recent // ids of the changes handed to the handler lately

	maxPending int
	onFailed   func()
	onDropped  func(int)

	mu       sync.Mutex
	queue    []queued            // not handed to NATS yet, oldest first
	queueIDs map[string]struct{} // the ids in queue
	seq      uint64              // the last queued change's
	batches  uint64              // the last LevelChanged call's
	wake     chan struct{}       // something was queued
	progress chan struct{}       // closed (and replaced) when changes leave the queue

	stop     context.CancelFunc // stops the publishing goroutine (Close)
	stopped  context.Context
	drained  chan struct{} // closed when the publishing goroutine returned
	stopOnce sync.Once
}

// queued is a level change waiting to be handed to NATS.
type queued struct {
	seq    uint64 // its place in the queue's order
	batch  uint64 // the LevelChanged call it came with
	id     string
	change projections.LevelChanged
	msg    *message.Message
}

// Retries of a failed publication wait RetryMin, then twice as long each
// time, up to RetryMax; a success starts again from RetryMin.
const (
	RetryMin = 50 * time.Millisecond
	RetryMax = 5 * time.Second
)

// DefaultMaxPending is Config.MaxPending when it is 0.
const DefaultMaxPending = 10_000

// confirmTimeout bounds the round trip that confirms NATS took an
// attempt's messages.
const confirmTimeout = 5 * time.Second

// attemptSize bounds the changes one attempt hands over. A failed attempt
// is made again whole, so a subscriber may see its first changes twice:
// far fewer than the ids it remembers (recentIDs), it drops the repeats.
const attemptSize = 1024

// ErrClosed is what Flush returns when the bus closed with level changes
// not handed to NATS.
var ErrClosed = errors.New("the derived-event bus is closed")

// recentIDs is how many change ids a Bus remembers to recognize a repeat:
// a projector that starts again after dying publishes the last batch's
// changes again (at least once). A batch of 1,000 events reveals at most a
// few thousand.
const recentIDs = 8192

// recent is a bounded set of ids, the oldest forgotten first.
type recent struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string
	next int
}

func newRecent(n int) *recent {
	return &recent{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

// has reports whether id is remembered.
func (r *recent) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.ids[id]
	return ok
}

// add records id and reports whether it is new.
func (r *recent) add(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ids[id]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.ids, old)
	}
	r.ring[r.next] = id
	r.ids[id] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
	return true
}

// changeID names a level change: the batch that revealed it, the person,
// the field, the day and the levels, and "/withdrawn" for a withdrawal (an
// announcement's id is what it was before withdrawals). The same change
// published again (after a projector died between its commit and the
// publication) has the same id; a withdrawal never has the id of the
// announcement it withdraws.
func changeID(c projections.LevelChanged) string {
	id := fmt.Sprintf("%d/%s/%s/%s/%d-%d", c.Position, c.PersonID, c.Change.Field, c.Change.On, c.Change.From, c.Change.To)
	if c.Withdrawn {
		id += "/withdrawn"
	}
	return id
}

// Config configures a Bus.
type Config struct {
	TopicPrefix string // default DefaultTopicPrefix
	Logger      *slog.Logger
	// MaxPending bounds the level changes waiting to be handed to NATS
	// (0: DefaultMaxPending). Past it the oldest are dropped, with an
	// error logged.
	MaxPending int
	// OnPublishFailed, when set, is called after each attempt to hand
	// level changes to NATS that failed (each is retried).
	OnPublishFailed func()
	// OnDropped, when set, is called with the number of level changes
	// dropped because MaxPending were waiting already.
	OnDropped func(changes int)
}

func (c Config) withDefaults() Config {
	if c.TopicPrefix == "" {
		c.TopicPrefix = DefaultTopicPrefix
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	return c
}

// New returns a bus on nc, publishing from now on. Call Run to deliver to
// handle, and Close to stop.
func New(nc *nats.Conn, cfg Config, handle func(ctx context.Context, changes []projections.LevelChanged)) (*Bus, error) {
	cfg = cfg.withDefaults()
	// Watermill's info records (a handler added, the router starting and
	// closing, a subscriber stopped) are of its machinery, at every start
	// and stop: at debug in cfg.Logger, beside its own debug records. Its
	// trace records stay below debug, and its errors stay errors. The
	// bus's own records keep their levels.
	logger := watermill.NewSlogLoggerWithLevelMapping(cfg.Logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	core := wmnats.JetStreamConfig{Disabled: true}
	pub, err := wmnats.NewPublisherWithNatsConn(nc, wmnats.PublisherPublishConfig{
		Marshaler: &wmnats.NATSMarshaler{}, JetStream: core,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("derived publisher: %w", err)
	}
	sub, err := wmnats.NewSubscriberWithNatsConn(nc, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler: &wmnats.NATSMarshaler{}, JetStream: core, CloseTimeout: 5 * time.Second,
		AckWaitTimeout: 5 * time.Second, SubscribeTimeout: 5 * time.Second,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("derived subscriber: %w", err)
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 5 * time.Second}, logger)
	if err != nil {
		return nil, fmt.Errorf("derived router: %w", err)
	}
	b := &Bus{nc: nc, pub: pub, sub: sub, router: router, log: cfg.Logger, seen: newRecent(recentIDs),
		topic: cfg.TopicPrefix + ".level-changed", poison: cfg.TopicPrefix + ".poison",
		maxPending: cfg.MaxPending, onFailed: cfg.OnPublishFailed, onDropped: cfg.OnDropped,
		queueIDs: map[string]struct{}{}, wake: make(chan struct{}, 1), progress: make(chan struct{}),
		drained: make(chan struct{})}
	poison, err := middleware.PoisonQueue(pub, b.poison)
	if err != nil {
		return nil, err
	}
	router.AddMiddleware(
		middleware.CorrelationID,
		poison,
		middleware.Retry{MaxRetries: 3, InitialInterval: 10 * time.Millisecond, Multiplier: 2, Logger: logger}.Middleware,
		middleware.Recoverer,
	)
	router.AddConsumerHandler("level-changed-to-subscribers", b.topic, sub, func(msg *message.Message) error {
		c, err := decodeLevelChanged(msg)
		if err != nil {
			return err
		}
		id := changeID(c)
		if b.seen.has(id) {
			return nil // a repeat: handed over already
		}
		handle(msg.Context(), []projections.LevelChanged{c})
		b.seen.add(id) // after: a handler that panicked is retried
		return nil
	})
	b.stopped, b.stop = context.WithCancel(context.Background())
	go b.publish()
	return b, nil
}

// Topic returns the subject level changes are published on.
func (b *Bus) Topic() string { return b.topic }

// PoisonTopic returns the subject messages that could not be handled go to.
func (b *Bus) PoisonTopic() string { return b.poison }

// Run routes messages until ctx is done or Close is called.
func (b *Bus) Run(ctx context.Context) error { return b.router.Run(ctx) }

// Running is closed once the router delivers messages.
func (b *Bus) Running() <-chan struct{} { return b.router.Running() }

// Close stops publishing (level changes still queued are not handed to
// NATS: Flush first to wait for them) and routing, and closes the
// publisher and subscriber.
func (b *Bus) Close() error {
	b.stopPublishing()
	err := b.router.Close()
	if cerr := b.sub.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if cerr := b.pub.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// stopPublishing ends the publishing goroutine and waits for it.
func (b *Bus) stopPublishing() {
	b.stopOnce.Do(func() {
		b.stop()
		<-b.drained
		if n := len(b.Pending()); n > 0 {
			b.log.Error("level changes not published: the derived-event bus closed before NATS took them", "changes", n)
		}
	})
}

// LevelChanged queues changes for NATS and returns; it satisfies
// projections.Notifier (and projections.AsyncNotifier). The bus hands
// what is queued to NATS in order, on a goroutine of its own, and counts
// an attempt as done once the server has answered a round trip after
// its messages (so a connection that died under them is not taken for a
// delivery). An attempt that fails (NATS unreachable, the connection
// lost before the server took everything) is made again, whole, after
// RetryMin, then twice as long each time up to RetryMax, until it goes
// through or the bus closes. Its error is logged once per call whose
// changes it held, and the success after it once. Meanwhile the projector
// goes on: later changes queue behind (a change already queued is not
// queued twice), up to Config.MaxPending, past which the oldest are
// dropped with an error logged. With a store that keeps them
// (projections.DerivedKeeper) the projector keeps what is queued with
// each batch it commits, and marks it published only once Flush says it
// went out, so a change that never reached NATS is published again by
// the next start. A change's message id names it, and each instance
// drops a repeat of one of the last 8,192 it handed over.
func (b *Bus) LevelChanged(_ context.Context, changes []projections.LevelChanged) {
	items := make([]queued, 0, len(changes))
	for _, c := range changes {
		version := projections.VersionFor(c)
		body, err := projections.EncodeLevelChanged(version, c)
		if err != nil {
			b.log.Error("encode level change", "err", err)
			continue
		}
		id := changeID(c)
		m := message.NewMessage(id, body)
		m.Metadata.Set(headerType, typeLevel)
		m.Metadata.Set(headerVersion, strconv.Itoa(version))
		items = append(items, queued{id: id, change: c, msg: m})
	}
	if len(items) == 0 {
		return
	}
	if b.stopped.Err() != nil {
		b.log.Error("level changes not published: the derived-event bus is closed", "changes", len(items))
	}
	b.mu.Lock()
	b.batches++
	for _, it := range items {
		if _, ok := b.queueIDs[it.id]; ok {
			continue // queued already (a projector that started again)
		}
		b.seq++
		it.seq, it.batch = b.seq, b.batches
		b.queue = append(b.queue, it)
		b.queueIDs[it.id] = struct{}{}
	}
	dropped := 0
	if over := len(b.queue) - b.maxPending; over > 0 {
		dropped = over
		b.removeLocked(b.queue[over-1].seq)
	}
	b.mu.Unlock()
	if dropped > 0 {
		b.log.Error("level changes dropped: too many were waiting for NATS", "dropped", dropped, "max", b.maxPending)
		if b.onDropped != nil {
			b.onDropped(dropped)
		}
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// removeLocked takes the changes queued up to seq off the queue.
func (b *Bus) removeLocked(seq uint64) {
	n := 0
	for n < len(b.queue) && b.queue[n].seq <= seq {
		delete(b.queueIDs, b.queue[n].id)
		n++
	}
	if n == 0 {
		return
	}
	clear(b.queue[:n])
	b.queue = b.queue[n:]
	close(b.progress)
	b.progress = make(chan struct{})
}

// Pending returns the level changes not handed to NATS yet, oldest first
// (projections.AsyncNotifier).
func (b *Bus) Pending() []projections.LevelChanged {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]projections.LevelChanged, len(b.queue))
	for i, it := range b.queue {
		out[i] = it.change
	}
	return out
}

// Flush waits until every level change given to LevelChanged is handed
// to NATS (projections.AsyncNotifier). It returns an error when ctx ends
// first, or the bus closed with changes still queued (ErrClosed).
func (b *Bus) Flush(ctx context.Context) error {
	for {
		b.mu.Lock()
		n, progress := len(b.queue), b.progress
		b.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-progress:
		case <-b.drained:
			b.mu.Lock()
			n = len(b.queue)
			b.mu.Unlock()
			if n == 0 {
				return nil
			}
			return fmt.Errorf("%d level changes not handed to NATS: %w", n, ErrClosed)
		case <-ctx.Done():
			return fmt.Errorf("%d level changes not handed to NATS yet: %w", n, ctx.Err())
		}
	}
}

// publish hands what is queued to NATS, in order, until the bus closes.
func (b *Bus) publish() {
	defer close(b.drained)
	wait := RetryMin
	failures := 0       // attempts failed since the last success
	logged := uint64(0) // the last LevelChanged call whose failure was logged
	for {
		b.mu.Lock()
		items := append([]queued(nil), b.queue[:min(len(b.queue), attemptSize)]...)
		b.mu.Unlock()
		if len(items) == 0 {
			select {
			case <-b.wake:
				continue
			case <-b.stopped.Done():
				return
			}
		}
		err := b.attempt(items)
		if err == nil {
			b.mu.Lock()
			b.removeLocked(items[len(items)-1].seq)
			b.mu.Unlock()
			if failures > 0 {
				b.log.Info("published level changes after failed attempts", "failedAttempts", failures, "changes", len(items))
			}
			failures, wait = 0, RetryMin
			continue
		}
		if b.stopped.Err() != nil {
			return // closed in the middle of the attempt
		}
		failures++
		if b.onFailed != nil {
			b.onFailed()
		}
		for i := 0; i < len(items); {
			j := i
			for j < len(items) && items[j].batch == items[i].batch {
				j++
			}
			if items[i].batch > logged {
				logged = items[i].batch
				b.log.Error("publish level changes; retrying until NATS takes them", "err", err,
					"changes", j-i, "position", items[i].change.Position)
			}
			i = j
		}
		select {
		case <-time.After(wait):
		case <-b.stopped.Done():
			return
		}
		wait = min(2*wait, RetryMax)
	}
}

// attempt hands items to NATS and waits for the server to answer a round
// trip after them: then it has them (and has routed them to the
// subscriptions it holds).
func (b *Bus) attempt(items []queued) error {
	if !b.nc.IsConnected() {
		// Reconnecting: publishing now would only pile copies up in the
		// connection's reconnect buffer.
		return fmt.Errorf("the NATS connection is %s: %w", b.nc.Status(), nats.ErrDisconnected)
	}
	reconnects := b.nc.Stats().Reconnects
	msgs := make([]*message.Message, len(items))
	for i, it := range items {
		msgs[i] = it.msg
	}
	if err := b.pub.Publish(b.topic, msgs...); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(b.stopped, confirmTimeout)
	defer cancel()
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("confirm the publication: %w", err)
	}
	if b.nc.Stats().Reconnects != reconnects {
		// The answer came on a new connection: what went out on the
		// old one may be lost.
		return errors.New("the NATS connection was lost and made again during the publication")
	}
	return nil
}

func decodeLevelChanged(msg *message.Message) (projections.LevelChanged, error) {
	if t := msg.Metadata.Get(headerType); t != typeLevel {
		return projections.LevelChanged{}, fmt.Errorf("derived event type %q is not %s", t, typeLevel)
	}
	// Version 1 (before withdrawals) is read as an announcement.
	v := msg.Metadata.Get(headerVersion)
	n, err := strconv.Atoi(v)
	if err != nil || strconv.Itoa(n) != v {
		return projections.LevelChanged{}, fmt.Errorf("derived event %s version %q is unknown", typeLevel, v)
	}
	c, err := projections.DecodeLevelChanged(n, msg.Payload)
	if err != nil {
		return projections.LevelChanged{}, fmt.Errorf("decode %s: %w", typeLevel, err)
	}
	return c, nil
}
