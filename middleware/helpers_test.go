package middleware

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://auth.example.org/realms/fhir"
	testAudience = "https://fhir.example.org/r4"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

var (
	rsaKeys = sync.OnceValue(func() [2]*rsa.PrivateKey { return [2]*rsa.PrivateKey{genRSA(), genRSA()} })
)

func genRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// rsaKey is the issuer's signing key; otherRSAKey belongs to someone else.
func rsaKey() *rsa.PrivateKey      { return rsaKeys()[0] }
func otherRSAKey() *rsa.PrivateKey { return rsaKeys()[1] }

// goodClaims are the claims of a valid SMART access token.
func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":       testIssuer,
		"aud":       testAudience,
		"sub":       "user-1",
		"client_id": "app-1",
		"jti":       "j1",
		"iat":       testNow.Add(-time.Minute).Unix(),
		"exp":       testNow.Add(time.Hour).Unix(),
		"scope":     "launch/patient patient/Observation.rs openid fhirUser",
		"patient":   "123",
	}
}

// mint signs claims with key under method, with header fields hdr added
// (a nil value removes the field). The kid defaults to "k1", typ to
// "at+jwt".
func mint(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims, hdr map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = "k1"
	tok.Header["typ"] = "at+jwt"
	for k, v := range hdr {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rs256 mints an RS256 token with the issuer's key.
func rs256(t testing.TB, claims jwt.MapClaims) string {
	return mint(t, jwt.SigningMethodRS256, rsaKey(), claims, nil)
}

// staticKey is a Keyfunc that always returns the issuer's public key.
func staticKey(*jwt.Token) (any, error) { return &rsaKey().PublicKey, nil }

// newTest returns a Middleware on the fixed clock with the static key,
// after letting adjust change the Config.
func newTest(t testing.TB, adjust func(*Config)) *Guard {
	t.Helper()
	cfg := Config{Issuer: Issuer{
		URL:      testIssuer,
		Audience: testAudience,
		Keyfunc:  staticKey,
	}, Tokens: TokenOptions{Now: fixedNow}}
	if adjust != nil {
		adjust(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// b64 is base64url without padding.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk renders the public key of k as a JWK with kid and extra fields.
func jwk(k crypto.Signer, kid string, extra map[string]any) map[string]any {
	m := map[string]any{"kid": kid}
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64(pub.N.Bytes())
		m["e"] = b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		m["kty"] = "EC"
		m["crv"] = pub.Curve.Params().Name
		size := (pub.Curve.Params().BitSize + 7) / 8
		m["x"] = b64(pub.X.FillBytes(make([]byte, size)))
		m["y"] = b64(pub.Y.FillBytes(make([]byte, size)))
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = b64(pub)
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// fakeAS is an authorization server on httptest: discovery documents and
// a JWKS that tests may change.
type fakeAS struct {
	srv       *httptest.Server
	mu        sync.Mutex
	keys      []map[string]any
	jwksHits  atomic.Int32
	failJWKS  atomic.Bool
	oidc      bool // serve /.well-known/openid-configuration
	rfc8414   bool // serve /.well-known/oauth-authorization-server
	metaIss   string
	jwksBytes []byte // when set, served instead of keys
	cacheCtl  string // Cache-Control of the JWKS response
	// introspection is the introspection_endpoint of the metadata.
	introspection string
}

func newFakeAS(t testing.TB, keys ...map[string]any) *fakeAS {
	t.Helper()
	as := &fakeAS{keys: keys, oidc: true}
	as.srv = httptest.NewServer(http.HandlerFunc(as.serve))
	t.Cleanup(as.srv.Close)
	return as
}

// issuer is the issuer URL of the fake server (a loopback http URL).
func (as *fakeAS) issuer() string { return as.srv.URL + "/realms/fhir" }

func (as *fakeAS) setKeys(keys ...map[string]any) {
	as.mu.Lock()
	as.keys = keys
	as.mu.Unlock()
}

func (as *fakeAS) serve(w http.ResponseWriter, r *http.Request) {
	meta := func() {
		iss := as.metaIss
		if iss == "" {
			iss = as.issuer()
		}
		meta := map[string]string{"issuer": iss, "jwks_uri": as.srv.URL + "/jwks"}
		if as.introspection != "" {
			meta["introspection_endpoint"] = as.introspection
		}
		json.NewEncoder(w).Encode(meta)
	}
	switch r.URL.Path {
	case "/realms/fhir/.well-known/openid-configuration":
		if !as.oidc {
			http.NotFound(w, r)
			return
		}
		meta()
	case "/.well-known/oauth-authorization-server/realms/fhir":
		if !as.rfc8414 {
			http.NotFound(w, r)
			return
		}
		meta()
	case "/jwks":
		as.jwksHits.Add(1)
		if as.cacheCtl != "" {
			w.Header().Set("Cache-Control", as.cacheCtl)
		}
		if as.failJWKS.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if as.jwksBytes != nil {
			w.Write(as.jwksBytes)
			return
		}
		as.mu.Lock()
		defer as.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"keys": as.keys})
	default:
		http.NotFound(w, r)
	}
}

// wantInvalid checks that Verify refuses tok as invalid_token, also
// matching each of causes.
func wantInvalid(t *testing.T, m *Guard, tok string, causes ...error) {
	t.Helper()
	g, err := m.Verify(context.Background(), tok)
	if g != nil || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify = %v, %v; want an ErrInvalidToken", g, err)
	}
	for _, c := range causes {
		if !errors.Is(err, c) {
			t.Errorf("error %v does not match %v", err, c)
		}
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || e.Code != CodeInvalidToken {
		t.Errorf("error = %#v, want 401 invalid_token", e)
	}
	if strings.Contains(e.Description, tok) || len(e.Description) > 60 {
		t.Errorf("description %q is not short and safe", e.Description)
	}
}

func withIss(c jwt.MapClaims, iss string) jwt.MapClaims {
	c["iss"] = iss
	return c
}

// newFromAS returns a Middleware that gets its keys from as, discovering
// them unless adjust sets JWKSURL.
func newFromAS(t *testing.T, as *fakeAS, adjust func(*Config)) *Guard {
	t.Helper()
	return newTest(t, func(c *Config) {
		c.Issuer.URL, c.Issuer.Keyfunc = as.issuer(), nil
		c.Hooks.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if adjust != nil {
			adjust(c)
		}
	})
}

func asToken(t *testing.T, as *fakeAS, method jwt.SigningMethod, key any, hdr map[string]any) string {
	return mint(t, method, key, withIss(goodClaims(), as.issuer()), hdr)
}

// recordLog is a slog.Handler that keeps the records.
type recordLog struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r)
	h.mu.Unlock()
	return nil
}
func (h *recordLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordLog) WithGroup(string) slog.Handler      { return h }

// count returns the number of records at level.
func (h *recordLog) count(level slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if r.Level == level {
			n++
		}
	}
	return n
}
