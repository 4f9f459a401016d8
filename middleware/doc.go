// Package middleware protects a FHIR API with SMART on FHIR, on the
// resource-server side. One [Guard], made by [New], stands in front of
// your FHIR handler and takes every request through three steps:
//
//  1. Authenticate: the access token must come from a trusted
//     authorization server, for this FHIR base, unexpired and well formed
//     (a JWT verified with the issuer's keys, or an opaque token by RFC
//     7662 introspection; a DPoP-bound token with its proof).
//  2. Authorize: the request is classified as a FHIR R4 REST interaction
//     and decided from the token's scopes and launch context, intersected
//     with your [AccessPolicy] or [Policy]; a search that lacks the
//     patient or the constraint its grant needs is narrowed to it.
//  3. Guard: where the decision leaves something to enforce (a patient, a
//     constraint, includes), the handler's answer is held, and every
//     resource that leaves (a match, an include, a bundle entry) must be
//     one the grant allows; a write by id is let through only if the
//     stored resource is.
//
// What fails a step is refused (401, 403, or 400, 404, 405, 413, 502,
// 503) with a FHIR OperationOutcome. Every default is the strict choice;
// the fields that weaken a check are named Skip or Insecure.
//
// Import it as smartmw, beside the context package as smartctx:
//
//	import (
//		smartctx "github.com/smartguard/smartguard/context"
//		smartmw "github.com/smartguard/smartguard/middleware"
//	)
//
// # Quick start
//
//	guard, err := smartmw.New(ctx, smartmw.Config{
//		Issuer: smartmw.Issuer{
//			URL:      "https://auth.example.org/realms/fhir", // the trusted authorization server
//			Audience: "https://fhir.example.org/r4",          // this FHIR server's base URL
//		},
//		AllowedOrigins: []string{"https://app.example.org"}, // browser apps (CORS)
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	protected := guard.Handler(fhirHandler) // 401, 403, and the response guard
//	mux.Handle("/r4", protected)            // the base itself: batch, transaction, system search
//	mux.Handle("/r4/", protected)           // everything under it
//
// and in a handler, if it wants them:
//
//	g, _ := smartctx.FromContext(r.Context())         // who, which app, which scopes, which patient
//	d, _ := smartctx.DecisionFromContext(r.Context()) // what was allowed, and what it is limited to
//
// The same wiring runs as the Example of [Guard.Handler]. With chi it is
// r.Use(guard.Handler); gin and echo have adapters in their own modules
// (github.com/smartguard/smartguard/middleware/gin and .../echo) that keep
// the response guard in front of what their handlers write.
// [Guard.AuthenticateOnly] authenticates alone, for endpoints that are not
// FHIR REST: behind it nothing limits what a token reaches, and the
// handler must enforce scopes and launch context itself.
//
// # Configuration
//
// [Config] needs Issuer.URL and Issuer.Audience; New reports every other
// problem of a Config in one error. Its groups follow the request path:
//
//   - Issuer, Issuers, Base, TrustForwardedHost: whose tokens are trusted,
//     for which FHIR bases (docs/authorization-servers.md).
//   - AllowedOrigins: browser apps (docs/discovery-and-cors.md).
//   - Tokens, Keys, HTTPClient, Cache: how a token is checked
//     (docs/security.md); DPoP: the proofs of DPoP-bound tokens
//     (docs/dpop.md).
//   - FHIR: what scopes allow where SMART leaves the choice, the response
//     guard, Bulk Data export (docs/authorization.md, docs/bulk-data.md).
//   - AccessPolicy, Policy: what users and clients may do, intersected
//     with their user/ and system/ scopes (docs/policy.md).
//   - Bounds: sizes beyond which a request is refused (docs/bounds.md).
//   - Hooks: how refusals are answered, audit and metrics (docs/audit.md).
//
// The full rules are in the repository's docs/: every check on a token,
// and the known limits, in docs/security.md; scope letters and contexts,
// the patient compartment, granular scopes, narrowed searches, _elements
// and _summary, batches, operations and includes, user/ and system/
// scopes, the response guard and existence oracles in
// docs/authorization.md.
//
// # Errors
//
// Refused requests go to Config.Hooks.ErrorHandler with an *[Error], which
// matches exactly one sentinel ([ErrMissingToken], [ErrInvalidToken],
// [ErrInsufficientScope], ...) with errors.Is, and also its cause (such as
// jwt.ErrTokenExpired). The default, [WriteError], answers with an RFC
// 6750 WWW-Authenticate challenge and a FHIR OperationOutcome whose issue
// code follows the sentinel, and which never contains the token. The
// status of each is in the README, "Errors and responses".
package middleware
