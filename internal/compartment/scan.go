package compartment

import (
	"errors"

	"github.com/smartguard/smartguard/internal/fhirjson"
	"github.com/smartguard/smartguard/scope"
)

// ErrJSON is returned for a resource that is not a well-formed JSON object
// this package can read: bad syntax, nesting deeper than maxDepth, a key
// that matters repeated in one object (a later duplicate would win in most
// decoders, so either reading could be the wrong one), or a key that is
// not one that matters but that a case-insensitive decoder would take for
// it ("Subject", "ſubject": encoding/json decoding into a struct does).
var ErrJSON = errors.New("compartment: malformed resource JSON")

// maxDepth is the deepest nesting of objects and arrays read: a value
// inside maxDepth containers may not be a container itself. Every reader
// here takes the depth of the value it reads (0 for the resource itself)
// and fails past it, so that no input can exhaust the stack.
const maxDepth = fhirjson.MaxDepth

// node is one step of a set of element paths. A leaf is where the value to
// test (a Reference, a CodeableConcept...) sits; it may have children too.
type node struct {
	names    []string
	children []*node
	leaf     bool
}

// noPaths is the tree of a resource read for its JSON alone.
var noPaths node

func (n *node) add(path string) {
	for path != "" {
		var name string
		name, path, _ = cutDot(path)
		var next *node
		for i, c := range n.names {
			if c == name {
				next = n.children[i]
			}
		}
		if next == nil {
			next = &node{}
			n.names = append(n.names, name)
			n.children = append(n.children, next)
		}
		n = next
	}
	n.leaf = true
}

func cutDot(s string) (before, after string, found bool) {
	if i := indexByte(s, '.'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// scanner reads a resource along a tree of paths with fhirjson's Cursor,
// which validates what it reads and skips, refuses keys with escapes (no
// FHIR element name needs one: refusing is safer than risking a key that
// decodes to one looked for) and nesting past maxDepth.
type scanner struct {
	fhirjson.Cursor

	// What walk saw at the top level of the resource.
	typ, id        []byte
	seenTy, seenID bool
	contained      bool // a "contained" key, or one that could be read as it

	// What walk does with a value at a leaf of its paths, and what it
	// found there.
	patientID, base string // the patient and server references are tested against
	found, other    bool
	// inSet, when set, replaces patientID: a reference to a Patient
	// whose id it holds sets found; any other that could be to a
	// Patient sets other.
	inSet func(id string) bool

	types *typeMemo // R4 type names met before, kept by a Check; or nil
}

// typeMemo remembers whether the last few type names of references
// (Practitioner, Organization, ...) are R4 types: a Check reads the
// references of resource after resource.
type typeMemo struct {
	names [4]string
	r4    [4]bool
	next  int
}

// isR4Type is scope.IsR4Type(string(typ)), through m when not nil.
func (m *typeMemo) isR4Type(typ []byte) bool {
	if m == nil {
		return scope.IsR4Type(string(typ))
	}
	for i, n := range m.names {
		if n == string(typ) && n != "" {
			return m.r4[i]
		}
	}
	t := string(typ)
	ok := scope.IsR4Type(t)
	m.names[m.next], m.r4[m.next] = t, ok
	m.next = (m.next + 1) % len(m.names)
	return ok
}

// leaf tests the value at s, at a leaf of walk's paths: a Reference,
// against a patient (see member).
func (s *scanner) leaf(depth int) { s.reference(depth) }

// text reads a string value and returns its content, decoded; any other
// value fails.
func (s *scanner) text() []byte {
	if s.Peek() != '"' {
		s.Fail()
		return nil
	}
	b, _ := s.Text(0)
	return b
}

// topLevel reads the resource's "resourceType" and "id" in a first pass;
// an "id" that is not a string is ErrJSON.
func topLevel(data []byte) (typ, id string, err error) {
	s := scanner{Cursor: fhirjson.NewCursor(data)}
	var seenType, seenID bool
	if s.OpenObject(0) {
		for first := true; ; first = false {
			key, ok := s.NextKey(first)
			if !ok {
				break
			}
			if fhirjson.FoldsTo(key, "resourceType") || fhirjson.FoldsTo(key, "id") {
				s.Fail()
				break
			}
			switch string(key) {
			case "resourceType":
				if seenType {
					s.Fail()
				}
				seenType = true
				typ = string(s.text())
			case "id":
				if seenID {
					s.Fail()
				}
				seenID = true
				// An id of another JSON type: a server may read it (as a
				// number's text, say) where this reads none.
				id = string(s.text())
			default:
				s.Skip(1)
			}
		}
	}
	if !s.End() || typ == "" {
		return "", "", ErrJSON
	}
	return typ, id, nil
}

// walk reads the value at s along n, calling leaf for each value that
// sits at a leaf of n. It rejects a key of n repeated in one object.
func (s *scanner) walk(n *node, depth int) {
	switch s.Peek() {
	case '[':
		if !s.OpenArray(depth) {
			return
		}
		for first := true; s.NextElem(first); first = false {
			s.walk(n, depth+1)
		}
	case '{':
		if n.leaf && len(n.names) == 0 && depth > 0 {
			// The test reads the whole object (reference), validating
			// what Skip would and refusing more: no copy, no Skip.
			s.leaf(depth)
			return
		}
		if n.leaf {
			// The value is both tested and possibly walked further: test
			// it on a copy of the scanner, then walk.
			t := *s
			t.leaf(depth)
			if t.Failed() {
				s.Fail()
				return
			}
			s.found, s.other = t.found, t.other
		}
		if len(n.names) == 0 && depth > 0 {
			s.Skip(depth)
			return
		}
		s.members(n, depth)
	default:
		if n.leaf {
			s.leaf(depth)
			return
		}
		s.Skip(depth)
	}
}

// members reads the object at s along n (see walk).
func (s *scanner) members(n *node, depth int) {
	if !s.OpenObject(depth) {
		return
	}
	var seen uint64
	for first := true; ; first = false {
		key, ok := s.NextKey(first)
		if !ok {
			return
		}
		if !s.member(n, depth, key, &seen) {
			s.Skip(depth + 1)
		}
	}
}

// member reads, with s on its value, the member key of an object inside
// depth containers along n (see walk): true when it was read (or refused,
// failing s), false when it is off the paths, its value for the caller
// to skip. seen marks the names of n already met in the object.
func (s *scanner) member(n *node, depth int, key []byte, seen *uint64) bool {
	// fhirjson.MayFold first: most keys are none of the names, and fail
	// it at the cost of a comparison.
	if depth == 0 {
		if (fhirjson.MayFold(key, "resourceType") || fhirjson.MayFold(key, "id")) && s.top(key) {
			return true
		}
		// A key with an escape, which could decode to "contained", fails
		// the Cursor (NextKey, Check.Member) before it comes here.
		if fhirjson.MayFold(key, "contained") && (string(key) == "contained" || fhirjson.FoldsTo(key, "contained")) {
			s.contained = true
		}
	}
	for i, name := range n.names {
		if !fhirjson.MayFold(key, name) {
			continue
		}
		if string(key) == name { // which folds to no other name
			if i < 64 {
				if *seen&(1<<i) != 0 {
					s.Fail()
					return true
				}
				*seen |= 1 << i
			}
			s.walk(n.children[i], depth+1)
			return true
		}
		if fhirjson.FoldsTo(key, name) {
			s.Fail()
			return true
		}
	}
	return false
}

// top reads "resourceType" and "id" at the top level of a resource,
// refusing either twice. It returns false for other keys.
func (s *scanner) top(key []byte) bool {
	// The names themselves first: they fold to nothing else.
	if string(key) != "resourceType" && string(key) != "id" &&
		(fhirjson.FoldsTo(key, "resourceType") || fhirjson.FoldsTo(key, "id")) {
		s.Fail()
		return true
	}
	switch string(key) {
	case "resourceType":
		if s.seenTy {
			s.Fail()
			return true
		}
		s.seenTy = true
		s.typ = s.text()
		return true
	case "id":
		if s.seenID {
			s.Fail()
			return true
		}
		s.seenID = true
		if s.Peek() == '"' {
			s.id = s.text()
			return true
		}
	}
	return false
}
