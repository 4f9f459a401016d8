package fhirjson_test

import (
	"strconv"
	"strings"
)

// observation returns a realistic Observation of Patient/patient, as a
// FHIR server writes it (compact): about 370 bytes, or about 3 KB when
// large (a panel with meta, performers, interpretation, a note and
// components with reference ranges).
func observation(n int, patient string, large bool) string {
	id := "obs-" + strconv.Itoa(n)
	var b strings.Builder
	b.WriteString(`{"resourceType":"Observation","id":"` + id + `",`)
	if large {
		b.WriteString(`"meta":{"versionId":"1","lastUpdated":"2024-03-0` + strconv.Itoa(1+n%9) + `T10:00:00Z"},`)
	}
	b.WriteString(`"status":"final",`)
	b.WriteString(`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],`)
	b.WriteString(`"code":{"coding":[{"system":"http://loinc.org","code":"2339-0"}],"text":"Glucose"},`)
	b.WriteString(`"subject":{"reference":"Patient/` + patient + `"},"effectiveDateTime":"2024-03-0` + strconv.Itoa(1+n%9) + `",`)
	b.WriteString(`"valueQuantity":{"value":` + strconv.Itoa(70+n%50) + `.4,"unit":"mg/dL"}`)
	if large {
		b.WriteString(`,"performer":[{"reference":"Practitioner/pr-7","display":"Dr. Ana Souza"},{"reference":"Organization/lab-1"}],`)
		b.WriteString(`"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"N","display":"Normal"}]}],`)
		b.WriteString(`"note":[{"text":"Fasting sample, drawn at 08:30; hemolysis index \"low\" (\u2264 10)."}],"component":[`)
		for c := range 7 {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"code":{"coding":[{"system":"http://loinc.org","code":"` + strconv.Itoa(2000+c) + `-` + strconv.Itoa(c) + `","display":"Component ` + strconv.Itoa(c) + ` [Moles/volume] in Serum or Plasma"}]},`)
			b.WriteString(`"valueQuantity":{"value":` + strconv.Itoa(c*13%97) + `.` + strconv.Itoa(c) + `,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"},`)
			b.WriteString(`"referenceRange":[{"low":{"value":3.5,"unit":"mmol/L"},"high":{"value":5.1,"unit":"mmol/L"}}]}`)
		}
		b.WriteString(`]`)
	}
	b.WriteString(`}`)
	return b.String()
}

// searchset returns a searchset Bundle of n Observations of Patient/123.
func searchset(n int, large bool) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","id":"b1","meta":{"lastUpdated":"2024-03-01T10:00:00Z"},"type":"searchset","total":` + strconv.Itoa(n) + `,`)
	b.WriteString(`"link":[{"relation":"self","url":"https://fhir.example.org/r4/Observation?patient=123"}],"entry":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"fullUrl":"https://ehr.example/r4/Observation/obs-` + strconv.Itoa(i) + `","resource":`)
		b.WriteString(observation(i, "123", large))
		b.WriteString(`,"search":{"mode":"match"}}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}
