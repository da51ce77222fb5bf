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
