package graph

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifiedTokensAreRememberedUntilTheyExpire: a token verified once is
// answered from memory, but never past its expiry or before its nbf, never
// for another token (a changed signature), and the memory stays bounded.
func TestVerifiedTokensAreRememberedUntilTheyExpire(t *testing.T) {
	clock := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	tk, err := NewTokens("secret")
	if err != nil {
		t.Fatal(err)
	}
	tk.now = func() time.Time { return clock }
	tok, err := tk.Mint(Principal{Subject: "kato", Roles: []string{RoleHR}}, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tk.Verify(tok)
	if err != nil || p.Subject != "kato" {
		t.Fatalf("verify: %+v %v", p, err)
	}
	if _, ok := tk.verified[tok]; !ok {
		t.Fatal("a verified token is not remembered")
	}
	p.Roles[0] = RoleAdmin // a caller's change stays the caller's
	if again, err := tk.Verify(tok); err != nil || again.Subject != "kato" || again.Roles[0] != RoleHR {
		t.Errorf("verify again: %+v %v", again, err)
	}

	// Another signature on the same claims is another token.
	forged := tok[:strings.LastIndex(tok, ".")+1] + "AAAA" + tok[strings.LastIndex(tok, ".")+5:]
	if _, err := tk.Verify(forged); err == nil {
		t.Error("a token with a changed signature was accepted")
	}

	clock = clock.Add(time.Hour)
	if _, err := tk.Verify(tok); !tokenExpired(err) || !strings.Contains(err.Error(), "expired at 2026-11-27T10:00:00Z: mint a new one") {
		t.Errorf("at its expiry: %v, want it refused as expired, saying when and what to do", err)
	}

	// nbf: refused before, accepted from it on, and refused again when
	// the clock is before it.
	nbf := clock.Add(time.Minute)
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Roles: []string{RoleHR}, RegisteredClaims: jwt.RegisteredClaims{
		Subject: "later", NotBefore: jwt.NewNumericDate(nbf), ExpiresAt: jwt.NewNumericDate(nbf.Add(time.Hour))}}).SignedString(tk.secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Verify(signed); err == nil {
		t.Error("a token before its nbf was accepted")
	}
	clock = nbf
	if _, err := tk.Verify(signed); err != nil {
		t.Errorf("at its nbf: %v", err)
	}
	clock = nbf.Add(-time.Second)
	if _, err := tk.Verify(signed); err == nil {
		t.Error("a remembered token before its nbf was accepted")
	}

	clock = nbf
	for i := range maxVerified + 10 {
		tok, err := tk.Mint(Principal{Subject: "s" + strings.Repeat("x", i%7) + string(rune('a'+i%26)), Roles: []string{RoleHR}}, time.Duration(i+1)*time.Second+time.Hour, clock)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tk.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(tk.verified); n > maxVerified {
		t.Errorf("%d tokens remembered, more than %d", n, maxVerified)
	}
}

// TestAnExpiredTokenIsRefusedSayingSo: over HTTP, an expired token is
// refused (401) with when it expired and what to do; any other bad token
// as invalid, no more.
func TestAnExpiredTokenIsRefusedSayingSo(t *testing.T) {
	tk, err := NewTokens("secret")
	if err != nil {
		t.Fatal(err)
	}
	expired, err := tk.Mint(Principal{Subject: "kato", Roles: []string{RoleHR}}, time.Hour, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	h := tk.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { t.Error("a refused token reached the handler") }))
	for token, want := range map[string]string{
		expired: "mint a new one (careerctl token)",
		"nope":  `"message":"invalid bearer token"`,
	} {
		req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), want) || !json.Valid(rec.Body.Bytes()) {
			t.Errorf("token %.10s...: %d %s, want 401 saying %s", token, rec.Code, rec.Body, want)
		}
	}
}

// TestHTTPErrorsAreLabelledAsWhatTheyAre: an error answered before GraphQL
// runs (401, 413, 400), and every refusal of the bulk endpoints (403, 400,
// 413, 501), carries a GraphQL-shaped JSON body with its code and says
// Content-Type application/json. A 401 said text/plain over its JSON; the
// bulk endpoints' refusals were plain text, and an import over its byte
// bound was a 400.
func TestHTTPErrorsAreLabelledAsWhatTheyAre(t *testing.T) {
	tk, err := NewTokens("secret")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	expired, _ := tk.Mint(Principal{Subject: "kato", Roles: []string{RoleHR}}, time.Hour, now.Add(-2*time.Hour))
	employee, _ := tk.Mint(Principal{Subject: "sato", Roles: []string{RoleEmployee}, Person: "E1"}, time.Hour, now)
	gql := tk.Authenticate(limitBody(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("a refused request reached the handler")
	}), 16))
	bulkHandler := NewBulkHandler(BulkConfig{Tokens: tk})
	admin, _ := tk.Mint(Principal{Subject: "ito", Roles: []string{RoleAdmin}}, time.Hour, now)
	lines := func(n int) io.Reader { return strings.NewReader(strings.Repeat("{}\n", n)) }
	for _, c := range []struct {
		name   string
		h      http.Handler
		method string
		path   string
		token  string
		body   io.Reader
		status int
		code   string
	}{
		{"no token", gql, http.MethodPost, "/graphql", "", nil, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"an invalid token", gql, http.MethodPost, "/graphql", "nope", nil, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"an expired token", gql, http.MethodPost, "/graphql", expired, nil, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"no token on /v1/import", bulkHandler, http.MethodPost, "/v1/import", "", nil, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"a body too large", gql, http.MethodPost, "/graphql", employee, strings.NewReader(strings.Repeat("x", 17)), http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE"},
		{"a chunked body too large", gql, http.MethodPost, "/graphql", employee, io.MultiReader(strings.NewReader(strings.Repeat("x", 17))), http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE"},
		{"an export refused", bulkHandler, http.MethodGet, "/v1/export", employee, nil, http.StatusForbidden, "FORBIDDEN"},
		{"an export after no position", bulkHandler, http.MethodGet, "/v1/export?after=x", admin, nil, http.StatusBadRequest, "BAD_USER_INPUT"},
		{"a rebuild refused", bulkHandler, http.MethodPost, "/v1/rebuild", employee, nil, http.StatusForbidden, "FORBIDDEN"},
		{"a rebuild's status refused", bulkHandler, http.MethodGet, "/v1/rebuild", employee, nil, http.StatusForbidden, "FORBIDDEN"},
		{"a rebuild where none can run", bulkHandler, http.MethodPost, "/v1/rebuild", admin, nil, http.StatusNotImplemented, "NOT_IMPLEMENTED"},
		{"an import over its lines", bulkHandler, http.MethodPost, "/v1/import", employee, lines(MaxImportLines + 1), http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE"},
		{"an import over its bytes", bulkHandler, http.MethodPost, "/v1/import", employee, io.MultiReader(lines(1), strings.NewReader(strings.Repeat("x", MaxImportBytes))), http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE"},
	} {
		req := httptest.NewRequest(c.method, c.path, c.body)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		if c.path == "/graphql" {
			// What a transport reads: a chunked body of another type is
			// left to the catch-all, unread (TestASlowBodyIsCutOff).
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, req)
		ct, body := rec.Header().Get("Content-Type"), rec.Body.Bytes()
		if rec.Code != c.status {
			t.Errorf("%s: HTTP %d %s, want %d", c.name, rec.Code, body, c.status)
			continue
		}
		var got struct {
			Errors []struct {
				Message    string
				Extensions struct{ Code string }
			}
		}
		if ct != "application/json" || json.Unmarshal(body, &got) != nil || len(got.Errors) != 1 ||
			got.Errors[0].Extensions.Code != c.code || got.Errors[0].Message == "" {
			t.Errorf("%s: Content-Type %q over %q, want application/json over one error coded %s", c.name, ct, body, c.code)
		}
	}
}

// TestTokensThatLiveTooLongAreRefused: with a maximum token lifetime, a
// token is refused (401, saying the rule and the maximum) when it expires
// more than the maximum from now, with or without an iat, or more than the
// maximum after its iat; one within it is accepted, and a remembered token
// is checked again (the clock may have gone back). Without a maximum, any
// expiry is accepted.
func TestTokensThatLiveTooLongAreRefused(t *testing.T) {
	clock := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	tk, err := NewTokens("secret")
	if err != nil {
		t.Fatal(err)
	}
	tk.now = func() time.Time { return clock }
	sign := func(iat, exp time.Time) string {
		t.Helper()
		c := Claims{Roles: []string{RoleManager}, Department: "Operations", RegisteredClaims: jwt.RegisteredClaims{
			Subject: "kato", ExpiresAt: jwt.NewNumericDate(exp)}}
		if !iat.IsZero() {
			c.IssuedAt = jwt.NewNumericDate(iat)
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(tk.secret)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	const day = 24 * time.Hour
	tenYears := sign(clock, clock.Add(3650*day))
	if _, err := tk.Verify(tenYears); err != nil {
		t.Errorf("a ten-year token without a maximum: %v, want it accepted", err)
	}

	tk = &Tokens{secret: tk.secret, now: tk.now}
	tk.SetMaxLifetime(30 * day)
	for _, c := range []struct {
		name, token string
		want        string // "" accepted
	}{
		{"minted for the maximum", mintFor(t, tk, 30*day, clock), ""},
		{"no iat, expiring within the maximum", sign(time.Time{}, clock.Add(29*day)), ""},
		{"issued long ago, expiring within the maximum of both", sign(clock.Add(-day), clock.Add(29*day)), ""},
		{"minted for longer", mintFor(t, tk, 31*day, clock),
			"bearer token lives too long: issued at 2026-11-27T09:00:00Z to expire at 2026-12-28T09:00:00Z, 744h (31 days), more than the maximum token lifetime of 720h (30 days): mint one that expires sooner (careerctl token --ttl)"},
		{"ten years", tenYears, "more than the maximum token lifetime of 720h (30 days)"},
		{"no iat, expiring past the maximum", sign(time.Time{}, clock.Add(30*day+time.Second)),
			"bearer token lives too long: it expires at 2026-12-27T09:00:01Z, more than the maximum token lifetime of 720h (30 days) from now (2026-11-27T09:00:00Z): mint one that expires sooner (careerctl token --ttl)"},
		{"issued long ago, expiring soon", sign(clock.Add(-40*day), clock.Add(time.Hour)),
			"issued at 2026-10-18T09:00:00Z to expire at 2026-11-27T10:00:00Z, 961h, more than the maximum token lifetime of 720h (30 days)"},
		{"issued in the future, expiring past the maximum from now", sign(clock.Add(5*day), clock.Add(32*day)),
			"it expires at 2026-12-29T09:00:00Z, more than the maximum token lifetime of 720h (30 days) from now"},
	} {
		p, err := tk.Verify(c.token)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want it accepted", c.name, err)
		case c.want == "" && p.Subject == "":
			t.Errorf("%s: no principal", c.name)
		case c.want != "" && (!tokenTooLong(err) || tokenExpired(err) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want it refused saying %q", c.name, err, c.want)
		}
	}

	// A token accepted and remembered is checked again: with the clock
	// gone back two days, it expires more than the maximum from now.
	within := sign(time.Time{}, clock.Add(29*day))
	if _, ok := tk.verified[within]; !ok {
		t.Fatal("an accepted token is not remembered")
	}
	clock = clock.Add(-2 * day)
	if _, err := tk.Verify(within); !tokenTooLong(err) || !strings.Contains(err.Error(), "from now (2026-11-25T09:00:00Z)") {
		t.Errorf("a remembered token, the clock gone back: %v, want it refused for its lifetime", err)
	}
	clock = clock.Add(2 * day)
	if _, err := tk.Verify(within); err != nil {
		t.Errorf("a remembered token, the clock back where it was: %v", err)
	}

	// A remembered token is held to a bound set after it was verified,
	// its iat's included.
	issuedBefore := sign(clock.Add(-day), clock.Add(29*day))
	if _, err := tk.Verify(issuedBefore); err != nil {
		t.Fatal(err)
	}
	tk.SetMaxLifetime(29*day + 12*time.Hour)
	if _, err := tk.Verify(issuedBefore); !tokenTooLong(err) || !strings.Contains(err.Error(), "720h (30 days), more than the maximum token lifetime of 708h") {
		t.Errorf("a remembered token, the bound lowered under its iat-exp span: %v, want it refused for its lifetime", err)
	}
	tk.SetMaxLifetime(30 * day)

	// Over HTTP: 401 saying the rule and the maximum, as an expired one
	// says when it expired.
	h := tk.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { t.Error("a refused token reached the handler") }))
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	req.Header.Set("Authorization", "Bearer "+tenYears)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if want := "bearer token lives too long: issued at 2026-11-27T09:00:00Z to expire at 2036-11-24T09:00:00Z, 87600h (3650 days), more than the maximum token lifetime of 720h (30 days)"; rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), want) {
		t.Errorf("over HTTP: %d %s, want 401 saying %s", rec.Code, rec.Body, want)
	}
}

// mintFor mints an hr token valid for ttl from now.
func mintFor(t *testing.T, tk *Tokens, ttl time.Duration, now time.Time) string {
	t.Helper()
	tok, err := tk.Mint(Principal{Subject: "ito", Roles: []string{RoleHR}}, ttl, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestLifetimeString: a lifetime is said without trailing zero units, and
// in days when it is whole days.
func TestLifetimeString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		9600 * time.Hour:              "9600h (400 days)",
		24 * time.Hour:                "24h",
		90 * time.Minute:              "1h30m",
		87600*time.Hour + time.Second: "87600h0m1s",
		45 * time.Second:              "45s",
	} {
		if got := lifetimeString(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}

// TestMintRefusesAPersonThatIsNoPersonId: Mint makes no token Verify would
// refuse: one whose person claim breaks the id rule, with the employee
// role or a manager's, is an error naming the rule, not a token refused at
// its first use.
func TestMintRefusesAPersonThatIsNoPersonId(t *testing.T) {
	tk, err := NewTokens("secret")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, p := range []Principal{
		{Subject: "e", Roles: []string{RoleEmployee}, Person: "a b"},
		{Subject: "e", Roles: []string{RoleEmployee}, Person: "E1.X"},
		{Subject: "e", Roles: []string{RoleEmployee}, Person: "E\x001"},
		{Subject: "e", Roles: []string{RoleEmployee}, Person: strings.Repeat("a", 65)},
		{Subject: "m", Roles: []string{RoleManager}, Department: "Operations", Person: "a b"},
		{Subject: "h", Roles: []string{RoleHR}, Person: "a b"},
	} {
		tok, err := tk.Mint(p, time.Hour, now)
		if err == nil || !strings.Contains(err.Error(), "must be 1-64 characters of A-Z a-z 0-9 _ -") {
			t.Errorf("Mint(%+v) = %q, %v: want it refused naming the id rule", p, tok, err)
		}
	}
	tok, err := tk.Mint(Principal{Subject: "e", Roles: []string{RoleEmployee}, Person: "E_1-a"}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := tk.Verify(tok); err != nil || p.Person != "E_1-a" {
		t.Errorf("a person id that keeps the rule: %+v %v", p, err)
	}
}
