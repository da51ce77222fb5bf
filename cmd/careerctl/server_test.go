package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// One careerd, built from ./cmd/careerd and run as a subprocess in
// development mode, serves every test of the package that needs a server
// (started on first use). Tests keep to their own person ids and
// departments; a test that comes back (go test -count=N) gets a new
// server, so that each round starts from an empty log.
var server struct {
	mu     sync.Mutex
	served map[string]*testing.T // the tests the running server has served
	err    error
	addr   string
	token  string
	cmd    *exec.Cmd
	dir    string
	log    *lockedBuffer
}

func TestMain(m *testing.M) {
	bulkRetryDelay = time.Millisecond
	rebuildPoll = time.Millisecond
	code := m.Run()
	stopServer()
	os.Exit(code)
}

// lockedBuffer collects the server's output for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		l.b.Reset()
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startServer() error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("no go command to build careerd: %w", err)
	}
	server.dir, err = os.MkdirTemp("", "careerctl-test-")
	if err != nil {
		return err
	}
	bin := filepath.Join(server.dir, "careerd")
	build := exec.Command(goBin, "build", "-o", bin, "github.com/careerledger/careerledger/cmd/careerd")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build careerd: %v\n%s", err, out)
	}
	server.cmd = exec.Command(bin, "--dev", "--http-addr", "127.0.0.1:0", "--data-dir", filepath.Join(server.dir, "data"))
	server.cmd.Env = append(os.Environ(), "CAREER_AUTH_SECRET=", "NATS_URL=", "DATABASE_URL=")
	stdout, err := server.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	server.log = &lockedBuffer{}
	server.cmd.Stderr = server.log
	if err := server.cmd.Start(); err != nil {
		return err
	}
	found := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		wantToken := false
		for sc.Scan() {
			line := sc.Text()
			server.log.Write([]byte(line + "\n"))
			switch {
			case strings.Contains(line, "admin token (development mode):"):
				wantToken = true
			case wantToken && strings.TrimSpace(line) != "":
				server.token, wantToken = strings.TrimSpace(line), false
			case strings.Contains(line, `"careerd serving"`):
				var entry struct{ Addr string }
				if err := json.Unmarshal([]byte(line), &entry); err == nil {
					server.addr = entry.Addr
				}
				found <- nil
				io.Copy(server.log, stdout) //nolint:errcheck // drain until the server stops
				return
			}
		}
		found <- fmt.Errorf("careerd exited before serving:\n%s", server.log.String())
	}()
	select {
	case err := <-found:
		if err != nil {
			return err
		}
	case <-time.After(30 * time.Second):
		return fmt.Errorf("careerd did not start in 30s:\n%s", server.log.String())
	}
	if server.addr == "" || server.token == "" {
		return fmt.Errorf("no address or dev token in careerd's output:\n%s", server.log.String())
	}
	return nil
}

func stopServer() {
	if server.cmd != nil && server.cmd.Process != nil {
		server.cmd.Process.Signal(os.Interrupt) //nolint:errcheck // killed below if it does not stop
		done := make(chan struct{})
		go func() { server.cmd.Wait(); close(done) }() //nolint:errcheck // exit status does not matter
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			server.cmd.Process.Kill() //nolint:errcheck // best effort
			<-done
		}
	}
	if server.dir != "" {
		os.RemoveAll(server.dir)
	}
}

// needServer returns the shared careerd's base URL and admin token.
func needServer(t *testing.T) (string, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a careerd (skipped with -short)")
	}
	server.mu.Lock()
	defer server.mu.Unlock()
	if prev, ok := server.served[t.Name()]; ok && prev != t { // a new round of the same tests
		stopServer()
		server.served, server.err, server.cmd, server.dir = nil, nil, nil, ""
	}
	if server.served == nil {
		server.served = map[string]*testing.T{}
		server.err = startServer()
	}
	server.served[t.Name()] = t
	if server.err != nil {
		t.Fatal(server.err)
	}
	return "http://" + server.addr, server.token
}

// needBulk skips the test while the server has no bulk endpoint.
func needBulk(t *testing.T, base, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/import", strings.NewReader(""))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed {
		t.Skip("bulk endpoint not available yet")
	}
}

// ctl runs careerctl against the shared server and returns its exit code,
// stdout and stderr.
func ctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	base, token := needServer(t)
	env := map[string]string{"CAREER_SERVER": base, "CAREER_TOKEN": token}
	var out, errb bytes.Buffer
	code := run(args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// mustCtl is ctl that fails the test on a non-zero exit.
func mustCtl(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := ctl(t, args...)
	if code != 0 {
		t.Fatalf("careerctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// mustJSON is mustCtl with --json, decoded into v.
func mustJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := mustCtl(t, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("careerctl %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}
