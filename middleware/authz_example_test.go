package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

// A patient app may search its own patient's Observations; the handler
// learns from the Decision what it must still enforce.
func ExampleGuard_Authorize() {
	authz, err := newAuthz(smartmw.Config{Base: "https://ehr.example.org/fhir"})
	if err != nil {
		panic(err)
	}
	fhir := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := smartctx.DecisionFromContext(r.Context())
		fmt.Printf("%s %s under %s, compartment of Patient/%s\n", d.Request().Interaction, d.Request().Type, d.Limits().Context, d.Limits().Patient)
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprint(w, `{"resourceType":"Bundle","type":"searchset","entry":[]}`)
	})
	// In a server: guard.Handler(fhir). Here the grant is
	// put on the context by hand, as authentication would.
	h := authz.Authorize(fhir)
	g := smartctx.NewGrant(smartctx.Claims{Scopes: scope.Parse("launch/patient patient/Observation.rs"), Patient: "123"})

	for _, target := range []string{"/fhir/Observation?patient=123", "/fhir/Observation?patient=456"} {
		r := httptest.NewRequest("GET", target, nil)
		r = r.WithContext(smartctx.NewContext(r.Context(), g))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code)
		if w.Code != http.StatusOK {
			fmt.Println(w.Header().Get("WWW-Authenticate") + w.Body.String())
		}
	}
	// Output:
	// search-type Observation under patient, compartment of Patient/123
	// 200
	// 403
	// Bearer realm="fhir", error="insufficient_scope", error_description="under patient scopes patient may name only the patient in context"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden","diagnostics":"under patient scopes patient may name only the patient in context"}]}
}

// Decide answers without HTTP handlers, for unit tests of an application's
// own rules.
func ExampleGuard_Decide() {
	authz, _ := newAuthz(smartmw.Config{Base: "/fhir"})
	g := smartctx.NewGrant(smartctx.Claims{
		Scopes:  scope.Parse("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),
		Patient: "123",
	})
	r := httptest.NewRequest("GET", "/fhir/Observation?code=http://loinc.org|2339-0", nil)
	d, err := authz.Decide(context.Background(), g, r)
	fmt.Println(err)
	fmt.Println(d.Request().Query)
	// Output:
	// <nil>
	// code=http://loinc.org|2339-0&category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Claboratory&patient=Patient%2F123
}

// A handler that loads a resource by id checks it against the decision
// before returning it.
func ExamplePermits() {
	d := smartctx.NewDecision(smartctx.Request{Interaction: scope.InteractionRead, Type: "Observation", ID: "5"},
		smartctx.Limits{Context: scope.Patient, Patient: "123"})
	mine := []byte(`{"resourceType":"Observation","id":"5","subject":{"reference":"Patient/123"}}`)
	theirs := []byte(`{"resourceType":"Observation","id":"5","subject":{"reference":"Patient/456"}}`)
	fmt.Println(smartmw.Permits(d, mine))
	fmt.Println(smartmw.Permits(d, theirs))
	// Output:
	// true <nil>
	// false <nil>
}

func ExampleInPatientCompartment() {
	allergy := []byte(`{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},"recorder":{"reference":"Patient/123"}}`)
	fmt.Println(smartmw.InPatientCompartment(allergy, "123"))
	// Output: true <nil>
}

// A granular scope's constraint, compiled once and checked on each
// resource a handler with its own storage returns.
func ExampleNewSearch() {
	sc := scope.MustParseScope("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory")
	labOnly, err := smartmw.NewSearch(sc.Type, sc.Constraint, "https://ehr.example/fhir")
	if err != nil {
		fmt.Println(err) // not evaluated: grant nothing by it
		return
	}
	lab := []byte(`{"resourceType":"Observation","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}]}`)
	fmt.Println(labOnly.Matches(lab))
	// Output: true <nil>
}
