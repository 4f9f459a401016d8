package wellknown_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

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

// FromIssuer builds the document from an OpenID Connect provider's own
// metadata, for the capabilities the FHIR server offers. It keeps what SMART
// allows (issuer and jwks_uri, with sso-openid-connect) and drops what SMART
// forbids ("plain" PKCE), so the result passes Validate and Handler serves it.
func ExampleFromIssuer() {
	// A stand-in for the provider (Keycloak here, which advertises "plain").
	var as *httptest.Server
	as = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		iss := as.URL + "/realms/fhir"
		if r.URL.Path != "/realms/fhir/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,
			"authorization_endpoint":"%[1]s/protocol/openid-connect/auth",
			"token_endpoint":"%[1]s/protocol/openid-connect/token",
			"jwks_uri":"%[1]s/protocol/openid-connect/certs",
			"userinfo_endpoint":"%[1]s/protocol/openid-connect/userinfo",
			"grant_types_supported":["authorization_code","client_credentials","refresh_token"],
			"code_challenge_methods_supported":["plain","S256"]}`, iss)
	}))
	defer as.Close()
	issuer := as.URL + "/realms/fhir"

	doc, err := wellknown.FromIssuer(context.Background(), issuer, nil,
		wellknown.LaunchStandalone, wellknown.ClientPublic, wellknown.ContextStandalonePatient,
		wellknown.PermissionPatient, wellknown.PermissionV2, wellknown.SSOOpenIDConnect)
	if err != nil {
		fmt.Println(err)
		return
	}
	doc.ScopesSupported = []string{"openid", "fhirUser", "launch/patient", "patient/*.rs"}
	h, err := wellknown.Handler(*doc) // validates
	if err != nil {
		fmt.Println(err)
		return
	}

	fmt.Println("issuer kept:", doc.Issuer == issuer)
	fmt.Println("PKCE:", doc.CodeChallengeMethodsSupported)
	fmt.Println("token endpoint:", strings.TrimPrefix(doc.TokenEndpoint, issuer))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/r4/.well-known/smart-configuration", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	// Output:
	// issuer kept: true
	// PKCE: [S256]
	// token endpoint: /protocol/openid-connect/token
	// 200 application/json
}

// RestSecurity gives the CapabilityStatement element for clients that still
// read "metadata".
func ExampleConfiguration_RestSecurity() {
	doc := wellknown.Configuration{
		AuthorizationEndpoint:         "https://as.example.com/authorize",
		TokenEndpoint:                 "https://as.example.com/token",
		GrantTypesSupported:           []string{"authorization_code"},
		Capabilities:                  []wellknown.Capability{wellknown.LaunchStandalone, wellknown.ClientPublic},
		CodeChallengeMethodsSupported: []string{"S256"},
	}
	sec, err := doc.RestSecurity()
	if err != nil {
		fmt.Println(err)
		return
	}
	sec.CORS = true
	b, _ := json.MarshalIndent(sec, "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "extension": [
	//     {
	//       "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
	//       "extension": [
	//         {
	//           "url": "authorize",
	//           "valueUri": "https://as.example.com/authorize"
	//         },
	//         {
	//           "url": "token",
	//           "valueUri": "https://as.example.com/token"
	//         }
	//       ]
	//     }
	//   ],
	//   "cors": true,
	//   "service": [
	//     {
	//       "coding": [
	//         {
	//           "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
	//           "code": "SMART-on-FHIR",
	//           "display": "SMART-on-FHIR"
	//         }
	//       ],
	//       "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)"
	//     }
	//   ]
	// }
}

// RFC 9728 protected-resource metadata: one document per FHIR base,
// served at the host's root, where the well-known segment comes before the
// base's path.
func ExampleProtectedResourceHandler() {
	doc := wellknown.ProtectedResource{
		Resource:               "https://fhir.example.org/r4", // the base, exactly as tokens name it in "aud"
		AuthorizationServers:   []string{"https://auth.example.org/realms/fhir"},
		ScopesSupported:        []string{"launch/patient", "patient/*.rs", "offline_access"},
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "Example FHIR R4",
	}
	prm, err := wellknown.ProtectedResourceHandler(doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := wellknown.ProtectedResourcePath(doc.Resource) // "/.well-known/oauth-protected-resource/r4"
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle(p, prm) // at the host's root, not under the base

	u, _ := wellknown.ProtectedResourceURL(doc.Resource) // what 401 challenges name as resource_metadata
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
	fmt.Println(u)
	fmt.Println(w.Code, w.Body)
	// Output:
	// https://fhir.example.org/.well-known/oauth-protected-resource/r4
	// 200 {"resource":"https://fhir.example.org/r4","authorization_servers":["https://auth.example.org/realms/fhir"],"scopes_supported":["launch/patient","patient/*.rs","offline_access"],"bearer_methods_supported":["header"],"resource_name":"Example FHIR R4"}
}
