// Package search answers, in memory, whether a FHIR R4 resource (JSON
// bytes) matches a FHIR R4 search: the parameters of a granular SMART scope
// ("patient/Observation.rs?category=...") or of a search request, evaluated
// with the R4 rules for each parameter type, without a database.
//
// The parameter definitions (types, element paths, targets) are generated
// from the R4 SearchParameter and StructureDefinition data in data/ (see
// data/README.md). A search this package does not evaluate (composite,
// chained, _has, _filter, _text, terminology modifiers such as :in, ...)
// is an error, never a match: what is not understood grants nothing.
package search

//go:generate go run ../r4gen -dir ..
