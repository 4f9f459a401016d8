package wellknown

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/scope"
)

// load reads a document from testdata.
func load(t testing.TB, name string) Configuration {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var c Configuration
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// fields returns the Field of every *FieldError in err, in order.
func fields(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		var fe *FieldError
		if errors.As(err, &fe) && fe == err {
			out = append(out, fe.Field)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

func TestIGSampleValidates(t *testing.T) {
	c := load(t, "ig-sample.json")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Extra) != 0 {
		t.Errorf("Extra = %v, want none: every member of the sample is known", c.Extra)
	}
	if got := c.AssociatedEndpoints; len(got) != 1 || got[0].URL != "https://state.example.com" || !slices.Equal(got[0].Capabilities, []Capability{SMARTAppState}) {
		t.Errorf("AssociatedEndpoints = %+v", got)
	}
}

func TestMinimalBackendServicesDocumentValidates(t *testing.T) {
	c := load(t, "backend-services.json")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestMissingRequiredMemberIsReportedByName(t *testing.T) {
	for _, field := range []string{"token_endpoint", "grant_types_supported", "capabilities", "code_challenge_methods_supported"} {
		t.Run(field, func(t *testing.T) {
			var m map[string]any
			b, _ := os.ReadFile("testdata/backend-services.json")
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			delete(m, field)
			b, _ = json.Marshal(m)
			var c Configuration
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid", err)
			}
			if !slices.Contains(fields(err), field) {
				t.Errorf("fields %v do not name %q", fields(err), field)
			}
			if !strings.Contains(err.Error(), field) {
				t.Errorf("message %q does not name %q", err, field)
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := Configuration{
		Issuer:                        "https://as.example.com",
		TokenEndpoint:                 "http://as.example.com/token",
		Capabilities:                  []Capability{"launch_ehr"},
		CodeChallengeMethodsSupported: []string{"plain"},
		ScopesSupported:               []string{"patient/Observation.sr"},
	}
	err := c.Validate()
	want := []string{
		"grant_types_supported",
		"issuer",
		"code_challenge_methods_supported",
		"code_challenge_methods_supported",
		"token_endpoint",
		"capabilities[0]",
		"scopes_supported[0]",
	}
	if got := fields(err); !slices.Equal(got, want) {
		t.Errorf("fields = %q\nwant %q\nerror: %v", got, want, err)
	}
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, scope.ErrInvalid) {
		t.Errorf("errors.Is(ErrInvalid, scope.ErrInvalid) = %v, %v; want both", errors.Is(err, ErrInvalid), errors.Is(err, scope.ErrInvalid))
	}
}

// valid returns a small valid document for an EHR launch with OpenID
// Connect, which each case of TestValidateRules breaks in one way.
func valid() Configuration {
	return Configuration{
		Issuer:                        "https://as.example.com",
		JWKSURI:                       "https://as.example.com/jwks",
		AuthorizationEndpoint:         "https://as.example.com/authorize",
		TokenEndpoint:                 "https://as.example.com/token",
		GrantTypesSupported:           []string{"authorization_code"},
		Capabilities:                  []Capability{LaunchEHR, ClientPublic, ContextEHRPatient, PermissionPatient, SSOOpenIDConnect},
		CodeChallengeMethodsSupported: []string{"S256"},
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Configuration)
		want   []string // fields reported; nil: valid
	}{
		{"valid as is", func(*Configuration) {}, nil},
		{"issuer required with sso-openid-connect", func(c *Configuration) { c.Issuer = "" }, []string{"issuer"}},
		{"jwks_uri required with sso-openid-connect", func(c *Configuration) { c.JWKSURI = "" }, []string{"jwks_uri"}},
		{"issuer omitted without sso-openid-connect", func(c *Configuration) {
			c.Capabilities = slices.DeleteFunc(c.Capabilities, func(x Capability) bool { return x == SSOOpenIDConnect })
		}, []string{"issuer"}},
		{"jwks_uri optional without sso-openid-connect", func(c *Configuration) {
			c.Issuer = ""
			c.Capabilities = []Capability{LaunchEHR}
		}, nil},
		{"authorization_endpoint required with launch-ehr", func(c *Configuration) { c.AuthorizationEndpoint = "" }, []string{"authorization_endpoint"}},
		{"authorization_endpoint required with launch-standalone", func(c *Configuration) {
			c.AuthorizationEndpoint = ""
			c.Capabilities = []Capability{LaunchStandalone, SSOOpenIDConnect}
		}, []string{"authorization_endpoint"}},
		{"authorization_endpoint reported once with both launches", func(c *Configuration) {
			c.AuthorizationEndpoint = ""
			c.Capabilities = append(c.Capabilities, LaunchStandalone)
		}, []string{"authorization_endpoint"}},
		{"authorization_endpoint optional without launch", func(c *Configuration) {
			c.AuthorizationEndpoint = ""
			c.Capabilities = []Capability{PermissionV2, SSOOpenIDConnect}
			c.GrantTypesSupported = []string{"client_credentials"}
		}, nil},
		{"launch needs authorization_code grant", func(c *Configuration) { c.GrantTypesSupported = []string{"client_credentials"} }, []string{"grant_types_supported"}},
		{"other grant types allowed", func(c *Configuration) { c.GrantTypesSupported = append(c.GrantTypesSupported, "refresh_token") }, nil},
		{"granular scopes the middleware evaluates", func(c *Configuration) {
			c.ScopesSupported = []string{"patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|health-concern",
				"patient/Patient.rs?name=john&birthdate=ge2000", "user/Observation.rs?code:not=http://loinc.org|1234-5"}
		}, nil},
		{"granular scopes it does not evaluate", func(c *Configuration) {
			c.ScopesSupported = []string{"patient/Observation.rs?subject.name=x", "patient/*.rs?category=laboratory",
				"patient/Observation.rs?code:in=http://example.org/vs", "patient/Observation.rs?unknown=1"}
		}, []string{"scopes_supported[0]", "scopes_supported[1]", "scopes_supported[2]", "scopes_supported[3]"}},
		{"S256 required", func(c *Configuration) { c.CodeChallengeMethodsSupported = []string{"S384"} }, []string{"code_challenge_methods_supported"}},
		{"plain forbidden", func(c *Configuration) { c.CodeChallengeMethodsSupported = []string{"S256", "plain"} }, []string{"code_challenge_methods_supported"}},
		{"asymmetric needs private_key_jwt and RS384 or ES384", func(c *Configuration) {
			c.Capabilities = append(c.Capabilities, ClientConfidentialAsymmetric)
			c.TokenEndpointAuthMethodsSupported = []string{"client_secret_basic"}
			c.TokenEndpointAuthSigningAlgValuesSupported = []string{"RS256"}
		}, []string{"token_endpoint_auth_methods_supported", "token_endpoint_auth_signing_alg_values_supported"}},
		{"asymmetric with ES384", func(c *Configuration) {
			c.Capabilities = append(c.Capabilities, ClientConfidentialAsymmetric)
			c.TokenEndpointAuthMethodsSupported = []string{"private_key_jwt"}
			c.TokenEndpointAuthSigningAlgValuesSupported = []string{"ES384"}
		}, nil},
		{"signing alg none forbidden", func(c *Configuration) { c.TokenEndpointAuthSigningAlgValuesSupported = []string{"RS384", "none"} }, []string{"token_endpoint_auth_signing_alg_values_supported"}},
		{"relative URL", func(c *Configuration) { c.TokenEndpoint = "/token" }, []string{"token_endpoint"}},
		{"URL without host", func(c *Configuration) { c.TokenEndpoint = "https:///token" }, []string{"token_endpoint"}},
		{"opaque URL", func(c *Configuration) { c.TokenEndpoint = "https:token" }, []string{"token_endpoint"}},
		{"not a URL", func(c *Configuration) { c.TokenEndpoint = "https://as.example.com/%zz" }, []string{"token_endpoint"}},
		{"http URL", func(c *Configuration) { c.RevocationEndpoint = "http://as.example.com/revoke" }, []string{"revocation_endpoint"}},
		{"other scheme", func(c *Configuration) { c.ManagementEndpoint = "ftp://as.example.com/manage" }, []string{"management_endpoint"}},
		{"http on localhost", func(c *Configuration) { c.TokenEndpoint = "http://localhost:8080/token" }, nil},
		{"http on 127.0.0.1", func(c *Configuration) { c.TokenEndpoint = "http://127.0.0.1:8080/token" }, nil},
		{"http on ::1", func(c *Configuration) { c.TokenEndpoint = "http://[::1]:8080/token" }, nil},
		{"http on a name that only starts like localhost", func(c *Configuration) { c.TokenEndpoint = "http://localhost.example.com/token" }, []string{"token_endpoint"}},
		{"fragment", func(c *Configuration) { c.AuthorizationEndpoint = "https://as.example.com/authorize#x" }, []string{"authorization_endpoint"}},
		{"empty fragment", func(c *Configuration) { c.AuthorizationEndpoint = "https://as.example.com/authorize#" }, []string{"authorization_endpoint"}},
		{"space in URL", func(c *Configuration) { c.TokenEndpoint = "https://as.example.com/a b" }, []string{"token_endpoint"}},
		{"non-ASCII in URL", func(c *Configuration) { c.TokenEndpoint = "https://as.example.com/\u00e9" }, []string{"token_endpoint"}},
		{"percent-encoded non-ASCII in URL", func(c *Configuration) { c.TokenEndpoint = "https://as.example.com/%C3%A9" }, nil},
		{"port out of range", func(c *Configuration) { c.TokenEndpoint = "https://as.example.com:65536/token" }, []string{"token_endpoint"}},
		{"port zero", func(c *Configuration) { c.TokenEndpoint = "https://as.example.com:0/token" }, []string{"token_endpoint"}},
		{"explicit port", func(c *Configuration) { c.TokenEndpoint = "https://as.example.com:8443/token" }, nil},
		{"user information", func(c *Configuration) { c.RegistrationEndpoint = "https://u:p@as.example.com/register" }, []string{"registration_endpoint"}},
		{"query allowed on endpoints", func(c *Configuration) { c.AuthorizationEndpoint = "https://as.example.com/authorize?tenant=a" }, nil},
		{"query not allowed on issuer", func(c *Configuration) { c.Issuer = "https://as.example.com?tenant=a" }, []string{"issuer"}},
		{"every URL field checked", func(c *Configuration) {
			bad := "as.example.com/x"
			c.Issuer, c.JWKSURI, c.AuthorizationEndpoint, c.TokenEndpoint = bad, bad, bad, bad
			c.RegistrationEndpoint, c.SMARTAppStateEndpoint, c.UserAccessBrandBundle = bad, bad, bad
			c.ManagementEndpoint, c.IntrospectionEndpoint, c.RevocationEndpoint = bad, bad, bad
		}, []string{"issuer", "jwks_uri", "authorization_endpoint", "token_endpoint", "registration_endpoint",
			"smart_app_state_endpoint", "user_access_brand_bundle", "management_endpoint", "introspection_endpoint", "revocation_endpoint"}},
		{"unknown simple capability", func(c *Configuration) { c.Capabilities = append(c.Capabilities, "single-sign-on") }, []string{"capabilities[5]"}},
		{"URI capability", func(c *Configuration) {
			c.Capabilities = append(c.Capabilities, "http://sdo.example.org/example-new-capability", "urn:oid:1.2.3")
		}, nil},
		{"capability with a space", func(c *Configuration) { c.Capabilities = append(c.Capabilities, "urn:x y") }, []string{"capabilities[5]"}},
		{"empty list items", func(c *Configuration) {
			c.GrantTypesSupported = append(c.GrantTypesSupported, "")
			c.ResponseTypesSupported = []string{""}
		}, []string{"grant_types_supported[1]", "response_types_supported[0]"}},
		{"every kind of scope parses", func(c *Configuration) {
			c.ScopesSupported = []string{"openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter",
				"offline_access", "online_access", "patient/*.rs", "user/Observation.read", "system/*.cruds",
				"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
				"__custom", "https://example.org/scope"}
		}, nil},
		{"bad scopes", func(c *Configuration) {
			c.ScopesSupported = []string{"patient/*.rs", "patient/Observation.sr", "a b", ""}
		}, []string{"scopes_supported[1]", "scopes_supported[2]", "scopes_supported[3]"}},
		{"associated endpoint", func(c *Configuration) {
			c.AssociatedEndpoints = []AssociatedEndpoint{
				{URL: "https://state.example.com", Capabilities: []Capability{SMARTAppState}},
				{URL: "", Capabilities: nil},
				{URL: "http://state.example.com", Capabilities: []Capability{"state"}},
			}
		}, []string{"associated_endpoints[1].url", "associated_endpoints[1].capabilities",
			"associated_endpoints[2].url", "associated_endpoints[2].capabilities[0]"}},
		{"brand identifier", func(c *Configuration) {
			c.UserAccessBrandBundle = "https://as.example.com/brands.json"
			c.UserAccessBrandIdentifier = &Identifier{System: "urn:ietf:rfc:3986", Value: "https://ehr.example.com"}
		}, nil},
		{"brand identifier without value, bundle, or URI system", func(c *Configuration) {
			c.UserAccessBrandIdentifier = &Identifier{System: "brands"}
		}, []string{"user_access_brand_identifier.value", "user_access_brand_identifier.system", "user_access_brand_identifier"}},
		{"extra members", func(c *Configuration) {
			c.Extra = map[string]json.RawMessage{"x_ext": json.RawMessage(`{"a":1}`)}
		}, nil},
		{"extra member renaming a known one", func(c *Configuration) {
			c.Extra = map[string]json.RawMessage{"token_endpoint": json.RawMessage(`"https://evil.example.com/token"`)}
		}, []string{"token_endpoint"}},
		{"extra member not JSON", func(c *Configuration) {
			c.Extra = map[string]json.RawMessage{"x_ext": json.RawMessage(`{`)}
		}, []string{"x_ext"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(&c)
			err := c.Validate()
			if got := fields(err); !slices.Equal(got, tc.want) {
				t.Fatalf("fields = %q, want %q\nerror: %v", got, tc.want, err)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not match ErrInvalid", err)
			}
		})
	}
}

func TestEveryCapabilityConstantIsKnown(t *testing.T) {
	all := []Capability{
		LaunchEHR, LaunchStandalone, AuthorizePost, ClientPublic, ClientConfidentialSymmetric,
		ClientConfidentialAsymmetric, SSOOpenIDConnect, ContextBanner, ContextStyle, ContextEHRPatient,
		ContextEHREncounter, ContextStandalonePatient, ContextStandaloneEncounter, PermissionOffline,
		PermissionOnline, PermissionPatient, PermissionUser, PermissionV1, PermissionV2, SMARTAppState,
	}
	if len(all) != 20 || len(knownCapabilities) != 20 {
		t.Fatalf("%d constants, %d known; SMART 2.2 defines 20", len(all), len(knownCapabilities))
	}
	for _, c := range all {
		if !knownCapabilities[c] {
			t.Errorf("%q is not known", c)
		}
	}
}

func TestMarshalOmitsOptionalMembersAndKeepsRequiredOnes(t *testing.T) {
	b, err := json.Marshal(Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	want := []string{"capabilities", "code_challenge_methods_supported", "grant_types_supported", "token_endpoint"}
	if !slices.Equal(got, want) {
		t.Errorf("members of the zero document = %q, want %q", got, want)
	}
}

func TestJSONNamesAreThoseOfTheIG(t *testing.T) {
	want := []string{
		"issuer", "jwks_uri", "authorization_endpoint", "grant_types_supported", "token_endpoint",
		"token_endpoint_auth_methods_supported", "registration_endpoint", "smart_app_state_endpoint",
		"associated_endpoints", "user_access_brand_bundle", "user_access_brand_identifier",
		"scopes_supported", "response_types_supported", "management_endpoint", "introspection_endpoint",
		"revocation_endpoint", "capabilities", "code_challenge_methods_supported",
		"token_endpoint_auth_signing_alg_values_supported",
	}
	if len(knownFields) != len(want) {
		t.Errorf("%d known members, want %d", len(knownFields), len(want))
	}
	for _, k := range want {
		if !knownFields[k] {
			t.Errorf("%q is not a member of Configuration", k)
		}
	}
}

func TestExtraMembersRoundTrip(t *testing.T) {
	in := `{"token_endpoint":"https://as.example.com/token","z_ext":[1, 2],"a_ext":{"k": "v"},"Token_Endpoint":"https://evil.example.com"}`
	var c Configuration
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if c.TokenEndpoint != "https://as.example.com/token" {
		t.Errorf("TokenEndpoint = %q: member names must match exactly", c.TokenEndpoint)
	}
	wantExtra := map[string]json.RawMessage{
		"z_ext":          json.RawMessage(`[1,2]`),
		"a_ext":          json.RawMessage(`{"k":"v"}`),
		"Token_Endpoint": json.RawMessage(`"https://evil.example.com"`),
	}
	if !reflect.DeepEqual(c.Extra, wantExtra) {
		t.Errorf("Extra = %s, want %s", c.Extra, wantExtra)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"grant_types_supported":null,"token_endpoint":"https://as.example.com/token","capabilities":null,"code_challenge_methods_supported":null,"Token_Endpoint":"https://evil.example.com","a_ext":{"k":"v"},"z_ext":[1,2]}`
	if string(b) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", b, want)
	}
}

func TestMarshalRejectsExtraMemberNamingAKnownOne(t *testing.T) {
	c := valid()
	c.Extra = map[string]json.RawMessage{"issuer": json.RawMessage(`"https://evil.example.com"`)}
	_, err := json.Marshal(c)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Marshal error = %v, want ErrInvalid", err)
	}
}

func TestUnmarshalRejectsWrongTypes(t *testing.T) {
	for _, in := range []string{
		`[]`, `"x"`, `{"token_endpoint": 1}`, `{"capabilities": "launch-ehr"}`,
		`{"user_access_brand_identifier": "x"}`, `{"a":1,}`,
	} {
		var c Configuration
		if err := json.Unmarshal([]byte(in), &c); err == nil {
			t.Errorf("Unmarshal(%s) = nil error, want one", in)
		}
	}
}
