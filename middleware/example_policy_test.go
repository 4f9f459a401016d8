package middleware_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// policyStore is the FHIR server of the policy examples: two patients,
// one of Dr Jones and one of Dr Lee, and an Observation of each. It
// answers reads and searches by general-practitioner (the search the
// Guard runs to find a practitioner's patients).
var policyStore = map[string]string{
	"Patient/example":     `{"resourceType":"Patient","id":"example","generalPractitioner":[{"reference":"Practitioner/dr-jones"}]}`,
	"Patient/other":       `{"resourceType":"Patient","id":"other","generalPractitioner":[{"reference":"Practitioner/dr-lee"}]}`,
	"Observation/o-mine":  `{"resourceType":"Observation","id":"o-mine","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/example"}}`,
	"Observation/o-other": `{"resourceType":"Observation","id":"o-other","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/other"}}`,
}

func policyFHIR(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/fhir+json")
	rel := strings.TrimPrefix(r.URL.Path, "/r4/")
	if r.URL.Path == "/r4/Patient" {
		gp := r.URL.Query().Get("general-practitioner")
		var entries []string
		for k, v := range policyStore {
			if strings.HasPrefix(k, "Patient/") && strings.Contains(v, `"reference":"`+gp+`"`) {
				entries = append(entries, `{"resource":`+v+`}`)
			}
		}
		fmt.Fprint(w, `{"resourceType":"Bundle","type":"searchset","entry":[`+strings.Join(entries, ",")+`]}`)
		return
	}
	if b, ok := policyStore[rel]; ok {
		fmt.Fprint(w, b)
		return
	}
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`)
}

// getAs reads target through h with a token of the given claims and
// prints the status and, for a refusal, its error_description.
func getAs(h http.Handler, claims jwt.MapClaims, target string) {
	claims["iss"] = "https://auth.example.org/realms/fhir"
	claims["aud"] = "https://fhir.example.org/r4"
	claims["exp"] = time.Now().Add(time.Hour).Unix()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Authorization", "Bearer "+mintExample(claims))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == http.StatusOK {
		fmt.Println(target, rec.Code)
		return
	}
	challenge := rec.Header().Get("WWW-Authenticate")
	_, desc, _ := strings.Cut(challenge, `error_description="`)
	desc, _, _ = strings.Cut(desc, `"`)
	fmt.Println(target, rec.Code, desc)
}

// A practitioner's user/*.rs scopes reach only the patients whose general
// practitioner is that practitioner, and what is in their compartments.
// The Guard finds them by running the relationship's search through the
// handler.
func ExampleAccessPolicy() {
	cfg := exampleConfig()
	cfg.AccessPolicy = &smartmw.AccessPolicy{
		Relationships: []smartmw.Relationship{
			{Name: "gp", Search: "Patient?general-practitioner=%fhirUser"},
		},
		Rules: []smartmw.AccessRule{{
			Name:         "practitioner-panel",
			FHIRUserType: "Practitioner",
			Grants: []smartmw.AccessGrant{
				{Types: []string{"*"}, Interactions: "rs", Patients: "gp"},
			},
		}},
	}
	guard, err := smartmw.New(context.Background(), cfg)
	if err != nil {
		log.Fatal(err) // a policy that cannot be evaluated, naming the rule
	}
	h := guard.Handler(http.HandlerFunc(policyFHIR))

	jones := func(scopes string) jwt.MapClaims {
		return jwt.MapClaims{"scope": scopes, "client_id": "ehr-app",
			"fhirUser": "https://fhir.example.org/r4/Practitioner/dr-jones"}
	}
	getAs(h, jones("user/*.rs"), "/r4/Patient/example")
	getAs(h, jones("user/*.rs"), "/r4/Observation/o-mine")
	getAs(h, jones("user/*.rs"), "/r4/Patient/other")
	getAs(h, jones("user/*.rs"), "/r4/Observation/o-other")
	// Both must allow: the policy grants Patient/example, the scopes do not.
	getAs(h, jones("user/Observation.rs"), "/r4/Patient/example")
	// Output:
	// /r4/Patient/example 200
	// /r4/Observation/o-mine 200
	// /r4/Patient/other 403 refused by the access policy (rule practitioner-panel): the resource is not one the policy grants
	// /r4/Observation/o-other 403 refused by the access policy (rule practitioner-panel): the resource is not one the policy grants
	// /r4/Patient/example 403 the token has no scope for this request
}

// The same kind of policy from JSON, with a rule for a backend client:
// client "analytics" may only read and search Observations, whatever its
// system/ scopes say.
func ExampleLoadAccessPolicy() {
	policy, err := smartmw.LoadAccessPolicy(strings.NewReader(`{
  "relationships": [
    {"name": "gp", "search": "Patient?general-practitioner=%fhirUser"}
  ],
  "rules": [
    {"name": "practitioner-panel", "fhirUserType": "Practitioner", "grants": [
      {"types": ["*"], "interactions": "rs", "patients": "gp"}]},
    {"name": "analytics", "clientId": "analytics", "grants": [
      {"types": ["Observation"], "interactions": "rs"}]}
  ]
}`))
	if err != nil {
		log.Fatal(err)
	}
	cfg := exampleConfig()
	cfg.AccessPolicy = policy
	guard, err := smartmw.New(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	h := guard.Handler(http.HandlerFunc(policyFHIR))

	analytics := func() jwt.MapClaims { return jwt.MapClaims{"scope": "system/*.rs", "client_id": "analytics"} }
	getAs(h, analytics(), "/r4/Observation/o-other")
	getAs(h, analytics(), "/r4/Patient/other")
	// Output:
	// /r4/Observation/o-other 200
	// /r4/Patient/other 403 refused by the access policy (rule analytics): no grant allows Patient.r
}
