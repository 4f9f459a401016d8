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

// Category systems of the sample data.
const (
	conditionCategory = "http://terminology.hl7.org/CodeSystem/condition-category"
	goalCategory      = "http://terminology.hl7.org/CodeSystem/goal-category"
	actCode           = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
)

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

// socialHistory is an Observation of category social-history with a
// coded value, such as a smoking status.
func socialHistory(id, pat string, code, value coding, when string) map[string]any {
	return map[string]any{
		"resourceType": "Observation", "id": id, "status": "final",
		"category":             []any{codeable(coding{obsCategory, "social-history", "Social History"})},
		"code":                 codeable(code),
		"subject":              map[string]any{"reference": "Patient/" + pat},
		"effectiveDateTime":    when,
		"performer":            []any{map[string]any{"reference": "Practitioner/dr-jones"}},
		"valueCodeableConcept": codeable(value),
	}
}

// condition is a Condition of a category of
// http://terminology.hl7.org/CodeSystem/condition-category: a
// problem-list-item, an encounter-diagnosis (of encounter) or a
// health-concern.
func condition(id, pat, category string, code coding, onset, encounter string) map[string]any {
	display := map[string]string{"problem-list-item": "Problem List Item",
		"encounter-diagnosis": "Encounter Diagnosis", "health-concern": "Health Concern"}[category]
	c := map[string]any{
		"resourceType": "Condition", "id": id,
		"clinicalStatus": codeable(coding{"http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"}),
		"category":       []any{codeable(coding{conditionCategory, category, display})},
		"code":           codeable(code),
		"subject":        map[string]any{"reference": "Patient/" + pat},
		"onsetDateTime":  onset,
	}
	if encounter != "" {
		c["encounter"] = map[string]any{"reference": "Encounter/" + encounter}
	}
	return c
}

// atEncounter sets the encounter of r.
func atEncounter(r map[string]any, id string) map[string]any {
	r["encounter"] = map[string]any{"reference": "Encounter/" + id}
	return r
}

// encounter is a finished ambulatory Encounter with Dr Jones.
func encounter(id, pat, start, end string) map[string]any {
	return map[string]any{
		"resourceType": "Encounter", "id": id, "status": "finished",
		"class":           map[string]any{"system": actCode, "code": "AMB", "display": "ambulatory"},
		"type":            []any{codeable(coding{snomed, "185349003", "Encounter for check up"})},
		"subject":         map[string]any{"reference": "Patient/" + pat},
		"participant":     []any{map[string]any{"individual": map[string]any{"reference": "Practitioner/dr-jones"}}},
		"period":          map[string]any{"start": start, "end": end},
		"serviceProvider": map[string]any{"reference": "Organization/general-hospital"},
	}
}

// goal is an active Goal of a category of
// http://terminology.hl7.org/CodeSystem/goal-category.
func goal(id, pat, category, description string, measure coding, due string) map[string]any {
	return map[string]any{
		"resourceType": "Goal", "id": id, "lifecycleStatus": "active",
		"category": []any{codeable(coding{goalCategory, category,
			map[string]string{"dietary": "Dietary", "behavioral": "Behavioral"}[category]})},
		"description": map[string]any{"text": description},
		"subject":     map[string]any{"reference": "Patient/" + pat},
		"target":      []any{map[string]any{"measure": codeable(measure), "dueDate": due}},
		"expressedBy": map[string]any{"reference": "Practitioner/dr-jones"},
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

// Seed returns the sample data: three patients with Observations
// (laboratory, vital-signs, social-history), Conditions (problem-list-item,
// encounter-diagnosis, health-concern), MedicationRequests, Encounters and
// Goals, their Practitioner and their Organization. Each granular scope
// the demo suggests (docs/demo.md) finds some of a patient's resources
// and not others.
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
		smoking  = coding{loinc, "72166-2", "Tobacco smoking status"}
		never    = coding{snomed, "266919005", "Never smoked tobacco"}
		former   = coding{snomed, "8517006", "Ex-smoker"}
		bronch   = coding{snomed, "10509002", "Acute bronchitis"}
		sprain   = coding{snomed, "44465007", "Sprain of ankle"}
		food     = coding{snomed, "733423003", "Food insecurity"}
		falls    = coding{snomed, "129839007", "At risk for falls"}
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
		atEncounter(observation("example-heart-rate-visit", "example", "vital-signs", heart, 88, "/min", "2026-10-02T09:05:00Z"), "example-visit"),
		socialHistory("example-smoking", "example", smoking, never, "2026-10-02T09:10:00Z"),
		encounter("example-visit", "example", "2026-10-02T09:00:00Z", "2026-10-02T09:45:00Z"),
		condition("example-diabetes", "example", "problem-list-item", diabetes, "2021-05-10", ""),
		condition("example-bronchitis", "example", "encounter-diagnosis", bronch, "2026-09-28", "example-visit"),
		condition("example-food-insecurity", "example", "health-concern", food, "2026-10-02", ""),
		goal("example-hba1c-goal", "example", "dietary", "Hemoglobin A1c below 7%", hba1c, "2027-04-01"),
		medicationRequest("example-metformin", "example", metfor, "500 mg twice a day with meals"),

		observation("other-glucose", "other", "laboratory", glucose, 98, "mg/dL", "2026-09-14T08:15:00Z"),
		observation("other-ldl", "other", "laboratory", ldl, 162, "mg/dL", "2026-09-14T08:15:00Z"),
		observation("other-heart-rate", "other", "vital-signs", heart, 64, "/min", "2026-10-20T14:00:00Z"),
		observation("other-systolic", "other", "vital-signs", systolic, 152, "mm[Hg]", "2026-10-20T14:00:00Z"),
		socialHistory("other-smoking", "other", smoking, former, "2026-10-20T14:05:00Z"),
		encounter("other-visit", "other", "2026-10-20T13:45:00Z", "2026-10-20T14:30:00Z"),
		condition("other-hypertension", "other", "problem-list-item", htn, "2019-03-02", ""),
		condition("other-sprain", "other", "encounter-diagnosis", sprain, "2026-10-19", "other-visit"),
		condition("other-fall-risk", "other", "health-concern", falls, "2026-10-20", ""),
		goal("other-bp-goal", "other", "behavioral", "Systolic blood pressure below 140 mm[Hg]", systolic, "2027-01-31"),
		medicationRequest("other-lisinopril", "other", lisino, "10 mg once a day"),

		observation("third-hba1c", "third", "laboratory", hba1c, 5.2, "%", "2026-08-30T11:00:00Z"),
		observation("third-weight", "third", "vital-signs", weight, 74.5, "kg", "2026-08-30T11:00:00Z"),
		condition("third-asthma", "third", "problem-list-item", asthma, "2010-01-15", ""),
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
