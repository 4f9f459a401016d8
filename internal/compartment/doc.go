// Package compartment holds the FHIR R4 patient compartment, the
// patient-linked types outside it (see [Linked]), and the search parameter
// paths needed to decide, from a resource's JSON, whether it belongs to a
// patient's compartment, and whether it matches a granular scope's token
// constraint.
//
// The tables are generated from data/ (see data/README.md).
package compartment

//go:generate go run ../r4gen -dir ..
