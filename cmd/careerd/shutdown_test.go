package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestShutdownUnderLoadLosesNothingAcknowledged stops careerd while eight
// clients record as fast as they can, restarts it on the same data, and
// finds every acknowledged registration.
func TestShutdownUnderLoadLosesNothingAcknowledged(t *testing.T) {
	cfg := baseConfig(t)
	m := start(t, cfg)
	addr, token := m.Addr(), m.DevToken()
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("W%d-%d", w, i)
				code, res, err := tryPost(addr, token, registerMutation, map[string]any{"in": map[string]any{
					"id": id, "name": "Load", "department": "Ops", "joinedOn": "2020-01-01"}})
				if err != nil || code != 200 {
					return // the server is going away
				}
				if len(res.Errors) == 0 && len(res.Data) > 4 {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}(w)
	}
	time.Sleep(400 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no registration was acknowledged before the shutdown")
	}
	m2 := start(t, cfg)
	ids := make([]string, len(acked))
	copy(ids, acked)
	deadline := time.Now().Add(15 * time.Second)
	for _, id := range ids {
		for {
			_, res := post(t, m2.Addr(), m2.DevToken(), `query($id: ID!) { person(id: $id) { id } }`, map[string]any{"id": id})
			var d struct{ Person *struct{ ID string } }
			json.Unmarshal(res.Data, &d) //nolint:errcheck // checked below
			if d.Person != nil && d.Person.ID == id {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("acknowledged %s is missing after restart (%d acknowledged)", id, len(ids))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("%d acknowledged registrations all present after restart", len(ids))
}
