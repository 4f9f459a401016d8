package compartment

import (
	"errors"
	"slices"
	"testing"
)

// The attack these tests pin: patient/Device.rs for Patient/123 read
// Patient/456's Device, because Device is not in the R4 patient
// compartment and was treated as data about no patient.

func TestLinkedResourcesBelongToTheirPatientOnly(t *testing.T) {
	tests := []struct {
		name, typ, resource string
		in123, in456        bool
	}{
		{name: "device patient", typ: "Device", in123: true,
			resource: `{"resourceType":"Device","id":"d","patient":{"reference":"Patient/123"}}`},
		{name: "device no patient", typ: "Device",
			resource: `{"resourceType":"Device","id":"d","owner":{"reference":"Organization/1"}}`},
		{name: "task for", typ: "Task", in456: true,
			resource: `{"resourceType":"Task","id":"t","status":"ready","intent":"order","for":{"reference":"Patient/456"}}`},
		{name: "task owner", typ: "Task", in123: true,
			resource: `{"resourceType":"Task","id":"t","for":{"reference":"Group/1"},"owner":{"reference":"Patient/123"}}`},
		{name: "task focus and basedOn", typ: "Task", in123: true,
			resource: `{"resourceType":"Task","id":"t","focus":{"reference":"Practitioner/9"},"basedOn":[{"reference":"ServiceRequest/1"},{"reference":"https://ehr.example/fhir/Patient/123"}]}`},
		{name: "contract subject", typ: "Contract", in123: true,
			resource: `{"resourceType":"Contract","id":"c","subject":[{"reference":"Patient/123"}]}`},
		{name: "contract signer party", typ: "Contract", in456: true,
			resource: `{"resourceType":"Contract","id":"c","signer":[{"type":{"text":"x"},"party":{"reference":"Patient/456"}}]}`},
		{name: "guidance response subject", typ: "GuidanceResponse", in123: true,
			resource: `{"resourceType":"GuidanceResponse","id":"g","subject":{"reference":"Patient/123"}}`},
		{name: "guidance response group", typ: "GuidanceResponse",
			resource: `{"resourceType":"GuidanceResponse","id":"g","subject":{"reference":"Group/123"}}`},
		{name: "binary security context patient", typ: "Binary", in123: true,
			resource: `{"resourceType":"Binary","id":"b","contentType":"text/plain","securityContext":{"reference":"Patient/123"},"data":"aGk="}`},
		{name: "binary security context document", typ: "Binary",
			resource: `{"resourceType":"Binary","id":"b","contentType":"text/plain","securityContext":{"reference":"DocumentReference/123"}}`},
		{name: "binary security context group", typ: "Binary",
			resource: `{"resourceType":"Binary","id":"b","securityContext":{"reference":"Group/123"}}`},
		{name: "binary without security context", typ: "Binary",
			resource: `{"resourceType":"Binary","id":"b","contentType":"text/plain"}`},
		{name: "message header focus", typ: "MessageHeader", in456: true,
			resource: `{"resourceType":"MessageHeader","id":"m","focus":[{"reference":"Patient/456"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []struct {
				id   string
				want bool
			}{{"123", tc.in123}, {"456", tc.in456}} {
				got, err := Member([]byte(tc.resource), p.id)
				if err != nil || got != p.want {
					t.Errorf("Member(Patient/%s) = %v, %v; want %v", p.id, got, err, p.want)
				}
				got, err = MemberOf([]byte(tc.resource), tc.typ, "x", p.id, AnyServer)
				if err != nil || got != p.want {
					t.Errorf("MemberOf(Patient/%s) = %v, %v; want %v", p.id, got, err, p.want)
				}
				got, err = OnlyMemberOf([]byte(tc.resource), tc.typ, "x", p.id, AnyServer)
				if err != nil || got != p.want {
					t.Errorf("OnlyMemberOf(Patient/%s) = %v, %v; want %v", p.id, got, err, p.want)
				}
			}
		})
	}
}

func TestInHoldsForTypesThatCanBelongToAPatient(t *testing.T) {
	tests := []struct {
		typ        string
		in, linked bool
	}{
		{typ: "Observation", in: true},
		{typ: "Patient", in: true},
		{typ: "Device", in: true, linked: true},
		{typ: "Task", in: true, linked: true},
		{typ: "Contract", in: true, linked: true},
		{typ: "GuidanceResponse", in: true, linked: true},
		{typ: "Binary", in: true, linked: true},
		{typ: "Medication"},
		{typ: "Practitioner"},
		{typ: "Organization"},
		{typ: "Location"},
		{typ: "Bundle"},
		// Knowledge artifacts reach other resources through canonicals
		// only (relatedArtifact.resource, library), which never name a
		// Patient.
		{typ: "Library"},
		{typ: "PlanDefinition"},
		{typ: "Questionnaire"},
		{typ: "NotAType"},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			if got := In(tc.typ); got != tc.in {
				t.Errorf("In = %v, want %v", got, tc.in)
			}
			if got := Linked(tc.typ); got != tc.linked {
				t.Errorf("Linked = %v, want %v", got, tc.linked)
			}
			if got := Params(tc.typ) != nil; got != tc.in {
				t.Errorf("Params = %v, want some: %v", Params(tc.typ), tc.in)
			}
		})
	}
}

func TestLinkedTypesAreSortedAndOutsideTheR4Compartment(t *testing.T) {
	types := LinkedTypes()
	if !slices.IsSorted(types) {
		t.Errorf("LinkedTypes() = %v, not sorted", types)
	}
	for _, typ := range []string{"Binary", "Contract", "Device", "GuidanceResponse", "Task"} {
		if !slices.Contains(types, typ) {
			t.Errorf("LinkedTypes() lacks %s", typ)
		}
	}
	for _, typ := range types {
		if patientParams[typ] != nil || typ == "Bundle" {
			t.Errorf("%s is linked", typ)
		}
		if !Linked(typ) || !In(typ) {
			t.Errorf("%s: Linked %v, In %v", typ, Linked(typ), In(typ))
		}
		for _, code := range Params(typ) {
			p, ok := SearchParam(typ, code)
			if !ok || !p.Reference || len(p.Paths) == 0 {
				t.Errorf("%s.%s = %+v, %v; want a reference parameter with paths", typ, code, p, ok)
			}
		}
	}
	types[0] = "changed"
	if LinkedTypes()[0] == "changed" {
		t.Error("LinkedTypes returns its own table")
	}
}

func TestLinkedTypesKeepTheirParams(t *testing.T) {
	tests := []struct {
		typ         string
		params      []string
		restrictors map[string]bool
	}{
		{"Device", []string{"patient"}, map[string]bool{"patient": true}},
		{"Task", []string{"based-on", "focus", "owner", "patient", "requester", "subject"},
			map[string]bool{"based-on": false, "focus": false, "owner": false, "patient": true, "requester": false, "subject": false}},
		{"Contract", []string{"patient", "signer", "subject"}, map[string]bool{"patient": true, "signer": false, "subject": false}},
		{"GuidanceResponse", []string{"patient", "subject"}, map[string]bool{"patient": true, "subject": false}},
		// No R4 search parameter reads Binary.securityContext: a search of
		// Binary cannot be limited to a patient.
		{"Binary", []string{"securityContext"}, map[string]bool{}},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			if got := Params(tc.typ); !slices.Equal(got, tc.params) {
				t.Errorf("Params = %v, want %v", got, tc.params)
			}
			got := Restrictors(tc.typ)
			if len(got) != len(tc.restrictors) {
				t.Errorf("Restrictors = %v, want %v", got, tc.restrictors)
			}
			for code, patientOnly := range tc.restrictors {
				if v, ok := got[code]; !ok || v != patientOnly {
					t.Errorf("Restrictors[%q] = %v, %v; want %v", code, v, ok, patientOnly)
				}
			}
		})
	}
	p, ok := SearchParam("Task", "patient")
	if !ok || !p.PatientOnly || !slices.Equal(p.Paths, []string{"for@Patient"}) {
		t.Errorf("Task.patient = %+v, %v", p, ok)
	}
	p, ok = SearchParam("Binary", "securityContext")
	if !ok || !p.Reference || !slices.Equal(p.Paths, []string{"securityContext@Patient"}) {
		t.Errorf("Binary.securityContext = %+v, %v", p, ok)
	}
}

func TestOnlyMemberOfRefusesLinkedResourcesNamingTwoPatients(t *testing.T) {
	tests := []struct {
		name, typ, resource string
		want                bool
		wantErr             bool
	}{
		{name: "task for one, owner another", typ: "Task",
			resource: `{"resourceType":"Task","for":{"reference":"Patient/123"},"owner":{"reference":"Patient/456"}}`},
		{name: "task for one, requester another", typ: "Task",
			resource: `{"resourceType":"Task","for":{"reference":"Patient/123"},"requester":{"reference":"https://other.example/fhir/Patient/456"}}`},
		{name: "task conditional focus", typ: "Task",
			resource: `{"resourceType":"Task","for":{"reference":"Patient/123"},"focus":{"reference":"Patient?identifier=x"}}`},
		{name: "task for one, owner practitioner", typ: "Task", want: true,
			resource: `{"resourceType":"Task","for":{"reference":"Patient/123"},"owner":{"reference":"Practitioner/456"}}`},
		{name: "device of another patient", typ: "Device",
			resource: `{"resourceType":"Device","patient":{"reference":"Patient/456"}}`},
		// Device.patient is 0..1: JSON naming two patients there is
		// unreadable, never a member.
		{name: "device patient twice", typ: "Device", wantErr: true,
			resource: `{"resourceType":"Device","patient":{"reference":"Patient/123"},"patient":{"reference":"Patient/456"}}`},
		{name: "contract subject and signer", typ: "Contract",
			resource: `{"resourceType":"Contract","subject":[{"reference":"Patient/123"}],"signer":[{"party":{"reference":"Patient/456"}}]}`},
		{name: "contract two subjects", typ: "Contract",
			resource: `{"resourceType":"Contract","subject":[{"reference":"Patient/123"},{"reference":"Patient/456"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := OnlyMemberOf([]byte(tc.resource), tc.typ, "x", "123", "https://ehr.example/fhir")
			if tc.wantErr {
				if got || !errors.Is(err, ErrJSON) {
					t.Fatalf("OnlyMemberOf = %v, %v; want ErrJSON", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("OnlyMemberOf = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// A resource of the R4 compartment that names two patients on its
// compartment elements is in both compartments (the elements are ORed),
// and writing it as either patient writes into the other's record.
func TestCompartmentResourceNamingTwoPatientsIsInBoth(t *testing.T) {
	tests := []struct {
		name, typ, resource string
	}{
		{name: "observation subject and performer", typ: "Observation",
			resource: `{"resourceType":"Observation","id":"o","subject":{"reference":"Patient/456"},"performer":[{"reference":"Patient/123"}]}`},
		{name: "allergy patient and recorder", typ: "AllergyIntolerance",
			resource: `{"resourceType":"AllergyIntolerance","id":"a","patient":{"reference":"Patient/123"},"recorder":{"reference":"Patient/456"}}`},
		{name: "appointment two actors", typ: "Appointment",
			resource: `{"resourceType":"Appointment","id":"a","participant":[{"actor":{"reference":"Patient/123"}},{"actor":{"reference":"Patient/456"}}]}`},
		{name: "linked task for and owner", typ: "Task",
			resource: `{"resourceType":"Task","id":"t","for":{"reference":"Patient/456"},"owner":{"reference":"Patient/123"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, id := range []string{"123", "456"} {
				if got, err := Member([]byte(tc.resource), id); err != nil || !got {
					t.Errorf("Member(Patient/%s) = %v, %v; want true", id, got, err)
				}
				if got, err := MemberOf([]byte(tc.resource), tc.typ, "x", id, NoServer); err != nil || !got {
					t.Errorf("MemberOf(Patient/%s) = %v, %v; want true", id, got, err)
				}
				if got, err := OnlyMemberOf([]byte(tc.resource), tc.typ, "x", id, NoServer); err != nil || got {
					t.Errorf("OnlyMemberOf(Patient/%s) = %v, %v; want false", id, got, err)
				}
			}
		})
	}
}

func TestOnlyMemberOfAcceptsThePatientNamedTwice(t *testing.T) {
	const base = "https://ehr.example/fhir"
	for _, tc := range []struct{ name, typ, resource string }{
		{"observation subject and performer", "Observation",
			`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"performer":[{"reference":"Patient/123"}]}`},
		{"absolute and versioned", "Observation",
			`{"resourceType":"Observation","subject":{"reference":"Patient/123"},"performer":[{"reference":"` + base + `/Patient/123/_history/2"}]}`},
		{"task for and owner", "Task",
			`{"resourceType":"Task","for":{"reference":"Patient/123"},"owner":{"reference":"Patient/123"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := OnlyMemberOf([]byte(tc.resource), tc.typ, "x", "123", base); err != nil || !got {
				t.Errorf("OnlyMemberOf = %v, %v; want true", got, err)
			}
		})
	}
}
