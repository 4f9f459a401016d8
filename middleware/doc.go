// Package middleware protects a FHIR API with SMART on FHIR, on the
// resource-server side: one [Guard], made by [New], authenticates the
// bearer token of each request against a trusted authorization server,
// decides the FHIR REST request from the token's scopes and launch
// context, and checks what the handler answers before the client sees it.
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
//
// Authentication alone is [Guard.AuthenticateOnly], for endpoints that are
// not FHIR REST: behind it nothing limits what a token reaches, and the
// handler must enforce scopes and launch context itself.
//
// # What is checked on the token
//
// A token is accepted only when all of these hold; otherwise the request
// is answered 401 invalid_token (400 invalid_request for a malformed
// request, 401 with a bare challenge when there is no token):
//
//   - It came one way only: the Authorization header with the Bearer
//     scheme (any case) and a b64token, or, when Config.Tokens.FormBody is
//     set, a form body, or, where an issuer accepts DPoP-bound tokens, the
//     DPoP scheme (see DPoP below). Two headers, header and query, header
//     and body are refused.
//   - It is a JWS of at most Config.Bounds.MaxTokenSize bytes (no JWE, no nested
//     JWT), its header "typ" is at+jwt or application/at+jwt (or JWT or
//     absent, unless Config.Tokens.RequireATJWT), it has no "crit", and its "kid"
//     is short and printable.
//   - Its "alg" is in Config.Tokens.Algorithms (never none, never HMAC with a
//     public key), and the signature verifies with a key of the issuer
//     named by its "iss": from that issuer's JWKS only, whose "use",
//     "key_ops" and type fit the token's algorithm and which is bound to
//     that one algorithm (its own "alg", else the first of
//     Config.Tokens.Algorithms its type fits). Keys named in the token itself
//     (jku, x5u, jwk, x5c) are never used. The key is looked up last,
//     after every other check: only a token that passes them can make the
//     JWKS be fetched again (Config.Keys.UnknownKIDInterval).
//   - "iss" is exactly a configured issuer; "aud" is not empty and names
//     the base the request is under, as an audience of that issuer (a
//     token for tenant B is refused on tenant A's base); "exp" is present
//     and not past; "nbf" and "iat" are not in the future (each with
//     Config.Tokens.Leeway).
//   - It is not sender-constrained ("cnf"), which a bearer token cannot
//     prove; unless its issuer accepts DPoP-bound tokens and "cnf" is one
//     "jkt": then it must come with the DPoP scheme and a valid proof.
//   - Its SMART claims are well formed: fhirUser references a Patient,
//     Practitioner, PractitionerRole, RelatedPerson or Person, every
//     fhirContext item has a reference, canonical or identifier and no
//     empty role, and each claim has its JSON type. Unknown or malformed
//     scopes grant nothing but do not refuse the token. A name repeated in
//     the claims JSON takes its last value, in every check alike; claims
//     that are not UTF-8 are refused.
//   - patient and encounter name one resource here: a FHIR id ("123"), a
//     relative reference of the right type ("Patient/123",
//     "Encounter/9"), or its URL under the FHIR base the token is for
//     ("https://fhir.example.org/r4/Patient/123", compared as
//     smartctx.LocalReference compares: host and scheme in any case, :443
//     or :80 as none), each read as the id (Grant.Patient is "123"). A URL
//     is read only when the token is for one base here (its issuer's
//     audiences that its "aud" names): for several, the grant could not
//     say which base the patient is on. Anything else is refused (401
//     invalid_token, the error_description naming the claim and the
//     problem): another type, another server, tenant or base (also one
//     whose path only starts with the base's), a version
//     ("Patient/123/_history/1"), a query, a fragment, percent-encoding,
//     dot-segments, "urn:uuid:" references, an empty value.
//   - fhirUser may be on another server: it stays the user's identity
//     (Grant.FHIRUser), but only a fhirUser under the base the request is
//     under (Grant.LocalFHIRUser) is one of this server's resources, for
//     the user's own read and a patient user's compartment (see User
//     scopes). fhirContext references are passed on as they are: the
//     Guard decides nothing with them.
//   - With Config.Tokens.Revocations set, it is not revoked: the list is
//     asked on every request, for cached tokens too, by the token's issuer
//     and "jti" and by its SHA-256 (see Revocations, NewRevocationList and
//     Guard.Revoke).
//
// Verified tokens are cached (see Config.Cache.Size): a token seen again
// costs a hash and a map look-up, and its expiry is checked again.
//
// An issuer's opaque tokens are checked by RFC 7662 introspection instead
// (Issuer.Format, Issuer.Introspection): the answer must be active, for
// this base, with the claims SMART requires, and is read with the same
// claim names. While a token cannot be checked (no key of its issuer held,
// its introspection endpoint or the Revocations down or slow), it is
// answered 503 temporarily_unavailable with Retry-After, never let
// through; see Guard.Ready.
//
// # DPoP
//
// An issuer whose [Issuer].DPoP is [DPoPAllowed] or [DPoPRequired] may
// issue DPoP-bound tokens (RFC 9449): its "cnf.jkt" (in the JWT or the
// introspection answer) names a key of the client, and every request
// carries "Authorization: DPoP <token>" and one DPoP header, a proof
// signed with that key for that request. The token is verified and cached
// as any; the proof is checked on every request after it, against
// Config.DPoP ([DPoPOptions]): typ, an alg of its allow-list, a public
// jwk whose thumbprint is the token's cnf.jkt, the signature, htm, htu
// (the configured base URL and the request's path, never the Host header),
// iat, ath, an unused jti (recorded in Config.DPoP.Store, which replicas
// share; a store that fails answers 503) and, with a NonceKey, a current
// nonce. A refused proof is answered 401 invalid_dpop_proof (or
// use_dpop_nonce, with a DPoP-Nonce header) and matches [ErrInvalidProof];
// a bound token sent as a bearer token, an unbound one sent with the DPoP
// scheme, and a bearer token where DPoP is required are answered 401
// invalid_token. The challenges name the DPoP scheme with its algs, beside
// Bearer where bearer tokens are accepted too.
//
// # Requests
//
// Every request under a base (the path of Config.Issuer.Audience, or
// Config.Base, and its host where only the host tells bases apart: see
// Config.Issuer.Audiences) is classified as a FHIR R4 REST interaction: read,
// vread, update, patch, delete (also conditional), create (also
// conditional, If-None-Exist),
// search (GET, POST _search with a form body, system level, compartment
// searches such as Patient/123/Observation or Patient/123/*), history
// (instance, type, system), capabilities (metadata), operations ($name at
// system, type and instance level), and batch or transaction bundles.
// Anything else (an unknown type, a bad id, an escaped or empty path
// segment, "..", a raw ";" in the query) is refused with 400, 404 or 405;
// nothing unclassified reaches the handler.
//
// # Letters
//
// c create; r read, vread, instance history; u update, patch; d delete; s
// search and type or system history (SMART App Launch 2.2). Conditional
// interactions also need s, because they search. Scopes are a union and
// "*" is every type.
//
// # Contexts
//
// patient/, user/ and system/ scopes are separate grants. A request is
// decided under each context with that context's scopes only, and allowed
// if one context allows it; letters and types never carry from one
// context to another (so "user/Practitioner.rs patient/Observation.rs"
// reads the patient's Observations only). If several contexts allow it,
// a decision without restrictions is preferred; otherwise patient/ comes
// first, then user/, then system/. A search is narrowed (see "Narrowed
// searches") only when no context allows it as it is. The Policy, if any,
// is asked after the scopes; refusing there moves on to the next context.
//
// # Patient scopes
//
// They need a patient in context, and reach the FHIR R4 patient
// compartment of that patient:
//   - Patient/<id> for the patient in context only, by id (Patient.link is
//     not followed); no other Patient, and no Patient create;
//   - a search that names the patient in a compartment parameter or
//     "patient" (patient=123, patient=Patient/123, subject=Patient/123,
//     subject:Patient=123, the absolute URL under the base; every value of
//     a ","-list must name the patient, as the values are ORed), or a
//     compartment search Patient/<id>/<type> (run by the FHIR server with
//     its own compartment rules: Patient/<id>/* may include Patients whose
//     link names the patient, which FHIR says concern the same person;
//     Patient/<id>/Patient is refused), is answered as it is; one that
//     names no one is narrowed to the patient (patient=Patient/<id>,
//     _id=<id> for Patient; see "Narrowed searches"), or refused with
//     Config.FHIR.RefuseBroadSearches; one that names anyone else, in any
//     case or spelling, is refused;
//   - system search, type and system history of compartment types, and
//     type- or system-level operations are refused;
//   - created and updated resources must be in the compartment and in no
//     other patient's (the body is checked: an Observation with subject
//     Patient/456 and performer Patient/123 is refused, as it would write
//     into Patient/456's record; an absolute reference counts only under
//     the base);
//   - instance reads, updates, patches and deletes are allowed with the
//     Decision limited to the patient (a patch must be a JSON Patch that
//     leaves the compartment's reference elements alone, so that it cannot
//     move the resource into another patient's record): the response
//     guard refuses a returned resource outside the compartment and,
//     before an update, patch or delete by id, asks the handler for the
//     stored resource with a GET of the same URL (IsStoredRead reports it)
//     and lets the write through only if it is permitted (or absent), with
//     If-Match set to its ETag; with SkipResponseGuard the handler must
//     check the stored resource itself (InPatientCompartment, Permits);
//   - types outside the compartment follow Config.FHIR.NonCompartment.
//
// # User scopes
//
// A user whose fhirUser is a Patient (a patient-portal login with user/
// scopes, which many authorization servers issue) is held to that
// patient's compartment exactly as with patient/ scopes, unless
// Config.FHIR.SkipPatientUserCompartment. A Patient fhirUser that is not
// on the base the request is under (an absolute URL on another server or
// base, or a version) gets nothing from user/ scopes (403): the same id
// here is another patient, so the compartment cannot be placed, and no
// limit would let the login reach every patient. Other users' user/ scopes, and
// system/ scopes, reach every resource of their types unless they are
// intersected with what the user or client may do, as SMART says they must
// be: by Config.AccessPolicy, by Config.Policy, or by the authorization
// server, when it issues such scopes only to whom may use them all.
//
// An [AccessPolicy] (Go values, or JSON read by [LoadAccessPolicy]) holds
// rules per subject (the fhirUser's type, a claim's value, a client_id),
// each granting types, interactions and limits: a FHIR search the
// resources must match, or the patients of a relationship such as a
// practitioner's panel. It limits user/ and system/ scopes only (patient/
// scopes and the fhirUser scope's read are not affected): a request is
// allowed only when the scopes and the policy both allow it, and a token
// that no rule names gets nothing from them. Reads, searches and their
// includes, history, batches and writes all go through the same check. A
// refusal says who refused: "refused by the access policy (rule ...)" in
// the error_description and OperationOutcome, [Error.RefusedBy] "policy" or
// "scope", and the rule in [AuditEvent.Rule]. New refuses a policy that
// cannot be evaluated, naming the rule. See docs/policy.md.
//
// A token with the fhirUser scope reads (read, vread, HEAD) the resource
// its fhirUser names on this base, exactly that type and id, whatever its
// other scopes, also where they are constrained or held to a patient in a
// way that would withhold it; the response guard lets that resource out
// and nothing it holds. A search for it ("Practitioner?_id=dr-jones") is
// decided by the scopes alone: SMART gives the fhirUser scope the user's
// resource, which a read fetches, and a search answers a set (with
// includes, more than that resource).
//
// # Granular scopes
//
// A constrained scope ("patient/Observation.rs?category=...|laboratory")
// allows an instance access with the Decision limited to its constraints,
// which the response guard checks (Permits without it), and a search that
// carries its parameters exactly, or a ","-list of values each of which an
// alternative allows (category=...|laboratory,...|vital-signs under those
// two scopes). Any other search is narrowed (see "Narrowed searches"): one
// alternative is ANDed to the query; alternatives that differ only in the
// value of one token parameter are ANDed as one ","-list (the ONC (g)(10)
// category scopes); other alternatives cannot be put into one query, and
// the search is forwarded within the compartment for the response guard to
// keep the entries that match one (no "total", an outcome entry saying
// that results were withheld; refused without the guard, and in a bundle).
// Created and updated bodies must match one alternative. Granular scopes
// never allow operations or multi-type searches.
//
// # Narrowed searches
//
// By default (not Config.FHIR.RefuseBroadSearches) a search that lacks the
// restriction its grant needs reaches the handler with the restriction
// added to its URL query: patient=Patient/<id> (subject=, member=, ...
// where the type has no "patient" parameter; _id=<id> for Patient), the
// granular constraint. Decision.Request().Query holds it, and
// Request().Rewritten is set. It is ANDed with whatever else the query
// says, so that a FHIR server applying it returns exactly what the grant
// allows of the search, with paging, _count and total exact. For that the
// handler must:
//   - read the query of the request it is given (not a copy made before
//     the Guard: put framework middleware that parses the query after it),
//     and, for POST _search, that query together with the form body, as
//     FHIR says;
//   - apply every parameter as FHIR R4 search says: parameters ANDed, a
//     name given twice ANDed too, the values of a ","-list ORed; support
//     the compartment parameter it is given for each type it serves, or
//     refuse the search (400), never ignore it (lenient handling);
//   - answer _summary=count with the total of that query.
//
// A handler that ignores the added parameters loses nothing to another
// patient: the response guard still withholds every entry the grant does
// not allow (then without "total", with the withheld notice). But it
// cannot check a total: _summary=count, and the total of a search, are
// only as exact as the handler.
//
// Default answers, under patient/ scopes (or user/ scopes of a Patient
// fhirUser) for Patient/123:
//   - Observation?code=x: 200, the handler sees
//     code=x&patient=Patient%2F123; Patient?name=x: 200, it sees
//     name=x&_id=123; Encounter/9/Observation: 200, narrowed alike;
//   - Observation?patient=123, Patient/123/Observation: 200, as they are;
//   - Observation?patient=456 (or 123,456, patient=123&patient=456,
//     Patient=456), Patient/456/Observation: 403;
//   - a type no scope names: 403, never an empty Bundle; system searches,
//     type history, _has, _contained, _query: 403;
//   - a parameter name a server could misread ("patient%00", "patient "):
//     400;
//   - one granular scope, the search without its category or with another:
//     200, the category ANDed (an empty searchset for another);
//   - the (g)(10) category scopes, no category: 200, category=a,b ANDed;
//     a category scope and a code scope: 200, filtered by the guard;
//   - a conditional update, patch or delete not naming the patient:
//     narrowed like a search; a conditional create whose If-None-Exist
//     does not: 403 (a header is not narrowed);
//   - a search entry of a batch or transaction: narrowed.
//
// With RefuseBroadSearches each narrowed answer above is 403 instead.
//
// # _elements and _summary
//
// The response guard reads elements of each resource it checks: the
// compartment references (subject, performer, ...; a Patient's id), the
// elements of the granular constraints' parameters (category). Under a
// restricted decision, so that _elements and _summary do not take them
// away (withholding the patient's own resources, or hiding the category
// a "category:not=" scope excludes): _elements gains them (one _elements
// in the URL query, listing the client's and the guard's: the client may
// get those extra elements); _summary=text becomes _elements=text,id,meta
// and them; _summary=true is refused (400, naming them) when the guard
// reads more than id and meta, as the elements it keeps depend on each
// type's summary flags; _summary=count, data and false pass, count refused
// (400) where the guard filters the answer. Modifiers and other spellings
// (_elements:exclude, _Elements), a repeated _summary, and element-hiding
// parameters together with _include or _revinclude, or on system and
// compartment-wide searches and operations, are refused (400).
//
// # Bundles, operations, includes
//
// Every entry of a batch or transaction is classified and decided on its
// own, as if it came alone, and narrowed alike (the bundle is forwarded
// with the entry's request.url replaced). A batch is forwarded
// without its refused entries, and the guard answers each of them in its
// place in the batch-response; one refused entry refuses a whole
// transaction (and a whole batch with SkipResponseGuard). Operations need an entry in Config.FHIR.Operations;
// _include and _revinclude are answered, each included resource decided by
// the response guard as a read of it (RefuseIncludes refuses them; "=*" is
// refused, and at most 16 a search); _query is refused. Reverse chaining (_has) is refused under patient/ and
// granular scopes, and _contained searches when the search is limited to a
// patient or to granular constraints: both select by other resources than
// the ones returned.
//
// # Bulk Data export
//
// With Config.FHIR.Export enabled (see [ExportOptions]), $export at system,
// Patient and Group level is decided from system/ scopes (user/ ones with
// ExportOptions.UserScopes, patient/ ones never): every type in _type must
// be granted read and search (403 naming it otherwise), and without _type
// the handler is given exactly the granted types, granular scopes as
// _typeFilter entries. The handler's 202 status URL reaches the client as
// [base]/$export-poll/<token>, and the manifest's file URLs as
// [base]/$export-file/<token>, signed with ExportOptions.Key and bound to
// the issuer, client and user that started the job: anyone else gets 404.
// Files stream through, each NDJSON line checked as a read of its resource
// unless the token grants every type. Handlers serve their job URLs only to
// requests for which [IsExportForward] reports true. The rules and answers
// are in docs/bulk-data.md.
//
// # Errors
//
// Refused requests go to Config.Hooks.ErrorHandler with an *[Error], which
// matches exactly one of the sentinels ([ErrMissingToken],
// [ErrInvalidRequest], [ErrInvalidToken], [ErrInvalidProof],
// [ErrInsufficientScope],
// [ErrNotFound], [ErrMethodNotAllowed], [ErrTooLarge],
// [ErrUncheckedResponse], [ErrUnavailable], [ErrMisconfigured]) with
// errors.Is, and also its cause (such as jwt.ErrTokenExpired). The default
// answers with an RFC 6750 WWW-Authenticate challenge and a FHIR
// OperationOutcome whose issue code follows the sentinel, and which never
// contains the token.
package middleware
