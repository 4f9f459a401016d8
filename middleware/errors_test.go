package middleware_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
)

func TestErrorIs(t *testing.T) {
	tests := []struct {
		name string
		err  *smartmw.Error
		is   error
		not  []error
	}{
		{name: "missing", err: smartmw.NoTokenError, is: smartmw.ErrMissingToken, not: []error{smartmw.ErrInvalidToken, smartmw.ErrInvalidRequest}},
		{name: "request", err: smartmw.MalformedError, is: smartmw.ErrInvalidRequest, not: []error{smartmw.ErrMissingToken, smartmw.ErrInvalidToken}},
		{name: "token", err: smartmw.InvalidToken("token expired", jwt.ErrTokenExpired), is: smartmw.ErrInvalidToken, not: []error{smartmw.ErrMissingToken, smartmw.ErrInsufficientScope}},
		{name: "scope", err: &smartmw.Error{Status: 403, Code: smartmw.CodeInsufficientScope}, is: smartmw.ErrInsufficientScope, not: []error{smartmw.ErrInvalidToken}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.is) {
				t.Errorf("%v is not %v", tc.err, tc.is)
			}
			for _, n := range tc.not {
				if errors.Is(tc.err, n) {
					t.Errorf("%v is %v", tc.err, n)
				}
			}
		})
	}
	if err := smartmw.InvalidToken("token expired", jwt.ErrTokenExpired); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Error("the cause does not match")
	}
}

func TestChallenge(t *testing.T) {
	tests := []struct {
		name, realm string
		err         *smartmw.Error
		want        string
	}{
		{name: "no token", realm: "fhir", err: smartmw.NoTokenError, want: `Bearer realm="fhir"`},
		{name: "invalid token", realm: "fhir", err: smartmw.InvalidToken("token expired", nil),
			want: `Bearer realm="fhir", error="invalid_token", error_description="token expired"`},
		{name: "scope", realm: "r", err: &smartmw.Error{Status: 403, Code: smartmw.CodeInsufficientScope, Description: "needs scope", Scope: "patient/Observation.rs"},
			want: `Bearer realm="r", error="insufficient_scope", error_description="needs scope", scope="patient/Observation.rs"`},
		{name: "quotes, backslashes and controls dropped", realm: `a"b\c`, err: smartmw.InvalidToken("bad \"x\"\r\n\\é", nil),
			want: `Bearer realm="abc", error="invalid_token", error_description="bad x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := smartmw.Challenge(tc.realm, tc.err); got != tc.want {
				t.Errorf("Challenge = %s\nwant        %s", got, tc.want)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		status    int
		code      string // OperationOutcome issue code
		challenge bool
	}{
		{name: "missing", err: smartmw.NoTokenError, status: 401, code: "login", challenge: true},
		{name: "malformed", err: smartmw.MalformedError, status: 400, code: "invalid", challenge: true},
		{name: "expired", err: smartmw.InvalidToken("token expired", jwt.ErrTokenExpired), status: 401, code: "expired", challenge: true},
		{name: "bad signature", err: smartmw.InvalidToken("token signature not verified", nil), status: 401, code: "security", challenge: true},
		{name: "scope", err: &smartmw.Error{Status: 403, Code: smartmw.CodeInsufficientScope}, status: 403, code: "forbidden", challenge: true},
		{name: "not an *Error", err: errors.New("secret detail"), status: 500, code: "exception"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			smartmw.DefaultErrorHandler(rec, httptest.NewRequest("GET", "/", nil), tc.err)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if got := rec.Header().Get("WWW-Authenticate") != ""; got != tc.challenge {
				t.Errorf("challenge present %v, want %v", got, tc.challenge)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/fhir+json" {
				t.Errorf("Content-Type %s", ct)
			}
			var oo struct {
				ResourceType string
				Issue        []struct{ Severity, Code, Diagnostics string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if oo.Issue[0].Code != tc.code || oo.Issue[0].Severity != "error" {
				t.Errorf("issue %+v, want code %s", oo.Issue[0], tc.code)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Error("error response may be cached")
			}
		})
	}
}

func TestCustomErrorHandlerAndRealm(t *testing.T) {
	var got error
	is := newIssuer(t)
	m := newGuard(t, is, func(c *smartmw.Config) {
		c.Hooks.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusTeapot)
		}
	})
	rec, _ := authenticateOnly(m, httptest.NewRequest("GET", "/r4/Patient/1", nil))
	if rec.Code != http.StatusTeapot || !errors.Is(got, smartmw.ErrMissingToken) {
		t.Errorf("status %d, err %v", rec.Code, got)
	}
	m = newGuard(t, is, func(c *smartmw.Config) { c.Hooks.Realm = "ehr" })
	rec, _ = authenticateOnly(m, httptest.NewRequest("GET", "/r4/Patient/1", nil))
	if h := rec.Header().Get("WWW-Authenticate"); h != `Bearer realm="ehr"` {
		t.Errorf("WWW-Authenticate %s", h)
	}
}

// TestDefaultErrorHandlerIsTheGuards: a Guard configured with
// smartmw.DefaultErrorHandler answers exactly as one configured with none, for a
// GET and a HEAD.
func TestDefaultErrorHandlerIsTheGuards(t *testing.T) {
	is := newIssuer(t)
	implicit := newGuard(t, is, nil).Handler(http.NotFoundHandler())
	explicit := newGuard(t, is, func(c *smartmw.Config) { c.Hooks.ErrorHandler = smartmw.DefaultErrorHandler }).Handler(http.NotFoundHandler())
	for _, method := range []string{"GET", "HEAD"} {
		var got [2]*httptest.ResponseRecorder
		for i, h := range []http.Handler{implicit, explicit} {
			got[i] = httptest.NewRecorder()
			h.ServeHTTP(got[i], httptest.NewRequest(method, testAudience+"/Observation/1", nil))
		}
		if got[0].Code != http.StatusUnauthorized || got[0].Code != got[1].Code ||
			fmt.Sprint(got[0].Header()) != fmt.Sprint(got[1].Header()) || got[0].Body.String() != got[1].Body.String() {
			t.Errorf("%s: the Guard's own %d %v %q, smartmw.DefaultErrorHandler's %d %v %q", method,
				got[0].Code, got[0].Header(), got[0].Body, got[1].Code, got[1].Header(), got[1].Body)
		}
		if method == "HEAD" && got[1].Body.Len() != 0 {
			t.Errorf("HEAD answered with a body: %q", got[1].Body)
		}
	}
}
