package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
)

// closedPort returns an address on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentServer returns the address of a server that accepts connections
// and never answers on them.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

// storeAt opens a Store on the database of pool reached at addr instead,
// with dsn's other settings added.
func storeAt(t *testing.T, pool *pgxpool.Pool, addr, extra string) *postgres.Store {
	t.Helper()
	cc := pool.Config().ConnConfig
	p, err := pgxpool.New(bg, fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable%s", cc.User, addr, cc.Database, extra))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return postgres.New(p, domain.DefaultCatalogue(), postgres.DefaultSchema)
}

// TestAReadModelThatCannotBeReachedIsUnavailable: every read of a Store
// whose server cannot be reached (nothing listens at its address, or
// nothing answers there in time) is projections.ErrUnavailable, which the
// API answers UNAVAILABLE; one that reached the server and failed there (a
// database that does not exist, a missing table) is not.
func TestAReadModelThatCannotBeReachedIsUnavailable(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	reads := func(s *postgres.Store) map[string]error {
		ctx, cancel := context.WithTimeout(bg, 30*time.Second)
		defer cancel()
		_, person := s.Person(ctx, "E1")
		_, departments := s.Departments(ctx)
		_, readable := s.Readable(ctx)
		_, people := s.People(ctx, projections.PeopleFilter{First: 10})
		return map[string]error{"Person": person, "Departments": departments, "Readable": readable, "People": people,
			"WaitFor": s.WaitFor(ctx, 1)}
	}
	for what, s := range map[string]*postgres.Store{
		"a closed port": storeAt(t, pool, closedPort(t), ""),
		// A server that takes the connection and never answers: the
		// connection times out rather than being refused.
		"a connection that times out": storeAt(t, pool, silentServer(t), "&connect_timeout=1"),
	} {
		for read, err := range reads(s) {
			if !errors.Is(err, projections.ErrUnavailable) {
				t.Errorf("%s, %s: %v, want projections.ErrUnavailable", what, read, err)
			}
		}
	}
	cc := pool.Config().ConnConfig
	addr := net.JoinHostPort(cc.Host, fmt.Sprint(cc.Port))
	other := storeAt(t, pool, addr, "")
	if _, err := other.Person(bg, "E1"); domain.KindOf(err) != domain.KindNotFound {
		t.Errorf("a reachable read model: %v, want not found", err)
	}
	if _, err := pool.Exec(bg, "DROP TABLE "+postgres.DefaultSchema+".projection_checkpoint CASCADE"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Readable(bg); err == nil || errors.Is(err, projections.ErrUnavailable) {
		t.Errorf("a read of a missing table: %v, want an error that is not ErrUnavailable", err)
	}
	p, err := pgxpool.New(bg, fmt.Sprintf("postgres://%s@%s/careerledger_no_such_database?sslmode=disable", cc.User, addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if _, err := postgres.New(p, domain.DefaultCatalogue(), postgres.DefaultSchema).Departments(bg); err == nil || errors.Is(err, projections.ErrUnavailable) {
		t.Errorf("a database that does not exist: %v, want an error that is not ErrUnavailable", err)
	}
}

// TestAReadBehindAFullPoolOfASilentDatabaseIsUnavailable: a read that
// waits for a connection of a pool whose every connection is held (by
// statements stuck on the silent server, say) fails with
// projections.ErrUnavailable once it has waited a second and a connection
// of its own cannot be opened within the connect timeout, not when its
// context ends. A pool with no connect
// timeout (connect_timeout=0, on purpose) is never asked about: its reads
// wait until their context ends.
func TestAReadBehindAFullPoolOfASilentDatabaseIsUnavailable(t *testing.T) {
	proxy := pgtest.StartProxy(t, pgtest.NewPool(t, postgres.DefaultSchema))
	for _, timeout := range []string{"0", "1"} {
		p, err := pgxpool.New(bg, proxy.URL("pool_max_conns=2", "connect_timeout="+timeout))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		s := postgres.New(p, domain.DefaultCatalogue(), postgres.DefaultSchema)
		if _, err := s.Readable(bg); err != nil {
			t.Fatal(err)
		}
		pgtest.HoldConns(t, p)
		if timeout == "0" {
			ctx, cancel := context.WithTimeout(bg, 3*time.Second)
			_, err := s.Readable(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, projections.ErrUnavailable) {
				t.Errorf("connect_timeout=0, a read behind a full pool: %v, want its deadline", err)
			}
			continue
		}
		proxy.Silence(t)
		ctx, cancel := context.WithTimeout(bg, 20*time.Second)
		defer cancel()
		start := time.Now()
		errs := make(chan error, 3)
		for range cap(errs) {
			go func() { _, err := s.Person(ctx, "E1"); errs <- err }()
		}
		for range cap(errs) {
			if err := <-errs; !errors.Is(err, projections.ErrUnavailable) {
				t.Errorf("a read behind a full pool of a silent database: %v, want projections.ErrUnavailable", err)
			}
		}
		// A second of waiting, then the connect timeout of the question.
		if took := time.Since(start); took < time.Second || took > 3*time.Second {
			t.Errorf("the reads failed after %v, want about 2s", took)
		}
	}
}

// TestAReadWaitingForABusyPoolIsServed: a read that waits for a
// connection of a pool whose every connection is held by a database that
// answers is served once one comes free, however long past the second
// after which it asks whether the database can be reached.
func TestAReadWaitingForABusyPoolIsServed(t *testing.T) {
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	p, err := pgxpool.New(bg, pgtest.URL(pool)+"&pool_max_conns=2&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	s := postgres.New(p, domain.DefaultCatalogue(), postgres.DefaultSchema)
	release := pgtest.HoldConns(t, p)
	const busy = 3500 * time.Millisecond
	time.AfterFunc(busy, release)
	start := time.Now()
	if _, err := s.Readable(bg); err != nil {
		t.Errorf("a read waiting for a busy pool: %v, want it served", err)
	}
	if took := time.Since(start); took < busy {
		t.Errorf("the read was served after %v, while every connection was held for %v", took, busy)
	}
}
