package compartment

import (
	"encoding/json"
	"testing"
)

// encoding/json matches object keys to struct fields case-insensitively,
// with Unicode folding, and keeps the last duplicate: a key that folds to
// one the checks read must make the resource unreadable (ErrJSON), or a Go
// handler would act on another member than the one checked.
func TestRefusesKeysThatFoldToCheckedOnes(t *testing.T) {
	type ref struct {
		Reference string `json:"reference"`
	}
	var viaStruct struct {
		Subject *ref `json:"subject"`
	}
	trick := `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"ſubject":{"reference":"Patient/456"}}`
	if err := json.Unmarshal([]byte(trick), &viaStruct); err != nil || viaStruct.Subject.Reference != "Patient/456" {
		t.Fatalf("premise: encoding/json reads %+v, %v", viaStruct.Subject, err)
	}
	for _, body := range []string{
		trick,
		`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"SUBJECT":{"reference":"Patient/456"}}`,
		`{"resourceType":"Observation","subject":{"reference":"Patient/123","Reference":"Patient/456"}}`,
		`{"resourceType":"Observation","performer":[{"reference":"Patient/123"}],"Performer":[{"reference":"Patient/456"}]}`,
		`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"ResourceType":"Condition"}`,
		`{"ResourceType":"Patient","resourceType":"Patient","id":"123"}`,
		`{"resourceType":"Patient","id":"123","ID":"456"}`,
		`{"resourceType":"Patient","id":"123","\u212aey":"x","Id":"456"}`,
	} {
		if ok, err := Member([]byte(body), "123"); ok || err == nil {
			t.Errorf("Member(%s) = %v, %v; want ErrJSON", body, ok, err)
		}
	}
}

// An absolute reference to another patient with a query or fragment that
// ends in "/Patient/123" is not a reference to Patient/123.
func TestRefusesReferencesEndingLikeThePatient(t *testing.T) {
	for _, ref := range []string{
		"https://evil.example/fhir/Patient/456?x=/Patient/123",
		"https://evil.example/fhir/Patient/456#/Patient/123",
		"Patient/456?/Patient/123",
		"Patient/456#Patient/123",
		"https://evil.example/fhir/Patient/456/_history/1?x=/Patient/123",
	} {
		if RefersTo(ref, "123") {
			t.Errorf("RefersTo(%q, 123)", ref)
		}
		body := `{"resourceType":"Observation","subject":{"reference":"` + ref + `"}}`
		if ok, _ := Member([]byte(body), "123"); ok {
			t.Errorf("Member(%s)", body)
		}
	}
	for _, ref := range []string{"Patient/123", "https://ehr.example.org/fhir/Patient/123/_history/2"} {
		if !RefersTo(ref, "123") {
			t.Errorf("RefersTo(%q, 123) = false", ref)
		}
	}
}
