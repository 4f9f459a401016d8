package adaptertest

import (
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// tenantTokenRefusedOnAnotherTenantsHost: two tenants on two hosts with
// the same path, each with its own authorization server, behind one
// Protect. Tenant B's token is refused on tenant A's host before any
// handler runs, each token is served on its own host, and a host that is
// neither tenant's is not served.
func tenantTokenRefusedOnAnotherTenantsHost(t *testing.T, f Framework) {
	const baseA, baseB = "https://a.example.org/fhir", "https://b.example.org/fhir"
	isA := smarttest.NewIssuer(t, smarttest.ForAudience(baseA))
	isB := smarttest.NewIssuer(t, smarttest.ForAudience(baseB))
	cfg := isA.Config()
	cfgB := isB.Config()
	cfg.Issuers = []smartmw.Issuer{{URL: cfgB.Issuer.URL, Audience: baseB, JWKSURL: cfgB.Issuer.JWKSURL}}
	g, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	scopes := smarttest.Scopes("system/Observation.rd")
	tokA, tokB := isA.Token(t, scopes), isB.Token(t, scopes)
	const obs = "/fhir/Observation/obs-123"
	const invalid = `error="invalid_token"`
	a := &FHIR{}
	RunCases(t, f.Protect(g, API{Routes: a.Routes()}), a, []Case{
		{Name: "A on A", Method: "GET", Target: obs, Host: "a.example.org", Token: tokA,
			WantStatus: 200, WantCalls: []string{"GET Observation/obs-123"}},
		{Name: "B on B", Method: "GET", Target: obs, Host: "b.example.org", Token: tokB,
			WantStatus: 200, WantCalls: []string{"GET Observation/obs-123"}},
		{Name: "B on A read", Method: "GET", Target: obs, Host: "a.example.org", Token: tokB, WantStatus: 401, WantChallenge: invalid},
		{Name: "B on A delete", Method: "DELETE", Target: obs, Host: "a.example.org", Token: tokB, WantStatus: 401, WantChallenge: invalid},
		{Name: "A on B delete", Method: "DELETE", Target: obs, Host: "b.example.org", Token: tokA, WantStatus: 401, WantChallenge: invalid},
		{Name: "B on a host of neither", Method: "GET", Target: obs, Host: "127.0.0.1:8080", Token: tokB, WantStatus: 404},
	})
}
