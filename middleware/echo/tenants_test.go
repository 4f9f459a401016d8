package smartecho_test

import (
	"net/http"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// TestTenantTokenRefusedOnAnotherTenantsHost: two tenants on two hosts
// with the same path, each with its own authorization server, behind one
// Protect. Tenant B's token is refused on tenant A's host before any
// handler runs, each token is served on its own host, and a host that is
// neither tenant's is not served.
func TestTenantTokenRefusedOnAnotherTenantsHost(t *testing.T) {
	const baseA, baseB = "https://a.example.org/fhir", "https://b.example.org/fhir"
	isA := smarttest.NewIssuer(t, smarttest.ForAudience(baseA))
	isB := smarttest.NewIssuer(t, smarttest.ForAudience(baseB))
	cfg := isA.Config()
	cfgB := isB.Config()
	cfg.Issuers = []smartmw.Issuer{{URL: cfgB.Issuer, Audience: baseB, JWKSURL: cfgB.JWKSURL}}
	g, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	scopes := smarttest.Scopes("system/Observation.rd")
	tokA, tokB := isA.Token(t, scopes), isB.Token(t, scopes)
	const obs = "/fhir/Observation/obs-123"
	tests := []struct {
		name, method, host, token string
		want                      int
		wantCall                  string // "" for no call at all
	}{
		{name: "A on A", method: "GET", host: "a.example.org", token: tokA, want: 200, wantCall: "GET Observation/obs-123"},
		{name: "B on B", method: "GET", host: "b.example.org", token: tokB, want: 200, wantCall: "GET Observation/obs-123"},
		{name: "B on A read", method: "GET", host: "a.example.org", token: tokB, want: 401},
		{name: "B on A delete", method: "DELETE", host: "a.example.org", token: tokB, want: 401},
		{name: "A on B delete", method: "DELETE", host: "b.example.org", token: tokA, want: 401},
		{name: "B on a host of neither", method: "GET", host: "127.0.0.1:8080", token: tokB, want: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := &calls{}
			r := newRequest(tc.method, obs, tc.token, "")
			r.Host = tc.host
			w := serve(protectedLeakyAPI(g, writeStyles[0], k), r)
			if w.Code != tc.want {
				t.Fatalf("%d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want == http.StatusUnauthorized && !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("401 without invalid_token: %q", w.Header().Get("WWW-Authenticate"))
			}
			if tc.wantCall == "" && k.String() != "" || tc.wantCall != "" && !k.has(tc.wantCall) {
				t.Errorf("handler calls %q, want %q", k, tc.wantCall)
			}
		})
	}
}
