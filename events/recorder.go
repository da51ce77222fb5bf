package events

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/careerledger/careerledger/domain"
)

// Validator judges an accomplishment as a whole against the rule book
// (enumerations, dates, counts, which complexity codes a field uses); the
// domain's Catalogue satisfies it. Errors are *domain.Error naming the field.
type Validator interface {
	ValidateAccomplishment(a domain.Accomplishment, today domain.Date) error
}

// Recorder runs the commands that write to the log: decide with the domain
// against the person's current state, append with the expected sequence of
// the person's subject; a lost race is retried from the log, so a concurrent
// writer (another goroutine, another careerd) never makes a command fail or
// lose its write.
//
// It is optimistic: it remembers the fold of the people it served recently
// (up to 10,000 people, least recently used forgotten first) and decides
// against that without reading the log. The append's expected sequence is
// the check: if anything was appended for the person meanwhile, it fails
// with a conflict and the Recorder catches the person up from the log and
// decides again. A refusal decided from memory is confirmed against the log
// before it is returned. Commands of one Recorder on one person take turns
// (they would only race each other); commands on different people run in
// parallel. A command returns once its event is in the log; folding the
// event into what the Recorder remembers happens after, on another
// goroutine that holds the person's turn until it is done, so the next
// command on the person decides on it. It is safe for concurrent use.
type Recorder struct {
	log   *Log
	cat   Validator
	now   func() time.Time
	cache *personCache

	// History, when set before the first command, is where the Recorder
	// reads the people it does not know yet (see History); nil: the log.
	History History

	conflicts    atomic.Int64 // lost races seen, for tests and diagnostics
	originReads  atomic.Int64 // repeats told by reading their original from the log, likewise
	historyReads atomic.Int64 // people read from the History, likewise

	historyPaused atomic.Int64 // Unix ns until which the History is not read (after it failed)
}

// Retry policy for lost races: an immediate retry after the first, then
// full-jitter exponential backoff. Writers of one Recorder on one person
// take turns, so only other Recorders (other processes) race.
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
	return &Recorder{log: l, cat: cat, now: now, cache: newPersonCache(cachedPeople)}
}

// Result is what a command did.
type Result struct {
	Position         uint64 // the event's position in the log (of the original, for a repeat)
	PersonID         string
	AccomplishmentID string // for accomplishment commands
	Duplicate        bool   // the idempotency key was seen before: nothing new was recorded
}

// Command is one of the Recorder's commands, as a value: RegisterPerson,
// TransferPerson, RecordDeparture, RecordAccomplishment, AmendAccomplishment
// or RetractAccomplishment (see RecordBatch). No other type implements it.
type Command interface {
	// plan validates the command's input and returns how to decide it.
	plan(r *Recorder) (plan, error)
}

// plan is a validated command: whose log it writes to, its idempotency key,
// and the decision it takes from the person's current state (nil when the
// person has no events). decide may run more than once (once per attempt).
type plan struct {
	personID string
	key      string
	// register says the command starts a person's log, so that an unknown
	// person may be assumed to have no events (an append expecting 0 fails
	// if that is wrong).
	register bool
	decide   func(*domain.Person) (decision, error)
	// repeats reports whether orig, the event first recorded under key, is
	// what this command records: a repeat of the same request. A key sent
	// again with another request (another mutation, other values, another
	// caller's registration under the same key) is refused, never answered
	// with the first request's result.
	repeats func(orig Event) bool
	// same is what the command's repeats have the fingerprint (printOf)
	// of: the event it records (an amendment: AccomplishmentAmended with
	// the accomplishment only, the way repeats compares it). With it a
	// command whose key the Recorder remembers is told a repeat or another
	// request without reading the log; nil: the log is read.
	same Event
	// onlyBy, when set, is the only actor who may change accomplishment
	// changes (personEntry.mayChange), checked before decide.
	onlyBy, changes string
	// refused, when set, is the refusal of the command's values put off
	// until its key is known not to be a repeat (a control character a
	// release before the rule recorded): it is the answer, rather than
	// errKeyReused, when the key's first request is another.
	refused error
}

// another is the refusal of p when its key was first used for another
// request: its values' own refusal if it has one, as a command refused at
// once is told, errKeyReused otherwise.
func (p plan) another() error {
	if p.refused != nil {
		return p.refused
	}
	return errKeyReused
}

// decideFor decides the command on e's fold.
func (p plan) decideFor(e *personEntry) (decision, error) {
	if err := e.mayChange(p.changes, p.onlyBy); err != nil {
		return decision{}, err
	}
	return p.decide(e.person)
}

// sameEvent returns plan.repeats for a command that records planned. The
// compared form of planned is made when the log is read, which few
// commands do, rather than on every command.
func sameEvent(planned Event) func(Event) bool {
	return func(orig Event) bool { return reflect.DeepEqual(asCompared(orig), asCompared(planned)) }
}

// fingerprint identifies an event as a repeat compares it: two events
// with the same fingerprint are one request (up to a collision of SHA-256
// truncated to 128 bits). The zero fingerprint is none.
type fingerprint [16]byte

// printOf returns the fingerprint of e: SHA-256 over an unambiguous
// encoding of asCompared(e), the form sameEvent compares (every field,
// a nil list or pointer told from an empty one, as reflect.DeepEqual
// tells them), and of an amendment over its accomplishment only, as an
// amendment's repeats compares it. ok is false, and the fingerprint zero,
// when e holds what its encoding in the log does not give back unchanged
// (a string that is not UTF-8, a date outside 0000-9999) or a value of a
// kind the encoding does not know: the log is then the judge. An event
// read from the log has the fingerprint of the event that was appended,
// whatever version encoded it, so the two are interchangeable.
func printOf(e Event) (fingerprint, bool) {
	c := asCompared(e)
	if c == nil {
		return fingerprint{}, false
	}
	// On the stack: appendPrint returns what it appends to rather than
	// keeping it in a struct, so that an encoding that fits allocates
	// nothing (this runs on every command with a key).
	var buf [512]byte
	b, ok := appendString(buf[:0], c.EventType()), true
	if a, isAmend := c.(AccomplishmentAmended); isAmend {
		ok = utf8.ValidString(a.AccomplishmentID)
		b = appendString(b, a.AccomplishmentID)
	} else {
		b, ok = appendPrint(b, reflect.ValueOf(c))
	}
	if !ok {
		return fingerprint{}, false
	}
	sum := sha256.Sum256(b)
	return fingerprint(sum[:16]), true
}

// appendPrint appends the encoding printOf hashes of v to b: a string is
// its length and bytes, a pointer or a list a presence byte first (a list
// then its length and elements), a struct its fields in order. ok is false
// when v holds what the log does not give back unchanged, or a value of a
// kind the encoding does not know; what b then holds is not to be used.
func appendPrint(b []byte, v reflect.Value) (_ []byte, ok bool) {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		return appendString(b, s), utf8.ValidString(s)
	case reflect.Bool:
		return appendBool(b, v.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.AppendVarint(b, v.Int()), true
	case reflect.Pointer:
		b = appendBool(b, !v.IsNil())
		if v.IsNil() {
			return b, true
		}
		return appendPrint(b, v.Elem())
	case reflect.Slice:
		b = appendBool(b, !v.IsNil())
		b = binary.AppendUvarint(b, uint64(v.Len()))
		for i := range v.Len() {
			if b, ok = appendPrint(b, v.Index(i)); !ok {
				return b, false
			}
		}
		return b, true
	case reflect.Struct:
		if v.Type() == dateType && v.CanInterface() {
			// TypeAssert rather than Interface: no copy of the date on
			// the heap.
			d, _ := reflect.TypeAssert[domain.Date](v)
			ok = d.IsZero() || (!d.Before(firstLogDate) && !d.After(lastLogDate))
			return binary.AppendVarint(b, int64(d.Days())), ok
		}
		for i := range v.NumField() {
			if b, ok = appendPrint(b, v.Field(i)); !ok {
				return b, false
			}
		}
		return b, true
	}
	return b, false
}

var (
	dateType     = reflect.TypeFor[domain.Date]()
	firstLogDate = domain.MustDate("0000-01-01") // the dates a log body spells (YYYY-MM-DD)
	lastLogDate  = domain.MustDate("9999-12-31")
)

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// asCompared is an event as sameEvent compares it: normalized, with the
// spaces around names and departments that commands now drop dropped, so
// that a retry of a request an earlier version recorded with them is still
// its repeat, and a NUL in a name, a department, a title or a reason as
// U+FFFD, as the log reads it back (events.Decode), so that the retry of a
// request an earlier release recorded with one, which still sends the NUL,
// is too. A command holding a NUL gets this far only under a key, and is
// refused it unless the key's event compares equal (which one recorded
// with U+FFFD where the NUL is does too: the log cannot tell them apart).
func asCompared(e Event) Event {
	switch v := normalize(deref(e)).(type) {
	case PersonRegistered:
		v.Name, v.Department = asRead(strings.TrimSpace(v.Name)), asRead(strings.TrimSpace(v.Department))
		return v
	case PersonTransferred:
		v.Department = asRead(strings.TrimSpace(v.Department))
		return v
	case EngagementRecorded:
		v.Title = asRead(v.Title)
		return v
	case TechnologySuccessionRecorded:
		v.Title = asRead(v.Title)
		return v
	case AccomplishmentRetracted:
		v.Reason = asRead(v.Reason)
		return v
	default:
		return v
	}
}

// asRead is s as the log reads it back: each NUL as U+FFFD (see
// withoutNUL). It allocates only for the text that holds one.
func asRead(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// errKeyReused is the refusal of a key first used for another request.
var errKeyReused = domain.Invalid("idempotencyKey",
	"was already used for a different request (another mutation, or other values): send a repeat unchanged, and a new request with a new key")

// decision is what a command decided from the person's current state.
type decision struct {
	event            Event
	accomplishmentID string
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
// ignored and assigned: "<personId>.<token>", the token derived from
// IdempotencyKey when given (so that a retry, or a later command of the same
// batch, can name it) and random otherwise.
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
	// OnlyBy, when set, makes the amendment one that only the
	// accomplishment's recorder may make, as that actor (see WithActor):
	// it is refused, FORBIDDEN, when the log says someone else recorded
	// the accomplishment or last amended it. Decided on the log, as the
	// rest of the command is.
	OnlyBy string
}

// RetractAccomplishment withdraws an accomplishment.
type RetractAccomplishment struct {
	AccomplishmentID string
	Reason           string
	IdempotencyKey   string
	OnlyBy           string // as AmendAccomplishment's
}

// RegisterPerson registers a person. A taken id is invalid input ("id": "is
// already taken").
func (r *Recorder) RegisterPerson(ctx context.Context, c RegisterPerson) (Result, error) {
	return r.execute(ctx, c)
}

// TransferPerson records a transfer; EffectiveOn must not be before the
// person joined nor in the future.
func (r *Recorder) TransferPerson(ctx context.Context, c TransferPerson) (Result, error) {
	return r.execute(ctx, c)
}

// RecordDeparture records a departure; EffectiveOn must not be before the
// person joined nor in the future.
func (r *Recorder) RecordDeparture(ctx context.Context, c RecordDeparture) (Result, error) {
	return r.execute(ctx, c)
}

// RecordAccomplishment records a new accomplishment for a known person,
// assigning its id ("<personId>.<token>").
func (r *Recorder) RecordAccomplishment(ctx context.Context, c RecordAccomplishment) (Result, error) {
	return r.execute(ctx, c)
}

// AmendAccomplishment replaces an accomplishment with a new whole value.
func (r *Recorder) AmendAccomplishment(ctx context.Context, c AmendAccomplishment) (Result, error) {
	return r.execute(ctx, c)
}

// RetractAccomplishment withdraws an accomplishment; Reason is required.
func (r *Recorder) RetractAccomplishment(ctx context.Context, c RetractAccomplishment) (Result, error) {
	return r.execute(ctx, c)
}

func (r *Recorder) execute(ctx context.Context, c Command) (Result, error) {
	p, err := planOf(r, c)
	if err != nil {
		return Result{}, err
	}
	return r.run(ctx, p)
}

// MaxKeyLength is how many characters an idempotency key may have.
const MaxKeyLength = 200

// planOf is c's plan, refusing an idempotency key the log would not keep
// as given: a header (Career-Idempotency-Key, and the server's
// Nats-Msg-Id) holds no control character, loses the spaces around a
// value, and has a size limit, so such a key would be compared as given
// and read back as another. A key over the length bound is refused only
// once it is known not to be a repeat: a release before the bound
// recorded such keys, and the retry of one is answered as the repeat it
// is; the other rules are checked at once, as no recorded key breaks them.
func planOf(r *Recorder, c Command) (plan, error) {
	p, err := c.plan(r)
	if err != nil || p.key == "" {
		return p, err
	}
	switch {
	case !utf8.ValidString(p.key):
		return plan{}, domain.Invalid("idempotencyKey", "must be valid UTF-8")
	case strings.TrimSpace(p.key) != p.key:
		// No recorded key has them: the header dropped them.
		return plan{}, domain.Invalid("idempotencyKey", "must not start or end with spaces")
	}
	if err := domain.ValidatePrintable("idempotencyKey", p.key, false); err != nil {
		return plan{}, err // nor these: a header holds none
	}
	if utf8.RuneCountInString(p.key) > MaxKeyLength {
		// Refused once the key is known not to be a repeat: a release
		// before the bound recorded longer keys.
		tooLong := domain.Invalid("idempotencyKey", fmt.Sprintf("must be at most %d characters", MaxKeyLength))
		p.decide = func(*domain.Person) (decision, error) { return decision{}, tooLong }
	}
	return p, nil
}

func (c RegisterPerson) plan(r *Recorder) (plan, error) {
	// Spaces around a name or a department are a typing slip, not a new
	// department: "QA Dept " is "QA Dept".
	c.Name, c.Department = strings.TrimSpace(c.Name), strings.TrimSpace(c.Department)
	today := domain.DateOf(r.now())
	id := c.ID
	if id == "" {
		var t token
		if c.IdempotencyKey != "" {
			t = derived("person:", c.IdempotencyKey)
		} else {
			t = randomToken()
		}
		id = "P" + string(t[:])
	} else if !personIDOK(id) {
		return plan{}, domain.ValidatePersonID(id)
	}
	var deferred error
	if err := firstError(
		validName(c.Name),
		validDepartment(c.Department),
		domain.ValidateDate("joinedOn", c.JoinedOn, today),
	); err != nil {
		// A name or department with a control character under a key is
		// refused only once the key is known not to be a repeat: a release
		// before the rule recorded such names, and the retry of one is
		// answered as the repeat it is (as an accomplishment's title is).
		if c.IdempotencyKey == "" || !(isUnprintable(err, "name") || isUnprintable(err, "department")) ||
			firstError(
				validName(printable("name", c.Name)),
				validDepartment(printable("department", c.Department)),
				domain.ValidateDate("joinedOn", c.JoinedOn, today),
			) != nil {
			return plan{}, err
		}
		deferred = err
	}
	ev := PersonRegistered{PersonID: id, Name: c.Name, Department: c.Department, JoinedOn: c.JoinedOn}
	return plan{personID: id, key: c.IdempotencyKey, register: true, repeats: sameEvent(ev), same: ev, refused: deferred, decide: func(p *domain.Person) (decision, error) {
		if deferred != nil {
			return decision{}, deferred
		}
		if p != nil {
			return decision{}, domain.Invalid("id", "is already taken")
		}
		return decision{event: ev}, nil
	}}, nil
}

func (c TransferPerson) plan(r *Recorder) (plan, error) {
	c.Department = strings.TrimSpace(c.Department)
	today := domain.DateOf(r.now())
	var deferred error
	if err := firstError(
		validPersonID(c.PersonID),
		validDepartment(c.Department),
		domain.ValidateDate("effectiveOn", c.EffectiveOn, today),
	); err != nil {
		// As a registration's: a department with a control character under
		// a key is refused once the key is known not to be a repeat of
		// what a release before the rule recorded.
		if c.IdempotencyKey == "" || !isUnprintable(err, "department") ||
			firstError(
				validPersonID(c.PersonID),
				validDepartment(printable("department", c.Department)),
				domain.ValidateDate("effectiveOn", c.EffectiveOn, today),
			) != nil {
			return plan{}, err
		}
		deferred = err
	}
	ev := PersonTransferred{PersonID: c.PersonID, Department: c.Department, EffectiveOn: c.EffectiveOn}
	return plan{personID: c.PersonID, key: c.IdempotencyKey, repeats: sameEvent(ev), same: ev, refused: deferred, decide: func(p *domain.Person) (decision, error) {
		if deferred != nil {
			return decision{}, deferred
		}
		if err := placementAllowed(p, c.PersonID, c.EffectiveOn); err != nil {
			return decision{}, err
		}
		return decision{event: ev}, nil
	}}, nil
}

func (c RecordDeparture) plan(r *Recorder) (plan, error) {
	today := domain.DateOf(r.now())
	if err := firstError(
		validPersonID(c.PersonID),
		domain.ValidateDate("effectiveOn", c.EffectiveOn, today),
	); err != nil {
		return plan{}, err
	}
	ev := PersonDeparted{PersonID: c.PersonID, EffectiveOn: c.EffectiveOn}
	return plan{personID: c.PersonID, key: c.IdempotencyKey, repeats: sameEvent(ev), same: ev, decide: func(p *domain.Person) (decision, error) {
		if err := placementAllowed(p, c.PersonID, c.EffectiveOn); err != nil {
			return decision{}, err
		}
		return decision{event: ev}, nil
	}}, nil
}

func (c RecordAccomplishment) plan(r *Recorder) (plan, error) {
	if err := validPersonID(c.PersonID); err != nil {
		return plan{}, err
	}
	if c.Accomplishment.Kind() == "" {
		return plan{}, domain.Invalid("accomplishment", "must be one of engagement, technology succession, subordinate development or theme assessment")
	}
	id := accomplishmentID(c.PersonID, c.IdempotencyKey)
	a := withID(c.Accomplishment, id)
	today := domain.DateOf(r.now())
	var deferred error
	if err := firstError(r.cat.ValidateAccomplishment(a, today), notSelf(a, c.PersonID)); err != nil {
		// A title with a control character under a key is refused only
		// once the key is known not to be a repeat: a release before the
		// rule recorded such titles, and the retry of one is answered as
		// the repeat it is (as a retraction's over-long reason is).
		if c.IdempotencyKey == "" || !isUnprintable(err, "title") ||
			firstError(r.cat.ValidateAccomplishment(printableTitle(a), today), notSelf(a, c.PersonID)) != nil {
			return plan{}, err
		}
		deferred = err
	}
	ev := FromAccomplishment(a)
	return plan{personID: c.PersonID, key: c.IdempotencyKey, repeats: sameEvent(ev), same: ev, refused: deferred, decide: func(p *domain.Person) (decision, error) {
		if deferred != nil {
			return decision{}, deferred
		}
		if p == nil {
			return decision{}, domain.NotFound("person %s not found", c.PersonID)
		}
		return decision{event: ev, accomplishmentID: id}, nil
	}}, nil
}

// isUnprintable reports whether err refuses field's control characters.
func isUnprintable(err error, field string) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Field == field && de.Rule == "must not contain control characters"
}

func (c AmendAccomplishment) plan(r *Recorder) (plan, error) {
	// An id whose person part breaks the id rule is bad input, as
	// GraphQL and an import line have it, not an accomplishment not found.
	if err := domain.ValidateAccomplishmentIDOf("accomplishmentId", c.AccomplishmentID); err != nil {
		return plan{}, err
	}
	personID, ok := personOf(c.AccomplishmentID)
	if !ok {
		return plan{}, domain.NotFound("accomplishment %s not found", c.AccomplishmentID)
	}
	if c.Patch == nil {
		return plan{}, errors.New("amend accomplishment: no patch")
	}
	// An amendment's values depend on what it amends: a repeat is known by
	// its kind and accomplishment only.
	repeats := func(orig Event) bool {
		v, ok := deref(orig).(AccomplishmentAmended)
		return ok && v.AccomplishmentID == c.AccomplishmentID
	}
	same := AccomplishmentAmended{AccomplishmentID: c.AccomplishmentID}
	return plan{personID: personID, key: c.IdempotencyKey, repeats: repeats, same: same, onlyBy: c.OnlyBy, changes: c.AccomplishmentID, decide: func(p *domain.Person) (decision, error) {
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
		// A development recorded of the person themself before the rule can
		// still be amended, as long as the amendment keeps its subordinate.
		self := notSelf(next, personID)
		if self != nil && notSelf(cur, personID) != nil {
			self = nil
		}
		if err := firstError(r.cat.ValidateAccomplishment(keptTitle(cur, next), domain.DateOf(r.now())), self); err != nil {
			return decision{}, err
		}
		// An amendment to the values the accomplishment holds already would
		// add an event that changes nothing to a log kept forever (and
		// move its amendedAt).
		ev := amendmentOf(next)
		was := cloneAccomplishment(cur)
		setID(&was, c.AccomplishmentID)
		if reflect.DeepEqual(asCompared(ev), asCompared(amendmentOf(was))) {
			return decision{}, domain.Invalid("input", "changes nothing: every value given is the one accomplishment "+c.AccomplishmentID+" holds already")
		}
		return decision{event: ev, accomplishmentID: c.AccomplishmentID}, nil
	}}, nil
}

func (c RetractAccomplishment) plan(*Recorder) (plan, error) {
	// An id whose person part breaks the id rule is bad input, as
	// GraphQL and an import line have it, not an accomplishment not found.
	if err := domain.ValidateAccomplishmentIDOf("accomplishmentId", c.AccomplishmentID); err != nil {
		return plan{}, err
	}
	personID, ok := personOf(c.AccomplishmentID)
	if !ok {
		return plan{}, domain.NotFound("accomplishment %s not found", c.AccomplishmentID)
	}
	// A reason over MaxReasonLength, or with a control character, under a
	// key is refused only once the key is known not to be a repeat: a
	// release before those rules recorded such reasons, and the retry of
	// one is answered as the repeat it is. Under a key first used for
	// another request it is the answer, not the key's reuse, as a title's
	// is.
	deferred := domain.ValidateReason(c.Reason)
	if deferred != nil && (c.IdempotencyKey == "" || !utf8.ValidString(c.Reason) ||
		domain.ValidateReason(firstRunes(printable("reason", c.Reason), domain.MaxReasonLength)) != nil) {
		return plan{}, deferred
	}
	ev := AccomplishmentRetracted{AccomplishmentID: c.AccomplishmentID, Reason: c.Reason}
	return plan{personID: personID, key: c.IdempotencyKey, repeats: sameEvent(ev), same: ev, refused: deferred, onlyBy: c.OnlyBy, changes: c.AccomplishmentID, decide: func(p *domain.Person) (decision, error) {
		if deferred != nil {
			return decision{}, deferred
		}
		if p == nil {
			return decision{}, domain.NotFound("accomplishment %s not found", c.AccomplishmentID)
		}
		if _, err := p.Accomplishment(c.AccomplishmentID); err != nil {
			return decision{}, err
		}
		return decision{event: ev, accomplishmentID: c.AccomplishmentID}, nil
	}}, nil
}

// firstRunes is s cut to its first n characters.
func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// msgID is the Nats-Msg-Id of a command's event: the person and the key
// ("" without a key).
func msgID(personID, key string) string {
	if key == "" {
		return ""
	}
	return personID + ":" + key
}

// repeat answers a command whose key was used before, by the key's first
// event: with that event's result if the command repeats it, and
// errKeyReused otherwise. It tells which by the fingerprints of the event
// and of what the command records when both have one, and otherwise by
// reading the event at first.res.Position from the log.
func (r *Recorder) repeat(ctx context.Context, p plan, first keyed) (Result, error) {
	if first.print != (fingerprint{}) && first.res.PersonID == p.personID && p.same != nil {
		if print, ok := printOf(p.same); ok {
			if print != first.print {
				return Result{}, p.another()
			}
			res := first.res
			res.Duplicate = true
			return res, nil
		}
	}
	r.originReads.Add(1)
	orig, err := r.log.At(ctx, first.res.Position)
	if err != nil {
		return Result{}, fmt.Errorf("recover the original of a repeated request: %w", err)
	}
	if orig.PersonID != p.personID || (p.repeats != nil && !p.repeats(orig.Event)) {
		return Result{}, p.another()
	}
	return resultOf(orig, true), nil
}

// run is the command loop: decide against what the Recorder knows of the
// person, append expecting the last position it knows, and on a lost race
// catch the person up from the log and decide again. A repeated idempotency
// key is answered from the person's own events (the dedupe window is short
// and not the only memory: the log remembers every key), told a repeat by
// fingerprint when the Recorder remembers the key (see repeat).
func (r *Recorder) run(ctx context.Context, p plan) (Result, error) {
	e := r.cache.entry(p.personID)
	if err := e.acquire(ctx); err != nil {
		return Result{}, notSent(err)
	}
	folding := false // a goroutine folds the appended event and releases e
	defer func() {
		if !folding {
			e.release()
		}
	}()
	fresh := false // e was read from the log during this command
	if !e.known {
		if p.register {
			e.forget()     // nothing of an unknown entry is trusted
			e.known = true // assume a new person: the append expects 0
		} else {
			if err := r.refresh(ctx, e); err != nil {
				return Result{}, notSent(err)
			}
			fresh = true
		}
	}
	id := msgID(p.personID, p.key)
	for conflicts := 0; ; {
		if p.key != "" {
			if res, ok := e.keys[p.key]; ok {
				return r.repeat(ctx, p, res)
			}
		}
		d, err := p.decideFor(e)
		if err != nil {
			if fresh && !e.fromHistory {
				return Result{}, err
			}
			// Decided from memory, or from the History: a refusal must
			// hold against the log.
			e.distrust()
			if err := r.refresh(ctx, e); err != nil {
				return Result{}, notSent(err)
			}
			fresh = true
			continue
		}
		at := r.now().Truncate(time.Microsecond) // knowledge time as the log keeps it
		pos, dup, err := r.log.Append(ctx, p.personID, e.last, id, d.event, at, p.key)
		switch {
		case err == nil && !dup:
			res := Result{Position: pos, PersonID: p.personID, AccomplishmentID: d.accomplishmentID}
			// The event is in the log: the caller has its answer now, and
			// the entry takes the event in on another core, holding the
			// person's lock until it has, so that the next command for the
			// person decides on it. Folding took about a quarter of a
			// command's own work, all of it after the append returned.
			rec := Recorded{Position: pos, PersonID: p.personID, RecordedAt: at.UTC(), IdempotencyKey: p.key, RecordedBy: ActorFrom(ctx), Event: d.event}
			folding = true
			go func() {
				defer e.release()
				defer func() {
					// The event is in the log and its caller answered: a
					// fold that fails leaves the person to be read from
					// the log by their next command, not careerd down.
					if recover() != nil {
						e.forget()
					}
				}()
				e.apply(rec, res)
			}()
			return res, nil
		case err == nil:
			// Appended by an earlier try within the dedupe window, after
			// what this Recorder knew: catch up to find it.
			if err := r.refresh(ctx, e); err != nil {
				return Result{}, fmt.Errorf("recover the original of a repeated request: %w", err)
			}
			if res, ok := e.keys[p.key]; ok {
				return r.repeat(ctx, p, res)
			}
			return r.repeat(ctx, p, keyed{res: Result{Position: pos}})
		case !errors.Is(err, ErrConflict):
			return Result{}, err
		}
		r.conflicts.Add(1)
		if conflicts++; conflicts >= maxAttempts {
			return Result{}, fmt.Errorf("gave up after %d lost races: %w", maxAttempts, err)
		}
		if conflicts > 1 {
			if err := sleepCtx(ctx, backoff(conflicts-2)); err != nil {
				return Result{}, notSent(err)
			}
		}
		// Every append so far lost its race: nothing is recorded yet.
		e.distrust()
		if err := r.refresh(ctx, e); err != nil {
			return Result{}, notSent(err)
		}
		fresh = true
	}
}

// ErrNothingSent marks the error of a command that failed before it sent
// anything to the log (its wait for the person, or its read of the log,
// ended): nothing was recorded, whatever the error underneath (a deadline,
// for one) would otherwise leave open. Test it with errors.Is.
var ErrNothingSent = errors.New("nothing was sent to the log")

func notSent(err error) error { return fmt.Errorf("%w: %w", ErrNothingSent, err) }

// refresh catches an entry up with the log: it reads the person's events
// after the last one it knows (all of them for an unknown entry), which
// costs one round trip when nothing is new. The log is append-only, so a
// known prefix never changes.
func (r *Recorder) refresh(ctx context.Context, e *personEntry) error {
	start := e.last + 1
	var held uint64 // events folded from the History
	if !e.known {
		logOnly := e.logOnly
		e.forget()
		start = 1
		if r.History != nil && !logOnly {
			start, held = r.fromHistory(ctx, e)
		}
	}
	subj := r.log.Subject(e.id)
	more, err := r.log.fetchRange(ctx, subj, start, -1)
	if err != nil {
		return fmt.Errorf("load %s: %w", subj, err)
	}
	for _, rec := range more {
		e.apply(rec, resultOf(rec, false))
	}
	if e.fromHistory && !e.known {
		// Read with the History just now: the log must hold as many of
		// the person's events as were folded, or the History lost or
		// gained some (or the person was written meanwhile), and the log
		// alone is read.
		n, err := r.log.subjectCount(ctx, subj)
		if err != nil {
			return fmt.Errorf("load %s: %w", subj, err)
		}
		if n != held+uint64(len(more)) {
			e.forget()
			e.logOnly = true
			return r.refresh(ctx, e)
		}
	}
	e.known, e.logOnly = true, false
	return nil
}

// History is where a Recorder reads the people it does not know yet, when
// it has one: a read model that keeps the log's events by person (the
// projector's, which writes them with its checkpoint). Reading a person
// from the log alone costs the server a walk over every event recorded
// between theirs, which an interleaved log of many people makes long; the
// History answers with an indexed read, and the log is read only after
// upTo. The log stays the record: what the History gives must be the log's
// own events, and a person read with it is read again from the log alone
// when the log's count of their events differs, an append conflicts or a
// command is refused.
type History interface {
	// PersonHistory returns the person's events with positions up to
	// upTo, in log order, where upTo is a position up to which the source
	// holds every event of the log.
	PersonHistory(ctx context.Context, personID string) (rs []Recorded, upTo uint64, err error)
}

// historyWait bounds a History read: a read model that is slow to answer
// is not waited for (the log is read instead), and historyPause is how
// long the Recorder then reads the log alone before trying it again.
const (
	historyWait  = 500 * time.Millisecond
	historyPause = 5 * time.Second
)

// fromHistory folds what the History holds of an unknown entry's person
// and returns the position to read the log from (after the History's
// upTo) and how many events it folded; it returns 1 and none when the
// History failed, is paused after a failure, or gave what cannot be the
// log's (the entry is then left unknown and empty).
func (r *Recorder) fromHistory(ctx context.Context, e *personEntry) (start, held uint64) {
	if time.Now().UnixNano() < r.historyPaused.Load() {
		return 1, 0
	}
	hctx, cancel := context.WithTimeout(ctx, historyWait)
	rs, upTo, err := r.History.PersonHistory(hctx, e.id)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			r.historyPaused.Store(time.Now().Add(historyPause).UnixNano())
		}
		return 1, 0
	}
	if upTo == 0 {
		return 1, 0
	}
	var last uint64
	for _, rec := range rs {
		if rec.PersonID != e.id || rec.Position <= last || rec.Position > upTo || rec.Event == nil {
			return 1, 0
		}
		last = rec.Position
	}
	for _, rec := range rs {
		e.apply(rec, resultOf(rec, false))
	}
	e.fromHistory = true
	r.historyReads.Add(1)
	return upTo + 1, uint64(len(rs))
}

// accomplishmentID assigns the id of a new accomplishment: derived from the
// idempotency key when there is one, so that a repeat names the same
// accomplishment, random otherwise.
func accomplishmentID(personID, key string) string {
	var t token
	if key != "" {
		t = derived("accomplishment:", key)
	} else {
		t = randomToken()
	}
	return personID + "." + string(t[:])
}

// resultOf is the Result of an event already in the log.
func resultOf(rec Recorded, duplicate bool) Result {
	return Result{Position: rec.Position, PersonID: rec.PersonID, AccomplishmentID: accomplishmentIDOf(rec.Event), Duplicate: duplicate}
}

// accomplishmentIDOf returns the accomplishment an event records, amends or
// retracts; "" for other events.
func accomplishmentIDOf(e Event) string {
	switch v := deref(e).(type) {
	case EngagementRecorded:
		return v.AccomplishmentID
	case TechnologySuccessionRecorded:
		return v.AccomplishmentID
	case SubordinateDevelopmentRecorded:
		return v.AccomplishmentID
	case ThemeAssessed:
		return v.AccomplishmentID
	case AccomplishmentAmended:
		return v.AccomplishmentID
	case AccomplishmentRetracted:
		return v.AccomplishmentID
	}
	return ""
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

// notSelf refuses a subordinate development whose subordinate is the
// person themself: it would meet the levels-4/5 criterion with no one
// developed. A subordinate the log does not know is accepted (levels.md:
// "optionally who was developed"; experience from elsewhere counts).
func notSelf(a domain.Accomplishment, personID string) error {
	if d := a.Development; d != nil && d.SubordinateID == personID {
		return domain.Invalid("subordinateId", "must name someone other than the person developing them ("+personID+")")
	}
	return nil
}

func placementAllowed(p *domain.Person, personID string, effectiveOn domain.Date) error {
	if p == nil {
		return domain.NotFound("person %s not found", personID)
	}
	return domain.ValidatePlacementDate(effectiveOn, p.JoinedOn)
}

func validPersonID(id string) error {
	if !personIDOK(id) {
		return domain.Invalid("personId", domain.PersonIDRule)
	}
	return nil
}

// personIDOK is domain.ValidatePersonID without the regular expression (it
// runs on every command): 1-64 characters of A-Z a-z 0-9 _ -.
func personIDOK(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// validName and validDepartment are the rule book's text rules: not
// blank, valid UTF-8, at most 200 (a name) or 100 (a department)
// characters.
func validName(name string) error { return domain.ValidateName(name) }

func validDepartment(dept string) error { return domain.ValidateDepartment(dept) }

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
	if !ok || len(token) != tokenLen || !personIDOK(personID) {
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

// token is a token's characters. Built on the stack and joined to the id
// it is part of, it costs the id's one allocation (this runs on every
// accomplishment recorded).
type token [tokenLen]byte

func randomToken() token {
	var b [7]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return encodeToken(b[:])
}

// derived is the token derived from prefix+seed.
func derived(prefix, seed string) token {
	var buf [128]byte
	sum := sha256.Sum256(append(append(buf[:0], prefix...), seed...))
	return encodeToken(sum[:7])
}

func derivedToken(seed string) string {
	t := derived("", seed)
	return string(t[:])
}

// encodeToken is the token of 7 bytes: the first tokenLen of their base32.
func encodeToken(b []byte) token {
	var enc [12]byte // base32 of 7 bytes: 56 bits in 12 characters
	tokenEncoding.Encode(enc[:], b[:7])
	return token(enc[:tokenLen])
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

// withID is a with the given id, the caller's value unchanged, as
// cloneAccomplishment then setID would give it, but copying only the
// struct that holds the id: its numbers and lists are shared with the
// caller's, which a plan only reads (validates, and copies into its event
// with FromAccomplishment).
func withID(a domain.Accomplishment, id string) domain.Accomplishment {
	switch {
	case a.Engagement != nil:
		g := *a.Engagement
		g.ID = id
		return domain.Accomplishment{Engagement: &g}
	case a.Succession != nil:
		s := *a.Succession
		s.ID = id
		return domain.Accomplishment{Succession: &s}
	case a.Development != nil:
		d := *a.Development
		d.ID = id
		return domain.Accomplishment{Development: &d}
	case a.Assessment != nil:
		t := *a.Assessment
		t.ID = id
		return domain.Accomplishment{Assessment: &t}
	}
	return a
}

// keptTitle is next as an amendment's validation sees it: a title the
// amendment keeps as cur holds it, with a control character a release
// before the rule recorded, stands in as printable, so that the rest can
// be amended (the title is refused only when it is changed).
func keptTitle(cur, next domain.Accomplishment) domain.Accomplishment {
	was, is := titleOf(cur), titleOf(next)
	if was == nil || is == nil || *was != *is {
		return next
	}
	return printableTitle(next)
}

// titleOf points at the title of an engagement or a succession item; nil
// for the kinds without one.
func titleOf(a domain.Accomplishment) *string {
	switch {
	case a.Engagement != nil:
		return &a.Engagement.Title
	case a.Succession != nil:
		return &a.Succession.Title
	}
	return nil
}

// printableTitle is a with each control character of its title (an
// engagement's or a succession item's) replaced by a printable one, for
// validating the rest; a itself when there is none.
func printableTitle(a domain.Accomplishment) domain.Accomplishment {
	if t := titleOf(a); t == nil || domain.ValidatePrintable("title", *t, false) == nil {
		return a
	}
	out := cloneAccomplishment(a)
	*titleOf(out) = printable("title", *titleOf(a))
	return out
}

// printable is s, field's text, with each control character replaced by a
// printable one, for validating the rest of it (a reason's line breaks and
// tabs are its own, as domain.ValidateReason has them).
func printable(field, s string) string {
	return strings.Map(func(r rune) rune {
		if domain.ValidatePrintable(field, string(r), field == "reason") != nil {
			return '?' // printable, and never blank
		}
		return r
	}, s)
}
