package middleware

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// testIssuerURL names the issuer of the revocations below.
const testIssuerURL = "https://as.example.org"

// TestStoreRevocationsExpireWithTheToken: a revocation is kept until the
// token's expiry plus MaxLeeway, never less, and is gone from the Store
// after that; a revocation with a later expiry is not shortened by one
// with an earlier.
func TestStoreRevocationsExpireWithTheToken(t *testing.T) {
	clk := &storeClock{t: testNow}
	store := newMemoryStore(0, clk.now)
	s := NewStoreRevocations(store, StoreRevocationsOptions{Now: clk.now})
	ctx := context.Background()
	exp := testNow.Add(10 * time.Minute)
	if err := s.RevokeJTI(ctx, testIssuerURL, "late", exp.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, e := range []time.Time{exp, exp.Add(-5 * time.Minute)} { // earlier expiries: the later stays
		if err := s.RevokeJTI(ctx, testIssuerURL, "j1", e); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeJTI(ctx, testIssuerURL, "late", e); err != nil {
			t.Fatal(err)
		}
	}
	revoked := func(jti string) bool {
		ok, err := s.Revoked(ctx, TokenRef{Issuer: testIssuerURL, JTI: jti})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, step := range []struct {
		at       time.Time
		j1, late bool
	}{
		{exp, true, true},
		{exp.Add(MaxLeeway - time.Nanosecond), true, true},
		{exp.Add(MaxLeeway), false, true},
		{exp.Add(time.Hour + MaxLeeway - time.Nanosecond), false, true},
		{exp.Add(time.Hour + MaxLeeway), false, false},
	} {
		clk.mu.Lock()
		clk.t = step.at
		clk.mu.Unlock()
		if j1, late := revoked("j1"), revoked("late"); j1 != step.j1 || late != step.late {
			t.Errorf("at exp%+v: j1 revoked %v, late %v; want %v, %v", step.at.Sub(exp), j1, late, step.j1, step.late)
		}
	}
	if n := store.len(); n != 0 {
		t.Errorf("%d records left after every token expired", n)
	}
	// A token already past its expiry plus MaxLeeway is not recorded.
	if err := s.RevokeJTI(ctx, testIssuerURL, "old", clk.now().Add(-MaxLeeway)); err != nil || store.len() != 0 {
		t.Errorf("expired token: err %v, %d records", err, store.len())
	}
}

// TestStoreRevocationKeys: the Store keys are printable ASCII of at most
// 128 bytes with the "revoked:" prefix, whatever the names hold; they
// never hold the token, and an issuer and jti cannot be split otherwise to
// name another token.
func TestStoreRevocationKeys(t *testing.T) {
	long := strings.Repeat("\x00é", MaxRevocationNameLen/3)
	const token = "eyJhbGciOi.secret-token-value.sig"
	seen := map[string]string{}
	for _, ref := range []TokenRef{
		{Issuer: "https://as.example.org/ab", JTI: "c"},
		{Issuer: "https://as.example.org/a", JTI: "bc"},
		{Issuer: long, JTI: long},
		{SHA256: cacheKey(token)},
	} {
		keys := revocationKeys(ref)
		if len(keys) != 1 {
			t.Fatalf("%d keys for one name", len(keys))
		}
		k := keys[0]
		if len(k) > 128 || !strings.HasPrefix(k, "revoked:") || strings.Contains(k, token) {
			t.Errorf("key %q: want at most 128 bytes, prefix revoked:, no token", k)
		}
		for _, c := range []byte(k) {
			if c < 0x21 || c > 0x7e {
				t.Errorf("key %q holds byte %#x", k, c)
			}
		}
		name := fmt.Sprintf("%q %q", ref.Issuer, ref.JTI)
		if prev, ok := seen[k]; ok {
			t.Errorf("%s and %s have one key", prev, name)
		}
		seen[k] = name
	}
	if ks := revocationKeys(TokenRef{Issuer: "i", JTI: "j", SHA256: cacheKey(token)}); len(ks) != 2 {
		t.Errorf("%d keys for a token named both ways", len(ks))
	}
}
