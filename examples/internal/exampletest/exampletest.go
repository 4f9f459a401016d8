// Package exampletest checks that an example protects its FHIR API the
// same way as every other: 200 with a good token, 401 without, 403 for
// what the scopes do not allow, and CORS preflight from a browser app.
package exampletest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// Audience is the FHIR base URL the examples are tested under.
const Audience = "https://fhir.example.org/fhir"

// AppOrigin is the browser app origin the examples allow.
const AppOrigin = "https://app.example.org"

// Check builds the example's handler with setup and runs the checks.
func Check(t *testing.T, setup func(ctx context.Context, cfg smartmw.Config, origins []string) (http.Handler, error)) {
	t.Helper()
	is := smarttest.NewIssuer(t, smarttest.ForAudience(Audience))
	h, err := setup(t.Context(), is.Config(), []string{AppOrigin})
	if err != nil {
		t.Fatal(err)
	}
	app := is.Token(t, smarttest.Scopes("launch/patient patient/Patient.r patient/Observation.rs"), smarttest.Patient("example"))
	// A batch the Guard answers itself: its one entry is refused.
	batch := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/other"}}]}`
	tests := []struct {
		name, method, path, token string
		body                      string
		want                      int
	}{
		{"good token reads its patient", "GET", "/fhir/Patient/example", app, "", 200},
		{"good token searches its patient's Observations", "GET", "/fhir/Observation?patient=example", app, "", 200},
		{"no token", "GET", "/fhir/Patient/example", "", "", 401},
		{"expired token", "GET", "/fhir/Patient/example", is.Token(t, smarttest.Scopes("patient/Patient.r"), smarttest.Patient("example"), smarttest.Expired()), "", 401},
		{"another patient", "GET", "/fhir/Patient/other", app, "", 403},
		{"a type the scopes do not name", "GET", "/fhir/Condition?patient=example", app, "", 403},
		{"a write the scopes do not allow", "DELETE", "/fhir/Observation/example-glucose", app, "", 403},
		{"discovery needs no token", "GET", "/fhir/.well-known/smart-configuration", "", "", 200},
		{"the base itself: a batch, not a redirect", "POST", "/fhir", app, batch, 200},
		{"the base itself: a system search, refused to patient scopes, not redirected", "GET", "/fhir?_type=Observation", app, "", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := httptest.NewRequest(tc.method, Audience[len("https://fhir.example.org"):]+tc.path[len("/fhir"):], body)
			if tc.body != "" {
				r.Header.Set("Content-Type", "application/fhir+json")
			}
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, w.Code, w.Body, tc.want)
			}
		})
	}
	t.Run("CORS preflight from the app passes without a token", func(t *testing.T) {
		r := httptest.NewRequest("OPTIONS", "/fhir/Observation", nil)
		r.Header.Set("Origin", AppOrigin)
		r.Header.Set("Access-Control-Request-Method", "GET")
		r.Header.Set("Access-Control-Request-Headers", "authorization")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 300 || w.Header().Get("Access-Control-Allow-Origin") != AppOrigin {
			t.Errorf("preflight: %d, Access-Control-Allow-Origin %q", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
		}
	})
}

// CheckGuardReads builds the example's handler with setup and checks what
// a framework adapter must route to the FHIR handler for the Guard: its
// read of the stored resource before a write (an app may delete its
// patient's Observation, not another patient's, which stays), and the
// GET that answers a HEAD (200 for the patient's Observation, 403 for
// another patient's).
func CheckGuardReads(t *testing.T, setup func(ctx context.Context, cfg smartmw.Config, origins []string) (http.Handler, error)) {
	t.Helper()
	is := smarttest.NewIssuer(t, smarttest.ForAudience(Audience))
	h, err := setup(t.Context(), is.Config(), []string{AppOrigin})
	if err != nil {
		t.Fatal(err)
	}
	app := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rds"), smarttest.Patient("example"))
	clinician := is.Token(t, smarttest.Scopes("user/Observation.rs"), smarttest.FHIRUser("Practitioner/dr-jones"))
	steps := []struct {
		name, method, path, token string
		want                      int
	}{
		{"HEAD of the patient's Observation", "HEAD", "/fhir/Observation/example-glucose", app, 200},
		{"HEAD of another patient's Observation", "HEAD", "/fhir/Observation/other-glucose", app, 403},
		{"delete of another patient's Observation", "DELETE", "/fhir/Observation/other-glucose", app, 403},
		{"which is still there", "GET", "/fhir/Observation/other-glucose", clinician, 200},
		{"delete of the patient's Observation", "DELETE", "/fhir/Observation/example-glucose", app, 204},
		{"which is gone", "GET", "/fhir/Observation/example-glucose", clinician, 410}, // R4: a deleted resource reads as 410 Gone
	}
	for _, s := range steps {
		r := httptest.NewRequest(s.method, s.path, nil)
		r.Header.Set("Authorization", "Bearer "+s.token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != s.want {
			t.Errorf("%s: %s %s: %d %s, want %d", s.name, s.method, s.path, w.Code, w.Body, s.want)
		}
	}
}
