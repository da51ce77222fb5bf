package events

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// unanswered is the future of a publish that was sent and never answered.
type unanswered struct{ msg *nats.Msg }

func (u unanswered) Ok() <-chan *jetstream.PubAck { return nil }
func (u unanswered) Err() <-chan error            { return nil }
func (u unanswered) Msg() *nats.Msg               { return u.msg }

// A batch whose next publish cannot be sent (the connection just went)
// while its context has ended tells what was sent and unanswered from
// what was never sent: the first may have been recorded (ErrUnconfirmed),
// only the second is ErrUnavailable.
func TestABatchCutShortTellsSentFromUnsent(t *testing.T) {
	ps := []Pending{{PersonID: "A"}, {PersonID: "A"}, {PersonID: "B"}}
	b := newChains(ps)
	b.push(inflight{idx: 0, subject: "career.person.A", fut: unanswered{}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err := b.unsent(ctx, nats.ErrReconnectBufExceeded)
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("batch error %v, want ErrUnavailable", err)
	}
	for i, want := range []error{ErrUnconfirmed, ErrUnconfirmed, ErrUnavailable} {
		if !errors.Is(out[i].Err, want) {
			t.Errorf("outcome %d: %v, want %v", i, out[i].Err, want)
		}
		if want == ErrUnconfirmed && errors.Is(out[i].Err, ErrUnavailable) {
			t.Errorf("outcome %d (sent) says nothing was recorded: %v", i, out[i].Err)
		}
	}
}
