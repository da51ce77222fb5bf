package main

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTwoInstancesNeverShareADataDir: a careerd whose --data-dir another
// running careerd holds refuses to start (exit 1, one error naming
// --data-dir, the directory and what to do) before it starts an embedded
// server there: two servers on one directory lost writes each had
// confirmed. Once the holder stops, the directory is free again, with
// every write it confirmed.
func TestTwoInstancesNeverShareADataDir(t *testing.T) {
	cfg := baseConfig(t)
	first := start(t, cfg)
	code, res := post(t, first.Addr(), first.DevToken(), registerMutation, map[string]any{"in": map[string]any{
		"id": "E1", "name": "Sato", "department": "Ops", "joinedOn": "2020-01-01"}})
	if code != 200 || len(res.Errors) > 0 {
		t.Fatalf("register: %d %v", code, res.Errors)
	}

	var logs logLines
	second := NewMain(cfg, &logs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := serve(ctx, second); code != 1 {
		t.Errorf("a second careerd on the same --data-dir: exit status %d, want 1", code)
	}
	if second.embedded != nil {
		t.Error("the second careerd started an embedded server on a data directory in use")
	}
	errs := logs.find(t, "careerd failed to start", map[string]string{"level": "ERROR"})
	if len(errs) != 1 {
		t.Fatalf("want one \"careerd failed to start\" record; the log:\n%s", logs.String())
	}
	msg, _ := errs[0]["err"].(string)
	for _, want := range []string{"--data-dir " + cfg.DataDir + " is in use by another careerd",
		filepath.Join(cfg.DataDir, dataDirLockName), "a data directory of its own", "--nats-url"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal %q does not say %q", msg, want)
		}
	}
	if n := strings.Count(logs.String(), `"level":"ERROR"`); n != 1 {
		t.Errorf("%d error records, want 1:\n%s", n, logs.String())
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third := start(t, cfg)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, res := post(t, third.Addr(), third.DevToken(), `{ person(id: "E1") { name } }`, nil)
		var d struct{ Person *struct{ Name string } }
		json.Unmarshal(res.Data, &d) //nolint:errcheck // checked below
		if d.Person != nil && d.Person.Name == "Sato" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the write confirmed by the first careerd is missing after the directory changed hands: %s", res.Data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloseAfterASecondRunStopsAndFreesTheDataDir: a Run on a Main that
// already runs fails (its --data-dir is held, by itself), and Close then
// still stops everything the first Run started and frees the directory.
// The second Run replaced the first's cancel, run context and lock file
// (set to nil by the failed lockDataDir), so Close never stopped the
// first Run's goroutines and waited for them forever.
func TestCloseAfterASecondRunStopsAndFreesTheDataDir(t *testing.T) {
	cfg := baseConfig(t)
	m := NewMain(cfg, io.Discard)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err == nil {
		t.Error("a second Run of a running careerd succeeded")
	}
	closed := make(chan struct{})
	go func() { m.Close(); close(closed) }() //nolint:errcheck // whether it returns is the test
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close after a second Run did not return in 30s")
	}
	next := NewMain(cfg, io.Discard)
	defer next.Close()
	if err := next.Run(context.Background()); err != nil {
		t.Errorf("the data directory is still held after Close: %v", err)
	}
}
