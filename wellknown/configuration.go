package wellknown

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Configuration is the SMART App Launch 2.2 discovery document served at
// {fhir-base}/.well-known/smart-configuration. The JSON names are those of
// the IG; optional members are omitted when empty.
//
// A Configuration is plain data: build it as a literal, with [FromIssuer],
// or by unmarshalling JSON, then check it with [Configuration.Validate]
// ([Handler] does). URL fields hold absolute URLs.
type Configuration struct {
	// Issuer is the OpenID Connect issuer URL. Required when Capabilities
	// has [SSOOpenIDConnect], and omitted otherwise.
	Issuer string `json:"issuer,omitempty"`
	// JWKSURI is the URL of the JSON Web Key Set for id tokens. Required
	// when Capabilities has [SSOOpenIDConnect].
	JWKSURI string `json:"jwks_uri,omitempty"`
	// AuthorizationEndpoint is the OAuth 2.0 authorization endpoint.
	// Required when Capabilities has [LaunchEHR] or [LaunchStandalone].
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	// GrantTypesSupported lists the grant types of the token endpoint:
	// "authorization_code" for App Launch, "client_credentials" for Backend
	// Services. Required.
	GrantTypesSupported []string `json:"grant_types_supported"`
	// TokenEndpoint is the OAuth 2.0 token endpoint. Required.
	TokenEndpoint string `json:"token_endpoint"`
	// TokenEndpointAuthMethodsSupported lists the client authentication
	// methods of the token endpoint: "client_secret_post",
	// "client_secret_basic", "private_key_jwt".
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// RegistrationEndpoint is the OAuth 2.0 dynamic registration endpoint.
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`
	// SMARTAppStateEndpoint is the App State endpoint.
	//
	// Deprecated: list an [AssociatedEndpoint] with [SMARTAppState] instead.
	SMARTAppStateEndpoint string `json:"smart_app_state_endpoint,omitempty"`
	// AssociatedEndpoints lists endpoints that share this FHIR endpoint's
	// authorization mechanism (experimental in the IG).
	AssociatedEndpoints []AssociatedEndpoint `json:"associated_endpoints,omitempty"`
	// UserAccessBrandBundle is the URL of a User Access Brand Bundle
	// (recommended).
	UserAccessBrandBundle string `json:"user_access_brand_bundle,omitempty"`
	// UserAccessBrandIdentifier identifies this server's primary Brand in
	// that Bundle (recommended; required when the Bundle holds several).
	UserAccessBrandIdentifier *Identifier `json:"user_access_brand_identifier,omitempty"`
	// ScopesSupported lists scopes a client may request (recommended). The
	// server SHALL support every scope listed, so each must be one this
	// library parses and enforces.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// ResponseTypesSupported lists the OAuth 2.0 response_type values
	// supported (recommended), such as "code".
	ResponseTypesSupported []string `json:"response_types_supported,omitempty"`
	// ManagementEndpoint is where end users see and change which apps can
	// access their data (recommended).
	ManagementEndpoint string `json:"management_endpoint,omitempty"`
	// IntrospectionEndpoint is the RFC 7662 introspection endpoint
	// (recommended).
	IntrospectionEndpoint string `json:"introspection_endpoint,omitempty"`
	// RevocationEndpoint is the RFC 7009 revocation endpoint (recommended).
	RevocationEndpoint string `json:"revocation_endpoint,omitempty"`
	// Capabilities lists the SMART capabilities of the server, such as
	// [LaunchEHR]. Required. Strings that are not defined by SMART must be
	// absolute URIs.
	Capabilities []Capability `json:"capabilities"`
	// CodeChallengeMethodsSupported lists the PKCE methods. Required; must
	// contain "S256" and must not contain "plain".
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
	// TokenEndpointAuthSigningAlgValuesSupported lists the JWS algorithms
	// for private_key_jwt client authentication (RFC 8414). With
	// [ClientConfidentialAsymmetric] it must include "RS384" or "ES384".
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`

	// Extra holds members this type does not know, for extensions: they are
	// written after the known members, in key order, and filled by
	// UnmarshalJSON with every member whose name is not an exact known
	// name. A key that names a known member is an error.
	Extra map[string]json.RawMessage `json:"-"`
}

// AssociatedEndpoint is an endpoint that shares the authorization mechanism
// of the FHIR endpoint, such as an App State endpoint.
type AssociatedEndpoint struct {
	// URL is the absolute URL of the endpoint. Required.
	URL string `json:"url"`
	// Capabilities lists what the endpoint supports, such as
	// [SMARTAppState]. Required.
	Capabilities []Capability `json:"capabilities"`
}

// Identifier is the FHIR Identifier of a Brand in a User Access Brand
// Bundle.
type Identifier struct {
	// System is the namespace of Value, an absolute URI (recommended).
	System string `json:"system,omitempty"`
	// Value is the identifier. Required.
	Value string `json:"value"`
}

// Capability is a SMART capability string. The constants below are all
// those SMART App Launch 2.2 defines; other capabilities are absolute URIs.
type Capability string

// The capabilities of SMART App Launch 2.2.
const (
	LaunchEHR                    Capability = "launch-ehr"                     // EHR launch
	LaunchStandalone             Capability = "launch-standalone"              // standalone launch
	AuthorizePost                Capability = "authorize-post"                 // POST-based authorization
	ClientPublic                 Capability = "client-public"                  // public clients
	ClientConfidentialSymmetric  Capability = "client-confidential-symmetric"  // client secret authentication
	ClientConfidentialAsymmetric Capability = "client-confidential-asymmetric" // private_key_jwt authentication
	SSOOpenIDConnect             Capability = "sso-openid-connect"             // SMART's OpenID Connect profile
	ContextBanner                Capability = "context-banner"                 // need_patient_banner (EHR launch)
	ContextStyle                 Capability = "context-style"                  // smart_style_url (experimental)
	ContextEHRPatient            Capability = "context-ehr-patient"            // patient context at EHR launch
	ContextEHREncounter          Capability = "context-ehr-encounter"          // encounter context at EHR launch
	ContextStandalonePatient     Capability = "context-standalone-patient"     // patient context at standalone launch
	ContextStandaloneEncounter   Capability = "context-standalone-encounter"   // encounter context at standalone launch
	PermissionOffline            Capability = "permission-offline"             // offline_access refresh tokens
	PermissionOnline             Capability = "permission-online"              // online_access refresh tokens (experimental)
	PermissionPatient            Capability = "permission-patient"             // patient/ scopes
	PermissionUser               Capability = "permission-user"                // user/ scopes
	PermissionV1                 Capability = "permission-v1"                  // SMART v1 scope syntax
	PermissionV2                 Capability = "permission-v2"                  // SMART v2 granular scope syntax
	SMARTAppState                Capability = "smart-app-state"                // SMART App State (experimental)
)

var knownCapabilities = map[Capability]bool{
	LaunchEHR: true, LaunchStandalone: true, AuthorizePost: true,
	ClientPublic: true, ClientConfidentialSymmetric: true, ClientConfidentialAsymmetric: true,
	SSOOpenIDConnect: true, ContextBanner: true, ContextStyle: true,
	ContextEHRPatient: true, ContextEHREncounter: true,
	ContextStandalonePatient: true, ContextStandaloneEncounter: true,
	PermissionOffline: true, PermissionOnline: true, PermissionPatient: true,
	PermissionUser: true, PermissionV1: true, PermissionV2: true,
	SMARTAppState: true,
}

// HasCapability reports whether c lists capability want.
func (c Configuration) HasCapability(want Capability) bool {
	return slices.Contains(c.Capabilities, want)
}

// plain is Configuration without its methods, for encoding/json.
type plain Configuration

// knownFields holds the JSON name of every member of Configuration.
var knownFields = func() map[string]bool {
	m := make(map[string]bool)
	t := reflect.TypeFor[Configuration]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "-" {
			m[name] = true
		}
	}
	return m
}()

// MarshalJSON writes the known members, then the members of Extra sorted by
// key. It fails if an Extra key names a known member or a value is not
// JSON. It does not validate the document.
func (c Configuration) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(plain(c))
	if err != nil || len(c.Extra) == 0 {
		return b, err
	}
	if err := errors.Join(c.extraErrors()...); err != nil {
		return nil, err
	}
	b = b[:len(b)-1] // drop the closing brace
	for _, k := range slices.Sorted(maps.Keys(c.Extra)) {
		key, _ := json.Marshal(k) // a string always marshals
		b = append(b, ',')
		b = append(b, key...)
		b = append(b, ':')
		b = append(b, c.Extra[k]...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads a discovery document. Member names match exactly (JSON
// is case-sensitive); members it does not know go to Extra. It does not
// validate the document.
func (c *Configuration) UnmarshalJSON(data []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return fmt.Errorf("wellknown: discovery document: %w", err)
	}
	if members == nil { // JSON null: leave c unchanged, like encoding/json
		return nil
	}
	known := make(map[string]json.RawMessage, len(members))
	var extra map[string]json.RawMessage
	for k, v := range members {
		if knownFields[k] {
			known[k] = v
			continue
		}
		if extra == nil {
			extra = make(map[string]json.RawMessage)
		}
		extra[k] = compact(v)
	}
	b, err := json.Marshal(known)
	if err != nil {
		return err
	}
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("wellknown: discovery document: %w", err)
	}
	*c = Configuration(p)
	c.Extra = extra
	return nil
}

// extraErrors reports Extra members that clash with known ones or are not
// JSON.
func (c Configuration) extraErrors() []error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(c.Extra)) {
		switch {
		case knownFields[k]:
			errs = append(errs, &FieldError{Field: k, Err: errors.New("set in Extra, but it is a known member: set the field instead")})
		case !json.Valid(c.Extra[k]):
			//lint:ignore ST1005 Extra is the name of the field at fault, capitalized as in Go
			errs = append(errs, &FieldError{Field: k, Err: errors.New("Extra value is not valid JSON")})
		}
	}
	return errs
}

// compact removes insignificant space from a JSON value, so that Extra
// holds what MarshalJSON writes back.
func compact(v json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return v
	}
	return b.Bytes()
}

// FieldError is one problem [Configuration.Validate] or
// [ProtectedResource.Validate] found: the JSON member concerned and what
// is wrong with it. It matches [ErrInvalid] with
// errors.Is, and unwraps to its cause (which may wrap scope.ErrInvalid).
type FieldError struct {
	// Field is the JSON name, with an index or member for nested values:
	// "token_endpoint", "scopes_supported[2]",
	// "associated_endpoints[0].url".
	Field string
	// Err says what is wrong.
	Err error
}

// Error returns "wellknown: <field>: <problem>".
func (e *FieldError) Error() string {
	return "wellknown: " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns ErrInvalid and the cause.
func (e *FieldError) Unwrap() []error { return []error{ErrInvalid, e.Err} }

// ErrInvalid is matched (errors.Is) by every error of
// [Configuration.Validate], the document breaking a rule of SMART App
// Launch 2.2, and of [ProtectedResource.Validate], the metadata breaking
// one of RFC 9728.
var ErrInvalid = errors.New("wellknown: invalid discovery document")

// fieldErrorf returns a *FieldError for field.
func fieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}
