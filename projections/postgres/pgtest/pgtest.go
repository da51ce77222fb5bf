// Package pgtest gives tests a fresh, migrated PostgreSQL database of their
// own on the local server, dropped when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/projections/postgres"
)

// AdminURL is the local server the tests create their databases on.
const AdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// NewDatabase creates an empty database and returns its URL; the database is
// dropped at the end of the test. options, if any, follow CREATE DATABASE
// name (a locale, say).
func NewDatabase(t testing.TB, options ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL)
	if err != nil {
		t.Fatalf("pgtest: the local PostgreSQL is not reachable (make services starts it): %v", err)
	}
	defer admin.Close(ctx)
	var b [6]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand never fails on Linux
	name := "careerledger_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, strings.Join(append([]string{"CREATE DATABASE", name}, options...), " ")); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, AdminURL)
		if err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	u, _ := url.Parse(AdminURL)
	u.Path = "/" + name
	return u.String()
}

// NewPool creates a fresh database (with options: see NewDatabase),
// migrates schema into it and returns a pool on it, closed at the end of
// the test.
func NewPool(t testing.TB, schema string, options ...string) *pgxpool.Pool {
	t.Helper()
	dsn := NewDatabase(t, options...)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return pool
}

// URL returns the connection string of pool's database, for programs
// started by a test.
func URL(pool *pgxpool.Pool) string {
	cc := pool.Config().ConnConfig
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cc.User, cc.Host, cc.Port, cc.Database)
}

// HoldConns acquires every connection of pool that comes free within 2 s
// of asking (all of them, if nothing else holds one) and fails the test
// unless the pool then has every connection acquired. It returns what
// releases the connections it holds: safe from any goroutine, once or
// more, and run at the end of the test too.
func HoldConns(t testing.TB, pool *pgxpool.Pool) (release func()) {
	t.Helper()
	var (
		mu   sync.Mutex
		held []*pgxpool.Conn
	)
	release = func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Release()
		}
		held = nil
	}
	t.Cleanup(release)
	for n := int32(0); n < pool.Stat().MaxConns(); n++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pool.Acquire(ctx)
		cancel()
		if err != nil {
			break
		}
		mu.Lock()
		held = append(held, c)
		mu.Unlock()
	}
	if s := pool.Stat(); len(held) == 0 || s.AcquiredConns() != s.MaxConns() {
		t.Fatalf("pgtest: held %d of the pool's connections, %d of %d acquired in all: want them all acquired", len(held), s.AcquiredConns(), s.MaxConns())
	}
	return release
}

// Strings runs a query of one text column and returns its values, failing
// the test on an error.
func Strings(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// EndClaim ends the session holding a rebuild's claim on schema (see
// postgres.BeginRebuild), as a killed process's or a lost connection's
// would end, and fails the test unless exactly one did.
func EndClaim(t testing.TB, pool *pgxpool.Pool, schema string) {
	t.Helper()
	var ended int
	if err := pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(l.pid))
		FROM pg_locks l JOIN public.careerledger_rebuilds r ON l.objid::bigint = r.lock_id::bigint & 4294967295
		WHERE r.schema = $1 AND l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`, schema).Scan(&ended); err != nil {
		t.Fatal(err)
	}
	if ended != 1 {
		t.Fatalf("ended %d sessions holding the claim on %s, want 1", ended, schema)
	}
}
