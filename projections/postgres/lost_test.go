package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/postgres"
	"github.com/careerledger/careerledger/projections/postgres/pgtest"
	"github.com/careerledger/careerledger/projections/projectionstest"
)

// readsApp is the application_name of the sessions of the pool the tests
// of lost connections read through, so that ending them spares the rest.
const readsApp = "lost_reads"

// uncheckedPool opens a pool of 4 connections on the database of pool,
// named appName, that never pings a connection it hands out: the pool as
// it is in the second after PostgreSQL ended its sessions (careerd's pool
// pings only connections idle for more than a second), made to last.
func uncheckedPool(t *testing.T, pool *pgxpool.Pool, appName string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(pool) + "&application_name=" + appName)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	p, err := pgxpool.NewWithConfig(bg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// warm makes pool open all its connections and leaves them idle in it.
func warm(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	pool.Reset() // the connections a read without retries left dead
	var conns []*pgxpool.Conn
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range pool.Config().MaxConns {
		c, err := pool.Acquire(bg)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if err := c.Ping(bg); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		c.Release()
	}
	conns = nil
	if n := pool.Stat().IdleConns(); n != pool.Config().MaxConns {
		t.Fatalf("warm pool: %d idle connections, want %d", n, pool.Config().MaxConns)
	}
}

// settle waits (up to 10 s) until the database lists exactly want sessions
// named appName: a session warm's Reset closed may still be listed while
// its backend exits, which a loaded machine makes slow (it was counted as a
// fifth session of a pool of four).
func settle(t *testing.T, admin *pgxpool.Pool, appName string, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		n := len(sessions(t, admin, appName))
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions named %s, want %d", n, appName, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// endSessions terminates, from admin's session, every session of the
// database named appName, waits until they are gone and returns how many
// there were.
func endSessions(t *testing.T, admin *pgxpool.Pool, appName string) int {
	t.Helper()
	pids := sessions(t, admin, appName)
	// Listed first, then ended: in one statement the planner may call
	// pg_terminate_backend before it filters.
	var ended int
	if err := admin.QueryRow(bg, `SELECT count(*) FROM unnest($1::int[]) p WHERE pg_terminate_backend(p)`, pids).
		Scan(&ended); err != nil {
		t.Fatal(err)
	}
	if ended != len(pids) {
		t.Fatalf("ended %d of the %d sessions named %s", ended, len(pids), appName)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var left int
		if err := admin.QueryRow(bg, `SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)`, pids).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return len(pids)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d terminated sessions still there", left, len(pids))
		}
		time.Sleep(time.Millisecond)
	}
}

// sessions returns the sessions of the database named appName.
func sessions(t *testing.T, admin *pgxpool.Pool, appName string) []int32 {
	t.Helper()
	rows, err := admin.Query(bg, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
		AND application_name = $1 AND pid <> pg_backend_pid()`, appName)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// lostFixture is a projected read model read through an unchecked pool,
// and a pool beside it whose sessions the tests do not end.
type lostFixture struct {
	admin *pgxpool.Pool   // healthy: ends sessions, holds locks
	reads *pgxpool.Pool   // the pool whose sessions are ended
	store *postgres.Store // on reads
	truth *postgres.Store // the same read model on a pool left alone
	id    string          // the person with the most accomplishments
	accID string          // one of theirs
}

func newLostFixture(t *testing.T) *lostFixture {
	t.Helper()
	cat := domain.DefaultCatalogue()
	env := startLog(t, cat)
	base := pgtest.NewPool(t, postgres.DefaultSchema)
	truth := postgres.New(base, cat, "")
	w := projectionstest.NewWorkload(11, cat, env.Recorder, "L", 8)
	head, err := w.Run(bg, 150)
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, env, truth, head, 1000)
	f := &lostFixture{admin: newPool(t, base, "lost_admin"), truth: truth}
	f.reads = uncheckedPool(t, base, readsApp)
	f.store = postgres.New(f.reads, cat, "")
	if err := base.QueryRow(bg, `SELECT person_id, min(id) FROM careerledger.accomplishments
		GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`).Scan(&f.id, &f.accID); err != nil {
		t.Fatal(err)
	}
	return f
}

// storeRead is one kind of read of the store.
type storeRead struct {
	name string
	run  func(ctx context.Context, s *postgres.Store) (any, error)
}

// storedStanding is StoredStanding's answer.
type storedStanding struct {
	Fields     []domain.FieldStanding
	CatID      string
	CatVersion int
}

// storeReads are every read of the store, about f's data.
func (f *lostFixture) storeReads() []storeRead {
	asOf := projectionstest.Today
	return []storeRead{
		{"person", func(ctx context.Context, s *postgres.Store) (any, error) { return s.Person(ctx, f.id) }},
		{"people by id", func(ctx context.Context, s *postgres.Store) (any, error) {
			return s.PeopleByID(ctx, []string{"L1", "L2", "L3", f.id})
		}},
		{"standing", func(ctx context.Context, s *postgres.Store) (any, error) {
			return s.Standing(ctx, f.id, asOf, time.Time{})
		}},
		{"history", func(ctx context.Context, s *postgres.Store) (any, error) { return s.History(ctx, f.id, nil) }},
		{"accomplishments", func(ctx context.Context, s *postgres.Store) (any, error) {
			return s.Accomplishments(ctx, f.id, 3, 0)
		}},
		{"accomplishment", func(ctx context.Context, s *postgres.Store) (any, error) { return s.Accomplishment(ctx, f.accID) }},
		{"people", func(ctx context.Context, s *postgres.Store) (any, error) {
			return s.People(ctx, projections.PeopleFilter{AsOf: asOf, First: 5})
		}},
		{"distribution", func(ctx context.Context, s *postgres.Store) (any, error) {
			return s.Distribution(ctx, domain.SystemOperation, asOf, "")
		}},
		{"stored standing", func(ctx context.Context, s *postgres.Store) (any, error) {
			fs, id, v, err := s.StoredStanding(ctx, f.id)
			return storedStanding{fs, id, v}, err
		}},
		{"person events", func(ctx context.Context, s *postgres.Store) (any, error) {
			return s.PersonEvents(ctx, []string{f.id, "L1"})
		}},
		{"checkpoint", func(ctx context.Context, s *postgres.Store) (any, error) { return s.Checkpoint(ctx) }},
		{"readable", func(ctx context.Context, s *postgres.Store) (any, error) { return s.Readable(ctx) }},
		{"behind", func(ctx context.Context, s *postgres.Store) (any, error) { return s.Behind(ctx) }},
		{"last derived", func(ctx context.Context, s *postgres.Store) (any, error) { return s.LastDerived(ctx) }},
	}
}

// want asks the truth store r, failing the test on an error.
func (f *lostFixture) want(t *testing.T, r storeRead) any {
	t.Helper()
	v, err := r.run(bg, f.truth)
	if err != nil {
		t.Fatalf("%s on a healthy pool: %v", r.name, err)
	}
	return v
}

// TestReadsSurviveEndedSessions: PostgreSQL ends every session of a warm
// pool (pg_terminate_backend, as a restart or a failover would), and the
// pool still hands those connections out; each kind of read of the store,
// issued right after, answers what a healthy pool answers. Then all of
// them at once, the same way.
func TestReadsSurviveEndedSessions(t *testing.T) {
	f := newLostFixture(t)
	reads := f.storeReads()
	// The answers are worth comparing: the data is there.
	if p := f.want(t, reads[6]).(projections.PeoplePage); len(p.People) == 0 {
		t.Fatal("no people listed")
	}
	if c := f.want(t, reads[7]).([]projections.Cell); len(c) == 0 {
		t.Fatal("an empty distribution")
	}
	if a := f.want(t, reads[4]).(projections.AccomplishmentPage); len(a.Items) < 2 {
		t.Fatalf("%d accomplishments of %s", len(a.Items), f.id)
	}
	size := int(f.reads.Config().MaxConns)
	for _, r := range reads {
		t.Run(r.name, func(t *testing.T) {
			want := f.want(t, r)
			warm(t, f.reads)
			settle(t, f.admin, readsApp, size)
			if n := endSessions(t, f.admin, readsApp); n != size {
				t.Fatalf("ended %d sessions, want %d", n, size)
			}
			got, err := r.run(bg, f.store)
			if err != nil {
				t.Fatalf("after the sessions ended: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("after the sessions ended:\n got %+v\nwant %+v", got, want)
			}
		})
	}
	t.Run("all at once", func(t *testing.T) {
		wants := make([]any, len(reads))
		for i, r := range reads {
			wants[i] = f.want(t, r)
		}
		warm(t, f.reads)
		endSessions(t, f.admin, readsApp)
		var wg sync.WaitGroup
		for i, r := range reads {
			wg.Go(func() {
				got, err := r.run(bg, f.store)
				if err != nil {
					t.Errorf("%s after the sessions ended: %v", r.name, err)
				} else if !reflect.DeepEqual(got, wants[i]) {
					t.Errorf("%s after the sessions ended:\n got %+v\nwant %+v", r.name, got, wants[i])
				}
			})
		}
		wg.Wait()
	})
}

// lockedRead starts f.store.Person behind an ACCESS EXCLUSIVE lock on
// people held by admin, and returns the session of reads waiting for the
// lock, the read's answer to come and the lock's transaction.
func (f *lostFixture) lockedRead(t *testing.T) (pid int32, done <-chan error, lock pgx.Tx) {
	t.Helper()
	want := f.want(t, f.storeReads()[0]) // person, before the lock
	tx, err := f.admin.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(bg) }) //nolint:errcheck // a committed or rolled back tx says so
	if _, err := tx.Exec(bg, `LOCK TABLE careerledger.people IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() {
		got, err := f.store.Person(bg, f.id)
		if err == nil && !reflect.DeepEqual(got, want) {
			err = fmt.Errorf("read %+v, want %+v", got, want)
		}
		ch <- err
	}()
	return f.waiting(t, 0, ch), ch, tx
}

// waiting returns the session of f.reads waiting for a lock, other than
// not, once there is one; the read (done) must not answer meanwhile.
func (f *lostFixture) waiting(t *testing.T, not int32, done <-chan error) int32 {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		select {
		case err := <-done:
			t.Fatalf("the read answered while the lock was held: %v", err)
		default:
		}
		var pid int32
		err := f.admin.QueryRow(bg, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = $1 AND wait_event_type = 'Lock' AND pid <> $2`, readsApp, not).Scan(&pid)
		if err == nil {
			return pid
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no session of the read waits for the lock")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAReadWhoseSessionEndsWhileItRunsIsRetried: a read waiting for a lock
// (running, its request long sent) loses its session to
// pg_terminate_backend; it runs again on another session, which waits for
// the lock in turn, and answers once the lock goes.
func TestAReadWhoseSessionEndsWhileItRunsIsRetried(t *testing.T) {
	f := newLostFixture(t)
	pid, done, lock := f.lockedRead(t)
	var ended bool
	if err := f.admin.QueryRow(bg, `SELECT pg_terminate_backend($1)`, pid).Scan(&ended); err != nil || !ended {
		t.Fatalf("terminate %d: %v, %v", pid, ended, err)
	}
	f.waiting(t, pid, done) // the read again, on another session
	if err := lock.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the read run again: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not answer once the lock went")
	}
}

// TestAReadThatFailsOtherwiseIsNotRetried: a read cancelled by the server
// (pg_cancel_backend: SQLSTATE 57014, as a statement_timeout) while it
// waits for a lock fails at once with that error: it is not run again,
// which would wait for the lock still held.
func TestAReadThatFailsOtherwiseIsNotRetried(t *testing.T) {
	f := newLostFixture(t)
	pid, done, lock := f.lockedRead(t)
	var cancelled bool
	if err := f.admin.QueryRow(bg, `SELECT pg_cancel_backend($1)`, pid).Scan(&cancelled); err != nil || !cancelled {
		t.Fatalf("cancel %d: %v, %v", pid, cancelled, err)
	}
	select {
	case err := <-done:
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
			t.Fatalf("the cancelled read: %v, want SQLSTATE 57014", err)
		}
	case <-time.After(10 * time.Second):
		lock.Rollback(bg) //nolint:errcheck // let the read finish
		t.Fatalf("the cancelled read did not fail at once (run again: %v)", <-done)
	}
	var waiting int
	if err := f.admin.QueryRow(bg, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name = $1 AND wait_event_type = 'Lock'`, readsApp).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	if waiting != 0 {
		t.Fatalf("%d sessions of the read still wait for the lock", waiting)
	}
}
