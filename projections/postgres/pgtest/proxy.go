package pgtest

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Proxy forwards connections to a test database's server until it is cut
// (Cut: nothing listens at its address any more, so a new connection is
// refused, and the connections it forwarded are closed, as when the
// database's host goes away) or silenced (Silence: connections are taken
// and never answered, as when the host's packets are dropped).
type Proxy struct {
	target string
	user   string
	db     string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

// StartProxy starts a proxy to pool's server on a free local port; it is
// cut at the end of the test.
func StartProxy(t testing.TB, pool *pgxpool.Pool) *Proxy {
	t.Helper()
	cc := pool.Config().ConnConfig
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{target: net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), user: cc.User, db: cc.Database, ln: ln}
	t.Cleanup(p.Cut)
	go p.serve(ln, true)
	return p
}

// URL is a connection string for pool's database through the proxy, with
// params (such as "pool_max_conns=20") added to its query.
func (p *Proxy) URL(params ...string) string {
	u := fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", p.user, p.ln.Addr(), p.db)
	for _, q := range params {
		u += "&" + q
	}
	return u
}

func (p *Proxy) serve(ln net.Listener, forward bool) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !forward {
			p.keep(c)
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.keep(c, s)
		go func() { io.Copy(s, c); s.Close() }() //nolint:errcheck // ends with either side
		go func() { io.Copy(c, s); c.Close() }() //nolint:errcheck // ends with either side
	}
}

func (p *Proxy) keep(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, conns...)
}

// Cut closes the listener and every connection forwarded so far.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Silence cuts the proxy and then listens at its address again, taking
// connections without forwarding or answering them.
func (p *Proxy) Silence(t testing.TB) {
	t.Helper()
	addr := p.ln.Addr().String()
	p.Cut()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.serve(ln, false)
}
