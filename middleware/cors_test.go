package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
)

const appOrigin = "https://app.example.org"

// corsChain is CORS in front of the Middleware in front of a handler
// that must only be reached with a grant.
func corsChain(t *testing.T, reached *bool) http.Handler {
	m := newGuard(t, newIssuer(t), nil)
	return smartmw.CORS(appOrigin)(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*reached = true
	})))
}

func preflight(origin string) *http.Request {
	r := httptest.NewRequest(http.MethodOptions, "/r4/Observation", nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", "GET")
	r.Header.Set("Access-Control-Request-Headers", "authorization, if-none-match")
	return r
}

func TestCORSPreflightFromAllowedOrigin(t *testing.T) {
	var reached bool
	rec := httptest.NewRecorder()
	corsChain(t, &reached).ServeHTTP(rec, preflight(appOrigin))
	if rec.Code/100 != 2 || reached {
		t.Fatalf("status %d, handler reached %v", rec.Code, reached)
	}
	h := rec.Header()
	if h.Get("Access-Control-Allow-Origin") != appOrigin {
		t.Errorf("Allow-Origin %q", h.Get("Access-Control-Allow-Origin"))
	}
	if got := strings.ToLower(h.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") || !strings.Contains(got, "if-none-match") {
		t.Errorf("Allow-Headers %q", got)
	}
	if h.Get("WWW-Authenticate") != "" || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("preflight reached authentication or allows credentials")
	}
}

func TestCORSPreflightFromUnknownOrigin(t *testing.T) {
	var reached bool
	rec := httptest.NewRecorder()
	corsChain(t, &reached).ServeHTTP(rec, preflight("https://evil.example.org"))
	if reached || rec.Header().Get("Access-Control-Allow-Origin") != "" || rec.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("unknown origin: reached %v, headers %v", reached, rec.Header())
	}
}

func TestCORSNoOriginsAllowsNone(t *testing.T) {
	rec := httptest.NewRecorder()
	smartmw.CORS()(http.NotFoundHandler()).ServeHTTP(rec, preflight(appOrigin))
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Error("smartmw.CORS() allows an origin")
	}
}

func TestCORSExposesWWWAuthenticateOn401(t *testing.T) {
	var reached bool
	r := httptest.NewRequest(http.MethodGet, "/r4/Observation", nil)
	r.Header.Set("Origin", appOrigin)
	rec := httptest.NewRecorder()
	corsChain(t, &reached).ServeHTTP(rec, r)
	if rec.Code != http.StatusUnauthorized || reached {
		t.Fatalf("status %d, reached %v", rec.Code, reached)
	}
	h := rec.Header()
	if h.Get("Access-Control-Allow-Origin") != appOrigin || h.Get("WWW-Authenticate") != `Bearer realm="fhir"` {
		t.Errorf("headers %v", h)
	}
	if !strings.Contains(h.Get("Access-Control-Expose-Headers"), "Www-Authenticate") && !strings.Contains(h.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("Expose-Headers %q", h.Get("Access-Control-Expose-Headers"))
	}
}
