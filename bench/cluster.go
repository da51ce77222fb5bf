package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// clusterSchema is the read model of the cluster scenario.
const clusterSchema = "careerledger_cluster"

// cluster is scenario 6r: careerd's production topology as
// docker-compose.yml composes it on one host. Three nats-server processes
// (-nats-server) routed to each other on loopback ports, each with its own
// store in the run's directory and the server's default durability, hold
// the log as an R3 stream (a write is acknowledged once two of the three
// stored it); the read model is PostgreSQL. The measurements are those of
// scenario 6t.
func (b *bench) cluster(ctx context.Context) error {
	bin, err := findNATSServer(b.cfg.natsServer)
	if err != nil {
		progress("cluster: %v; skipped", err)
		b.add(row{Scenario: "6r Live lag, 3-node cluster (R3)", Measured: "skipped", Baseline: "-", Ratio: "-", Goal: "p99 < 50 ms",
			Verdict: info, Note: fmt.Sprintf("No nats-server binary (-nats-server): %v.", err)})
		return nil
	}
	c, err := startCluster(ctx, bin, filepath.Join(b.dir, "cluster"))
	if err != nil {
		return err
	}
	defer c.stop()
	env, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer env.close()
	return b.apart(ctx, env, topology{
		label:  "r",
		name:   "3-node nats-server " + env.nc.ConnectedServerVersion() + " cluster (R3)",
		lag:    "6r Live lag, 3-node cluster (R3)",
		schema: clusterSchema,
		rest:   "the three NATS servers",
	})
}

// findNATSServer resolves the nats-server binary: name as given (a path or
// a command on PATH), else /usr/sbin/nats-server, where the Debian package
// puts it.
func findNATSServer(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if name == "nats-server" {
		if p, err := exec.LookPath("/usr/sbin/nats-server"); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found", name)
}

// natsCluster is three nats-server processes routed to each other.
type natsCluster struct {
	procs []*exec.Cmd
	urls  []string
}

// startCluster starts the three servers, each storing under dir/n<i> and
// logging to dir/n<i>.log, and waits until they can hold an R3 stream.
// They are killed with the benchmark process if it dies first.
func startCluster(ctx context.Context, bin, dir string) (*natsCluster, error) {
	ports, err := loopbackPorts(6)
	if err != nil {
		return nil, err
	}
	client, route := ports[:3], ports[3:]
	c := &natsCluster{}
	for i := range 3 {
		var routes []string
		for j := range 3 {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", route[j]))
			}
		}
		name := fmt.Sprintf("n%d", i+1)
		store := filepath.Join(dir, name)
		if err := os.MkdirAll(store, 0o755); err != nil {
			c.stop()
			return nil, err
		}
		logf, err := os.Create(store + ".log")
		if err != nil {
			c.stop()
			return nil, err
		}
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(client[i]), "-js", "-sd", store, "-n", name,
			"--cluster_name", "careerledger-bench", "--cluster", fmt.Sprintf("nats://127.0.0.1:%d", route[i]),
			"--routes", strings.Join(routes, ","))
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		logf.Close() // the child has its own descriptor
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("start %s: %w", bin, err)
		}
		c.procs = append(c.procs, cmd)
		c.urls = append(c.urls, fmt.Sprintf("nats://127.0.0.1:%d", client[i]))
	}
	progress("cluster: three nats-server processes on %s (logs in %s)", strings.Join(c.urls, ", "), dir)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := c.ready(wctx); err != nil {
		c.stop()
		return nil, fmt.Errorf("the cluster did not elect a JetStream leader: %w (see %s)", err, dir)
	}
	return c, nil
}

// loopbackPorts reserves n distinct free TCP ports on 127.0.0.1 (released
// just before use) other than NATS's default client port, which the
// machine's own server may be started on.
func loopbackPorts(n int) ([]int, error) {
	var ports []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		held = append(held, l)
		if p := l.Addr().(*net.TCPAddr).Port; p != 4222 {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// ready waits until every server answers and JetStream has a meta leader.
func (c *natsCluster) ready(ctx context.Context) error {
	for {
		err := c.probe(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (c *natsCluster) probe(ctx context.Context) error {
	for _, u := range c.urls {
		nc, err := nats.Connect(u, nats.Timeout(time.Second), nats.NoReconnect())
		if err != nil {
			return err
		}
		js, err := jetstream.New(nc)
		if err == nil {
			actx, cancel := context.WithTimeout(ctx, time.Second)
			_, err = js.AccountInfo(actx)
			cancel()
		}
		nc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// connect opens the benchmark's stream, R3, on the cluster; right after
// the leader's election the servers may not yet count each other as
// JetStream peers, so creating it is retried for a while.
func (c *natsCluster) connect(ctx context.Context) (*natsEnv, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		env, err := connectNATS(ctx, strings.Join(c.urls, ","), 3)
		if err == nil || time.Now().After(deadline) || errors.Is(err, context.Canceled) {
			return env, err
		}
		progress("cluster: %v; trying again", err)
		time.Sleep(time.Second)
	}
}

// stop terminates the servers and waits for them.
func (c *natsCluster) stop() {
	for _, p := range c.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range c.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	c.procs = nil
}
