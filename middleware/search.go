package middleware

import (
	"errors"
	"fmt"
	"strings"

	"github.com/smartguard/smartguard/internal/search"
	"github.com/smartguard/smartguard/scope"
)

// Errors of the search evaluator. A search that is not evaluated matches
// nothing: ParseSearch and NewSearch refuse it, and Permits permits nothing
// by it.
var (
	// ErrUnsupportedSearch: the search names something the library does
	// not evaluate: composite, special (near) and chained parameters,
	// _has, _filter, _text, _content, _list, _type, _query, result
	// parameters (_count, _sort, _include, ...), the terminology modifiers
	// :in, :not-in, :above and :below on tokens, :above and :below on
	// references, :text on strings, system|code on an element without a
	// Coding or an Identifier, and the R4 parameters whose definition
	// cannot be translated (Patient deceased, Bundle composition and
	// message).
	ErrUnsupportedSearch = errors.New("middleware: search not evaluated")
	// ErrInvalidSearch: the search is malformed: an unknown resource type
	// or parameter, a value that is not of the parameter's type, a bad
	// escape, an empty value, a bare id for a reference that can point at
	// more than one type.
	ErrInvalidSearch = errors.New("middleware: malformed search")
)

// Search is a FHIR R4 search on one resource type, compiled once and
// evaluated in memory against resources by Matches, with no database.
// It is safe for concurrent use.
//
// Every R4 parameter type is evaluated with the rules of the R4 search
// page (hl7.org/fhir/R4/search.html), from the parameters' R4
// definitions (element paths, types, targets):
//
//   - token: code, Coding, CodeableConcept, Identifier, ContactPoint,
//     boolean, uri, id, string; "code", "system|code", "|code",
//     "system|"; :not (no value of the resource matches, including none),
//     :text (a string search on CodeableConcept.text, Coding.display,
//     Identifier.type.text), :of-type (Identifier, "system|code|value").
//     Codes are compared with their case, except on string elements; a
//     code element's implicit system is not known, so "system|code" on
//     one (gender=http://hl7.org/fhir/administrative-gender|male) is
//     ErrUnsupportedSearch.
//   - string: starts with the value, ignoring case and accents (combining
//     marks, and the Latin letters of U+00C0–U+017F); :exact, :contains;
//     every string part of a HumanName or an Address.
//   - date: prefixes eq ne gt lt ge le sa eb ap against date, dateTime,
//     instant (a point), Period (a missing end is open) and Timing (its
//     events and repeat.boundsPeriod), each value standing for the range
//     its precision implies. A value without a time zone is taken as UTC;
//     ap is within a tenth of the gap between the date and the time the
//     search was compiled.
//   - reference: "Type/id", "id" when the parameter can point at one type
//     only, an absolute URL (one under base is the same as the relative
//     reference), "Type/id/_history/v", canonical "url|version", the
//     :[type] and :identifier modifiers. References to contained
//     resources ("#x") are not followed.
//   - uri: exact, :below, :above (not on URNs).
//   - number and quantity: prefixes with R4's implicit precision (100 is
//     [99.5, 100.5) for eq and ne; gt100 is greater than exactly 100),
//     "number|system|code" and "number||code" (code or unit); units are
//     not converted. Quantity, Age, Duration, Money (currency as the
//     code) and Range.
//
// Alternatives separated by "," are ORed, repeated parameters ANDed, and
// an element the resource lacks never matches, except with :missing.
type Search struct {
	q *search.Query
}

// ParseSearch compiles query, the query string of a FHIR search on
// resourceType ("name=Smith&birthdate=ge2000", percent-encoded as in a
// URL), for a server whose FHIR base URL is base (absolute references
// under it are the same as relative ones; "" for none). The error
// matches ErrUnsupportedSearch or ErrInvalidSearch.
func ParseSearch(resourceType, query, base string) (*Search, error) {
	q, err := search.Parse(resourceType, query, search.Options{Base: base})
	if err != nil {
		return nil, searchError(err)
	}
	return &Search{q: q}, nil
}

// NewSearch is ParseSearch for the constraint of a granular scope
// (scope.Scope.Constraint, values already decoded).
func NewSearch(resourceType string, c scope.Constraint, base string) (*Search, error) {
	q, err := search.Compile(resourceType, c, search.Options{Base: base})
	if err != nil {
		return nil, searchError(err)
	}
	return &Search{q: q}, nil
}

// Matches reports whether resource (FHIR R4 JSON) matches the search. A
// resource of another type does not match. The error is
// ErrMalformedResource for a resource that cannot be read (bad JSON, no
// resourceType, nesting deeper than 128, an element the search reads
// given twice in one object or in another case). Matching does not
// allocate on token parameters.
func (s *Search) Matches(resource []byte) (bool, error) {
	ok, err := s.q.Match(resource)
	if err != nil {
		return false, ErrMalformedResource
	}
	return ok, nil
}

// searchError maps an error of package search to this package's.
func searchError(err error) error {
	for _, e := range []struct{ internal, public error }{
		{search.ErrUnsupported, ErrUnsupportedSearch},
		{search.ErrInvalid, ErrInvalidSearch},
	} {
		if errors.Is(err, e.internal) {
			detail := strings.TrimPrefix(err.Error(), e.internal.Error())
			return fmt.Errorf("%w%s", e.public, detail)
		}
	}
	return fmt.Errorf("%w: %s", ErrInvalidSearch, err.Error())
}
