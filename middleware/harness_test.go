package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// The package's one test harness: an authorization server from smarttest
// on a fixed clock (newIssuer), the claims of a valid SMART access token
// (goodClaims), tokens minted by that server (sign, or is.Token with
// smarttest options), and a Guard that trusts it (newGuard), or one for
// tests that put grants on the context by hand (newAuthz). Adversarial
// tokens that no option describes (another algorithm, an attacker's key
// under the issuer's kid, a JWKS written key by key) come from
// forge_test.go. What these tests need of the package's unexported
// insides, export_test.go exports to them; no internal test mints a
// token.

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

// testAudience is the FHIR base newIssuer's tokens are for.
const testAudience = smarttest.DefaultAudience

// newIssuer starts a smarttest Issuer on the fixed clock.
func newIssuer(t testing.TB, opts ...smarttest.IssuerOption) *smarttest.Issuer {
	t.Helper()
	return smarttest.NewIssuer(t, append([]smarttest.IssuerOption{smarttest.Clock(fixedNow)}, opts...)...)
}

// An authorizationServer is a test's authorization server: a smarttest
// Issuer, or a fakeAS serving the JWKS a test writes.
type authorizationServer interface {
	URL() string      // the issuer identifier
	Audience() string // the FHIR base its tokens are for
	Config() smartmw.Config
}

// newGuard returns a Guard that trusts is, on its clock, after letting
// adjust change the Config.
func newGuard(t testing.TB, is authorizationServer, adjust func(*smartmw.Config)) *smartmw.Guard {
	t.Helper()
	cfg := is.Config()
	if adjust != nil {
		adjust(&cfg)
	}
	g, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// goodClaims are the claims of a valid SMART access token from is.
func goodClaims(is authorizationServer) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":       is.URL(),
		"aud":       is.Audience(),
		"sub":       "user-1",
		"client_id": "app-1",
		"jti":       "j1",
		"iat":       testNow.Add(-time.Minute).Unix(),
		"exp":       testNow.Add(time.Hour).Unix(),
		"scope":     "launch/patient patient/Observation.rs openid fhirUser",
		"patient":   "123",
	}
}

// sign mints a token from is with exactly claims (none of smarttest's
// defaults that claims leaves out; a nil value is a JSON null), and the
// header fields opts set.
func sign(t testing.TB, is *smarttest.Issuer, claims jwt.MapClaims, opts ...smarttest.TokenOption) string {
	t.Helper()
	all := make([]smarttest.TokenOption, 0, len(claims)+8+len(opts))
	for _, name := range []string{"iss", "aud", "sub", "client_id", "iat", "exp", "jti"} {
		all = append(all, smarttest.Claim(name, nil))
	}
	for k, v := range claims {
		if v == nil { // a JSON null, not a missing claim
			v = json.RawMessage("null")
		}
		all = append(all, smarttest.Claim(k, v))
	}
	return is.Token(t, append(all, opts...)...)
}

// authenticateOnly runs req through g.AuthenticateOnly around a handler
// that records the grant it was given.
func authenticateOnly(g *smartmw.Guard, req *http.Request) (*httptest.ResponseRecorder, *smartctx.Grant) {
	var got *smartctx.Grant
	h := g.AuthenticateOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = smartctx.FromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, got
}

// do sends method target with token (Bearer, unless "") and a FHIR JSON
// body (unless "") through h.
func do(t *testing.T, h http.Handler, method, target, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/fhir+json")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// bearerRequest is a search of the patient's Observations with tok.
func bearerRequest(tok string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=123", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return req
}

// jwksOf is the JWKS URL of is: another issuer of the Config that signs
// with is's keys uses it.
func jwksOf(is *smarttest.Issuer) string { return is.URL() + "/jwks.json" }

// noKeys is the Keyfunc of an issuer that signs no token in the test.
func noKeys(*jwt.Token) (any, error) {
	return nil, errors.New("no keys: this issuer signs nothing in the test")
}

// headers are the smarttest options that set the JOSE header fields of
// hdr (a nil value removes one).
func headers(hdr map[string]any) []smarttest.TokenOption {
	opts := make([]smarttest.TokenOption, 0, len(hdr))
	for k, v := range hdr {
		opts = append(opts, smarttest.Header(k, v))
	}
	return opts
}

// wantInvalid checks that Verify refuses tok as invalid_token, also
// matching each of causes.
func wantInvalid(t *testing.T, m *smartmw.Guard, tok string, causes ...error) {
	t.Helper()
	g, err := m.Verify(context.Background(), tok)
	if g != nil || !errors.Is(err, smartmw.ErrInvalidToken) {
		t.Fatalf("Verify = %v, %v; want an ErrInvalidToken", g, err)
	}
	for _, c := range causes {
		if !errors.Is(err, c) {
			t.Errorf("error %v does not match %v", err, c)
		}
	}
	var e *smartmw.Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || e.Code != smartmw.CodeInvalidToken {
		t.Errorf("error = %#v, want 401 invalid_token", e)
	}
	if strings.Contains(e.Description, tok) || len(e.Description) > 60 {
		t.Errorf("description %q is not short and safe", e.Description)
	}
}

// testIssuerURL is the issuer of the Guards made by newAuthz; their tests
// put grants on the context by hand and verify no token.
const testIssuerURL = "https://as.example.org"

// newAuthz returns a Guard for authorization tests: cfg with the test
// issuer, a Keyfunc that verifies nothing, and an Audience from cfg.Base
// when cfg.Base is a URL or a path (on https://ehr.example.org).
func newAuthz(cfg smartmw.Config) (*smartmw.Guard, error) {
	if cfg.Issuer.URL == "" {
		cfg.Issuer.URL = testIssuerURL
	}
	if cfg.Issuer.Keyfunc == nil && cfg.Issuer.JWKSURL == "" {
		cfg.Issuer.Keyfunc = noKeys
	}
	if cfg.Issuer.Audience == "" {
		switch {
		case strings.HasPrefix(cfg.Base, "/"):
			cfg.Issuer.Audience = "https://ehr.example.org" + strings.TrimSuffix(cfg.Base, "/")
			cfg.Base = ""
		case cfg.Base != "":
			cfg.Issuer.Audience, cfg.Base = strings.TrimSuffix(cfg.Base, "/"), ""
		}
	}
	return smartmw.New(context.Background(), cfg)
}
