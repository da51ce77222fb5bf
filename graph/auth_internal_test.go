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
