package fhirstore

import (
	"encoding/json"
	"fmt"
)

// Category and code systems of the sample data.
const (
	obsCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
	loinc       = "http://loinc.org"
	snomed      = "http://snomed.info/sct"
	rxnorm      = "http://www.nlm.nih.gov/research/umls/rxnorm"
)

type coding struct{ system, code, display string }

func codeable(c coding) map[string]any {
	return map[string]any{
		"coding": []any{map[string]any{"system": c.system, "code": c.code, "display": c.display}},
		"text":   c.display,
	}
}

func patient(id, family, given, gender, birth string) map[string]any {
	return map[string]any{
		"resourceType": "Patient", "id": id, "active": true,
		"name":   []any{map[string]any{"family": family, "given": []string{given}}},
		"gender": gender, "birthDate": birth,
		"generalPractitioner":  []any{map[string]any{"reference": "Practitioner/dr-jones"}},
		"managingOrganization": map[string]any{"reference": "Organization/general-hospital"},
	}
}

func observation(id, pat, category string, code coding, value float64, unit, when string) map[string]any {
	catDisplay := map[string]string{"laboratory": "Laboratory", "vital-signs": "Vital Signs"}[category]
	return map[string]any{
		"resourceType": "Observation", "id": id, "status": "final",
		"category":          []any{codeable(coding{obsCategory, category, catDisplay})},
		"code":              codeable(code),
		"subject":           map[string]any{"reference": "Patient/" + pat},
		"effectiveDateTime": when,
		"performer":         []any{map[string]any{"reference": "Practitioner/dr-jones"}},
		"valueQuantity": map[string]any{"value": value, "unit": unit,
			"system": "http://unitsofmeasure.org", "code": unit},
	}
}

func condition(id, pat string, code coding, onset string) map[string]any {
	return map[string]any{
		"resourceType": "Condition", "id": id,
		"clinicalStatus": codeable(coding{"http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"}),
		"category": []any{codeable(coding{"http://terminology.hl7.org/CodeSystem/condition-category",
			"problem-list-item", "Problem List Item"})},
		"code":          codeable(code),
		"subject":       map[string]any{"reference": "Patient/" + pat},
		"onsetDateTime": onset,
	}
}

func medicationRequest(id, pat string, med coding, dosage string) map[string]any {
	return map[string]any{
		"resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "order",
		"medicationCodeableConcept": codeable(med),
		"subject":                   map[string]any{"reference": "Patient/" + pat},
		"requester":                 map[string]any{"reference": "Practitioner/dr-jones"},
		"dosageInstruction":         []any{map[string]any{"text": dosage}},
	}
}

// Seed returns the sample data: three patients with laboratory and
// vital-sign Observations, Conditions and MedicationRequests, their
// Practitioner and their Organization.
func Seed() []json.RawMessage {
	var (
		hba1c    = coding{loinc, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"}
		glucose  = coding{loinc, "2339-0", "Glucose [Mass/volume] in Blood"}
		ldl      = coding{loinc, "18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma"}
		heart    = coding{loinc, "8867-4", "Heart rate"}
		weight   = coding{loinc, "29463-7", "Body weight"}
		systolic = coding{loinc, "8480-6", "Systolic blood pressure"}
		diabetes = coding{snomed, "44054006", "Diabetes mellitus type 2"}
		htn      = coding{snomed, "38341003", "Hypertensive disorder"}
		asthma   = coding{snomed, "195967001", "Asthma"}
		metfor   = coding{rxnorm, "860975", "Metformin hydrochloride 500 MG Oral Tablet"}
		lisino   = coding{rxnorm, "314076", "Lisinopril 10 MG Oral Tablet"}
		albut    = coding{rxnorm, "745679", "Albuterol 90 MCG/ACTUAT Metered Dose Inhaler"}
	)
	all := []map[string]any{
		{
			"resourceType": "Organization", "id": "general-hospital", "active": true, "name": "General Hospital",
		},
		{
			"resourceType": "Practitioner", "id": "dr-jones", "active": true,
			"name": []any{map[string]any{"family": "Jones", "given": []string{"Sarah"}, "prefix": []string{"Dr"}}},
		},
		patient("example", "Shaw", "Amy", "female", "1987-02-20"),
		patient("other", "Chalmers", "Peter", "male", "1974-12-25"),
		patient("third", "Nakamura", "Kenji", "male", "2001-07-04"),

		observation("example-hba1c", "example", "laboratory", hba1c, 7.1, "%", "2026-10-02T09:30:00Z"),
		observation("example-glucose", "example", "laboratory", glucose, 142, "mg/dL", "2026-10-02T09:30:00Z"),
		observation("example-ldl", "example", "laboratory", ldl, 118, "mg/dL", "2026-10-02T09:30:00Z"),
		observation("example-heart-rate", "example", "vital-signs", heart, 72, "/min", "2026-11-01T10:00:00Z"),
		observation("example-weight", "example", "vital-signs", weight, 68.2, "kg", "2026-11-01T10:00:00Z"),
		observation("example-systolic", "example", "vital-signs", systolic, 131, "mm[Hg]", "2026-11-01T10:00:00Z"),
		condition("example-diabetes", "example", diabetes, "2021-05-10"),
		medicationRequest("example-metformin", "example", metfor, "500 mg twice a day with meals"),

		observation("other-glucose", "other", "laboratory", glucose, 98, "mg/dL", "2026-09-14T08:15:00Z"),
		observation("other-ldl", "other", "laboratory", ldl, 162, "mg/dL", "2026-09-14T08:15:00Z"),
		observation("other-heart-rate", "other", "vital-signs", heart, 64, "/min", "2026-10-20T14:00:00Z"),
		observation("other-systolic", "other", "vital-signs", systolic, 152, "mm[Hg]", "2026-10-20T14:00:00Z"),
		condition("other-hypertension", "other", htn, "2019-03-02"),
		medicationRequest("other-lisinopril", "other", lisino, "10 mg once a day"),

		observation("third-hba1c", "third", "laboratory", hba1c, 5.2, "%", "2026-08-30T11:00:00Z"),
		observation("third-weight", "third", "vital-signs", weight, 74.5, "kg", "2026-08-30T11:00:00Z"),
		condition("third-asthma", "third", asthma, "2010-01-15"),
		medicationRequest("third-albuterol", "third", albut, "2 puffs every 4 hours as needed"),
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
