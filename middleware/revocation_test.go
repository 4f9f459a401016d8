package middleware_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	smartctx "github.com/smartguard/smartguard/context"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// newTestList returns an empty RevocationList on the tests' clock.
func newTestList() *smartmw.RevocationList {
	return smartmw.NewRevocationList(smartmw.RevocationListOptions{Now: fixedNow})
}

// withRevocations sets Config.Tokens.Revocations to r, then applies more.
func withRevocations(r smartmw.Revocations, more ...func(*smartmw.Config)) func(*smartmw.Config) {
	return func(c *smartmw.Config) {
		c.Tokens.Revocations = r
		for _, f := range more {
			f(c)
		}
	}
}

func cacheOff(c *smartmw.Config) { c.Cache.Disable = true }

// wantRevoked fails unless rec is the refusal of a revoked token.
func wantRevoked(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	challenge := rec.Header().Get("WWW-Authenticate")
	if rec.Code != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) ||
		!strings.Contains(challenge, `error_description="the token has been revoked"`) {
		t.Fatalf("got %d %q, want 401 invalid_token: the token has been revoked", rec.Code, challenge)
	}
}

// wantStatus fails unless rec has status want.
func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("got %d (%s), want %d", rec.Code, rec.Body, want)
	}
}

// TestRevokedJWTRefused: a JWT revoked by jti, by its string or through
// Guard.Revoke is refused by the next request, whether its grant is
// cached, not cached yet, or never cached; by Handler, AuthenticateOnly
// and Verify alike. Another token of the same issuer is not.
func TestRevokedJWTRefused(t *testing.T) {
	is := newIssuer(t)
	exp := testNow.Add(time.Hour)
	tests := []struct {
		name   string
		cache  bool // Config.Cache on
		warm   bool // the token is used (and cached) before it is revoked
		revoke func(g *smartmw.Guard, l *smartmw.RevocationList, tok string) error
	}{
		{"by jti, cached", true, true, func(_ *smartmw.Guard, l *smartmw.RevocationList, _ string) error {
			return l.RevokeJTI(is.URL(), "j1", exp)
		}},
		{"by jti, not cached yet", true, false, func(_ *smartmw.Guard, l *smartmw.RevocationList, _ string) error {
			return l.RevokeJTI(is.URL(), "j1", exp)
		}},
		{"by jti, cache off", false, true, func(_ *smartmw.Guard, l *smartmw.RevocationList, _ string) error {
			return l.RevokeJTI(is.URL(), "j1", exp)
		}},
		{"by token, cached", true, true, func(_ *smartmw.Guard, l *smartmw.RevocationList, tok string) error { return l.RevokeToken(tok, exp) }},
		{"by token, not cached yet", true, false, func(_ *smartmw.Guard, l *smartmw.RevocationList, tok string) error { return l.RevokeToken(tok, exp) }},
		{"by token, cache off", false, true, func(_ *smartmw.Guard, l *smartmw.RevocationList, tok string) error { return l.RevokeToken(tok, exp) }},
		{"Guard.Revoke, cached", true, true, func(g *smartmw.Guard, _ *smartmw.RevocationList, tok string) error {
			return g.Revoke(context.Background(), tok)
		}},
		{"Guard.Revoke, not cached yet", true, false, func(g *smartmw.Guard, _ *smartmw.RevocationList, tok string) error {
			return g.Revoke(context.Background(), tok)
		}},
		{"Guard.Revoke, cache off", false, true, func(g *smartmw.Guard, _ *smartmw.RevocationList, tok string) error {
			return g.Revoke(context.Background(), tok)
		}},
	}
	tok := sign(t, is, goodClaims(is))
	other := goodClaims(is)
	other["jti"] = "j2"
	otherTok := sign(t, is, other)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestList()
			adjust := withRevocations(l)
			if !tc.cache {
				adjust = withRevocations(l, cacheOff)
			}
			g := newGuard(t, is, adjust)
			h := g.Handler(emptyBundle)
			if tc.warm {
				wantStatus(t, searchWith(h, tok), http.StatusOK)
			}
			if err := tc.revoke(g, l, tok); err != nil {
				t.Fatal(err)
			}
			for range 2 { // the refusal is not cached either
				wantRevoked(t, searchWith(h, tok))
			}
			wantRevoked(t, searchWith(g.AuthenticateOnly(emptyBundle), tok))
			_, err := g.Verify(context.Background(), tok)
			if !errors.Is(err, smartmw.ErrRevoked) || !errors.Is(err, smartmw.ErrInvalidToken) {
				t.Fatalf("Verify: %v, want ErrInvalidToken caused by ErrRevoked", err)
			}
			wantStatus(t, searchWith(h, otherTok), http.StatusOK)
		})
	}
}

// TestRevokedOpaqueTokenRefused: an introspected token revoked by its
// string, through Guard.Revoke, or by the jti of its introspection answer
// is refused at once, while its answer is cached and when it is not, and
// without asking the introspection endpoint again.
func TestRevokedOpaqueTokenRefused(t *testing.T) {
	is := newIssuer(t)
	exp := testNow.Add(time.Hour)
	const tok = "opaque-token-1"
	tests := []struct {
		name   string
		warm   bool
		revoke func(g *smartmw.Guard, l *smartmw.RevocationList) error
	}{
		{"by token, cached", true, func(_ *smartmw.Guard, l *smartmw.RevocationList) error { return l.RevokeToken(tok, exp) }},
		{"by token, not cached yet", false, func(_ *smartmw.Guard, l *smartmw.RevocationList) error { return l.RevokeToken(tok, exp) }},
		{"by jti of the answer, cached", true, func(_ *smartmw.Guard, l *smartmw.RevocationList) error { return l.RevokeJTI(is.URL(), "intro-1", exp) }},
		{"Guard.Revoke, cached", true, func(g *smartmw.Guard, _ *smartmw.RevocationList) error { return g.Revoke(context.Background(), tok) }},
		{"Guard.Revoke, not cached yet", false, func(g *smartmw.Guard, _ *smartmw.RevocationList) error { return g.Revoke(context.Background(), tok) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIntrospection(t)
			answer := activeAnswer(is)
			answer["jti"] = "intro-1"
			f.set(tok, answer)
			f.set("opaque-token-2", activeAnswer(is))
			l := newTestList()
			g := newIntrospecting(t, is, f, withRevocations(l))
			h := g.Handler(emptyBundle)
			if tc.warm {
				wantStatus(t, searchWith(h, tok), http.StatusOK)
			}
			if err := tc.revoke(g, l); err != nil {
				t.Fatal(err)
			}
			calls := f.calls.Load()
			wantRevoked(t, searchWith(h, tok))
			if tc.warm && f.calls.Load() != calls {
				t.Errorf("the endpoint was asked again (%d calls, then %d): the cached answer should have been refused as it is", calls, f.calls.Load())
			}
			wantStatus(t, searchWith(h, "opaque-token-2"), http.StatusOK)
		})
	}
}

// TestRevocationByJTIIsPerIssuer: a jti names a token of one issuer only:
// revoking issuer A's "j1" leaves issuer B's "j1" valid, and the other
// way round.
func TestRevocationByJTIIsPerIssuer(t *testing.T) {
	is := newIssuer(t)
	const other = "https://other-as.example.org"
	exp := testNow.Add(time.Hour)
	tokens := map[string]string{}
	for _, iss := range []string{is.URL(), other} {
		c := goodClaims(is) // jti "j1" for both
		c["iss"] = iss
		tokens[iss] = sign(t, is, c)
	}
	for _, tc := range []struct {
		name             string
		revoked, allowed string
	}{
		{"revoke A's", is.URL(), other},
		{"revoke B's", other, is.URL()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestList()
			g := newGuard(t, is, withRevocations(l, func(c *smartmw.Config) {
				c.Issuers = []smartmw.Issuer{{URL: other, Audience: testAudience, JWKSURL: jwksOf(is)}}
			}))
			h := g.Handler(emptyBundle)
			tokOf := func(iss string) string { return tokens[iss] }
			wantStatus(t, searchWith(h, tokOf(tc.revoked)), http.StatusOK)
			wantStatus(t, searchWith(h, tokOf(tc.allowed)), http.StatusOK)
			if err := l.RevokeJTI(tc.revoked, "j1", exp); err != nil {
				t.Fatal(err)
			}
			wantRevoked(t, searchWith(h, tokOf(tc.revoked)))
			wantStatus(t, searchWith(h, tokOf(tc.allowed)), http.StatusOK)
		})
	}
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// TestRevocationListKeepsEntriesUntilExpiry: an entry is kept until its
// token's exp plus MaxLeeway, whatever sweeps happen before, and dropped
// by the first sweep after; a token already past that is not recorded.
func TestRevocationListKeepsEntriesUntilExpiry(t *testing.T) {
	is := newIssuer(t)
	ctx := context.Background()
	exp := testNow.Add(time.Hour)
	ref := smartmw.TokenRef{Issuer: is.URL(), JTI: "j1", SHA256: sha256.Sum256([]byte("tok")), ExpiresAt: exp}
	for _, tc := range []struct {
		name    string
		at      time.Time
		revoked bool
		len     int
	}{
		{"before exp", exp.Add(-time.Second), true, 2},
		{"at exp", exp, true, 2},
		{"within the leeway", exp.Add(smartmw.MaxLeeway - time.Second), true, 2},
		{"past the leeway", exp.Add(smartmw.MaxLeeway), false, 0},
		{"long after", exp.Add(24 * time.Hour), false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{now: testNow}
			l := smartmw.NewRevocationList(smartmw.RevocationListOptions{Now: c.Now})
			if err := l.Revoke(ctx, ref); err != nil {
				t.Fatal(err)
			}
			c.set(tc.at)
			// Revoked sweeps (a minute after the last sweep) before it
			// answers; a Revoke sweeps too.
			got, err := l.Revoked(ctx, ref)
			if err != nil || got != tc.revoked {
				t.Fatalf("Revoked = %v, %v; want %v", got, err, tc.revoked)
			}
			if err := l.RevokeJTI(is.URL(), "later", tc.at.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if n := l.Len(); n != tc.len+1 {
				t.Fatalf("Len = %d, want %d", n, tc.len+1)
			}
		})
	}
	t.Run("already expired", func(t *testing.T) {
		l := newTestList()
		if err := l.RevokeJTI(is.URL(), "old", testNow.Add(-smartmw.MaxLeeway)); err != nil {
			t.Fatal(err)
		}
		if n := l.Len(); n != 0 {
			t.Fatalf("Len = %d, want 0: a token past its expiry and the leeway needs no entry", n)
		}
	})
	t.Run("revoked again with a later exp", func(t *testing.T) {
		c := &clock{now: testNow}
		l := smartmw.NewRevocationList(smartmw.RevocationListOptions{Now: c.Now})
		if err := l.RevokeJTI(is.URL(), "j1", exp); err != nil {
			t.Fatal(err)
		}
		if err := l.RevokeJTI(is.URL(), "j1", exp.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := l.RevokeJTI(is.URL(), "j1", exp.Add(-time.Hour)); err != nil { // never shortens
			t.Fatal(err)
		}
		c.set(exp.Add(30 * time.Minute))
		if got, _ := l.Revoked(ctx, smartmw.TokenRef{Issuer: is.URL(), JTI: "j1"}); !got || l.Len() != 1 {
			t.Fatalf("Revoked = %v with %d entries, want true with 1: the later exp holds", got, l.Len())
		}
	})
}

// failingRevocations is a Revocations that fails, or blocks until its
// context ends, and counts the checks.
type failingRevocations struct {
	err    error
	block  bool
	checks atomic.Int32
}

func (f *failingRevocations) Revoked(ctx context.Context, _ smartmw.TokenRef) (bool, error) {
	f.checks.Add(1)
	if f.block {
		<-ctx.Done()
		return false, ctx.Err()
	}
	return false, f.err
}

func (f *failingRevocations) Revoke(context.Context, smartmw.TokenRef) error { return f.err }

// TestRevocationErrorsFailClosed: when Revocations errs or does not
// answer in time, the request is answered 503 temporarily_unavailable
// with Retry-After, never passed to the handler, for a cached token and a
// new one; a Revocations that answers is asked on every request.
func TestRevocationErrorsFailClosed(t *testing.T) {
	is := newIssuer(t)
	down := errors.New("store unreachable")
	for _, tc := range []struct {
		name    string
		store   *failingRevocations
		warm    bool // the token is cached first, with a working list
		timeout time.Duration
	}{
		{"error, first seen", &failingRevocations{err: down}, false, 0},
		{"error, cached", &failingRevocations{err: down}, true, 0},
		{"no answer before the request's deadline", &failingRevocations{block: true}, false, 50 * time.Millisecond},
		{"no answer, cached", &failingRevocations{block: true}, true, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuard(t, is, withRevocations(tc.store))
			tok := sign(t, is, goodClaims(is))
			if tc.warm {
				g.CacheGrant(tok, mustVerify(t, is, tok), testNow)
			}
			var reached atomic.Bool
			h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached.Store(true)
				emptyBundle(w, r)
			}))
			req := httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=123", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if tc.timeout > 0 {
				ctx, cancel := context.WithTimeout(req.Context(), tc.timeout)
				defer cancel()
				req = req.WithContext(ctx)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" || reached.Load() {
				t.Fatalf("got %d, Retry-After %q, handler reached %v; want 503, 5, false", rec.Code, rec.Header().Get("Retry-After"), reached.Load())
			}
			if !strings.Contains(rec.Body.String(), `"code":"transient"`) {
				t.Errorf("body %s, want a transient OperationOutcome", rec.Body)
			}
			if tc.store.checks.Load() != 1 {
				t.Errorf("%d checks, want 1", tc.store.checks.Load())
			}
			if !tc.store.block {
				if _, err := g.Verify(context.Background(), tok); !errors.Is(err, smartmw.ErrUnavailable) || !errors.Is(err, down) {
					t.Errorf("Verify: %v, want ErrUnavailable caused by the store's error", err)
				}
			}
		})
	}
	t.Run("a nil *RevocationList", func(t *testing.T) {
		var l *smartmw.RevocationList
		g := newGuard(t, is, withRevocations(l))
		wantStatus(t, searchWith(g.Handler(emptyBundle), sign(t, is, goodClaims(is))), http.StatusServiceUnavailable)
		if err := l.RevokeJTI(is.URL(), "j1", testNow.Add(time.Hour)); err == nil {
			t.Fatal("RevokeJTI on a nil list: no error")
		}
	})
	t.Run("asked on every request", func(t *testing.T) {
		store := &failingRevocations{}
		g := newGuard(t, is, withRevocations(store))
		h := g.Handler(emptyBundle)
		tok := sign(t, is, goodClaims(is))
		for range 3 {
			wantStatus(t, searchWith(h, tok), http.StatusOK)
		}
		if n := store.checks.Load(); n != 3 {
			t.Fatalf("%d checks for 3 requests (2 of them cached), want 3", n)
		}
	})
}

// mustVerify returns the grant of tok verified by a Guard without
// revocations.
func mustVerify(t *testing.T, is *smarttest.Issuer, tok string) *smartctx.Grant {
	t.Helper()
	grant, err := newGuard(t, is, nil).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return grant
}

// TestRevocationListBound: a full list drops expired entries to make room
// and otherwise refuses the new revocation (ErrRevocationListFull),
// forgetting none of those it holds.
func TestRevocationListBound(t *testing.T) {
	is := newIssuer(t)
	ctx := context.Background()
	c := &clock{now: testNow}
	l := smartmw.NewRevocationList(smartmw.RevocationListOptions{Size: 3, Now: c.Now})
	soon, later := testNow.Add(time.Minute), testNow.Add(time.Hour)
	for i, exp := range []time.Time{soon, later, later} {
		if err := l.RevokeJTI(is.URL(), fmt.Sprint("j", i), exp); err != nil {
			t.Fatal(err)
		}
	}
	held := func(jti string) bool {
		ok, err := l.Revoked(ctx, smartmw.TokenRef{Issuer: is.URL(), JTI: jti})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if err := l.RevokeJTI(is.URL(), "j3", later); !errors.Is(err, smartmw.ErrRevocationListFull) {
		t.Fatalf("4th revocation in a list of 3: %v, want ErrRevocationListFull", err)
	}
	if held("j3") || !held("j0") || !held("j1") || !held("j2") || l.Len() != 3 {
		t.Fatalf("after the refusal: j3 %v, j0 %v, j1 %v, j2 %v, %d entries; want only j0-j2", held("j3"), held("j0"), held("j1"), held("j2"), l.Len())
	}
	if err := l.RevokeJTI(is.URL(), "j1", later); err != nil {
		t.Fatalf("revoking a held token again in a full list: %v", err)
	}
	if err := l.Revoke(ctx, smartmw.TokenRef{Issuer: is.URL(), JTI: "j1", SHA256: sha256.Sum256([]byte("t1")), ExpiresAt: later}); !errors.Is(err, smartmw.ErrRevocationListFull) {
		t.Fatalf("a new name of a held token in a full list: %v, want ErrRevocationListFull", err)
	}
	c.set(soon.Add(smartmw.MaxLeeway)) // j0 is past its time
	if err := l.RevokeJTI(is.URL(), "j3", later); err != nil {
		t.Fatalf("with an expired entry to drop: %v", err)
	}
	if held("j0") || !held("j1") || !held("j2") || !held("j3") {
		t.Fatalf("j0 %v, j1 %v, j2 %v, j3 %v; want j0 dropped, the others held", held("j0"), held("j1"), held("j2"), held("j3"))
	}
}

// TestRevocationListRefusesUnnamedTokens: Revoke refuses, and records
// nothing for, a TokenRef that names no token, has no expiry, has a jti
// without its issuer, or names too long to hold.
func TestRevocationListRefusesUnnamedTokens(t *testing.T) {
	is := newIssuer(t)
	exp := testNow.Add(time.Hour)
	long := strings.Repeat("x", smartmw.MaxRevocationNameLen+1)
	for _, tc := range []struct {
		name string
		ref  smartmw.TokenRef
	}{
		{"no name", smartmw.TokenRef{Issuer: is.URL(), ExpiresAt: exp}},
		{"no expiry", smartmw.TokenRef{Issuer: is.URL(), JTI: "j1"}},
		{"jti without issuer", smartmw.TokenRef{JTI: "j1", ExpiresAt: exp}},
		{"jti too long", smartmw.TokenRef{Issuer: is.URL(), JTI: long, ExpiresAt: exp}},
		{"issuer too long", smartmw.TokenRef{Issuer: long, JTI: "j1", ExpiresAt: exp}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestList()
			if err := l.Revoke(context.Background(), tc.ref); err == nil || l.Len() != 0 {
				t.Fatalf("Revoke = %v with %d entries, want an error and none", err, l.Len())
			}
		})
	}
}

// TestRevocationListConcurrent: revocations and checks from many
// goroutines (run with -race): a revocation is seen by every check that
// starts after Revoke returns.
func TestRevocationListConcurrent(t *testing.T) {
	is := newIssuer(t)
	ctx := context.Background()
	l := newTestList()
	exp := testNow.Add(time.Hour)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				jti := fmt.Sprintf("w%d-%d", w, i)
				if err := l.RevokeJTI(is.URL(), jti, exp); err != nil {
					t.Error(err)
					return
				}
				if ok, err := l.Revoked(ctx, smartmw.TokenRef{Issuer: is.URL(), JTI: jti}); !ok || err != nil {
					t.Errorf("%s: Revoked = %v, %v right after Revoke", jti, ok, err)
					return
				}
				l.Revoked(ctx, smartmw.TokenRef{Issuer: is.URL(), JTI: fmt.Sprintf("w%d-%d", (w+1)%8, i)})
				_ = l.Len()
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n != 8*200 {
		t.Fatalf("Len = %d, want %d", n, 8*200)
	}
}

// TestRevocationTakesEffectUnderLoad: while requests with a cached token
// run in parallel, no request that starts after Revoke returns is
// allowed.
func TestRevocationTakesEffectUnderLoad(t *testing.T) {
	is := newIssuer(t)
	l := newTestList()
	g := newGuard(t, is, withRevocations(l))
	h := g.Handler(emptyBundle)
	tok := sign(t, is, goodClaims(is))
	wantStatus(t, searchWith(h, tok), http.StatusOK)
	var revoked, stop atomic.Bool
	var late atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				after := revoked.Load()
				if rec := searchWith(h, tok); rec.Code == http.StatusOK && after {
					late.Add(1)
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := l.RevokeJTI(is.URL(), "j1", testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	revoked.Store(true)
	time.Sleep(20 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if n := late.Load(); n > 0 {
		t.Fatalf("%d requests started after the revocation were allowed", n)
	}
	wantRevoked(t, searchWith(h, tok))
}

// TestGuardRevoke: Guard.Revoke records a valid token by jti and by
// hash, and records nothing for a token that is not valid (kind
// ErrInvalidToken), without a list (ErrMisconfigured) or when the list
// fails (ErrUnavailable).
func TestGuardRevoke(t *testing.T) {
	is := newIssuer(t)
	noJTI := goodClaims(is)
	delete(noJTI, "jti")
	expired := goodClaims(is)
	expired["exp"] = testNow.Add(-time.Hour).Unix()
	refused := errors.New("store refused")
	for _, tc := range []struct {
		name  string
		store func() smartmw.Revocations
		tok   func(t *testing.T) string
		want  error // nil, or the kind
		len   int   // entries of the RevocationList after
	}{
		{"valid JWT", func() smartmw.Revocations { return newTestList() }, func(t *testing.T) string { return sign(t, is, goodClaims(is)) }, nil, 2},
		{"JWT without jti", func() smartmw.Revocations { return newTestList() }, func(t *testing.T) string { return sign(t, is, noJTI) }, nil, 1},
		{"badly signed", func() smartmw.Revocations { return newTestList() },
			func(t *testing.T) string { return sign(t, is, goodClaims(is), smarttest.BadSignature()) }, smartmw.ErrInvalidToken, 0},
		{"expired", func() smartmw.Revocations { return newTestList() }, func(t *testing.T) string { return sign(t, is, expired) }, smartmw.ErrInvalidToken, 0},
		{"not a token", func() smartmw.Revocations { return newTestList() }, func(*testing.T) string { return "garbage" }, smartmw.ErrInvalidToken, 0},
		{"no Revocations", func() smartmw.Revocations { return nil }, func(t *testing.T) string { return sign(t, is, goodClaims(is)) }, smartmw.ErrMisconfigured, 0},
		{"the store fails", func() smartmw.Revocations { return &failingRevocations{err: refused} },
			func(t *testing.T) string { return sign(t, is, goodClaims(is)) }, smartmw.ErrUnavailable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := tc.store()
			g := newGuard(t, is, withRevocations(store))
			err := g.Revoke(context.Background(), tc.tok(t))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Revoke: %v, want %v", err, tc.want)
			}
			if l, ok := store.(*smartmw.RevocationList); ok && l.Len() != tc.len {
				t.Fatalf("%d entries, want %d", l.Len(), tc.len)
			}
		})
	}
}

// TestRevokedTokenAudited: the audit event of a revoked token's request
// says why it was refused and whose token it was.
func TestRevokedTokenAudited(t *testing.T) {
	is := newIssuer(t)
	l := newTestList()
	var events []smartmw.AuditEvent
	g := newGuard(t, is, withRevocations(l, func(c *smartmw.Config) {
		c.Hooks.Audit = func(_ context.Context, e smartmw.AuditEvent) { events = append(events, e) }
	}))
	h := g.Handler(emptyBundle)
	tok := sign(t, is, goodClaims(is))
	if err := g.Revoke(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	wantRevoked(t, searchWith(h, tok))
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	e := events[0]
	if e.Outcome != smartmw.OutcomeRefused || e.Kind != smartmw.ErrInvalidToken || e.Reason != "the token has been revoked" ||
		e.Status != http.StatusUnauthorized || e.Issuer != is.URL() || e.Subject != "user-1" || e.ClientID != "app-1" {
		t.Fatalf("event %+v", e)
	}
}

// BenchmarkRevocations measures a cached user/ search (as
// BenchmarkChain/user-search) without Revocations, with an empty
// RevocationList, and with one holding 10000 other tokens by jti and as
// many by hash.
func BenchmarkRevocations(b *testing.B) {
	is := newIssuer(b)
	full := smartmw.NewRevocationList(smartmw.RevocationListOptions{Now: fixedNow})
	for i := range 10000 {
		if err := full.Revoke(context.Background(), smartmw.TokenRef{Issuer: is.URL(), JTI: fmt.Sprint("other-", i),
			SHA256: sha256.Sum256(fmt.Append(nil, "other-", i)), ExpiresAt: testNow.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	bundle := []byte(`{"resourceType":"Bundle","type":"searchset","entry":[]}`)
	user := goodClaims(is)
	user["scope"] = "user/Observation.rs"
	tok := sign(b, is, user)
	for _, bc := range []struct {
		name string
		list smartmw.Revocations
	}{
		{"none", nil},
		{"empty-list", newTestList()},
		{"list-10000", full},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g := newGuard(b, is, withRevocations(bc.list))
			h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(bundle) }))
			req := httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=123", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			w := &nopWriter{h: http.Header{}}
			h.ServeHTTP(w, req) // fill the cache
			if len(w.h["Www-Authenticate"]) > 0 {
				b.Fatal("refused")
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkRevocationListRevoked measures RevocationList.Revoked alone, as
// the Guard calls it for a token with a jti: on an empty list, and on one
// holding 10000 revocations by jti and 10000 by hash, for a token it
// lists and one it does not.
func BenchmarkRevocationListRevoked(b *testing.B) {
	is := newIssuer(b)
	ctx := context.Background()
	full := smartmw.NewRevocationList(smartmw.RevocationListOptions{Now: fixedNow})
	for i := range 10000 {
		if err := full.Revoke(ctx, smartmw.TokenRef{Issuer: is.URL(), JTI: fmt.Sprint("other-", i),
			SHA256: sha256.Sum256(fmt.Append(nil, "other-", i)), ExpiresAt: testNow.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	miss := smartmw.TokenRef{Issuer: is.URL(), JTI: "5b1f3c9e-8d2a-4f61-9c3e-7a0b2d4e6f81", SHA256: sha256.Sum256([]byte("tok")), ExpiresAt: testNow.Add(time.Hour)}
	hit := miss
	hit.JTI = "other-42"
	for _, bc := range []struct {
		name string
		l    *smartmw.RevocationList
		ref  smartmw.TokenRef
		want bool
	}{
		{"empty", newTestList(), miss, false},
		{"20000/not-listed", full, miss, false},
		{"20000/listed", full, hit, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got, _ := bc.l.Revoked(ctx, bc.ref); got != bc.want {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}
