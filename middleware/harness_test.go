package middleware_test

import (
	"net/http"
	"net/http/httptest"
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
// smarttest options), and a Guard that trusts it (newGuard). Adversarial
// tokens that no option describes (another algorithm, another key under
// the issuer's kid) come from forge, on the same keys.

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

// newIssuer starts a smarttest Issuer on the fixed clock.
func newIssuer(t testing.TB, opts ...smarttest.IssuerOption) *smarttest.Issuer {
	t.Helper()
	return smarttest.NewIssuer(t, append([]smarttest.IssuerOption{smarttest.Clock(fixedNow)}, opts...)...)
}

// newGuard returns a Guard that trusts is, on its clock, after letting
// adjust change the Config.
func newGuard(t testing.TB, is *smarttest.Issuer, adjust func(*smartmw.Config)) *smartmw.Guard {
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
func goodClaims(is *smarttest.Issuer) jwt.MapClaims {
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
// defaults that claims leaves out), and the header fields opts set.
func sign(t testing.TB, is *smarttest.Issuer, claims jwt.MapClaims, opts ...smarttest.TokenOption) string {
	t.Helper()
	all := make([]smarttest.TokenOption, 0, len(claims)+8+len(opts))
	for _, name := range []string{"iss", "aud", "sub", "client_id", "iat", "exp", "jti"} {
		all = append(all, smarttest.Claim(name, nil))
	}
	for k, v := range claims {
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

// bearerRequest is a search of the patient's Observations with tok.
func bearerRequest(tok string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=123", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return req
}
