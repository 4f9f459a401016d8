package middleware_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/wellknown"
)

// The whole protection on a plain http.ServeMux: the discovery document
// is public; the FHIR API goes through the Guard (CORS, authentication,
// authorization, response guard) before the handler.
func Example_chain() {
	const base = "https://fhir.example.org/r4"
	guard, err := smartmw.New(context.Background(), exampleConfig()) // Issuer, Audience: base
	if err != nil {
		log.Fatal(err)
	}
	discovery, err := wellknown.Handler(wellknown.Configuration{
		TokenEndpoint:                 "https://auth.example.org/realms/fhir/token",
		AuthorizationEndpoint:         "https://auth.example.org/realms/fhir/auth",
		GrantTypesSupported:           []string{"authorization_code"},
		CodeChallengeMethodsSupported: []string{"S256"},
		Capabilities: []wellknown.Capability{wellknown.LaunchStandalone, wellknown.ClientPublic,
			wellknown.ContextStandalonePatient, wellknown.PermissionPatient, wellknown.PermissionV2},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Your FHIR handler, here one that knows nothing of SMART: it serves
	// any Patient. It sees only requests the token allows (the grant and
	// the decision are on the context), and the Guard checks what it
	// answers.
	fhir := http.NewServeMux()
	fhir.HandleFunc("GET /r4/Patient/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprintf(w, `{"resourceType":"Patient","id":%q}`, r.PathValue("id"))
	})

	mux := http.NewServeMux()
	mux.Handle("/r4/.well-known/smart-configuration", discovery)
	mux.Handle("/r4/", guard.Handler(fhir))

	token := mintExample(jwt.MapClaims{
		"iss": "https://auth.example.org/realms/fhir", "aud": base,
		"exp":   time.Now().Add(time.Hour).Unix(),
		"scope": "launch/patient patient/Patient.r", "patient": "123",
	})
	for _, path := range []string{"/r4/.well-known/smart-configuration", "/r4/Patient/123", "/r4/Patient/456"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if path != "/r4/.well-known/smart-configuration" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(path, w.Code, w.Header().Get("Content-Type"))
	}
	// Output:
	// /r4/.well-known/smart-configuration 200 application/json
	// /r4/Patient/123 200 application/fhir+json
	// /r4/Patient/456 403 application/fhir+json
}
