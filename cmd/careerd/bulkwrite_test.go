package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
)

// heldWrites is the live projector's store with every write of people
// held until released: the write that judges everyone at the head of a
// bulk catch-up made as slow as a large one.
type heldWrites struct {
	*projections.Switch
	release chan struct{}
}

func (h heldWrites) hold(ctx context.Context, people int) error {
	if people == 0 {
		return nil
	}
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h heldWrites) Apply(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection) error {
	if err := h.hold(ctx, len(people)); err != nil {
		return err
	}
	return h.Switch.Apply(ctx, position, batch, people)
}

func (h heldWrites) ApplyDerived(ctx context.Context, position uint64, batch []events.Recorded, people []projections.PersonProjection, derived []projections.LevelChanged) error {
	if err := h.hold(ctx, len(people)); err != nil {
		return err
	}
	return h.Switch.ApplyDerived(ctx, position, batch, people, derived)
}

// TestReadyzTakesABulkWriteInFlightForProgress: the write that judges
// everyone at the head of a bulk catch-up (a restart of a careerd whose
// read model is in memory: the whole log) moves neither the readable
// position nor the checkpoint until it commits, and took 32 s at a
// million events. While it runs, for up to --ready-max-write, /readyz does
// not call the projector stalled and says how many people it writes and
// for how long; a write that runs for longer than that is a stall.
// Before, /readyz said "projector stalled" once --ready-max-stall passed
// during the write.
func TestReadyzTakesABulkWriteInFlightForProgress(t *testing.T) {
	cfg := baseConfig(t)
	first := start(t, cfg)
	const people = 4
	for i := range people {
		if code, res := post(t, first.Addr(), first.DevToken(), registerMutation, map[string]any{"in": map[string]any{
			"id": fmt.Sprintf("W%d", i), "name": "n", "department": "Ops", "joinedOn": "2020-01-01"}}); code != 200 || len(res.Errors) > 0 {
			t.Fatalf("register: %d %+v", code, res.Errors)
		}
	}
	first.Close()

	// restart starts careerd again on the log, its first write of people
	// held until the returned function releases it.
	restart := func(maxWrite time.Duration) (*Main, func()) {
		t.Helper()
		cfg := cfg
		cfg.ReadyMaxStall, cfg.ReadyMaxWrite = 300*time.Millisecond, maxWrite
		m := NewMain(cfg, &logLines{})
		release := make(chan struct{})
		m.projectorStore = func(s *projections.Switch) projections.Store { return heldWrites{Switch: s, release: release} }
		if err := m.Run(context.Background()); err != nil {
			m.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m, sync.OnceFunc(func() { close(release) })
	}
	ready := func(m *Main) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			code, body := get(t, "http://"+m.Addr()+"/readyz")
			if code == 200 && strings.Contains(body, fmt.Sprintf(`"checkpoint":%d,`, people)) && !strings.Contains(body, "writing_") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz once the write was released = %d %s", code, body)
			}
		}
	}

	m, release := restart(10 * time.Second)
	defer release()
	url := "http://" + m.Addr() + "/readyz"
	// From when the write begins (the projector's start before it is not
	// what is tested), five times the stall bound, the write held.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, _, ok := m.projector.BulkWrite(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the projector never began the write at the head of its catch-up")
		}
	}
	seen := false
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		code, body := get(t, url)
		if code != 200 || !strings.Contains(body, `"checkpoint":0,`) {
			t.Fatalf("/readyz while the bulk write runs = %d %s, want 200 ready (behind by 4, within --ready-max-lag) and no stall", code, body)
		}
		seen = seen || strings.Contains(body, fmt.Sprintf(`"writing_people":%d,`, people)) && strings.Contains(body, `"writing_seconds":`)
	}
	if !seen {
		t.Error("/readyz never said that a bulk write of 4 people runs")
	}
	release()
	ready(m)
	m.Close()

	// A write that runs for longer than --ready-max-write is a stall.
	m, release = restart(500 * time.Millisecond)
	defer release()
	url = "http://" + m.Addr() + "/readyz"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, body := get(t, url)
		if code == 503 && strings.Contains(body, `"status":"projector stalled"`) && strings.Contains(body, fmt.Sprintf(`"writing_people":%d,`, people)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with the bulk write running past --ready-max-write = %d %s, want projector stalled", code, body)
		}
	}
	release()
	ready(m)
}
