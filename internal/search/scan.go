package search

import (
	"encoding/json"
	"github.com/smartguard/smartguard/internal/fhirjson"
)

// maxDepth bounds the nesting of a resource: deeper input is ErrJSON, and
// no reading recurses further.
const maxDepth = 128

// scanner reads JSON without building values, the way package compartment
// does: values that no path enters are skipped by fhirjson's validating
// lexer, so that a resource that is not JSON is refused whole; the members a path enters are read one by one, a key
// that matters given twice in one object or spelled in another case
// ("Code", "ſystem", which encoding/json would take for it) is an error,
// and keys with escapes are refused.
type scanner struct {
	data []byte
	i    int
	bad  bool
}

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
// quotes) and whether it holds escapes. Escapes are checked only when a
// string is decoded (text); here only the closing quote matters.
func (s *scanner) str() (raw []byte, escaped bool) {
	if s.peek() != '"' {
		s.fail()
		return nil, false
	}
	d := s.data
	start := s.i + 1
	for j := start; j < len(d); j++ {
		for j < len(d) && !inString[d[j]] {
			j++
		}
		if j >= len(d) {
			break
		}
		switch d[j] {
		case '"':
			s.i = j + 1
			return d[start:j], escaped
		case '\\':
			escaped = true
			j++
		}
	}
	s.fail()
	return nil, false
}

// text reads a string value: its bytes, decoded when it has escapes (the
// only case that allocates). ok is false, without failing, when the value
// is not a string; it is then skipped.
func (s *scanner) text(depth int) (b []byte, ok bool) {
	if s.peek() != '"' {
		s.skip(depth)
		return nil, false
	}
	start := s.i
	raw, esc := s.str()
	if s.bad {
		return nil, false
	}
	if !esc {
		return raw, true
	}
	var out string
	if json.Unmarshal(s.data[start:s.i], &out) != nil {
		s.fail()
		return nil, false
	}
	return []byte(out), true
}

// inString marks the bytes str stops at.
var inString [256]bool

func init() { inString['"'], inString['\\'] = true, true }

// skip reads any value, checking that it is well-formed JSON (with
// fhirjson's validating lexer, which internal/compartment uses too): a
// resource the search does not read all of is still refused whole when it
// is not JSON.
func (s *scanner) skip(depth int) {
	s.ws()
	end, err := fhirjson.SkipValue(s.data, s.i, depth)
	if err != nil {
		s.fail()
		return
	}
	s.i = end
}

// number reads a number and returns its bytes.
func (s *scanner) number() []byte {
	s.ws()
	start := s.i
	for s.i < len(s.data) {
		c := s.data[s.i]
		if '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	if s.i == start {
		s.fail()
	}
	return s.data[start:s.i]
}

// Objects and arrays are read with an iterator: open, then next until it
// returns false. next leaves s.i on the member's value (objects) or the
// element (arrays); the caller reads or skips it.

// open reads '{' or '['; it fails past maxDepth.
func (s *scanner) open(c byte, depth int) bool {
	if depth >= maxDepth || !s.expect(c) {
		s.fail()
		return false
	}
	return true
}

// nextKey moves to the next member of an object: it returns the key, with
// s.i on the value, or ok false at the closing '}'. first is true for the
// first call.
func (s *scanner) nextKey(first bool) (key []byte, ok bool) {
	switch s.peek() {
	case '}':
		s.i++
		return nil, false
	case ',':
		if first {
			s.fail()
			return nil, false
		}
		s.i++
	default:
		if !first {
			s.fail()
			return nil, false
		}
	}
	key, esc := s.str()
	if esc {
		// No FHIR element name needs an escape: refuse rather than risk
		// a key that decodes to one we look for.
		s.fail()
	}
	if !s.expect(':') {
		return nil, false
	}
	return key, !s.bad
}

// nextElem moves to the next element of an array, or returns false at ']'.
func (s *scanner) nextElem(first bool) bool {
	switch s.peek() {
	case ']':
		s.i++
		return false
	case ',':
		if first {
			s.fail()
			return false
		}
		s.i++
	default:
		if !first {
			s.fail()
			return false
		}
	}
	return !s.bad && s.peek() != 0
}

// end checks that only white space follows the top-level value.
func (s *scanner) end() bool {
	s.ws()
	return !s.bad && s.i == len(s.data)
}

// fields reads the object at s.i and records in offs, for each of names,
// the offset of its value (-1 when absent). A name given twice, or a key
// that folds to one of names without being it, is an error.
func (s *scanner) fields(depth int, names []string, offs []int) {
	for i := range offs {
		offs[i] = -1
	}
	if !s.open('{', depth) {
		return
	}
	for first := true; ; first = false {
		key, ok := s.nextKey(first)
		if !ok {
			return
		}
		for i, name := range names {
			if string(key) == name {
				if offs[i] >= 0 {
					s.fail()
					return
				}
				s.ws()
				offs[i] = s.i
				break
			}
			if foldsTo(key, name) {
				s.fail()
				return
			}
		}
		s.skip(depth + 1)
	}
}

// at returns a scanner on the value at offset off of the same data.
func (s *scanner) at(off int) scanner { return scanner{data: s.data, i: off} }

// leadingType returns the resourceType of data when it is the first
// member, as it nearly always is.
func leadingType(data []byte) []byte {
	s := scanner{data: data}
	if !s.expect('{') {
		return nil
	}
	key, esc := s.str()
	if s.bad || esc || string(key) != "resourceType" || !s.expect(':') {
		return nil
	}
	typ, ok := s.text(1)
	if !ok {
		return nil
	}
	return typ
}

// resourceType reads the top-level "resourceType" of a resource, refusing
// it twice or in another case, and checks the whole value is well formed
// as skip reads it.
func resourceType(data []byte) ([]byte, bool) {
	s := scanner{data: data}
	var offs [1]int
	s.fields(0, namesResourceType, offs[:])
	if !s.end() || offs[0] < 0 {
		return nil, false
	}
	t := s.at(offs[0])
	typ, ok := t.text(1)
	return typ, ok && !t.bad && len(typ) > 0
}

var namesResourceType = []string{"resourceType"}

// foldsTo reports whether key is not name but equal to it under Unicode
// case folding (fhirjson.FoldsTo).
var foldsTo = fhirjson.FoldsTo
