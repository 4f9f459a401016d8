package compartment

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/smartguard/smartguard/internal/fhirjson"
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

// scanner reads JSON without building values. It validates what it reads.
type scanner struct {
	data []byte
	i    int
	bad  bool

	// What walk saw at the top level of the resource.
	typ, id        []byte
	seenTy, seenID bool
	contained      bool // a "contained" key, or one that could be read as it

	// What walk does with a value at a leaf of its paths, and what it
	// found there.
	patientID, base string // the patient and server references are tested against
	found, other    bool
}

// leaf tests the value at s.i, at a leaf of walk's paths: a Reference,
// against a patient (see member).
func (s *scanner) leaf(depth int) { s.reference(depth) }

func (s *scanner) fail() { s.bad = true; s.i = len(s.data) }

func (s *scanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.data) {
		return 0
	}
	return s.data[s.i]
}

func (s *scanner) expect(c byte) bool {
	if s.peek() != c {
		s.fail()
		return false
	}
	s.i++
	return true
}

// str reads a string at s.i and returns its raw content (between the
// quotes) and whether it holds escapes.
func (s *scanner) str() (raw []byte, escaped bool) {
	if s.peek() != '"' {
		s.fail()
		return nil, false
	}
	end, esc := fhirjson.SkipString(s.data, s.i+1)
	if end < 0 {
		s.fail()
		return nil, false
	}
	raw = s.data[s.i+1 : end-1]
	s.i = end
	return raw, esc
}

// text reads a string value and decodes it.
func (s *scanner) text() (string, bool) {
	raw, esc := s.str()
	if s.bad {
		return "", false
	}
	if !esc {
		return string(raw), true
	}
	var out string
	if json.Unmarshal(s.data[s.i-len(raw)-2:s.i], &out) != nil {
		s.fail()
		return "", false
	}
	return out, true
}

// bytesText is text without a copy when the string has no escapes.
func (s *scanner) bytesText() ([]byte, bool) {
	raw, esc := s.str()
	if s.bad {
		return nil, false
	}
	if !esc {
		return raw, true
	}
	t, ok := s.decode(raw)
	return []byte(t), ok
}

func (s *scanner) decode(raw []byte) (string, bool) {
	var out string
	if json.Unmarshal(s.data[s.i-len(raw)-2:s.i], &out) != nil {
		s.fail()
		return "", false
	}
	return out, true
}

// skip reads any value, a value inside depth containers, checking that
// it is well-formed JSON.
func (s *scanner) skip(depth int) {
	end, err := fhirjson.SkipValue(s.data, s.i, depth)
	if err != nil {
		s.fail()
		return
	}
	s.i = end
}

// object reads an object at s.i, a value inside depth containers. For
// each key, visit is called with the key's raw bytes with s.i on its
// value; visit reads the value and returns true, or returns false and the
// value is skipped.
func (s *scanner) object(depth int, visit func(key []byte) bool) {
	if depth >= maxDepth || !s.expect('{') {
		s.fail()
		return
	}
	if s.peek() == '}' {
		s.i++
		return
	}
	for !s.bad {
		key, esc := s.str()
		if esc {
			// No FHIR element name needs an escape: refuse rather than
			// risk a key that decodes to one we look for.
			s.fail()
		}
		if !s.expect(':') {
			return
		}
		s.ws()
		if !visit(key) {
			s.skip(depth + 1)
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return
		default:
			s.fail()
		}
	}
}

// array reads an array at s.i, a value inside depth containers, calling
// elem with s.i on each element (a value inside depth+1 containers).
func (s *scanner) array(depth int, elem func()) {
	if depth >= maxDepth || !s.expect('[') {
		s.fail()
		return
	}
	if s.peek() == ']' {
		s.i++
		return
	}
	for !s.bad {
		elem()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return
		default:
			s.fail()
		}
	}
}

// end checks that only white space follows the top-level value.
func (s *scanner) end() bool {
	s.ws()
	return !s.bad && s.i == len(s.data)
}

// topLevel reads the resource's "resourceType" and "id" in a first pass;
// an "id" that is not a string is ErrJSON.
func topLevel(data []byte) (typ, id string, err error) {
	s := scanner{data: data}
	var seenType, seenID bool
	s.object(0, func(key []byte) bool {
		if foldsTo(key, "resourceType") || foldsTo(key, "id") {
			s.fail()
			return true
		}
		switch string(key) {
		case "resourceType":
			if seenType {
				s.fail()
			}
			seenType = true
			typ, _ = s.text()
			return true
		case "id":
			if seenID {
				s.fail()
			}
			seenID = true
			if s.peek() != '"' {
				// An id of another JSON type: a server may read it
				// (as a number's text, say) where this reads none.
				s.fail()
				return true
			}
			id, _ = s.text()
			return true
		}
		return false
	})
	if !s.end() || typ == "" {
		return "", "", ErrJSON
	}
	return typ, id, nil
}

// walk reads the value at s.i along n, calling leaf for each value that
// sits at a leaf of n. It rejects a key of n repeated in one object.
func (s *scanner) walk(n *node, depth int) {
	switch s.peek() {
	case '[':
		s.array(depth, func() { s.walk(n, depth+1) })
	case '{':
		if n.leaf {
			// The value is both tested and possibly walked further: test
			// it on a copy of the scanner, then walk.
			t := *s
			t.leaf(depth)
			if t.bad {
				s.fail()
				return
			}
			s.found, s.other = t.found, t.other
		}
		if len(n.names) == 0 && depth > 0 {
			s.skip(depth)
			return
		}
		var seen uint64
		s.object(depth, func(key []byte) bool {
			if depth == 0 && s.top(key) {
				return true
			}
			if depth == 0 && (string(key) == "contained" || foldsTo(key, "contained") || bytes.IndexByte(key, '\\') >= 0) {
				s.contained = true
			}
			for i, name := range n.names {
				if foldsTo(key, name) {
					s.fail()
					return true
				}
				if string(key) == name {
					if i < 64 {
						if seen&(1<<i) != 0 {
							s.fail()
							return true
						}
						seen |= 1 << i
					}
					s.walk(n.children[i], depth+1)
					return true
				}
			}
			return false
		})
	default:
		if n.leaf {
			s.leaf(depth)
			return
		}
		s.skip(depth)
	}
}

// top reads "resourceType" and "id" at the top level of a resource,
// refusing either twice. It returns false for other keys.
func (s *scanner) top(key []byte) bool {
	if foldsTo(key, "resourceType") || foldsTo(key, "id") {
		s.fail()
		return true
	}
	switch string(key) {
	case "resourceType":
		if s.seenTy {
			s.fail()
			return true
		}
		s.seenTy = true
		s.typ, _ = s.bytesText()
		return true
	case "id":
		if s.seenID {
			s.fail()
			return true
		}
		s.seenID = true
		if s.peek() == '"' {
			s.id, _ = s.bytesText()
			return true
		}
	}
	return false
}

// leadingType returns the resourceType of data when it is the first
// member, as it nearly always is, so that one pass can do.
func leadingType(data []byte) []byte {
	s := scanner{data: data}
	if !s.expect('{') {
		return nil
	}
	key, esc := s.str()
	if s.bad || esc || string(key) != "resourceType" || !s.expect(':') {
		return nil
	}
	typ, _ := s.bytesText()
	return typ
}

// foldsTo reports whether key is not name but equal to it under Unicode
// case folding (fhirjson.FoldsTo).
var foldsTo = fhirjson.FoldsTo
