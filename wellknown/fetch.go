package wellknown

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/smartguard/smartguard/internal/asmeta"
)

// FromIssuer builds the discovery document of a FHIR server that accepts
// the tokens of the authorization server issuer, from that server's own
// metadata, for the SMART capabilities given. When the server advertises
// S256 and the capabilities fit it, the result passes
// [Configuration.Validate] as it is, so one call is enough:
//
//	doc, err := wellknown.FromIssuer(ctx, issuer, nil,
//		wellknown.LaunchStandalone, wellknown.ClientPublic, wellknown.ContextStandalonePatient,
//		wellknown.PermissionPatient, wellknown.PermissionV2)
//
// # Reading the metadata
//
// FromIssuer reads the issuer's OpenID Connect discovery document
// ({issuer}/.well-known/openid-configuration) and, only when that is
// absent (a 4xx answer, or a 200 answer that is not a JSON object), its
// RFC 8414 document (/.well-known/oauth-authorization-server inserted
// between host and path). Its "issuer" must equal issuer exactly, and
// issuer must be https (http only for a loopback host: localhost,
// 127.0.0.0/8, ::1) without query. client nil means a client with a 10 s
// timeout (never http.DefaultClient); client is not changed, and the
// copy FromIssuer uses reads at most 1 MiB and follows at most 5
// redirects, each to https (or loopback http). ctx bounds the requests.
// The middleware discovers the issuer's keys with the same rules.
//
// # What is kept, what is dropped
//
// SMART App Launch 2.2 defines what the document may say, which is not
// all that the authorization server says. FromIssuer:
//   - sets Capabilities to capabilities (nil if none);
//   - keeps issuer and jwks_uri only when capabilities include
//     [SSOOpenIDConnect], which requires them (SMART requires issuer to be
//     omitted otherwise, and jwks_uri then names id-token keys nobody
//     asked about). With [SSOOpenIDConnect] the issuer must publish an
//     OpenID Connect discovery document, else FromIssuer fails: OpenID
//     clients could not discover it;
//   - keeps authorization_endpoint, token_endpoint, registration_endpoint,
//     introspection_endpoint, revocation_endpoint and management_endpoint
//     as stated;
//   - keeps grant_types_supported as stated; when the server omits it
//     (Auth0 and Microsoft Entra ID do), OpenID Connect Discovery and RFC
//     8414 say it means ["authorization_code", "implicit"], of which
//     FromIssuer keeps the part SMART uses, ["authorization_code"]; add
//     "client_credentials" yourself for Backend Services;
//   - keeps response_types_supported and
//     token_endpoint_auth_methods_supported as stated;
//   - keeps token_endpoint_auth_signing_alg_values_supported without
//     "none" (RFC 8414 §2 forbids it);
//   - keeps code_challenge_methods_supported without "plain", which SMART
//     forbids (Keycloak, Auth0 and Ory Hydra advertise it). When the
//     server does not advertise "S256" (Microsoft Entra ID publishes no
//     code_challenge_methods_supported at all), FromIssuer does not claim
//     it for the server: the list stays without it, and Validate (so
//     [Handler]) reports code_challenge_methods_supported; set it to
//     []string{"S256"} once you know the server enforces S256 PKCE;
//   - leaves ScopesSupported empty: the FHIR server SHALL support every
//     scope listed, which the authorization server cannot say for it;
//   - drops every other member (userinfo_endpoint, claims_supported,
//     id_token_signing_alg_values_supported, end_session_endpoint,
//     response_modes_supported, and the like): SMART does not define them.
//
// The result is not validated: add what you need (ScopesSupported, say),
// then [Handler] validates it, or call [Configuration.Validate]. Errors
// start with "wellknown: ".
func FromIssuer(ctx context.Context, issuer string, client *http.Client, capabilities ...Capability) (*Configuration, error) {
	m, err := asmeta.Discover(ctx, client, issuer)
	if err != nil {
		return nil, fmt.Errorf("wellknown: %w", err)
	}
	c := &Configuration{
		Capabilities:                               slices.Clone(capabilities),
		AuthorizationEndpoint:                      m.AuthorizationEndpoint,
		TokenEndpoint:                              m.TokenEndpoint,
		RegistrationEndpoint:                       m.RegistrationEndpoint,
		IntrospectionEndpoint:                      m.IntrospectionEndpoint,
		RevocationEndpoint:                         m.RevocationEndpoint,
		ManagementEndpoint:                         m.ManagementEndpoint,
		GrantTypesSupported:                        m.GrantTypesSupported,
		ResponseTypesSupported:                     m.ResponseTypesSupported,
		TokenEndpointAuthMethodsSupported:          m.TokenEndpointAuthMethodsSupported,
		TokenEndpointAuthSigningAlgValuesSupported: without(m.TokenEndpointAuthSigningAlgValuesSupported, "none"),
		CodeChallengeMethodsSupported:              without(m.CodeChallengeMethodsSupported, "plain"),
	}
	if m.GrantTypesSupported == nil {
		c.GrantTypesSupported = []string{"authorization_code"}
	}
	if c.HasCapability(SSOOpenIDConnect) {
		if !m.OpenID {
			return nil, fmt.Errorf("wellknown: capability %q: %q publishes no OpenID Connect discovery document, only %s",
				SSOOpenIDConnect, issuer, m.URL)
		}
		c.Issuer, c.JWKSURI = m.Issuer, m.JWKSURI
	}
	return c, nil
}

// without returns list without the items equal to drop, or nil when
// nothing is left.
func without(list []string, drop string) []string {
	out := slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == drop })
	if len(out) == 0 {
		return nil
	}
	return out
}
