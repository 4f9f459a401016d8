package scope_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/scope"
)

const (
	labCategory    = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
	vitalsCategory = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
)

// TestParseScopeResourceExamples parses every resource scope example of the
// SMART App Launch IG (SPEC §2.6) and checks what it means.
func TestParseScopeResourceExamples(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		ctx       scope.Context
		typ       string
		perms     scope.Permission
		v1        bool
		canonical string
	}{
		{name: "patient wildcard rs", token: "patient/*.rs", ctx: scope.Patient, typ: "*", perms: scope.Read | scope.Search},
		{name: "user wildcard cruds", token: "user/*.cruds", ctx: scope.User, typ: "*", perms: scope.All},
		{name: "patient Observation rs", token: "patient/Observation.rs", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search},
		{name: "patient Patient r", token: "patient/Patient.r", ctx: scope.Patient, typ: "Patient", perms: scope.Read},
		{name: "patient Observation c", token: "patient/Observation.c", ctx: scope.Patient, typ: "Observation", perms: scope.Create},
		{name: "patient wildcard cruds", token: "patient/*.cruds", ctx: scope.Patient, typ: "*", perms: scope.All},
		{name: "patient Observation cu", token: "patient/Observation.cu", ctx: scope.Patient, typ: "Observation", perms: scope.Create | scope.Update},
		{name: "user Observation rs", token: "user/Observation.rs", ctx: scope.User, typ: "Observation", perms: scope.Read | scope.Search},
		{name: "user Appointment cruds", token: "user/Appointment.cruds", ctx: scope.User, typ: "Appointment", perms: scope.All},
		{name: "user Patient rs", token: "user/Patient.rs", ctx: scope.User, typ: "Patient", perms: scope.Read | scope.Search},
		{name: "user Appointment rs", token: "user/Appointment.rs", ctx: scope.User, typ: "Appointment", perms: scope.Read | scope.Search},
		{name: "user Encounter rs", token: "user/Encounter.rs", ctx: scope.User, typ: "Encounter", perms: scope.Read | scope.Search},
		{name: "user wildcard rs", token: "user/*.rs", ctx: scope.User, typ: "*", perms: scope.Read | scope.Search},
		{name: "system Observation rs", token: "system/Observation.rs", ctx: scope.System, typ: "Observation", perms: scope.Read | scope.Search},
		{name: "system wildcard rs", token: "system/*.rs", ctx: scope.System, typ: "*", perms: scope.Read | scope.Search},
		{name: "system Encounter cud", token: "system/Encounter.cud", ctx: scope.System, typ: "Encounter", perms: scope.Create | scope.Update | scope.Delete},
		{name: "system Encounter rs", token: "system/Encounter.rs", ctx: scope.System, typ: "Encounter", perms: scope.Read | scope.Search},
		{name: "system wildcard cruds", token: "system/*.cruds", ctx: scope.System, typ: "*", perms: scope.All},
		{name: "patient AllergyIntolerance cruds", token: "patient/AllergyIntolerance.cruds", ctx: scope.Patient, typ: "AllergyIntolerance", perms: scope.All},
		{name: "patient AllergyIntolerance rs", token: "patient/AllergyIntolerance.rs", ctx: scope.Patient, typ: "AllergyIntolerance", perms: scope.Read | scope.Search},
		{name: "patient AllergyIntolerance cud", token: "patient/AllergyIntolerance.cud", ctx: scope.Patient, typ: "AllergyIntolerance", perms: scope.Create | scope.Update | scope.Delete},
		{name: "patient Condition rs", token: "patient/Condition.rs", ctx: scope.Patient, typ: "Condition", perms: scope.Read | scope.Search},
		{name: "patient MedicationRequest rs", token: "patient/MedicationRequest.rs", ctx: scope.Patient, typ: "MedicationRequest", perms: scope.Read | scope.Search},
		{name: "R2 type MedicationOrder rs", token: "patient/MedicationOrder.rs", ctx: scope.Patient, typ: "MedicationOrder", perms: scope.Read | scope.Search},
		{name: "user Basic cuds", token: "user/Basic.cuds", ctx: scope.User, typ: "Basic", perms: scope.Create | scope.Update | scope.Delete | scope.Search},
		{name: "user Basic s", token: "user/Basic.s", ctx: scope.User, typ: "Basic", perms: scope.Search},
		{name: "patient Basic cuds", token: "patient/Basic.cuds", ctx: scope.Patient, typ: "Basic", perms: scope.Create | scope.Update | scope.Delete | scope.Search},
		{name: "patient wildcard r", token: "patient/*.r", ctx: scope.Patient, typ: "*", perms: scope.Read},
		{name: "single letter u", token: "patient/Observation.u", ctx: scope.Patient, typ: "Observation", perms: scope.Update},
		{name: "single letter d", token: "patient/Observation.d", ctx: scope.Patient, typ: "Observation", perms: scope.Delete},
		{name: "single letter s", token: "patient/Observation.s", ctx: scope.Patient, typ: "Observation", perms: scope.Search},
		{name: "type with digits", token: "user/Type2.r", ctx: scope.User, typ: "Type2", perms: scope.Read},

		// SMART v1 (SPEC §2.3, §2.6).
		{name: "v1 patient Observation read", token: "patient/Observation.read", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search, v1: true, canonical: "patient/Observation.rs"},
		{name: "v1 patient Immunization read", token: "patient/Immunization.read", ctx: scope.Patient, typ: "Immunization", perms: scope.Read | scope.Search, v1: true, canonical: "patient/Immunization.rs"},
		{name: "v1 patient wildcard read", token: "patient/*.read", ctx: scope.Patient, typ: "*", perms: scope.Read | scope.Search, v1: true, canonical: "patient/*.rs"},
		{name: "v1 user wildcard star", token: "user/*.*", ctx: scope.User, typ: "*", perms: scope.All, v1: true, canonical: "user/*.cruds"},
		{name: "v1 patient wildcard star", token: "patient/*.*", ctx: scope.Patient, typ: "*", perms: scope.All, v1: true, canonical: "patient/*.cruds"},
		{name: "v1 AllergyIntolerance star", token: "patient/AllergyIntolerance.*", ctx: scope.Patient, typ: "AllergyIntolerance", perms: scope.All, v1: true, canonical: "patient/AllergyIntolerance.cruds"},
		{name: "v1 patient Observation write", token: "patient/Observation.write", ctx: scope.Patient, typ: "Observation", perms: scope.Create | scope.Update | scope.Delete, v1: true, canonical: "patient/Observation.cud"},
		{name: "v1 user Appointment read", token: "user/Appointment.read", ctx: scope.User, typ: "Appointment", perms: scope.Read | scope.Search, v1: true, canonical: "user/Appointment.rs"},
		{name: "v1 user Appointment write", token: "user/Appointment.write", ctx: scope.User, typ: "Appointment", perms: scope.Create | scope.Update | scope.Delete, v1: true, canonical: "user/Appointment.cud"},
		{name: "v1 user wildcard write", token: "user/*.write", ctx: scope.User, typ: "*", perms: scope.Create | scope.Update | scope.Delete, v1: true, canonical: "user/*.cud"},
		{name: "v1 user Patient read", token: "user/Patient.read", ctx: scope.User, typ: "Patient", perms: scope.Read | scope.Search, v1: true, canonical: "user/Patient.rs"},
		{name: "v1 system wildcard read", token: "system/*.read", ctx: scope.System, typ: "*", perms: scope.Read | scope.Search, v1: true, canonical: "system/*.rs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scope.ParseScope(tc.token)
			if err != nil {
				t.Fatalf("ParseScope(%q): %v", tc.token, err)
			}
			if s.Kind != scope.Resource || s.Context != tc.ctx || s.Type != tc.typ || s.Permissions != tc.perms || s.V1 != tc.v1 || s.Constraint != nil {
				t.Errorf("ParseScope(%q) = %+v; want resource %v/%s.%v v1=%v unconstrained", tc.token, s, tc.ctx, tc.typ, tc.perms, tc.v1)
			}
			want := tc.canonical
			if want == "" {
				want = tc.token
			}
			if got := s.String(); got != want {
				t.Errorf("String() = %q; want %q", got, want)
			}
		})
	}
}

// TestV1ToV2Mapping pins SPEC §2.3: .read is rs (never rd), .write is cud
// and .* is cruds, and each v1 scope is Equal to its v2 form.
func TestV1ToV2Mapping(t *testing.T) {
	tests := []struct {
		name string
		v1   string
		v2   string
	}{
		{name: "read is rs", v1: "patient/Observation.read", v2: "patient/Observation.rs"},
		{name: "write is cud", v1: "patient/Observation.write", v2: "patient/Observation.cud"},
		{name: "star is cruds", v1: "patient/Observation.*", v2: "patient/Observation.cruds"},
		{name: "wildcard star is cruds", v1: "patient/*.*", v2: "patient/*.cruds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := scope.MustParseScope(tc.v1), scope.MustParseScope(tc.v2)
			if !a.Equal(b) || !b.Equal(a) {
				t.Errorf("%q and %q are not Equal: %+v vs %+v", tc.v1, tc.v2, a, b)
			}
			if !a.V1 || b.V1 {
				t.Errorf("V1 = %v, %v; want true, false", a.V1, b.V1)
			}
		})
	}
	t.Run("read never means rd", func(t *testing.T) {
		s := scope.Parse("patient/Observation.read")
		if s.Allows(scope.Patient, "Observation", scope.Delete) {
			t.Error(`".read" grants delete`)
		}
		if !s.Allows(scope.Patient, "Observation", scope.Search) {
			t.Error(`".read" does not grant search`)
		}
		if s.Allows(scope.Patient, "Observation", scope.Create) || s.Allows(scope.Patient, "Observation", scope.Update) {
			t.Error(`".read" grants a write`)
		}
	})
	t.Run("write never means read", func(t *testing.T) {
		s := scope.Parse("patient/Observation.write")
		if s.Access(scope.Patient, "Observation", scope.Read) != scope.Denied || s.Access(scope.Patient, "Observation", scope.Search) != scope.Denied {
			t.Error(`".write" grants read or search`)
		}
	})
}

// TestParseScopeGranularExamples parses the IG's granular scopes and the
// edge cases of SPEC §2.2: raw "|", ":" and "/" in values, repeated names,
// modifiers and chains, percent-escapes.
func TestParseScopeGranularExamples(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		ctx       scope.Context
		typ       string
		perms     scope.Permission
		params    scope.Constraint
		canonical string // "" when it is token
	}{
		{name: "laboratory observations", token: "patient/Observation.rs?category=" + labCategory, ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "category", Value: labCategory}}},
		{name: "vital-sign observations", token: "patient/Observation.rs?category=" + vitalsCategory, ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "category", Value: vitalsCategory}}},
		{name: "app state patient cuds", token: "patient/Basic.cuds?code=https://myapp.example.org|encrypted-phr-access-keys", ctx: scope.Patient, typ: "Basic", perms: scope.Create | scope.Update | scope.Delete | scope.Search,
			params: scope.Constraint{{Name: "code", Value: "https://myapp.example.org|encrypted-phr-access-keys"}}},
		{name: "app state patient s", token: "patient/Basic.s?code=https://myapp.example.org|encrypted-phr-access-keys", ctx: scope.Patient, typ: "Basic", perms: scope.Search,
			params: scope.Constraint{{Name: "code", Value: "https://myapp.example.org|encrypted-phr-access-keys"}}},
		{name: "app state user cuds", token: "user/Basic.cuds?code=https://myapp.example.org|hospital-config", ctx: scope.User, typ: "Basic", perms: scope.Create | scope.Update | scope.Delete | scope.Search,
			params: scope.Constraint{{Name: "code", Value: "https://myapp.example.org|hospital-config"}}},
		{name: "app state user s", token: "user/Basic.s?code=https://myapp.example.org|hospital-config", ctx: scope.User, typ: "Basic", perms: scope.Search,
			params: scope.Constraint{{Name: "code", Value: "https://myapp.example.org|hospital-config"}}},
		{name: "app state short code", token: "patient/Basic.s?code=https://app|1", ctx: scope.Patient, typ: "Basic", perms: scope.Search,
			params: scope.Constraint{{Name: "code", Value: "https://app|1"}}},
		{name: "experimental modifier kept", token: "patient/Observation.rs?code:in=http://valueset.example.org/ValueSet/diabetes-codes", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "code:in", Value: "http://valueset.example.org/ValueSet/diabetes-codes"}}},
		{name: "experimental chain kept", token: "patient/Observation.rs?patient.birthdate=1990", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "patient.birthdate", Value: "1990"}}},
		{name: "experimental _filter kept", token: "user/Observation.s?_filter=code", ctx: scope.User, typ: "Observation", perms: scope.Search,
			params: scope.Constraint{{Name: "_filter", Value: "code"}}},
		{name: "US Core sdoh category", token: "patient/Observation.rs?category=http://hl7.org/fhir/us/core/CodeSystem/us-core-category|sdoh", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "category", Value: "http://hl7.org/fhir/us/core/CodeSystem/us-core-category|sdoh"}}},
		{name: "condition health-concern", token: "patient/Condition.rs?category=http://hl7.org/fhir/us/core/CodeSystem/condition-category|health-concern", ctx: scope.Patient, typ: "Condition", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "category", Value: "http://hl7.org/fhir/us/core/CodeSystem/condition-category|health-concern"}}},
		{name: "two params ANDed in order", token: "patient/Observation.rs?category=" + labCategory + "&status=final", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "category", Value: labCategory}, {Name: "status", Value: "final"}}},
		{name: "repeated params kept", token: "patient/Observation.rs?code=a&code=b", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "code", Value: "a"}, {Name: "code", Value: "b"}}},
		{name: "comma list kept verbatim", token: "patient/Observation.rs?code=a,b", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "code", Value: "a,b"}}},
		{name: "equals in value kept", token: "patient/Observation.rs?code=a=b", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "code", Value: "a=b"}}},
		{name: "question mark in value kept", token: "patient/Observation.rs?code=a?b", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "code", Value: "a?b"}}},
		{name: "percent-encoded ampersand decoded and re-encoded", token: "patient/Observation.rs?code=a%26b", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "code", Value: "a&b"}}},
		{name: "percent-encoded bar decoded, written raw", token: "patient/Observation.rs?category=http://x%7Claboratory", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "category", Value: "http://x|laboratory"}}, canonical: "patient/Observation.rs?category=http://x|laboratory"},
		{name: "lower-case escapes decoded", token: "patient/Observation.rs?category=http:%2f%2fx%7clab", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "category", Value: "http://x|lab"}}, canonical: "patient/Observation.rs?category=http://x|lab"},
		{name: "percent-encoded space re-encoded", token: "patient/Observation.rs?code=a%20b", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "code", Value: "a b"}}},
		{name: "percent-encoded percent re-encoded", token: "patient/Observation.rs?code=100%25", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "code", Value: "100%"}}},
		{name: "plus is not a space", token: "patient/Observation.rs?code=a+b", ctx: scope.Patient, typ: "Observation", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "code", Value: "a+b"}}},
		{name: "wildcard type constrained", token: "patient/*.rs?_security=N", ctx: scope.Patient, typ: "*", perms: scope.Read | scope.Search,
			params: scope.Constraint{{Name: "_security", Value: "N"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scope.ParseScope(tc.token)
			if err != nil {
				t.Fatalf("ParseScope(%q): %v", tc.token, err)
			}
			if s.Kind != scope.Resource || s.Context != tc.ctx || s.Type != tc.typ || s.Permissions != tc.perms || s.V1 {
				t.Errorf("ParseScope(%q) = %+v", tc.token, s)
			}
			if !s.Constraint.Equal(tc.params) {
				t.Errorf("Constraint = %#v; want %#v", s.Constraint, tc.params)
			}
			want := tc.canonical
			if want == "" {
				want = tc.token
			}
			if got := s.String(); got != want {
				t.Errorf("String() = %q; want %q", got, want)
			}
			back, err := scope.ParseScope(s.String())
			if err != nil || !back.Equal(s) {
				t.Errorf("ParseScope(String()) = %+v, %v; want Equal to %+v", back, err, s)
			}
		})
	}
}

// TestParseScopeNonResourceExamples parses the launch, identity, refresh
// and extension scopes of SPEC §2.5-§2.6: recognised, granting nothing.
func TestParseScopeNonResourceExamples(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		kind       scope.Kind
		launchType string
		role       string
		uri        string
	}{
		{name: "launch", token: "launch", kind: scope.Launch, uri: "http://smarthealthit.org/fhir/scopes/launch"},
		{name: "launch patient", token: "launch/patient", kind: scope.Launch, launchType: "patient", uri: "http://smarthealthit.org/fhir/scopes/launch/patient"},
		{name: "launch encounter", token: "launch/encounter", kind: scope.Launch, launchType: "encounter", uri: "http://smarthealthit.org/fhir/scopes/launch/encounter"},
		{name: "launch imagingstudy", token: "launch/imagingstudy", kind: scope.Launch, launchType: "imagingstudy", uri: "http://smarthealthit.org/fhir/scopes/launch/imagingstudy"},
		{name: "launch diagnosticreport", token: "launch/diagnosticreport", kind: scope.Launch, launchType: "diagnosticreport", uri: "http://smarthealthit.org/fhir/scopes/launch/diagnosticreport"},
		{name: "launch list at home", token: "launch/list?role=https://example.org/med-list-at-home", kind: scope.Launch, launchType: "list", role: "https://example.org/med-list-at-home",
			uri: "http://smarthealthit.org/fhir/scopes/launch/list?role=https://example.org/med-list-at-home"},
		{name: "launch list at hospital", token: "launch/list?role=https://example.org/med-list-at-hospital", kind: scope.Launch, launchType: "list", role: "https://example.org/med-list-at-hospital",
			uri: "http://smarthealthit.org/fhir/scopes/launch/list?role=https://example.org/med-list-at-hospital"},
		{name: "launch relatedperson friend", token: "launch/relatedperson?role=friend", kind: scope.Launch, launchType: "relatedperson", role: "friend",
			uri: "http://smarthealthit.org/fhir/scopes/launch/relatedperson?role=friend"},
		{name: "launch relatedperson neighbor", token: "launch/relatedperson?role=neighbor", kind: scope.Launch, launchType: "relatedperson", role: "neighbor",
			uri: "http://smarthealthit.org/fhir/scopes/launch/relatedperson?role=neighbor"},
		{name: "openid", token: "openid", kind: scope.Identity, uri: "http://openid.net/specs/openid-connect-core-1_0#openid"},
		{name: "fhirUser is SMART", token: "fhirUser", kind: scope.Identity, uri: "http://smarthealthit.org/fhir/scopes/fhirUser"},
		{name: "profile is OpenID", token: "profile", kind: scope.Identity, uri: "http://openid.net/specs/openid-connect-core-1_0#profile"},
		{name: "email is OpenID", token: "email", kind: scope.Identity, uri: "http://openid.net/specs/openid-connect-core-1_0#email"},
		{name: "offline_access", token: "offline_access", kind: scope.Refresh, uri: "http://smarthealthit.org/fhir/scopes/offline_access"},
		{name: "online_access", token: "online_access", kind: scope.Refresh, uri: "http://smarthealthit.org/fhir/scopes/online_access"},
		{name: "URI extension", token: "https://ehr.example.org/scopes/profilePhoto.manage", kind: scope.Extension, uri: "https://ehr.example.org/scopes/profilePhoto.manage"},
		{name: "underscore extension", token: "__profilePhoto.manage", kind: scope.Extension, uri: "http://smarthealthit.org/fhir/scopes/__profilePhoto.manage"},
		{name: "URN extension", token: "urn:example:scope", kind: scope.Extension, uri: "urn:example:scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scope.ParseScope(tc.token)
			if err != nil {
				t.Fatalf("ParseScope(%q): %v", tc.token, err)
			}
			if s.Kind != tc.kind || s.LaunchType != tc.launchType || s.Role != tc.role {
				t.Errorf("ParseScope(%q) = %+v; want kind %v, launch type %q, role %q", tc.token, s, tc.kind, tc.launchType, tc.role)
			}
			if s.Context != 0 || s.Type != "" || s.Permissions != 0 {
				t.Errorf("non-resource scope %q has resource fields: %+v", tc.token, s)
			}
			if got := s.String(); got != tc.token {
				t.Errorf("String() = %q; want %q", got, tc.token)
			}
			if got := s.URI(); got != tc.uri {
				t.Errorf("URI() = %q; want %q", got, tc.uri)
			}
			set := scope.Parse(tc.token)
			if set.Len() != 1 || len(set.Invalid()) != 0 || !set.Has(tc.token) {
				t.Errorf("Parse(%q): Len %d, Invalid %q, Has %v", tc.token, set.Len(), set.Invalid(), set.Has(tc.token))
			}
			for _, c := range []scope.Context{scope.Patient, scope.User, scope.System} {
				if a := set.Access(c, "Patient", scope.Read); a != scope.Denied {
					t.Errorf("%q grants %v read of Patient: %v", tc.token, c, a)
				}
			}
		})
	}
}

// TestResourceScopeURI pins the URI form of SPEC §2.6 (Appendix).
func TestResourceScopeURI(t *testing.T) {
	tests := []struct {
		name  string
		token string
		uri   string
	}{
		{name: "IG example", token: "patient/*.r", uri: "http://smarthealthit.org/fhir/scopes/patient/*.r"},
		{name: "v1 in v2 form", token: "patient/*.read", uri: "http://smarthealthit.org/fhir/scopes/patient/*.rs"},
		{name: "granular", token: "patient/Observation.rs?category=" + labCategory, uri: "http://smarthealthit.org/fhir/scopes/patient/Observation.rs?category=" + labCategory},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := scope.MustParseScope(tc.token).URI(); got != tc.uri {
				t.Errorf("URI() = %q; want %q", got, tc.uri)
			}
		})
	}
}

// TestParseScopeRejectsInvalid pins SPEC §2.4 and §7 item 52: each form
// fails ParseScope with ErrInvalid, and Parse keeps it in Invalid and
// grants nothing for it.
func TestParseScopeRejectsInvalid(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		reason string // part of the error message
	}{
		{name: "out of order sr", token: "patient/Observation.sr", reason: `permissions must be an ordered subset of "cruds"`},
		{name: "out of order dus", token: "patient/Observation.dus", reason: "ordered subset"},
		{name: "repeated rr", token: "patient/Observation.rr", reason: "ordered subset"},
		{name: "repeated rrs", token: "patient/Observation.rrs", reason: "ordered subset"},
		{name: "repeated cruds twice", token: "patient/Observation.crudscruds", reason: "ordered subset"},
		{name: "unknown letter x", token: "patient/Observation.crudsx", reason: "ordered subset"},
		{name: "empty permissions", token: "patient/Observation.", reason: "ordered subset"},
		{name: "no permissions", token: "patient/Observation", reason: `needs ".permissions"`},
		{name: "context is case-sensitive", token: "Patient/Observation.rs", reason: "not a SMART scope"},
		{name: "upper-case context", token: "PATIENT/Observation.rs", reason: "not a SMART scope"},
		{name: "lower-case type", token: "patient/observation.rs", reason: "resource type"},
		{name: "unknown context", token: "practitioner/Observation.rs", reason: "not a SMART scope"},
		{name: "v1 with constraint", token: "patient/Observation.read?category=x", reason: "v1"},
		{name: "v1 star with constraint", token: "patient/*.*?category=x", reason: "v1"},
		{name: "empty constraint", token: "patient/Observation.rs?", reason: "empty"},
		{name: "constraint without equals", token: "patient/Observation.rs?category", reason: "name=value"},
		{name: "constraint with empty value", token: "patient/Observation.rs?category=", reason: "name=value"},
		{name: "constraint with empty name", token: "patient/Observation.rs?=x", reason: "name=value"},
		{name: "constraint with empty pair", token: "patient/Observation.rs?a=1&&b=2", reason: "name=value"},
		{name: "constraint with trailing ampersand", token: "patient/Observation.rs?a=1&", reason: "name=value"},
		{name: "constraint name with slash", token: "patient/Observation.rs?a/b=1", reason: "search parameter"},
		{name: "bad percent-escape", token: "patient/Observation.rs?code=a%zz", reason: "percent-escape"},
		{name: "truncated percent-escape", token: "patient/Observation.rs?code=a%2", reason: "percent-escape"},
		{name: "capitalised Read", token: "patient/Observation.Read", reason: "ordered subset"},
		{name: "capitalised letters", token: "patient/Observation.RS", reason: "ordered subset"},
		{name: "WRITE", token: "patient/Observation.WRITE", reason: "ordered subset"},
		{name: "rw is not read-write", token: "patient/*.rw", reason: "ordered subset"},
		{name: "read as rd", token: "patient/Observation.rd", reason: ""}, // valid! see below
		{name: "empty type", token: "patient/.rs", reason: "resource type"},
		{name: "type with dot", token: "patient/Obs.ervation.rs", reason: "resource type"},
		{name: "type with hyphen", token: "patient/Obs-ervation.rs", reason: "resource type"},
		{name: "percent-encoded slash", token: "patient%2FObservation.rs", reason: "not a SMART scope"},
		{name: "percent-encoded slash with constraint", token: "patient%2FObservation.rs?category=http://x|y", reason: "not a SMART scope"},
		{name: "two slashes", token: "patient/Observation/x.rs", reason: "resource type"},
		{name: "bare launch with role", token: "launch?role=x", reason: `bare "launch"`},
		{name: "launch with empty type", token: "launch/", reason: "empty"},
		{name: "launch upper-case type", token: "launch/Patient", reason: "lower-case"},
		{name: "launch empty role", token: "launch/patient?role=", reason: "role"},
		{name: "launch other param", token: "launch/patient?x=y", reason: "role"},
		{name: "launch two roles", token: "launch/list?role=a&role=b", reason: "role"},
		{name: "launch suffix", token: "launchpad", reason: "not a SMART scope"},
		{name: "empty extension", token: "__", reason: "empty"},
		{name: "unknown word", token: "read", reason: "not a SMART scope"},
		{name: "OpenID case matters", token: "OpenID", reason: "not a SMART scope"},
		{name: "fhiruser case matters", token: "fhiruser", reason: "not a SMART scope"},
		{name: "scheme only", token: "https:", reason: "not a SMART scope"},
		{name: "double quote", token: `patient/Observation.rs?code="x"`, reason: "not allowed"},
		{name: "backslash", token: `patient/Observation.rs?code=a\b`, reason: "not allowed"},
		{name: "tab", token: "patient/Observation.rs\t", reason: "not allowed"},
		{name: "non-ASCII", token: "patient/Observation.rs?code=é", reason: "not allowed"},
		{name: "empty token", token: "", reason: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.token == "patient/Observation.rd" {
				// ".rd" is a valid v2 suffix (read + delete); it is here to
				// show ".read" is not it.
				s := scope.MustParseScope(tc.token)
				if s.Permissions != scope.Read|scope.Delete || s.Equal(scope.MustParseScope("patient/Observation.read")) {
					t.Errorf(".rd = %+v", s)
				}
				return
			}
			_, err := scope.ParseScope(tc.token)
			if err == nil {
				t.Fatalf("ParseScope(%q) succeeded; want an error", tc.token)
			}
			if !errors.Is(err, scope.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			var e *scope.Error
			if !errors.As(err, &e) || e.Token != tc.token {
				t.Errorf("error %#v is not a *scope.Error for %q", err, tc.token)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not say %q", err, tc.reason)
			}
			if tc.token == "" {
				return
			}
			set := scope.Parse("launch/patient " + tc.token)
			inv := set.Invalid()
			if len(inv) != 1 || inv[0] != tc.token || set.Len() != 1 || set.Has(tc.token) {
				t.Errorf("Parse: Invalid() = %q, Len() = %d, Has = %v; want only %q invalid", inv, set.Len(), set.Has(tc.token), tc.token)
			}
			for _, c := range []scope.Context{scope.Patient, scope.User, scope.System} {
				for _, typ := range []string{"Observation", "Patient", "observation", "*"} {
					for p := scope.Create; p <= scope.Search; p <<= 1 {
						if a := set.Access(c, typ, p); a != scope.Denied {
							t.Errorf("invalid %q grants %v %s %v: %v", tc.token, c, typ, p, a)
						}
					}
				}
			}
		})
	}
}

// TestErrorMessage pins the wording the issue asks for.
func TestErrorMessage(t *testing.T) {
	_, err := scope.ParseScope("patient/Observation.sr")
	const want = `scope: "patient/Observation.sr": permissions must be an ordered subset of "cruds"`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v; want %s", err, want)
	}
	if !errors.Is(err, scope.ErrInvalid) {
		t.Error("error does not match ErrInvalid")
	}
	if errors.Is(err, errors.New("scope: invalid scope")) {
		t.Error("error matches an unrelated error")
	}
}

func TestMustParsePanicsOnInvalid(t *testing.T) {
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, scope.ErrInvalid) {
			t.Errorf("recover() = %v; want an ErrInvalid error", r)
		}
	}()
	scope.MustParseScope("patient/Observation.sr")
}

// TestScopeStringRoundTrip: String in v2 form parses back to an Equal
// value, for every kind.
func TestScopeStringRoundTrip(t *testing.T) {
	tokens := []string{
		"patient/*.rs", "patient/*.read", "user/*.*", "system/Encounter.write",
		"patient/Observation.rs?category=" + labCategory,
		"patient/Observation.rs?code=a%26b&code=%25&code=a%20b",
		"launch", "launch/patient", "launch/relatedperson?role=friend",
		"openid", "fhirUser", "profile", "offline_access", "online_access",
		"__x", "https://ehr.example.org/scopes/profilePhoto.manage",
	}
	for _, tok := range tokens {
		t.Run(tok, func(t *testing.T) {
			s := scope.MustParseScope(tok)
			back, err := scope.ParseScope(s.String())
			if err != nil {
				t.Fatalf("ParseScope(%q): %v", s.String(), err)
			}
			if !back.Equal(s) {
				t.Errorf("round trip of %q: %+v != %+v", tok, back, s)
			}
			if back.String() != s.String() {
				t.Errorf("String not stable: %q then %q", s.String(), back.String())
			}
		})
	}
}

func TestEqualDistinguishes(t *testing.T) {
	tests := []struct {
		name string
		a, b string
	}{
		{name: "context", a: "patient/Observation.rs", b: "user/Observation.rs"},
		{name: "type", a: "patient/Observation.rs", b: "patient/Condition.rs"},
		{name: "wildcard", a: "patient/Observation.rs", b: "patient/*.rs"},
		{name: "permissions", a: "patient/Observation.rs", b: "patient/Observation.r"},
		{name: "constrained vs not", a: "patient/Observation.rs", b: "patient/Observation.rs?category=x"},
		{name: "constraint value", a: "patient/Observation.rs?category=x", b: "patient/Observation.rs?category=y"},
		{name: "constraint order", a: "patient/Observation.rs?a=1&b=2", b: "patient/Observation.rs?b=2&a=1"},
		{name: "launch type", a: "launch/patient", b: "launch/encounter"},
		{name: "launch role", a: "launch/list?role=a", b: "launch/list?role=b"},
		{name: "identity name", a: "openid", b: "fhirUser"},
		{name: "kind", a: "launch", b: "openid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if scope.MustParseScope(tc.a).Equal(scope.MustParseScope(tc.b)) {
				t.Errorf("%q Equal %q", tc.a, tc.b)
			}
		})
	}
}

func TestPermissionString(t *testing.T) {
	tests := []struct {
		p    scope.Permission
		want string
	}{
		{0, ""}, {scope.Create, "c"}, {scope.Read, "r"}, {scope.Update, "u"}, {scope.Delete, "d"}, {scope.Search, "s"},
		{scope.Read | scope.Search, "rs"}, {scope.Search | scope.Create, "cs"}, {scope.All, "cruds"},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("Permission(%d).String() = %q; want %q", tc.p, got, tc.want)
		}
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{scope.Patient.String(), "patient"}, {scope.User.String(), "user"}, {scope.System.String(), "system"}, {scope.Context(0).String(), ""},
		{scope.Resource.String(), "resource"}, {scope.Launch.String(), "launch"}, {scope.Identity.String(), "identity"},
		{scope.Refresh.String(), "refresh"}, {scope.Extension.String(), "extension"}, {scope.Kind(0).String(), ""},
		{scope.Denied.String(), "denied"}, {scope.Constrained.String(), "constrained"}, {scope.Allowed.String(), "allowed"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q; want %q", tc.got, tc.want)
		}
	}
}

func TestIsR4Type(t *testing.T) {
	for _, typ := range []string{"Patient", "Observation", "VisionPrescription", "Basic", "Account"} {
		if !scope.IsR4Type(typ) {
			t.Errorf("IsR4Type(%q) = false", typ)
		}
	}
	for _, typ := range []string{"", "*", "patient", "MedicationOrder", "Permission", "DeviceUsage"} {
		if scope.IsR4Type(typ) {
			t.Errorf("IsR4Type(%q) = true", typ)
		}
	}
}

// TestInteractionPermission pins SPEC §3.1 and §7 item 59 for every
// Interaction constant.
func TestInteractionPermission(t *testing.T) {
	tests := []struct {
		in   scope.Interaction
		want scope.Permission
	}{
		{scope.InteractionCreate, scope.Create},
		{scope.InteractionRead, scope.Read},
		{scope.InteractionVRead, scope.Read},
		{scope.InteractionHistoryInstance, scope.Read},
		{scope.InteractionUpdate, scope.Update},
		{scope.InteractionPatch, scope.Update},
		{scope.InteractionDelete, scope.Delete},
		{scope.InteractionSearchType, scope.Search},
		{scope.InteractionSearchSystem, scope.Search},
		{scope.InteractionHistoryType, scope.Search},
		{scope.InteractionHistorySystem, scope.Search},
		{scope.InteractionCapabilities, 0},
		{scope.InteractionBatch, 0},
		{scope.InteractionTransaction, 0},
		{scope.InteractionOperation, 0},
		{scope.Interaction(""), 0},
		{scope.Interaction("search"), 0},
		{scope.Interaction("READ"), 0},
	}
	for _, tc := range tests {
		t.Run(string(tc.in), func(t *testing.T) {
			if got := tc.in.Permission(); got != tc.want {
				t.Errorf("%q.Permission() = %v; want %v", tc.in, got, tc.want)
			}
		})
	}
}
