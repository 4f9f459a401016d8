// Package chaintest checks that a framework example protects its FHIR API
// the way every example must: 200 with a good token, 401 without one, 403
// on a missing scope, the patient compartment enforced, and a CORS
// preflight from a browser origin answered without authentication.
package chaintest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/examples/internal/fhirapi"
	"github.com/smartguard/smartguard/smarttest"
)

// Origin is the browser app origin the examples' tests allow.
const Origin = "https://app.example.org"

// Run drives h, built against is with Origin allowed, through the cases.
func Run(t *testing.T, is *smarttest.Issuer, h http.Handler) {
	t.Helper()
	own := is.Token(t, smarttest.Scopes("launch/patient patient/Patient.rs patient/Observation.rs"), smarttest.Patient(fhirapi.Patient1))
	noObs := is.Token(t, smarttest.Scopes("launch/patient patient/Patient.rs"), smarttest.Patient(fhirapi.Patient1))
	tests := []struct {
		name, method, path, token string
		header                    map[string]string
		want                      int
		check                     func(t *testing.T, rec *httptest.ResponseRecorder)
	}{
		{name: "own patient with a good token", method: "GET", path: "/fhir/Patient/" + fhirapi.Patient1, token: own, want: 200},
		{name: "no token", method: "GET", path: "/fhir/Patient/" + fhirapi.Patient1, want: 401,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
				}
			}},
		{name: "expired token", method: "GET", path: "/fhir/Patient/" + fhirapi.Patient1, token: is.Token(t, smarttest.Scopes("patient/*.rs"), smarttest.Patient(fhirapi.Patient1), smarttest.Expired()), want: 401},
		{name: "missing scope", method: "GET", path: "/fhir/Observation?patient=" + fhirapi.Patient1, token: noObs, want: 403},
		{name: "other patient", method: "GET", path: "/fhir/Patient/" + fhirapi.Patient2, token: own, want: 403},
		{name: "own observations only", method: "GET", path: "/fhir/Observation?patient=" + fhirapi.Patient1, token: own, want: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				var b struct {
					Entry []struct {
						Resource struct{ Subject struct{ Reference string } }
					}
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || len(b.Entry) != 1 {
					t.Fatalf("bundle %s: %v", rec.Body, err)
				}
				if got := b.Entry[0].Resource.Subject.Reference; got != "Patient/"+fhirapi.Patient1 {
					t.Errorf("entry subject = %q", got)
				}
			}},
		{name: "CORS preflight", method: "OPTIONS", path: "/fhir/Patient/" + fhirapi.Patient1, want: 204,
			header: map[string]string{"Origin": Origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"},
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if got := rec.Header().Get("Access-Control-Allow-Origin"); got != Origin {
					t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, Origin)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Fatalf("%s %s = %d, want %d; body %s", tc.method, tc.path, rec.Code, tc.want, rec.Body)
			}
			if n := strings.Count(rec.Body.String(), `"resourceType"`); tc.want >= 400 && tc.want != 404 && n > 1 {
				t.Errorf("error body has %d resources, a second body was written: %s", n, rec.Body)
			}
			if tc.check != nil {
				tc.check(t, rec)
			}
		})
	}
}
