package compartment

import "github.com/smartguard/smartguard/internal/fhirjson"

// Others reports whether the resource in data, of type typ, refers on one
// of its patient compartment paths to a Patient other than
// Patient/patientID, or to something that could resolve to one (see
// otherPatient): the check for a resource that travels inside one the
// guard already permitted, such as a contained resource, which must not
// carry another patient's data. Types that cannot belong to a patient
// refer to none. The error is ErrJSON for a body that cannot be read.
func Others(data []byte, typ, patientID, base string) (bool, error) {
	if refTrees[typ] == nil {
		if _, _, err := topLevel(data); err != nil {
			return false, ErrJSON
		}
		return false, nil
	}
	_, other, err := member(data, []byte(typ), patientID, base)
	return other, err
}

// MemberOfContains is MemberOf for a type other than Patient that also
// reports whether the resource has a "contained" member (or a key a
// decoder could read as one), found in the same pass: the caller then
// checks the contained resources (Others).
func MemberOfContains(data []byte, typ, patientID, base string) (ok, contains bool, err error) {
	root := refTrees[typ]
	known := root != nil
	if !known {
		root = &noPaths
	}
	patientID = readable(patientID)
	s := scanner{Cursor: fhirjson.NewCursor(data), patientID: patientID, base: base}
	s.walk(root, 0)
	if !s.End() || string(s.typ) != typ {
		return false, false, ErrJSON
	}
	return s.found && patientID != "" && known, s.contained, nil
}
