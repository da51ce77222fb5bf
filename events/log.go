package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careerledger/careerledger/domain"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers written on every event. They are plain NATS headers, so the stock
// nats CLI shows them.
const (
	HeaderType           = "Career-Event-Type"
	HeaderVersion        = "Career-Event-Version"
	HeaderRecordedAt     = "Career-Recorded-At" // RFC 3339 with nanoseconds
	HeaderIdempotencyKey = "Career-Idempotency-Key"
	// HeaderRecordedBy is who recorded the event (the subject of the
	// caller's token; see WithActor). Events before it carry none.
	HeaderRecordedBy = "Career-Recorded-By"
)

// MaxActorLength bounds the actor an event is stamped with (bytes).
const MaxActorLength = 256

type actorKey struct{}

// WithActor returns ctx carrying who is acting: every event appended under
// it (Log.Append, Log.AppendBatch, and so every Recorder command) is
// stamped with Actor(who) in HeaderRecordedBy, which ActorFrom gives back.
func WithActor(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, actorKey{}, Actor(who))
}

// Actor is who as an event is stamped with: control characters and spaces
// around dropped, cut to MaxActorLength bytes (a header holds one line).
// "" says nobody.
func Actor(who string) string {
	who = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, who)
	who = strings.TrimSpace(who)
	for len(who) > MaxActorLength {
		_, size := utf8.DecodeLastRuneInString(who)
		who = strings.TrimSpace(who[:len(who)-size])
	}
	return who
}

// ActorFrom returns who WithActor put in ctx, "" if nobody.
func ActorFrom(ctx context.Context) string {
	who, _ := ctx.Value(actorKey{}).(string)
	return who
}

// ErrConflict is the error an Append returns (wrapped) when the person's
// subject has moved past the expected last sequence: another writer won the
// race. Test it with errors.Is; it is also a *domain.Error of kind
// domain.KindConflict.
var ErrConflict error = domain.Conflict("wrong last sequence: a concurrent write to the same person won")

// ErrUnavailable is the error (wrapped) of an append or a read that did not
// reach the log: the connection to NATS was down, reconnecting, draining or
// closed, or no server answered for the stream (JetStream restarting, a
// leader being elected). An append that fails with it recorded nothing: its
// message was never sent (a connection made with ConnectOptions keeps no
// reconnect buffer, so a publish while it is down fails at once rather than
// go out on reconnect), or the server answered that no stream took it. Test
// it with errors.Is.
var ErrUnavailable = errors.New("the event log is unreachable")

// ErrUnconfirmed is the error (wrapped) of an append whose message was sent
// but whose acknowledgement never came, because the connection closed or
// was made again while the append waited: the event may have been
// recorded. An append whose context ends while it waits (a deadline, the
// caller gone) is the same case, and returns the context's error. A retry
// with the same msg id within the duplicate window (the same idempotency
// key, for the Recorder, at any time) records it once.
var ErrUnconfirmed = errors.New("the append was sent but its acknowledgement was lost: it may have been recorded")

// ErrNoEvent is the error of At and HeaderAt for a position the log holds
// no event at (beyond its end, or deleted).
var ErrNoEvent = errors.New("the event log holds no event at that position")

// RequestTimeout bounds each request the log makes to NATS, an append or
// one round trip of a read, whatever its context's deadline (an earlier
// one ends it first). An append that gets no answer within it fails with
// context.DeadlineExceeded: it may have been recorded.
// JetStream's own retry of a publish the server answered with "no
// responders" (nothing stored: up to 2 more attempts, 250 ms apart, each
// sent only on a live connection) runs within the same bound, and none is
// sent after it.
const RequestTimeout = 5 * time.Second

// ConnectOptions are the options of a NATS connection a Log appends
// through, to pass to nats.Connect (or Embedded.Connect) with any others.
// The connection keeps no reconnect buffer: while it is down, a publish
// fails at once (and the Log reports ErrUnavailable) instead of being held
// and sent when the connection is made again, seconds or minutes after its
// caller was told it failed, stamped with the time of its first attempt
// (a retry would then record the event twice, and a knownAt between the
// stamp and the arrival would answer differently before and after). It
// reconnects forever.
func ConnectOptions() []nats.Option {
	return []nats.Option{nats.ReconnectBufSize(-1), nats.MaxReconnects(-1)}
}

// refusedUnsent reports whether err says a request to NATS was never sent
// (the connection down, reconnecting or draining) or was answered with "no
// responders" (nothing subscribed to take it: no stream stored it).
func refusedUnsent(err error) bool {
	return errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrConnectionDraining) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrInvalidConnection)
}

// readErr marks the error of a read that did not reach the log as
// ErrUnavailable (a read changes nothing, so a connection lost while it
// waited is no different).
func readErr(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if refusedUnsent(err) || errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrDisconnected) {
		return unavailable(err)
	}
	return err
}

// unavailableError is ErrUnavailable with its cause, NATS's error, told in
// words an operator or a user reads without knowing the client library
// ("the connection to NATS is lost and reconnecting", not nats.go's "outbound
// buffer limit exceeded", which is how a connection without a reconnect
// buffer refuses a publish while it is down). errors.Is finds both
// ErrUnavailable and the cause.
type unavailableError struct{ cause error }

// unavailable wraps cause, an error refusedUnsent or readErr takes for a
// log not reached, as ErrUnavailable.
func unavailable(cause error) error { return unavailableError{cause} }

func (e unavailableError) Error() string {
	return ErrUnavailable.Error() + ": " + unreachableBecause(e.cause)
}

func (e unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }

// unreachableBecause says in plain words why NATS was not reached.
func unreachableBecause(err error) string {
	switch {
	case errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting):
		return "the connection to NATS is lost and reconnecting"
	case errors.Is(err, nats.ErrDisconnected):
		return "the connection to NATS was lost while waiting for the answer, and is reconnecting"
	case errors.Is(err, nats.ErrConnectionDraining):
		return "the connection to NATS is closing"
	case errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrInvalidConnection):
		return "the connection to NATS is closed"
	case errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse):
		return "NATS is connected but no server answered for the stream (JetStream restarting or electing a leader)"
	}
	return err.Error()
}

// LogConfig says which stream holds the log. Zero fields take the defaults.
type LogConfig struct {
	Stream          string        // stream name; default "CAREER" (no dots allowed)
	SubjectPrefix   string        // default "career.person"; subjects are "<prefix>.<personId>"
	Replicas        int           // default 1
	DuplicateWindow time.Duration // the Nats-Msg-Id dedupe window; default 2m
}

func (c LogConfig) withDefaults() LogConfig {
	if c.Stream == "" {
		c.Stream = "CAREER"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "career.person"
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
	return c
}

// Log is the event log on one JetStream stream. It is safe for concurrent
// use.
type Log struct {
	cfg     LogConfig
	nc      *nats.Conn
	js      jetstream.JetStream // synchronous publishes and reads
	asyncJS jetstream.JetStream // PublishAsync with a bounded in-flight window
	stream  jetstream.Stream
	wild    string // "<prefix>.*"
}

// Async publishing limits: the in-flight window of AppendBatch and how long a
// publish may stall when the window is full (fsync-per-write servers ack
// slowly, and the library's default stall of 200ms is far too short then).
const (
	asyncMaxPending = 4096
	asyncStallWait  = 30 * time.Second
)

// OpenLog provisions the stream idempotently and returns the log. A stream
// that exists with the wanted settings is left untouched; one that differs in
// them is updated (other settings an operator chose, like limits, are kept).
// The stream uses file storage, DenyDelete and DenyPurge (events are
// immutable) and never AllowDirect, because Direct Get is not
// read-after-write coherent and the product promises read-your-writes.
func OpenLog(ctx context.Context, nc *nats.Conn, cfg LogConfig) (*Log, error) {
	cfg = cfg.withDefaults()
	if strings.ContainsAny(cfg.Stream, ". *>") {
		return nil, fmt.Errorf("open log: stream name %q must not contain '.', ' ', '*' or '>'", cfg.Stream)
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(RequestTimeout))
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	asyncJS, err := jetstream.New(nc, jetstream.WithDefaultTimeout(RequestTimeout), jetstream.WithPublishAsyncMaxPending(asyncMaxPending))
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	l := &Log{cfg: cfg, nc: nc, js: js, asyncJS: asyncJS, wild: cfg.SubjectPrefix + ".*"}
	if l.stream, err = l.provision(ctx); err != nil {
		return nil, fmt.Errorf("open log %s: %w", cfg.Stream, err)
	}
	return l, nil
}

func (l *Log) provision(ctx context.Context) (jetstream.Stream, error) {
	want := jetstream.StreamConfig{
		Name:        l.cfg.Stream,
		Description: "careerledger event log: one subject per person",
		Subjects:    []string{l.wild},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		Storage:     jetstream.FileStorage,
		Replicas:    l.cfg.Replicas,
		Duplicates:  l.cfg.DuplicateWindow,
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: false,
	}
	for attempt := 0; ; attempt++ {
		s, err := l.js.Stream(ctx, want.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			s, err = l.js.CreateStream(ctx, want)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) && attempt < 3 {
				continue // another process created it meanwhile: compare with theirs
			}
			return s, err
		}
		if err != nil {
			return nil, err
		}
		have := s.CachedInfo().Config
		if slices.Equal(have.Subjects, want.Subjects) && have.Storage == want.Storage &&
			have.Replicas == want.Replicas && have.Duplicates == want.Duplicates &&
			have.DenyDelete && have.DenyPurge && !have.AllowDirect {
			return s, nil
		}
		upd := have
		upd.Subjects, upd.Storage, upd.Replicas, upd.Duplicates = want.Subjects, want.Storage, want.Replicas, want.Duplicates
		upd.DenyDelete, upd.DenyPurge, upd.AllowDirect = true, true, false
		return l.js.UpdateStream(ctx, upd)
	}
}

// Config returns the log's configuration with defaults applied.
func (l *Log) Config() LogConfig { return l.cfg }

// Subject returns the subject of a person's events in this log.
func (l *Log) Subject(personID string) string { return Subject(l.cfg.SubjectPrefix, personID) }

// Head returns the stream sequence of the last event in the log (0 when
// empty).
func (l *Log) Head(ctx context.Context) (uint64, error) {
	ctx, cancel := roundTrip(ctx)
	defer cancel()
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("head of %s: %w", l.cfg.Stream, readErr(err))
	}
	return info.State.LastSeq, nil
}

// subjectCount returns how many events the log holds on subj.
func (l *Log) subjectCount(ctx context.Context, subj string) (uint64, error) {
	ctx, cancel := roundTrip(ctx)
	defer cancel()
	info, err := l.stream.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return 0, readErr(err)
	}
	return info.State.Subjects[subj], nil
}

// Load returns a person's events in log order and the stream sequence of the
// last one (0 when the person has none), which is the expected sequence for
// the next Append. It reads from the stream leader (no Direct Get), so it
// sees every append acknowledged before it was called.
func (l *Log) Load(ctx context.Context, personID string) ([]Recorded, uint64, error) {
	if err := domain.ValidatePersonID(personID); err != nil {
		return nil, 0, err
	}
	subj := l.Subject(personID)
	rs, err := l.fetchRange(ctx, subj, 1, -1)
	if err != nil {
		return nil, 0, fmt.Errorf("load %s: %w", subj, err)
	}
	var last uint64
	if n := len(rs); n > 0 {
		last = rs[n-1].Position
	}
	return rs, last, nil
}

// LoadKnownAt returns the person's events recorded at or before t (by their
// recorded-at time), in log order.
func (l *Log) LoadKnownAt(ctx context.Context, personID string, t time.Time) ([]Recorded, error) {
	rs, _, err := l.Load(ctx, personID)
	if err != nil {
		return nil, err
	}
	out := rs[:0]
	for _, r := range rs {
		if !r.RecordedAt.After(t) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Read returns up to max events with Position > after, in log order: what is
// in the log now, without waiting for more. max <= 0 means 1000.
func (l *Log) Read(ctx context.Context, after uint64, max int) ([]Recorded, error) {
	if max <= 0 {
		max = 1000
	}
	rs, err := l.fetchRange(ctx, l.wild, after+1, max)
	if err != nil {
		return nil, fmt.Errorf("read %s after %d: %w", l.cfg.Stream, after, err)
	}
	return rs, nil
}

// Load strategy, measured with BenchmarkLoad (bench_test.go; embedded
// server, 2 cores): a message get ("next message on this subject") costs one
// round trip per event, about 45µs for "none" and 100µs per event found; an
// ephemeral consumer costs about 220µs to create (its delete runs in the
// background) and then about 10µs per event. So Load fetches the first
// loadGetsBeforeConsumer events one by one (answering "no events" in one
// round trip, the common case of a new person) and the rest through a
// consumer. Both read from the stream leader; Direct Get (and its batch form)
// would be cheaper but is not coherent with the writes just acknowledged.
var loadGetsBeforeConsumer = 2

// fetchRange returns the events on filter with sequence >= start, at most
// limit of them (limit < 0: all), in order. It always ends with a message get
// that finds nothing (or the limit), even after reading through a consumer:
// what it returns is the log as of its last round trip, which keeps the
// window short between a catch-up and the append that expects it. A log it
// cannot reach is ErrUnavailable.
func (l *Log) fetchRange(ctx context.Context, filter string, start uint64, limit int) ([]Recorded, error) {
	out, err := l.readRange(ctx, filter, start, limit)
	return out, readErr(err)
}

// readRange is fetchRange, its errors as NATS returned them.
func (l *Log) readRange(ctx context.Context, filter string, start uint64, limit int) ([]Recorded, error) {
	var out []Recorded
	seq := start
	consumed := false
	for limit < 0 || len(out) < limit {
		if len(out) >= loadGetsBeforeConsumer && !consumed {
			var err error
			if out, err = l.consumeRange(ctx, filter, seq, limit, out); err != nil {
				return nil, err
			}
			consumed = true
			if n := len(out); n > 0 {
				seq = out[n-1].Position + 1
			}
			continue
		}
		var m *jetstream.RawStreamMsg
		var err error
		if filter == l.wild {
			// Every event: by sequence. "The next message on a subject"
			// with the log's wildcard costs a scan of every person's
			// subject on older servers (nats-server 2.9: seconds a call
			// with thousands of people).
			m, err = getMsg(ctx, l.stream, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				if last, lerr := l.lastSeq(ctx); lerr != nil {
					return nil, lerr
				} else if seq < last {
					seq++ // a sequence with no event (none is ever deleted, but be exact)
					continue
				}
			}
		} else {
			m, err = getMsg(ctx, l.stream, seq, jetstream.WithGetMsgSubject(filter))
		}
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		r, err := l.recordOf(m.Subject, m.Sequence, m.Header, m.Data, m.Time)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		seq = m.Sequence + 1
	}
	return out, nil
}

// roundTrip bounds one request to NATS by RequestTimeout, or by ctx's
// deadline when that comes first (a request's own, careerd's
// --request-timeout, may be much later).
func roundTrip(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); !ok || time.Until(d) <= RequestTimeout {
		// Without a deadline JetStream's default timeout (RequestTimeout:
		// OpenLog) bounds the request; an earlier one bounds it itself.
		// Either way no timer of our own (one per append otherwise).
		return ctx, noCancel
	}
	return context.WithTimeout(ctx, RequestTimeout)
}

func noCancel() {}

// getMsg is one message get, bounded as roundTrip says.
func getMsg(ctx context.Context, s jetstream.Stream, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	ctx, cancel := roundTrip(ctx)
	defer cancel()
	return s.GetMsg(ctx, seq, opts...)
}

// lastSeq is the stream's last sequence now.
func (l *Log) lastSeq(ctx context.Context) (uint64, error) {
	ctx, cancel := roundTrip(ctx)
	defer cancel()
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// consumeRange appends to out the events on filter from seq on through an
// ephemeral consumer. The consumer's pending count at creation bounds what
// it reads, so events appended meanwhile do not make it wait; it stops
// early when the consumer has nothing more at once, and fetchRange's
// message gets then read the rest.
func (l *Log) consumeRange(ctx context.Context, filter string, seq uint64, limit int, out []Recorded) ([]Recorded, error) {
	if filter == l.wild {
		// The whole log is the whole stream: no filter. A consumer
		// filtered on the log's wildcard looks each message up among every
		// person's subject on older servers (nats-server 2.9: 18 s for
		// 1,000 events with 3,000 people).
		filter = ""
	}
	cctx, cancel := roundTrip(ctx)
	defer cancel()
	cons, err := l.stream.CreateConsumer(cctx, jetstream.ConsumerConfig{
		FilterSubject:     filter,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       seq,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	info := cons.CachedInfo()
	defer l.deleteConsumerLater(info.Name)
	n := int(info.NumPending)
	if limit >= 0 && n > limit-len(out) {
		n = limit - len(out)
	}
	out = slices.Grow(out, n)
	for n > 0 {
		// The events are stored: take what the consumer has now, never
		// wait for more. The pending count can overstate what a filtered
		// consumer delivers (nats-server 2.9 counted 83 where 74 came), and
		// a fetch of more than comes waited its whole expiry.
		batch, err := cons.FetchNoWait(min(n, 1000))
		if err != nil {
			return nil, err
		}
		got := 0
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			r, err := l.recordOf(m.Subject(), md.Sequence.Stream, m.Headers(), m.Data(), md.Timestamp)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
			got++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, err
		}
		if got == 0 {
			// Nothing more now, whatever the count said: fetchRange's
			// message gets read on from here to the true end, one by one.
			return out, nil
		}
		n -= got
	}
	return out, nil
}

// deleteConsumerLater removes an ephemeral consumer without making the
// reader wait for the round trip; if it fails the server removes the consumer
// after its inactivity threshold anyway.
func (l *Log) deleteConsumerLater(name string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.stream.DeleteConsumer(ctx, name)
	}()
}

// recordOf decodes a stored message.
func (l *Log) recordOf(subject string, seq uint64, hdr nats.Header, data []byte, ts time.Time) (Recorded, error) {
	r, err := l.headerOf(subject, seq, hdr, ts)
	if err != nil {
		return Recorded{}, err
	}
	if r.Event, err = Decode(r.Type, r.Version, data); err != nil {
		return Recorded{}, fmt.Errorf("event %d on %s: %w", seq, subject, err)
	}
	return r, nil
}

// headerOf is what a stored message's subject and headers say of its
// event: a Recorded without its Event.
func (l *Log) headerOf(subject string, seq uint64, hdr nats.Header, ts time.Time) (Recorded, error) {
	ver, err := strconv.Atoi(hdr.Get(HeaderVersion))
	if err != nil {
		return Recorded{}, fmt.Errorf("event %d on %s: bad %s header %q", seq, subject, HeaderVersion, hdr.Get(HeaderVersion))
	}
	at := ts
	if h := hdr.Get(HeaderRecordedAt); h != "" {
		if t, err := time.Parse(time.RFC3339Nano, h); err == nil {
			at = t
		}
	}
	// Knowledge time to the microsecond, as PostgreSQL keeps it, so that
	// every read model answers a knownAt between two nanoseconds alike
	// (the Recorder stamps microseconds; older events may carry more).
	at = at.Truncate(time.Microsecond)
	return Recorded{
		Position:       seq,
		PersonID:       strings.TrimPrefix(subject, l.cfg.SubjectPrefix+"."),
		Type:           hdr.Get(HeaderType),
		Version:        ver,
		RecordedAt:     at,
		StoredAt:       ts.UTC(), // no location pointer for the collector to scan
		IdempotencyKey: text(hdr.Get(HeaderIdempotencyKey)),
		RecordedBy:     text(hdr.Get(HeaderRecordedBy)),
	}, nil
}

// text is a header's value as the read models can store it: valid UTF-8
// without NUL (U+FFFD for either), as the Recorder now writes them and a
// log written before may not hold them.
func text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// At returns the event at a stream position.
func (l *Log) At(ctx context.Context, pos uint64) (Recorded, error) {
	m, err := l.msgAt(ctx, pos)
	if err != nil {
		return Recorded{}, err
	}
	return l.recordOf(m.Subject, m.Sequence, m.Header, m.Data, m.Time)
}

// HeaderAt returns what the log says of the event at a stream position
// without decoding its body (Event nil): its person, type, version,
// recording time and keys, which a release that does not know the
// event's type or version reads too.
func (l *Log) HeaderAt(ctx context.Context, pos uint64) (Recorded, error) {
	m, err := l.msgAt(ctx, pos)
	if err != nil {
		return Recorded{}, err
	}
	return l.headerOf(m.Subject, m.Sequence, m.Header, m.Time)
}

// msgAt is the stored message at a stream position: ErrNoEvent when there
// is none, ErrUnavailable when the log was not reached.
func (l *Log) msgAt(ctx context.Context, pos uint64) (*jetstream.RawStreamMsg, error) {
	m, err := getMsg(ctx, l.stream, pos)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("event %d of %s: %w", pos, l.cfg.Stream, ErrNoEvent)
	}
	if err != nil {
		return nil, fmt.Errorf("event %d of %s: %w", pos, l.cfg.Stream, readErr(err))
	}
	return m, nil
}

// message builds the NATS message that appends e to a person's subject.
func (l *Log) message(personID string, expectedLastSeq uint64, msgID string, e Event, recordedAt time.Time, key, by string) (*nats.Msg, error) {
	if !personIDOK(personID) {
		return nil, domain.ValidatePersonID(personID)
	}
	return buildMessage(l.Subject(personID), expectedLastSeq, msgID, e, recordedAt, key, by)
}

// buildMessage is message for a subject already made from a valid person id.
func buildMessage(subject string, expectedLastSeq uint64, msgID string, e Event, recordedAt time.Time, key, by string) (*nats.Msg, error) {
	typ, ver, body, err := Encode(e)
	if err != nil {
		return nil, err
	}
	// The recorded-at time and the expected sequence (always set, 0
	// included: 0 means "the person has no event yet") formatted into one
	// string, and the header values and the message in one object: two
	// allocations where there were five (this runs on every append).
	var buf [64]byte
	b := recordedAt.UTC().AppendFormat(buf[:0], time.RFC3339Nano)
	at := len(b)
	b = strconv.AppendUint(b, expectedLastSeq, 10)
	both := string(b)
	m := &outgoing{}
	m.vals = [7]string{typ, strconv.Itoa(ver), both[:at], key, msgID, both[at:], by}
	vals := m.vals[:]
	h := make(nats.Header, 7)
	if by != "" {
		h[HeaderRecordedBy] = vals[6:7:7]
	}
	h[HeaderType] = vals[0:1:1]
	h[HeaderVersion] = vals[1:2:2]
	h[HeaderRecordedAt] = vals[2:3:3]
	if key != "" {
		h[HeaderIdempotencyKey] = vals[3:4:4]
	}
	if msgID != "" {
		h[jetstream.MsgIDHeader] = vals[4:5:5]
	}
	h[jetstream.ExpectedLastSubjSeqHeader] = vals[5:6:6]
	m.msg = nats.Msg{Subject: subject, Header: h, Data: body}
	return &m.msg, nil
}

// outgoing is a message to append with the backing array of its header
// values, allocated as one.
type outgoing struct {
	msg  nats.Msg
	vals [7]string
}

// Append adds e to the person's subject if the subject's last event is still
// at expectedLastSeq (0: the person has no event yet). It returns the event's
// position. With a non-empty msgID, a repeat within the stream's duplicate
// window is not stored again: Append returns the original position and
// duplicate = true. Which check the server makes first differs: clustered
// streams (and 2.9 servers) check the msg id first, a single 2.15 server
// checks the expected sequence first, so a repeat with a stale expectation
// may come back as a conflict instead; callers that need the original must
// also look for it in the log (as the Recorder does). A lost race returns an
// error that matches ErrConflict; a log it could not reach (nothing
// recorded), ErrUnavailable; an acknowledgement lost with the connection
// (perhaps recorded), ErrUnconfirmed; no acknowledgement within ctx's
// deadline or RequestTimeout (perhaps recorded), context.DeadlineExceeded.
func (l *Log) Append(ctx context.Context, personID string, expectedLastSeq uint64, msgID string, e Event, recordedAt time.Time, idempotencyKey string) (pos uint64, duplicate bool, err error) {
	m, err := l.message(personID, expectedLastSeq, msgID, e, recordedAt, idempotencyKey, ActorFrom(ctx))
	if err != nil {
		return 0, false, fmt.Errorf("append for %s: %w", personID, err)
	}
	if l.nc.IsClosed() {
		// Nothing is sent on a closed connection; closed while the append
		// waits, it is unconfirmed (classify).
		return 0, false, fmt.Errorf("append %s: %w", m.Subject, unavailable(nats.ErrConnectionClosed))
	}
	ctx, cancel := roundTrip(ctx)
	defer cancel()
	ack, err := l.js.PublishMsg(ctx, m)
	if err != nil {
		return 0, false, classify(m.Subject, err)
	}
	return ack.Sequence, ack.Duplicate, nil
}

// classify turns JetStream's "wrong last sequence" (10071 on R1 streams,
// 10164 on replicated ones) into ErrConflict, a publish that was never sent
// or that no stream took into ErrUnavailable, and one whose answer was lost
// with its connection into ErrUnconfirmed.
func classify(subject string, err error) error {
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant ||
			strings.Contains(strings.ToLower(apiErr.Description), "wrong last sequence")):
		return fmt.Errorf("append %s: %w: %w", subject, ErrConflict, err)
	case refusedUnsent(err):
		return fmt.Errorf("append %s: %w", subject, unavailable(err))
	case errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrDisconnected):
		return fmt.Errorf("append %s: %w: %w", subject, ErrUnconfirmed, err)
	}
	return fmt.Errorf("append %s: %w", subject, err)
}
