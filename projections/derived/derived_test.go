package derived_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/derived"
)

type collector struct {
	mu  sync.Mutex
	got []projections.LevelChanged
}

func (c *collector) add(_ context.Context, cs []projections.LevelChanged) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, cs...)
}

func (c *collector) wait(t *testing.T, n int) []projections.LevelChanged {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		if len(c.got) >= n {
			out := append([]projections.LevelChanged(nil), c.got...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("received %d derived events, want %d", len(c.got), n)
	return nil
}

func startBus(t *testing.T, srv *events.Embedded, handle func(context.Context, []projections.LevelChanged)) *derived.Bus {
	t.Helper()
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	bus, err := derived.New(nc, derived.Config{}, handle)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go bus.Run(ctx) //nolint:errcheck // stopped by Close
	t.Cleanup(func() { cancel(); bus.Close() })
	select {
	case <-bus.Running():
	case <-time.After(5 * time.Second):
		t.Fatal("bus did not start")
	}
	// Core NATS: a subscription counts once the server has seen it.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return bus
}

func TestEveryInstanceReceivesEveryChange(t *testing.T) {
	srv, err := events.StartEmbedded(events.EmbeddedConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	var a, b collector
	pub := startBus(t, srv, a.add)
	startBus(t, srv, b.add)
	change := projections.LevelChanged{PersonID: "E1", Department: "Ops", Position: 42,
		Change: domain.LevelChange{Field: domain.ServiceDesk, On: domain.MustDate("2024-04-01"), From: 2, To: 3}}
	later := change
	later.Position, later.Change.On, later.Change.From, later.Change.To = 57, domain.MustDate("2025-04-01"), 3, 4
	pub.LevelChanged(context.Background(), []projections.LevelChanged{change})
	// The same change again (a projector that started again after dying
	// between its commit and the publication), then a new one.
	pub.LevelChanged(context.Background(), []projections.LevelChanged{change, later})
	for name, c := range map[string]*collector{"publishing instance": &a, "other instance": &b} {
		got := c.wait(t, 2)
		if got[0] != change || got[1] != later {
			t.Errorf("%s received %+v, want %+v then %+v", name, got, change, later)
		}
		time.Sleep(50 * time.Millisecond)
		c.mu.Lock()
		if len(c.got) != 2 {
			t.Errorf("%s received %d changes, want 2 (the repeat dropped): %+v", name, len(c.got), c.got)
		}
		c.mu.Unlock()
	}
}

func TestUndecodableMessagesGoToThePoisonQueue(t *testing.T) {
	srv, err := events.StartEmbedded(events.EmbeddedConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	var a collector
	bus := startBus(t, srv, a.add)
	nc, _ := srv.Connect()
	defer nc.Close()
	poisoned := make(chan *nats.Msg, 1)
	if _, err := nc.ChanSubscribe(bus.PoisonTopic(), poisoned); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	msg := nats.NewMsg(bus.Topic())
	msg.Header.Set("_watermill_message_uuid", "1")
	msg.Header.Set("Career-Derived-Type", "LevelChanged")
	msg.Header.Set("Career-Derived-Version", "99")
	msg.Data = []byte(`{}`)
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-poisoned:
		if string(m.Data) != `{}` {
			t.Errorf("poisoned payload = %s", m.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an undecodable message never reached the poison queue")
	}
	if len(a.got) != 0 {
		t.Errorf("handler received %+v from an undecodable message", a.got)
	}
}
