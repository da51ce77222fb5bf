package graph

import (
	"encoding/json"
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
