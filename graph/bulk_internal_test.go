package graph

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/careerledger/careerledger/events"
)

// An import line that the log could not take says so as a mutation does:
// UNAVAILABLE (nothing recorded) or TIMEOUT (maybe recorded), not INTERNAL.
func TestAnImportLineTheLogCouldNotTake(t *testing.T) {
	for _, c := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("append: %w", events.ErrUnavailable), "UNAVAILABLE"},
		{fmt.Errorf("append: %w", events.ErrUnconfirmed), "TIMEOUT"},
		{context.DeadlineExceeded, "TIMEOUT"},
		{errors.New("something else"), "INTERNAL"},
	} {
		got := failed(7, c.err)
		if got.Code != c.code || got.Line != 7 || got.Message == "" {
			t.Errorf("failed(%v) = %+v, want code %s", c.err, got, c.code)
		}
	}
}
