package derived_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
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

// settles checks that, a moment later, c has received exactly n changes
// (why says what was dropped).
func (c *collector) settles(t *testing.T, name string, n int, why string) {
	t.Helper()
	time.Sleep(50 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) != n {
		t.Errorf("%s received %d changes, want %d (%s): %+v", name, len(c.got), n, why, c.got)
	}
}

// embedded starts an embedded server for the test.
func embedded(t *testing.T) *events.Embedded {
	t.Helper()
	srv, err := events.StartEmbedded(events.EmbeddedConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
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
	srv := embedded(t)
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
		c.settles(t, name, 2, "the repeat dropped")
	}
}

func TestUndecodableMessagesGoToThePoisonQueue(t *testing.T) {
	srv := embedded(t)
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

// A withdrawal travels withdrawn, and under another id than the
// announcement it withdraws (even one revealed at the same position): the
// bus hands both over, and drops only a repeat of either.
func TestWithdrawalsTravelUnderTheirOwnID(t *testing.T) {
	srv := embedded(t)
	var a, b collector
	pub := startBus(t, srv, a.add)
	startBus(t, srv, b.add)
	announced := projections.LevelChanged{PersonID: "E1", Department: "Ops", Position: 42,
		Change: domain.LevelChange{Field: domain.SystemOperation, On: domain.MustDate("2024-05-01"), From: 2, To: 3}}
	withdrawn := announced
	withdrawn.Withdrawn = true
	moved := announced
	moved.Change.On = domain.MustDate("2024-07-01")
	pub.LevelChanged(context.Background(), []projections.LevelChanged{announced})
	// The withdrawal and the moved change, then both again (a projector
	// that started again after dying before the publication).
	pub.LevelChanged(context.Background(), []projections.LevelChanged{withdrawn, moved})
	pub.LevelChanged(context.Background(), []projections.LevelChanged{withdrawn, moved})
	want := []projections.LevelChanged{announced, withdrawn, moved}
	for name, c := range map[string]*collector{"publishing instance": &a, "other instance": &b} {
		got := c.wait(t, 3)
		if !reflect.DeepEqual(got[:3], want) {
			t.Errorf("%s received %+v, want %+v", name, got, want)
		}
		c.settles(t, name, 3, "the repeats dropped")
	}
}

// What the bus sends is version 2 of the wire form, marked in its headers;
// a version 1 message, as releases before withdrawals send it, is still
// handed over, as an announcement.
func TestVersionsOnTheWire(t *testing.T) {
	srv := embedded(t)
	var a collector
	bus := startBus(t, srv, a.add)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sent := make(chan *nats.Msg, 1)
	if _, err := nc.ChanSubscribe(bus.Topic(), sent); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	withdrawal := projections.LevelChanged{PersonID: "E1001", Department: "Service Desk", Position: 4711, Withdrawn: true,
		Change: domain.LevelChange{Field: domain.SystemOperation, On: domain.MustDate("2024-05-01"), From: 2, To: 3}}
	bus.LevelChanged(context.Background(), []projections.LevelChanged{withdrawal})
	select {
	case m := <-sent:
		golden, err := os.ReadFile(filepath.Join("..", "testdata", "LevelChanged.v2.json"))
		if err != nil {
			t.Fatal(err)
		}
		if v := m.Header.Get("Career-Derived-Version"); v != "2" || m.Header.Get("Career-Derived-Type") != "LevelChanged" {
			t.Errorf("sent with type %q version %q, want LevelChanged 2", m.Header.Get("Career-Derived-Type"), v)
		}
		if !bytes.Equal(append(m.Data, '\n'), golden) {
			t.Errorf("sent %s, want the version 2 form %s", m.Data, golden)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing was sent")
	}
	if got := a.wait(t, 1); !reflect.DeepEqual(got, []projections.LevelChanged{withdrawal}) {
		t.Errorf("handed over %+v, want %+v", got, withdrawal)
	}

	v1, err := os.ReadFile(filepath.Join("..", "testdata", "LevelChanged.v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(bus.Topic())
	msg.Header.Set("_watermill_message_uuid", "4711/E1001/SYSTEM_OPERATION/2024-05-01/2-3")
	msg.Header.Set("Career-Derived-Type", "LevelChanged")
	msg.Header.Set("Career-Derived-Version", "1")
	msg.Data = v1
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	announced := withdrawal
	announced.Withdrawn = false
	if got := a.wait(t, 2); !reflect.DeepEqual(got[1], announced) {
		t.Errorf("a version 1 message was handed over as %+v, want %+v", got[1], announced)
	}

	// An announcement goes out in version 1, byte for byte what releases
	// before withdrawals send and read, so that during a rolling upgrade
	// they still take every announcement.
	<-sent // the raw version 1 message above
	bus.LevelChanged(context.Background(), []projections.LevelChanged{announced})
	select {
	case m := <-sent:
		if v := m.Header.Get("Career-Derived-Version"); v != "1" {
			t.Errorf("an announcement sent with version %q, want 1", v)
		}
		if !bytes.Equal(append(m.Data, '\n'), v1) {
			t.Errorf("an announcement sent as %s, want the version 1 form %s", m.Data, v1)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the announcement was not sent")
	}
}
