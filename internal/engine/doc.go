// Package engine is smartguard's FHIR decision engine and response guard:
// for one FHIR base, it classifies each request as a FHIR R4 REST
// interaction, decides it from the SMART grant (scopes, the patient
// compartment and the patient-linked types, granular constraints, the
// application's Policy), narrows or refuses it, and then applies one rule
// to every resource that leaves: each is checked against the grant as a
// read of it, however it got into the answer.
//
// The middleware package is the front door: it authenticates, puts the
// grant on the request context and hands the request to an Engine
// (Serve), with Options built from its Config. The engine knows nothing
// of tokens, and the middleware nothing of FHIR decisions.
//
// Errors are *Error; the middleware turns them into its own. The response
// guard reads FHIR JSON with internal/fhirjson and internal/compartment
// only.
package engine
