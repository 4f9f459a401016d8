package main

import (
	"slices"
	"testing"
)

// testDefs is a few R4 elements, enough to translate the expressions
// below without the StructureDefinitions.
func testDefs() *definitions {
	d := &definitions{elems: map[string]element{}, kinds: map[string]string{
		"Observation": "resource", "Patient": "resource", "Condition": "resource", "Library": "resource",
		"CodeableConcept": "complex-type", "ContactPoint": "complex-type", "RelatedArtifact": "complex-type",
		"Reference": "complex-type", "Period": "complex-type", "Quantity": "complex-type", "SampledData": "complex-type",
		"string": "primitive-type", "dateTime": "primitive-type", "code": "primitive-type", "canonical": "primitive-type",
	}}
	add := func(path string, types ...string) {
		el := element{Path: path}
		for _, typ := range types {
			el.Type = append(el.Type, struct {
				Code      string `json:"code"`
				Extension []struct {
					URL      string `json:"url"`
					ValueURL string `json:"valueUrl"`
				} `json:"extension"`
			}{Code: typ})
		}
		d.elems[path] = el
	}
	add("Observation.subject", "Reference")
	add("Observation.effective[x]", "dateTime", "Period", "Timing", "instant")
	add("Observation.value[x]", "Quantity", "CodeableConcept", "string", "SampledData", "Period")
	add("Observation.component", "BackboneElement")
	add("Observation.component.code", "CodeableConcept")
	add("Patient.telecom", "ContactPoint")
	add("Patient.gender", "code")
	add("Library.relatedArtifact", "RelatedArtifact")
	add("RelatedArtifact.resource", "canonical")
	add("CodeableConcept.text", "string")
	return d
}

func TestTranslate(t *testing.T) {
	tests := []struct {
		name, base, typ, expr string
		want                  []string
		unsupported           bool
	}{
		{"simple path", "Observation", "token", "Observation.component.code", []string{"component.code:CodeableConcept"}, false},
		{"union keeps only the base's parts", "Observation", "reference",
			"Condition.subject.where(resolve() is Patient) | Observation.subject.where(resolve() is Patient)",
			[]string{"subject@Patient:Reference"}, false},
		{"choice expands to the types the search type uses", "Observation", "date", "Observation.effective",
			[]string{"effectiveDateTime:dateTime", "effectivePeriod:Period", "effectiveTiming:Timing", "effectiveInstant:instant"}, false},
		{"as cast picks one choice type", "Observation", "quantity", "(Observation.value as Quantity) | (Observation.value as SampledData)",
			[]string{"valueQuantity:Quantity"}, false},
		{"cast then a child", "Observation", "string", "(Observation.value as CodeableConcept).text",
			[]string{"valueCodeableConcept.text:string"}, false},
		{"function cast", "Observation", "date", "Observation.value.as(Period)", []string{"valuePeriod:Period"}, false},
		{"where on a child value", "Patient", "token", "Patient.telecom.where(system='email')",
			[]string{"telecom[system=email]:ContactPoint"}, false},
		{"where then a step", "Library", "reference", "Library.relatedArtifact.where(type='depends-on').resource",
			[]string{"relatedArtifact[type=depends-on].resource:canonical"}, false},
		{"indexer is not translated", "Observation", "reference", "Observation.subject[0]", nil, true},
		{"exists() is not translated", "Patient", "token", "Patient.gender.exists() and Patient.gender != 'x'", nil, true},
		{"unknown element", "Observation", "token", "Observation.nothing", nil, true},
		{"type the search type cannot use", "Patient", "date", "Patient.gender", nil, true},
		{"composite", "Observation", "composite", "Observation", nil, true},
		{"no expression", "Observation", "string", "", nil, true},
	}
	d := testDefs()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := translate(d, tc.base, tc.typ, tc.expr)
			if (p.Unsupported != "") != tc.unsupported {
				t.Fatalf("unsupported = %q, want unsupported %v", p.Unsupported, tc.unsupported)
			}
			if !slices.Equal(p.Paths, tc.want) {
				t.Errorf("paths = %q, want %q", p.Paths, tc.want)
			}
		})
	}
}

func TestSingleTarget(t *testing.T) {
	tests := []struct {
		name    string
		targets []string
		paths   []string
		want    string
	}{
		{"one target", []string{"Specimen"}, []string{"specimen:Reference"}, "Specimen"},
		{"many targets", []string{"Patient", "Group"}, []string{"subject:Reference"}, ""},
		{"resolve filter on every path", []string{"Patient", "Group"}, []string{"subject@Patient:Reference"}, "Patient"},
		{"filter on some paths only", []string{"Patient", "Group"}, []string{"subject@Patient:Reference", "other:Reference"}, ""},
	}
	for _, tc := range tests {
		if got := singleTarget(tc.targets, tc.paths); got != tc.want {
			t.Errorf("%s: singleTarget = %q, want %q", tc.name, got, tc.want)
		}
	}
}
