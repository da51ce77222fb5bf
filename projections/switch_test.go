package projections_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/projections"
	"github.com/careerledger/careerledger/projections/memory"
)

// After a switch, read-your-writes waits for the model now serving, not the
// one that was serving when the write was applied.
func TestSwitchWaitsForTheServingModel(t *testing.T) {
	ctx := context.Background()
	cat := domain.DefaultCatalogue()
	old, fresh := memory.New(cat), memory.New(cat)
	if err := old.Apply(ctx, 5, nil, nil); err != nil {
		t.Fatal(err)
	}
	sw := projections.NewSwitch(old)
	if err := sw.WaitFor(ctx, 5); err != nil {
		t.Fatalf("wait on the serving model at 5: %v", err)
	}
	sw.Set(fresh)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := sw.WaitFor(short, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the new model is at 0 but the wait returned %v", err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		fresh.Apply(ctx, 5, nil, nil) //nolint:errcheck // checked by the wait
	}()
	long, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if err := sw.WaitFor(long, 5); err != nil {
		t.Fatalf("the new model reached 5 but the wait returned %v", err)
	}
}

// TestHoldsOverlap: queries wait while any Hold is in force, and go on once
// the last is released, whatever the order of the releases.
func TestHoldsOverlap(t *testing.T) {
	s := projections.NewSwitch(memory.New(domain.DefaultCatalogue()))
	ctx := context.Background()
	released := func() bool { // a query answers (NOT_FOUND), rather than wait
		c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := s.Person(c, "nobody")
		return !errors.Is(err, context.DeadlineExceeded)
	}
	if !released() {
		t.Fatal("a query waits with no Hold")
	}
	first := s.Hold()
	second := s.Hold()
	first()
	if released() {
		t.Error("a query went on while the second Hold was in force")
	}
	first() // a second call does nothing
	if released() {
		t.Error("a repeated release ended the second Hold")
	}
	second()
	if !released() {
		t.Error("a query still waits after every Hold was released")
	}
}
