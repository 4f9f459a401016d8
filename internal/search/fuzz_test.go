package search

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzMatch checks that no resource and no query make the evaluator panic
// or loop, that every error is one of the package's, and that a matched
// resource that encoding/json reads is of the query's type as it reads it
// (values no path reads are only skipped, as package compartment does, not
// validated).
func FuzzMatch(f *testing.F) {
	for _, seed := range []struct{ typ, query, resource string }{
		{"Patient", "name=eve&gender=male", patient},
		{"Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053", patient},
		{"Observation", "value-quantity=le5.4|http://unitsofmeasure.org|mg", observation},
		{"Observation", "date=ap2013-01-14T10:00Z", observation},
		{"Observation", "subject=Patient/123&performer:missing=false", observation},
		{"Observation", "code:not=2823-3,x", observation},
		{"Condition", "onset-date=sa2013-01-01", condition},
		{"CarePlan", "date=eb2013-03-14", carePlanBefore},
		{"RiskAssessment", "probability=gt8e-1", risk},
		{"Library", "composed-of=http://acme.com/Library/b|2.0", library},
		{"ValueSet", "url:below=http://acme.org/", valueSet},
		{"Observation", "status=final", `{"resourceType":"Observation","status":"final","status":"x"}`},
		{"Observation", "code=x", `{"resourceType":"Observation","code":[[[[{"coding":[{"code":"x"}]}]]]]}`},
	} {
		f.Add(seed.typ, seed.query, []byte(seed.resource))
	}
	f.Fuzz(func(t *testing.T, typ, query string, resource []byte) {
		q, err := Parse(typ, query, opts)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Parse error %v is not ErrInvalid or ErrUnsupported", err)
			}
			return
		}
		ok, err := q.Match(resource)
		if err != nil && !errors.Is(err, ErrJSON) {
			t.Fatalf("Match error %v is not ErrJSON", err)
		}
		if ok && err != nil {
			t.Fatal("matched with an error")
		}
		if ok && json.Valid(resource) {
			var r struct {
				ResourceType string `json:"resourceType"`
			}
			if json.Unmarshal(resource, &r) != nil || r.ResourceType != typ {
				t.Fatalf("matched a resource encoding/json reads as %q, not %q", r.ResourceType, typ)
			}
		}
	})
}

// FuzzTextFields checks that TextFields reads every object as Fields, At
// and Text read it (compareTextFields).
func FuzzTextFields(f *testing.F) {
	for _, s := range textFieldsSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if msg := compareTextFields(data); msg != "" {
			t.Fatal(msg)
		}
	})
}
