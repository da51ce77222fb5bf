package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/projections"
)

// readRetries is how many times a read whose connection was lost runs
// again (see read): a read runs at most readRetries+1 times.
const readRetries = 2

// querier runs the statements of a read: one connection of the pool,
// held for the whole read (see read), so a read's statements run one after
// the other, each one's rows closed before the next.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// read runs fn, a read of the read model outside any transaction (one
// statement or several), first on a connection of the pool (acquire: a
// wait for one while PostgreSQL cannot be reached ends, unreachable, well
// before ctx does). When it fails because the connection it ran on was
// lost (connectionLost: PostgreSQL ended the session, restarted or
// failed over, a proxy closed it, before or while the statement ran), it
// runs fn again, whole, on a connection that has just answered a ping, at
// once, up to readRetries times, while ctx is live. Any other error is
// returned at once.
//
// A connection PostgreSQL ended stays in the pool until a statement fails
// on it (the pool pings a connection before handing it out only after it
// idled for a second), so after a restart every connection of the pool may
// be dead: the ping before a retry drops them one by one (a failed ping
// closes its connection, and the pool never hands it out again) until one
// answers or the pool opens a new one.
//
// fn is read-only and starts from scratch each time: whatever it read
// before failing is dropped with its result.
//
// A read that fails because PostgreSQL cannot be reached (unreachable) is
// projections.ErrUnavailable, wrapping the driver's error.
func read[T any](ctx context.Context, s *Store, fn func(q querier) (T, error)) (T, error) {
	conn, err := s.acquire(ctx)
	if err != nil {
		var zero T
		return zero, unavailable(ctx, err)
	}
	v, err := fn(conn)
	conn.Release()
	for range readRetries {
		if !connectionLost(ctx, err) {
			break
		}
		var conn *pgxpool.Conn
		if conn, err = s.liveConn(ctx); err != nil {
			var zero T
			return zero, unavailable(ctx, fmt.Errorf("read again after a lost connection: %w", err))
		}
		v, err = fn(conn)
		conn.Release()
	}
	return v, unavailable(ctx, err)
}

// unavailableError is projections.ErrUnavailable with its cause.
type unavailableError struct{ cause error }

func (e unavailableError) Error() string {
	return projections.ErrUnavailable.Error() + ": " + e.cause.Error()
}

func (e unavailableError) Unwrap() []error { return []error{projections.ErrUnavailable, e.cause} }

// unavailable returns err, a read's failure, as projections.ErrUnavailable
// when it says PostgreSQL cannot be reached (unreachable), as it is
// otherwise.
func unavailable(ctx context.Context, err error) error {
	if unreachable(ctx, err) {
		return unavailableError{err}
	}
	return err
}

// unreachable reports whether err, a read's failure while ctx is live, says
// that PostgreSQL cannot be reached: no connection could be opened
// (*pgconn.ConnectError: the connection refused or timed out, no route to
// the host, its name not resolved; or the server answered that it is
// starting, shutting down or in recovery, 57P03, or has no connection to
// spare, 53300, or class 08), or the connection was still lost after the
// read ran again (connectionLost). Not: a connection the server refused
// for another reason (a password, a database that does not exist: the
// configuration's to fix, not an outage), an error of the statement (a
// syntax or permission error, a constraint, a cancel), the read's own
// (not found, an undecodable row), nor ctx ending (the request's deadline
// or the client gone, which are the request's).
func unreachable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if connect := (*pgconn.ConnectError)(nil); errors.As(err, &connect) {
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) {
			return pgErr.Code == "57P03" || pgErr.Code == "53300" || strings.HasPrefix(pgErr.Code, "08")
		}
		return true
	}
	return connectionLost(ctx, err)
}

// liveConn acquires a connection that answers a ping. A connection whose
// ping fails because it was lost is closed, so releasing it takes it out
// of the pool. The pool holds at most MaxConns connections: of MaxConns+1
// tries, one gets a live or new connection unless more are lost
// meanwhile; then liveConn returns the last ping's error.
func (s *Store) liveConn(ctx context.Context) (*pgxpool.Conn, error) {
	for n := s.pool.Stat().MaxConns(); ; n-- {
		conn, err := s.acquire(ctx)
		if err != nil {
			return nil, err
		}
		err = conn.Ping(ctx)
		if err == nil {
			return conn, nil
		}
		conn.Release()
		if n <= 0 || !connectionLost(ctx, err) {
			return nil, err
		}
	}
}

// lostCodes are the SQLSTATEs, besides class 08 (connection exception),
// of a session PostgreSQL ended: admin_shutdown (pg_terminate_backend, a
// fast or smart shutdown), crash_shutdown (another backend crashed) and
// idle_session_timeout. (cannot_connect_now, 57P03, comes only while a
// connection is opened, as a *pgconn.ConnectError: never retried.)
var lostCodes = []string{"57P01", "57P02", "57P05"}

// connectionLost reports whether err, a read's failure, is the loss of
// the connection it ran on, which running the read again on another
// connection may cure: an SQLSTATE of class 08 or one of lostCodes; an
// error pgconn marks safe to retry (nothing reached the server: the
// connection was found closed, a write sent nothing); the connection
// closed (io.EOF, io.ErrUnexpectedEOF, pgconn.ErrConnClosed); a network
// error (a reset, a broken pipe, the kernel giving up on a silent peer).
// Never once ctx is done (the request's deadline or cancellation, which
// pgx reports as a timeout), nor any other SQLSTATE (a cancel or a
// statement_timeout, 57014; a syntax error, a missing table, a
// permission), a connection the pool could not open (*pgconn.ConnectError:
// the server is not there to ask again), or an error of the read's own
// (not found, an undecodable row).
func connectionLost(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if connect := (*pgconn.ConnectError)(nil); errors.As(err, &connect) {
		return false
	}
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || slices.Contains(lostCodes, pgErr.Code)
	}
	var netErr net.Error
	return pgconn.SafeToRetry(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.As(err, &netErr)
}
