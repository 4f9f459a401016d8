package fhirstore

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// keys returns the sorted top-level members of r.
func keys(r map[string]any) []string { return slices.Sorted(maps.Keys(r)) }

// isSubsetted reports whether r's meta.tag holds SUBSETTED.
func isSubsetted(r map[string]any) bool {
	meta, _ := r["meta"].(map[string]any)
	tags, _ := meta["tag"].([]any)
	return slices.ContainsFunc(tags, func(t any) bool {
		m, _ := t.(map[string]any)
		return m["system"] == subsetted.system && m["code"] == "SUBSETTED"
	})
}

func TestElementsAndSummaryKeepWhatR4Says(t *testing.T) {
	s := newServer(t)
	weightKeys := []string{"category", "code", "effectiveDateTime", "id", "meta", "performer", "resourceType", "status", "subject", "valueQuantity"}
	patientKeys := keys(s.must(200, "GET", "/fhir/Patient/example", "").json(t))
	tests := []struct {
		name, path string
		want       map[string][]string // "Type/id" → its members
	}{
		{"_elements on a read keeps the mandatory elements", "Observation/example-weight?_elements=status",
			map[string][]string{"Observation/example-weight": {"code", "id", "meta", "resourceType", "status"}}},
		{"_elements on a vread", "Observation/example-weight/_history/1?_elements=subject",
			map[string][]string{"Observation/example-weight": {"code", "id", "meta", "resourceType", "status", "subject"}}},
		{"_elements names a choice by its stem", "Observation?_id=example-weight&_elements=value,effective[x]",
			map[string][]string{"Observation/example-weight": {"code", "effectiveDateTime", "id", "meta", "resourceType", "status", "valueQuantity"}}},
		{"_elements does not take a longer name for a choice", "Encounter/example-visit?_elements=class",
			map[string][]string{"Encounter/example-visit": {"class", "id", "meta", "resourceType", "status"}}},
		{"_elements of one type in a Bundle with includes", "Observation?_id=example-weight&_include=Observation:subject&_elements=Observation.subject,Patient.gender",
			map[string][]string{"Observation/example-weight": {"code", "id", "meta", "resourceType", "status", "subject"},
				"Patient/example": {"gender", "id", "meta", "resourceType"}}},
		{"_summary=true keeps the summary elements, not category", "Observation/example-weight?_summary=true",
			map[string][]string{"Observation/example-weight": slices.DeleteFunc(slices.Clone(weightKeys), func(k string) bool { return k == "category" })}},
		{"_summary=true of a Provenance keeps its mandatory agent", "Provenance/example-provenance?_summary=true",
			map[string][]string{"Provenance/example-provenance": {"agent", "id", "meta", "recorded", "resourceType", "target"}}},
		{"_summary=text keeps the narrative", "Patient?_id=example&_summary=text",
			map[string][]string{"Patient/example": {"id", "meta", "resourceType", "text"}}},
		{"_summary=text keeps the mandatory elements", "Observation/example-weight?_summary=text",
			map[string][]string{"Observation/example-weight": {"code", "id", "meta", "resourceType", "status"}}},
		{"_summary=data drops the narrative", "Patient/example?_summary=data",
			map[string][]string{"Patient/example": slices.DeleteFunc(slices.Clone(patientKeys), func(k string) bool { return k == "text" })}},
		{"_summary=text and _elements keep what either keeps", "Patient/example?_summary=text&_elements=birthDate",
			map[string][]string{"Patient/example": {"birthDate", "id", "meta", "resourceType", "text"}}},
		{"_summary=false keeps everything", "Observation/example-weight?_summary=false",
			map[string][]string{"Observation/example-weight": weightKeys}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := s.must(200, "GET", "/fhir/"+tc.path, "").json(t)
			resources := []map[string]any{m}
			if m["resourceType"] == "Bundle" {
				resources = found(t, m, "")
			}
			if len(resources) != len(tc.want) {
				t.Fatalf("%d resources, want %d", len(resources), len(tc.want))
			}
			for _, r := range resources {
				name := r["resourceType"].(string) + "/" + r["id"].(string)
				want, ok := tc.want[name]
				if got := keys(r); !ok || !slices.Equal(got, want) {
					t.Errorf("%s has %v, want %v", name, got, want)
				}
				if whole := strings.Contains(tc.path, "_summary=false"); isSubsetted(r) == whole {
					t.Errorf("%s: SUBSETTED tag %v, want %v: %v", name, isSubsetted(r), !whole, r["meta"])
				}
			}
		})
	}
	t.Run("kept elements are as stored", func(t *testing.T) {
		full := s.must(200, "GET", "/fhir/Observation/example-weight", "").json(t)
		cut := s.must(200, "GET", "/fhir/Observation/example-weight?_elements=value", "").json(t)
		if a, b := full["valueQuantity"], cut["valueQuantity"]; !slices.Equal(keys(a.(map[string]any)), keys(b.(map[string]any))) ||
			a.(map[string]any)["value"] != b.(map[string]any)["value"] {
			t.Errorf("valueQuantity %v, want %v", b, a)
		}
		if meta := cut["meta"].(map[string]any); meta["versionId"] != "1" || meta["lastUpdated"] == nil {
			t.Errorf("meta lost its version: %v", meta)
		}
	})
}
