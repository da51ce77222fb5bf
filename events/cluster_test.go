package events

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// freePorts reserves n distinct free TCP ports on 127.0.0.1 (released just
// before use: fine for tests).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// startCluster starts three in-process JetStream servers routed to each
// other on random loopback ports.
func startCluster(t *testing.T) []*server.Server {
	t.Helper()
	routePorts := freePorts(t, 3)
	var routes []*url.URL
	for _, p := range routePorts {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	servers := make([]*server.Server, 3)
	for i := range servers {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoLog:      true,
			NoSigs:     true,
			Cluster:    server.ClusterOpts{Name: "careerledger-test", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:     routes,
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		servers[i] = s
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	for _, s := range servers {
		if !s.ReadyForConnections(30 * time.Second) { // a loaded 2-core machine forms a cluster slowly
			t.Fatalf("%s not ready", s.Name())
		}
	}
	return servers
}

// TestClusterKeepsAcknowledgedEvents shuts down the stream leader of an R3
// log in the middle of a stream of appends and checks that every
// acknowledged event is still there, with its content, exactly once.
func TestClusterKeepsAcknowledgedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	servers := startCluster(t)
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.ClientURL())
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var l *Log
	for l == nil { // the meta leader is elected shortly after start
		octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
		l, err = OpenLog(octx, nc, LogConfig{Replicas: 3})
		ocancel()
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("open R3 log: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	r := NewRecorder(l, testCatalogue, time.Now)
	people := []string{"A", "B", "C"}
	for _, id := range people {
		if _, ok := do(t, ctx, func(ctx context.Context) (Result, error) {
			return r.RegisterPerson(ctx, RegisterPerson{ID: id, Name: id, Department: "Ops", JoinedOn: domain.MustDate("2020-01-01"), IdempotencyKey: "reg"})
		}); !ok {
			t.FailNow()
		}
	}

	const total = 240
	acked := map[uint64]string{} // position -> title
	var mu sync.Mutex
	var wg sync.WaitGroup
	killed := make(chan string, 1)
	for w, id := range people {
		wg.Go(func() {
			for i := range total / len(people) {
				if w == 0 && i == total/len(people)/3 {
					killed <- killStreamLeader(t, ctx, l, servers)
				}
				title := fmt.Sprintf("%s-%d", id, i)
				a := sampleEngagement(title)
				res, ok := do(t, ctx, func(ctx context.Context) (Result, error) {
					return r.RecordAccomplishment(ctx, RecordAccomplishment{PersonID: id, Accomplishment: a, IdempotencyKey: title})
				})
				if !ok {
					return
				}
				mu.Lock()
				acked[res.Position] = title
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("shut down stream leader %s mid-stream; %d appends acknowledged", <-killed, len(acked))

	seen := map[string]bool{}
	for _, id := range people {
		var rs []Recorded
		if _, ok := do(t, ctx, func(ctx context.Context) (Result, error) {
			var err error
			rs, _, err = l.Load(ctx, id)
			return Result{}, err
		}); !ok {
			t.FailNow()
		}
		for _, rec := range rs[1:] {
			a, _ := ToAccomplishment(rec.Event)
			title := a.Engagement.Title
			if seen[title] {
				t.Errorf("%s stored twice", title)
			}
			seen[title] = true
			if want, ok := acked[rec.Position]; ok && want != title {
				t.Errorf("position %d holds %s, acknowledged as %s", rec.Position, title, want)
			}
		}
	}
	for pos, title := range acked {
		if !seen[title] {
			t.Errorf("acknowledged event %s at %d is lost", title, pos)
		}
	}
	if len(acked) != total {
		t.Errorf("%d acknowledged, want %d", len(acked), total)
	}

	// A lost race on a replicated stream is a conflict too (10071 or 10164).
	_, _, err = l.Append(ctx, "A", 1, "", PersonDeparted{PersonID: "A", EffectiveOn: domain.MustDate("2024-01-01")}, time.Now(), "")
	if !errors.Is(err, ErrConflict) {
		t.Errorf("conflict on R3: %v", err)
	}
}

// do runs a command until it succeeds, retrying the errors a leader change
// causes (timeouts, no responders); the idempotency key makes that safe.
// It reports a command that cannot succeed with t.Error (it runs on
// goroutines, where t.Fatal is not allowed) and returns false.
func do(t *testing.T, ctx context.Context, f func(ctx context.Context) (Result, error)) (Result, bool) {
	t.Helper()
	for {
		octx, cancel := context.WithTimeout(ctx, 2*time.Second)
		res, err := f(octx)
		cancel()
		if err == nil {
			return res, true
		}
		var de *domain.Error
		if errors.As(err, &de) || ctx.Err() != nil {
			t.Errorf("command failed: %v", err)
			return Result{}, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killStreamLeader shuts down the server leading the log's stream.
func killStreamLeader(t *testing.T, ctx context.Context, l *Log, servers []*server.Server) string {
	info, err := l.stream.Info(ctx)
	if err != nil || info.Cluster == nil {
		t.Errorf("stream info: %v", err)
		return ""
	}
	for _, s := range servers {
		if s.Name() == info.Cluster.Leader {
			s.Shutdown()
			return s.Name()
		}
	}
	t.Errorf("leader %q not found", info.Cluster.Leader)
	return ""
}
