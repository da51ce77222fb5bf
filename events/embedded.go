package events

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures an in-process JetStream server.
type EmbeddedConfig struct {
	Dir string // JetStream storage directory (required)
	// Listen is the host:port for NATS clients; "" (the default) opens no
	// TCP port at all and clients connect in-process. Port 0 picks a free
	// port.
	Listen string
	// SyncInterval is how often the file store fsyncs. 0 (the default)
	// fsyncs every write ("sync_interval: always"), so an acknowledged event
	// survives a power failure; > 0 trades that window for throughput.
	SyncInterval time.Duration
}

// Embedded is a JetStream server running in this process.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a single JetStream server and waits until it accepts
// connections.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Dir == "" {
		return nil, errors.New("start embedded nats: a storage directory is required")
	}
	opts := &server.Options{
		ServerName: "careerledger-embedded",
		JetStream:  true,
		StoreDir:   cfg.Dir,
		NoSigs:     true,
		NoLog:      true,
		DontListen: cfg.Listen == "",
	}
	if cfg.SyncInterval > 0 {
		opts.SyncInterval = cfg.SyncInterval
	} else {
		opts.SyncAlways = true
		opts.SyncInterval = 2 * time.Minute // the server's default; ignored while SyncAlways
	}
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: listen %q: %w", cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("start embedded nats: listen %q: bad port", cfg.Listen)
		}
		if p == 0 {
			p = server.RANDOM_PORT // Port 0 means 4222 to the server
		}
		opts.Host, opts.Port = host, p
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	// The server says why it cannot start (its listen address taken,
	// JetStream unable to use the storage directory) only in its log,
	// which is off: fatal records are caught here and end the wait with
	// their words, rather than a bare "not ready" 10 s later.
	fatal := &fatalLogger{c: make(chan string, 1)}
	srv.SetLoggerV2(fatal, false, false, false)
	srv.Start()
	deadline := time.Now().Add(10 * time.Second)
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		select {
		case msg := <-fatal.c:
			srv.Shutdown()
			return nil, fmt.Errorf("start embedded nats: %s", msg)
		default:
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			return nil, errors.New("start embedded nats: not ready after 10s")
		}
	}
	return &Embedded{srv: srv}, nil
}

// fatalLogger is the embedded server's logger: it drops every record but
// the first fatal one, which it hands to StartEmbedded. The server's own
// loggers exit the process on a fatal record; this one does not, so the
// start fails with an error instead.
type fatalLogger struct{ c chan string }

func (l *fatalLogger) Fatalf(format string, v ...any) {
	select {
	case l.c <- fmt.Sprintf(format, v...):
	default:
	}
}

func (*fatalLogger) Noticef(string, ...any) {}
func (*fatalLogger) Warnf(string, ...any)   {}
func (*fatalLogger) Errorf(string, ...any)  {}
func (*fatalLogger) Debugf(string, ...any)  {}
func (*fatalLogger) Tracef(string, ...any)  {}

// Connect opens a client connection to the server: in-process, without
// TCP, whether or not the server listens.
func (e *Embedded) Connect(opts ...nats.Option) (*nats.Conn, error) {
	all := append([]nats.Option{nats.InProcessServer(e.srv), nats.Name("careerledger")}, opts...)
	nc, err := nats.Connect(e.srv.ClientURL(), all...)
	if err != nil {
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	return nc, nil
}

// ClientURL returns the URL clients in other processes can use, or "" when
// the server does not listen.
func (e *Embedded) ClientURL() string {
	if e.srv.Addr() == nil {
		return ""
	}
	return e.srv.ClientURL()
}

// Shutdown stops the server and waits until it has flushed and closed its
// storage.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
