package middleware_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/dpop"
	"github.com/smartguard/smartguard/internal/dpoptest"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// The URL a DPoP client addresses: testAudience's host and path.
const dpopTarget = "https://fhir.example.org/r4/Patient/1"

var (
	dpopKeyES256 = sync.OnceValue(func() *dpoptest.Key { return mustKey("ES256") })
	dpopKeyOther = sync.OnceValue(func() *dpoptest.Key { return mustKey("ES256") })
	dpopKeyES384 = sync.OnceValue(func() *dpoptest.Key { return mustKey("ES384") })
)

func mustKey(alg string) *dpoptest.Key {
	k, err := dpoptest.NewKey(alg)
	if err != nil {
		panic(err)
	}
	return k
}

// boundClaims are the claims of a user/ token bound to k (no patient, so
// that reads pass without the response guard).
func boundClaims(is *smarttest.Issuer, k *dpoptest.Key) jwt.MapClaims {
	c := goodClaims(is)
	delete(c, "patient")
	c["scope"] = "user/*.rs"
	if k != nil {
		c["cnf"] = map[string]any{"jkt": k.Thumbprint}
	}
	return c
}

// dpopGuard returns a Guard whose issuer has mode, after adjust. Its
// ErrorHandler records the last error into *last (when last is not nil).
func dpopGuard(t testing.TB, is *smarttest.Issuer, mode smartmw.DPoPMode, last *error, adjust func(*smartmw.Config)) *smartmw.Guard {
	t.Helper()
	return newGuard(t, is, func(c *smartmw.Config) {
		c.Issuer.DPoP = mode
		if last != nil {
			c.Hooks.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
				*last = err
				smartmw.WriteError(w, smartmw.DefaultRealm, err)
			}
		}
		if adjust != nil {
			adjust(c)
		}
	})
}

// proofFor mints a proof by k for method and htu with token, created at
// testNow, its claims and header changed by the maps (nil removes).
func proofFor(t testing.TB, k *dpoptest.Key, method, htu, token string, claims, header map[string]any) string {
	t.Helper()
	c := dpoptest.Claims(method, htu, token, testNow)
	for n, v := range claims {
		if v == nil {
			delete(c, n)
		} else {
			c[n] = v
		}
	}
	p, err := k.Proof(c, header)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// dpopRequest is GET dpopTarget with "Authorization: DPoP tok" and the
// proofs given (none, one or several DPoP headers).
func dpopRequest(tok string, proofs ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, dpopTarget, nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return r
}

// ok200 answers 200 "ok" to what reaches it.
var ok200 = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })

func run(g *smartmw.Guard, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	g.Handler(ok200).ServeHTTP(rec, r)
	return rec
}

func TestDPoPAcceptsBoundTokenWithItsProof(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	g := dpopGuard(t, is, smartmw.DPoPAllowed, nil, nil)
	tok := sign(t, is, boundClaims(is, k))
	var grant *smartctx.Grant
	h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		grant, _ = smartctx.FromContext(r.Context())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil)))
	if rec.Code != http.StatusOK || grant == nil || grant.Subject() != "user-1" {
		t.Fatalf("status %d, grant %v; body %s", rec.Code, grant, rec.Body)
	}
	if rec.Header().Get("DPoP-Nonce") != "" {
		t.Error("a DPoP-Nonce without nonces configured")
	}
}

// dpopAttack is one request that must be refused, and how.
type dpopAttack struct {
	name   string
	req    func(t *testing.T, tok string) *http.Request
	status int    // default 401
	kind   error  // default ErrInvalidProof
	desc   string // the error_description
	// inBearer: the error goes in the Bearer challenge (the request used
	// the Bearer scheme).
	inBearer bool
}

// withProof is a request with a proof by k whose claims and header are
// changed.
func withProof(k *dpoptest.Key, claims, header map[string]any) func(t *testing.T, tok string) *http.Request {
	return func(t *testing.T, tok string) *http.Request {
		return dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, claims, header))
	}
}

// TestDPoPRefuses runs one attack per check of RFC 9449 §4.3 (SPEC §10,
// items 97-109) through Handler: each request differs from an accepted one
// in that check only, and is refused with the error and the challenge
// that check gives.
func TestDPoPRefuses(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	attacks := []dpopAttack{
		{name: "no DPoP header", req: func(t *testing.T, tok string) *http.Request { return dpopRequest(tok) }, desc: "DPoP proof required"},
		{name: "two DPoP headers", req: func(t *testing.T, tok string) *http.Request {
			p := proofFor(t, k, "GET", dpopTarget, tok, nil, nil)
			return dpopRequest(tok, p, p)
		}, desc: "more than one DPoP header"},
		{name: "two proofs in one DPoP header", req: func(t *testing.T, tok string) *http.Request {
			p := proofFor(t, k, "GET", dpopTarget, tok, nil, nil)
			return dpopRequest(tok, p+", "+p)
		}, desc: "DPoP proof malformed"},
		{name: "not a JWT", req: func(t *testing.T, tok string) *http.Request { return dpopRequest(tok, "proof") }, desc: "DPoP proof malformed"},
		{name: "typ JWT", req: withProof(k, nil, map[string]any{"typ": "JWT"}), desc: "DPoP proof typ is not dpop+jwt"},
		{name: "no typ", req: withProof(k, nil, map[string]any{"typ": nil}), desc: "DPoP proof typ is not dpop+jwt"},
		{name: "alg none", req: func(t *testing.T, tok string) *http.Request {
			h := k.Header()
			h["alg"] = "none"
			p, err := dpoptest.Sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, h, dpoptest.Claims("GET", dpopTarget, tok, testNow))
			if err != nil {
				t.Fatal(err)
			}
			return dpopRequest(tok, p+"AAAA")
		}, desc: "DPoP proof algorithm not accepted"},
		{name: "alg HS256 keyed with the jwk", req: func(t *testing.T, tok string) *http.Request {
			h := k.Header()
			h["alg"] = "HS256"
			p, err := dpoptest.Sign(jwt.SigningMethodHS256, []byte(k.JWK["x"]), h, dpoptest.Claims("GET", dpopTarget, tok, testNow))
			if err != nil {
				t.Fatal(err)
			}
			return dpopRequest(tok, p)
		}, desc: "DPoP proof algorithm not accepted"},
		{name: "alg not in DPoP.Algorithms", req: func(t *testing.T, tok string) *http.Request {
			return dpopRequest(tok, proofFor(t, dpopKeyES384(), "GET", dpopTarget, tok, nil, nil))
		}, desc: "DPoP proof algorithm not accepted"},
		{name: "private key in jwk", req: withProof(k, nil, map[string]any{"jwk": map[string]any{
			"kty": "EC", "crv": "P-256", "x": k.JWK["x"], "y": k.JWK["y"], "d": k.JWK["x"]}}), desc: "DPoP proof jwk holds a private key"},
		{name: "jwk of another curve", req: withProof(k, nil, map[string]any{"jwk": dpopKeyES384().Header()["jwk"]}), desc: "DPoP proof jwk is not a usable public key for its alg"},
		{name: "crit header", req: withProof(k, nil, map[string]any{"crit": []string{"x"}, "x": 1}), desc: "DPoP proof has a critical header this server does not support"},
		{name: "bad signature", req: func(t *testing.T, tok string) *http.Request {
			p := proofFor(t, k, "GET", dpopTarget, tok, nil, nil)
			i := strings.LastIndexByte(p, '.') + 1
			sig, err := base64.RawURLEncoding.DecodeString(p[i:])
			if err != nil {
				t.Fatal(err)
			}
			sig[3] ^= 1 // in the bytes: a changed character could be no base64url at all
			return dpopRequest(tok, p[:i]+base64.RawURLEncoding.EncodeToString(sig))
		}, desc: "DPoP proof signature invalid"},
		{name: "signed by another key than jwk", req: func(t *testing.T, tok string) *http.Request {
			p, err := dpoptest.Sign(jwt.SigningMethodES256, dpopKeyOther().Signer, k.Header(), dpoptest.Claims("GET", dpopTarget, tok, testNow))
			if err != nil {
				t.Fatal(err)
			}
			return dpopRequest(tok, p)
		}, desc: "DPoP proof signature invalid"},
		{name: "no jti", req: withProof(k, map[string]any{"jti": nil}, nil), desc: "DPoP proof lacks jti, htm, htu, iat or ath"},
		{name: "jti too long", req: withProof(k, map[string]any{"jti": strings.Repeat("j", 257)}, nil), desc: "DPoP proof jti too long"},
		{name: "htm POST for GET", req: withProof(k, map[string]any{"htm": "POST"}, nil), desc: "DPoP proof is for another method (htm)"},
		{name: "htu of another host", req: withProof(k, map[string]any{"htu": "https://evil.example.org/r4/Patient/1"}, nil), desc: "DPoP proof is for another URL (htu)"},
		{name: "htu of another path", req: withProof(k, map[string]any{"htu": "https://fhir.example.org/r4/Patient/2"}, nil), desc: "DPoP proof is for another URL (htu)"},
		{name: "htu of another port", req: withProof(k, map[string]any{"htu": "https://fhir.example.org:8443/r4/Patient/1"}, nil), desc: "DPoP proof is for another URL (htu)"},
		{name: "htu of another scheme", req: withProof(k, map[string]any{"htu": "http://fhir.example.org/r4/Patient/1"}, nil), desc: "DPoP proof is for another URL (htu)"},
		{name: "htu path in another case", req: withProof(k, map[string]any{"htu": "https://fhir.example.org/R4/Patient/1"}, nil), desc: "DPoP proof is for another URL (htu)"},
		{name: "htu from the Host header", req: func(t *testing.T, tok string) *http.Request {
			r := dpopRequest(tok, proofFor(t, k, "GET", "https://evil.example.org/r4/Patient/1", tok, nil, nil))
			r.Host = "evil.example.org"
			return r
		}, desc: "DPoP proof is for another URL (htu)"},
		{name: "iat too old", req: withProof(k, map[string]any{"iat": testNow.Add(-smartmw.DefaultDPoPMaxAge - smartmw.DefaultLeeway - time.Second).Unix()}, nil), desc: "DPoP proof too old (iat)"},
		{name: "iat in the future", req: withProof(k, map[string]any{"iat": testNow.Add(smartmw.DefaultLeeway + time.Second).Unix()}, nil), desc: "DPoP proof issued in the future (iat)"},
		{name: "no ath", req: withProof(k, map[string]any{"ath": nil}, nil), desc: "DPoP proof lacks jti, htm, htu, iat or ath"},
		{name: "ath of another token", req: withProof(k, map[string]any{"ath": dpop.AccessTokenHash("another")}, nil), desc: "DPoP proof is for another access token (ath)"},
		{name: "proof by a key the token is not bound to", req: func(t *testing.T, tok string) *http.Request {
			return dpopRequest(tok, proofFor(t, dpopKeyOther(), "GET", dpopTarget, tok, nil, nil))
		}, kind: smartmw.ErrInvalidToken, desc: "Invalid DPoP key binding"},
		{name: "DPoP-bound token as a bearer token", req: func(t *testing.T, tok string) *http.Request {
			r := httptest.NewRequest(http.MethodGet, dpopTarget, nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("DPoP", proofFor(t, k, "GET", dpopTarget, tok, nil, nil))
			return r
		}, kind: smartmw.ErrInvalidToken, desc: "DPoP-bound token presented as a bearer token", inBearer: true},
		{name: "Bearer and DPoP credentials", req: func(t *testing.T, tok string) *http.Request {
			r := dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil))
			r.Header.Add("Authorization", "Bearer "+tok)
			return r
		}, status: http.StatusBadRequest, kind: smartmw.ErrInvalidRequest, desc: "more than one Authorization header", inBearer: true},
		{name: "DPoP credentials and a query token", req: func(t *testing.T, tok string) *http.Request {
			r := dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil))
			r.URL.RawQuery = "access_token=" + tok
			return r
		}, status: http.StatusBadRequest, kind: smartmw.ErrInvalidRequest, desc: "access token sent more than one way"},
		{name: "DPoP scheme without a token", req: func(t *testing.T, tok string) *http.Request {
			r := dpopRequest(tok)
			r.Header.Set("Authorization", "DPoP ")
			return r
		}, status: http.StatusBadRequest, kind: smartmw.ErrInvalidRequest, desc: "malformed DPoP credentials"},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			var last error
			g := dpopGuard(t, is, smartmw.DPoPAllowed, &last, nil)
			tok := sign(t, is, boundClaims(is, k))
			rec := run(g, a.req(t, tok))
			status, kind := a.status, a.kind
			if status == 0 {
				status = http.StatusUnauthorized
			}
			if kind == nil {
				kind = smartmw.ErrInvalidProof
			}
			if rec.Code != status || !errors.Is(last, kind) {
				t.Fatalf("status %d, error %v; want %d, %v", rec.Code, last, status, kind)
			}
			var e *smartmw.Error
			errors.As(last, &e)
			if e.Description != a.desc {
				t.Errorf("description %q, want %q", e.Description, a.desc)
			}
			wantChallenge(t, rec, e, true, a.inBearer)
		})
	}
}

// wantChallenge checks rec's WWW-Authenticate: a Bearer challenge (when
// bearer), then a DPoP one with the default algs, e's error in the one
// the request used.
func wantChallenge(t *testing.T, rec *httptest.ResponseRecorder, e *smartmw.Error, bearer, inBearer bool) {
	t.Helper()
	errPart := `error="` + e.Code + `", error_description="` + e.Description + `"`
	want := `DPoP realm="fhir", ` + errPart + `, algs="ES256"`
	if inBearer {
		want = `DPoP realm="fhir", algs="ES256"`
	}
	if bearer {
		b := `Bearer realm="fhir"`
		if inBearer {
			b += ", " + errPart
		}
		want = b + ", " + want
	}
	if got := rec.Header().Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate:\n got %s\nwant %s", got, want)
	}
}

// TestDPoPNormalisesHTU: spellings of the URL RFC 3986 §6 makes equal are
// accepted, and the query and fragment are ignored.
func TestDPoPNormalisesHTU(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	for _, tc := range []struct{ name, target, htu string }{
		{"host in upper case", dpopTarget, "https://FHIR.Example.ORG/r4/Patient/1"},
		{"default port", dpopTarget, "https://fhir.example.org:443/r4/Patient/1"},
		{"percent-encoded unreserved", dpopTarget, "https://fhir.example.org/r4/Patient/%31"},
		{"query and fragment in htu", dpopTarget, "https://fhir.example.org/r4/Patient/1?x=1#f"},
		{"query of the request ignored", dpopTarget + "?_elements=id", dpopTarget},
		{"request percent-encoding in lower case", "https://fhir.example.org/r4/Patient/a%2fb", "https://fhir.example.org/r4/Patient/a%2Fb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := dpopGuard(t, is, smartmw.DPoPAllowed, nil, nil)
			tok := sign(t, is, boundClaims(is, k))
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			r.Header.Set("Authorization", "DPoP "+tok)
			r.Header.Set("DPoP", proofFor(t, k, "GET", tc.htu, tok, nil, nil))
			var reached bool
			rec := httptest.NewRecorder()
			g.AuthenticateOnly(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })).ServeHTTP(rec, r)
			if !reached {
				t.Fatalf("refused: %d %s", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// TestDPoPUsesTheConfiguredBase: htu is the audience's URL, also when
// Config.Base serves it under another path, never the listener's.
func TestDPoPUsesTheConfiguredBase(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	g := dpopGuard(t, is, smartmw.DPoPAllowed, nil, func(c *smartmw.Config) { c.Base = "/fhir" })
	tok := sign(t, is, boundClaims(is, k))
	for _, tc := range []struct {
		htu  string
		want int
	}{
		{"https://fhir.example.org/r4/Patient/1", 200},
		{"https://fhir.example.org/fhir/Patient/1", 401},
		{"http://internal:8080/fhir/Patient/1", 401},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://internal:8080/fhir/Patient/1", nil)
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", proofFor(t, k, "GET", tc.htu, tok, nil, nil))
		if rec := run(g, r); rec.Code != tc.want {
			t.Errorf("htu %s: status %d, want %d", tc.htu, rec.Code, tc.want)
		}
	}
}

// TestDPoPOutsideEveryBase: AuthenticateOnly on a path under no FHIR base
// checks htu against the one origin of the audiences, and refuses every
// proof when there is none to trust (Config.Base rewrites paths).
func TestDPoPOutsideEveryBase(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	for _, tc := range []struct {
		name   string
		adjust func(*smartmw.Config)
		want   bool
	}{
		{"one origin", nil, true},
		{"a Base that rewrites paths", func(c *smartmw.Config) { c.Base = "/fhir" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := dpopGuard(t, is, smartmw.DPoPAllowed, nil, tc.adjust)
			tok := sign(t, is, boundClaims(is, k))
			const target = "https://fhir.example.org/api/custom"
			r := httptest.NewRequest(http.MethodPost, target, nil)
			r.Header.Set("Authorization", "DPoP "+tok)
			r.Header.Set("DPoP", proofFor(t, k, "POST", target, tok, nil, nil))
			reached := false
			rec := httptest.NewRecorder()
			g.AuthenticateOnly(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })).ServeHTTP(rec, r)
			if reached != tc.want {
				t.Fatalf("reached %v, want %v: %d %s", reached, tc.want, rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// TestDPoPRefusesReplay: a proof is accepted once, on the Guard that saw
// it and on another sharing its Store; a Guard with its own store does
// not know it (which is why replicas must share one).
func TestDPoPRefusesReplay(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	shared := smartmw.NewMemoryStore(100)
	share := func(c *smartmw.Config) { c.DPoP.Store = shared }
	a := dpopGuard(t, is, smartmw.DPoPAllowed, nil, share)
	b := dpopGuard(t, is, smartmw.DPoPAllowed, nil, share)
	alone := dpopGuard(t, is, smartmw.DPoPAllowed, nil, nil)
	tok := sign(t, is, boundClaims(is, k))
	p := proofFor(t, k, "GET", dpopTarget, tok, nil, nil)
	for _, step := range []struct {
		name string
		g    *smartmw.Guard
		want int
	}{
		{"first use", a, 200},
		{"again on the same Guard", a, 401},
		{"on a second Guard sharing the store", b, 401},
		{"on a Guard with its own store", alone, 200},
	} {
		rec := run(step.g, dpopRequest(tok, p))
		if rec.Code != step.want {
			t.Fatalf("%s: status %d, want %d", step.name, rec.Code, step.want)
		}
		if step.want == 401 && !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error_description="DPoP proof already used"`) {
			t.Errorf("%s: challenge %s", step.name, rec.Header().Get("WWW-Authenticate"))
		}
	}
	// A fresh proof of the same key and request is a new proof.
	if rec := run(b, dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil))); rec.Code != 200 {
		t.Errorf("a fresh proof refused: %d", rec.Code)
	}
}

// TestDPoPReplayRaceOneWins: many replicas sharing a store, given one
// proof at once, accept it once (run with -race).
func TestDPoPReplayRaceOneWins(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	shared := smartmw.NewMemoryStore(100)
	var guards []*smartmw.Guard
	for range 4 {
		guards = append(guards, dpopGuard(t, is, smartmw.DPoPAllowed, nil, func(c *smartmw.Config) { c.DPoP.Store = shared }))
	}
	tok := sign(t, is, boundClaims(is, k))
	p := proofFor(t, k, "GET", dpopTarget, tok, nil, nil)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if run(guards[i%len(guards)], dpopRequest(tok, p)).Code == 200 {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("a proof sent 32 times to 4 replicas was accepted %d times, want 1", wins.Load())
	}
}

// failingStore fails every call with err, or blocks until the context is
// done when err is nil.
type failingStore struct{ err error }

func (s failingStore) Add(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if s.err != nil {
		return false, s.err
	}
	<-ctx.Done()
	return false, ctx.Err()
}
func (s failingStore) Put(context.Context, string, []byte, time.Duration) error { return s.err }
func (s failingStore) Get(context.Context, string) ([]byte, bool, error)        { return nil, false, s.err }

// lyingStore answers every Add with ok, recording nothing: the Guard
// follows the store's answer, whatever it is.
type lyingStore struct{ ok bool }

func (s lyingStore) Add(context.Context, string, time.Duration) (bool, error) { return s.ok, nil }
func (lyingStore) Put(context.Context, string, []byte, time.Duration) error   { return nil }
func (lyingStore) Get(context.Context, string) ([]byte, bool, error)          { return nil, false, nil }

// TestDPoPStoreFailureFailsClosed: a store that errors, times out or is
// full makes the request 503 with Retry-After, never an allow.
func TestDPoPStoreFailureFailsClosed(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	full := smartmw.NewMemoryStore(1)
	full.Add(context.Background(), "someone else's record", time.Hour)
	for _, tc := range []struct {
		name  string
		store smartmw.Store
		want  int
	}{
		{"errors", failingStore{err: errors.New("connection refused")}, 503},
		{"times out", failingStore{}, 503},
		{"full", full, 503},
		{"reports the proof as seen", lyingStore{ok: false}, 401},
		{"records it", lyingStore{ok: true}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var last error
			g := dpopGuard(t, is, smartmw.DPoPAllowed, &last, func(c *smartmw.Config) {
				c.DPoP.Store = tc.store
				c.DPoP.StoreTimeout = 20 * time.Millisecond
			})
			tok := sign(t, is, boundClaims(is, k))
			rec := run(g, dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil)))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d (error %v)", rec.Code, tc.want, last)
			}
			if tc.want == 503 && (!errors.Is(last, smartmw.ErrUnavailable) || rec.Header().Get("Retry-After") == "" || rec.Body.String() == "ok") {
				t.Errorf("error %v, Retry-After %q, body %s", last, rec.Header().Get("Retry-After"), rec.Body)
			}
		})
	}
}

// TestDPoPProofCheckedEveryTimeForCachedToken: the token is verified once
// and cached; its proof is checked on every request, and a cached bound
// token is still refused as a bearer token.
func TestDPoPProofCheckedEveryTimeForCachedToken(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	g := dpopGuard(t, is, smartmw.DPoPAllowed, nil, nil)
	tok := sign(t, is, boundClaims(is, k))
	if rec := run(g, dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil))); rec.Code != 200 {
		t.Fatalf("first request: %d", rec.Code)
	}
	if g.CachedTokens() != 1 {
		t.Fatalf("the token was not cached (%d entries)", g.CachedTokens())
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
		want int
	}{
		{"cached token, no proof", dpopRequest(tok), 401},
		{"cached token, proof for another URL", dpopRequest(tok, proofFor(t, k, "GET", dpopTarget+"0", tok, nil, nil)), 401},
		{"cached token, proof of another key", dpopRequest(tok, proofFor(t, dpopKeyOther(), "GET", dpopTarget, tok, nil, nil)), 401},
		{"cached token as a bearer token", bearerAt(tok), 401},
		{"cached token, fresh proof", dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil)), 200},
	} {
		if rec := run(g, tc.r); rec.Code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, rec.Code, tc.want)
		}
	}
}

func bearerAt(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, dpopTarget, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// TestDPoPModes: what each Issuer.DPoP accepts, and the challenge of a
// request without credentials.
func TestDPoPModes(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	type want struct{ bearer, bound, unboundDPoP, boundBearer int }
	for _, tc := range []struct {
		mode      smartmw.DPoPMode
		want      want
		challenge string
	}{
		{smartmw.DPoPOff, want{200, 401, 401, 401}, `Bearer realm="fhir"`},
		{smartmw.DPoPAllowed, want{200, 200, 401, 401}, `Bearer realm="fhir", DPoP realm="fhir", algs="ES256"`},
		{smartmw.DPoPRequired, want{401, 200, 401, 401}, `DPoP realm="fhir", algs="ES256"`},
	} {
		t.Run([]string{"off", "allowed", "required"}[tc.mode], func(t *testing.T) {
			g := dpopGuard(t, is, tc.mode, nil, nil)
			plain := sign(t, is, boundClaims(is, nil))
			bound := sign(t, is, boundClaims(is, k))
			got := want{
				bearer:      run(g, bearerAt(plain)).Code,
				bound:       run(g, dpopRequest(bound, proofFor(t, k, "GET", dpopTarget, bound, nil, nil))).Code,
				unboundDPoP: run(g, dpopRequest(plain, proofFor(t, k, "GET", dpopTarget, plain, nil, nil))).Code,
				boundBearer: run(g, bearerAt(bound)).Code,
			}
			if got != tc.want {
				t.Errorf("bearer, bound, unbound as DPoP, bound as bearer: got %v, want %v", got, tc.want)
			}
			rec := run(g, httptest.NewRequest(http.MethodGet, dpopTarget, nil))
			if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("no credentials: %d %q, want 401 %q", rec.Code, rec.Header().Get("WWW-Authenticate"), tc.challenge)
			}
		})
	}
}

// TestDPoPRefusalsOfTheScheme: the refusals of a token for its scheme,
// with their errors in the right challenge.
func TestDPoPRefusalsOfTheScheme(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	for _, tc := range []struct {
		name     string
		mode     smartmw.DPoPMode
		bound    bool
		dpop     bool
		desc     string
		bearer   bool // the challenge names Bearer too
		inBearer bool
	}{
		{"bearer token with the DPoP scheme", smartmw.DPoPAllowed, false, true, "token is not DPoP-bound", true, false},
		{"bearer token where DPoP is required", smartmw.DPoPRequired, false, false, "this server requires DPoP-bound tokens", false, false},
		{"bound token as bearer where DPoP is required", smartmw.DPoPRequired, true, false, "DPoP-bound token presented as a bearer token", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var last error
			g := dpopGuard(t, is, tc.mode, &last, nil)
			var tok string
			if tc.bound {
				tok = sign(t, is, boundClaims(is, k))
			} else {
				tok = sign(t, is, boundClaims(is, nil))
			}
			r := bearerAt(tok)
			if tc.dpop {
				r = dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil))
			}
			rec := run(g, r)
			var e *smartmw.Error
			if rec.Code != 401 || !errors.As(last, &e) || !errors.Is(last, smartmw.ErrInvalidToken) || e.Description != tc.desc {
				t.Fatalf("status %d, error %v; want 401 invalid_token %q", rec.Code, last, tc.desc)
			}
			wantChallenge(t, rec, e, tc.bearer, tc.inBearer)
		})
	}
}

// TestDPoPOffRefusesBoundTokensAsBefore: without DPoP, a token with cnf
// is refused, and the DPoP scheme is not credentials at all.
func TestDPoPOffRefusesBoundTokensAsBefore(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	var last error
	g := dpopGuard(t, is, smartmw.DPoPOff, &last, nil)
	tok := sign(t, is, boundClaims(is, k))
	if rec := run(g, bearerAt(tok)); rec.Code != 401 || !errors.Is(last, smartmw.ErrInvalidToken) {
		t.Errorf("bound token as bearer: %d %v", rec.Code, last)
	}
	rec := run(g, dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil)))
	if rec.Code != 401 || !errors.Is(last, smartmw.ErrMissingToken) || rec.Header().Get("WWW-Authenticate") != `Bearer realm="fhir"` {
		t.Errorf("DPoP scheme without DPoP: %d %v %q", rec.Code, last, rec.Header().Get("WWW-Authenticate"))
	}
	if rec.Header().Get("DPoP-Nonce") != "" {
		t.Error("a nonce from a Guard without DPoP")
	}
}

// TestDPoPCNFForms: a cnf the Guard cannot check is refused, even from an
// issuer that accepts DPoP.
func TestDPoPCNFForms(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	for _, tc := range []struct {
		name string
		cnf  any
	}{
		{"mTLS certificate thumbprint", map[string]any{"x5t#S256": k.Thumbprint}},
		{"jkt beside an mTLS thumbprint", map[string]any{"jkt": k.Thumbprint, "x5t#S256": k.Thumbprint}},
		{"jkt too short", map[string]any{"jkt": k.Thumbprint[:42]}},
		{"jkt not base64url", map[string]any{"jkt": strings.Repeat("+", 43)}},
		{"jkt a number", map[string]any{"jkt": 1}},
		{"cnf a string", k.Thumbprint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var last error
			g := dpopGuard(t, is, smartmw.DPoPAllowed, &last, nil)
			c := boundClaims(is, k)
			c["cnf"] = tc.cnf
			tok := sign(t, is, c)
			rec := run(g, dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil)))
			if rec.Code != 401 || !errors.Is(last, smartmw.ErrInvalidToken) || !errors.Is(last, smartmw.ErrClaim) {
				t.Fatalf("status %d, error %v; want 401 invalid_token", rec.Code, last)
			}
		})
	}
}

// TestDPoPVerifyRefusesBoundTokens: Verify sees no request, so no proof:
// a bound token is refused there.
func TestDPoPVerifyRefusesBoundTokens(t *testing.T) {
	is := newIssuer(t)
	g := dpopGuard(t, is, smartmw.DPoPAllowed, nil, nil)
	if _, err := g.Verify(context.Background(), sign(t, is, boundClaims(is, dpopKeyES256()))); !errors.Is(err, smartmw.ErrInvalidToken) {
		t.Errorf("Verify of a bound token = %v, want ErrInvalidToken", err)
	}
	if _, err := g.Verify(context.Background(), sign(t, is, boundClaims(is, nil))); err != nil {
		t.Errorf("Verify of a bearer token = %v", err)
	}
}

// TestDPoPNonces: with a NonceKey, a proof without a nonce, or with a
// stale or forged one, is answered use_dpop_nonce with a fresh nonce;
// the nonce works on every replica with the key; a nonce about to expire
// is replaced on a 200.
func TestDPoPNonces(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	key := bytes.Repeat([]byte{1}, 32)
	var now atomic.Pointer[time.Time]
	at := func(d time.Duration) { t := testNow.Add(d); now.Store(&t) }
	at(0)
	var last error
	mk := func(key []byte) *smartmw.Guard {
		return dpopGuard(t, is, smartmw.DPoPAllowed, &last, func(c *smartmw.Config) {
			c.Tokens.Now = func() time.Time { return *now.Load() }
			c.DPoP.NonceKey = key
			c.DPoP.NonceInterval = time.Minute
			c.DPoP.MaxAge = 5 * time.Minute
		})
	}
	g, replica, stranger := mk(key), mk(key), mk(bytes.Repeat([]byte{2}, 32))
	tok := sign(t, is, boundClaims(is, k))
	send := func(g *smartmw.Guard, nonce any) *httptest.ResponseRecorder {
		return run(g, dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, map[string]any{"nonce": nonce, "iat": now.Load().Unix()}, nil)))
	}

	rec := send(g, nil)
	nonce := rec.Header().Get("DPoP-Nonce")
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `DPoP realm="fhir", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`) || nonce == "" {
		t.Fatalf("no nonce: %d %q, DPoP-Nonce %q", rec.Code, rec.Header().Get("WWW-Authenticate"), nonce)
	}
	if !errors.Is(last, smartmw.ErrInvalidProof) {
		t.Errorf("error %v, want ErrInvalidProof", last)
	}
	if rec := send(g, nonce); rec.Code != 200 || rec.Header().Get("DPoP-Nonce") != "" {
		t.Fatalf("with the nonce: %d, DPoP-Nonce %q", rec.Code, rec.Header().Get("DPoP-Nonce"))
	}
	if rec := send(replica, nonce); rec.Code != 200 {
		t.Fatalf("with the nonce on a replica: %d", rec.Code)
	}
	if rec := send(stranger, nonce); rec.Code != 401 || !errors.Is(last, smartmw.ErrInvalidProof) || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="use_dpop_nonce"`) {
		t.Fatalf("a nonce of another key: %d %v", rec.Code, last)
	}
	at(70 * time.Second) // the next interval: still accepted, and replaced
	rec = send(g, nonce)
	fresh := rec.Header().Get("DPoP-Nonce")
	if rec.Code != 200 || fresh == "" || fresh == nonce || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("an old nonce: %d, DPoP-Nonce %q, Cache-Control %q", rec.Code, fresh, rec.Header().Get("Cache-Control"))
	}
	at(130 * time.Second) // two intervals on: stale
	rec = send(g, nonce)
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="use_dpop_nonce", error_description="DPoP proof nonce is not current"`) || rec.Header().Get("DPoP-Nonce") == "" {
		t.Fatalf("a stale nonce: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	// Every 401 of a DPoP base carries the current nonce.
	if rec := run(g, httptest.NewRequest(http.MethodGet, dpopTarget, nil)); rec.Header().Get("DPoP-Nonce") == "" {
		t.Error("no DPoP-Nonce on a 401 without credentials")
	}
}

// TestDPoPInsufficientScopeInTheDPoPChallenge: a 403 of a DPoP request
// carries its error in the DPoP challenge (RFC 9449 §7.1).
func TestDPoPInsufficientScopeInTheDPoPChallenge(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	g := dpopGuard(t, is, smartmw.DPoPAllowed, nil, nil)
	c := boundClaims(is, k)
	c["scope"] = "user/Observation.rs"
	tok := sign(t, is, c)
	rec := run(g, dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil)))
	got := rec.Header().Get("WWW-Authenticate")
	if rec.Code != 403 || !strings.HasPrefix(got, `Bearer realm="fhir", DPoP realm="fhir", error="insufficient_scope"`) || !strings.HasSuffix(got, `algs="ES256"`) {
		t.Fatalf("%d %q", rec.Code, got)
	}
}

// TestDPoPIntrospection: an introspected token bound with cnf.jkt and
// token_type DPoP needs its proof; answers that do not hold together are
// refused.
func TestDPoPIntrospection(t *testing.T) {
	is := newIssuer(t)
	k := dpopKeyES256()
	f := newFakeIntrospection(t)
	answer := func(change func(map[string]any)) map[string]any {
		a := activeAnswer(is)
		delete(a, "patient")
		a["scope"] = "user/*.rs"
		a["token_type"] = "DPoP"
		a["cnf"] = map[string]any{"jkt": k.Thumbprint}
		if change != nil {
			change(a)
		}
		return a
	}
	f.set("bound-opaque", answer(nil))
	f.set("dpop-without-cnf", answer(func(a map[string]any) { delete(a, "cnf") }))
	f.set("bearer-with-cnf", answer(func(a map[string]any) { a["token_type"] = "Bearer" }))
	f.set("no-type-with-cnf", answer(func(a map[string]any) { delete(a, "token_type") }))
	on := newIntrospecting(t, is, f, func(c *smartmw.Config) { c.Issuer.DPoP = smartmw.DPoPAllowed })
	off := newIntrospecting(t, is, f, nil)
	for _, tc := range []struct {
		name  string
		g     *smartmw.Guard
		token string
		r     func(tok string) *http.Request
		want  int
	}{
		{"bound, with its proof", on, "bound-opaque", func(tok string) *http.Request {
			return dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil))
		}, 200},
		{"no token_type, cnf", on, "no-type-with-cnf", func(tok string) *http.Request {
			return dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil))
		}, 200},
		{"bound, proof of another key", on, "bound-opaque", func(tok string) *http.Request {
			return dpopRequest(tok, proofFor(t, dpopKeyOther(), "GET", dpopTarget, tok, nil, nil))
		}, 401},
		{"bound, as a bearer token", on, "bound-opaque", bearerAt, 401},
		{"token_type DPoP without cnf", on, "dpop-without-cnf", func(tok string) *http.Request {
			return dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil))
		}, 401},
		{"token_type Bearer with cnf", on, "bearer-with-cnf", func(tok string) *http.Request {
			return dpopRequest(tok, proofFor(t, k, "GET", dpopTarget, tok, nil, nil))
		}, 401},
		{"bound, issuer without DPoP", off, "bound-opaque", bearerAt, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rec := run(tc.g, tc.r(tc.token)); rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// TestDPoPCORS: browsers may send the DPoP header and read DPoP-Nonce.
func TestDPoPCORS(t *testing.T) {
	is := newIssuer(t)
	g := dpopGuard(t, is, smartmw.DPoPAllowed, nil, func(c *smartmw.Config) { c.AllowedOrigins = []string{"https://app.example.org"} })
	pre := httptest.NewRequest(http.MethodOptions, dpopTarget, nil)
	pre.Header.Set("Origin", "https://app.example.org")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	pre.Header.Set("Access-Control-Request-Headers", "authorization,dpop")
	rec := run(g, pre)
	if allowed := strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers")); !strings.Contains(allowed, "dpop") {
		t.Errorf("preflight allows %q, not DPoP", allowed)
	}
	r := httptest.NewRequest(http.MethodGet, dpopTarget, nil)
	r.Header.Set("Origin", "https://app.example.org")
	rec = run(g, r)
	if exposed := rec.Header().Get("Access-Control-Expose-Headers"); !strings.Contains(exposed, "Dpop-Nonce") && !strings.Contains(exposed, "DPoP-Nonce") {
		t.Errorf("exposed headers %q lack DPoP-Nonce", exposed)
	}
}

// TestDPoPConfig: New refuses DPoP settings that cannot work.
func TestDPoPConfig(t *testing.T) {
	is := newIssuer(t)
	for _, tc := range []struct {
		name   string
		adjust func(*smartmw.Config)
		ok     bool
	}{
		{"defaults", func(c *smartmw.Config) { c.Issuer.DPoP = smartmw.DPoPAllowed }, true},
		{"every algorithm", func(c *smartmw.Config) {
			c.Issuer.DPoP = smartmw.DPoPRequired
			c.DPoP.Algorithms = []string{"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "EdDSA", "Ed25519"}
		}, true},
		{"options without an issuer accepting DPoP", func(c *smartmw.Config) { c.DPoP.MaxAge = time.Minute }, false},
		{"a store without an issuer accepting DPoP", func(c *smartmw.Config) { c.DPoP.Store = smartmw.NewMemoryStore(1) }, false},
		{"HS256", func(c *smartmw.Config) { c.Issuer.DPoP = smartmw.DPoPAllowed; c.DPoP.Algorithms = []string{"HS256"} }, false},
		{"none", func(c *smartmw.Config) { c.Issuer.DPoP = smartmw.DPoPAllowed; c.DPoP.Algorithms = []string{"none"} }, false},
		{"short nonce key", func(c *smartmw.Config) { c.Issuer.DPoP = smartmw.DPoPAllowed; c.DPoP.NonceKey = make([]byte, 31) }, false},
		{"MaxAge too long", func(c *smartmw.Config) { c.Issuer.DPoP = smartmw.DPoPAllowed; c.DPoP.MaxAge = time.Hour }, false},
		{"negative MaxAge", func(c *smartmw.Config) { c.Issuer.DPoP = smartmw.DPoPAllowed; c.DPoP.MaxAge = -time.Second }, false},
		{"unknown mode", func(c *smartmw.Config) { c.Issuer.DPoP = 7 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smartmw.Config{Issuer: smartmw.Issuer{URL: is.URL(), Audience: testAudience, Keyfunc: noKeys}}
			tc.adjust(&cfg)
			_, err := smartmw.New(context.Background(), cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestDPoPKindName(t *testing.T) {
	if got := smartmw.KindName(smartmw.ErrInvalidProof); got != "invalid_dpop_proof" {
		t.Errorf("KindName(ErrInvalidProof) = %q", got)
	}
	e := &smartmw.Error{Status: 401, Code: smartmw.CodeUseDPoPNonce}
	if !errors.Is(e, smartmw.ErrInvalidProof) || errors.Is(e, smartmw.ErrInvalidToken) {
		t.Errorf("use_dpop_nonce is not of kind ErrInvalidProof alone")
	}
}

// TestDPoPWithResourceMetadata: with Config.Hooks.ResourceMetadata, both
// challenges of a 401 name the metadata (RFC 9728 §5.1 allows it with
// DPoP), and the metadata says what the base accepts of DPoP (RFC 9728 §2).
func TestDPoPWithResourceMetadata(t *testing.T) {
	is := newIssuer(t)
	const prm = `resource_metadata="https://fhir.example.org/.well-known/oauth-protected-resource/r4"`
	for _, tc := range []struct {
		mode      smartmw.DPoPMode
		challenge string
		methods   []string
		algs      []string
		required  bool
	}{
		{smartmw.DPoPOff, `Bearer realm="fhir", ` + prm, []string{"header"}, nil, false},
		{smartmw.DPoPAllowed, `Bearer realm="fhir", ` + prm + `, DPoP realm="fhir", algs="ES256", ` + prm, []string{"header"}, []string{"ES256"}, false},
		{smartmw.DPoPRequired, `DPoP realm="fhir", algs="ES256", ` + prm, nil, []string{"ES256"}, true},
	} {
		t.Run([]string{"off", "allowed", "required"}[tc.mode], func(t *testing.T) {
			g := dpopGuard(t, is, tc.mode, nil, func(c *smartmw.Config) { c.Hooks.ResourceMetadata = true })
			rec := run(g, httptest.NewRequest(http.MethodGet, dpopTarget, nil))
			if got := rec.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("challenge:\n got %s\nwant %s", got, tc.challenge)
			}
			docs := g.ProtectedResources()
			if len(docs) != 1 {
				t.Fatalf("%d documents", len(docs))
			}
			d := docs[0]
			if !slices.Equal(d.BearerMethodsSupported, tc.methods) || !slices.Equal(d.DPoPSigningAlgValuesSupported, tc.algs) || d.DPoPBoundAccessTokensRequired != tc.required {
				t.Errorf("metadata %+v", d)
			}
			if err := d.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}
