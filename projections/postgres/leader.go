package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// projectorLockKey elects the one projector among the instances sharing a
// database.
const projectorLockKey = 0x6361726565726c02

// RunExclusive runs fn while this process holds the projector lock of the
// database behind pool: of many
// careerd instances against one database exactly one projects, and another
// takes over within retry when it dies (its session, and so its lock, ends).
// It returns when ctx is done.
func RunExclusive(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, retry time.Duration, fn func(ctx context.Context) error) error {
	for {
		err := runLocked(ctx, pool, fn)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && log != nil {
			log.Warn("projector stopped", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
}

func runLocked(ctx context.Context, pool *pgxpool.Pool, fn func(ctx context.Context) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("projector lock: %w", err)
	}
	defer conn.Release()
	key := int64(projectorLockKey)
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
		conn.Conn().Close(context.Background()) //nolint:errcheck // discarding a broken session
		return fmt.Errorf("projector lock: %w", err)
	}
	if !got {
		return nil // another instance projects; try again later
	}
	// Hold the lock only while the session is alive: if the database drops
	// it, stop projecting at once so a rival can take over cleanly.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(lctx) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) //nolint:errcheck // released with the session anyway
			return err
		case <-tick.C:
			if err := conn.Ping(lctx); err != nil {
				cancel()
				<-done
				conn.Conn().Close(context.Background()) //nolint:errcheck // discarding a broken session
				return fmt.Errorf("projector lock lost: %w", err)
			}
		}
	}
}
