package compartment

import (
	"strings"

	"github.com/smartguard/smartguard/scope"
)

// MatchConstraint reports whether the resource in data matches every
// parameter of c, as a FHIR search with those parameters would. Supported:
// token parameters of R4 (category, code, status, ...) whose value is a
// code, a Coding or a CodeableConcept, with search values "code",
// "system|code", "|code" and "system|", and "," between alternatives.
// Anything else (modifiers, chains, other parameter types, identifiers,
// escaped values) does not match: an unsupported constraint grants
// nothing.
func MatchConstraint(data []byte, c scope.Constraint) (bool, error) {
	typ := leadingType(data) // one pass for the usual resource
	if len(typ) == 0 {
		t, _, err := topLevel(data)
		if err != nil {
			return false, err
		}
		typ = []byte(t)
	}
	if len(c) == 0 {
		return false, nil
	}
	for _, p := range c {
		ok, err := matchToken(data, typ, p.Name, p.Value)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// SupportedConstraint reports whether MatchConstraint can evaluate c on
// resources of type typ.
func SupportedConstraint(typ string, c scope.Constraint) bool {
	for _, p := range c {
		if tokenTrees[typ][p.Name] == nil || strings.IndexByte(p.Value, '\\') >= 0 || p.Value == "" {
			return false
		}
	}
	return len(c) > 0
}

func matchToken(data, typ []byte, name, value string) (bool, error) {
	root := tokenTrees[string(typ)][name]
	if root == nil || value == "" || strings.IndexByte(value, '\\') >= 0 {
		root = &noPaths // still read the whole resource, to refuse bad JSON
		value = ""
	}
	s := scanner{data: data, kind: tokenLeaf, value: value}
	s.walk(root, 0)
	if !s.end() || string(s.typ) != string(typ) {
		return false, ErrJSON
	}
	return s.found, nil
}

// token reads the value at a token parameter's path: a code, Coding or
// CodeableConcept that matches s.value sets s.found.
func (s *scanner) token(depth int) {
	switch s.peek() {
	case '"': // a code: its system is implied, only "code" can match
		code, _ := s.bytesText()
		for alt := range strings.SplitSeq(s.value, ",") {
			if strings.IndexByte(alt, '|') < 0 && alt == string(code) {
				s.found = true
			}
		}
	case '{':
		if codingMatches(s, depth, s.value) {
			s.found = true
		}
	default:
		s.skip(depth)
	}
}

// codingMatches reads a Coding or a CodeableConcept and tests its codings.
func codingMatches(s *scanner, depth int, value string) bool {
	var system, code []byte
	var hasSystem, hasCode, seenSystem, seenCode, seenCoding bool
	match := false
	s.object(depth, func(key []byte) bool {
		if foldsTo(key, "system") || foldsTo(key, "code") || foldsTo(key, "coding") {
			s.fail()
			return true
		}
		switch string(key) {
		case "system":
			if seenSystem {
				s.fail()
			}
			seenSystem = true
			if s.peek() == '"' {
				system, _ = s.bytesText()
				hasSystem = true
				return true
			}
		case "code":
			if seenCode {
				s.fail()
			}
			seenCode = true
			if s.peek() == '"' {
				code, _ = s.bytesText()
				hasCode = true
				return true
			}
		case "coding":
			if seenCoding {
				s.fail()
			}
			seenCoding = true
			if s.peek() == '[' {
				s.array(depth+1, func() {
					if s.peek() != '{' {
						s.skip(depth + 2)
					} else if codingMatches(s, depth+2, value) {
						match = true
					}
				})
				return true
			}
		}
		return false
	})
	if hasCode && tokenMatches(value, hasSystem, system, code) {
		match = true
	}
	return match && !s.bad
}

// tokenMatches applies FHIR token search semantics to one Coding.
func tokenMatches(value string, hasSystem bool, system, code []byte) bool {
	for alt := range strings.SplitSeq(value, ",") {
		sys, c, piped := strings.Cut(alt, "|")
		switch {
		case !piped:
			if alt == string(code) {
				return true
			}
		case sys == "" && c == "": // "|": nothing
		case sys == "":
			if !hasSystem && c == string(code) {
				return true
			}
		case c == "":
			if hasSystem && sys == string(system) {
				return true
			}
		default:
			if hasSystem && sys == string(system) && c == string(code) {
				return true
			}
		}
	}
	return false
}
