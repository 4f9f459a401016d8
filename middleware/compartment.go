package middleware

import (
	"encoding/json"
	"errors"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/compartment"
	"github.com/smartguard/smartguard/internal/search"
	"github.com/smartguard/smartguard/scope"
)

// ErrMalformedResource is returned for a resource that is not a FHIR JSON
// object the checks can read: bad JSON, no resourceType, or an element the
// check depends on given twice in one object.
var ErrMalformedResource = errors.New("middleware: malformed FHIR resource")

// InPatientCompartment reports whether resource (FHIR R4 JSON) belongs to
// the compartment of Patient/patientID, as FHIR R4
// CompartmentDefinition/patient defines it: an element named by one of the
// compartment's search parameters for the resource's type (for an
// Observation: subject or performer) refers to that patient, as
// "Patient/<id>" or an absolute URL ending in "/Patient/<id>", with or
// without "/_history/<version>".
//
// A Patient is in its own compartment only: Patient.link is not followed,
// so a linked patient's records are not reachable through the link.
// References to contained resources ("#x"), from contained resources,
// logical references (identifier only) and "urn:uuid:" references do not
// count. Types outside the compartment (Medication, Practitioner, ...) are
// never in it. Absolute references are accepted whatever their server:
// only accept such resources from sources you trust.
//
// Handlers use it on every resource they load by id or return for a
// request whose Decision has Patient set.
func InPatientCompartment(resource []byte, patientID string) (bool, error) {
	ok, err := compartment.Member(resource, patientID)
	if err != nil {
		return false, ErrMalformedResource
	}
	return ok, nil
}

// InPatientCompartmentMap is InPatientCompartment for a resource decoded
// into a map.
func InPatientCompartmentMap(resource map[string]any, patientID string) (bool, error) {
	b, err := json.Marshal(resource)
	if err != nil {
		return false, ErrMalformedResource
	}
	return InPatientCompartment(b, patientID)
}

// MatchesConstraint reports whether resource (FHIR R4 JSON) matches the
// granular scope constraint c, as a FHIR search with c's parameters on the
// resource's type would find it: every parameter type of R4 is evaluated
// in memory (see Search). A constraint the library does not evaluate
// (chains, composite parameters, terminology modifiers, an empty c, ...)
// does not match: an unsupported constraint allows nothing. Absolute
// references are compared as they are; use NewSearch with your base URL
// to take references under it as relative ones.
func MatchesConstraint(resource []byte, c scope.Constraint) (bool, error) {
	typ, err := search.ResourceType(resource)
	if err != nil {
		return false, ErrMalformedResource
	}
	if len(c) == 0 {
		return false, nil
	}
	q, err := search.Compile(typ, c, search.Options{})
	if err != nil {
		return false, nil // not evaluated: allows nothing
	}
	ok, err := q.Match(resource)
	if err != nil {
		return false, ErrMalformedResource
	}
	return ok, nil
}

// MatchesConstraintMap is MatchesConstraint for a resource decoded into a
// map.
func MatchesConstraintMap(resource map[string]any, c scope.Constraint) (bool, error) {
	b, err := json.Marshal(resource)
	if err != nil {
		return false, ErrMalformedResource
	}
	return MatchesConstraint(b, c)
}

// Permits reports whether d lets the handler read, return or change
// resource: when d.Patient() is set and the resource's type can belong to
// a patient (the R4 patient compartment's types and the patient-linked
// ones, such as Device), it is in that patient's compartment; and it
// matches one of d.Constraints(), when set. A nil d permits nothing.
func Permits(d *smartctx.Decision, resource []byte) (bool, error) {
	if d == nil {
		return false, nil
	}
	if p := d.Patient(); p != "" {
		typ, _, err := compartment.TypeAndID(resource)
		if err != nil {
			return false, ErrMalformedResource
		}
		if compartment.In(typ) {
			if ok, err := InPatientCompartment(resource, p); !ok || err != nil {
				return false, err
			}
		}
	}
	cons := d.Constraints()
	if cons == nil {
		return true, nil
	}
	for _, c := range cons {
		ok, err := MatchesConstraint(resource, c)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}
