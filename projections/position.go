package projections

import (
	"context"
	"sync"
)

// PositionSignal lets readers wait until a read model has applied a log
// position: the basis of read-your-writes.
type PositionSignal struct {
	mu      sync.Mutex
	pos     uint64
	changed chan struct{}
}

// Advance records that position has been applied and wakes every waiter.
func (s *PositionSignal) Advance(position uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if position <= s.pos {
		return
	}
	s.pos = position
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// Position returns the last applied position.
func (s *PositionSignal) Position() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos
}

// Wait blocks until position has been applied or ctx is done.
func (s *PositionSignal) Wait(ctx context.Context, position uint64) error {
	for {
		s.mu.Lock()
		if s.pos >= position {
			s.mu.Unlock()
			return nil
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
