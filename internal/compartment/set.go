package compartment

import (
	"bytes"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// PatientOf returns the id of the Patient that ref names: "Patient/123",
// or an absolute http(s) URL ending in "/Patient/123" (under base, unless
// base is AnyServer), either with a "/_history/..." suffix. Anything else
// (a local "#x", a conditional or "urn:uuid:" reference, another type)
// names none.
func PatientOf(ref []byte, base string) (string, bool) {
	if bytes.IndexByte(ref, '?') >= 0 || bytes.IndexByte(ref, '#') >= 0 {
		return "", false
	}
	if i := bytes.Index(ref, []byte("/_history/")); i >= 0 {
		ref = ref[:i]
	}
	var head, id []byte
	if rest, ok := bytes.CutPrefix(ref, []byte("Patient/")); ok {
		id = rest
	} else {
		i := bytes.LastIndex(ref, []byte("/Patient/"))
		if i < 0 {
			return "", false
		}
		head, id = ref[:i], ref[i+len("/Patient/"):]
		switch base {
		case AnyServer:
			scheme, host, ok := bytes.Cut(head, []byte("://"))
			if !ok || string(scheme) != "https" && string(scheme) != "http" || len(host) == 0 {
				return "", false
			}
		case NoServer:
			return "", false
		default:
			if string(head) != base {
				return "", false
			}
		}
	}
	if len(id) == 0 || bytes.IndexByte(id, '/') >= 0 {
		return "", false
	}
	return readable(string(id)), true
}

// MemberOfSet reports whether the resource in data, of type typ (not
// Patient), belongs to the compartment of one of the patients whose ids
// inSet holds (see Member), and whether it refers on its compartment
// paths to any Patient outside the set, or to something that could
// resolve to one (other). contains reports a "contained" member, to be
// checked with OthersOutsideSet.
func MemberOfSet(data []byte, typ string, inSet func(id string) bool, base string) (ok, other, contains bool, err error) {
	root := refTrees[typ]
	known := root != nil
	if !known {
		root = &noPaths
	}
	s := scanner{Cursor: fhirjson.NewCursor(data), base: base, inSet: inSet}
	s.walk(root, 0)
	if !s.End() || string(s.typ) != typ {
		return false, false, false, ErrJSON
	}
	return s.found && known, s.other, s.contained, nil
}
