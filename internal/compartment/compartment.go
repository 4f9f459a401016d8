package compartment

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// Param is an R4 search parameter of one resource type, reduced to what
// the library needs.
type Param struct {
	// Reference is true for a reference parameter, false for a token.
	Reference bool
	// PatientOnly is true when a reference parameter can only point at a
	// Patient, so that a bare id ("patient=123") means Patient/123.
	PatientOnly bool
	// Paths are the element paths below the resource, dot-separated. A
	// path ending in "@Patient" only counts for references to a Patient.
	Paths []string
}

// Params returns the codes of the parameters that decide whether a
// resource of type typ belongs to a patient: for a type of the R4 patient
// compartment, its CompartmentDefinition parameters; for a patient-linked
// type (see [Linked]), its reference parameters that can point at a
// Patient. It is nil when resources of type typ belong to no patient. The
// slice must not be changed.
func Params(typ string) []string { return memberParams[typ] }

// In reports whether resources of type typ can belong to a patient: the
// type is in the R4 patient compartment or patient-linked (see [Linked]).
func In(typ string) bool { return memberParams[typ] != nil }

// Linked reports whether typ is patient-linked: outside the R4 patient
// compartment, yet its resources can name a Patient on an element an R4
// reference search parameter indexes with Patient among its targets
// (Device.patient, Task.owner, Contract.signer, ...), or, for Binary, in
// securityContext. Such a type is treated as a compartment type, with
// those parameters as its compartment parameters ([In], [Params],
// [Member]), so that a patient/ scope does not read another patient's
// Device as if it were data about no patient.
func Linked(typ string) bool { return linkedParams[typ] != nil }

// LinkedTypes returns the patient-linked types (see [Linked]), sorted.
func LinkedTypes() []string {
	types := make([]string, 0, len(linkedParams))
	for typ := range linkedParams {
		types = append(types, typ)
	}
	slices.Sort(types)
	return types
}

// SearchParam returns the R4 search parameter code of typ, if the library
// knows it (reference parameters of the compartment, "patient", the
// reference parameters of a patient-linked type, tokens), or Binary's
// "securityContext", which no R4 search parameter defines: it decides
// membership but is no restrictor.
func SearchParam(typ, code string) (Param, bool) {
	p, ok := params[typ][code]
	return p, ok
}

// Restrictors returns, for a type of the patient compartment or a
// patient-linked type, the search parameters that limit a search to one
// patient's compartment when they name the patient: the compartment's own
// parameters (which are search parameters: not Binary's securityContext)
// and "patient". The value tells whether a bare id ("patient=123") can
// only mean a Patient. The map must not be changed; it is empty for
// Binary, whose searches cannot be limited to a patient.
func Restrictors(typ string) map[string]bool { return restrictors[typ] }

var (
	memberParams = map[string][]string{} // patientParams and linkedParams
	restrictors  = map[string]map[string]bool{}
	refTrees     = map[string]*node{} // type → all compartment reference paths
)

func init() {
	maps.Copy(memberParams, patientParams)
	for typ, codes := range linkedParams {
		if memberParams[typ] != nil {
			panic("compartment: " + typ + " is both in the compartment and linked")
		}
		memberParams[typ] = codes
	}
	for typ, codes := range memberParams {
		r := map[string]bool{}
		for _, code := range codes {
			if p, ok := params[typ][code]; ok && p.Reference && !slices.Contains(unsearchable[typ], code) {
				r[code] = p.PatientOnly
			}
		}
		if p, ok := params[typ]["patient"]; ok && p.Reference {
			r["patient"] = p.PatientOnly
		}
		restrictors[typ] = r
		root := &node{}
		for _, code := range codes {
			for _, p := range params[typ][code].Paths {
				p, _ = strings.CutSuffix(p, "@Patient")
				root.add(p)
			}
		}
		refTrees[typ] = root
	}
}

// Member reports whether the resource in data (FHIR JSON) belongs to the
// compartment of Patient/patientID, per FHIR R4 CompartmentDefinition/patient
// (for a patient-linked type, per its [Params]): some element named by one
// of the type's compartment parameters holds a reference to that patient ("Patient/123", an
// absolute URL ending in "/Patient/123", either with a "/_history/..."
// suffix). A Patient is in its own compartment only (id equality);
// Patient.link is not followed. References inside contained resources, to
// contained resources ("#p1"), logical references (identifier only) and
// "urn:uuid:" references do not count. A resource naming two patients is
// in both compartments. Types neither in the compartment nor linked are
// never members. The error is ErrJSON for a body that cannot be read.
func Member(data []byte, patientID string) (bool, error) {
	if typ := fhirjson.LeadingType(data); len(typ) > 0 && string(typ) != "Patient" {
		ok, _, err := member(data, typ, patientID, AnyServer)
		return ok, err
	}
	typ, id, err := topLevel(data)
	if err != nil {
		return false, err
	}
	return MemberOf(data, typ, id, patientID, AnyServer)
}

// AnyServer, as the base of MemberOf, accepts absolute references to a
// Patient on any server; NoServer accepts none.
const (
	AnyServer = "*"
	NoServer  = ""
)

// MemberOf is Member for a resource whose type and id were read already
// (TypeAndID), accepting absolute references only under base (a FHIR
// base URL without trailing "/"), or any (AnyServer) or none (NoServer).
func MemberOf(data []byte, typ, id, patientID, base string) (bool, error) {
	if typ == "Patient" {
		return readable(patientID) != "" && id == patientID, nil
	}
	ok, _, err := member(data, []byte(typ), patientID, base)
	return ok, err
}

// OnlyMemberOf is MemberOf for a resource being written: it must be in the
// compartment of Patient/patientID and in no other patient's. A resource
// whose compartment elements also refer to another Patient (an
// Observation with subject Patient/456 and performer Patient/123, an
// AllergyIntolerance with patient Patient/456 and recorder Patient/123) is
// in both compartments: writing it writes into the other patient's record.
// A reference counts as another patient's when it names a Patient other
// than patientID, on any server, or could resolve to one (see
// mayBeOther).
func OnlyMemberOf(data []byte, typ, id, patientID, base string) (bool, error) {
	if typ == "Patient" {
		return readable(patientID) != "" && id == patientID, nil
	}
	ok, other, err := member(data, []byte(typ), patientID, base)
	return ok && !other, err
}

// mayBeOther reports whether ref, on a compartment element of a resource
// being written, could name a Patient other than the one it does not
// refer to (refersTo is false). Only a local reference ("#x") and a
// literal "Type/id" reference (relative or absolute, maybe versioned) to a
// known type other than Patient are safe; a conditional reference
// ("Patient?identifier=..."), a bare id with "type": "Patient" beside it,
// a "urn:uuid:" the server resolves, anything else could be one. types
// holds the type names met before (or nil).
func mayBeOther(ref []byte, types *typeMemo) bool {
	if len(ref) > 0 && ref[0] == '#' {
		return false
	}
	if bytes.IndexByte(ref, '?') >= 0 {
		return true
	}
	ref = cutHistory(ref)
	i := bytes.LastIndexByte(ref, '/')
	if i <= 0 || i == len(ref)-1 {
		return true
	}
	typ := ref[:i]
	if j := bytes.LastIndexByte(typ, '/'); j >= 0 {
		typ = typ[j+1:]
	}
	return string(typ) == "Patient" || !types.isR4Type(typ)
}

// member walks the compartment's reference paths of typ in one pass,
// checking the top-level resourceType against typ on the way.
// other reports whether some reference on those paths names another
// Patient (see mayBeOther).
func member(data []byte, typ []byte, patientID, base string) (ok, other bool, err error) {
	patientID = readable(patientID)
	root := refTrees[string(typ)]
	known := root != nil
	if !known {
		root = &noPaths
	}
	s := scanner{Cursor: fhirjson.NewCursor(data), patientID: patientID, base: base}
	s.walk(root, 0)
	if !s.End() || string(s.typ) != string(typ) {
		return false, false, ErrJSON
	}
	return s.found && patientID != "" && known, s.other, nil
}

// readable returns patientID, or "" (no patient, whom nothing names) when
// it is not valid UTF-8. The checks compare the bytes of a string without
// escapes as they are, where encoding/json reads each byte of invalid
// UTF-8 as U+FFFD: no id or reference a Go server decodes can equal a
// patient id that is not valid UTF-8, so none may here ("Patient/\xff23"
// for "\xff23"). For a patient id of valid UTF-8, comparing bytes can
// only be stricter than comparing decoded strings ("Patient/\xff23" does
// not name "\ufffd23"), never looser, so the checks need not decode. The
// middleware's patient ids (smartctx.ValidID) are ASCII.
func readable(patientID string) string {
	if !utf8.ValidString(patientID) {
		return ""
	}
	return patientID
}

// reference reads the value at a compartment path: a Reference to
// Patient/s.patientID sets s.found, one that could be to another Patient
// sets s.other.
func (s *scanner) reference(depth int) {
	if s.Peek() != '{' {
		s.Skip(depth)
		return
	}
	if !s.OpenObject(depth) {
		return
	}
	seen := false
	for first := true; ; first = false {
		if !seen {
			if ref, ok := s.PlainMember(first, "reference"); ok {
				seen = true // the usual shape, read at once
				s.test(ref)
				continue
			}
		}
		key, ok := s.NextKey(first)
		if !ok {
			return
		}
		if !fhirjson.MayFold(key, "reference") {
			s.Skip(depth + 1)
			continue
		}
		if fhirjson.FoldsTo(key, "reference") {
			s.Fail()
			return
		}
		if string(key) != "reference" {
			s.Skip(depth + 1)
			continue
		}
		if seen {
			s.Fail()
			return
		}
		seen = true
		if s.Peek() != '"' {
			s.Skip(depth + 1)
			continue
		}
		s.test(s.text())
	}
}

// test tests the reference ref (see reference): against the set of
// patients when the scanner has one, else against Patient/patientID.
func (s *scanner) test(ref []byte) {
	if s.inSet != nil {
		if id, ok := PatientOf(ref, s.base); ok && s.inSet(id) {
			s.found = true
		} else if mayBeOther(ref, s.types) {
			s.other = true
		}
		return
	}
	if refersTo(ref, s.patientID, s.base) {
		s.found = true
	} else if mayBeOther(ref, s.types) {
		s.other = true
	}
}

// TypeAndID reads the "resourceType" and "id" of a resource.
func TypeAndID(data []byte) (typ, id string, err error) { return topLevel(data) }

// RefersTo reports whether the reference ref points at Patient/patientID:
// "Patient/123", "https://host/base/Patient/123", with or without a
// "/_history/version" suffix.
func RefersTo(ref, patientID string) bool { return refersTo([]byte(ref), patientID, AnyServer) }

// cutHistory returns ref up to its first "/_history/".
func cutHistory(ref []byte) []byte {
	if bytes.IndexByte(ref, '_') < 0 {
		return ref // most references: no search for the whole word
	}
	if i := bytes.Index(ref, []byte("/_history/")); i >= 0 {
		return ref[:i]
	}
	return ref
}

func refersTo(ref []byte, patientID, base string) bool {
	if patientID == "" || bytes.IndexByte(ref, '?') >= 0 || bytes.IndexByte(ref, '#') >= 0 {
		// "https://x/Patient/456?y=/Patient/123" and ".../456#/Patient/123"
		// end like a reference to Patient/123 but are not one.
		return false
	}
	ref = cutHistory(ref)
	rest, ok := bytes.CutSuffix(ref, []byte(patientID))
	if !ok {
		return false
	}
	if string(rest) == "Patient/" {
		return true
	}
	head, ok := bytes.CutSuffix(rest, []byte("/Patient/"))
	if !ok {
		return false
	}
	if base != AnyServer {
		return base != NoServer && string(head) == base
	}
	scheme, host, ok := bytes.Cut(head, []byte("://"))
	return ok && (string(scheme) == "https" || string(scheme) == "http") && len(host) > 0
}
