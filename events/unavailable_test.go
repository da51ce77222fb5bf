package events

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/nats-io/nats.go"
)

// tcpServer is an embedded server clients reach over TCP, that can stop and
// start again at the same address on the same storage.
type tcpServer struct {
	t    *testing.T
	dir  string
	addr string
	srv  *Embedded
}

func startTCPServer(t *testing.T) *tcpServer {
	t.Helper()
	s := &tcpServer{t: t, dir: t.TempDir(), addr: "127.0.0.1:0"}
	s.start()
	s.addr = strings.TrimPrefix(s.srv.ClientURL(), "nats://")
	t.Cleanup(func() {
		if s.srv != nil {
			s.srv.Shutdown()
		}
	})
	return s
}

func (s *tcpServer) start() {
	s.t.Helper()
	srv, err := StartEmbedded(EmbeddedConfig{Dir: s.dir, Listen: s.addr})
	if err != nil {
		s.t.Fatal(err)
	}
	s.srv = srv
}

func (s *tcpServer) stop() {
	s.srv.Shutdown()
	s.srv = nil
}

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
	s := startTCPServer(t)
	nc := connectTCP(t, s.addr)
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

	s.stop()
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
	}

	s.start()
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
	}
}

// holdingProxy carries TCP to a server and can hold the bytes while its
// connections stay open: a request is sent, and its answer does not come.
type holdingProxy struct {
	ln   net.Listener
	mu   sync.Mutex
	cond *sync.Cond
	held bool
}

func startHoldingProxy(t *testing.T, target string) *holdingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holdingProxy{ln: ln}
	p.cond = sync.NewCond(&p.mu)
	var conns []net.Conn
	var connsMu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			connsMu.Lock()
			conns = append(conns, c, u)
			connsMu.Unlock()
			go p.pipe(u, c)
			go p.pipe(c, u)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.setHeld(false)
		connsMu.Lock()
		defer connsMu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return p
}

func (p *holdingProxy) setHeld(held bool) {
	p.mu.Lock()
	p.held = held
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *holdingProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.held {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestAnAppendWhoseAnswerIsLostIsErrUnconfirmed: an append sent whose
// connection closes before the answer comes is ErrUnconfirmed, not
// ErrUnavailable: it may have been recorded, and here it was.
func TestAnAppendWhoseAnswerIsLostIsErrUnconfirmed(t *testing.T) {
	s := startTCPServer(t)
	p := startHoldingProxy(t, s.addr)
	nc := connectTCP(t, p.ln.Addr().String())
	ctx := ctxT(t)
	l, err := OpenLog(ctx, nc, LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p.setHeld(true)
	reg := PersonRegistered{PersonID: "E1", Name: "n", Department: "Ops", JoinedOn: domain.MustDate("2020-01-01")}
	done := make(chan error, 1)
	go func() { _, _, err := l.Append(ctx, "E1", 0, "", reg, time.Now(), ""); done <- err }()
	time.Sleep(200 * time.Millisecond) // the append is in the proxy's hands
	nc.Close()
	p.setHeld(false)
	if err := <-done; !errors.Is(err, ErrUnconfirmed) || errors.Is(err, ErrUnavailable) {
		t.Errorf("append whose connection closed while it waited: err = %v, want ErrUnconfirmed", err)
	}
	check := connectTCP(t, s.addr)
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
