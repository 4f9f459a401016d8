// Package scope parses SMART on FHIR scopes and answers what they allow.
//
// It knows every kind of scope token of SMART App Launch 2.2: resource
// scopes in v1 ("patient/Observation.read") and v2 ("patient/Observation.rs")
// syntax, granular v2 scopes with a constraint
// ("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),
// launch, identity and refresh scopes, and extension scopes.
//
//	set := scope.Parse("launch/patient patient/Observation.rs openid")
//	set.Allows(scope.Patient, "Observation", scope.Read) // true
//	set.Allows(scope.Patient, "Observation", scope.Create) // false: no "c"
//
// # Semantics
//
// A claim is the union of its scopes. The letters mean: c create; r read,
// vread and instance history; u update and patch; d delete; s search and
// history at type and system level ([Interaction.Permission]). Write never
// implies read. v1 ".read" is "rs", ".write" is "cud", ".*" is "cruds";
// ".read" is never taken for the letters "r" and "d".
//
// A granular scope grants only for resources that match its constraint.
// [Set.Access] says whether a permission is [Allowed] for every resource,
// [Constrained] to the alternatives of [Set.Constraints], or [Denied]; an
// unconstrained scope subsumes constrained ones.
//
// # Bad input
//
// [Parse] never fails as a whole: an unknown or malformed token grants
// nothing and is kept in [Set.Invalid]. [ParseScope] parses one token
// strictly, with an error wrapping [ErrInvalid] that says what is wrong.
// Tokens are case-sensitive: "Patient/Observation.rs" and
// "patient/observation.rs" are invalid, and so is a percent-encoded slash
// ("patient%2FObservation.rs", as some identity providers send), which is
// not decoded.
//
// The package does no I/O and uses the standard library only.
package scope
