// Package derived carries the events the projections derive from the log
// (level changes) to their consumers through Watermill on NATS. They travel
// on their own subjects, never on the CAREER stream: the log holds facts,
// these are conclusions that can always be recomputed.
//
// The projecting careerd publishes; every careerd instance subscribes (plain
// NATS fan-out, no queue group) and hands each change to its local
// subscribers, so a websocket client on any instance sees every change.
package derived

import (
	"context"
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
	pub    *wmnats.Publisher
	sub    *wmnats.Subscriber
	router *message.Router
	topic  string
	poison string
	log    *slog.Logger
	seen   *recent // ids of the changes handed to the handler lately
}

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
}

func (c Config) withDefaults() Config {
	if c.TopicPrefix == "" {
		c.TopicPrefix = DefaultTopicPrefix
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// New returns a bus on nc. Call Run to deliver to handle.
func New(nc *nats.Conn, cfg Config, handle func(ctx context.Context, changes []projections.LevelChanged)) (*Bus, error) {
	cfg = cfg.withDefaults()
	logger := watermill.NewSlogLogger(cfg.Logger)
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
	b := &Bus{pub: pub, sub: sub, router: router, log: cfg.Logger, seen: newRecent(recentIDs),
		topic: cfg.TopicPrefix + ".level-changed", poison: cfg.TopicPrefix + ".poison"}
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

// Close stops routing and closes the publisher and subscriber.
func (b *Bus) Close() error {
	err := b.router.Close()
	if cerr := b.sub.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if cerr := b.pub.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// LevelChanged publishes changes; it satisfies projections.Notifier. A
// failure to publish is logged, never fatal to the projector: derived
// events can always be recomputed from the log. With a store that keeps
// them (projections.DerivedKeeper) a change is published again when the
// projector dies before publishing; its message id names it, and each
// instance drops a repeat of one of the last 8,192 it handed over.
func (b *Bus) LevelChanged(_ context.Context, changes []projections.LevelChanged) {
	msgs := make([]*message.Message, 0, len(changes))
	for _, c := range changes {
		body, err := projections.EncodeLevelChanged(c)
		if err != nil {
			b.log.Error("encode level change", "err", err)
			continue
		}
		m := message.NewMessage(changeID(c), body)
		m.Metadata.Set(headerType, typeLevel)
		m.Metadata.Set(headerVersion, strconv.Itoa(projections.LevelChangedVersion))
		msgs = append(msgs, m)
	}
	if err := b.pub.Publish(b.topic, msgs...); err != nil {
		b.log.Error("publish level changes", "err", err, "count", len(msgs))
	}
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
