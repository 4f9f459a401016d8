// Package middleware protects a FHIR API with SMART on FHIR access tokens
// on the resource-server side: it reads the bearer token of each request
// (RFC 6750), verifies it as a JWT access token issued by a trusted
// authorization server (RFC 9068, RFC 8725), and puts the SMART grant
// (scopes, patient, encounter, fhirUser, fhirContext, ...) on the request
// context for the handlers that enforce it.
//
// Its name is the product's; import it with the alias smartmw, beside the
// context package as smartctx:
//
//	import (
//		smartctx "github.com/smartguard/smartguard/context"
//		smartmw "github.com/smartguard/smartguard/middleware"
//	)
//
// # Quick start
//
//	auth, err := smartmw.New(ctx, smartmw.Config{
//		Issuer:   "https://auth.example.org/realms/fhir", // the trusted authorization server
//		Audience: "https://fhir.example.org/r4",          // this FHIR server's base URL
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	cors := smartmw.CORS("https://app.example.org")
//	http.Handle("/r4/", cors(auth.Handler(fhirHandler)))
//
// and in a handler:
//
//	g, ok := smartctx.FromContext(r.Context())
//
// # Order
//
// Chain the stages as cors → auth → authz → handler: [CORS] answers
// preflight requests, which carry no token; [Middleware.Handler]
// authenticates; FHIR-aware authorization decides on the interaction;
// the handler enforces the launch context it is given. Each stage is a
// func(http.Handler) http.Handler.
//
// # What is checked
//
// A token is accepted only when all of these hold; otherwise the request
// is answered 401 invalid_token (400 invalid_request for a malformed
// request, 401 with a bare challenge when there is no token):
//
//   - It came one way only: the Authorization header with the Bearer
//     scheme (any case) and a b64token, or, when Config.FormBodyToken is
//     set, a form body. Two headers, header and query, header and body are
//     refused.
//   - It is a JWS of at most Config.MaxTokenSize bytes (no JWE, no nested
//     JWT), its header "typ" is at+jwt or application/at+jwt (or JWT or
//     absent, unless Config.RequireATJWT), it has no "crit", and its "kid"
//     is short and printable.
//   - Its "alg" is in Config.Algorithms (never none, never HMAC with a
//     public key), and the signature verifies with a key of the issuer
//     named by its "iss": from that issuer's JWKS only, whose "alg",
//     "use", "key_ops" and type fit the token's algorithm. Keys named in
//     the token itself (jku, x5u, jwk, x5c) are never used.
//   - "iss" is exactly a configured issuer; "aud" contains one of that
//     issuer's audiences; "exp" is present and not past; "nbf" and "iat"
//     are not in the future (each with Config.Leeway).
//   - It is not sender-constrained ("cnf"), which a bearer token cannot
//     prove.
//   - Its SMART claims are well formed: patient and encounter are FHIR
//     ids, fhirUser references a Patient, Practitioner, PractitionerRole,
//     RelatedPerson or Person, every fhirContext item has a reference,
//     canonical or identifier and no empty role, and each claim has its
//     JSON type. Unknown or malformed scopes grant nothing but do not
//     refuse the token. A name repeated in the claims JSON takes its last
//     value, in every check alike; claims that are not UTF-8 are refused.
//
// Verified tokens are cached (see Config.CacheSize): a token seen again
// costs a hash and a map look-up, and its expiry is checked again.
//
// # Errors
//
// Refused requests go to Config.ErrorHandler with an *[Error], which
// matches [ErrMissingToken], [ErrInvalidRequest] or [ErrInvalidToken] with
// errors.Is, and also its cause (such as jwt.ErrTokenExpired). The default
// answers with an RFC 6750 WWW-Authenticate challenge and a FHIR
// OperationOutcome that never contains the token.
package middleware
