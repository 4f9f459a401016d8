package compartment

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/scope"
)

const observation = `{
  "resourceType": "Observation",
  "id": "obs1",
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0", "display": "Glucose"}]},
  "subject": {"reference": "Patient/123", "display": "Jane"},
  "performer": [{"reference": "Practitioner/9"}],
  "valueQuantity": {"value": 6.3, "unit": "mmol/l"}
}`

func TestMember(t *testing.T) {
	tests := []struct {
		name     string
		resource string
		patient  string
		want     bool
		wantErr  bool
	}{
		{name: "observation subject", resource: observation, patient: "123", want: true},
		{name: "observation other patient", resource: observation, patient: "456"},
		{name: "observation id prefix", resource: observation, patient: "12"},
		{name: "observation performer is patient", patient: "7", want: true,
			resource: `{"resourceType":"Observation","subject":{"reference":"Group/1"},"performer":[{"reference":"Practitioner/1"},{"reference":"Patient/7"}]}`},
		{name: "observation subject is group", patient: "123",
			resource: `{"resourceType":"Observation","subject":{"reference":"Group/123"}}`},
		{name: "allergy recorder", patient: "5", want: true,
			resource: `{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},"recorder":{"reference":"Patient/5"}}`},
		{name: "allergy asserter other", patient: "5",
			resource: `{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},"asserter":{"reference":"Patient/6"}}`},
		{name: "encounter subject", patient: "p-1", want: true,
			resource: `{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p-1"},"participant":[{"individual":{"reference":"Practitioner/2"}}]}`},
		{name: "encounter subject other", patient: "p-1",
			resource: `{"resourceType":"Encounter","subject":{"reference":"Patient/p-2"}}`},
		{name: "patient self", patient: "123", want: true,
			resource: `{"resourceType":"Patient","id":"123","name":[{"family":"Doe"}]}`},
		{name: "patient other", patient: "123",
			resource: `{"resourceType":"Patient","id":"124","link":[{"other":{"reference":"Patient/123"},"type":"seealso"}]}`},
		{name: "absolute reference", patient: "123", want: true,
			resource: `{"resourceType":"Observation","subject":{"reference":"https://ehr.example.org/fhir/Patient/123"}}`},
		{name: "history suffix", patient: "123", want: true,
			resource: `{"resourceType":"Observation","subject":{"reference":"Patient/123/_history/2"}}`},
		{name: "escaped slash", patient: "123", want: true,
			resource: `{"resourceType":"Observation","subject":{"reference":"Patient\/123"}}`},
		{name: "relative junk prefix", patient: "123",
			resource: `{"resourceType":"Observation","subject":{"reference":"Group/Patient/123"}}`},
		{name: "contained reference", patient: "123",
			resource: `{"resourceType":"Observation","contained":[{"resourceType":"Patient","id":"123"}],"subject":{"reference":"#123"}}`},
		{name: "contained resource refers", patient: "123",
			resource: `{"resourceType":"Observation","contained":[{"resourceType":"Observation","subject":{"reference":"Patient/123"}}],"subject":{"reference":"Patient/9"}}`},
		{name: "logical reference", patient: "123",
			resource: `{"resourceType":"Observation","subject":{"identifier":{"value":"123"},"type":"Patient"}}`},
		{name: "not in compartment", patient: "123",
			resource: `{"resourceType":"Medication","id":"m","subject":{"reference":"Patient/123"}}`},
		{name: "appointment participant actor", patient: "123", want: true,
			resource: `{"resourceType":"Appointment","participant":[{"actor":{"reference":"Practitioner/1"}},{"actor":{"reference":"Patient/123"}}]}`},
		{name: "duplicate subject", patient: "123", wantErr: true,
			resource: `{"resourceType":"Observation","subject":{"reference":"Patient/123"},"subject":{"reference":"Patient/9"}}`},
		{name: "duplicate reference", patient: "123", wantErr: true,
			resource: `{"resourceType":"Observation","subject":{"reference":"Patient/123","reference":"Patient/9"}}`},
		{name: "duplicate resourceType", patient: "123", wantErr: true,
			resource: `{"resourceType":"Observation","resourceType":"Medication","subject":{"reference":"Patient/123"}}`},
		{name: "truncated", patient: "123", wantErr: true, resource: `{"resourceType":"Observation","subject":{"reference":"Patient/123"}`},
		{name: "trailing junk", patient: "123", wantErr: true, resource: `{"resourceType":"Observation"} x`},
		{name: "no resourceType", patient: "123", wantErr: true, resource: `{"subject":{"reference":"Patient/123"}}`},
		{name: "array", patient: "123", wantErr: true, resource: `[]`},
		{name: "empty patient", patient: "", resource: observation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Member([]byte(tc.resource), tc.patient)
			if tc.wantErr {
				if !errors.Is(err, ErrJSON) {
					t.Fatalf("err = %v, want ErrJSON", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Member = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestTables(t *testing.T) {
	n := 0
	for typ, codes := range patientParams {
		n++
		if !scope.IsR4Type(typ) {
			t.Errorf("%s is not an R4 type", typ)
		}
		for _, code := range codes {
			if typ == "Patient" {
				continue
			}
			p, ok := params[typ][code]
			if !ok || !p.Reference || len(p.Paths) == 0 {
				t.Errorf("%s.%s has no reference paths", typ, code)
			}
		}
	}
	if n != 66 {
		t.Errorf("%d compartment types, want 66", n)
	}
	if p, _ := SearchParam("Observation", "patient"); !p.PatientOnly {
		t.Error("Observation.patient should be PatientOnly")
	}
	if p, _ := SearchParam("Observation", "subject"); p.PatientOnly {
		t.Error("Observation.subject should not be PatientOnly")
	}
}

func FuzzMember(f *testing.F) {
	f.Add([]byte(observation), "123")
	f.Add([]byte(`{"resourceType":"Patient","id":"1"}`), "1")
	f.Add([]byte(`{"resourceType":"Observation","note":[01],"subject":{"reference":"Patient/1"}}`), "1")
	f.Fuzz(func(t *testing.T, data []byte, patient string) {
		// What is read at all is well-formed JSON, skipped parts included.
		_, err := Member(data, patient)
		if err == nil && !json.Valid(data) {
			t.Fatalf("Member accepts %q, not JSON", data)
		}
	})
}

// benchObservation is a realistic ~5 KB Observation.
var benchObservation = func() []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Observation","id":"bench","meta":{"versionId":"3","lastUpdated":"2024-01-01T00:00:00Z","profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab"]},"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","display":"Laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"24323-8","display":"Comprehensive metabolic panel"}]},"subject":{"reference":"Patient/123"},"effectiveDateTime":"2024-01-01T08:00:00Z","performer":[{"reference":"Practitioner/9"},{"reference":"Organization/1"}],"component":[`)
	for i := 0; b.Len() < 4900; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose [Mass/volume] in Serum or Plasma"}],"text":"Glucose"},"valueQuantity":{"value":95,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}()

func BenchmarkMember(b *testing.B) {
	b.SetBytes(int64(len(benchObservation)))
	b.ReportAllocs()
	for b.Loop() {
		ok, err := Member(benchObservation, "123")
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func TestRefersToBase(t *testing.T) {
	tests := []struct {
		ref, base string
		want      bool
	}{
		{"Patient/1", NoServer, true},
		{"Patient/1", "https://a/fhir", true},
		{"https://a/fhir/Patient/1", AnyServer, true},
		{"https://a/fhir/Patient/1", "https://a/fhir", true},
		{"https://a/fhir/Patient/1/_history/3", "https://a/fhir", true},
		{"https://b/fhir/Patient/1", "https://a/fhir", false},
		{"https://a/fhir/x/Patient/1", "https://a/fhir", false},
		{"https://a/fhir/Patient/1", NoServer, false},
		{"ftp://a/Patient/1", AnyServer, false},
		{"urn:uuid:Patient/1", AnyServer, false},
		{"#Patient/1", AnyServer, false},
		{"Patient/11", AnyServer, false},
	}
	for _, tc := range tests {
		if got := refersTo([]byte(tc.ref), "1", tc.base); got != tc.want {
			t.Errorf("refersTo(%q, base %q) = %v", tc.ref, tc.base, got)
		}
	}
}
