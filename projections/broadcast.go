package projections

import (
	"context"
	"sync"
)

// Broadcaster fans derived level changes out to live subscribers. A
// subscriber that falls a whole buffer behind is dropped (its channel is
// closed) so that a slow client never blocks the others or the projector.
type Broadcaster struct {
	mu     sync.Mutex
	subs   map[chan LevelChanged]struct{}
	Buffer int // per subscriber; default 256
}

// Subscribe returns a channel of level changes until ctx is done.
func (b *Broadcaster) Subscribe(ctx context.Context) <-chan LevelChanged {
	n := b.Buffer
	if n <= 0 {
		n = 256
	}
	ch := make(chan LevelChanged, n)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[chan LevelChanged]struct{}{}
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.drop(ch)
	}()
	return ch
}

func (b *Broadcaster) drop(ch chan LevelChanged) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[ch]; ok {
		delete(b.subs, ch)
		close(ch)
	}
}

// LevelChanged delivers changes to every subscriber without blocking.
func (b *Broadcaster) LevelChanged(_ context.Context, changes []LevelChanged) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		for _, c := range changes {
			select {
			case ch <- c:
			default:
				delete(b.subs, ch)
				close(ch)
			}
			if _, ok := b.subs[ch]; !ok {
				break
			}
		}
	}
}

// Subscribers returns how many subscribers are connected.
func (b *Broadcaster) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}
