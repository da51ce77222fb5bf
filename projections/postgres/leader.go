package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// projectorLockKey elects the projector of the read model named
// DefaultSchema. Releases before the keys were per read model took it for
// every name: keeping it for the default name means an instance of such a
// release and one of this, side by side in a rolling upgrade, still
// exclude each other.
const projectorLockKey = 0x6361726565726c02

// ProjectorLockKey returns the key of the advisory lock that elects the one
// projector of read model name (careerd's --schema: the deployment's name,
// not the physical schema a rebuild switches to, so that the lock holds
// across a switch): projectorLockKey for DefaultSchema, and for any other
// name a 64-bit FNV-1a hash of a prefix and the name. Deployments of other
// names on one database project side by side.
func ProjectorLockKey(name string) int64 {
	if name == DefaultSchema {
		return projectorLockKey
	}
	h := fnv.New64a()
	h.Write([]byte("careerledger projector\x00" + name)) //nolint:errcheck // a hash.Hash never fails
	return int64(h.Sum64())
}

// lockPingTimeout bounds how long the projector lock's session may take to
// answer its ping (once a second). A database gone silent (a frozen server,
// a network cut that leaves the connection open) otherwise held the
// projector, and the lock, until TCP gave up on the session, a quarter of
// an hour later: now the projector stops, its batch in flight is cancelled
// (rolled back) and it tries again, as after a lost session. A database
// slower than this to answer a ping is taken for gone.
var lockPingTimeout = 10 * time.Second

// lockIdleTimeout is the lock session's idle_session_timeout: PostgreSQL
// ends the session, and so frees the lock, when its holder has sent
// nothing (not even the ping of every second) for this long. A holder
// whose process is frozen (stopped, a VM paused, a stop-the-world stall)
// keeps its connection open, and the kernel answers TCP for it: without
// the bound its lock, and the projector of every instance, was held until
// the process ran again. PostgreSQL before 14 lacks the setting and keeps
// the old behaviour.
var lockIdleTimeout = 10 * time.Second

// ErrLockLost is the error of a projector lock held and then lost: its
// session failed (a dropped connection, a database gone silent) while fn
// ran. fn's context is cancelled with it as the cause (context.Cause), so
// that fn can tell a lost lock from a clean stop.
var ErrLockLost = errors.New("projector lock lost")

// failureLogEvery is how often RunExclusive says again that trying for the
// lock still fails: the first failure is logged with its error, the ones
// that follow (once every retry) only this often, and the recovery once.
var failureLogEvery = time.Minute

// RunExclusive runs fn while this process holds the projector lock of read
// model name (ProjectorLockKey) in the database behind pool: of many
// careerd instances serving one read model exactly one projects, and another
// takes over within retry when it dies (its session, and so its lock, ends).
// It returns when ctx is done.
//
// A failure (the database cannot be reached to try for the lock, the lock
// is lost, fn fails) is logged at warn with its error when it begins a run
// of failures; while they go on, once every retry, it says so again only
// once every failureLogEvery, with their count; when a try reaches the
// database again it logs the recovery once, at info.
func RunExclusive(ctx context.Context, pool *pgxpool.Pool, name string, log *slog.Logger, retry time.Duration, fn func(ctx context.Context) error) error {
	key := ProjectorLockKey(name)
	var (
		failures       int
		since, lastLog time.Time
	)
	reached := func() {
		if failures > 0 && log != nil {
			log.Info("projector lock: the database answers again", "failed_tries", failures,
				"failing_for", time.Since(since).Round(time.Millisecond).String())
		}
		failures = 0
	}
	for {
		err := runLocked(ctx, pool, key, reached, fn)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failures++
			now := time.Now()
			switch {
			case log == nil:
			case failures == 1:
				since, lastLog = now, now
				switch {
				case errors.Is(err, ErrLockLost):
					log.Warn("projector lock lost: this instance stopped projecting; trying for the lock again", "err", err, "retry", retry.String())
				case errors.Is(err, errLockTry):
					log.Warn("cannot try for the projector lock; trying again, quietly while it fails", "err", err, "retry", retry.String())
				default:
					log.Warn("projector stopped", "err", err)
				}
			case now.Sub(lastLog) >= failureLogEvery:
				lastLog = now
				log.Warn("projector lock: still failing", "err", err, "failed_tries", failures,
					"failing_for", now.Sub(since).Round(time.Millisecond).String())
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
}

// errLockTry marks a failure to try for the lock: the database could not be
// asked.
var errLockTry = errors.New("projector lock")

func runLocked(ctx context.Context, pool *pgxpool.Pool, key int64, reached func(), fn func(ctx context.Context) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", errLockTry, err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
		conn.Conn().Close(context.Background()) //nolint:errcheck // discarding a broken session
		return fmt.Errorf("%w: %w", errLockTry, err)
	}
	reached()
	if !got {
		return nil // another instance projects; try again later
	}
	if err := setIdleTimeout(ctx, conn, lockIdleTimeout); err != nil {
		conn.Conn().Close(context.Background()) //nolint:errcheck // the lock goes with the session
		return fmt.Errorf("%w: %w", errLockTry, err)
	}
	// Hold the lock only while the session is alive: if the database drops
	// it, stop projecting at once so a rival can take over cleanly.
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan error, 1)
	go func() { done <- fn(lctx) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) //nolint:errcheck // released with the session anyway
			if setIdleTimeout(context.WithoutCancel(ctx), conn, 0) != nil {
				conn.Conn().Close(context.Background()) //nolint:errcheck // not returned to the pool with the bound
			}
			return err
		case <-tick.C:
			pctx, pcancel := context.WithTimeout(lctx, lockPingTimeout)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) && lctx.Err() == nil {
					err = fmt.Errorf("the database did not answer the lock session's ping within %s", lockPingTimeout)
				}
				lost := fmt.Errorf("%w: %w", ErrLockLost, err)
				if ctx.Err() == nil {
					cancel(lost)
				} else {
					cancel(nil)
				}
				<-done
				conn.Conn().Close(context.Background()) //nolint:errcheck // discarding a broken session
				return lost
			}
		}
	}
}

// setIdleTimeout sets the session's idle_session_timeout (0: none), or
// does nothing on a PostgreSQL without it (before 14).
func setIdleTimeout(ctx context.Context, conn *pgxpool.Conn, d time.Duration) error {
	_, err := conn.Exec(ctx, "SELECT set_config('idle_session_timeout', $1, false)", strconv.FormatInt(d.Milliseconds(), 10))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42704" { // undefined_object: no such setting
		return nil
	}
	return err
}
