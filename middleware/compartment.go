package middleware

import (
	"cmp"
	"errors"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/compartment"
	"github.com/smartguard/smartguard/internal/search"
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

// Permits reports whether d lets the handler read, return or change
// resource (FHIR R4 JSON), as the response guard decides it: when
// d.Limits().Patient is set and the resource's type can belong to a
// patient (the R4 patient compartment's types and the patient-linked ones,
// such as Device), it is in that patient's compartment; and it matches one
// of d.Limits().Constraints, when set, as a FHIR search with the
// constraint's parameters on the resource's type would find it (see
// Search; absolute references are compared as they are). A nil d permits
// nothing.
//
// What cannot be checked is never permitted: the error is
// ErrMalformedResource for a resource that cannot be read, and
// ErrUnsupportedSearch when no constraint matched and one of them could
// not be evaluated (as with ParseSearch and NewSearch: a constraint the
// library does not evaluate allows nothing).
func Permits(d *smartctx.Decision, resource []byte) (bool, error) {
	if d == nil {
		return false, nil
	}
	lim := d.Limits()
	if lim.Patient != "" {
		typ, _, err := compartment.TypeAndID(resource)
		if err != nil {
			return false, ErrMalformedResource
		}
		if compartment.In(typ) {
			if ok, err := InPatientCompartment(resource, lim.Patient); !ok || err != nil {
				return false, err
			}
		}
	}
	if lim.Constraints == nil {
		return true, nil
	}
	typ, err := search.ResourceType(resource)
	if err != nil {
		return false, ErrMalformedResource
	}
	var unsupported error
	for _, c := range lim.Constraints {
		if len(c) == 0 {
			continue // names nothing, so it matches nothing
		}
		s, err := NewSearch(typ, c, "")
		if err != nil {
			unsupported = cmp.Or(unsupported, err)
			continue
		}
		if ok, err := s.Matches(resource); err != nil || ok {
			return ok, err
		}
	}
	return false, unsupported
}
