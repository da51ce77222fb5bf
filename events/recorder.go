package events

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/careerledger/careerledger/domain"
)

// Validator judges an accomplishment as a whole against the rule book
// (enumerations, dates, counts, which complexity codes a field uses); the
// domain's Catalogue satisfies it. Errors are *domain.Error naming the field.
type Validator interface {
	ValidateAccomplishment(a domain.Accomplishment, today domain.Date) error
}

// Recorder runs the commands that write to the log: load the person, decide
// with the domain, append with the expected sequence; a lost race is
// retried from the load, so a concurrent writer never makes a command fail
// or lose its write. It remembers the events of the people it wrote
// recently (up to 10,000 people) and catches them up from the log on every
// attempt, which reads only what is new. It is safe for concurrent use.
type Recorder struct {
	log   *Log
	cat   Validator
	now   func() time.Time
	cache personCache
}

// Retry policy for lost races: full-jitter exponential backoff. 50 writers
// on one person resolve well within it.
const (
	maxAttempts = 30
	backoffBase = time.Millisecond
	backoffCap  = 50 * time.Millisecond
)

// NewRecorder returns a Recorder writing to l, validating accomplishments
// with cat and stamping events with now() (time.Now when nil).
func NewRecorder(l *Log, cat Validator, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{log: l, cat: cat, now: now, cache: personCache{m: map[string]cachedPerson{}, max: cachedPeople}}
}

// Result is what a command did.
type Result struct {
	Position         uint64 // the event's position in the log (of the original, for a repeat)
	PersonID         string
	AccomplishmentID string // for accomplishment commands
	Duplicate        bool   // the idempotency key was seen before: nothing new was recorded
}

// RegisterPerson registers a new person. ID is optional: when empty one is
// generated (derived from IdempotencyKey when given, so that a retry maps to
// the same person).
type RegisterPerson struct {
	ID             string
	Name           string
	Department     string
	JoinedOn       domain.Date
	IdempotencyKey string
}

// TransferPerson moves a person to another department from EffectiveOn on.
type TransferPerson struct {
	PersonID       string
	Department     string
	EffectiveOn    domain.Date
	IdempotencyKey string
}

// RecordDeparture records that a person left on EffectiveOn.
type RecordDeparture struct {
	PersonID       string
	EffectiveOn    domain.Date
	IdempotencyKey string
}

// RecordAccomplishment records a new accomplishment of any kind; its ID is
// ignored and assigned.
type RecordAccomplishment struct {
	PersonID       string
	Accomplishment domain.Accomplishment
	IdempotencyKey string
}

// AmendAccomplishment replaces an accomplishment with Patch(current). Patch
// may run more than once (once per attempt after a lost race) and must be a
// pure function of its argument; the result must be of the same kind and is
// validated as a whole. Its ID is ignored.
type AmendAccomplishment struct {
	AccomplishmentID string
	Patch            func(current domain.Accomplishment) (domain.Accomplishment, error)
	IdempotencyKey   string
}

// RetractAccomplishment withdraws an accomplishment.
type RetractAccomplishment struct {
	AccomplishmentID string
	Reason           string
	IdempotencyKey   string
}

// decision is what a command decided from the person's current state.
type decision struct {
	event            Event
	accomplishmentID string
}

// RegisterPerson registers a person. A taken id is invalid input ("id": "is
// already taken").
func (r *Recorder) RegisterPerson(ctx context.Context, c RegisterPerson) (Result, error) {
	today := domain.DateOf(r.now())
	id := c.ID
	if id == "" {
		if c.IdempotencyKey != "" {
			id = "P" + derivedToken("person:"+c.IdempotencyKey)
		} else {
			id = "P" + randomToken()
		}
	} else if err := domain.ValidatePersonID(id); err != nil {
		return Result{}, err
	}
	if err := firstError(
		validName(c.Name),
		validDepartment(c.Department),
		validDate("joinedOn", c.JoinedOn, today),
	); err != nil {
		return Result{}, err
	}
	return r.run(ctx, id, c.IdempotencyKey, func(p *domain.Person) (decision, error) {
		if p != nil {
			return decision{}, domain.Invalid("id", "is already taken")
		}
		return decision{event: PersonRegistered{PersonID: id, Name: c.Name, Department: c.Department, JoinedOn: c.JoinedOn}}, nil
	})
}

// TransferPerson records a transfer; EffectiveOn must not be before the
// person joined nor in the future.
func (r *Recorder) TransferPerson(ctx context.Context, c TransferPerson) (Result, error) {
	today := domain.DateOf(r.now())
	if err := firstError(
		validPersonID(c.PersonID),
		validDepartment(c.Department),
		validDate("effectiveOn", c.EffectiveOn, today),
	); err != nil {
		return Result{}, err
	}
	return r.run(ctx, c.PersonID, c.IdempotencyKey, func(p *domain.Person) (decision, error) {
		if err := placementAllowed(p, c.PersonID, c.EffectiveOn); err != nil {
			return decision{}, err
		}
		return decision{event: PersonTransferred{PersonID: c.PersonID, Department: c.Department, EffectiveOn: c.EffectiveOn}}, nil
	})
}

// RecordDeparture records a departure; EffectiveOn must not be before the
// person joined nor in the future.
func (r *Recorder) RecordDeparture(ctx context.Context, c RecordDeparture) (Result, error) {
	today := domain.DateOf(r.now())
	if err := firstError(
		validPersonID(c.PersonID),
		validDate("effectiveOn", c.EffectiveOn, today),
	); err != nil {
		return Result{}, err
	}
	return r.run(ctx, c.PersonID, c.IdempotencyKey, func(p *domain.Person) (decision, error) {
		if err := placementAllowed(p, c.PersonID, c.EffectiveOn); err != nil {
			return decision{}, err
		}
		return decision{event: PersonDeparted{PersonID: c.PersonID, EffectiveOn: c.EffectiveOn}}, nil
	})
}

// RecordAccomplishment records a new accomplishment for a known person,
// assigning its id ("<personId>.<token>").
func (r *Recorder) RecordAccomplishment(ctx context.Context, c RecordAccomplishment) (Result, error) {
	if err := validPersonID(c.PersonID); err != nil {
		return Result{}, err
	}
	if c.Accomplishment.Kind() == "" {
		return Result{}, domain.Invalid("accomplishment", "must be one of engagement, technology succession, subordinate development or theme assessment")
	}
	a := cloneAccomplishment(c.Accomplishment)
	id := c.PersonID + "." + randomToken()
	setID(&a, id)
	if err := r.cat.ValidateAccomplishment(a, domain.DateOf(r.now())); err != nil {
		return Result{}, err
	}
	ev := FromAccomplishment(a)
	return r.run(ctx, c.PersonID, c.IdempotencyKey, func(p *domain.Person) (decision, error) {
		if p == nil {
			return decision{}, domain.NotFound("person %s not found", c.PersonID)
		}
		return decision{event: ev, accomplishmentID: id}, nil
	})
}

// AmendAccomplishment replaces an accomplishment with a new whole value.
func (r *Recorder) AmendAccomplishment(ctx context.Context, c AmendAccomplishment) (Result, error) {
	personID, ok := personOf(c.AccomplishmentID)
	if !ok {
		return Result{}, domain.NotFound("accomplishment %s not found", c.AccomplishmentID)
	}
	if c.Patch == nil {
		return Result{}, errors.New("amend accomplishment: no patch")
	}
	return r.run(ctx, personID, c.IdempotencyKey, func(p *domain.Person) (decision, error) {
		if p == nil {
			return decision{}, domain.NotFound("accomplishment %s not found", c.AccomplishmentID)
		}
		cur, err := p.Accomplishment(c.AccomplishmentID)
		if err != nil {
			return decision{}, err
		}
		next, err := c.Patch(cloneAccomplishment(cur))
		if err != nil {
			return decision{}, err
		}
		if next.Kind() != cur.Kind() {
			return decision{}, domain.Invalid("accomplishmentId", "an amendment cannot change the kind of accomplishment")
		}
		next = cloneAccomplishment(next)
		setID(&next, c.AccomplishmentID)
		if err := r.cat.ValidateAccomplishment(next, domain.DateOf(r.now())); err != nil {
			return decision{}, err
		}
		return decision{event: amendmentOf(next), accomplishmentID: c.AccomplishmentID}, nil
	})
}

// RetractAccomplishment withdraws an accomplishment; Reason is required.
func (r *Recorder) RetractAccomplishment(ctx context.Context, c RetractAccomplishment) (Result, error) {
	personID, ok := personOf(c.AccomplishmentID)
	if !ok {
		return Result{}, domain.NotFound("accomplishment %s not found", c.AccomplishmentID)
	}
	if strings.TrimSpace(c.Reason) == "" {
		return Result{}, domain.Invalid("reason", "must not be empty")
	}
	return r.run(ctx, personID, c.IdempotencyKey, func(p *domain.Person) (decision, error) {
		if p == nil {
			return decision{}, domain.NotFound("accomplishment %s not found", c.AccomplishmentID)
		}
		if _, err := p.Accomplishment(c.AccomplishmentID); err != nil {
			return decision{}, err
		}
		return decision{event: AccomplishmentRetracted{AccomplishmentID: c.AccomplishmentID, Reason: c.Reason},
			accomplishmentID: c.AccomplishmentID}, nil
	})
}

// run is the command loop: load, answer a repeated idempotency key from the
// log, decide, append with the expected sequence, and start over after a
// lost race.
func (r *Recorder) run(ctx context.Context, personID, key string, decide func(*domain.Person) (decision, error)) (Result, error) {
	msgID := ""
	if key != "" {
		msgID = personID + ":" + key
	}
	for attempt := 0; ; attempt++ {
		rs, last, err := r.load(ctx, personID)
		if err != nil {
			return Result{}, err
		}
		if key != "" {
			// The dedupe window is short and not the only memory: the
			// person's own log remembers every key.
			for _, rec := range rs {
				if rec.IdempotencyKey == key {
					return resultOf(rec, true), nil
				}
			}
		}
		d, err := decide(Fold(rs))
		if err != nil {
			return Result{}, err
		}
		at := r.now()
		pos, dup, err := r.log.Append(ctx, personID, last, msgID, d.event, at, key)
		if err == nil && !dup {
			// The append expected last, so the new event directly follows rs.
			typ, ver, _, _ := Encode(d.event)
			r.cache.put(personID, append(rs[:len(rs):len(rs)], Recorded{Position: pos, PersonID: personID,
				Type: typ, Version: ver, RecordedAt: at.UTC(), IdempotencyKey: key, Event: deref(d.event)}))
		}
		switch {
		case err == nil && dup:
			// Appended by an earlier try within the window, after our load.
			orig, err := r.log.At(ctx, pos)
			if err != nil {
				return Result{}, fmt.Errorf("recover the original of a repeated request: %w", err)
			}
			return resultOf(orig, true), nil
		case err == nil:
			return Result{Position: pos, PersonID: personID, AccomplishmentID: d.accomplishmentID}, nil
		case !errors.Is(err, ErrConflict):
			return Result{}, err
		case attempt+1 >= maxAttempts:
			return Result{}, fmt.Errorf("gave up after %d lost races: %w", maxAttempts, err)
		}
		if err := sleepCtx(ctx, backoff(attempt)); err != nil {
			return Result{}, err
		}
	}
}

// load returns the person's events, coherent with every acknowledged
// append: a person seen before is caught up from the last position the
// Recorder knows (one round trip when nothing is new) instead of read
// whole. The log is append-only, so a known prefix never changes.
func (r *Recorder) load(ctx context.Context, personID string) ([]Recorded, uint64, error) {
	known, ok := r.cache.get(personID)
	if !ok {
		rs, last, err := r.log.Load(ctx, personID)
		if err == nil && len(rs) > 0 {
			r.cache.put(personID, rs)
		}
		return rs, last, err
	}
	from := known[len(known)-1].Position
	more, err := r.log.fetchRange(ctx, r.log.Subject(personID), from+1, -1)
	if err != nil {
		return nil, 0, fmt.Errorf("load %s: %w", r.log.Subject(personID), err)
	}
	rs := known
	if len(more) > 0 {
		rs = append(known[:len(known):len(known)], more...)
		r.cache.put(personID, rs)
	}
	return rs, rs[len(rs)-1].Position, nil
}

// cachedPeople bounds the Recorder's memory of people's events.
const cachedPeople = 10_000

// personCache remembers the events of recently written people. Entries are
// immutable slices (extended by copying), so readers share them freely.
type personCache struct {
	mu  sync.Mutex
	m   map[string]cachedPerson
	max int
}

type cachedPerson struct{ rs []Recorded }

func (c *personCache) get(id string) ([]Recorded, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	return e.rs, ok && len(e.rs) > 0
}

// put stores rs unless a longer history is already known.
func (c *personCache) put(id string, rs []Recorded) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok && len(e.rs) > 0 && e.rs[len(e.rs)-1].Position >= rs[len(rs)-1].Position {
		return
	}
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for k := range c.m { // evict an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[id] = cachedPerson{rs: rs}
}

// resultOf is the Result of an event already in the log.
func resultOf(rec Recorded, duplicate bool) Result {
	res := Result{Position: rec.Position, PersonID: rec.PersonID, Duplicate: duplicate}
	switch v := deref(rec.Event).(type) {
	case AccomplishmentAmended:
		res.AccomplishmentID = v.AccomplishmentID
	case AccomplishmentRetracted:
		res.AccomplishmentID = v.AccomplishmentID
	default:
		if a, ok := ToAccomplishment(v); ok {
			res.AccomplishmentID = a.ID()
		}
	}
	return res
}

func backoff(attempt int) time.Duration {
	ceiling := min(backoffBase<<min(attempt, 16), backoffCap)
	return time.Duration(mrand.Int64N(int64(ceiling)) + 1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func placementAllowed(p *domain.Person, personID string, effectiveOn domain.Date) error {
	if p == nil {
		return domain.NotFound("person %s not found", personID)
	}
	if effectiveOn.Before(p.JoinedOn) {
		return domain.Invalid("effectiveOn", "must not be before joinedOn ("+p.JoinedOn.String()+")")
	}
	return nil
}

func validPersonID(id string) error {
	if err := domain.ValidatePersonID(id); err != nil {
		return domain.Invalid("personId", "must be 1-64 characters of A-Z a-z 0-9 _ -")
	}
	return nil
}

func validName(name string) error {
	if strings.TrimSpace(name) == "" {
		return domain.Invalid("name", "must not be empty")
	}
	return nil
}

func validDepartment(dept string) error {
	switch {
	case strings.TrimSpace(dept) == "":
		return domain.Invalid("department", "must not be empty")
	case len([]rune(dept)) > 100:
		return domain.Invalid("department", "must be at most 100 characters")
	}
	return nil
}

func validDate(field string, d, today domain.Date) error {
	switch {
	case d.IsZero():
		return domain.Invalid(field, "is required")
	case d.After(today):
		return domain.Invalid(field, "must not be in the future")
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// personOf returns the person an accomplishment id belongs to: ids are
// "<personId>.<token>", and person ids never contain '.'.
func personOf(accomplishmentID string) (string, bool) {
	personID, token, ok := strings.Cut(accomplishmentID, ".")
	if !ok || len(token) != tokenLen || domain.ValidatePersonID(personID) != nil {
		return "", false
	}
	for _, c := range token {
		if !strings.ContainsRune(tokenAlphabet, c) {
			return "", false
		}
	}
	return personID, true
}

// Tokens are 10 characters of RFC 4648 base32 (50 bits): "P" + token is a
// generated person id, "<personId>." + token an accomplishment id.
const (
	tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	tokenLen      = 10
)

var tokenEncoding = base32.NewEncoding(tokenAlphabet).WithPadding(base32.NoPadding)

func randomToken() string {
	var b [7]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return tokenEncoding.EncodeToString(b[:])[:tokenLen]
}

func derivedToken(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return tokenEncoding.EncodeToString(sum[:7])[:tokenLen]
}

// cloneAccomplishment copies a so that the caller's value is never changed
// (setting the id, patching).
func cloneAccomplishment(a domain.Accomplishment) domain.Accomplishment {
	switch {
	case a.Engagement != nil:
		g := *a.Engagement
		g.PeakHeadcount, g.AnnualContractValueYen = copyInt(g.PeakHeadcount), copyInt(g.AnnualContractValueYen)
		g.InstallationSites, g.InquiriesPerYear = copyInt(g.InstallationSites), copyInt(g.InquiriesPerYear)
		g.Complexity = append([]domain.Criterion(nil), g.Complexity...)
		return domain.Accomplishment{Engagement: &g}
	case a.Succession != nil:
		s := *a.Succession
		s.Fields = append([]domain.Field(nil), s.Fields...)
		return domain.Accomplishment{Succession: &s}
	case a.Development != nil:
		d := *a.Development
		return domain.Accomplishment{Development: &d}
	case a.Assessment != nil:
		t := *a.Assessment
		return domain.Accomplishment{Assessment: &t}
	}
	return a
}
