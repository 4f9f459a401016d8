package context_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/scope"
)

// A handler reads the grant the middleware put on the request; a unit test
// puts one there by hand, with no token at all.
func ExampleFromContext() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, ok := smartctx.FromContext(r.Context())
		if !ok {
			http.Error(w, "no grant", http.StatusUnauthorized)
			return
		}
		fmt.Println("patient:", g.Patient())
		fmt.Println("may read Observations:", g.Allows(scope.Patient, "Observation", scope.Read))
		fmt.Println("may create Observations:", g.Allows(scope.Patient, "Observation", scope.Create))
	})

	g := smartctx.NewGrant(smartctx.Claims{
		Subject: "alice",
		Scopes:  scope.Parse("launch/patient patient/Observation.rs"),
		Patient: "123",
	})
	r := httptest.NewRequest(http.MethodGet, "/fhir/Observation?patient=123", nil)
	r = r.WithContext(smartctx.NewContext(r.Context(), g))
	handler.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// patient: 123
	// may read Observations: true
	// may create Observations: false
}
