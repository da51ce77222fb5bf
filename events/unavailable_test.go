package events

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events/natstest"
	"github.com/nats-io/nats.go"
)

// connectTCP connects to addr with ConnectOptions.
func connectTCP(t *testing.T, addr string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("nats://"+addr, append(ConnectOptions(), nats.ReconnectWait(20*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// TestEveryCallOnALogNATSCannotReachIsErrUnavailable: with the server away,
// every append (single or batch) and every read of a Log on a connection
// made with ConnectOptions fails at once with ErrUnavailable, and nothing
// is appended when the server is back; an append on a closed connection is
// ErrUnavailable too.
func TestEveryCallOnALogNATSCannotReachIsErrUnavailable(t *testing.T) {
	s := natstest.Start(t)
	nc := connectTCP(t, s.Addr())
	ctx := ctxT(t)
	l, err := OpenLog(ctx, nc, LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	reg := PersonRegistered{PersonID: "E1", Name: "n", Department: "Ops", JoinedOn: domain.MustDate("2020-01-01")}
	if _, _, err := l.Append(ctx, "E1", 0, "", reg, at, ""); err != nil {
		t.Fatal(err)
	}

	s.Stop()
	for deadline := time.Now().Add(5 * time.Second); nc.Status() != nats.RECONNECTING; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the connection never noticed the server went away (%v)", nc.Status())
		}
	}
	moved := PersonTransferred{PersonID: "E1", Department: "Dev", EffectiveOn: domain.MustDate("2021-01-01")}
	calls := map[string]func() error{
		"Append": func() error { _, _, err := l.Append(ctx, "E1", 1, "E1:k", moved, at, "k"); return err },
		"AppendBatch": func() error {
			out, err := l.AppendBatch(ctx, []Pending{{PersonID: "E1", ExpectedLastSeq: 1, Event: moved, RecordedAt: at}})
			if err == nil && out[0].Err != nil {
				err = out[0].Err
			}
			return err
		},
		"Head": func() error { _, err := l.Head(ctx); return err },
		"Read": func() error { _, err := l.Read(ctx, 0, 0); return err },
		"Load": func() error { _, _, err := l.Load(ctx, "E1"); return err },
		"At":   func() error { _, err := l.At(ctx, 1); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s while NATS is away took %v, want a prompt failure", name, took)
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s while NATS is away: err = %v, want ErrUnavailable", name, err)
		}
		// Said in plain words: what the client library calls it (an
		// "outbound buffer limit exceeded", for an append) is no one's
		// business but errors.Is's.
		if err != nil && (!strings.Contains(err.Error(), "the event log is unreachable: the connection to NATS is lost and reconnecting") ||
			strings.Contains(err.Error(), "nats:") || strings.Contains(err.Error(), "buffer")) {
			t.Errorf("%s while NATS is away: %q, want it to say the connection to NATS is lost and reconnecting, in those words only", name, err)
		}
	}
	if _, _, err := l.Append(ctx, "E1", 1, "", moved, at, ""); !errors.Is(err, nats.ErrReconnectBufExceeded) {
		t.Errorf("Append while NATS is away: err = %v, want nats.ErrReconnectBufExceeded found by errors.Is still", err)
	}

	s.Start()
	for deadline := time.Now().Add(5 * time.Second); !nc.IsConnected(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connection did not come back")
		}
	}
	time.Sleep(200 * time.Millisecond)
	if head, err := l.Head(ctx); err != nil || head != 1 {
		t.Errorf("head after the outage = %d, %v; want 1 (nothing appended while NATS was away)", head, err)
	}

	nc.Close()
	if _, _, err := l.Append(ctx, "E1", 1, "", moved, at, ""); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Append on a closed connection: err = %v, want ErrUnavailable", err)
	} else if want := "append career.person.E1: the event log is unreachable: the connection to NATS is closed"; err.Error() != want {
		t.Errorf("Append on a closed connection: %q, want %q", err, want)
	}
}

// TestAnAppendWhoseAnswerIsLostIsErrUnconfirmed: an append sent whose
// connection closes before the answer comes is ErrUnconfirmed, not
// ErrUnavailable: it may have been recorded, and here it was.
func TestAnAppendWhoseAnswerIsLostIsErrUnconfirmed(t *testing.T) {
	s, p, nc, l := behindProxy(t)
	ctx := ctxT(t)
	p.Hold()
	reg := PersonRegistered{PersonID: "E1", Name: "n", Department: "Ops", JoinedOn: domain.MustDate("2020-01-01")}
	done := make(chan error, 1)
	go func() { _, _, err := l.Append(ctx, "E1", 0, "", reg, time.Now(), ""); done <- err }()
	time.Sleep(200 * time.Millisecond) // the append is in the proxy's hands
	nc.Close()
	p.Release()
	if err := <-done; !errors.Is(err, ErrUnconfirmed) || errors.Is(err, ErrUnavailable) {
		t.Errorf("append whose connection closed while it waited: err = %v, want ErrUnconfirmed", err)
	}
	check := connectTCP(t, s.Addr())
	cl, err := OpenLog(ctx, check, LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if head, err := cl.Head(ctx); err == nil && head == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the unconfirmed append never reached the log")
		}
	}
}

// TestAReadWhoseAnswerIsLostEndsAtRequestTimeout: a read whose request
// gets no answer (the network gone silent) ends after RequestTimeout, even
// under a context whose own deadline is later (a GraphQL request's).
func TestAReadWhoseAnswerIsLostEndsAtRequestTimeout(t *testing.T) {
	_, p, _, l := behindProxy(t)
	ctx := ctxT(t)
	p.Hold()
	defer p.Release()
	later, cancel := context.WithTimeout(ctx, 4*RequestTimeout)
	defer cancel()
	start := time.Now()
	if _, _, err := l.Load(later, "E1"); err == nil {
		t.Fatal("a load with no answer succeeded")
	}
	if d := time.Since(start); d < RequestTimeout-time.Second || d > RequestTimeout+2*time.Second {
		t.Errorf("the load ended after %v, want about %v", d, RequestTimeout)
	}
}

// TestACommandThatEndsBeforeItsWriteSaysNothingWasSent: a command whose
// read of the person outlives its context ends with ErrNothingSent (and
// the context's error): nothing was recorded.
func TestACommandThatEndsBeforeItsWriteSaysNothingWasSent(t *testing.T) {
	_, p, _, l := behindProxy(t)
	ctx := ctxT(t)
	mustRegister(t, newRecorder(l), "E1")
	p.Hold()
	defer p.Release()
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err := newRecorder(l).TransferPerson(short, TransferPerson{PersonID: "E1", Department: "QA", EffectiveOn: domain.MustDate("2020-01-01")})
	if !errors.Is(err, ErrNothingSent) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want ErrNothingSent and the deadline", err)
	}
}

// behindProxy starts a server and a Log on a connection to it through a
// proxy that can hold the bytes.
func behindProxy(t *testing.T) (*natstest.Server, *natstest.Proxy, *nats.Conn, *Log) {
	t.Helper()
	s := natstest.Start(t)
	p := natstest.StartProxy(t, s.Addr())
	nc := connectTCP(t, p.Addr())
	l, err := OpenLog(ctxT(t), nc, LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return s, p, nc, l
}
