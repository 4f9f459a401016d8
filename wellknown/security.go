package wellknown

// RestSecurity is the CapabilityStatement.rest.security element of a FHIR
// server that still announces SMART in its CapabilityStatement ("metadata"),
// a mechanism SMART 2.2 deprecates in favour of the discovery document. It
// marshals to FHIR JSON; put it in rest[0].security of your
// CapabilityStatement.
type RestSecurity struct {
	// Extension holds the oauth-uris extension, when the document has an
	// authorization endpoint (the extension requires one).
	Extension []Extension `json:"extension,omitempty"`
	// CORS says whether the server adds CORS headers. RestSecurity leaves
	// it false; set it when your FHIR API answers cross-origin requests.
	CORS bool `json:"cors,omitempty"`
	// Service holds the SMART-on-FHIR code of
	// http://terminology.hl7.org/CodeSystem/restful-security-service.
	Service []CodeableConcept `json:"service"`
}

// Extension is a FHIR extension with a uri value or nested extensions.
type Extension struct {
	URL       string      `json:"url"`                 // the extension's URL or, nested, its name
	ValueURI  string      `json:"valueUri,omitempty"`  // the value of a simple extension
	Extension []Extension `json:"extension,omitempty"` // the parts of a complex extension
}

// CodeableConcept is a FHIR CodeableConcept.
type CodeableConcept struct {
	Coding []Coding `json:"coding"`
	Text   string   `json:"text,omitempty"`
}

// Coding is a FHIR Coding.
type Coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// OAuthURIs is the URL of SMART's oauth-uris extension.
const OAuthURIs = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"

// RestSecurity validates c and returns the CapabilityStatement.rest.security
// element announcing it: the SMART-on-FHIR service code and, when c has an
// authorization endpoint, the oauth-uris extension with the authorize,
// token, register, manage, introspect and revoke endpoints c has.
func (c Configuration) RestSecurity() (RestSecurity, error) {
	if err := c.Validate(); err != nil {
		return RestSecurity{}, err
	}
	s := RestSecurity{Service: []CodeableConcept{{
		Coding: []Coding{{
			System:  "http://terminology.hl7.org/CodeSystem/restful-security-service",
			Code:    "SMART-on-FHIR",
			Display: "SMART-on-FHIR",
		}},
		Text: "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
	}}}
	if c.AuthorizationEndpoint == "" {
		return s, nil
	}
	var uris []Extension
	for _, e := range []Extension{
		{URL: "authorize", ValueURI: c.AuthorizationEndpoint},
		{URL: "token", ValueURI: c.TokenEndpoint},
		{URL: "register", ValueURI: c.RegistrationEndpoint},
		{URL: "manage", ValueURI: c.ManagementEndpoint},
		{URL: "introspect", ValueURI: c.IntrospectionEndpoint},
		{URL: "revoke", ValueURI: c.RevocationEndpoint},
	} {
		if e.ValueURI != "" {
			uris = append(uris, e)
		}
	}
	s.Extension = []Extension{{URL: OAuthURIs, Extension: uris}}
	return s, nil
}
