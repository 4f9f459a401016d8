package middleware_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

// The searches the issue tried as a client, on a Patient that matches
// them, and on one that does not.
func TestMatchesSearchOnEveryParameterType(t *testing.T) {
	john := []byte(`{"resourceType":"Patient","id":"1","active":true,"gender":"male","birthDate":"2001-05-06",
		"name":[{"family":"Smith","given":["John"]}],"identifier":[{"system":"http://example.com","value":"123"}]}`)
	jane := []byte(`{"resourceType":"Patient","id":"2","active":false,"gender":"female","birthDate":"1990-01-01",
		"name":[{"family":"Doe","given":["Jane"]}],"identifier":[{"system":"http://example.com","value":"456"}]}`)
	tests := []string{
		"name=john",
		"name=john&gender=male",
		"name=Smith&birthdate=ge2000",
		"active=true",
		"identifier=http://example.com|123",
	}
	for _, query := range tests {
		t.Run(query, func(t *testing.T) {
			if ok, err := matchesSearch(john, query, ""); !ok || err != nil {
				t.Errorf("John: MatchesSearch = %v, %v; want true", ok, err)
			}
			if ok, err := matchesSearch(jane, query, ""); ok || err != nil {
				t.Errorf("Jane: MatchesSearch = %v, %v; want false", ok, err)
			}
		})
	}
}

func TestMatchesSearchErrors(t *testing.T) {
	obs := []byte(`{"resourceType":"Observation","status":"final"}`)
	tests := []struct {
		name, query string
		resource    []byte
		want        error
	}{
		{"chained", "patient.name=x", obs, smartmw.ErrUnsupportedSearch},
		{"composite", "code-value-quantity=x$1", obs, smartmw.ErrUnsupportedSearch},
		{"_filter", "_filter=status eq final", obs, smartmw.ErrUnsupportedSearch},
		{"unknown parameter", "nonsense=1", obs, smartmw.ErrInvalidSearch},
		{"bad date", "date=yesterday", obs, smartmw.ErrInvalidSearch},
		{"malformed resource", "status=final", []byte(`{"resourceType":"Observation","status":"final","status":"x"}`), smartmw.ErrMalformedResource},
		{"no resourceType", "status=final", []byte(`{"status":"final"}`), smartmw.ErrMalformedResource},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := matchesSearch(tc.resource, tc.query, "")
			if ok || !errors.Is(err, tc.want) {
				t.Fatalf("MatchesSearch = %v, %v; want false, %v", ok, err, tc.want)
			}
		})
	}
}

func TestNewSearchFromScopeConstraint(t *testing.T) {
	sc := scope.MustParseScope("user/Patient.rs?name=Smith&birthdate=ge2000")
	s, err := smartmw.NewSearch(sc.Type, sc.Constraint, "https://ehr.example/fhir")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		resource string
		want     bool
	}{
		{`{"resourceType":"Patient","birthDate":"2003","name":[{"family":"Smithson"}]}`, true},
		{`{"resourceType":"Patient","birthDate":"1999","name":[{"family":"Smith"}]}`, false},
		{`{"resourceType":"Observation","status":"final"}`, false},
	} {
		if ok, err := s.Matches([]byte(tc.resource)); ok != tc.want || err != nil {
			t.Errorf("Matches(%s) = %v, %v; want %v", tc.resource, ok, err, tc.want)
		}
	}
}

// A handler with its own storage checks a resource against a search
// compiled once; what the library does not evaluate is an error, never a
// match.
func ExampleParseSearch() {
	patient := []byte(`{"resourceType":"Patient","id":"1","birthDate":"2001-05-06","name":[{"family":"Smith","given":["John"]}]}`)
	young, _ := smartmw.ParseSearch("Patient", "name=john&birthdate=ge2000", "https://ehr.example/fhir")
	fmt.Println(young.Matches(patient))
	old, _ := smartmw.ParseSearch("Patient", "birthdate=lt2000", "https://ehr.example/fhir")
	fmt.Println(old.Matches(patient))
	_, err := smartmw.ParseSearch("Patient", "general-practitioner.name=House", "https://ehr.example/fhir")
	fmt.Println(errors.Is(err, smartmw.ErrUnsupportedSearch))
	// Output:
	// true <nil>
	// false <nil>
	// true
}

// matchesSearch is ParseSearch on the resource's own type, then Matches.
func matchesSearch(resource []byte, query, base string) (bool, error) {
	var r struct{ ResourceType string }
	if err := json.Unmarshal(resource, &r); err != nil || r.ResourceType == "" {
		return false, smartmw.ErrMalformedResource
	}
	s, err := smartmw.ParseSearch(r.ResourceType, query, base)
	if err != nil {
		return false, err
	}
	return s.Matches(resource)
}

// matchesConstraint is Permits with a decision limited to c alone.
func matchesConstraint(resource []byte, c scope.Constraint) (bool, error) {
	return smartmw.Permits(smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Constraints: []scope.Constraint{c}}), resource)
}
