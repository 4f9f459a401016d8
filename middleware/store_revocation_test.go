package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// replicas returns n Guards on the fixed clock sharing revocations r,
// each after adjust.
func replicas(t *testing.T, n int, r Revocations, adjust func(*Config)) []http.Handler {
	t.Helper()
	var hs []http.Handler
	for range n {
		g := newTest(t, withRevocations(r, func(c *Config) {
			if adjust != nil {
				adjust(c)
			}
		}))
		hs = append(hs, g.Handler(emptyBundle))
	}
	return hs
}

// TestStoreRevocationsSharedByReplicas: a token revoked through one
// replica (Guard.Revoke, by jti, by token) is refused by another replica
// sharing the Store, although that replica had cached the token; another
// token of the same issuer still passes.
func TestStoreRevocationsSharedByReplicas(t *testing.T) {
	exp := testNow.Add(time.Hour)
	tok := rs256(t, goodClaims())
	other := goodClaims()
	other["jti"] = "j2"
	otherTok := rs256(t, other)
	for _, tc := range []struct {
		name   string
		revoke func(g *Guard, s *StoreRevocations) error
	}{
		{"Guard.Revoke on replica A", func(g *Guard, _ *StoreRevocations) error { return g.Revoke(context.Background(), tok) }},
		{"RevokeJTI", func(_ *Guard, s *StoreRevocations) error {
			return s.RevokeJTI(context.Background(), testIssuer, "j1", exp)
		}},
		{"RevokeToken", func(_ *Guard, s *StoreRevocations) error { return s.RevokeToken(context.Background(), tok, exp) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := NewMemoryStore(0)
			a := newTest(t, withRevocations(NewStoreRevocations(store, StoreRevocationsOptions{Now: fixedNow})))
			// Replica B has its own StoreRevocations on the same Store.
			b := newTest(t, withRevocations(NewStoreRevocations(store, StoreRevocationsOptions{Now: fixedNow}))).Handler(emptyBundle)
			wantStatus(t, searchWith(b, tok), http.StatusOK) // cached on B
			if err := tc.revoke(a, NewStoreRevocations(store, StoreRevocationsOptions{Now: fixedNow})); err != nil {
				t.Fatal(err)
			}
			wantRevoked(t, searchWith(b, tok))
			wantRevoked(t, searchWith(a.Handler(emptyBundle), tok))
			wantStatus(t, searchWith(b, otherTok), http.StatusOK)
		})
	}
}

// TestStoreRevocationsExpireWithTheToken: a revocation is kept until the
// token's expiry plus MaxLeeway, never less, and is gone from the Store
// after that; a revocation with a later expiry is not shortened by one
// with an earlier.
func TestStoreRevocationsExpireWithTheToken(t *testing.T) {
	clk := &clock{now: testNow}
	store := newMemoryStore(0, clk.Now)
	s := NewStoreRevocations(store, StoreRevocationsOptions{Now: clk.Now})
	ctx := context.Background()
	exp := testNow.Add(10 * time.Minute)
	if err := s.RevokeJTI(ctx, testIssuer, "late", exp.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, e := range []time.Time{exp, exp.Add(-5 * time.Minute)} { // earlier expiries: the later stays
		if err := s.RevokeJTI(ctx, testIssuer, "j1", e); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeJTI(ctx, testIssuer, "late", e); err != nil {
			t.Fatal(err)
		}
	}
	revoked := func(jti string) bool {
		ok, err := s.Revoked(ctx, TokenRef{Issuer: testIssuer, JTI: jti})
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
		clk.now = step.at
		clk.mu.Unlock()
		if j1, late := revoked("j1"), revoked("late"); j1 != step.j1 || late != step.late {
			t.Errorf("at exp%+v: j1 revoked %v, late %v; want %v, %v", step.at.Sub(exp), j1, late, step.j1, step.late)
		}
	}
	if n := store.len(); n != 0 {
		t.Errorf("%d records left after every token expired", n)
	}
	// A token already past its expiry plus MaxLeeway is not recorded.
	if err := s.RevokeJTI(ctx, testIssuer, "old", clk.Now().Add(-MaxLeeway)); err != nil || store.len() != 0 {
		t.Errorf("expired token: err %v, %d records", err, store.len())
	}
}

// blockingStore answers no call until its context is done.
type blockingStore struct{}

func (blockingStore) Add(ctx context.Context, _ string, _ time.Duration) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}

func (blockingStore) Put(ctx context.Context, _ string, _ []byte, _ time.Duration) error {
	<-ctx.Done()
	return ctx.Err()
}

func (blockingStore) Get(ctx context.Context, _ string) ([]byte, bool, error) {
	<-ctx.Done()
	return nil, false, ctx.Err()
}

// TestStoreRevocationsFailClosed: a Store that errors or does not answer
// within the timeout makes every request 503 with Retry-After, never an
// allow, and Revoke report an error.
func TestStoreRevocationsFailClosed(t *testing.T) {
	tok := rs256(t, goodClaims())
	for _, tc := range []struct {
		name  string
		store Store
	}{
		{"errors", failingStore{err: errors.New("connection refused")}},
		{"times out", blockingStore{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStoreRevocations(tc.store, StoreRevocationsOptions{Timeout: 20 * time.Millisecond, Now: fixedNow})
			g := newTest(t, withRevocations(s))
			for range 2 { // also once the token is cached
				rec := searchWith(g.Handler(emptyBundle), tok)
				if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
					t.Fatalf("got %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
				}
			}
			if _, err := g.Verify(context.Background(), tok); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Verify: %v, want ErrUnavailable", err)
			}
			if err := g.Revoke(context.Background(), tok); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Guard.Revoke: %v, want ErrUnavailable", err)
			}
			if err := s.RevokeJTI(context.Background(), testIssuer, "j1", testNow.Add(time.Hour)); err == nil {
				t.Error("RevokeJTI reported success on a failing Store")
			}
		})
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

// TestStoreRevocationsConcurrent: replicas revoking and checking tokens
// at once through one Store (run with -race); every revoked token is
// refused afterwards by every replica.
func TestStoreRevocationsConcurrent(t *testing.T) {
	store := NewMemoryStore(0)
	s := NewStoreRevocations(store, StoreRevocationsOptions{Now: fixedNow})
	hs := replicas(t, 3, s, nil)
	var toks []string
	for i := range 12 {
		c := goodClaims()
		c["jti"] = fmt.Sprint("c-", i)
		toks = append(toks, rs256(t, c))
	}
	var wg sync.WaitGroup
	for i, tok := range toks {
		wg.Go(func() {
			searchWith(hs[i%len(hs)], tok)
			if err := s.RevokeToken(context.Background(), tok, testNow.Add(time.Hour)); err != nil {
				t.Error(err)
			}
			searchWith(hs[(i+1)%len(hs)], tok)
		})
	}
	wg.Wait()
	for _, h := range hs {
		for _, tok := range toks {
			wantRevoked(t, searchWith(h, tok))
		}
	}
}
