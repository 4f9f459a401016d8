// Package scope parses SMART on FHIR scopes and answers what they allow.
//
// It knows every kind of scope token of SMART App Launch 2.2: resource
// scopes in v1 ("patient/Observation.read") and v2 ("patient/Observation.rs")
// syntax, granular v2 scopes with a constraint
// ("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),
// launch, identity and refresh scopes, and extension scopes.
//
//	set := scope.Parse("launch/patient patient/Observation.rs openid")
//	set.Allows(scope.Patient, "Observation", scope.Read)   // true
//	set.Allows(scope.Patient, "Observation", scope.Create) // false: no "c"
//
// # Semantics
//
// A claim is the union of its scopes: "patient/Observation.rs" is
// "patient/Observation.r patient/Observation.s". The letters mean: c create;
// r read, vread and instance history; u update (also update-as-create) and
// patch; d delete; s search and history at type and system level
// ([Interaction.Permission]). No letter implies another: write never
// implies read, and read never implies search. v1 ".read" is "rs", ".write"
// is "cud", ".*" is "cruds"; ".read" is never taken for the letters "r" and
// "d". The resource type "*" covers every type, including types this
// package does not know. The three contexts never mix: "user/" scopes grant
// nothing in [Patient] or [System] context.
//
// # Deciding a request
//
// Map the request to its letter with [Interaction.Permission], then ask
// [Set.Access] for the context, resource type and letter. The answer is
// [Allowed] (for every resource of the type), [Denied], or [Constrained]:
// only granular scopes grant it, and a resource is allowed only if it
// matches every [Param] of one of the alternatives of [Set.Constraints]. An
// unconstrained scope subsumes constrained ones. Evaluating a constraint is
// the caller's job; a constraint it cannot evaluate (an unknown parameter,
// or the modifiers, chains and _filter that SMART calls experimental) must
// grant nothing.
//
// Access knows nothing of launch context: a [Patient] answer still has to
// be limited to the patient in context, and denied when there is none.
//
// # Bad input
//
// [Parse] never fails as a whole: an unknown or malformed token grants
// nothing and is kept, as written, in [Set.Invalid]. [ParseScope] parses one
// token strictly; its error is an [*Error] that names the token and says
// what is wrong, and errors.Is(err, [ErrInvalid]) holds. Tokens are
// case-sensitive: "Patient/Observation.rs", "patient/observation.rs" and
// "patient/Observation.Read" are invalid, and so is a percent-encoded slash
// ("patient%2FObservation.rs", as some identity providers send), which is
// not decoded. Only constraint values are percent-decoded.
//
// # Canonical form
//
// [Scope.String] renders the SMART v2 form, which parses back to an
// [Scope.Equal] scope; [Scope.URI] renders the URI form of the SMART
// Appendix ("http://smarthealthit.org/fhir/scopes/patient/*.r").
//
// The package does no I/O and uses the standard library only. A [Set] is
// immutable and safe for concurrent use; Access and Allows do not allocate.
package scope
