package graph

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/graph/model"
)

// knownAtRule is what a knownAt must be besides an instant.
const knownAtRule = "must not be later than now"

// noFutureKnownAt refuses an operation any of whose knownAt arguments is
// later than the server's clock when the operation is received, before
// anything runs (a mutation whose answer selects standing(knownAt:) records
// nothing). What is known at a later instant is not known yet: events
// recorded in between would count then, so an answer now would not be the
// answer "as known at" it, and a knownAt answer must never change. There
// is no tolerance for a client's clock running ahead: an instant a moment
// in the future is refused like one a year ahead, and the message tells
// the server's clock (leave knownAt out for what is known now).
//
// It notes an operation's latest knownAt (latestKnownAt) for settleKnownAt,
// which runs with the operation (NewServer's AroundOperations sets it up,
// awaitKnownAt runs it), not here: on a websocket an operation is prepared
// on the connection's reading loop, so a wait here held up every other
// message of the connection (other queries, a complete, a ping) until it
// ended. Nor before the operation's fields run: a field the caller may
// not read is refused at once, FORBIDDEN, without waiting, and the wait
// runs only for the fields that pass their authorisation.
type noFutureKnownAt struct {
	now func() time.Time
}

// knownAtLatest names the operation's latest knownAt among its Stats'
// extensions.
const knownAtLatest = "careerledger.knownAtLatest"

// latestKnownAt returns the latest knownAt of the operation ctx runs, as
// noFutureKnownAt noted it; false when it has none.
func latestKnownAt(ctx context.Context) (time.Time, bool) {
	if !graphql.HasOperationContext(ctx) {
		return time.Time{}, false
	}
	t, ok := graphql.GetOperationContext(ctx).Stats.GetExtension(knownAtLatest).(time.Time)
	return t, ok
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = noFutureKnownAt{}

func (noFutureKnownAt) ExtensionName() string                   { return "NoFutureKnownAt" }
func (noFutureKnownAt) Validate(graphql.ExecutableSchema) error { return nil }

func (n noFutureKnownAt) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	now := time.Now()
	if n.now != nil {
		now = n.now()
	}
	var latest time.Time // the latest knownAt that runs; zero: none
	if err := laterKnownAt(oc.Operation.SelectionSet, oc.Doc.Fragments, oc.Variables, now, map[string]bool{}, &latest); err != nil {
		return err
	}
	if !latest.IsZero() {
		oc.Stats.SetExtension(knownAtLatest, latest)
	}
	return nil
}

// laterKnownAt returns the refusal of the first knownAt in set (its
// fragments included, each looked at once) that is later than now, or nil,
// and moves *latest to the latest knownAt of set that runs. A knownAt that is no
// instant is left to its field, which refuses it as malformed.
func laterKnownAt(set ast.SelectionSet, frags ast.FragmentDefinitionList, vars map[string]any, now time.Time, seen map[string]bool, latest *time.Time) *gqlerror.Error {
	for _, sel := range set {
		var err *gqlerror.Error
		switch s := sel.(type) {
		case *ast.Field:
			if skipped(s.Directives, vars) {
				continue // left out: it never runs
			}
			if arg := s.Arguments.ForName("knownAt"); arg != nil {
				v, _ := arg.Value.Value(vars)
				t, perr := model.UnmarshalDateTime(v)
				if perr == nil && t.After(*latest) {
					*latest = t
				}
				if perr == nil && t.After(now) {
					de := &domain.Error{Kind: domain.KindInvalid, Field: "knownAt", Rule: knownAtRule,
						Message: fmt.Sprintf("knownAt: %s (the server's clock reads %s; leave knownAt out for what is known now)",
							knownAtRule, now.UTC().Format(time.RFC3339Nano))}
					gerr := &gqlerror.Error{Err: de, Message: de.Message}
					if arg.Position != nil {
						gerr.Locations = []gqlerror.Location{{Line: arg.Position.Line, Column: arg.Position.Column}}
					}
					return gerr
				}
			}
			err = laterKnownAt(s.SelectionSet, frags, vars, now, seen, latest)
		case *ast.InlineFragment:
			if skipped(s.Directives, vars) {
				continue
			}
			err = laterKnownAt(s.SelectionSet, frags, vars, now, seen, latest)
		case *ast.FragmentSpread:
			if skipped(s.Directives, vars) {
				continue
			}
			if f := frags.ForName(s.Name); f != nil && !seen[s.Name] {
				seen[s.Name] = true
				err = laterKnownAt(f.SelectionSet, frags, vars, now, seen, latest)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// knownAtWait is an operation's wait for the read model (settleKnownAt).
// NewServer's AroundOperations sets one up for a query or subscription
// with a knownAt, and reads the log's head as the operation arrives; the
// wait itself runs lazily, at most once, from the first field with a
// knownAt whose caller is allowed it (awaitKnownAt), so that a field the
// caller may not read is refused at once, FORBIDDEN, the read model
// behind or not, and never waits.
type knownAtWait struct {
	latest time.Time     // the operation's latest knownAt
	read   chan struct{} // closed once head and headErr are set
	head   uint64
	// headErr is the log's failure to tell its head: the read model then
	// answers as it is.
	headErr error
	once    sync.Once
	err     error
}

type knownAtWaitKey struct{}

// withKnownAtWait returns ctx holding the wait of an operation whose
// latest knownAt is latest, its head read meanwhile on a goroutine of its
// own, under ctx (the operation's deadline). Without a log (Head nil)
// nothing waits.
func (r *Resolver) withKnownAtWait(ctx context.Context, latest time.Time) context.Context {
	if r.Head == nil {
		return ctx
	}
	w := &knownAtWait{latest: latest, read: make(chan struct{})}
	go func() {
		defer close(w.read)
		w.head, w.headErr = r.Head(ctx)
	}()
	return context.WithValue(ctx, knownAtWaitKey{}, w)
}

// hasKnownAtWait tells whether the operation ctx runs has a wait for the
// read model (withKnownAtWait), run or not.
func hasKnownAtWait(ctx context.Context) bool {
	_, ok := ctx.Value(knownAtWaitKey{}).(*knownAtWait)
	return ok
}

// awaitKnownAt runs the operation's wait for the read model, once (a
// later call answers as the first did): every field that takes a knownAt
// calls it after it has authorised its caller and before it reads. An
// operation without a wait (no knownAt, a mutation) does not wait.
func (r *Resolver) awaitKnownAt(ctx context.Context) error {
	w, _ := ctx.Value(knownAtWaitKey{}).(*knownAtWait)
	if w == nil {
		return nil
	}
	w.once.Do(func() {
		select {
		case <-w.read:
		case <-ctx.Done():
			w.err = ctx.Err()
			return
		}
		if w.headErr != nil {
			return
		}
		w.err = r.settleKnownAt(ctx, w.latest, w.head)
	})
	return w.err
}

// settleKnownAt waits, at most ReadYourWritesTimeout, until the read model
// has applied head, the log's head as it was when an operation whose latest
// knownAt is latest arrived: every event recorded (stamped) before that
// instant and already in the log is then in the answer. It does not wait
// when the first event not applied yet was recorded more than
// knownAtSettled after latest (the stamps of later positions may precede
// it by no more than a write's time on its way to the log): a past report
// stays available while the projector catches up. While the log cannot be
// reached the read model answers as it is, as every query does then
// (awaitKnownAt).
func (r *Resolver) settleKnownAt(ctx context.Context, latest time.Time, head uint64) error {
	if r.RecordedAt != nil {
		if applied, err := r.ReadModel.Readable(ctx); err == nil {
			if applied >= head {
				return nil
			}
			if at, err := r.RecordedAt(ctx, applied+1); err == nil && latest.Before(at.Add(-knownAtSettled)) {
				return nil
			}
		}
	}
	timeout := r.ReadYourWritesTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := r.ReadModel.WaitFor(wctx, head); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if wctx.Err() == nil {
			return err // the read model failed to answer: not a wait that ran out
		}
		return domain.Conflict("knownAt: the read model has not applied the event log up to its position %d within %s: "+
			"an answer as known at an instant could miss events recorded before it and change once they are applied; retry the query shortly", head, timeout)
	}
	return nil
}
