package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// withSharedAnswers gives the Issuer's introspection the Store s, on the
// clock now (the fixed clock when nil), after more.
func withSharedAnswers(s smartmw.Store, now func() time.Time, more ...func(*smartmw.Config)) func(*smartmw.Config) {
	return func(c *smartmw.Config) {
		c.Issuer.Introspection.Store = s
		if now != nil {
			c.Tokens.Now = now
		}
		for _, f := range more {
			f(c)
		}
	}
}

// TestSharedIntrospectionOneCallForReplicas: replicas sharing a Store ask
// the endpoint once per token within CacheTTL, again after it; inactive
// answers are never kept; neither key nor value holds the token.
func TestSharedIntrospectionOneCallForReplicas(t *testing.T) {
	const tok = "opaque-token-of-alice"
	f := newFakeIntrospection(t)
	is := newIssuer(t)
	f.set(tok, activeAnswer(is))
	store := smartmw.NewMemoryStore(0)
	clk := &clock{now: testNow}
	adjust := withSharedAnswers(store, clk.Now, func(c *smartmw.Config) { c.Issuer.Introspection.CacheTTL = time.Minute })
	ga := newIntrospecting(t, is, f, adjust)
	a := ga.Handler(emptyBundle)
	b := newIntrospecting(t, is, f, adjust).Handler(emptyBundle)
	wantStatus(t, searchWith(a, tok), http.StatusOK)
	wantStatus(t, searchWith(b, tok), http.StatusOK)
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d introspection calls for two replicas, want 1", n)
	}
	if n := len(smartmw.MemoryStoreValues(store)); n != 1 {
		t.Fatalf("%d store entries, want 1", n)
	}
	k, _ := ga.SharedAnswerNames(is.URL(), tok)
	if v, ok := smartmw.MemoryStoreValue(store, k); !ok || !strings.HasPrefix(k, "introspect:") || len(k) > 128 || strings.Contains(k, tok) ||
		strings.Contains(string(v), tok) || strings.Contains(string(v), "alice") || strings.Contains(string(v), "scope") {
		t.Errorf("entry %q = %q (%v): want a hashed name and a sealed value", k, v, ok)
	}
	// A third replica, 59 s later, still reads it; 61 s later (past
	// CacheTTL by the time sealed in the entry) it asks again.
	clk.mu.Lock()
	clk.now = testNow.Add(59 * time.Second)
	clk.mu.Unlock()
	wantStatus(t, searchWith(newIntrospecting(t, is, f, adjust).Handler(emptyBundle), tok), http.StatusOK)
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d calls within CacheTTL, want 1", n)
	}
	clk.mu.Lock()
	clk.now = testNow.Add(61 * time.Second)
	clk.mu.Unlock()
	wantStatus(t, searchWith(newIntrospecting(t, is, f, adjust).Handler(emptyBundle), tok), http.StatusOK)
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d calls past CacheTTL, want 2", n)
	}
	// Inactive answers are not kept.
	before := len(smartmw.MemoryStoreValues(store))
	for _, h := range []http.Handler{a, b} {
		wantStatus(t, searchWith(h, "inactive-token"), http.StatusUnauthorized)
	}
	if n := f.calls.Load(); n != 4 || len(smartmw.MemoryStoreValues(store)) != before {
		t.Errorf("inactive token: %d calls (want 4), %d entries (want %d)", n, len(smartmw.MemoryStoreValues(store)), before)
	}
}

// TestSharedIntrospectionDistrustsForeignEntries: an entry the Guard did
// not seal for this token (another token's copied under its name, one
// altered, one sealed for another client secret or issuer, one older than
// CacheTTL written again, garbage) is ignored: the endpoint is asked, and
// its answer (inactive here) decides.
func TestSharedIntrospectionDistrustsForeignEntries(t *testing.T) {
	const victim, attacker = "victim-token", "attacker-token"
	for _, tc := range []struct {
		name  string
		forge func(seal func(token, secret string, at time.Time) []byte) []byte
	}{
		{"another token's entry", func(seal func(string, string, time.Time) []byte) []byte {
			return seal(attacker, "copy:s3cret", testNow)
		}},
		{"sealed under the victim's name with another token's key", func(seal func(string, string, time.Time) []byte) []byte {
			return seal(attacker, "s3cret", testNow)
		}},
		{"altered", func(seal func(string, string, time.Time) []byte) []byte {
			v := seal(victim, "s3cret", testNow)
			v[len(v)-20] ^= 1
			return v
		}},
		{"sealed for another client secret", func(seal func(string, string, time.Time) []byte) []byte {
			return seal(victim, "other-secret", testNow)
		}},
		{"older than CacheTTL, written again", func(seal func(string, string, time.Time) []byte) []byte {
			return seal(victim, "s3cret", testNow.Add(-smartmw.DefaultIntrospectionCacheTTL-time.Second))
		}},
		{"sealed in the future", func(seal func(string, string, time.Time) []byte) []byte {
			return seal(victim, "s3cret", testNow.Add(smartmw.DefaultLeeway+time.Second))
		}},
		{"garbage", func(_ func(string, string, time.Time) []byte) []byte {
			return []byte{smartmw.SealVersion, 1, 2, 3}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIntrospection(t) // the victim's token is inactive (revoked at the server)
			store := smartmw.NewMemoryStore(0)
			is := newIssuer(t)
			g := newIntrospecting(t, is, f, withSharedAnswers(store, nil))
			// seal is an entry for token as a Guard with client secret
			// secret would write, given at, claiming the token active.
			seal := func(token, secret string, at time.Time) []byte {
				secret, copied := strings.CutPrefix(secret, "copy:")
				own, k := smartmw.SharedAnswerNamesFor(is.URL(), secret, store, token)
				name, _ := g.SharedAnswerNames(is.URL(), victim) // bound to the victim's entry
				if copied {                                      // the attacker's own entry, as it is
					name = own
				}
				return smartmw.SealAnswer(k, name, at, []byte(`{"active":true,"scope":"patient/*.cruds","client_id":"app-1","exp":`+
					strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10)+`,"aud":"`+testAudience+`","patient":"123"}`))
			}
			key, _ := g.SharedAnswerNames(is.URL(), victim)
			if err := store.Put(context.Background(), key, tc.forge(seal), time.Hour); err != nil {
				t.Fatal(err)
			}
			rec := searchWith(g.Handler(emptyBundle), victim)
			if rec.Code != http.StatusUnauthorized || f.calls.Load() != 1 {
				t.Fatalf("got %d after %d calls, want 401 after asking the endpoint", rec.Code, f.calls.Load())
			}
		})
	}
	t.Run("the real entry is read (the forgeries above are told apart)", func(t *testing.T) {
		f := newFakeIntrospection(t)
		store := smartmw.NewMemoryStore(0)
		is := newIssuer(t)
		g := newIntrospecting(t, is, f, withSharedAnswers(store, nil))
		key, k := g.SharedAnswerNames(is.URL(), victim)
		answer := `{"active":true,"scope":"patient/Observation.rs","client_id":"app-1","exp":` + strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10) +
			`,"aud":"` + testAudience + `","patient":"123"}`
		store.Put(context.Background(), key, smartmw.SealAnswer(k, key, testNow, []byte(answer)), time.Hour)
		wantStatus(t, searchWith(g.Handler(emptyBundle), victim), http.StatusOK)
		if n := f.calls.Load(); n != 0 {
			t.Errorf("%d calls, want 0", n)
		}
	})
}

// countingStore wraps a Store, failing Get and Put with err when set.
type countingStore struct {
	smartmw.Store
	mu       sync.Mutex
	err      error
	gets     int
	puts     int
	blocking bool
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	s.gets++
	err, blocking := s.err, s.blocking
	s.mu.Unlock()
	if blocking {
		<-ctx.Done()
		return nil, false, ctx.Err()
	}
	if err != nil {
		return nil, false, err
	}
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Put(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	s.mu.Lock()
	s.puts++
	err, blocking := s.err, s.blocking
	s.mu.Unlock()
	if blocking {
		<-ctx.Done()
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	return s.Store.Put(ctx, key, v, ttl)
}

// TestSharedIntrospectionStoreFailureAsksTheServer: a Store that errors or
// does not answer within StoreTimeout is passed by: the endpoint is asked
// and decides (active: 200; inactive: 401), within StoreTimeout more.
func TestSharedIntrospectionStoreFailureAsksTheServer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store *countingStore
	}{
		{"errors", &countingStore{Store: smartmw.NewMemoryStore(0), err: errors.New("connection refused")}},
		{"times out", &countingStore{Store: smartmw.NewMemoryStore(0), blocking: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIntrospection(t)
			is := newIssuer(t)
			f.set("active-token", activeAnswer(is))
			g := newIntrospecting(t, is, f, withSharedAnswers(tc.store, nil, func(c *smartmw.Config) {
				c.Issuer.Introspection.StoreTimeout = 30 * time.Millisecond
			}))
			start := time.Now()
			wantStatus(t, searchWith(g.Handler(emptyBundle), "active-token"), http.StatusOK)
			wantStatus(t, searchWith(g.Handler(emptyBundle), "inactive-token"), http.StatusUnauthorized)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("answered after %v with StoreTimeout 30 ms", d)
			}
			if f.calls.Load() != 2 || tc.store.gets != 2 || tc.store.puts != 1 {
				t.Errorf("%d calls, %d gets, %d puts; want 2, 2, 1", f.calls.Load(), tc.store.gets, tc.store.puts)
			}
		})
	}
}

// TestSharedIntrospectionConfig: the Store needs an introspecting issuer
// and the cache on.
func TestSharedIntrospectionConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		adjust func(*smartmw.Config)
		want   string
	}{
		{"with Cache.Disable", func(c *smartmw.Config) {
			c.Issuer.Format = smartmw.TokensIntrospect
			c.Issuer.Introspection = smartmw.Introspection{Endpoint: "https://auth.example.org/introspect", Store: smartmw.NewMemoryStore(0)}
			c.Cache.Disable = true
		}, "Introspection.Store caches answers, and Cache.Disable is set"},
		{"on a JWT issuer", func(c *smartmw.Config) {
			c.Issuer.Introspection = smartmw.Introspection{Store: smartmw.NewMemoryStore(0)}
		}, "Tokens is TokensJWT"},
		{"negative StoreTimeout", func(c *smartmw.Config) {
			c.Issuer.Format = smartmw.TokensIntrospect
			c.Issuer.Introspection = smartmw.Introspection{Endpoint: "https://auth.example.org/introspect", Store: smartmw.NewMemoryStore(0), StoreTimeout: -1}
		}, "StoreTimeout -1ns is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smartmw.Config{Issuer: smartmw.Issuer{URL: "https://auth.example.org", Audience: testAudience, Keyfunc: noKeys}}
			tc.adjust(&cfg)
			_, err := smartmw.New(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestSharedIntrospectionStoreReadsAreBounded: reads of a Store that does
// not answer take places among the calls in flight to the endpoint, so
// that a flood of random tokens is answered 503 beyond the bound instead
// of piling up on the Store.
func TestSharedIntrospectionStoreReadsAreBounded(t *testing.T) {
	f := newFakeIntrospection(t)
	is := newIssuer(t)
	store := &countingStore{Store: smartmw.NewMemoryStore(0), blocking: true}
	g := newIntrospecting(t, is, f, withSharedAnswers(store, nil, func(c *smartmw.Config) {
		c.Issuer.Introspection.StoreTimeout = time.Second
	}))
	const n = smartmw.MaxIntrospections + 16
	errs := make(chan error, n)
	for i := range n {
		go func() { _, err := g.Verify(context.Background(), "random-"+strconv.Itoa(i)); errs <- err }()
	}
	busy := 0
	for range n - smartmw.MaxIntrospections {
		if err := <-errs; errors.Is(err, smartmw.ErrUnavailable) {
			busy++
		}
	}
	store.mu.Lock()
	gets := store.gets
	store.mu.Unlock()
	for range smartmw.MaxIntrospections {
		<-errs
	}
	if busy != n-smartmw.MaxIntrospections || gets > smartmw.MaxIntrospections {
		t.Errorf("%d answered 503 at once, %d Store reads in flight; want %d and at most %d", busy, gets, n-smartmw.MaxIntrospections, smartmw.MaxIntrospections)
	}
}
