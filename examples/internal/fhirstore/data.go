package fhirstore

import (
	"encoding/json"
	"fmt"
)

// The sample data is shaped like US Core 6.1/7.0 (meta.profile, the
// elements the profiles require, codes from LOINC, SNOMED CT, RxNorm and
// CVX), so that the demo answers the searches the (g)(10), SMART and US
// Core test kits make. It is built by the functions of this file (shared
// resources and small helpers), data_resources.go (one builder per
// resource shape) and data_patients.go (each patient's record).

// Code systems of the sample data.
const (
	loinc  = "http://loinc.org"
	snomed = "http://snomed.info/sct"
	rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
	cvx    = "http://hl7.org/fhir/sid/cvx"
	ucum   = "http://unitsofmeasure.org"
	npi    = "http://hl7.org/fhir/sid/us-npi"
	omb    = "urn:oid:2.16.840.1.113883.6.238" // CDC race and ethnicity
)

// Category systems of the sample data: Observation and Condition
// categories, and the US Core ones (sdoh, health-concern) the granular
// scopes of (g)(10) name.
const (
	obsCategory        = "http://terminology.hl7.org/CodeSystem/observation-category"
	usCoreCategory     = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"
	conditionCategory  = "http://terminology.hl7.org/CodeSystem/condition-category"
	usCoreCondCategory = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
	goalCategory       = "http://terminology.hl7.org/CodeSystem/goal-category"
	actCode            = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	roleCode           = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	v2IDType           = "http://terminology.hl7.org/CodeSystem/v2-0203"
)

// usCore is the base of the US Core profiles' URLs.
const usCore = "http://hl7.org/fhir/us/core/StructureDefinition/"

// hospital is the base of the identifier systems of General Hospital.
const hospital = "http://general-hospital.example.org/"

type coding struct{ system, code, display string }

func (c coding) json() map[string]any {
	return map[string]any{"system": c.system, "code": c.code, "display": c.display}
}

func codeable(c coding) map[string]any {
	return map[string]any{"coding": []any{c.json()}, "text": c.display}
}

// ref is a Reference to rel ("Patient/example").
func ref(rel string) map[string]any { return map[string]any{"reference": rel} }

// refs is a list of References.
func refs(rels ...string) []any {
	out := make([]any, len(rels))
	for i, r := range rels {
		out[i] = ref(r)
	}
	return out
}

// profiled returns the meta of a resource that claims the US Core
// profiles named (the part of their URL after usCore).
func profiled(profiles ...string) map[string]any {
	p := make([]any, len(profiles))
	for i, s := range profiles {
		p[i] = usCore + s
	}
	return map[string]any{"profile": p}
}

// narrative is a generated Narrative whose div says s.
func narrative(s string) map[string]any {
	return map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml">` + s + `</div>`}
}

// identifier is an Identifier of system with value.
func identifier(system, value string) []any {
	return []any{map[string]any{"system": system, "value": value}}
}

// address is a US address.
func address(line, city, state, zip string) []any {
	return []any{map[string]any{"line": []string{line}, "city": city, "state": state, "postalCode": zip, "country": "US"}}
}

// phone is a telecom list of one phone number.
func phone(number, use string) []any {
	return []any{map[string]any{"system": "phone", "value": number, "use": use}}
}

// shared are the resources outside any patient's compartment: the
// hospital, its campus, the health plan, Dr Jones and the medications.
func shared() []map[string]any {
	return []map[string]any{
		{
			"resourceType": "Organization", "id": "general-hospital", "meta": profiled("us-core-organization"),
			"identifier": identifier(npi, "1144221847"), "active": true, "name": "General Hospital",
			"telecom": phone("+1-555-0100", "work"), "address": address("1 Hospital Drive", "Springfield", "IL", "62701"),
		},
		{
			"resourceType": "Organization", "id": "acme-health-plan", "meta": profiled("us-core-organization"),
			"identifier": identifier("urn:oid:2.16.840.1.113883.6.300", "60054"), "active": true, "name": "Acme Health Plan",
			"type":    []any{codeable(coding{"http://terminology.hl7.org/CodeSystem/organization-type", "pay", "Payer"})},
			"telecom": phone("+1-555-0199", "work"), "address": address("500 Insurance Plaza", "Chicago", "IL", "60601"),
		},
		{
			"resourceType": "Location", "id": "general-hospital-campus", "meta": profiled("us-core-location"),
			"status": "active", "name": "General Hospital Main Campus",
			"type":                 []any{codeable(coding{roleCode, "HOSP", "Hospital"})},
			"telecom":              phone("+1-555-0100", "work"),
			"address":              address("1 Hospital Drive", "Springfield", "IL", "62701")[0],
			"managingOrganization": ref("Organization/general-hospital"),
		},
		{
			"resourceType": "Practitioner", "id": "dr-jones", "meta": profiled("us-core-practitioner"),
			"identifier": identifier(npi, "1234567893"), "active": true,
			"name":    []any{map[string]any{"family": "Jones", "given": []string{"Sarah"}, "prefix": []string{"Dr"}}},
			"telecom": phone("+1-555-0142", "work"), "address": address("1 Hospital Drive", "Springfield", "IL", "62701"),
		},
		{
			"resourceType": "Practitioner", "id": "dr-lee", "meta": profiled("us-core-practitioner"),
			"identifier": identifier(npi, "1245319599"), "active": true,
			"name":    []any{map[string]any{"family": "Lee", "given": []string{"Min"}, "prefix": []string{"Dr"}}},
			"telecom": phone("+1-555-0143", "work"), "address": address("1 Hospital Drive", "Springfield", "IL", "62701"),
		},
		medication("metformin-500", coding{rxnorm, "860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet"}),
		medication("lisinopril-10", coding{rxnorm, "314076", "lisinopril 10 MG Oral Tablet"}),
		medication("albuterol-inhaler", coding{rxnorm, "745679", "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"}),
	}
}

// Seed returns the sample data: the shared resources (shared), the
// records of patients "example" and "other", which hold every resource
// type (g)(10) reads and every Observation and Condition category its
// granular scopes name (examplePatient, otherPatient), and the sparse
// record of patient "third" (thirdPatient). Each granular scope the demo
// suggests (docs/demo.md) finds some of a patient's resources and not
// others.
func Seed() []json.RawMessage {
	var all []map[string]any
	for _, part := range [][]map[string]any{shared(), examplePatient(), otherPatient(), thirdPatient()} {
		all = append(all, part...)
	}
	out := make([]json.RawMessage, len(all))
	for i, r := range all {
		b, err := json.Marshal(r)
		if err != nil {
			panic(fmt.Sprintf("demo: sample data: %v", err))
		}
		out[i] = b
	}
	return out
}
