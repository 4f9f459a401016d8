package wellknown_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/smartguard/smartguard/wellknown"
)

// The common setup: describe the server, get a handler, mount it at the
// FHIR base path outside authentication.
func Example() {
	doc := wellknown.Configuration{
		AuthorizationEndpoint:         "https://as.example.com/authorize",
		TokenEndpoint:                 "https://as.example.com/token",
		GrantTypesSupported:           []string{"authorization_code"},
		ResponseTypesSupported:        []string{"code"},
		CodeChallengeMethodsSupported: []string{"S256"},
		ScopesSupported:               []string{"launch/patient", "patient/*.rs", "offline_access"},
		Capabilities: []wellknown.Capability{
			wellknown.LaunchStandalone, wellknown.ClientPublic, wellknown.ContextStandalonePatient,
			wellknown.PermissionPatient, wellknown.PermissionV2, wellknown.PermissionOffline,
		},
	}
	h, err := wellknown.Handler(doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	path, err := wellknown.Path("https://fhir.example.com/r4")
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle(path, h)
	// mux.Handle("/r4/", auth.Handler(fhirAPI)) // the FHIR API, behind authentication

	r := httptest.NewRequest(http.MethodGet, "https://fhir.example.com/r4/.well-known/smart-configuration", nil)
	r.Header.Set("Accept", "application/fhir+json")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(path)
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	// Output:
	// /r4/.well-known/smart-configuration
	// 200 application/json
}

// Validate lists every problem, each naming its JSON member.
func ExampleConfiguration_Validate() {
	doc := wellknown.Configuration{
		TokenEndpoint:                 "http://as.example.com/token",
		GrantTypesSupported:           []string{"client_credentials"},
		Capabilities:                  []wellknown.Capability{"permission_v2"},
		CodeChallengeMethodsSupported: []string{"plain"},
	}
	fmt.Println(doc.Validate())
	// Output:
	// wellknown: code_challenge_methods_supported: must include "S256"
	// wellknown: code_challenge_methods_supported: must not include "plain"
	// wellknown: token_endpoint: "http://as.example.com/token" is not https (http is allowed for loopback hosts only)
	// wellknown: capabilities[0]: "permission_v2" is not a SMART capability; others must be absolute URIs
}

func ExamplePath() {
	for _, base := range []string{"https://ehr.example.com", "https://www.ehr.example.com/apis/fhir/"} {
		p, _ := wellknown.Path(base)
		fmt.Println(p)
	}
	// Output:
	// /.well-known/smart-configuration
	// /apis/fhir/.well-known/smart-configuration
}
