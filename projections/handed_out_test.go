package projections

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// handedOut is a copy of what a projection handed to the store held, and
// the projection itself, whose slices the cache and later projections
// share.
type handedOut struct {
	pp         PersonProjection
	ms, pms    []domain.Membership
	per, pper  []domain.LevelPeriod
	ch, pch    []domain.LevelChange
	fs         []domain.FieldStanding
	acc, added []string
}

func handOut(pp PersonProjection) handedOut {
	h := handedOut{pp: pp, ms: slices.Clone(pp.Person.Memberships), per: slices.Clone(pp.Periods), ch: slices.Clone(pp.Changes),
		fs: slices.Clone(pp.Standing.Fields), acc: slices.Clone(pp.Delta.Accomplishments), added: slices.Clone(pp.Delta.Added)}
	if pp.Prior != nil {
		h.pms, h.pper, h.pch = slices.Clone(pp.Prior.Memberships), slices.Clone(pp.Prior.Periods), slices.Clone(pp.Prior.Changes)
	}
	return h
}

// unchanged reports whether the projection still holds what it held when
// it was handed out.
func (h handedOut) unchanged() bool {
	pp := h.pp
	same := reflect.DeepEqual(h.ms, pp.Person.Memberships) && reflect.DeepEqual(h.per, pp.Periods) &&
		reflect.DeepEqual(h.ch, pp.Changes) && reflect.DeepEqual(h.fs, pp.Standing.Fields) &&
		reflect.DeepEqual(h.acc, pp.Delta.Accomplishments) && reflect.DeepEqual(h.added, pp.Delta.Added)
	if pp.Prior != nil {
		same = same && reflect.DeepEqual(h.pms, pp.Prior.Memberships) && reflect.DeepEqual(h.pper, pp.Prior.Periods) &&
			reflect.DeepEqual(h.pch, pp.Prior.Changes)
	}
	return same
}

// TestHandedOutProjectionsStay: the projector shares a person's slices
// between its cache, the projection it hands to the store and the next
// projections of that person (a batch that only adds evidence reuses what
// did not change). Nothing handed out may change in later batches: the
// memory store keeps what it is given, and derived level changes are
// published after the commit. Random batches with transfers, amendments,
// retractions and re-recordings, and the date moving on.
func TestHandedOutProjectionsStay(t *testing.T) {
	cat := domain.DefaultCatalogue()
	for seed := range uint64(40) {
		now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		g := newEventGen(100 + seed)
		p := &Projector{Catalogue: cat, Store: nullStore{}, Now: func() time.Time { return now }}
		p.cache, p.dirty, p.complete = map[string]*personState{}, map[string]struct{}{}, true
		people := []string{"A", "B", "C"}
		logs := map[string][]events.Recorded{}
		var kept []handedOut
		var derived, derivedCopies [][]LevelChanged
		for step := range 80 {
			batch := g.batch(logs, people, 4)
			if step%10 == 9 {
				now = now.AddDate(0, 0, 200)
			}
			w, _, err := p.prepare(context.Background(), batch, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, pp := range w.people {
				kept = append(kept, handOut(pp))
			}
			derived, derivedCopies = append(derived, w.derived), append(derivedCopies, slices.Clone(w.derived))
			for i, h := range kept {
				if !h.unchanged() {
					t.Fatalf("seed %d, batch %d: projection %d of %s, handed out before, changed", seed, step, i, h.pp.Person.ID)
				}
			}
			for i := range derived {
				if !reflect.DeepEqual(derived[i], derivedCopies[i]) {
					t.Fatalf("seed %d, batch %d: the level changes of batch %d changed", seed, step, i)
				}
			}
		}
	}
}
