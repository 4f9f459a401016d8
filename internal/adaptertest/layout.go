package adaptertest

import (
	"net/http"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
	"github.com/smartguard/smartguard/wellknown"
)

// discovery returns the SMART discovery document of the tests' issuer.
func discovery(t *testing.T, is *smarttest.Issuer) http.Handler {
	t.Helper()
	h, err := wellknown.Handler(wellknown.Configuration{
		AuthorizationEndpoint:         is.URL() + "/authorize",
		TokenEndpoint:                 is.URL() + "/token",
		GrantTypesSupported:           []string{"authorization_code"},
		CodeChallengeMethodsSupported: []string{"S256"},
		Capabilities:                  []wellknown.Capability{wellknown.LaunchStandalone, wellknown.PermissionPatient, wellknown.PermissionV2},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// documentedRouteLayoutsServeDiscoveryBesideProtectedFHIR runs every
// layout the adapter documents: the base URL and everything under it are
// behind Protect, the discovery document beside them is not.
func documentedRouteLayoutsServeDiscoveryBesideProtectedFHIR(t *testing.T, f Framework) {
	is, g := NewGuard(t, func(c *smartmw.Config) { c.FHIR.NotFoundForDenied = true })
	read := PatientToken(t, is, "patient/Observation.rs patient/Patient.r")
	write := PatientToken(t, is, "patient/Observation.rud")
	tests := []Case{
		{Name: "discovery needs no token", Method: "GET", Target: "/fhir/.well-known/smart-configuration",
			WantStatus: 200, WantIn: `"token_endpoint"`},
		{Name: "discovery is open to any origin", Method: "OPTIONS", Target: "/fhir/.well-known/smart-configuration", Origin: "https://anyone.example",
			WantStatus: 204},
		{Name: "a FHIR read needs a token", Method: "GET", Target: "/fhir/Patient/123", WantStatus: 401},
		{Name: "a FHIR read with a token", Method: "GET", Target: "/fhir/Patient/123", Token: read,
			WantStatus: 200, WantIn: `"123"`, WantCalls: []string{"GET Patient/123"}},
		{Name: "another patient's Observation", Method: "GET", Target: "/fhir/Observation/obs-456", Token: read,
			WantStatus: 404, WantCalls: []string{"GET Observation/obs-456"}},
		{Name: "a search", Method: "GET", Target: "/fhir/Observation?patient=123", Token: read,
			WantStatus: 200, WantIDs: []string{"obs-123"}, WantCalls: []string{"search Observation"}},
		{Name: "HEAD of the patient's Observation", Method: "HEAD", Target: "/fhir/Observation/obs-123", Token: read,
			WantStatus: 200, WantCalls: []string{"GET Observation/obs-123"}},
		{Name: "HEAD of another patient's Observation", Method: "HEAD", Target: "/fhir/Observation/obs-456", Token: read,
			WantStatus: 404, WantCalls: []string{"GET Observation/obs-456"}},
		{Name: "HEAD of a search, without a HEAD route of its own", Method: "HEAD", Target: "/fhir/Observation?patient=123", Token: read,
			WantStatus: 200, WantCalls: []string{"search Observation"}},
		{Name: "a delete of another patient's Observation", Method: "DELETE", Target: "/fhir/Observation/obs-456", Token: write,
			WantStatus: 404, WantCalls: []string{"GET Observation/obs-456"}},
		{Name: "a delete of the patient's Observation", Method: "DELETE", Target: "/fhir/Observation/obs-123", Token: write,
			WantStatus: 204, WantCalls: []string{"GET Observation/obs-123", "DELETE Observation/obs-123"}},
		{Name: "CORS preflight of a FHIR read", Method: "OPTIONS", Target: "/fhir/Observation/obs-123", Origin: AppOrigin, WantStatus: 204},
		{Name: "CORS preflight of a search", Method: "OPTIONS", Target: "/fhir/Observation", Origin: AppOrigin, WantStatus: 204},
		{Name: "CORS preflight of a batch", Method: "OPTIONS", Target: "/fhir", Origin: AppOrigin, WantStatus: 204},
	}
	layouts := f.Layouts()
	if len(layouts) == 0 {
		t.Fatal("the framework documents no route layout")
	}
	for _, layout := range layouts {
		t.Run(layout.Name, func(t *testing.T) {
			a := &FHIR{}
			RunCases(t, layout.Mount(g, API{Routes: a.Routes(), Discovery: discovery(t, is)}), a, tests)
		})
	}
}
