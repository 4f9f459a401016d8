package middleware_test

import (
	"errors"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

func TestInPatientCompartmentMap(t *testing.T) {
	enc := map[string]any{"resourceType": "Encounter", "subject": map[string]any{"reference": "Patient/7"}}
	if ok, err := smartmw.InPatientCompartmentMap(enc, "7"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := smartmw.InPatientCompartmentMap(enc, "8"); ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := smartmw.InPatientCompartment([]byte(`{"resourceType":`), "7"); !errors.Is(err, smartmw.ErrMalformedResource) {
		t.Fatal(err)
	}
	if _, err := smartmw.InPatientCompartmentMap(map[string]any{"x": make(chan int)}, "7"); !errors.Is(err, smartmw.ErrMalformedResource) {
		t.Fatal(err)
	}
}

func TestMatchesConstraintMap(t *testing.T) {
	c := scope.Constraint{{Name: "category", Value: lab}}
	res := map[string]any{"resourceType": "Observation", "category": []any{map[string]any{"coding": []any{
		map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}}}}}
	if ok, err := smartmw.MatchesConstraintMap(res, c); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := smartmw.MatchesConstraintMap(res, scope.Constraint{{Name: "category", Value: vit}}); ok || err != nil {
		t.Fatal(ok, err)
	}
}

func TestPermits(t *testing.T) {
	labObs := []byte(obs("Patient/1", "laboratory"))
	vitObs := []byte(obs("Patient/1", "vital-signs"))
	other := []byte(obs("Patient/2", "laboratory"))
	cons := []scope.Constraint{{{Name: "category", Value: lab}}}
	tests := []struct {
		name     string
		d        *smartctx.Decision
		resource []byte
		want     bool
	}{
		{"nil decision", nil, labObs, false},
		{"unrestricted", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Context: scope.User}), other, true},
		{"compartment in", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Patient: "1"}), labObs, true},
		{"compartment out", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Patient: "1"}), other, false},
		{"constraint in", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Constraints: cons}), labObs, true},
		{"constraint out", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Constraints: cons}), vitObs, false},
		{"both, constraint out", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Patient: "1", Constraints: cons}), vitObs, false},
		{"both, compartment out", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Patient: "1", Constraints: cons}), other, false},
		{"both in", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Patient: "1", Constraints: cons}), labObs, true},
		{"a type about no patient under a patient limit", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Patient: "1"}), []byte(`{"resourceType":"Medication","id":"m1"}`), true},
		{"a patient-linked Device of another patient", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Patient: "1"}), []byte(`{"resourceType":"Device","id":"d1","patient":{"reference":"Patient/2"}}`), false},
		{"the patient's own Device", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Patient: "1"}), []byte(`{"resourceType":"Device","id":"d1","patient":{"reference":"Patient/1"}}`), true},
		{"another Patient", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Patient: "1"}), []byte(`{"resourceType":"Patient","id":"2"}`), false},
		{"second alternative", smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Constraints: append(cons, scope.Constraint{{Name: "category", Value: vit}})}), vitObs, true},
	}
	for _, tc := range tests {
		got, err := smartmw.Permits(tc.d, tc.resource)
		if err != nil || got != tc.want {
			t.Errorf("%s: Permits = %v, %v", tc.name, got, err)
		}
	}
}
