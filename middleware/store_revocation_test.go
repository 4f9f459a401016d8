package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// replicas returns n Guards of is on the fixed clock sharing revocations
// r, each after adjust.
func replicas(t *testing.T, is *smarttest.Issuer, n int, r smartmw.Revocations, adjust func(*smartmw.Config)) []http.Handler {
	t.Helper()
	var hs []http.Handler
	for range n {
		g := newGuard(t, is, withRevocations(r, func(c *smartmw.Config) {
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
	is := newIssuer(t)
	claims := goodClaims(is)
	claims["jti"] = "j1"
	tok := sign(t, is, claims)
	other := goodClaims(is)
	other["jti"] = "j2"
	otherTok := sign(t, is, other)
	for _, tc := range []struct {
		name   string
		revoke func(g *smartmw.Guard, s *smartmw.StoreRevocations) error
	}{
		{"Guard.Revoke on replica A", func(g *smartmw.Guard, _ *smartmw.StoreRevocations) error { return g.Revoke(context.Background(), tok) }},
		{"RevokeJTI", func(_ *smartmw.Guard, s *smartmw.StoreRevocations) error {
			return s.RevokeJTI(context.Background(), is.URL(), "j1", exp)
		}},
		{"RevokeToken", func(_ *smartmw.Guard, s *smartmw.StoreRevocations) error {
			return s.RevokeToken(context.Background(), tok, exp)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := smartmw.NewMemoryStore(0)
			a := newGuard(t, is, withRevocations(smartmw.NewStoreRevocations(store, smartmw.StoreRevocationsOptions{Now: fixedNow})))
			// Replica B has its own StoreRevocations on the same Store.
			b := newGuard(t, is, withRevocations(smartmw.NewStoreRevocations(store, smartmw.StoreRevocationsOptions{Now: fixedNow}))).Handler(emptyBundle)
			wantStatus(t, searchWith(b, tok), http.StatusOK) // cached on B
			if err := tc.revoke(a, smartmw.NewStoreRevocations(store, smartmw.StoreRevocationsOptions{Now: fixedNow})); err != nil {
				t.Fatal(err)
			}
			wantRevoked(t, searchWith(b, tok))
			wantRevoked(t, searchWith(a.Handler(emptyBundle), tok))
			wantStatus(t, searchWith(b, otherTok), http.StatusOK)
		})
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
	is := newIssuer(t)
	tok := sign(t, is, goodClaims(is))
	for _, tc := range []struct {
		name  string
		store smartmw.Store
	}{
		{"errors", failingStore{err: errors.New("connection refused")}},
		{"times out", blockingStore{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := smartmw.NewStoreRevocations(tc.store, smartmw.StoreRevocationsOptions{Timeout: 20 * time.Millisecond, Now: fixedNow})
			g := newGuard(t, is, withRevocations(s))
			for range 2 { // also once the token is cached
				rec := searchWith(g.Handler(emptyBundle), tok)
				if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
					t.Fatalf("got %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
				}
			}
			if _, err := g.Verify(context.Background(), tok); !errors.Is(err, smartmw.ErrUnavailable) {
				t.Errorf("Verify: %v, want ErrUnavailable", err)
			}
			if err := g.Revoke(context.Background(), tok); !errors.Is(err, smartmw.ErrUnavailable) {
				t.Errorf("Guard.Revoke: %v, want ErrUnavailable", err)
			}
			if err := s.RevokeJTI(context.Background(), is.URL(), "j1", testNow.Add(time.Hour)); err == nil {
				t.Error("RevokeJTI reported success on a failing Store")
			}
		})
	}
}

// TestStoreRevocationsConcurrent: replicas revoking and checking tokens
// at once through one Store (run with -race); every revoked token is
// refused afterwards by every replica.
func TestStoreRevocationsConcurrent(t *testing.T) {
	is := newIssuer(t)
	store := smartmw.NewMemoryStore(0)
	s := smartmw.NewStoreRevocations(store, smartmw.StoreRevocationsOptions{Now: fixedNow})
	hs := replicas(t, is, 3, s, nil)
	var toks []string
	for i := range 12 {
		c := goodClaims(is)
		c["jti"] = fmt.Sprint("c-", i)
		toks = append(toks, sign(t, is, c))
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
