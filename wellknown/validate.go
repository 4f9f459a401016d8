package wellknown

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/smartguard/smartguard/internal/asmeta"
	"github.com/smartguard/smartguard/internal/search"
	"github.com/smartguard/smartguard/scope"
)

// Validate checks c against SMART App Launch 2.2 and returns every problem
// at once: an errors.Join of one [*FieldError] per problem, each matching
// [ErrInvalid]. It returns nil for a valid document.
//
// The rules:
//   - token_endpoint, grant_types_supported, capabilities and
//     code_challenge_methods_supported are present;
//   - with "sso-openid-connect", issuer and jwks_uri are present; without
//     it, issuer is absent;
//   - with "launch-ehr" or "launch-standalone", authorization_endpoint is
//     present and grant_types_supported has "authorization_code";
//   - with "client-confidential-asymmetric",
//     token_endpoint_auth_methods_supported has "private_key_jwt" and
//     token_endpoint_auth_signing_alg_values_supported has "RS384" or
//     "ES384"; that list never has "none";
//   - code_challenge_methods_supported has "S256" and not "plain";
//   - every URL is absolute, https (http only for a loopback host:
//     localhost, an address in 127.0.0.0/8, or ::1), without user
//     information or fragment; issuer has no query either;
//   - capabilities not defined by SMART are absolute URIs, such as
//     "https://sdo.example.org/cap": simple strings are reserved for SMART,
//     so an unknown one is a typo or an unsupported capability;
//   - every scope in scopes_supported parses with [scope.ParseScope], as
//     the server SHALL support each one listed, and its granular
//     constraint, if any, is one the middleware evaluates (on one resource
//     type; not a chain, composite, _filter or terminology modifier);
//   - associated endpoints have a URL and capabilities; a brand identifier
//     has a value, an absolute-URI system if any, and a brand bundle;
//   - list items are not empty strings; Extra neither renames known members
//     nor holds invalid JSON.
func (c Configuration) Validate() error {
	var v validator
	v.requiredMembers(c)
	v.capabilityMembers(c)
	v.downgrades(c)
	v.urls(c)
	v.lists(c)
	v.scopes(c.ScopesSupported)
	v.associatedEndpoints(c.AssociatedEndpoints)
	v.brandIdentifier(c)
	v.errs = append(v.errs, c.extraErrors()...)
	return errors.Join(v.errs...)
}

// requiredMembers reports the members SMART App Launch 2.2 marks REQUIRED
// whatever the capabilities: without them a client can neither get a token
// nor know which grant, capability or PKCE method to use.
func (v *validator) requiredMembers(c Configuration) {
	if c.TokenEndpoint == "" {
		v.add("token_endpoint", "is required")
	}
	v.required("grant_types_supported", len(c.GrantTypesSupported))
	v.required("capabilities", len(c.Capabilities))
	v.required("code_challenge_methods_supported", len(c.CodeChallengeMethodsSupported))
}

// capabilityMembers reports the members a capability requires or excludes:
// a client that reads the capability relies on them, so a document that
// claims the capability without them misleads it.
func (v *validator) capabilityMembers(c Configuration) {
	if c.HasCapability(SSOOpenIDConnect) {
		if c.Issuer == "" {
			v.add("issuer", "is required with capability %q", SSOOpenIDConnect)
		}
		if c.JWKSURI == "" {
			v.add("jwks_uri", "is required with capability %q", SSOOpenIDConnect)
		}
	} else if c.Issuer != "" {
		// issuer is the OpenID Connect issuer: SMART App Launch 2.2 says
		// to omit it when the server does not offer OpenID Connect.
		v.add("issuer", "must be omitted without capability %q", SSOOpenIDConnect)
	}
	// Both launch capabilities need the same two members: report them once,
	// naming the first capability found, not once per capability.
	for _, launch := range []Capability{LaunchEHR, LaunchStandalone} {
		if !c.HasCapability(launch) {
			continue
		}
		if c.AuthorizationEndpoint == "" {
			v.add("authorization_endpoint", "is required with capability %q", launch)
		}
		if !slices.Contains(c.GrantTypesSupported, "authorization_code") {
			v.add("grant_types_supported", `must include "authorization_code" with capability %q`, launch)
		}
		break
	}
	if c.HasCapability(ClientConfidentialAsymmetric) {
		if !slices.Contains(c.TokenEndpointAuthMethodsSupported, "private_key_jwt") {
			v.add("token_endpoint_auth_methods_supported", `must include "private_key_jwt" with capability %q`, ClientConfidentialAsymmetric)
		}
		algs := c.TokenEndpointAuthSigningAlgValuesSupported
		if !slices.Contains(algs, "RS384") && !slices.Contains(algs, "ES384") {
			v.add("token_endpoint_auth_signing_alg_values_supported", `must include "RS384" or "ES384" with capability %q`, ClientConfidentialAsymmetric)
		}
	}
}

// downgrades reports the methods that would let an attacker weaken the
// protocol: the unsigned "none" client assertion, and PKCE without S256 or
// with "plain", whose challenge is the verifier itself.
func (v *validator) downgrades(c Configuration) {
	if slices.Contains(c.TokenEndpointAuthSigningAlgValuesSupported, "none") {
		v.add("token_endpoint_auth_signing_alg_values_supported", `must not include "none" (RFC 8414 §2)`)
	}
	// An absent list is already reported by requiredMembers: say it once.
	if len(c.CodeChallengeMethodsSupported) > 0 && !slices.Contains(c.CodeChallengeMethodsSupported, "S256") {
		v.add("code_challenge_methods_supported", `must include "S256"`)
	}
	if slices.Contains(c.CodeChallengeMethodsSupported, "plain") {
		v.add("code_challenge_methods_supported", `must not include "plain"`)
	}
}

// urls reports each URL member that is present but not a URL a client may
// call (see url), and an issuer that is not a valid issuer identifier.
// Absent members are left to requiredMembers and capabilityMembers.
func (v *validator) urls(c Configuration) {
	v.issuer("issuer", c.Issuer)
	for _, f := range []struct{ name, value string }{
		{"jwks_uri", c.JWKSURI},
		{"authorization_endpoint", c.AuthorizationEndpoint},
		{"token_endpoint", c.TokenEndpoint},
		{"registration_endpoint", c.RegistrationEndpoint},
		{"smart_app_state_endpoint", c.SMARTAppStateEndpoint},
		{"user_access_brand_bundle", c.UserAccessBrandBundle},
		{"management_endpoint", c.ManagementEndpoint},
		{"introspection_endpoint", c.IntrospectionEndpoint},
		{"revocation_endpoint", c.RevocationEndpoint},
	} {
		if f.value != "" {
			v.url(f.name, f.value)
		}
	}
}

// lists reports empty items in the lists of strings and unknown simple
// strings among the capabilities: an empty item names nothing, and an
// unknown capability is a typo or one smartguard cannot honour.
func (v *validator) lists(c Configuration) {
	v.strings("grant_types_supported", c.GrantTypesSupported)
	v.strings("token_endpoint_auth_methods_supported", c.TokenEndpointAuthMethodsSupported)
	v.strings("response_types_supported", c.ResponseTypesSupported)
	v.strings("code_challenge_methods_supported", c.CodeChallengeMethodsSupported)
	v.strings("token_endpoint_auth_signing_alg_values_supported", c.TokenEndpointAuthSigningAlgValuesSupported)
	v.capabilities("capabilities", c.Capabilities)
}

// scopes reports each scope of scopes_supported that does not parse, or
// whose granular constraint the middleware cannot enforce. The server
// SHALL support each scope it lists, so listing one smartguard would not
// enforce promises clients a restriction that never applies.
func (v *validator) scopes(list []string) {
	for i, s := range list {
		sc, err := scope.ParseScope(s)
		field := fmt.Sprintf("scopes_supported[%d]", i)
		switch {
		case err != nil:
			v.errs = append(v.errs, &FieldError{Field: field, Err: err})
		case len(sc.Constraint) == 0:
			// No constraint: nothing more to check.
		case sc.Type == "*":
			v.add(field, "%q: a granular constraint on every type cannot be enforced (SPEC item 11)", s)
		default:
			// Advertise only what the middleware enforces: a constraint it
			// does not evaluate grants nothing.
			if _, err := search.Compile(sc.Type, sc.Constraint, search.Options{}); err != nil {
				v.add(field, "%q: smartguard cannot enforce this constraint: %v", s, err)
			}
		}
	}
}

// associatedEndpoints reports each associated endpoint without a valid URL
// or without capabilities: a client could neither reach it nor know what it
// offers.
func (v *validator) associatedEndpoints(list []AssociatedEndpoint) {
	for i, e := range list {
		field := fmt.Sprintf("associated_endpoints[%d]", i)
		if e.URL == "" {
			v.add(field+".url", "is required")
		} else {
			v.url(field+".url", e.URL)
		}
		v.required(field+".capabilities", len(e.Capabilities))
		v.capabilities(field+".capabilities", e.Capabilities)
	}
}

// brandIdentifier reports a user_access_brand_identifier without a value,
// with a system that is not an absolute URI, or without the brand bundle it
// points into: the identifier only means something as an entry of it.
func (v *validator) brandIdentifier(c Configuration) {
	id := c.UserAccessBrandIdentifier
	if id == nil {
		return
	}
	if id.Value == "" {
		v.add("user_access_brand_identifier.value", "is required")
	}
	if id.System != "" && !isAbsoluteURI(id.System) {
		v.add("user_access_brand_identifier.system", "%q is not an absolute URI", id.System)
	}
	if c.UserAccessBrandBundle == "" {
		v.add("user_access_brand_identifier", "names an entry of user_access_brand_bundle, which is missing")
	}
}

// validator collects the problems of one document.
type validator struct{ errs []error }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, fieldErrorf(field, format, args...))
}

func (v *validator) required(field string, n int) {
	if n == 0 {
		v.add(field, "is required")
	}
}

// strings reports empty items of a list of strings.
func (v *validator) strings(field string, list []string) {
	for i, s := range list {
		if s == "" {
			v.add(fmt.Sprintf("%s[%d]", field, i), "is empty")
		}
	}
}

func (v *validator) capabilities(field string, list []Capability) {
	for i, c := range list {
		if !knownCapabilities[c] && !isAbsoluteURI(string(c)) {
			v.add(fmt.Sprintf("%s[%d]", field, i), "%q is not a SMART capability; others must be absolute URIs", c)
		}
	}
}

// url reports s unless it is an absolute https URL (http for loopback
// hosts) without user information or fragment.
func (v *validator) url(field, s string) {
	if err := asmeta.CheckURL(s); err != nil {
		v.errs = append(v.errs, &FieldError{Field: field, Err: err})
	}
}

// issuer is url, without a query either (OpenID Connect Discovery §3,
// RFC 8414 §2).
func (v *validator) issuer(field, s string) {
	if s == "" {
		return
	}
	if err := asmeta.CheckIssuer(s); err != nil {
		v.errs = append(v.errs, &FieldError{Field: field, Err: err})
	}
}

// isAbsoluteURI reports whether s is an RFC 3986 absolute URI: a scheme, a
// colon and something after it, with no space or control character.
func isAbsoluteURI(s string) bool {
	i := strings.IndexByte(s, ':')
	if i < 1 || i == len(s)-1 {
		return false
	}
	for j := range i {
		c := s[j]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	for j := i + 1; j < len(s); j++ {
		if s[j] <= ' ' || s[j] == 0x7f {
			return false
		}
	}
	return true
}
