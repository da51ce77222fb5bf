package graph

import (
	"context"
	"sync"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
	"github.com/careerledger/careerledger/graph/model"
	"github.com/careerledger/careerledger/projections"
)

// pageLoader fetches the events of every person of a page in one read-model
// call, the first time any person's standing, history, or department or
// memberships as known at an instant, is resolved; the other people of the
// page are then resolved from memory.
// Their recordedAt is fetched apart, for the whole page in one call too,
// without their events.
type pageLoader struct {
	rm  ReadModel
	ids []string
	// wait is the operation's wait for the read model (awaitKnownAt), run
	// before the events are read whichever field reads them first: a field
	// as known now (standing) may come first, and the fields as known at an
	// instant answer from the same read.
	wait func(context.Context) error
	once sync.Once
	evs  map[string][]events.Recorded
	err  error
	// The instants the page's people were registered, read on their own
	// (not from their events) the first time any recordedAt is resolved.
	firstOnce sync.Once
	first     map[string]time.Time
	firstErr  error
}

func (*pageLoader) IsPageLoader() {}

func (l *pageLoader) events(ctx context.Context, id string) ([]events.Recorded, bool, error) {
	l.once.Do(func() {
		ctx, cancel := shared(ctx)
		defer cancel()
		if l.wait != nil {
			// Its failure is the knownAt fields' to tell (each waits
			// itself, and is told the same); the others read on.
			_ = l.wait(ctx)
		}
		l.evs, l.err = l.rm.PersonEvents(ctx, l.ids)
	})
	rs, ok := l.evs[id]
	return rs, ok, l.err
}

func (l *pageLoader) firstRecordedAt(ctx context.Context, id string) (time.Time, bool, error) {
	l.firstOnce.Do(func() {
		ctx, cancel := shared(ctx)
		defer cancel()
		l.first, l.firstErr = l.rm.FirstRecordedAt(ctx, l.ids)
	})
	at, ok := l.first[id]
	return at, ok, l.firstErr
}

// shared returns the context of a read whose answer the page's fields
// share: not ended by the cancellation of the field that happens to make
// it, but bounded by its deadline, the request's (--request-timeout), so
// that a read model that does not answer does not hold the request past
// it.
func shared(ctx context.Context) (context.Context, context.CancelFunc) {
	detached := context.WithoutCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(detached, deadline)
	}
	return detached, func() {}
}

func pageOf(p *model.Person) *pageLoader {
	l, _ := p.Page.(*pageLoader)
	return l
}

// standing resolves a person's standing, from the page when there is one.
func (r *Resolver) standing(ctx context.Context, p *model.Person, asOf domain.Date, knownAt time.Time) (domain.Standing, error) {
	if l := pageOf(p); l != nil {
		rs, ok, err := l.events(ctx, p.ID)
		if err != nil {
			return domain.Standing{}, err
		}
		if ok {
			// Registered after knownAt: every field at level 0, as the
			// read model answers it.
			st, _ := projections.StandingOf(r.Catalogue, rs, asOf, knownAt)
			return st, nil
		}
	}
	return r.ReadModel.Standing(ctx, p.ID, asOf, knownAt)
}

// recordedAt resolves the instant a person's registration was recorded:
// their first event's (nothing is recorded of a person before it), read
// alone, for every person of the page at once when there is one.
func (r *Resolver) recordedAt(ctx context.Context, p *model.Person) (time.Time, error) {
	if l := pageOf(p); l != nil {
		at, ok, err := l.firstRecordedAt(ctx, p.ID)
		if err != nil {
			return time.Time{}, err
		}
		if ok {
			return at, nil
		}
	}
	m, err := r.ReadModel.FirstRecordedAt(ctx, []string{p.ID})
	if err != nil {
		return time.Time{}, err
	}
	at, ok := m[p.ID]
	if !ok {
		return time.Time{}, domain.NotFound("person %s not found", p.ID)
	}
	return at, nil
}

// historyKnownAt resolves a person's level changes as known at knownAt,
// from their events (the page's when there is one).
func (r *Resolver) historyKnownAt(ctx context.Context, p *model.Person, field *domain.Field, knownAt time.Time) ([]domain.LevelChange, error) {
	if l := pageOf(p); l != nil {
		rs, ok, err := l.events(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			return projections.HistoryKnownAt(r.Catalogue, rs, field, knownAt), nil
		}
	}
	m, err := r.ReadModel.PersonEvents(ctx, []string{p.ID})
	if err != nil {
		return nil, err
	}
	return projections.HistoryKnownAt(r.Catalogue, m[p.ID], field, knownAt), nil
}

// membershipPeriods resolves a person's department periods as known at
// knownAt, for department and memberships: without one, those the person
// came with (as known now, or as a people(knownAt:) list knew them); with
// one, from their events recorded by then, once the read model has applied
// the log's head (the person was authorised where it was looked up: person,
// people).
func (r *Resolver) membershipPeriods(ctx context.Context, p *model.Person, knownAt *time.Time) ([]domain.Membership, error) {
	switch {
	case knownAt == nil:
		return p.MembershipPeriods, nil
	case p.KnownAt != nil && p.KnownAt.Equal(*knownAt):
		return p.MembershipPeriods, nil // the list's own instant, folded already
	case knownAt.IsZero():
		// 0001-01-01T00:00:00Z, before anything was recorded: no
		// period, as standing(knownAt:) judges on no evidence then,
		// without waiting for or reading the read model.
		return nil, nil
	}
	if err := r.awaitKnownAt(ctx); err != nil {
		return nil, err
	}
	return r.membershipsKnownAt(ctx, p, *knownAt)
}

// membershipsKnownAt resolves a person's department periods as known at
// knownAt, from their events (the page's when there is one), as
// historyKnownAt resolves their level changes.
func (r *Resolver) membershipsKnownAt(ctx context.Context, p *model.Person, knownAt time.Time) ([]domain.Membership, error) {
	if l := pageOf(p); l != nil {
		rs, ok, err := l.events(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			return projections.MembershipsKnownAt(rs, knownAt), nil
		}
	}
	m, err := r.ReadModel.PersonEvents(ctx, []string{p.ID})
	if err != nil {
		return nil, err
	}
	return projections.MembershipsKnownAt(m[p.ID], knownAt), nil
}

// history resolves a person's level changes, from the page when there is one.
func (r *Resolver) history(ctx context.Context, p *model.Person, field *domain.Field) ([]domain.LevelChange, error) {
	if l := pageOf(p); l != nil {
		rs, ok, err := l.events(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		if person := events.Fold(rs); ok && person != nil {
			return projections.HistoryOf(r.Catalogue.Timeline(person.Evidence()), field), nil
		}
	}
	return r.ReadModel.History(ctx, p.ID, field)
}
