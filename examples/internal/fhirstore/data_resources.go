package fhirstore

import (
	"encoding/base64"
	"strings"
)

// One builder per shape of resource in the sample data, each claiming
// its US Core profile and filling the elements that profile requires.

// person is what tells the sample patients apart.
type person struct {
	id, family, given, gender, birth string
	mrn                              string
	race, ethnicity                  coding // OMB categories
	phone, street, city, zip         string
	gp                               string // the general practitioner's id; default dr-jones
}

// patient is a US Core Patient: race, ethnicity and birth sex, a medical
// record number, Dr Jones (or p.gp) as practitioner, at General Hospital.
func patient(p person) map[string]any {
	if p.gp == "" {
		p.gp = "dr-jones"
	}
	return map[string]any{
		"resourceType": "Patient", "id": p.id, "meta": profiled("us-core-patient"),
		"text": narrative(p.given + " " + p.family + ", " + p.gender + ", born " + p.birth),
		"extension": []any{
			ombExtension("us-core-race", p.race), ombExtension("us-core-ethnicity", p.ethnicity),
			map[string]any{"url": usCore + "us-core-birthsex", "valueCode": map[string]string{"female": "F", "male": "M"}[p.gender]},
		},
		"identifier": []any{map[string]any{"use": "usual", "type": codeable(coding{v2IDType, "MR", "Medical Record Number"}),
			"system": hospital + "mrn", "value": p.mrn}},
		"active":               true,
		"name":                 []any{map[string]any{"use": "official", "family": p.family, "given": []string{p.given}}},
		"telecom":              phone(p.phone, "home"),
		"gender":               p.gender,
		"birthDate":            p.birth,
		"address":              address(p.street, p.city, "IL", p.zip),
		"communication":        []any{map[string]any{"language": codeable(coding{"urn:ietf:bcp:47", "en", "English"})}},
		"generalPractitioner":  refs("Practitioner/" + p.gp),
		"managingOrganization": ref("Organization/general-hospital"),
	}
}

// ombExtension is the US Core race or ethnicity extension of one OMB
// category.
func ombExtension(name string, c coding) map[string]any {
	return map[string]any{"url": usCore + name, "extension": []any{
		map[string]any{"url": "ombCategory", "valueCoding": c.json()},
		map[string]any{"url": "text", "valueString": c.display},
	}}
}

// obsCategories are the Observation categories of the sample data: their
// coding, and the US Core profile an Observation of the category claims.
var obsCategories = map[string]struct {
	coding  coding
	profile string
}{
	"laboratory":     {coding{obsCategory, "laboratory", "Laboratory"}, "us-core-observation-lab"},
	"vital-signs":    {coding{obsCategory, "vital-signs", "Vital Signs"}, "us-core-vital-signs"},
	"social-history": {coding{obsCategory, "social-history", "Social History"}, "us-core-simple-observation"},
	"survey":         {coding{obsCategory, "survey", "Survey"}, "us-core-observation-screening-assessment"},
	"sdoh":           {coding{usCoreCategory, "sdoh", "SDOH"}, "us-core-observation-screening-assessment"},
	"imaging":        {coding{obsCategory, "imaging", "Imaging"}, "us-core-observation-clinical-result"},
	"procedure":      {coding{obsCategory, "procedure", "Procedure"}, "us-core-observation-clinical-result"},
	"exam":           {coding{obsCategory, "exam", "Exam"}, "us-core-simple-observation"},
	"therapy":        {coding{obsCategory, "therapy", "Therapy"}, "us-core-simple-observation"},
	"activity":       {coding{obsCategory, "activity", "Activity"}, "us-core-simple-observation"},
}

// codeProfiles are the US Core profiles of Observations of one code,
// claimed instead of their category's.
var codeProfiles = map[string]string{"8867-4": "us-core-heart-rate", "29463-7": "us-core-body-weight", "72166-2": "us-core-smokingstatus"}

// finding is a final Observation of category (a key of obsCategories)
// about pat, made at when by Dr Jones, without a value.
func finding(id, pat, category string, code coding, when string) map[string]any {
	cat := obsCategories[category]
	profile := cat.profile
	if p, ok := codeProfiles[code.code]; ok {
		profile = p
	}
	return map[string]any{
		"resourceType": "Observation", "id": id, "meta": profiled(profile), "status": "final",
		"category":          []any{codeable(cat.coding)},
		"code":              codeable(code),
		"subject":           ref("Patient/" + pat),
		"effectiveDateTime": when,
		"performer":         refs("Practitioner/dr-jones"),
	}
}

// observation is an Observation whose value is a UCUM quantity.
func observation(id, pat, category string, code coding, value float64, unit, when string) map[string]any {
	r := finding(id, pat, category, code, when)
	r["valueQuantity"] = map[string]any{"value": value, "unit": unit, "system": ucum, "code": unit}
	return r
}

// codedObservation is an Observation whose value is a code, such as a
// smoking status or the answer to a screening question.
func codedObservation(id, pat, category string, code, value coding, when string) map[string]any {
	r := finding(id, pat, category, code, when)
	r["valueCodeableConcept"] = codeable(value)
	return r
}

// textObservation is an Observation whose value is text, such as an
// impression or an exam finding.
func textObservation(id, pat, category string, code coding, value, when string) map[string]any {
	r := finding(id, pat, category, code, when)
	r["valueString"] = value
	return r
}

// atEncounter sets the encounter of r.
func atEncounter(r map[string]any, id string) map[string]any {
	r["encounter"] = ref("Encounter/" + id)
	return r
}

// fromSpecimen sets the specimen of a laboratory Observation.
func fromSpecimen(r map[string]any, id string) map[string]any {
	r["specimen"] = ref("Specimen/" + id)
	return r
}

// condition is a confirmed, active Condition of a category: a
// problem-list-item or an encounter-diagnosis (of encounter) of
// http://terminology.hl7.org/CodeSystem/condition-category, or a US Core
// health-concern.
func condition(id, pat, category string, code coding, onset, encounter string) map[string]any {
	cat, profile := coding{conditionCategory, category, ""}, "us-core-condition-problems-health-concerns"
	switch category {
	case "problem-list-item":
		cat.display = "Problem List Item"
	case "encounter-diagnosis":
		cat.display, profile = "Encounter Diagnosis", "us-core-condition-encounter-diagnosis"
	case "health-concern":
		cat = coding{usCoreCondCategory, "health-concern", "Health Concern"}
	}
	c := map[string]any{
		"resourceType": "Condition", "id": id, "meta": profiled(profile),
		"clinicalStatus":     codeable(coding{"http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"}),
		"verificationStatus": codeable(coding{"http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"}),
		"category":           []any{codeable(cat)},
		"code":               codeable(code),
		"subject":            ref("Patient/" + pat),
		"onsetDateTime":      onset,
		"recordedDate":       onset,
	}
	if encounter != "" {
		atEncounter(c, encounter)
	}
	return c
}

// encounter is a finished ambulatory check-up with Dr Jones at General
// Hospital.
func encounter(id, pat, start, end string) map[string]any {
	return map[string]any{
		"resourceType": "Encounter", "id": id, "meta": profiled("us-core-encounter"), "status": "finished",
		"identifier": identifier(hospital+"encounters", id),
		"class":      map[string]any{"system": actCode, "code": "AMB", "display": "ambulatory"},
		"type":       []any{codeable(coding{snomed, "185349003", "Encounter for check up"})},
		"subject":    ref("Patient/" + pat),
		"participant": []any{map[string]any{
			"type":       []any{codeable(coding{"http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PPRF", "primary performer"})},
			"individual": ref("Practitioner/dr-jones"),
		}},
		"period":          map[string]any{"start": start, "end": end},
		"location":        []any{map[string]any{"location": ref("Location/general-hospital-campus")}},
		"serviceProvider": ref("Organization/general-hospital"),
	}
}

// goal is an active Goal of a category of
// http://terminology.hl7.org/CodeSystem/goal-category.
func goal(id, pat, category, description string, measure coding, start, due string) map[string]any {
	return map[string]any{
		"resourceType": "Goal", "id": id, "meta": profiled("us-core-goal"), "lifecycleStatus": "active",
		"category": []any{codeable(coding{goalCategory, category,
			map[string]string{"dietary": "Dietary", "behavioral": "Behavioral"}[category]})},
		"description": map[string]any{"text": description},
		"subject":     ref("Patient/" + pat),
		"startDate":   start,
		"target":      []any{map[string]any{"measure": codeable(measure), "dueDate": due}},
		"expressedBy": ref("Practitioner/dr-jones"),
	}
}

// medication is a Medication of an RxNorm code.
func medication(id string, code coding) map[string]any {
	return map[string]any{"resourceType": "Medication", "id": id, "meta": profiled("us-core-medication"),
		"code": codeable(code), "status": "active"}
}

// medicationRequest is an active community order by Dr Jones for the
// Medication med (so that _include=MedicationRequest:medication finds
// it).
func medicationRequest(id, pat, med, dosage, authored string) map[string]any {
	return map[string]any{
		"resourceType": "MedicationRequest", "id": id, "meta": profiled("us-core-medicationrequest"),
		"status": "active", "intent": "order",
		"category":            []any{codeable(coding{"http://terminology.hl7.org/CodeSystem/medicationrequest-category", "community", "Community"})},
		"reportedBoolean":     false,
		"medicationReference": ref("Medication/" + med),
		"subject":             ref("Patient/" + pat),
		"authoredOn":          authored,
		"requester":           ref("Practitioner/dr-jones"),
		"dosageInstruction":   []any{map[string]any{"text": dosage}},
	}
}

// withMedicationCode names the medication of a MedicationRequest by code
// instead of by reference, the other form US Core allows.
func withMedicationCode(r map[string]any, code coding) map[string]any {
	delete(r, "medicationReference")
	r["medicationCodeableConcept"] = codeable(code)
	return r
}

// allergy is a confirmed, active AllergyIntolerance; kind, category,
// criticality and reaction are left out when empty ("No known allergy"
// has none of them).
func allergy(id, pat string, code coding, kind, category, criticality string, reaction coding, recorded string) map[string]any {
	r := map[string]any{
		"resourceType": "AllergyIntolerance", "id": id, "meta": profiled("us-core-allergyintolerance"),
		"clinicalStatus":     codeable(coding{"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"}),
		"verificationStatus": codeable(coding{"http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed"}),
		"code":               codeable(code),
		"patient":            ref("Patient/" + pat),
		"recordedDate":       recorded,
		"recorder":           ref("Practitioner/dr-jones"),
	}
	if kind != "" {
		r["type"], r["category"], r["criticality"] = kind, []string{category}, criticality
	}
	if reaction.code != "" {
		r["reaction"] = []any{map[string]any{"manifestation": []any{codeable(reaction)}, "severity": "mild"}}
	}
	return r
}

// immunization is a completed Immunization given by Dr Jones at
// General Hospital.
func immunization(id, pat string, vaccine coding, when, encounter, lot string) map[string]any {
	return map[string]any{
		"resourceType": "Immunization", "id": id, "meta": profiled("us-core-immunization"), "status": "completed",
		"vaccineCode":        codeable(vaccine),
		"patient":            ref("Patient/" + pat),
		"encounter":          ref("Encounter/" + encounter),
		"occurrenceDateTime": when,
		"primarySource":      true,
		"location":           ref("Location/general-hospital-campus"),
		"lotNumber":          lot,
		"performer":          []any{map[string]any{"actor": ref("Practitioner/dr-jones")}},
	}
}

// procedure is a completed Procedure performed by Dr Jones.
func procedure(id, pat string, code coding, when string) map[string]any {
	return map[string]any{
		"resourceType": "Procedure", "id": id, "meta": profiled("us-core-procedure"), "status": "completed",
		"code":              codeable(code),
		"subject":           ref("Patient/" + pat),
		"performedDateTime": when,
		"performer":         []any{map[string]any{"actor": ref("Practitioner/dr-jones")}},
		"location":          ref("Location/general-hospital-campus"),
	}
}

// udi is the unique device identifier of an implanted device, and what
// its label says.
type udi struct{ di, carrier, lot, serial, made, expires string }

// device is an active implantable Device of pat.
func device(id, pat string, kind coding, u udi) map[string]any {
	return map[string]any{
		"resourceType": "Device", "id": id, "meta": profiled("us-core-implantable-device"), "status": "active",
		"udiCarrier": []any{map[string]any{"deviceIdentifier": u.di, "issuer": "http://hl7.org/fhir/NamingSystem/gs1-di",
			"jurisdiction": "http://hl7.org/fhir/NamingSystem/fda-udi", "carrierHRF": u.carrier}},
		"distinctIdentifier": u.serial,
		"manufactureDate":    u.made,
		"expirationDate":     u.expires,
		"lotNumber":          u.lot,
		"serialNumber":       u.serial,
		"type":               codeable(kind),
		"patient":            ref("Patient/" + pat),
	}
}

// labReport is a final laboratory DiagnosticReport of the Observations
// results, issued by General Hospital, at encounter unless "".
func labReport(id, pat string, code coding, when, issued, encounter string, results ...string) map[string]any {
	r := map[string]any{
		"resourceType": "DiagnosticReport", "id": id, "meta": profiled("us-core-diagnosticreport-lab"), "status": "final",
		"category":          []any{codeable(coding{"http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory"})},
		"code":              codeable(code),
		"subject":           ref("Patient/" + pat),
		"effectiveDateTime": when,
		"issued":            issued,
		"performer":         refs("Organization/general-hospital"),
		"result":            refs(results...),
	}
	if encounter != "" {
		atEncounter(r, encounter)
	}
	return r
}

// noteReport is a final report-and-note DiagnosticReport by Dr Jones:
// its conclusion, also as a plain-text presentedForm.
func noteReport(id, pat string, category, code coding, when, issued, encounter, conclusion string, results ...string) map[string]any {
	return map[string]any{
		"resourceType": "DiagnosticReport", "id": id, "meta": profiled("us-core-diagnosticreport-note"), "status": "final",
		"category":          []any{codeable(category)},
		"code":              codeable(code),
		"subject":           ref("Patient/" + pat),
		"encounter":         ref("Encounter/" + encounter),
		"effectiveDateTime": when,
		"issued":            issued,
		"performer":         refs("Practitioner/dr-jones"),
		"result":            refs(results...),
		"conclusion":        conclusion,
		"presentedForm":     []any{map[string]any{"contentType": "text/plain", "data": base64.StdEncoding.EncodeToString([]byte(conclusion))}},
	}
}

// clinicalNote is a current DocumentReference of category clinical-note
// by Dr Jones, its note as a plain-text attachment.
func clinicalNote(id, pat string, kind coding, date, encounter, start, end, note string) map[string]any {
	return map[string]any{
		"resourceType": "DocumentReference", "id": id, "meta": profiled("us-core-documentreference"),
		"identifier": identifier(hospital+"documents", id), "status": "current",
		"type": codeable(kind),
		"category": []any{codeable(coding{"http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
			"clinical-note", "Clinical Note"})},
		"subject":   ref("Patient/" + pat),
		"date":      date,
		"author":    refs("Practitioner/dr-jones"),
		"custodian": ref("Organization/general-hospital"),
		"content": []any{map[string]any{
			"attachment": map[string]any{"contentType": "text/plain", "data": base64.StdEncoding.EncodeToString([]byte(note)),
				"title": kind.display},
			"format": coding{"http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
				"urn:ihe:iti:xds:2017:mimeTypeSufficient", "mimeType Sufficient"}.json(),
		}},
		"context": map[string]any{"encounter": refs("Encounter/" + encounter), "period": map[string]any{"start": start, "end": end}},
	}
}

// carePlan is an active assessment-and-plan CarePlan by Dr Jones for the
// Conditions addresses and the Goals goals; plan is its narrative.
func carePlan(id, pat, plan, start string, addresses, goals []string) map[string]any {
	return map[string]any{
		"resourceType": "CarePlan", "id": id, "meta": profiled("us-core-careplan"),
		"text":   narrative(plan),
		"status": "active", "intent": "plan",
		"category": []any{codeable(coding{"http://hl7.org/fhir/us/core/CodeSystem/careplan-category", "assess-plan",
			"Assessment and Plan of Treatment"})},
		"subject":   ref("Patient/" + pat),
		"period":    map[string]any{"start": start},
		"author":    ref("Practitioner/dr-jones"),
		"addresses": refs(addresses...),
		"goal":      refs(goals...),
	}
}

// Care team roles of the sample data.
var (
	pcpRole          = coding{snomed, "446050000", "Primary care physician"}
	cardiologistRole = coding{snomed, "17561000", "Cardiologist"}
	patientRole      = coding{snomed, "116154003", "Patient"}
	caregiverRole    = coding{snomed, "133932002", "Caregiver"}
)

// teamMember is a participant of a care team: its role and who it is
// ("Practitioner/dr-jones", "Patient/example").
type teamMember struct {
	role coding
	who  string
}

// careTeam is a care team of pat, with status ("active", "inactive")
// and its members; practitioners act for General Hospital. The access
// policy of the demo (examples/demo/policy.example.json) gives a
// practitioner the patients of the active care teams naming them.
func careTeam(id, pat, status string, members ...teamMember) map[string]any {
	participants := make([]any, 0, len(members))
	for _, m := range members {
		p := map[string]any{"role": []any{codeable(m.role)}, "member": ref(m.who)}
		if strings.HasPrefix(m.who, "Practitioner/") {
			p["onBehalfOf"] = ref("Organization/general-hospital")
		}
		participants = append(participants, p)
	}
	return map[string]any{
		"resourceType": "CareTeam", "id": id, "meta": profiled("us-core-careteam"), "status": status,
		"name":                 "Primary care team",
		"subject":              ref("Patient/" + pat),
		"participant":          participants,
		"managingOrganization": refs("Organization/general-hospital"),
	}
}

// relatedPerson is an active RelatedPerson of pat.
func relatedPerson(id, pat string, relationship coding, family, given, tel string) map[string]any {
	return map[string]any{
		"resourceType": "RelatedPerson", "id": id, "meta": profiled("us-core-relatedperson"), "active": true,
		"patient":      ref("Patient/" + pat),
		"relationship": []any{codeable(relationship)},
		"name":         []any{map[string]any{"family": family, "given": []string{given}}},
		"telecom":      phone(tel, "mobile"),
	}
}

// coverage is an active private Coverage of pat, who is the subscriber,
// paid by Acme Health Plan.
func coverage(id, pat, member, group, start string) map[string]any {
	class := func(kind, value, name string) map[string]any {
		return map[string]any{"type": codeable(coding{"http://terminology.hl7.org/CodeSystem/coverage-class", kind, name}),
			"value": value, "name": "Acme Gold"}
	}
	return map[string]any{
		"resourceType": "Coverage", "id": id, "meta": profiled("us-core-coverage"),
		"identifier": []any{map[string]any{"type": codeable(coding{v2IDType, "MB", "Member Number"}),
			"system": "http://acme-health.example.org/members", "value": member}},
		"status":       "active",
		"type":         codeable(coding{"urn:oid:2.16.840.1.113883.3.221.5", "5", "PRIVATE HEALTH INSURANCE"}),
		"subscriberId": member,
		"beneficiary":  ref("Patient/" + pat),
		"relationship": codeable(coding{"http://terminology.hl7.org/CodeSystem/subscriber-relationship", "self", "Self"}),
		"period":       map[string]any{"start": start},
		"payor":        refs("Organization/acme-health-plan"),
		"class":        []any{class("group", group, "Group"), class("plan", "GOLD", "Plan")},
	}
}

// serviceRequest is an active laboratory order by Dr Jones.
func serviceRequest(id, pat string, code coding, when, encounter string) map[string]any {
	return map[string]any{
		"resourceType": "ServiceRequest", "id": id, "meta": profiled("us-core-servicerequest"),
		"status": "active", "intent": "order",
		"category":           []any{codeable(coding{snomed, "108252007", "Laboratory procedure"})},
		"code":               codeable(code),
		"subject":            ref("Patient/" + pat),
		"encounter":          ref("Encounter/" + encounter),
		"occurrenceDateTime": when,
		"authoredOn":         when,
		"requester":          ref("Practitioner/dr-jones"),
	}
}

// specimen is an available Specimen of pat, collected at when.
func specimen(id, pat string, kind coding, when, accession string) map[string]any {
	return map[string]any{
		"resourceType": "Specimen", "id": id, "meta": profiled("us-core-specimen"), "status": "available",
		"identifier":          identifier(hospital+"specimens", id),
		"accessionIdentifier": map[string]any{"system": hospital + "accessions", "value": accession},
		"type":                codeable(kind),
		"subject":             ref("Patient/" + pat),
		"collection":          map[string]any{"collectedDateTime": when, "collector": ref("Practitioner/dr-jones")},
	}
}

// provenance records that Dr Jones authored the targets, on behalf of
// General Hospital, which sent them (so that
// _revinclude=Provenance:target finds it).
func provenance(id, recorded string, targets ...string) map[string]any {
	author := map[string]any{
		"type": codeable(coding{"http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author", "Author"}),
		"who":  ref("Practitioner/dr-jones"), "onBehalfOf": ref("Organization/general-hospital"),
	}
	transmitter := map[string]any{
		"type": codeable(coding{"http://hl7.org/fhir/us/core/CodeSystem/us-core-provenance-participant-type", "transmitter", "Transmitter"}),
		"who":  ref("Organization/general-hospital"),
	}
	return map[string]any{
		"resourceType": "Provenance", "id": id, "meta": profiled("us-core-provenance"),
		"target":   refs(targets...),
		"recorded": recorded,
		"agent":    []any{author, transmitter},
	}
}
