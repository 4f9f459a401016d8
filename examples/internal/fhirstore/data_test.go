package fhirstore

import (
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// mainPatients hold every (g)(10) type and every category.
var mainPatients = []string{"example", "other"}

// claimsUSCore reports whether r's meta.profile names a US Core profile.
func claimsUSCore(r map[string]any) bool {
	meta, _ := r["meta"].(map[string]any)
	profiles, _ := meta["profile"].([]any)
	return slices.ContainsFunc(profiles, func(p any) bool { s, _ := p.(string); return strings.HasPrefix(s, usCore) })
}

func TestEveryG10TypeHasUSCoreDataForTheMainPatients(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		typ, query string // query finds the type for patient PAT (as a match, or included)
	}{
		// patient=Patient/PAT, not patient=PAT: the evaluator refuses a bare
		// id for AllergyIntolerance's and Immunization's patient, whose R4
		// parameter may also point at a Group.
		{"AllergyIntolerance", "AllergyIntolerance?patient=Patient/PAT"},
		{"CarePlan", "CarePlan?patient=Patient/PAT&category=http://hl7.org/fhir/us/core/CodeSystem/careplan-category|assess-plan"},
		{"CareTeam", "CareTeam?patient=Patient/PAT&status=active"},
		{"Condition", "Condition?patient=Patient/PAT"},
		{"Coverage", "Coverage?patient=Patient/PAT"},
		{"Device", "Device?patient=Patient/PAT"},
		{"DiagnosticReport", "DiagnosticReport?patient=Patient/PAT"},
		{"DocumentReference", "DocumentReference?patient=Patient/PAT"},
		{"Encounter", "Encounter?patient=Patient/PAT"},
		{"Goal", "Goal?patient=Patient/PAT"},
		{"Immunization", "Immunization?patient=Patient/PAT"},
		{"Location", "Encounter?patient=Patient/PAT&_include=Encounter:location"},
		{"Medication", "MedicationRequest?patient=Patient/PAT&_include=MedicationRequest:medication"},
		{"MedicationRequest", "MedicationRequest?patient=Patient/PAT&intent=order"},
		{"Observation", "Observation?patient=Patient/PAT"},
		{"Organization", "Patient?_id=PAT&_include=Patient:organization"},
		{"Patient", "Patient?_id=PAT"},
		{"Practitioner", "Patient?_id=PAT&_include=Patient:general-practitioner"},
		{"Procedure", "Procedure?patient=Patient/PAT"},
		{"Provenance", "Patient?_id=PAT&_revinclude=Provenance:target"},
		{"RelatedPerson", "RelatedPerson?patient=Patient/PAT"},
		{"ServiceRequest", "ServiceRequest?patient=Patient/PAT"},
		{"Specimen", "Specimen?patient=Patient/PAT"},
	}
	for _, pat := range mainPatients {
		for _, tc := range tests {
			t.Run(pat+"/"+tc.typ, func(t *testing.T) {
				b := s.must(200, "GET", "/fhir/"+strings.ReplaceAll(tc.query, "PAT", pat), "").json(t)
				n := 0
				for _, r := range found(t, b, "") {
					if r["resourceType"] != tc.typ {
						continue
					}
					n++
					if !claimsUSCore(r) {
						t.Errorf("%s/%s claims no US Core profile: %v", tc.typ, r["id"], r["meta"])
					}
				}
				if n == 0 {
					t.Errorf("no %s for patient %s", tc.typ, pat)
				}
			})
		}
	}
}

func TestEachCategoryFindsSomeOfEachMainPatientsResources(t *testing.T) {
	s := newServer(t)
	tests := []struct{ typ, category string }{
		{"Observation", obsCategory + "|laboratory"},
		{"Observation", obsCategory + "|vital-signs"},
		{"Observation", obsCategory + "|social-history"},
		{"Observation", obsCategory + "|survey"},
		{"Observation", usCoreCategory + "|sdoh"},
		{"Observation", obsCategory + "|imaging"},
		{"Observation", obsCategory + "|exam"},
		{"Observation", obsCategory + "|procedure"},
		{"Observation", obsCategory + "|therapy"},
		{"Observation", obsCategory + "|activity"},
		{"Condition", conditionCategory + "|problem-list-item"},
		{"Condition", conditionCategory + "|encounter-diagnosis"},
		{"Condition", usCoreCondCategory + "|health-concern"},
		{"DiagnosticReport", "http://terminology.hl7.org/CodeSystem/v2-0074|LAB"},
		{"DiagnosticReport", loinc + "|LP29708-2"},
		{"DocumentReference", "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category|clinical-note"},
	}
	for _, pat := range mainPatients {
		for _, tc := range tests {
			t.Run(pat+"/"+tc.typ+"/"+tc.category, func(t *testing.T) {
				some := count(s, tc.typ+"?patient="+pat+"&category="+url.QueryEscape(tc.category))
				all := count(s, tc.typ+"?patient="+pat)
				if some == 0 || some == all && tc.typ != "DocumentReference" {
					t.Errorf("%d of patient %s's %d %s resources have category %s, want some and not all", some, pat, all, tc.typ, tc.category)
				}
			})
		}
	}
}

// The sample data holds together: every resource claims a US Core
// profile and has the elements R4 makes mandatory, and every reference
// names a resource of the sample data.
func TestSampleDataIsUSCoreShapedAndHoldsTogether(t *testing.T) {
	seeded := map[string]bool{}
	var all []map[string]any
	for _, raw := range Seed() {
		var r map[string]any
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
		seeded[r["resourceType"].(string)+"/"+r["id"].(string)] = true
	}
	for _, r := range all {
		name := r["resourceType"].(string) + "/" + r["id"].(string)
		if !claimsUSCore(r) {
			t.Errorf("%s claims no US Core profile", name)
		}
		for _, m := range r4Elements[r["resourceType"].(string)].mandatory {
			if !slices.ContainsFunc(slices.Collect(maps.Keys(r)), func(k string) bool { return elementMatches(m, k) }) {
				t.Errorf("%s lacks %s, which R4 makes mandatory", name, m)
			}
		}
		for _, target := range references(r) {
			if !seeded[target] {
				t.Errorf("%s refers to %s, which is not in the sample data", name, target)
			}
		}
	}
}

// references returns every "reference" anywhere in v.
func references(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "reference" {
				out = append(out, s)
			} else {
				out = append(out, references(e)...)
			}
		}
	case []any:
		for _, e := range v {
			out = append(out, references(e)...)
		}
	}
	return out
}

func TestIncludesFindTheMedicationAndTheProvenance(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name, query string
		included    []string
	}{
		{"the Medication a MedicationRequest refers to", "MedicationRequest?patient=example&_include=MedicationRequest:medication",
			[]string{"Medication/metformin-500"}},
		{"no Medication for an order that names its medication by code", "MedicationRequest?patient=other&_include=MedicationRequest:medication",
			[]string{"Medication/lisinopril-10"}},
		{"the Provenance of a patient's Conditions", "Condition?patient=example&_revinclude=Provenance:target",
			[]string{"Provenance/example-provenance"}},
		{"the Provenance of the patient", "Patient?_id=other&_revinclude=Provenance:target", []string{"Provenance/other-provenance"}},
		{"no Provenance for resources it does not name", "Observation?patient=example&_revinclude=Provenance:target", nil},
		{"both at once", "MedicationRequest?patient=example&_include=MedicationRequest:medication&_revinclude=Provenance:target",
			[]string{"Medication/metformin-500", "Provenance/example-provenance"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := s.must(200, "GET", "/fhir/"+tc.query, "").json(t)
			if got := ids(t, b, "include"); !slices.Equal(got, tc.included) {
				t.Errorf("included %v, want %v", got, tc.included)
			}
		})
	}
}
