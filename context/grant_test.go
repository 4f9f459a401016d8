package context_test

import (
	stdctx "context"
	"strings"
	"testing"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/scope"
)

func TestGrantAccessDeniesPatientScopesWithoutPatient(t *testing.T) {
	scopes := scope.Parse("patient/*.rs user/Observation.rs")
	tests := []struct {
		name    string
		patient string
		ctx     scope.Context
		typ     string
		want    scope.Access
	}{
		{"patient scope with a patient in context", "123", scope.Patient, "Observation", scope.Allowed},
		{"patient scope without a patient grants nothing", "", scope.Patient, "Observation", scope.Denied},
		{"user scope does not need a patient", "", scope.User, "Observation", scope.Allowed},
		{"user scope does not reach other types", "", scope.User, "Condition", scope.Denied},
		{"system context not granted", "123", scope.System, "Observation", scope.Denied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := smartctx.NewGrant(smartctx.Claims{Scopes: scopes, Patient: tc.patient})
			if got := g.Access(tc.ctx, tc.typ, scope.Read); got != tc.want {
				t.Errorf("Access(%v, %s, r) = %v, want %v", tc.ctx, tc.typ, got, tc.want)
			}
			if got := g.Allows(tc.ctx, tc.typ, scope.Read); got != (tc.want == scope.Allowed) {
				t.Errorf("Allows = %v, want %v", got, tc.want == scope.Allowed)
			}
		})
	}
}

func TestNilGrantIsSafeAndGrantsNothing(t *testing.T) {
	var g *smartctx.Grant
	if g.Patient() != "" || g.Subject() != "" || g.ClientID() != "" || g.Issuer() != "" ||
		g.Encounter() != "" || g.FHIRUser() != "" || g.Tenant() != "" || g.Intent() != "" ||
		g.SmartStyleURL() != "" || g.NeedPatientBanner() || !g.ExpiresAt().IsZero() ||
		g.FHIRContext() != nil || g.Scopes().Len() != 0 {
		t.Error("a nil Grant returned a non-zero value")
	}
	if _, ok := g.Claim("sub"); ok {
		t.Error("a nil Grant has a claim")
	}
	if g.Access(scope.System, "Observation", scope.Read) != scope.Denied {
		t.Error("a nil Grant allowed access")
	}
}

func TestGrantIsImmutable(t *testing.T) {
	items := []smartctx.FHIRContextItem{{Reference: "Appointment/1"}}
	raw := map[string]any{"sub": "alice"}
	g := smartctx.NewGrant(smartctx.Claims{FHIRContext: items, Raw: raw})
	items[0].Reference = "Appointment/2"
	got := g.FHIRContext()
	got[0].Reference = "Appointment/3"
	if r := g.FHIRContext()[0].Reference; r != "Appointment/1" {
		t.Errorf("fhirContext changed through an alias: %q", r)
	}
	if v, _ := g.Claim("sub"); v != "alice" {
		t.Errorf("Claim(sub) = %v, want alice", v)
	}
}

func TestContextRoundTrip(t *testing.T) {
	exp := time.Unix(1700000000, 0)
	g := smartctx.NewGrant(smartctx.Claims{Subject: "alice", Patient: "123", ExpiresAt: exp})
	ctx := smartctx.NewContext(stdctx.Background(), g)
	got, ok := smartctx.FromContext(ctx)
	if !ok || got != g {
		t.Fatalf("FromContext = %v, %v; want the grant", got, ok)
	}
	if smartctx.PatientID(ctx) != "123" {
		t.Errorf("PatientID = %q", smartctx.PatientID(ctx))
	}
	if _, ok := smartctx.FromContext(stdctx.Background()); ok {
		t.Error("FromContext found a grant on an empty context")
	}
	if smartctx.PatientID(stdctx.Background()) != "" {
		t.Error("PatientID on an empty context is not empty")
	}
	if _, ok := smartctx.FromContext(smartctx.NewContext(stdctx.Background(), nil)); ok {
		t.Error("FromContext reported a nil grant as present")
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"123", true},
		{"example-patient.1", true},
		{"Ab9", true},
		{"", false},
		{"1234567890123456789012345678901234567890123456789012345678901234", true},
		{"12345678901234567890123456789012345678901234567890123456789012345", false},
		{"a/b", false},
		{"a b", false},
		{"a_b", false},
		{"Patient/123", false},
		{"é", false},
		{"../x", false},
		{".", false},  // a dot-segment: "Patient/." resolves to "Patient/"
		{"..", false}, // a dot-segment: "Patient/.." resolves to the base
		{"...", true},
		{"a.b", true},
		{"a..b", true},
		{".a", true},
		{"a.", true},
		{"-", true},
		{"١٢٣", false}, // Arabic-Indic digits
		{"１２３", false}, // fullwidth digits
		{"12\u00003", false},
		{"12\n", false},
		{strings.Repeat("a", 63) + "é", false}, // 64 characters, but not ASCII
	}
	for _, tc := range tests {
		if got := smartctx.ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestSplitUserReference(t *testing.T) {
	tests := []struct {
		ref     string
		typ, id string
		wantOK  bool
	}{
		{"Practitioner/123", "Practitioner", "123", true},
		{"Patient/abc", "Patient", "abc", true},
		{"PractitionerRole/1", "PractitionerRole", "1", true},
		{"RelatedPerson/1", "RelatedPerson", "1", true},
		{"Person/1", "Person", "1", true},
		{"https://ehr.example.org/fhir/Practitioner/123", "Practitioner", "123", true},
		{"https://ehr.example.org/fhir/Practitioner/123/_history/2", "Practitioner", "123", true},
		{"Organization/1", "", "", false},
		{"Observation/1", "", "", false},
		{"Practitioner/", "", "", false},
		{"Practitioner", "", "", false},
		{"", "", "", false},
		{"other/Practitioner/1", "", "", false},
		{"Practitioner/a b", "", "", false},
		{"practitioner/1", "", "", false},
	}
	for _, tc := range tests {
		typ, id, ok := smartctx.SplitUserReference(tc.ref)
		if typ != tc.typ || id != tc.id || ok != tc.wantOK {
			t.Errorf("SplitUserReference(%q) = %q, %q, %v; want %q, %q, %v", tc.ref, typ, id, ok, tc.typ, tc.id, tc.wantOK)
		}
	}
}
