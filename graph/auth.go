package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/careerledger/careerledger/domain"
	"github.com/careerledger/careerledger/events"
)

// Roles a token may carry.
const (
	RoleAdmin    = "admin"
	RoleHR       = "hr"
	RoleManager  = "manager"
	RoleEmployee = "employee"
)

// Principal is who a request acts for, from its bearer token.
type Principal struct {
	Subject    string
	Roles      []string
	Department string // a manager's department
	Person     string // the person id the caller is
	// Expires is when the token stops being valid (set by Verify; Mint
	// ignores it and takes a ttl). A websocket connection ends then.
	Expires time.Time
}

// Has reports whether the principal holds role.
func (p Principal) Has(role string) bool { return slices.Contains(p.Roles, role) }

// Claims are the JWT claims careerledger reads and writes.
type Claims struct {
	Roles      []string `json:"roles"`
	Department string   `json:"department,omitempty"`
	Person     string   `json:"person,omitempty"`
	jwt.RegisteredClaims
}

// Tokens mints and verifies HS256 bearer tokens with one secret.
type Tokens struct {
	secret []byte
	now    func() time.Time // the clock expiry is checked against (nil: time.Now)
	// maxLifetime bounds how long a token may live (0: no bound); see
	// SetMaxLifetime.
	maxLifetime time.Duration

	// verified holds the principals of tokens verified before, until their
	// expiry: a client sends the same token with every request, and
	// checking its signature and decoding its claims again is most of
	// what authenticating costs. Only valid tokens get in (they need the
	// secret), so the map grows with the callers; past maxVerified entries
	// it starts again empty.
	mu       sync.Mutex
	verified map[string]verifiedToken
}

// verifiedToken is a token verified before: its principal and the times it
// is valid between.
type verifiedToken struct {
	p              Principal
	notBefore, exp time.Time // notBefore zero: no nbf claim
	issued         time.Time // zero: no iat claim
}

// ruleExpired is the Rule of the error of a token refused for its expiry:
// a websocket closes with the reason "token expired" then.
const ruleExpired = "expired"

// tokenExpired reports whether err refuses a token for its expiry.
func tokenExpired(err error) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Rule == ruleExpired
}

// ruleLifetime is the Rule of the error of a token refused for living
// longer than the maximum token lifetime.
const ruleLifetime = "lifetime"

// tokenTooLong reports whether err refuses a token for its lifetime.
func tokenTooLong(err error) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Rule == ruleLifetime
}

// maxVerified bounds Tokens.verified.
const maxVerified = 10_000

// NewTokens returns a token authority for secret, which must not be empty.
func NewTokens(secret string) (*Tokens, error) {
	if secret == "" {
		return nil, errors.New("auth secret is empty")
	}
	return &Tokens{secret: []byte(secret)}, nil
}

// SetMaxLifetime bounds how long a token Verify accepts may live: one whose
// exp is more than limit after now, or, when it has an iat, more than
// limit after its iat, is refused (0: no bound). A manager's department is in
// their token alone, so a token that lives for years keeps a department's
// access long after its manager left it. Set it before t verifies tokens
// on other goroutines; a token verified before is held to the new bound.
func (t *Tokens) SetMaxLifetime(limit time.Duration) { t.maxLifetime = limit }

// lifetimeError refuses a token expiring at exp, issued at iat (zero: no
// iat claim), that lives longer than t.maxLifetime at at.
func (t *Tokens) lifetimeError(at, exp, iat time.Time) error {
	limit := t.maxLifetime
	if limit <= 0 {
		return nil
	}
	const mint = ": mint one that expires sooner (careerctl token --ttl)"
	if !iat.IsZero() && exp.Sub(iat) > limit {
		return &domain.Error{Kind: domain.KindUnauthenticated, Rule: ruleLifetime,
			Message: "bearer token lives too long: issued at " + iat.UTC().Format(time.RFC3339) + " to expire at " + exp.UTC().Format(time.RFC3339) +
				", " + lifetimeString(exp.Sub(iat)) + ", more than the maximum token lifetime of " + lifetimeString(limit) + mint}
	}
	if exp.After(at.Add(limit)) {
		return &domain.Error{Kind: domain.KindUnauthenticated, Rule: ruleLifetime,
			Message: "bearer token lives too long: it expires at " + exp.UTC().Format(time.RFC3339) + ", more than the maximum token lifetime of " +
				lifetimeString(limit) + " from now (" + at.UTC().Format(time.RFC3339) + ")" + mint}
	}
	return nil
}

// lifetimeString says d without trailing zero units, and in days too when
// it is whole days: 9600h (400 days), 1h30m, 87600h0m1s.
func lifetimeString(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if day := 24 * time.Hour; d >= 2*day && d%day == 0 {
		s += fmt.Sprintf(" (%d days)", d/day)
	}
	return s
}

// Mint returns a signed token for p valid for ttl.
func (t *Tokens) Mint(p Principal, ttl time.Duration, now time.Time) (string, error) {
	for _, r := range p.Roles {
		if !validRole(r) {
			return "", fmt.Errorf("unknown role %q (admin, hr, manager, employee)", r)
		}
	}
	if p.Has(RoleManager) && p.Department == "" {
		return "", errors.New("a manager token needs a department")
	}
	if p.Has(RoleEmployee) && p.Person == "" {
		return "", errors.New("an employee token needs a person")
	}
	if p.Person != "" && domain.ValidatePersonID(p.Person) != nil {
		return "", fmt.Errorf("person %q is no person id: it %s", p.Person, domain.PersonIDRule)
	}
	c := Claims{
		Roles: p.Roles, Department: p.Department, Person: p.Person,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   p.Subject,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
}

// Verify checks a token's signature, algorithm, expiry and lifetime (see
// SetMaxLifetime) and returns its principal.
func (t *Tokens) Verify(token string) (Principal, error) {
	now := time.Now
	if t.now != nil {
		now = t.now
	}
	at := now()
	t.mu.Lock()
	v, ok := t.verified[token]
	t.mu.Unlock()
	if ok && at.Before(v.exp) && !at.Before(v.notBefore) {
		// Checked again: "from now" moves with the clock, which may have
		// gone back, and the bound may be another than when it was
		// verified.
		if err := t.lifetimeError(at, v.exp, v.issued); err != nil {
			return Principal{}, err
		}
		p := v.p
		p.Roles = slices.Clone(p.Roles) // the caller's own, as a decoded one is
		return p, nil
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return at }))
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) && c.ExpiresAt != nil && !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			return Principal{}, &domain.Error{Kind: domain.KindUnauthenticated, Rule: ruleExpired,
				Message: "bearer token expired at " + c.ExpiresAt.UTC().Format(time.RFC3339) + ": mint a new one (careerctl token)"}
		}
		return Principal{}, &domain.Error{Kind: domain.KindUnauthenticated, Message: "invalid bearer token: " + err.Error()}
	}
	var issued time.Time
	if c.IssuedAt != nil {
		issued = c.IssuedAt.Time
	}
	if err := t.lifetimeError(at, c.ExpiresAt.Time, issued); err != nil {
		return Principal{}, err
	}
	if events.Actor(c.Subject) == "" {
		// Every event says who recorded it, and an employee changes only
		// what they recorded: a token must say who the caller is.
		return Principal{}, &domain.Error{Kind: domain.KindUnauthenticated, Message: "invalid bearer token: no sub (who the caller is)"}
	}
	p := Principal{Subject: c.Subject, Roles: c.Roles, Department: c.Department, Person: c.Person}
	if c.ExpiresAt != nil {
		p.Expires = c.ExpiresAt.Time
	}
	for _, r := range p.Roles {
		if !validRole(r) {
			return Principal{}, &domain.Error{Kind: domain.KindUnauthenticated, Message: "invalid bearer token: unknown role " + r}
		}
	}
	// What Mint refuses to sign, a token signed elsewhere may still say:
	// its roles would then be refused later in words that mislead ("needs
	// the manager role" to a manager).
	switch {
	case p.Has(RoleManager) && p.Department == "":
		return Principal{}, &domain.Error{Kind: domain.KindUnauthenticated, Message: "invalid bearer token: a manager token needs a department"}
	case p.Has(RoleEmployee) && p.Person == "":
		return Principal{}, &domain.Error{Kind: domain.KindUnauthenticated, Message: "invalid bearer token: an employee token needs a person"}
	case !storableClaim(p.Department) || !storableClaim(p.Person):
		return Principal{}, &domain.Error{Kind: domain.KindUnauthenticated, Message: "invalid bearer token: its department or person is not valid UTF-8 text without NUL"}
	case p.Person != "" && domain.ValidatePersonID(p.Person) != nil:
		// No one has such an id: every read and write of their own would
		// be refused as bad input, and levelChanged follow no one.
		return Principal{}, &domain.Error{Kind: domain.KindUnauthenticated, Message: "invalid bearer token: its person is no person id (it " + domain.PersonIDRule + ")"}
	}
	v = verifiedToken{p: p, exp: p.Expires, issued: issued}
	v.p.Roles = slices.Clone(p.Roles) // the cache's own
	if c.NotBefore != nil {
		v.notBefore = c.NotBefore.Time
	}
	t.mu.Lock()
	if t.verified == nil || len(t.verified) >= maxVerified {
		t.verified = map[string]verifiedToken{}
	}
	t.verified[token] = v
	t.mu.Unlock()
	return p, nil
}

func validRole(r string) bool {
	return r == RoleAdmin || r == RoleHR || r == RoleManager || r == RoleEmployee
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	// Whatever the request records is recorded by the token's subject.
	return context.WithValue(events.WithActor(ctx, p.Subject), principalKey{}, p)
}

// PrincipalFrom returns the principal of ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// Authenticate rejects requests without a valid bearer token with 401. A
// websocket upgrade may also come without the header (a browser cannot set
// one) and authenticate in its connection_init payload instead; with the
// header, it is checked here like any request's. A handshake is a GET
// without a body: a request with the Upgrade header and a body (a chunked
// one is read into memory after this, up to the body limit) needs a token
// like any other.
func (t *Tokens) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && r.Header.Get("Authorization") == "" &&
			r.Method == http.MethodGet && r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			closeUnread(w, r)
			w.Header().Set("WWW-Authenticate", `Bearer realm="careerledger"`)
			httpError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "missing bearer token")
			return
		}
		p, err := t.Verify(token)
		if err != nil {
			closeUnread(w, r)
			w.Header().Set("WWW-Authenticate", `Bearer realm="careerledger", error="invalid_token"`)
			msg := "invalid bearer token"
			if tokenExpired(err) || tokenTooLong(err) {
				// Said as Verify says it: when, and what to do.
				msg = err.Error()
			}
			httpError(w, http.StatusUnauthorized, "UNAUTHENTICATED", msg)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// closeUnread makes the answer to a request refused before its body is
// read close the connection: otherwise the server reads on the body it
// will not use (to reuse the connection) before it answers, as long as
// the client takes to send it, up to the body read timeout.
func closeUnread(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		w.Header().Set("Connection", "close")
	}
}

// storableClaim reports whether a claim is text the read models can hold
// and compare (a department or a person id is looked up by it).
func storableClaim(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
