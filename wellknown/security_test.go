package wellknown

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestRestSecurityOfTheIGSample(t *testing.T) {
	s, err := load(t, "ig-sample.json").RestSecurity()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"extension":[{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris","extension":[` +
		`{"url":"authorize","valueUri":"https://ehr.example.com/auth/authorize"},` +
		`{"url":"token","valueUri":"https://ehr.example.com/auth/token"},` +
		`{"url":"register","valueUri":"https://ehr.example.com/auth/register"},` +
		`{"url":"manage","valueUri":"https://ehr.example.com/user/manage"},` +
		`{"url":"introspect","valueUri":"https://ehr.example.com/user/introspect"},` +
		`{"url":"revoke","valueUri":"https://ehr.example.com/user/revoke"}]}],` +
		`"service":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/restful-security-service","code":"SMART-on-FHIR","display":"SMART-on-FHIR"}],` +
		`"text":"OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)"}]}`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}

func TestRestSecurityWithoutAuthorizationEndpointHasNoOAuthURIs(t *testing.T) {
	// The oauth-uris extension requires "authorize" (1..1).
	s, err := load(t, "backend-services.json").RestSecurity()
	if err != nil {
		t.Fatal(err)
	}
	if s.Extension != nil || len(s.Service) != 1 {
		t.Errorf("got %+v, want the service code only", s)
	}
}

func TestRestSecurityOfAnInvalidDocumentFails(t *testing.T) {
	if _, err := (Configuration{}).RestSecurity(); !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v, want ErrInvalid", err)
	}
}
