package smartgin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	smartmw "github.com/smartguard/smartguard/middleware"
	smartgin "github.com/smartguard/smartguard/middleware/gin"
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

// The route layouts the package documentation shows. Both register the
// discovery document on its own route, outside Protect, beside the FHIR
// routes behind it.
var layouts = []struct {
	name     string
	register func(r *gin.Engine, g *smartmw.Guard, discovery http.Handler, k *calls)
}{
	{"a gin route per FHIR interaction", func(r *gin.Engine, g *smartmw.Guard, discovery http.Handler, k *calls) {
		r.Match([]string{http.MethodGet, http.MethodHead, http.MethodOptions}, "/fhir/.well-known/smart-configuration", gin.WrapH(discovery))
		fhir := r.Group("/fhir", smartgin.Protect(g, r))
		leakyAPI(fhir, writeStyles[0], k)
		for _, p := range []string{"", "/:type", "/:type/*rest"} {
			fhir.Match([]string{http.MethodHead, http.MethodOptions}, p)
		}
	}},
	{"one net/http handler for the whole FHIR API", func(r *gin.Engine, g *smartmw.Guard, discovery http.Handler, k *calls) {
		r.Match([]string{http.MethodGet, http.MethodHead, http.MethodOptions}, "/fhir/.well-known/smart-configuration", gin.WrapH(discovery))
		api := gin.New() // stands for any http.Handler: a FHIR server, a proxy
		leakyAPI(api.Group("/fhir"), writeStyles[0], k)
		fhir := r.Group("/fhir", smartgin.Protect(g, r))
		for _, p := range []string{"", "/:type", "/:type/*rest"} {
			fhir.Any(p, gin.WrapH(api))
		}
	}},
}

func TestDocumentedRouteLayoutsServeDiscoveryBesideProtectedFHIR(t *testing.T) {
	is, g := newGuard(t, func(c *smartmw.Config) { c.NotFoundForDenied = true })
	read := patientToken(t, is, "patient/Observation.rs patient/Patient.r")
	write := patientToken(t, is, "patient/Observation.rud")
	tests := []struct {
		name, method, target, token string
		origin                      string
		wantStatus                  int
		wantIn                      string
	}{
		{name: "discovery needs no token", method: "GET", target: "/fhir/.well-known/smart-configuration",
			wantStatus: 200, wantIn: `"token_endpoint"`},
		{name: "discovery is open to any origin", method: "OPTIONS", target: "/fhir/.well-known/smart-configuration", origin: "https://anyone.example",
			wantStatus: 204},
		{name: "a FHIR read needs a token", method: "GET", target: "/fhir/Patient/123", wantStatus: 401},
		{name: "a FHIR read with a token", method: "GET", target: "/fhir/Patient/123", token: read, wantStatus: 200, wantIn: `"123"`},
		{name: "another patient's Observation", method: "GET", target: "/fhir/Observation/obs-456", token: read, wantStatus: 404},
		{name: "a search", method: "GET", target: "/fhir/Observation?patient=123", token: read, wantStatus: 200, wantIn: `"obs-123"`},
		{name: "HEAD of the patient's Observation", method: "HEAD", target: "/fhir/Observation/obs-123", token: read, wantStatus: 200},
		{name: "HEAD of another patient's Observation", method: "HEAD", target: "/fhir/Observation/obs-456", token: read, wantStatus: 404},
		{name: "HEAD of a search, without a HEAD route of its own", method: "HEAD", target: "/fhir/Observation?patient=123", token: read, wantStatus: 200},
		{name: "a delete of another patient's Observation", method: "DELETE", target: "/fhir/Observation/obs-456", token: write, wantStatus: 404},
		{name: "a delete of the patient's Observation", method: "DELETE", target: "/fhir/Observation/obs-123", token: write, wantStatus: 204},
		{name: "CORS preflight of a FHIR read", method: "OPTIONS", target: "/fhir/Observation/obs-123", origin: appOrigin, wantStatus: 204},
		{name: "CORS preflight of a search", method: "OPTIONS", target: "/fhir/Observation", origin: appOrigin, wantStatus: 204},
		{name: "CORS preflight of a batch", method: "OPTIONS", target: "/fhir", origin: appOrigin, wantStatus: 204},
	}
	for _, layout := range layouts {
		t.Run(layout.name, func(t *testing.T) {
			r := gin.New()
			k := &calls{}
			layout.register(r, g, discovery(t, is), k)
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					req := newRequest(tc.method, tc.target, tc.token, "")
					if tc.origin != "" {
						req.Header.Set("Origin", tc.origin)
						req.Header.Set("Access-Control-Request-Method", "GET")
						req.Header.Set("Access-Control-Request-Headers", "authorization")
					}
					w := serve(r, req)
					if w.Code != tc.wantStatus || !strings.Contains(w.Body.String(), tc.wantIn) || strings.Contains(w.Body.String(), "obs-456") {
						t.Errorf("%d %s, want %d with %s", w.Code, w.Body, tc.wantStatus, tc.wantIn)
					}
					if tc.origin != "" && w.Header().Get("Access-Control-Allow-Origin") == "" {
						t.Errorf("preflight without Access-Control-Allow-Origin: %v", w.Header())
					}
				})
			}
		})
	}
}

// TestCatchAllConflictsWithDiscovery pins what the package documentation
// says of gin's router: a catch-all FHIR route cannot live beside the
// discovery route.
func TestCatchAllConflictsWithDiscovery(t *testing.T) {
	for _, order := range []string{"discovery first", "catch-all first"} {
		t.Run(order, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("gin registered both /fhir/*path and /fhir/.well-known/smart-configuration: update the package documentation")
				}
			}()
			r := gin.New()
			nop := func(*gin.Context) {}
			if order == "discovery first" {
				r.GET("/fhir/.well-known/smart-configuration", nop)
				r.Any("/fhir/*path", nop)
			} else {
				r.Any("/fhir/*path", nop)
				r.GET("/fhir/.well-known/smart-configuration", nop)
			}
		})
	}
}
