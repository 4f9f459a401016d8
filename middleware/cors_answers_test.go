package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// TestCORSOnEveryAnswer: for an allowed origin every answer carries the
// CORS headers, refusals included, so that a browser app can read the
// status and the challenge; Vary: Origin says the answer depends on it.
// An origin not allowed gets none on any of them.
func TestCORSOnEveryAnswer(t *testing.T) {
	const app = "https://app.example.org"
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, func(cfg *smartmw.Config) {
		cfg.AllowedOrigins = []string{app}
		cfg.Bounds.MaxBodyBytes = 64
	})
	h := guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		if strings.HasPrefix(r.URL.Path, "/r4/Observation/") {
			// another patient's: the response guard refuses it
			w.Write([]byte(`{"resourceType":"Observation","id":"1","status":"final","code":{},"subject":{"reference":"Patient/456"}}`))
			return
		}
		w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[]}`))
	}))
	patient := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient("123"))
	for _, tc := range []struct {
		name, method, target, token, body string
		want                              int
		challenge                         bool
	}{
		{"answered", "GET", "/r4/Observation?patient=123", patient, "", 200, false},
		{"no token", "GET", "/r4/Observation?patient=123", "", "", 401, true},
		{"bad token", "GET", "/r4/Observation?patient=123", "x.y.z", "", 401, true},
		{"no scope for the type", "GET", "/r4/Condition?patient=123", patient, "", 403, true},
		{"refused by the response guard", "GET", "/r4/Observation/1", patient, "", 403, false},
		{"unknown endpoint", "GET", "/r4/NoSuchType", patient, "", 404, false},
		{"body too large", "POST", "/r4/Observation", patient, strings.Repeat(" ", 100), 413, false},
	} {
		for _, origin := range []string{app, "https://evil.example.org"} {
			t.Run(tc.name+"/"+origin, func(t *testing.T) {
				var body *strings.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				} else {
					body = strings.NewReader("")
				}
				r := httptest.NewRequest(tc.method, tc.target, body)
				r.Header.Set("Origin", origin)
				if tc.body != "" {
					r.Header.Set("Content-Type", "application/fhir+json")
				}
				if tc.token != "" {
					r.Header.Set("Authorization", "Bearer "+tc.token)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tc.want {
					t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
				}
				hdr := w.Header()
				if !strings.Contains(strings.Join(hdr.Values("Vary"), ","), "Origin") {
					t.Errorf("Vary %q does not name Origin", hdr.Values("Vary"))
				}
				got := hdr.Get("Access-Control-Allow-Origin")
				if origin != app {
					if got != "" {
						t.Errorf("origin %s not allowed, but Access-Control-Allow-Origin %q", origin, got)
					}
					return
				}
				if got != app {
					t.Errorf("Access-Control-Allow-Origin %q, want %q", got, app)
				}
				if tc.challenge && !strings.Contains(strings.ToLower(hdr.Get("Access-Control-Expose-Headers")), "www-authenticate") {
					t.Errorf("Access-Control-Expose-Headers %q does not expose the challenge", hdr.Get("Access-Control-Expose-Headers"))
				}
			})
		}
	}
}
