package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// TestOnlyPlausibleTokensCauseAJWKSFetch: a token with an unknown kid
// makes the JWKS be fetched again only when every check that needs no
// key passes; the issuer is checked first even with one issuer, and a
// token of an issuer nobody configured is told so.
func TestOnlyPlausibleTokensCauseAJWKSFetch(t *testing.T) {
	const otherBase = "https://fhir.example.org/other"
	expired := func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Hour).Unix() }
	tests := []struct {
		name   string
		claims func(jwt.MapClaims)
		hdr    map[string]any
		method jwt.SigningMethod
		target string // through Handler when set, else Verify
		fetch  bool
		desc   string
	}{
		{name: "plausible", fetch: true, desc: "token signature not verified"},
		{name: "untrusted issuer", claims: func(c jwt.MapClaims) { c["iss"] = "https://evil.example.org" }, desc: "untrusted issuer"},
		{name: "no issuer", claims: func(c jwt.MapClaims) { delete(c, "iss") }, desc: "token has no issuer (iss)"},
		{name: "expired", claims: expired, desc: "token expired"},
		{name: "another audience", claims: func(c jwt.MapClaims) { c["aud"] = "https://elsewhere.example.org/fhir" }, desc: "token not issued for this server"},
		{name: "no audience", claims: func(c jwt.MapClaims) { delete(c, "aud") }, desc: "token has no audience (aud)"},
		{name: "bad launch context", claims: func(c jwt.MapClaims) { c["patient"] = "a/b" }, desc: "patient is not an id, Patient/[id] or its URL here"},
		{name: "id token typ", hdr: map[string]any{"typ": "id_token+jwt"}, desc: "not an access token"},
		{name: "algorithm not allowed", method: jwt.SigningMethodRS512},
		{name: "this issuer's other base", claims: func(c jwt.MapClaims) { c["aud"] = otherBase }, target: "/r4/Observation?patient=123", desc: "token not issued for this server"},
		{name: "on its own base", target: "/r4/Observation?patient=123", fetch: true, desc: "token signature not verified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
			m := newFromAS(t, as, func(c *smartmw.Config) {
				c.Issuer.Audiences = []string{otherBase}
				c.Tokens.Algorithms = []string{"RS256", "PS256"}
			})
			claims := goodClaims(as)
			if tc.claims != nil {
				tc.claims(claims)
			}
			hdr := map[string]any{"kid": "unknown"}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			method := tc.method
			if method == nil {
				method = jwt.SigningMethodRS256
			}
			tok := forge(t, method, otherRSAKey(), claims, hdr)
			before := as.jwksHits.Load()
			var err error
			if tc.target != "" {
				req := httptest.NewRequest(http.MethodGet, tc.target, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				_, _, err = m.Authenticate(httptest.NewRecorder(), req)
			} else {
				_, err = m.Verify(context.Background(), tok)
			}
			var e *smartmw.Error
			if !errors.As(err, &e) || !errors.Is(err, smartmw.ErrInvalidToken) {
				t.Fatalf("err = %v, want invalid_token", err)
			}
			if tc.desc != "" && e.Description != tc.desc {
				t.Errorf("description %q, want %q", e.Description, tc.desc)
			}
			if got := as.jwksHits.Load() - before; (got > 0) != tc.fetch {
				t.Errorf("JWKS fetched %d times, want a fetch: %v", got, tc.fetch)
			}
		})
	}
}

// TestForgedKIDFloodThenRotation: forged tokens with random kids (valid
// claims, a key of the attacker's) keep arriving before and after a real
// key rotation; the new key's tokens are accepted within
// UnknownKIDInterval of the rotation, and the JWKS is fetched at most once
// per interval.
func TestForgedKIDFloodThenRotation(t *testing.T) {
	const interval = 300 * time.Millisecond
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
	m := newFromAS(t, as, func(c *smartmw.Config) { c.Keys.UnknownKIDInterval = interval; c.Cache.Disable = true })
	ctx := context.Background()
	forged := func(i int) string {
		return asToken(t, as, jwt.SigningMethodRS256, otherRSAKey(), map[string]any{"kid": fmt.Sprintf("forged-%d", i)})
	}
	start := time.Now()
	before := as.jwksHits.Load()
	for i := range 50 {
		if _, err := m.Verify(ctx, forged(i)); !errors.Is(err, smartmw.ErrInvalidToken) {
			t.Fatalf("forged token: %v", err)
		}
	}
	// The real rotation, just after the flood spent the fetch.
	rotated := time.Now()
	as.setKeys(jwk(rsaKey(), "k1", nil), jwk(otherRSAKey(), "k2", nil))
	atRotation := as.jwksHits.Load()
	real := asToken(t, as, jwt.SigningMethodRS256, otherRSAKey(), map[string]any{"kid": "k2"})
	for i := 50; ; i++ {
		m.Verify(ctx, forged(i)) // the flood goes on
		if _, err := m.Verify(ctx, real); err == nil {
			break
		}
		if time.Since(rotated) > 20*interval {
			t.Fatalf("the new key's token still refused %v after the rotation", time.Since(rotated))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The flood never holds the new key back: the first fetch the rate
	// limit allows after the rotation (a second one, should one have been
	// under way when the keys changed) brings it, whatever the machine's
	// load does to the clock.
	if hits := as.jwksHits.Load() - atRotation; hits > 2 {
		t.Errorf("new key accepted after %d JWKS fetches since the rotation, want at most 2", hits)
	}
	elapsed := time.Since(start)
	if hits, most := as.jwksHits.Load()-before, int32(elapsed/interval)+1; hits > most {
		t.Errorf("JWKS fetched %d times in %v, want at most %d", hits, elapsed, most)
	}
}

func TestDefaultUnknownKIDIntervalIsShort(t *testing.T) {
	cfg, err := smartmw.Config{Issuer: smartmw.Issuer{
		URL:      "https://auth.example.org/realms/fhir",
		Audience: testAudience,
		Keyfunc:  noKeys,
	}}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Keys.UnknownKIDInterval <= 0 || cfg.Keys.UnknownKIDInterval > 30*time.Second {
		t.Errorf("default UnknownKIDInterval %v, want tens of seconds at most", cfg.Keys.UnknownKIDInterval)
	}
}
