package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestErrorIs(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		is   error
		not  []error
	}{
		{name: "missing", err: errNoToken, is: ErrMissingToken, not: []error{ErrInvalidToken, ErrInvalidRequest}},
		{name: "request", err: errMalformed, is: ErrInvalidRequest, not: []error{ErrMissingToken, ErrInvalidToken}},
		{name: "token", err: invalidToken("token expired", jwt.ErrTokenExpired), is: ErrInvalidToken, not: []error{ErrMissingToken, ErrInsufficientScope}},
		{name: "scope", err: &Error{Status: 403, Code: CodeInsufficientScope}, is: ErrInsufficientScope, not: []error{ErrInvalidToken}},
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
	if err := invalidToken("token expired", jwt.ErrTokenExpired); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Error("the cause does not match")
	}
}

func TestChallenge(t *testing.T) {
	tests := []struct {
		name, realm string
		err         *Error
		want        string
	}{
		{name: "no token", realm: "fhir", err: errNoToken, want: `Bearer realm="fhir"`},
		{name: "invalid token", realm: "fhir", err: invalidToken("token expired", nil),
			want: `Bearer realm="fhir", error="invalid_token", error_description="token expired"`},
		{name: "scope", realm: "r", err: &Error{Status: 403, Code: CodeInsufficientScope, Description: "needs scope", Scope: "patient/Observation.rs"},
			want: `Bearer realm="r", error="insufficient_scope", error_description="needs scope", scope="patient/Observation.rs"`},
		{name: "quotes, backslashes and controls dropped", realm: `a"b\c`, err: invalidToken("bad \"x\"\r\n\\é", nil),
			want: `Bearer realm="abc", error="invalid_token", error_description="bad x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Challenge(tc.realm, tc.err); got != tc.want {
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
		{name: "missing", err: errNoToken, status: 401, code: "login", challenge: true},
		{name: "malformed", err: errMalformed, status: 400, code: "invalid", challenge: true},
		{name: "expired", err: invalidToken("token expired", jwt.ErrTokenExpired), status: 401, code: "expired", challenge: true},
		{name: "bad signature", err: invalidToken("token signature not verified", nil), status: 401, code: "security", challenge: true},
		{name: "scope", err: &Error{Status: 403, Code: CodeInsufficientScope}, status: 403, code: "forbidden", challenge: true},
		{name: "not an *Error", err: errors.New("secret detail"), status: 500, code: "exception"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			DefaultErrorHandler(rec, httptest.NewRequest("GET", "/", nil), tc.err)
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
	m := newTest(t, func(c *Config) {
		c.Hooks.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusTeapot)
		}
	})
	rec, _ := serve(m, httptest.NewRequest("GET", "/r4/Patient/1", nil))
	if rec.Code != http.StatusTeapot || !errors.Is(got, ErrMissingToken) {
		t.Errorf("status %d, err %v", rec.Code, got)
	}
	m = newTest(t, func(c *Config) { c.Hooks.Realm = "ehr" })
	rec, _ = serve(m, httptest.NewRequest("GET", "/r4/Patient/1", nil))
	if h := rec.Header().Get("WWW-Authenticate"); h != `Bearer realm="ehr"` {
		t.Errorf("WWW-Authenticate %s", h)
	}
}

// TestDefaultErrorHandlerIsTheGuards: a Guard configured with
// DefaultErrorHandler answers exactly as one configured with none, for a
// GET and a HEAD.
func TestDefaultErrorHandlerIsTheGuards(t *testing.T) {
	implicit := newTest(t, nil).Handler(http.NotFoundHandler())
	explicit := newTest(t, func(c *Config) { c.Hooks.ErrorHandler = DefaultErrorHandler }).Handler(http.NotFoundHandler())
	for _, method := range []string{"GET", "HEAD"} {
		var got [2]*httptest.ResponseRecorder
		for i, h := range []http.Handler{implicit, explicit} {
			got[i] = httptest.NewRecorder()
			h.ServeHTTP(got[i], httptest.NewRequest(method, testAudience+"/Observation/1", nil))
		}
		if got[0].Code != http.StatusUnauthorized || got[0].Code != got[1].Code ||
			fmt.Sprint(got[0].Header()) != fmt.Sprint(got[1].Header()) || got[0].Body.String() != got[1].Body.String() {
			t.Errorf("%s: the Guard's own %d %v %q, DefaultErrorHandler's %d %v %q", method,
				got[0].Code, got[0].Header(), got[0].Body, got[1].Code, got[1].Header(), got[1].Body)
		}
		if method == "HEAD" && got[1].Body.Len() != 0 {
			t.Errorf("HEAD answered with a body: %q", got[1].Body)
		}
	}
}
