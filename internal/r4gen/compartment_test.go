package main

import (
	"slices"
	"testing"
)

func TestPathsFor(t *testing.T) {
	tests := []struct {
		typ, expr string
		want      []string
	}{
		{"Observation", "Observation.subject", []string{"subject"}},
		{"Condition", "AllergyIntolerance.patient | Condition.subject.where(resolve() is Patient)", []string{"subject@Patient"}},
		{"MedicationRequest", "(MedicationRequest.medication as CodeableConcept)", []string{"medicationCodeableConcept"}},
		{"Observation", "Observation.value.as(Quantity)", nil},
		{"Observation", "Observation.code.where(system='x')", nil},
	}
	for _, tc := range tests {
		got := pathsFor(tc.typ, tc.expr)
		if len(got) != len(tc.want) || len(got) > 0 && got[0] != tc.want[0] {
			t.Errorf("pathsFor(%q, %q) = %v, want %v", tc.typ, tc.expr, got, tc.want)
		}
	}
}

func TestLinkedParamsTakeTypesOutsideTheCompartmentThatCanNameAPatient(t *testing.T) {
	comp := map[string][]string{"Observation": {"subject"}}
	ref := func(targets ...string) pathParam {
		return pathParam{Kind: "reference", Targets: targets, Paths: []string{"x"}}
	}
	sp := map[string]map[string]pathParam{
		"Observation": {"subject": ref("Patient", "Group"), "focus": ref("Patient")},
		"Device":      {"patient": ref("Patient"), "organization": ref("Organization"), "type": {Kind: "token", Paths: []string{"type"}}},
		"Task":        {"subject": ref("Group", "Patient"), "owner": ref("Practitioner", "Patient")},
		"Medication":  {"manufacturer": ref("Organization"), "code": {Kind: "token", Paths: []string{"code"}}},
		"Bundle":      {"composition": ref("Patient")},
	}
	got, err := linkedParams(comp, sp)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"Binary": {"securityContext"}, "Device": {"patient"}, "Task": {"owner", "subject"}}
	if len(got) != len(want) {
		t.Errorf("linkedParams = %v, want %v", got, want)
	}
	for typ, codes := range want {
		if !slices.Equal(got[typ], codes) {
			t.Errorf("linkedParams[%s] = %v, want %v", typ, got[typ], codes)
		}
	}
	if p := sp["Binary"]["securityContext"]; !slices.Equal(p.Paths, []string{"securityContext@Patient"}) {
		t.Errorf("Binary.securityContext not added to the parameters: %+v", p)
	}
	if _, err := linkedParams(map[string][]string{"Binary": {"x"}}, map[string]map[string]pathParam{}); err == nil {
		t.Error("linkedExtra for a compartment type accepted")
	}
}

func TestReferencePathsDropCanonicals(t *testing.T) {
	got, err := referencePaths([]string{"relatedArtifact[type=depends-on].resource:canonical", "library:canonical"}, "Library", "depends-on", []string{"library"})
	if err != nil || len(got) != 0 {
		t.Errorf("canonical kept: %v, %v", got, err)
	}
	got, err = referencePaths([]string{"for@Patient:Reference"}, "Task", "patient", []string{"for@Patient"})
	if err != nil || !slices.Equal(got, []string{"for@Patient"}) {
		t.Errorf("reference dropped: %v, %v", got, err)
	}
	if _, err := referencePaths(nil, "Task", "patient", []string{"for@Patient"}); err == nil {
		t.Error("a path without element type accepted")
	}
}
