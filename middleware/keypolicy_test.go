package middleware_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// TestKeyWithoutAlgVerifiesOneAlgorithm: an RSA JWK without "alg" is
// bound to the first RSA algorithm of Config.Tokens.Algorithms (RS256 by
// default), so it never verifies RS256, PS256 and RS512 tokens alike (RFC
// 8725 §3.1), with or without a kid in the token.
func TestKeyWithoutAlgVerifiesOneAlgorithm(t *testing.T) {
	tests := []struct {
		name   string
		algs   []string
		extra  map[string]any
		method jwt.SigningMethod
		ok     bool
	}{
		{"default list: RS256", nil, nil, jwt.SigningMethodRS256, true},
		{"default list: not PS256", nil, nil, jwt.SigningMethodPS256, false},
		{"default list: not RS512", nil, nil, jwt.SigningMethodRS512, false},
		{"PS256 first: PS256", []string{"PS256", "RS256"}, nil, jwt.SigningMethodPS256, true},
		{"PS256 first: not RS256", []string{"PS256", "RS256"}, nil, jwt.SigningMethodRS256, false},
		{"alg on the key wins", nil, map[string]any{"alg": "RS512"}, jwt.SigningMethodRS512, true},
		{"alg on the key: only it", nil, map[string]any{"alg": "RS512"}, jwt.SigningMethodRS256, false},
	}
	for _, tc := range tests {
		for _, kid := range []any{"k1", nil} {
			name := tc.name
			if kid == nil {
				name += ", no kid"
			}
			t.Run(name, func(t *testing.T) {
				as := newFakeAS(t, jwk(rsaKey(), "k1", tc.extra))
				m := newFromAS(t, as, func(c *smartmw.Config) { c.Tokens.Algorithms = tc.algs })
				tok := asToken(t, as, tc.method, rsaKey(), map[string]any{"kid": kid})
				_, err := m.Verify(context.Background(), tok)
				if (err == nil) != tc.ok {
					t.Fatalf("Verify: %v, want ok %v", err, tc.ok)
				}
				if err != nil {
					wantInvalid(t, m, tok)
				}
			})
		}
	}
}

// TestJWKSCacheControlHonoured: a JWKS answered with Cache-Control
// max-age is not fetched again before it ends, however short
// RefreshInterval is; without it, RefreshInterval applies.
func TestJWKSCacheControlHonoured(t *testing.T) {
	for _, tc := range []struct {
		cc   string
		many bool
	}{{"", true}, {"public, max-age=3600", false}} {
		t.Run("Cache-Control "+tc.cc, func(t *testing.T) {
			as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
			as.cacheCtl = tc.cc
			newFromAS(t, as, func(c *smartmw.Config) { c.Keys.RefreshInterval = 20 * time.Millisecond })
			time.Sleep(200 * time.Millisecond)
			if n := as.jwksHits.Load(); (n > 3) != tc.many {
				t.Errorf("%d fetches in 200 ms with RefreshInterval 20 ms", n)
			}
		})
	}
}

// TestRemovedKeyIsDropped: a key the JWKS no longer lists verifies nothing
// after the next successful fetch.
func TestRemovedKeyIsDropped(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil), jwk(otherRSAKey(), "k2", nil))
	m := newFromAS(t, as, func(c *smartmw.Config) { c.Keys.RefreshInterval = 20 * time.Millisecond; c.Cache.Disable = true })
	tok := asToken(t, as, jwt.SigningMethodRS256, otherRSAKey(), map[string]any{"kid": "k2"})
	if _, err := m.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	as.setKeys(jwk(rsaKey(), "k1", nil))
	hits := as.jwksHits.Load()
	for as.jwksHits.Load() < hits+2 {
		time.Sleep(5 * time.Millisecond)
	}
	wantInvalid(t, m, tok)
}

// TestStaleKeysAreDropped: keys are used for MaxKeyStaleness without a
// successful fetch, then dropped (503), and taken again once the JWKS
// answers.
func TestStaleKeysAreDropped(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
	m := newFromAS(t, as, func(c *smartmw.Config) {
		c.Keys.RefreshInterval = 20 * time.Millisecond
		c.Keys.MaxStaleness = 150 * time.Millisecond
		c.Keys.UnknownKIDInterval = time.Millisecond
		c.Cache.Disable = true
	})
	tok := asToken(t, as, jwt.SigningMethodRS256, rsaKey(), nil)
	as.failJWKS.Store(true)
	if _, err := m.Verify(context.Background(), tok); err != nil {
		t.Fatalf("keys dropped at once after a failed fetch: %v", err)
	}
	time.Sleep(250 * time.Millisecond)
	wantUnavailable(t, m, tok)
	if m.Ready(context.Background()) == nil {
		t.Error("Ready with stale keys only")
	}
	as.failJWKS.Store(false)
	time.Sleep(50 * time.Millisecond)
	if _, err := m.Verify(context.Background(), tok); err != nil {
		t.Fatalf("keys not taken again: %v", err)
	}
}
