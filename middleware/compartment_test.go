package middleware_test

import (
	"errors"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

func TestInPatientCompartment(t *testing.T) {
	enc := []byte(`{"resourceType":"Encounter","subject":{"reference":"Patient/7"}}`)
	if ok, err := smartmw.InPatientCompartment(enc, "7"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := smartmw.InPatientCompartment(enc, "8"); ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := smartmw.InPatientCompartment([]byte(`{"resourceType":`), "7"); !errors.Is(err, smartmw.ErrMalformedResource) {
		t.Fatal(err)
	}
}

// TestPermitsWhatItCannotEvaluateNever: a constraint the library does not
// evaluate permits nothing, and says so with ErrUnsupportedSearch, as
// ParseSearch and NewSearch do; another alternative that matches still
// permits.
func TestPermitsWhatItCannotEvaluateNever(t *testing.T) {
	labObs := []byte(obs("Patient/1", "laboratory"))
	chained := scope.Constraint{{Name: "subject.name", Value: "x"}}
	for _, tc := range []struct {
		name    string
		cons    []scope.Constraint
		want    bool
		wantErr error
	}{
		{"unsupported alone", []scope.Constraint{chained}, false, smartmw.ErrUnsupportedSearch},
		{"unsupported, then a match", []scope.Constraint{chained, {{Name: "category", Value: lab}}}, true, nil},
		{"unsupported, then no match", []scope.Constraint{chained, {{Name: "category", Value: vit}}}, false, smartmw.ErrUnsupportedSearch},
		{"an empty constraint matches nothing", []scope.Constraint{{}}, false, nil},
		{"unknown parameter", []scope.Constraint{{{Name: "no-such-param", Value: "x"}}}, false, smartmw.ErrInvalidSearch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Constraints: tc.cons})
			ok, err := smartmw.Permits(d, labObs)
			if ok != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("Permits = %v, %v; want %v, %v", ok, err, tc.want, tc.wantErr)
			}
		})
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
