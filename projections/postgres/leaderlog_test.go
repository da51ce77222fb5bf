package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// count returns how many records of msg the log holds.
func (s *syncBuffer) count(msg string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for line := range strings.Lines(s.b.String()) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			n++
		}
	}
	return n
}

// TestRunExclusiveLogsAFailingSeriesOnce: a holder whose database goes
// away says once that its lock is lost (fn's context has ErrLockLost for
// its cause), then, while every try fails, only once every
// failureLogEvery, not at every retry; once the database answers it says
// so once and runs fn again. A stop (ctx done) is not a lost lock.
func TestRunExclusiveLogsAFailingSeriesOnce(t *testing.T) {
	postgres.SetFailureLogEvery(t, 300*time.Millisecond)
	pool := pgtest.NewPool(t, postgres.DefaultSchema)
	cfg := pool.Config().ConnConfig.Copy()
	db := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(bg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ident := pgx.Identifier{db}.Sanitize()
	allow := func(yes bool) {
		t.Helper()
		v := "true"
		if !yes {
			v = "false"
		}
		if _, err := admin.Exec(bg, "ALTER DATABASE "+ident+" ALLOW_CONNECTIONS "+v); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { allow(true); admin.Close(bg) })

	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	ctx, cancel := context.WithCancel(bg)
	causes := make(chan error, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		postgres.RunExclusive(ctx, pool, "logtrial", log, 20*time.Millisecond, func(ctx context.Context) error { //nolint:errcheck // nil when ctx is done
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(200 * time.Millisecond) // the lock taken

	allow(false)
	if _, err := admin.Exec(bg, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", db); err != nil {
		t.Fatal(err)
	}
	select {
	case cause := <-causes:
		if !errors.Is(cause, postgres.ErrLockLost) {
			t.Errorf("fn's context was cancelled by %v, want ErrLockLost", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fn still ran 10 s after its session ended")
	}
	time.Sleep(1100 * time.Millisecond) // some 50 tries, 3 or 4 reminders
	const lost = "projector lock lost: this instance stopped projecting; trying for the lock again"
	if n := logs.count(lost); n != 1 {
		t.Errorf("the lost lock was logged %d times, want once", n)
	}
	if n := logs.count("projector lock: still failing"); n < 2 || n > 5 {
		t.Errorf("%d reminders in 1.1 s at one every 300ms, want 2-5 (not one a try)", n)
	}
	if n := logs.count("cannot try for the projector lock; trying again, quietly while it fails") + logs.count("projector stopped"); n != 0 {
		t.Errorf("the failed tries of the series were logged %d times besides its first and the reminders", n)
	}

	allow(true)
	for deadline := time.Now().Add(10 * time.Second); logs.count("projector lock: the database answers again") == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no recovery logged")
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := logs.count("projector lock: the database answers again"); n != 1 {
		t.Errorf("the recovery was logged %d times, want once", n)
	}
	cancel()
	select {
	case cause := <-causes:
		if errors.Is(cause, postgres.ErrLockLost) {
			t.Errorf("a stop cancelled fn with %v, want no lost lock", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fn did not run again, or did not stop")
	}
	<-done
}
