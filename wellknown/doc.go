// Package wellknown serves and checks the SMART on FHIR discovery document,
// {fhir-base}/.well-known/smart-configuration (SMART App Launch 2.2), and
// the RFC 9728 protected-resource metadata of each FHIR base.
//
// A [Configuration] is the document as a Go value. [Configuration.Validate]
// checks it against the IG: required and conditional members, absolute https
// URLs, PKCE with "S256" and without "plain", capability strings, and scopes
// this library can enforce; it reports every problem at once. [Handler]
// validates a document, encodes it once, and serves it as application/json
// to any origin, without a token, with an ETag and caching.
//
// # Quick start
//
//	doc, err := wellknown.FromIssuer(ctx, "https://auth.example.org/realms/fhir", nil,
//		wellknown.LaunchStandalone, wellknown.ClientPublic,
//		wellknown.ContextStandalonePatient, wellknown.PermissionPatient, wellknown.PermissionV2,
//	)
//	if err != nil { ... }
//	doc.ScopesSupported = []string{"launch/patient", "patient/*.rs", "offline_access"}
//
//	h, err := wellknown.Handler(*doc) // fails, listing every problem, if doc is not valid
//	if err != nil { ... }
//	p, err := wellknown.Path("https://fhir.example.org/r4") // "/r4/.well-known/smart-configuration"
//	if err != nil { ... }
//	mux.Handle(p, h) // public: not behind the Guard
//	protected := guard.Handler(fhir)
//	mux.Handle("/r4", protected)  // the FHIR API: its base
//	mux.Handle("/r4/", protected) // and everything under it
//
// # From the authorization server's metadata
//
// [FromIssuer] reads the authorization server's OpenID Connect or RFC 8414
// metadata (with the same URL policy and hardened client the middleware
// uses for its keys) and keeps what SMART allows: the endpoints, grant
// types, response types and client authentication methods; issuer and
// jwks_uri only with [SSOOpenIDConnect]. It drops what SMART forbids:
// "plain" PKCE, which Keycloak, Auth0 and Ory Hydra advertise, and the
// "none" signing algorithm. It does not invent what the server does not
// say: Microsoft Entra ID advertises no PKCE method, so set
// CodeChallengeMethodsSupported to []string{"S256"} yourself there, as
// Validate will ask.
//
// # Protected-resource metadata (RFC 9728)
//
// A [ProtectedResource] names a FHIR base (its resource identifier, the
// "aud" of its tokens), the authorization servers whose tokens it takes,
// its scopes and how tokens are sent. [ProtectedResourceHandler] serves
// one or several (tenants) at the host's root: RFC 9728 inserts its
// well-known segment before the base's path, where SMART appends its own
// after it ([ProtectedResourcePath]: "https://fhir.example.org/r4" gives
// "/.well-known/oauth-protected-resource/r4"). The Guard builds the
// documents of its bases (middleware.Guard.ProtectedResources) and, with
// Config.Hooks.ResourceMetadata, names their URL ([ProtectedResourceURL])
// in its 401 challenges.
//
// # Older clients
//
// Servers that still announce SMART in their CapabilityStatement can take
// its rest.security element from the same document with
// [Configuration.RestSecurity].
package wellknown
