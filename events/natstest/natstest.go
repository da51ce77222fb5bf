// Package natstest stands for NATS going away in tests: a JetStream server
// clients reach over TCP that stops and starts again at the same address on
// the same storage, and a proxy that can hold the bytes between clients and
// a server while its connections stay open (a network gone silent). It
// imports no package of this module, so that every package's tests, the
// events package's own included, can use it.
package natstest

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a JetStream server on a loopback TCP port.
type Server struct {
	t    testing.TB
	dir  string
	port int
	srv  *server.Server
}

// Start starts a server on a free port; it is shut down when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), port: server.RANDOM_PORT}
	s.Start()
	s.port = s.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() {
		if s.srv != nil {
			s.Stop()
		}
	})
	return s
}

// Addr is the server's host:port, the same across restarts.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the server's nats:// address.
func (s *Server) URL() string { return "nats://" + s.Addr() }

// Start starts the server again after Stop, at the same address on the
// same storage.
func (s *Server) Start() {
	s.t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: s.port, JetStream: true, StoreDir: s.dir,
		NoSigs: true, NoLog: true})
	if err != nil {
		s.t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		s.t.Fatal("natstest: the server was not ready after 10s")
	}
	s.srv = srv
}

// Stop shuts the server down and waits until it has.
func (s *Server) Stop() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// Proxy carries TCP between clients and a server, and can stop carrying it
// (holding the bytes) while its connections stay open.
type Proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	cond  *sync.Cond
	held  bool
	conns []net.Conn
}

// StartProxy listens on a free loopback port and carries every connection
// to target; it is closed when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln}
	p.cond = sync.NewCond(&p.mu)
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
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go p.pipe(u, c)
			go p.pipe(c, u)
		}
	}()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Hold stops carrying bytes.
func (p *Proxy) Hold() { p.mu.Lock(); p.held = true; p.mu.Unlock() }

// Release carries bytes again, what was held first.
func (p *Proxy) Release() {
	p.mu.Lock()
	p.held = false
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
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

func (p *Proxy) close() {
	p.ln.Close()
	p.Release()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}
