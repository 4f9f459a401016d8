package fhirstore

// codes are the codes of the sample patients' records.
var codes = struct {
	hba1c, glucose, ldl, heartRate, bodyWeight, systolic, smoking    coding
	phq2, foodWorry, ejectionFraction, findings, ekgImpression       coding
	oxygenFlow, steps                                                coding
	neverSmoked, exSmoker, oftenTrue, neverTrue                      coding
	diabetes, hypertension, asthma, bronchitis, sprain               coding
	foodInsecurity, fallRisk                                         coding
	labReport, ekgStudy, progressNote, lipidPanel, cardiology        coding
	flu, tdap, ekg, hipReplacement, pacemakerImplant, hipStem        coding
	pacemaker, penicillin, codeine, skinEruption, nausea, amlodipine coding
	blood, white, black, asian, notHispanic, spouse, daughter        coding
}{
	hba1c:            coding{loinc, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"},
	glucose:          coding{loinc, "2339-0", "Glucose [Mass/volume] in Blood"},
	ldl:              coding{loinc, "18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma"},
	heartRate:        coding{loinc, "8867-4", "Heart rate"},
	bodyWeight:       coding{loinc, "29463-7", "Body weight"},
	systolic:         coding{loinc, "8480-6", "Systolic blood pressure"},
	smoking:          coding{loinc, "72166-2", "Tobacco smoking status"},
	phq2:             coding{loinc, "55758-7", "Patient Health Questionnaire 2 item (PHQ-2) total score [Reported]"},
	foodWorry:        coding{loinc, "88122-7", "Within the past 12 months we worried whether our food would run out before we got money to buy more [U.S. FSS]"},
	ejectionFraction: coding{loinc, "10230-1", "Left ventricular Ejection fraction"},
	findings:         coding{loinc, "29545-1", "Physical findings Narrative"},
	ekgImpression:    coding{loinc, "8601-7", "EKG impression"},
	oxygenFlow:       coding{loinc, "3151-8", "Inhaled oxygen flow rate"},
	steps:            coding{loinc, "41950-7", "Number of steps in 24 hour Measured"},
	neverSmoked:      coding{snomed, "266919005", "Never smoked tobacco"},
	exSmoker:         coding{snomed, "8517006", "Ex-smoker"},
	oftenTrue:        coding{loinc, "LA28397-0", "Often true"},
	neverTrue:        coding{loinc, "LA28398-8", "Never true"},
	diabetes:         coding{snomed, "44054006", "Diabetes mellitus type 2"},
	hypertension:     coding{snomed, "38341003", "Hypertensive disorder"},
	asthma:           coding{snomed, "195967001", "Asthma"},
	bronchitis:       coding{snomed, "10509002", "Acute bronchitis"},
	sprain:           coding{snomed, "44465007", "Sprain of ankle"},
	foodInsecurity:   coding{snomed, "733423003", "Food insecurity"},
	fallRisk:         coding{snomed, "129839007", "At risk for falls"},
	labReport:        coding{loinc, "11502-2", "Laboratory report"},
	ekgStudy:         coding{loinc, "11524-6", "EKG study"},
	progressNote:     coding{loinc, "11506-3", "Progress note"},
	lipidPanel:       coding{loinc, "24331-1", "Lipid 1996 panel - Serum or Plasma"},
	cardiology:       coding{loinc, "LP29708-2", "Cardiology"},
	flu:              coding{cvx, "140", "Influenza, seasonal, injectable, preservative free"},
	tdap:             coding{cvx, "115", "Tdap"},
	ekg:              coding{snomed, "29303009", "Electrocardiographic procedure"},
	hipReplacement:   coding{snomed, "52734007", "Total replacement of hip"},
	pacemakerImplant: coding{snomed, "307280005", "Implantation of cardiac pacemaker"},
	hipStem:          coding{snomed, "468063009", "Coated femoral stem prosthesis, modular"},
	pacemaker:        coding{snomed, "14106009", "Cardiac pacemaker, device"},
	penicillin:       coding{rxnorm, "7980", "penicillin G"},
	codeine:          coding{rxnorm, "2670", "codeine"},
	skinEruption:     coding{snomed, "271807003", "Eruption of skin"},
	nausea:           coding{snomed, "422587007", "Nausea"},
	amlodipine:       coding{rxnorm, "197361", "amlodipine 5 MG Oral Tablet"},
	blood:            coding{snomed, "119297000", "Blood specimen"},
	white:            coding{omb, "2106-3", "White"},
	black:            coding{omb, "2054-5", "Black or African American"},
	asian:            coding{omb, "2028-9", "Asian"},
	notHispanic:      coding{omb, "2186-5", "Not Hispanic or Latino"},
	spouse:           coding{roleCode, "SPS", "spouse"},
	daughter:         coding{roleCode, "DAUC", "daughter"},
}

// examplePatient is the record of Amy Shaw, a patient with type 2
// diabetes: every resource type and every category of the sample data.
func examplePatient() []map[string]any {
	amy := patient(person{id: "example", family: "Shaw", given: "Amy", gender: "female", birth: "1987-02-20", mrn: "MRN-1001",
		race: codes.white, ethnicity: codes.notHispanic, phone: "+1-555-0110", street: "12 Elm Street", city: "Springfield", zip: "62704"})
	return append(append([]map[string]any{amy}, exampleResults()...), exampleCare()...)
}

// exampleResults are Amy Shaw's Observations, one or more of each
// category; three laboratory results, the one social-history result.
func exampleResults() []map[string]any {
	const p, visit = "example", "2026-10-02T09:30:00Z"
	return []map[string]any{
		fromSpecimen(observation("example-hba1c", p, "laboratory", codes.hba1c, 7.1, "%", visit), "example-blood"),
		fromSpecimen(observation("example-glucose", p, "laboratory", codes.glucose, 142, "mg/dL", visit), "example-blood"),
		fromSpecimen(observation("example-ldl", p, "laboratory", codes.ldl, 118, "mg/dL", visit), "example-blood"),
		observation("example-heart-rate", p, "vital-signs", codes.heartRate, 72, "/min", "2026-11-01T10:00:00Z"),
		observation("example-weight", p, "vital-signs", codes.bodyWeight, 68.2, "kg", "2026-11-01T10:00:00Z"),
		observation("example-systolic", p, "vital-signs", codes.systolic, 131, "mm[Hg]", "2026-11-01T10:00:00Z"),
		atEncounter(observation("example-heart-rate-visit", p, "vital-signs", codes.heartRate, 88, "/min", "2026-10-02T09:05:00Z"), "example-visit"),
		codedObservation("example-smoking", p, "social-history", codes.smoking, codes.neverSmoked, "2026-10-02T09:10:00Z"),
		observation("example-phq2", p, "survey", codes.phq2, 1, "{score}", "2026-10-02T09:25:00Z"),
		codedObservation("example-food-worry", p, "sdoh", codes.foodWorry, codes.oftenTrue, "2026-10-02T09:26:00Z"),
		observation("example-ejection-fraction", p, "imaging", codes.ejectionFraction, 62, "%", "2026-10-05T14:00:00Z"),
		textObservation("example-exam", p, "exam", codes.findings, "Scattered rhonchi, no wheeze. Sensation intact in both feet.", "2026-10-02T09:28:00Z"),
		textObservation("example-ekg", p, "procedure", codes.ekgImpression, "Normal sinus rhythm", "2026-10-02T09:32:00Z"),
		observation("example-oxygen", p, "therapy", codes.oxygenFlow, 2, "L/min", "2026-10-02T09:35:00Z"),
		observation("example-steps", p, "activity", codes.steps, 7400, "/d", "2026-10-31T23:59:00Z"),
	}
}

// exampleCare is the rest of Amy Shaw's record: her visit, Conditions
// (one of each category), Goal, medication, allergy, immunization,
// procedures, implant, reports, note, plan, team, family, coverage,
// order, specimen and the Provenance of it all.
func exampleCare() []map[string]any {
	const p = "example"
	return []map[string]any{
		encounter("example-visit", p, "2026-10-02T09:00:00Z", "2026-10-02T09:45:00Z"),
		condition("example-diabetes", p, "problem-list-item", codes.diabetes, "2021-05-10", ""),
		condition("example-bronchitis", p, "encounter-diagnosis", codes.bronchitis, "2026-09-28", "example-visit"),
		condition("example-food-insecurity", p, "health-concern", codes.foodInsecurity, "2026-10-02", ""),
		goal("example-hba1c-goal", p, "dietary", "Hemoglobin A1c below 7%", codes.hba1c, "2026-10-02", "2027-04-01"),
		medicationRequest("example-metformin", p, "metformin-500", "500 mg once a day with the evening meal", "2021-05-10"),
		allergy("example-penicillin-allergy", p, codes.penicillin, "allergy", "medication", "low", codes.skinEruption, "2015-06-01"),
		immunization("example-flu-shot", p, codes.flu, "2026-10-02T09:40:00Z", "example-visit", "FLU26-A118"),
		atEncounter(procedure("example-ekg-procedure", p, codes.ekg, "2026-10-02T09:32:00Z"), "example-visit"),
		procedure("example-hip-replacement", p, codes.hipReplacement, "2019-03-14T10:00:00Z"),
		device("example-hip-implant", p, codes.hipStem, udi{di: "00844588003288", carrier: "(01)00844588003288(17)290228(10)LOT19A42(21)SN41977",
			lot: "LOT19A42", serial: "SN41977", made: "2019-01-15", expires: "2029-02-28"}),
		labReport("example-lab-report", p, codes.labReport, "2026-10-02T09:30:00Z", "2026-10-02T15:00:00Z", "example-visit",
			"Observation/example-hba1c", "Observation/example-glucose", "Observation/example-ldl"),
		noteReport("example-ekg-report", p, codes.cardiology, codes.ekgStudy, "2026-10-02T09:32:00Z", "2026-10-02T10:00:00Z",
			"example-visit", "Normal sinus rhythm, rate 88.", "Observation/example-ekg"),
		clinicalNote("example-progress-note", p, codes.progressNote, "2026-10-02T10:00:00Z", "example-visit", "2026-10-02T09:00:00Z",
			"2026-10-02T09:45:00Z", "Acute bronchitis. Type 2 diabetes, HbA1c 7.1%: continue metformin. Influenza vaccine given."),
		carePlan("example-care-plan", p, "Type 2 diabetes: metformin, diet, HbA1c every six months.", "2026-10-02",
			[]string{"Condition/example-diabetes"}, []string{"Goal/example-hba1c-goal"}),
		careTeam("example-care-team", p, "active", teamMember{pcpRole, "Practitioner/dr-jones"},
			teamMember{patientRole, "Patient/" + p}, teamMember{caregiverRole, "RelatedPerson/example-spouse"}),
		relatedPerson("example-spouse", p, codes.spouse, "Shaw", "Michael", "+1-555-0111"),
		coverage("example-coverage", p, "ACME-100201", "G-4410", "2024-01-01"),
		serviceRequest("example-hba1c-order", p, codes.hba1c, "2026-10-02T09:20:00Z", "example-visit"),
		specimen("example-blood", p, codes.blood, "2026-10-02T09:30:00Z", "ACC-26-1002"),
		provenance("example-provenance", "2026-10-02T10:00:00Z", "Patient/example", "Encounter/example-visit",
			"Condition/example-diabetes", "Condition/example-bronchitis", "Condition/example-food-insecurity",
			"AllergyIntolerance/example-penicillin-allergy", "MedicationRequest/example-metformin", "Immunization/example-flu-shot",
			"DiagnosticReport/example-lab-report", "DocumentReference/example-progress-note"),
	}
}

// otherPatient is the record of Peter Chalmers, a patient with
// hypertension and a pacemaker: every resource type and every category
// of the sample data. Dr Lee is his general practitioner; Dr Jones is on
// his care team as cardiologist.
func otherPatient() []map[string]any {
	peter := patient(person{id: "other", family: "Chalmers", given: "Peter", gender: "male", birth: "1974-12-25", mrn: "MRN-1002",
		race: codes.black, ethnicity: codes.notHispanic, phone: "+1-555-0120", street: "48 Oak Avenue", city: "Springfield", zip: "62702",
		gp: "dr-lee"})
	return append(append([]map[string]any{peter}, otherResults()...), otherCare()...)
}

// otherResults are Peter Chalmers's Observations, one or more of each
// category.
func otherResults() []map[string]any {
	const p, labs, visit = "other", "2026-09-14T08:15:00Z", "2026-10-20T14:00:00Z"
	return []map[string]any{
		fromSpecimen(observation("other-glucose", p, "laboratory", codes.glucose, 98, "mg/dL", labs), "other-blood"),
		fromSpecimen(observation("other-ldl", p, "laboratory", codes.ldl, 162, "mg/dL", labs), "other-blood"),
		observation("other-heart-rate", p, "vital-signs", codes.heartRate, 64, "/min", visit),
		observation("other-systolic", p, "vital-signs", codes.systolic, 152, "mm[Hg]", visit),
		codedObservation("other-smoking", p, "social-history", codes.smoking, codes.exSmoker, "2026-10-20T14:05:00Z"),
		observation("other-phq2", p, "survey", codes.phq2, 0, "{score}", "2026-10-20T14:06:00Z"),
		codedObservation("other-food-worry", p, "sdoh", codes.foodWorry, codes.neverTrue, "2026-10-20T14:07:00Z"),
		observation("other-ejection-fraction", p, "imaging", codes.ejectionFraction, 55, "%", "2026-10-22T11:00:00Z"),
		textObservation("other-exam", p, "exam", codes.findings, "Healed pacemaker pocket. Left ankle swollen, tender laterally.", "2026-10-20T14:10:00Z"),
		textObservation("other-ekg", p, "procedure", codes.ekgImpression, "Atrial paced rhythm", "2026-10-20T14:15:00Z"),
		observation("other-oxygen", p, "therapy", codes.oxygenFlow, 1, "L/min", "2026-10-20T14:18:00Z"),
		observation("other-steps", p, "activity", codes.steps, 5200, "/d", "2026-10-31T23:59:00Z"),
	}
}

// otherCare is the rest of Peter Chalmers's record, as exampleCare is
// Amy Shaw's; one of his two medication orders names its medication by
// code.
func otherCare() []map[string]any {
	const p = "other"
	return []map[string]any{
		encounter("other-visit", p, "2026-10-20T13:45:00Z", "2026-10-20T14:30:00Z"),
		condition("other-hypertension", p, "problem-list-item", codes.hypertension, "2019-03-02", ""),
		condition("other-sprain", p, "encounter-diagnosis", codes.sprain, "2026-10-19", "other-visit"),
		condition("other-fall-risk", p, "health-concern", codes.fallRisk, "2026-10-20", ""),
		goal("other-bp-goal", p, "behavioral", "Systolic blood pressure below 140 mm[Hg]", codes.systolic, "2026-10-20", "2027-01-31"),
		medicationRequest("other-lisinopril", p, "lisinopril-10", "10 mg once a day", "2019-03-02"),
		withMedicationCode(medicationRequest("other-amlodipine", p, "", "5 mg once a day", "2026-10-20"), codes.amlodipine),
		allergy("other-codeine-intolerance", p, codes.codeine, "intolerance", "medication", "low", codes.nausea, "2012-02-10"),
		immunization("other-tdap", p, codes.tdap, "2026-10-20T14:20:00Z", "other-visit", "TDAP-77B"),
		atEncounter(procedure("other-ekg-procedure", p, codes.ekg, "2026-10-20T14:15:00Z"), "other-visit"),
		procedure("other-pacemaker-implant", p, codes.pacemakerImplant, "2023-05-09T08:30:00Z"),
		device("other-pacemaker", p, codes.pacemaker, udi{di: "00643169007222", carrier: "(01)00643169007222(17)330430(10)PM2305X(21)PJN604821",
			lot: "PM2305X", serial: "PJN604821", made: "2023-04-12", expires: "2033-04-30"}),
		labReport("other-lab-report", p, codes.labReport, "2026-09-14T08:15:00Z", "2026-09-14T12:00:00Z", "",
			"Observation/other-glucose", "Observation/other-ldl"),
		noteReport("other-ekg-report", p, codes.cardiology, codes.ekgStudy, "2026-10-20T14:15:00Z", "2026-10-20T15:00:00Z",
			"other-visit", "Atrial paced rhythm, rate 64.", "Observation/other-ekg"),
		clinicalNote("other-progress-note", p, codes.progressNote, "2026-10-20T15:00:00Z", "other-visit", "2026-10-20T13:45:00Z",
			"2026-10-20T14:30:00Z", "Left ankle sprain after a fall. Blood pressure 152 systolic: amlodipine added. Tdap given."),
		carePlan("other-care-plan", p, "Hypertension: lisinopril and amlodipine, home blood pressure readings.", "2026-10-20",
			[]string{"Condition/other-hypertension"}, []string{"Goal/other-bp-goal"}),
		careTeam("other-care-team", p, "active", teamMember{pcpRole, "Practitioner/dr-lee"},
			teamMember{cardiologistRole, "Practitioner/dr-jones"}, teamMember{patientRole, "Patient/" + p},
			teamMember{caregiverRole, "RelatedPerson/other-daughter"}),
		relatedPerson("other-daughter", p, codes.daughter, "Chalmers", "Maria", "+1-555-0121"),
		coverage("other-coverage", p, "ACME-100202", "G-4410", "2022-01-01"),
		serviceRequest("other-lipid-order", p, codes.lipidPanel, "2026-10-20T14:25:00Z", "other-visit"),
		specimen("other-blood", p, codes.blood, "2026-09-14T08:15:00Z", "ACC-26-0914"),
		provenance("other-provenance", "2026-10-20T15:00:00Z", "Patient/other", "Encounter/other-visit",
			"Condition/other-hypertension", "Condition/other-sprain", "Condition/other-fall-risk",
			"AllergyIntolerance/other-codeine-intolerance", "MedicationRequest/other-lisinopril", "MedicationRequest/other-amlodipine",
			"Immunization/other-tdap", "DiagnosticReport/other-lab-report", "DocumentReference/other-progress-note"),
	}
}

// thirdPatient is the sparse record of Kenji Nakamura, a patient with
// asthma: one laboratory result, one vital sign, one problem, one
// medication order, and the care team of Dr Jones, inactive since Dr Lee
// became his general practitioner.
func thirdPatient() []map[string]any {
	const p = "third"
	return []map[string]any{
		patient(person{id: p, family: "Nakamura", given: "Kenji", gender: "male", birth: "2001-07-04", mrn: "MRN-1003",
			race: codes.asian, ethnicity: codes.notHispanic, phone: "+1-555-0130", street: "7 Birch Lane", city: "Chatham", zip: "62629",
			gp: "dr-lee"}),
		observation("third-hba1c", p, "laboratory", codes.hba1c, 5.2, "%", "2026-08-30T11:00:00Z"),
		observation("third-weight", p, "vital-signs", codes.bodyWeight, 74.5, "kg", "2026-08-30T11:00:00Z"),
		condition("third-asthma", p, "problem-list-item", codes.asthma, "2010-01-15", ""),
		medicationRequest("third-albuterol", p, "albuterol-inhaler", "2 puffs every 4 hours as needed", "2024-09-01"),
		careTeam("third-former-care-team", p, "inactive", teamMember{pcpRole, "Practitioner/dr-jones"}, teamMember{patientRole, "Patient/" + p}),
	}
}
