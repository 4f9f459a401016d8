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

// observations is the handler the package documentation shows.
func observations(w http.ResponseWriter, r *http.Request) {
	g, ok := smartctx.FromContext(r.Context())
	if !ok {
		http.Error(w, "no grant", http.StatusUnauthorized)
		return
	}
	patient := g.Patient() // "" when the token has no patient in context
	fmt.Fprintf(w, "the observations of Patient/%s", patient)
}

// The handler of the package documentation, with and without a grant.
func Example_handler() {
	r := httptest.NewRequest(http.MethodGet, "/fhir/Observation?patient=123", nil)
	w := httptest.NewRecorder()
	observations(w, r)
	fmt.Println(w.Code)

	g := smartctx.NewGrant(smartctx.Claims{Scopes: scope.Parse("patient/Observation.rs"), Patient: "123"})
	w = httptest.NewRecorder()
	observations(w, r.WithContext(smartctx.NewContext(r.Context(), g)))
	fmt.Println(w.Code, w.Body)
	// Output:
	// 401
	// 200 the observations of Patient/123
}
