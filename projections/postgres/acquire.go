package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// probeAfter is how long a read waits for a connection of the pool before
// it asks whether PostgreSQL can be reached at all (see acquire), and how
// long a probe's answer that it can stands for the reads still waiting.
var probeAfter = time.Second

// acquire takes a connection of the pool for a read, waiting, in the
// pool's queue, while PostgreSQL answers, until ctx ends; and failing,
// projections.ErrUnavailable through unavailable, when a read that has
// waited probeAfter finds that PostgreSQL cannot be reached.
//
// Waiting alone cannot tell a busy pool from a dead one. Every connection
// may be held by statements of a healthy database (a bulk import's
// batches, the projector catching up: wait, it is the request's deadline
// to end that), or by connections being opened to a database that takes
// them and never answers, each for the connect timeout, one after the
// other, by careerd's own loops as much as by requests (the read would
// wait for a slot, then open its own connection, and answer TIMEOUT at its
// deadline, not UNAVAILABLE). So a read that has waited probeAfter opens a
// connection of its own, outside the pool, as the pool would (same
// settings, connect timeout included) and closes it at once: if that
// cannot be opened for a reason that says PostgreSQL cannot be reached
// (unreachable: refused, timed out, 57P03, 53300, class 08), the read
// fails with that error; if it can, or fails otherwise (a password: the
// configuration's, not an outage), the read goes on waiting and asks
// again probeAfter later. Reads waiting together share one probe
// (prober), and an answer that PostgreSQL can be reached stands for
// probeAfter, so a saturated but healthy pool costs one extra connection,
// opened and closed, a second. A pool with no connect timeout (0, set on
// purpose) is never probed: its reads wait, as its connections would.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	if s.prober.cfg.ConnectTimeout <= 0 {
		return s.pool.Acquire(ctx)
	}
	type acquired struct {
		conn *pgxpool.Conn
		err  error
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan acquired, 1)
	go func() {
		conn, err := s.pool.Acquire(actx)
		got <- acquired{conn, err}
	}()
	wait := time.NewTimer(probeAfter)
	defer wait.Stop()
	var answered <-chan struct{}
	var p *probe
	for {
		select {
		case a := <-got:
			return a.conn, a.err
		case <-ctx.Done():
			// The pool's Acquire ends with ctx, at once.
			a := <-got
			return a.conn, a.err
		case <-wait.C:
			p = s.prober.probe()
			answered = p.done
		case <-answered:
			answered = nil
			if p.err != nil && unreachable(ctx, p.err) {
				cancel()
				if a := <-got; a.conn != nil {
					a.conn.Release()
				}
				return nil, fmt.Errorf("no connection of the pool came free, and PostgreSQL cannot be reached: %w", p.err)
			}
			wait.Reset(max(time.Until(p.ended.Add(probeAfter)), 0))
		}
	}
}

// prober runs the probes of a store's waiting reads (see acquire), one at
// a time.
type prober struct {
	cfg  *pgconn.Config // the pool's connections' settings
	mu   sync.Mutex
	last *probe
}

// probe is one attempt to open a connection to PostgreSQL; err and ended
// are set when done is closed.
type probe struct {
	done  chan struct{}
	err   error
	ended time.Time
}

// probe returns the probe running, or the last one if it found PostgreSQL
// reachable less than probeAfter ago, or else starts one.
func (p *prober) probe() *probe {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.last; l != nil {
		select {
		case <-l.done:
			if l.err == nil && time.Since(l.ended) < probeAfter {
				return l
			}
		default:
			return l
		}
	}
	l := &probe{done: make(chan struct{})}
	p.last = l
	cfg := p.cfg.Copy()
	go func() {
		// Bounded by the connect timeout, and by no read's context: the
		// reads that wait for it come and go.
		conn, err := pgconn.ConnectConfig(context.Background(), cfg)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ConnectTimeout)
			conn.Close(ctx) //nolint:errcheck // the session ends either way
			cancel()
		}
		l.err, l.ended = err, time.Now()
		close(l.done)
	}()
	return l
}
