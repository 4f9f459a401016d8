package middleware_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
)

func TestTokenExtraction(t *testing.T) {
	is := newIssuer(t)
	tok := sign(t, is, goodClaims(is))
	form := func(method, body string) *http.Request {
		r := httptest.NewRequest(method, "/r4/Observation/_search", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	tests := []struct {
		name      string
		req       func() *http.Request
		formBody  bool
		status    int
		challenge string // WWW-Authenticate, or "" when not checked
	}{
		{name: "bearer", req: func() *http.Request { return bearerRequest(tok) }, status: 204},
		{name: "lower-case scheme", req: func() *http.Request {
			r := httptest.NewRequest("GET", "/r4/Patient/123", nil)
			r.Header.Set("Authorization", "bearer "+tok)
			return r
		}, status: 204},
		{name: "no credentials", req: func() *http.Request { return httptest.NewRequest("GET", "/r4/Patient", nil) },
			status: 401, challenge: `Bearer realm="fhir"`},
		{name: "basic scheme", req: func() *http.Request {
			r := httptest.NewRequest("GET", "/r4/Patient", nil)
			r.SetBasicAuth("u", "p")
			return r
		}, status: 401, challenge: `Bearer realm="fhir"`},
		{name: "DPoP scheme", req: func() *http.Request {
			r := httptest.NewRequest("GET", "/r4/Patient", nil)
			r.Header.Set("Authorization", "DPoP "+tok)
			return r
		}, status: 401, challenge: `Bearer realm="fhir"`},
		{name: "empty token", req: func() *http.Request {
			r := httptest.NewRequest("GET", "/r4/Patient", nil)
			r.Header.Set("Authorization", "Bearer ")
			return r
		}, status: 400, challenge: `Bearer realm="fhir", error="invalid_request", error_description="malformed Bearer credentials"`},
		{name: "bad characters", req: func() *http.Request { return bearerRequest(tok + "!") }, status: 400},
		{name: "extra part", req: func() *http.Request { return bearerRequest(tok + " x") }, status: 400},
		{name: "two headers", req: func() *http.Request {
			r := bearerRequest(tok)
			r.Header.Add("Authorization", "Bearer "+tok)
			return r
		}, status: 400},
		{name: "header and query", req: func() *http.Request {
			r := httptest.NewRequest("GET", "/r4/Patient?access_token="+tok, nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}, status: 400, challenge: `Bearer realm="fhir", error="invalid_request", error_description="access token sent more than one way"`},
		{name: "header and encoded query", req: func() *http.Request {
			r := httptest.NewRequest("GET", "/r4/Patient?access%5Ftoken="+tok, nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}, status: 400},
		{name: "query only", req: func() *http.Request { return httptest.NewRequest("GET", "/r4/Patient?access_token="+tok, nil) }, status: 400},
		{name: "form body when off", req: func() *http.Request { return form("POST", "access_token="+tok) }, status: 401},
		{name: "form body", req: func() *http.Request { return form("POST", "code=1&access_token="+tok) }, formBody: true, status: 204},
		{name: "form body on GET", req: func() *http.Request { return form("GET", "access_token="+tok) }, formBody: true, status: 400},
		{name: "form body twice", req: func() *http.Request { return form("POST", "access_token="+tok+"&access_token="+tok) }, formBody: true, status: 400},
		{name: "header and form body", req: func() *http.Request {
			r := form("POST", "access_token="+tok)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}, formBody: true, status: 400},
		{name: "form body of another type", req: func() *http.Request {
			r := form("POST", "access_token="+tok)
			r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
			return r
		}, formBody: true, status: 401},
	}
	strict, withForm := newGuard(t, is, nil), newGuard(t, is, func(c *smartmw.Config) { c.Tokens.FormBody = true })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := strict
			if tc.formBody {
				m = withForm
			}
			rec, g := authenticateOnly(m, tc.req())
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			if (g != nil) != (tc.status == 204) {
				t.Errorf("grant %v with status %d", g, rec.Code)
			}
			if tc.challenge != "" && rec.Header().Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("WWW-Authenticate = %s, want %s", rec.Header().Get("WWW-Authenticate"), tc.challenge)
			}
			if tc.status != 204 && rec.Header().Get("Content-Type") != "application/fhir+json" {
				t.Errorf("Content-Type = %s", rec.Header().Get("Content-Type"))
			}
			if strings.Contains(rec.Body.String(), tok) || strings.Contains(rec.Header().Get("WWW-Authenticate"), tok) {
				t.Error("the response echoes the token")
			}
		})
	}
}

// TestFormBodyIsRestored: the next handler reads the whole form body.
func TestFormBodyIsRestored(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, func(c *smartmw.Config) { c.Tokens.FormBody = true })
	tok := sign(t, is, goodClaims(is))
	body := "patient=123&access_token=" + tok + "&code=" + url.QueryEscape("http://loinc.org|1234-5")
	r := httptest.NewRequest("POST", "/r4/Observation/_search", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	var got string
	h := m.AuthenticateOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
	}))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != body {
		t.Errorf("next handler read %q, want %q", got, body)
	}
}

// TestMalformedTokenRefusedFirst: the characters of a header's token are
// checked after the cache is asked (a cached token passed the check), yet
// a malformed token is refused as malformed before anything else it gets
// wrong, whether cached tokens are kept or not, too large, or sent with
// another token.
func TestMalformedTokenRefusedFirst(t *testing.T) {
	is := newIssuer(t)
	tok := sign(t, is, goodClaims(is))
	bad := tok[:20] + "!" + tok[20:]
	const malformed = `Bearer realm="fhir", error="invalid_request", error_description="malformed Bearer credentials"`
	guards := []struct {
		name string
		m    *smartmw.Guard
	}{
		{"cache", newGuard(t, is, nil)},
		{"no cache", newGuard(t, is, func(c *smartmw.Config) { c.Cache.Disable = true })},
		{"form tokens", newGuard(t, is, func(c *smartmw.Config) { c.Tokens.FormBody = true })},
		{"small tokens", newGuard(t, is, func(c *smartmw.Config) { c.Bounds.MaxTokenSize = 64 })},
	}
	reqs := []struct {
		name string
		req  func() *http.Request
	}{
		{"bad character", func() *http.Request { return bearerRequest(bad) }},
		{"bad character and a query token", func() *http.Request {
			r := httptest.NewRequest("GET", "/r4/Patient?access_token="+tok, nil)
			r.Header.Set("Authorization", "Bearer "+bad)
			return r
		}},
		{"bad character, after the good token", func() *http.Request { return bearerRequest(bad) }},
	}
	for _, g := range guards {
		// The good token first, so that a cache holds it.
		if rec, _ := authenticateOnly(g.m, bearerRequest(tok)); g.name != "small tokens" && rec.Code != 204 {
			t.Fatalf("%s: the good token got %d", g.name, rec.Code)
		}
		for _, r := range reqs {
			rec, gr := authenticateOnly(g.m, r.req())
			if rec.Code != 400 || gr != nil || rec.Header().Get("WWW-Authenticate") != malformed {
				t.Errorf("%s, %s: %d %q", g.name, r.name, rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
		}
	}
}
