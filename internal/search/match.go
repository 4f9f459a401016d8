package search

import (
	"bytes"
	"strings"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// Match reports whether resource (FHIR R4 JSON) matches every parameter
// of q. A resource of another type does not match. The error is ErrJSON
// for a resource that cannot be read.
//
// As in R4 search (search.html#combining), the parameters are ANDed and
// the comma-separated values of one parameter ORed; a parameter matches
// when any element its paths reach matches one of its values, a
// repeating element matching when one of its items does (FHIRPath
// navigates into every item).
func (q *Query) Match(resource []byte) (bool, error) {
	if typ := fhirjson.LeadingType(resource); string(typ) != q.typ {
		t, ok := resourceType(resource)
		if !ok {
			return false, ErrJSON
		}
		if string(t) != q.typ {
			return false, nil
		}
	}
	for i := range q.params {
		m := matcher{cp: &q.params[i]}
		s := cursor{fhirjson.NewCursor(resource)}
		m.walkValue(&s, m.cp.root, 0)
		if !s.End() || !m.seenType {
			return false, ErrJSON
		}
		if !m.result() {
			return false, nil
		}
	}
	return true, nil
}

// matcher evaluates one parameter over one resource.
type matcher struct {
	cp       *cparam
	found    bool // some value matches
	present  bool // some value exists (for :missing)
	seenType bool // the top-level resourceType was read
}

// result is the parameter's outcome once the whole resource is read.
func (m *matcher) result() bool {
	switch m.cp.mod {
	case mMissing: // R4: :missing=true finds the resources without a value
		return m.present != m.cp.missing
	case mNot:
		// R4: the negation applies to the set, and includes resources
		// without a value.
		return !m.found
	}
	return m.found
}

// walkValue reads the value at s along n. An array is read item by item
// against the same n: FHIRPath paths do not name array levels. A node can
// end one path and be on the way of another, so that a leaf there reads a
// copy of s and the walk goes on into the object.
func (m *matcher) walkValue(s *cursor, n *node, depth int) {
	switch s.Peek() {
	case '[':
		if !s.OpenArray(depth) {
			return
		}
		for first := true; s.NextElem(first); first = false {
			m.walkValue(s, n, depth+1)
		}
	case '{':
		if n.fkey != "" && !filterOK(s, n, depth) {
			s.Skip(depth)
			return
		}
		if n.leaf != lNone {
			if len(n.children) == 0 {
				m.leaf(s, n, depth)
				return
			}
			t := *s
			m.leaf(&t, n, depth)
			if t.Failed() {
				s.Fail()
				return
			}
		}
		m.walkObject(s, n, depth)
	case 0:
		s.Fail()
	default:
		if n.leaf != lNone && n.fkey == "" {
			m.leaf(s, n, depth)
			return
		}
		s.Skip(depth)
	}
}

// walkObject reads the members of the object at s, going down the
// children of n they name and skipping the others. A member that a child
// names, given twice or spelled in another case, fails the whole resource
// (see scan.go): JSON parsers differ on which of two duplicates wins, and
// encoding/json takes "Code" for "code", so the server behind the guard
// could read another value than the one matched here. The same holds for
// the top-level resourceType, which decides the type the scope is for.
func (m *matcher) walkObject(s *cursor, n *node, depth int) {
	if !s.OpenObject(depth) {
		return
	}
	var seen uint64 // a bit per child of n read: the first 64; generated nodes have 4 at most
	for first := true; ; first = false {
		key, ok := s.NextKey(first)
		if !ok {
			return
		}
		if !m.member(s, n, depth, key, &seen) {
			s.Skip(depth + 1)
		}
	}
}

// member reads, with s on its value, the member key of an object inside
// depth containers along n: true when it was read (or refused, failing
// s), false when no path enters it, its value for the caller to skip.
// seen marks the children of n already met in the object.
func (m *matcher) member(s *cursor, n *node, depth int, key []byte, seen *uint64) bool {
	if depth == 0 && fhirjson.MayFold(key, "resourceType") {
		if string(key) == "resourceType" {
			if m.seenType {
				s.Fail()
				return true
			}
			m.seenType = true
			s.Skip(1)
			return true
		}
		if fhirjson.FoldsTo(key, "resourceType") {
			s.Fail()
			return true
		}
	}
	hit := -1
	for i, c := range n.children {
		if !fhirjson.MayFold(key, c.name) {
			continue // most keys, at the cost of a comparison
		}
		if string(key) == c.name {
			if hit < 0 {
				hit = i
			}
			continue
		}
		if fhirjson.FoldsTo(key, c.name) {
			s.Fail()
			return true
		}
	}
	if hit < 0 {
		return false
	}
	if hit < 64 {
		if *seen&(1<<hit) != 0 {
			s.Fail()
			return true
		}
		*seen |= 1 << hit
	}
	// Children sharing the name (with other filters) read copies.
	var last *node
	for _, c := range n.children[hit:] {
		if c.name != n.children[hit].name {
			continue
		}
		if last != nil {
			t := *s
			m.walkValue(&t, last, depth+1)
			if t.Failed() {
				s.Fail()
				return true
			}
		}
		last = c
	}
	m.walkValue(s, last, depth+1)
	return true
}

// filterOK reports whether the object at s has the string member
// n.fkey equal to n.fval (FHIRPath where(k='v')): the generated paths use
// it for the parameters that R4 defines on one kind of item only, such
// as relatedArtifact.where(type='composed-of').
func filterOK(s *cursor, n *node, depth int) bool {
	t := *s
	var offs [1]int
	names := [1]string{n.fkey}
	t.Fields(depth, names[:], offs[:])
	if t.Failed() {
		s.Fail()
		return false
	}
	if offs[0] < 0 {
		return false
	}
	v := t.At(offs[0])
	b, ok := v.Text(depth + 1)
	return ok && string(b) == n.fval
}

// Member names of the data types the leaves read.
var (
	namesCoding     = []string{"system", "code", "display"}
	namesConcept    = []string{"coding", "text"}
	namesIdentifier = []string{"system", "value", "type"}
	namesValue      = []string{"value"}
	namesHumanName  = []string{"family", "given", "prefix", "suffix", "text"}
	namesAddress    = []string{"line", "city", "district", "state", "postalCode", "country", "text"}
	namesPeriod     = []string{"start", "end"}
	namesTiming     = []string{"event", "repeat"}
	namesRepeat     = []string{"boundsPeriod"}
	namesReference  = []string{"reference", "identifier", "type"}
	namesQuantity   = []string{"value", "system", "code", "unit"}
	namesMoney      = []string{"value", "currency"}
	namesRange      = []string{"low", "high"}
)

// leaf reads the value at s, which sits at the end of a path of type
// n.leaf, and tests it.
func (m *matcher) leaf(s *cursor, n *node, depth int) {
	if s.Peek() == 'n' { // null: no value
		s.Skip(depth)
		return
	}
	switch m.cp.kind {
	case kToken:
		m.token(s, n, depth)
	case kString:
		m.str(s, n, depth)
	case kDate:
		m.date(s, n, depth)
	case kReference:
		m.reference(s, n, depth)
	case kUri:
		m.uri(s, depth)
	case kNumber, kQuantity:
		m.quantity(s, n, depth)
	default:
		s.Skip(depth)
	}
}

// value returns the string at offset off of s's data, if there is one.
func value(s *cursor, off, depth int) ([]byte, bool) {
	if off < 0 {
		return nil, false
	}
	t := s.At(off)
	b, ok := t.Text(depth)
	if t.Failed() {
		s.Fail()
		return nil, false
	}
	return b, ok
}

// --- token
//
// R4 search.html#token. A token value is [code], [system]|[code],
// |[code] or [system]|. [code] matches a Coding.code or Identifier.value
// in any system, [system]|[code] needs both, |[code] a code without a
// system, [system]| any code of the system. Codes compare exactly, with
// case, as R4 has it unless the code system says otherwise; on a string
// element, which has no code system, case is ignored. :not finds the
// resources with no matching value, :text searches the texts that
// describe the code (CodeableConcept.text, Coding.display,
// Identifier.type.text) as strings, and :of-type an Identifier by its
// type and value.

// token tests the token-typed element at s.
func (m *matcher) token(s *cursor, n *node, depth int) {
	switch n.leaf {
	case lCoding:
		m.coding(s, depth)
	case lCodeableConcept:
		m.concept(s, depth)
	case lIdentifier:
		m.identifier(s, depth)
	case lContactPoint:
		var offs [1]int
		s.Fields(depth, namesValue, offs[:])
		if v, ok := value(s, offs[0], depth+1); ok {
			m.present = true
			m.plain(v, false)
		}
	case lBoolean:
		var v []byte
		switch s.Peek() {
		case 't':
			v = []byte("true")
		case 'f':
			v = []byte("false")
		default:
			s.Skip(depth)
			return
		}
		s.Skip(depth)
		if !s.Failed() {
			m.present = true
			m.plain(v, false)
		}
	case lCode, lId, lURI, lString:
		if v, ok := s.Text(depth); ok {
			m.present = true
			m.plain(v, n.leaf == lString)
		}
	default:
		s.Skip(depth)
	}
}

// plain tests a value without a system (code, id, uri, boolean, string,
// ContactPoint.value): only "code" alternatives can match it; string is
// matched without case (R4).
func (m *matcher) plain(v []byte, fold bool) {
	if m.cp.mod == mText || m.cp.mod == mOfType {
		return
	}
	for i := range m.cp.tokens {
		a := &m.cp.tokens[i]
		if a.piped {
			continue
		}
		if string(v) == a.code || fold && bytes.EqualFold(v, []byte(a.code)) {
			m.found = true
		}
	}
}

// sysCode tests a Coding's or an Identifier's system and code (value).
func (m *matcher) sysCode(system []byte, hasSystem bool, code []byte, hasCode bool) {
	for i := range m.cp.tokens {
		a := &m.cp.tokens[i]
		switch {
		case !a.piped: // [code]
			if hasCode && string(code) == a.code {
				m.found = true
			}
		case a.noSystem: // |[code]
			if !hasSystem && hasCode && string(code) == a.code {
				m.found = true
			}
		case a.anyCode: // [system]|
			if hasSystem && string(system) == a.system {
				m.found = true
			}
		default: // [system]|[code]
			if hasSystem && hasCode && string(system) == a.system && string(code) == a.code {
				m.found = true
			}
		}
	}
}

// text tests the text of a code (:text) as a string search.
func (m *matcher) text(v []byte) {
	for _, want := range m.cp.strs {
		if foldHasPrefix(v, want) {
			m.found = true
		}
	}
}

// coding tests a Coding: its system and code, or with :text its display.
func (m *matcher) coding(s *cursor, depth int) {
	if s.Peek() != '{' {
		s.Skip(depth)
		return
	}
	var vals [3][]byte // system, code, display
	var oks [3]bool
	s.TextFields(depth, namesCoding, vals[:], oks[:])
	if s.Failed() {
		return
	}
	m.present = true
	if m.cp.mod == mText {
		if oks[2] {
			m.text(vals[2])
		}
		return
	}
	if m.cp.mod != mOfType {
		m.sysCode(vals[0], oks[0], vals[1], oks[1])
	}
}

// concept tests a CodeableConcept: each of its codings, and with :text
// its text as well as their displays.
func (m *matcher) concept(s *cursor, depth int) {
	if s.Peek() != '{' {
		s.Skip(depth)
		return
	}
	var offs [2]int
	s.Fields(depth, namesConcept, offs[:])
	m.present = true
	if m.cp.mod == mText {
		if t, ok := value(s, offs[1], depth+1); ok {
			m.text(t)
		}
	}
	if offs[0] >= 0 {
		t := s.At(offs[0])
		if t.Peek() == '[' && t.OpenArray(depth+1) {
			for first := true; t.NextElem(first); first = false {
				m.coding(&t, depth+2)
			}
		} else {
			t.Skip(depth + 1)
		}
		if t.Failed() {
			s.Fail()
		}
	}
}

// identifier tests an Identifier: its system and value, with :text its
// type.text, with :of-type its type codings and value.
func (m *matcher) identifier(s *cursor, depth int) {
	if s.Peek() != '{' {
		s.Skip(depth)
		return
	}
	var offs [3]int
	s.Fields(depth, namesIdentifier, offs[:])
	system, hasSystem := value(s, offs[0], depth+1)
	v, hasValue := value(s, offs[1], depth+1)
	m.present = true
	switch m.cp.mod {
	case mText, mOfType:
		if offs[2] < 0 {
			return
		}
		t := s.At(offs[2])
		if t.Peek() != '{' {
			t.Skip(depth + 1)
			return
		}
		var co [2]int
		t.Fields(depth+1, namesConcept, co[:])
		if m.cp.mod == mText {
			if txt, ok := value(&t, co[1], depth+2); ok {
				m.text(txt)
			}
		} else if co[0] >= 0 && hasValue {
			m.ofType(&t, co[0], v, depth+2)
		}
		if t.Failed() {
			s.Fail()
		}
	default:
		m.sysCode(system, hasSystem, v, hasValue)
	}
}

// ofType tests the codings of Identifier.type (at off) with the
// identifier's value against system|code|value alternatives (R4
// :of-type: the type's system and code, and the value, all three exact).
func (m *matcher) ofType(s *cursor, off int, v []byte, depth int) {
	t := s.At(off)
	if t.Peek() != '[' || !t.OpenArray(depth) {
		t.Skip(depth)
		return
	}
	for first := true; t.NextElem(first); first = false {
		if t.Peek() != '{' {
			t.Skip(depth + 1)
			continue
		}
		var offs [3]int
		t.Fields(depth+1, namesCoding, offs[:])
		system, ok1 := value(&t, offs[0], depth+2)
		code, ok2 := value(&t, offs[1], depth+2)
		for i := range m.cp.tokens {
			a := &m.cp.tokens[i]
			if ok1 && ok2 && string(system) == a.system && string(code) == a.code && string(v) == a.value {
				m.found = true
			}
		}
	}
	if t.Failed() {
		s.Fail()
	}
}

// --- string
//
// R4 search.html#string: a string matches when it starts with the search
// value, both compared without case and accents (see text.go); :exact
// wants the whole string, case and accents included; :contains the value
// anywhere in it. A HumanName or an Address matches when one of its
// string parts does (R4: family, given, prefix, suffix, text; line, city,
// district, state, postalCode, country, text).

// str tests the string, HumanName or Address at s.
func (m *matcher) str(s *cursor, n *node, depth int) {
	switch n.leaf {
	case lString:
		if v, ok := s.Text(depth); ok {
			m.present = true
			m.strMatch(v)
		}
	case lHumanName:
		var offs [5]int
		m.strFields(s, namesHumanName, offs[:], depth)
	case lAddress:
		var offs [7]int
		m.strFields(s, namesAddress, offs[:], depth)
	default:
		s.Skip(depth)
	}
}

// strFields tests every string, or string in an array, among the members
// names of the object at s.
func (m *matcher) strFields(s *cursor, names []string, offs []int, depth int) {
	if s.Peek() != '{' {
		s.Skip(depth)
		return
	}
	s.Fields(depth, names, offs)
	for _, off := range offs {
		if off < 0 {
			continue
		}
		t := s.At(off)
		if t.Peek() == '[' {
			if t.OpenArray(depth + 1) {
				for first := true; t.NextElem(first); first = false {
					if v, ok := t.Text(depth + 2); ok {
						m.present = true
						m.strMatch(v)
					}
				}
			}
		} else if v, ok := t.Text(depth + 1); ok {
			m.present = true
			m.strMatch(v)
		}
		if t.Failed() {
			s.Fail()
			return
		}
	}
}

// strMatch tests one string of the resource against the search values,
// which Compile folded already, unless :exact.
func (m *matcher) strMatch(v []byte) {
	for _, want := range m.cp.strs {
		switch m.cp.mod {
		case mExact:
			if string(v) == want {
				m.found = true
			}
		case mContains:
			if foldContains(v, want) {
				m.found = true
			}
		default:
			if foldHasPrefix(v, want) {
				m.found = true
			}
		}
	}
}

// --- date

// date tests the date, dateTime, instant, Period or Timing at s: each is
// read as the range of time it covers (see parseDate), then compared.
func (m *matcher) date(s *cursor, n *node, depth int) {
	var r timeRange
	var ok bool
	switch n.leaf {
	case lDate, lInstant:
		var v []byte
		if v, ok = s.Text(depth); !ok {
			return
		}
		if r, ok = parseDate(v, n.leaf == lInstant); !ok {
			s.Fail() // not a date: the resource is not valid FHIR
			return
		}
	case lPeriod:
		r, ok = period(s, depth)
	case lTiming:
		r, ok = timing(s, depth)
	default:
		s.Skip(depth)
		return
	}
	if !ok || s.Failed() {
		return
	}
	m.present = true
	for _, a := range m.cp.dates {
		if a.matches(r) {
			m.found = true
		}
	}
}

// period reads a Period: a missing start is before any date, a missing
// end after any (R4 datatypes: a Period without a start has an unknown
// start; without an end, it is ongoing). The end's range is taken whole,
// so that the Period to 2013-01-21 runs to the end of that day.
func period(s *cursor, depth int) (timeRange, bool) {
	if s.Peek() != '{' {
		s.Skip(depth)
		return timeRange{}, false
	}
	var offs [2]int
	s.Fields(depth, namesPeriod, offs[:])
	r := timeRange{minTime, maxTime}
	start, ok1 := value(s, offs[0], depth+1)
	end, ok2 := value(s, offs[1], depth+1)
	if ok1 {
		x, ok := parseDate(start, false)
		if !ok {
			s.Fail()
			return r, false
		}
		r.lo = x.lo
	}
	if ok2 {
		x, ok := parseDate(end, false)
		if !ok {
			s.Fail()
			return r, false
		}
		r.hi = x.hi
	}
	return r, ok1 || ok2
}

// timing reads the outer limits of a Timing (R4: scheduling details are
// ignored): its events and repeat.boundsPeriod.
func timing(s *cursor, depth int) (timeRange, bool) {
	if s.Peek() != '{' {
		s.Skip(depth)
		return timeRange{}, false
	}
	var offs [2]int
	s.Fields(depth, namesTiming, offs[:])
	r := timeRange{maxTime, minTime}
	found := false
	if offs[0] >= 0 {
		t := s.At(offs[0])
		if t.Peek() == '[' && t.OpenArray(depth+1) {
			for first := true; t.NextElem(first); first = false {
				v, ok := t.Text(depth + 2)
				if !ok {
					continue
				}
				x, ok := parseDate(v, false)
				if !ok {
					s.Fail()
					return r, false
				}
				r.lo, r.hi = min(r.lo, x.lo), max(r.hi, x.hi)
				found = true
			}
		}
		if t.Failed() {
			s.Fail()
			return r, false
		}
	}
	if offs[1] >= 0 {
		t := s.At(offs[1])
		if t.Peek() == '{' {
			var ro [1]int
			t.Fields(depth+1, namesRepeat, ro[:])
			if ro[0] >= 0 {
				u := t.At(ro[0])
				if x, ok := period(&u, depth+2); ok {
					r.lo, r.hi = min(r.lo, x.lo), max(r.hi, x.hi)
					found = true
				}
				if u.Failed() {
					s.Fail()
				}
			}
		}
		if t.Failed() {
			s.Fail()
		}
	}
	return r, found
}

// --- reference
//
// R4 search.html#reference. A value is [type]/[id], a bare [id] when the
// parameter can point at one type only, an absolute URL, or for a
// canonical a url with its |version. A reference on this server may be
// written relative ("Patient/1") or absolute under Options.Base
// ("https://ehr.example/fhir/Patient/1"); both are the same resource and
// compare by type and id. A search value without a version matches the
// references to any version of the resource; one with a version only
// that version. :identifier tests Reference.identifier, :[type] fixes
// the type of a bare id.

// reference tests the Reference or canonical at s.
func (m *matcher) reference(s *cursor, n *node, depth int) {
	if n.leaf == lCanonical {
		if v, ok := s.Text(depth); ok {
			m.present = true
			m.canonical(v)
		}
		return
	}
	if n.leaf != lReference || s.Peek() != '{' {
		s.Skip(depth)
		return
	}
	var offs [3]int
	s.Fields(depth, namesReference, offs[:])
	ref, hasRef := value(s, offs[0], depth+1)
	var rt, rid, rver []byte
	local := false
	if hasRef {
		rt, rid, rver, local = m.localRef(ref)
	}
	if n.resolve != "" {
		// where(resolve() is X): the reference must name an X. The
		// type element stands in only without a reference: with one,
		// the reference's own type decides, so that a reference to a
		// Group carrying "type": "Patient" is not taken for a patient.
		typ := rt
		if !local && hasRef {
			typ = absType(ref)
		}
		if string(typ) != n.resolve {
			if typField, ok := value(s, offs[2], depth+1); !ok || hasRef || string(typField) != n.resolve {
				return
			}
		}
	}
	if m.cp.mod == mIdentifier {
		if offs[1] >= 0 {
			t := s.At(offs[1])
			m.identifier(&t, depth+1)
			if t.Failed() {
				s.Fail()
			}
		}
		return
	}
	if !hasRef {
		return
	}
	if len(ref) > 0 && ref[0] == '#' {
		// A contained resource has no id on the server: no search
		// value names it.
		return
	}
	m.present = true
	for i := range m.cp.refs {
		a := &m.cp.refs[i]
		if a.typ != "" {
			if local && string(rt) == a.typ && string(rid) == a.id && (a.version == "" || string(rver) == a.version) {
				m.found = true
			}
			continue
		}
		if !local && (string(ref) == a.abs || string(stripHistory(ref)) == a.abs) {
			m.found = true
		}
	}
}

// localRef splits a reference to a resource on this server ("Type/id",
// "Type/id/_history/v", or either under the base) into its parts. A
// conditional reference ("Patient?identifier=..."), a fragment, a URN or
// an absolute URL elsewhere is not local: ok is false, and only an
// absolute search value can match it.
func (m *matcher) localRef(ref []byte) (typ, id, version []byte, ok bool) {
	if bytes.IndexByte(ref, '?') >= 0 || bytes.IndexByte(ref, '#') >= 0 {
		return nil, nil, nil, false
	}
	if m.cp.base != "" && len(ref) > len(m.cp.base) && string(ref[:len(m.cp.base)]) == m.cp.base && ref[len(m.cp.base)] == '/' {
		ref = ref[len(m.cp.base)+1:]
	}
	if bytes.IndexByte(ref, ':') >= 0 {
		return nil, nil, nil, false
	}
	if i := bytes.Index(ref, []byte("/_history/")); i >= 0 {
		ref, version = ref[:i], ref[i+len("/_history/"):]
	}
	i := bytes.IndexByte(ref, '/')
	if i <= 0 || i == len(ref)-1 || bytes.IndexByte(ref[i+1:], '/') >= 0 {
		return nil, nil, nil, false
	}
	return ref[:i], ref[i+1:], version, true
}

// absType returns the type segment of an absolute reference
// ("https://x/fhir/Patient/1" → "Patient").
func absType(ref []byte) []byte {
	ref = stripHistory(ref)
	i := bytes.LastIndexByte(ref, '/')
	if i <= 0 {
		return nil
	}
	j := bytes.LastIndexByte(ref[:i], '/')
	return ref[j+1 : i]
}

// stripHistory drops the "/_history/v" of a versioned reference, which
// an unversioned search value matches.
func stripHistory(ref []byte) []byte {
	if i := bytes.Index(ref, []byte("/_history/")); i >= 0 {
		return ref[:i]
	}
	return ref
}

// canonical tests a canonical ("url|version") or uri element of a
// reference parameter. As for references, a search value without a
// version matches every version of the url.
func (m *matcher) canonical(v []byte) {
	url, ver, _ := bytes.Cut(v, []byte("|"))
	for i := range m.cp.refs {
		a := &m.cp.refs[i]
		if a.abs == "" {
			continue
		}
		if string(url) == a.abs && (a.canonVersion == "" || string(ver) == a.canonVersion) {
			m.found = true
		}
	}
}

// --- uri

// uri tests a uri, url or canonical element of a uri parameter (R4
// search.html#uri): equal, or with :below starting with the search value
// (the search value is a parent path), with :above a prefix of it.
func (m *matcher) uri(s *cursor, depth int) {
	v, ok := s.Text(depth)
	if !ok {
		return
	}
	m.present = true
	for _, want := range m.cp.uris {
		switch {
		case string(v) == want:
			m.found = true
		case strings.HasPrefix(want, "urn:"):
			// R4: :above and :below apply to URLs, not URNs.
		case m.cp.mod == mBelow && bytes.HasPrefix(v, []byte(want)):
			m.found = true
		case m.cp.mod == mAbove && strings.HasPrefix(want, string(v)):
			m.found = true
		}
	}
}

// --- number and quantity

// quantity reads the number, Quantity, Money or Range at s and tests it
// against the alternatives of a number or quantity parameter.
func (m *matcher) quantity(s *cursor, n *node, depth int) {
	var r numRange
	var sys, code, unit []byte
	var hasSys, hasCode, hasUnit, ok bool
	switch n.leaf {
	case lNumber:
		if c := s.Peek(); c != '-' && (c < '0' || c > '9') {
			s.Skip(depth)
			return
		}
		d, _, ok := parseDecimal(s.Number())
		if !ok {
			s.Fail()
			return
		}
		r = numRange{lo: d, hi: d, hasLo: true, hasHi: true}
	case lQuantity, lMoney:
		if s.Peek() != '{' {
			s.Skip(depth)
			return
		}
		if r, sys, code, unit, hasSys, hasCode, hasUnit, ok = readQuantity(s, n.leaf == lMoney, depth); !ok {
			return
		}
	case lRange:
		if r, sys, code, unit, hasSys, hasCode, hasUnit, ok = readRange(s, depth); !ok {
			return
		}
	default:
		s.Skip(depth)
		return
	}
	if s.Failed() {
		return
	}
	m.present = true
	if m.cp.kind == kNumber {
		for i := range m.cp.nums {
			if m.cp.nums[i].matches(&r) {
				m.found = true
			}
		}
		return
	}
	for i := range m.cp.qtys {
		if a := &m.cp.qtys[i]; a.unitMatches(sys, code, unit, hasSys, hasCode, hasUnit) && a.n.matches(&r) {
			m.found = true
		}
	}
}

// unitMatches tests a quantity's unit against the unit of a (R4
// search.html#quantity: [prefix][number]|[system]|[code]). A unit in the
// search value is compared exactly, without UCUM conversion:
// "5.4|http://unitsofmeasure.org|mg" does not find 0.0054 g. R4 lets a
// server convert; not converting finds less, which for a scope grants
// less, never more. "[number]||[code]" matches the code or the unit text
// in any system; a search value without a unit matches any unit.
func (a *qtyAlt) unitMatches(sys, code, unit []byte, hasSys, hasCode, hasUnit bool) bool {
	switch {
	case !a.hasUnit:
		return true
	case a.unitAny:
		return hasCode && string(code) == a.code || hasUnit && string(unit) == a.code
	}
	return hasSys && hasCode && string(sys) == a.system && string(code) == a.code
}

// readRange reads a Range: low.value as the lower bound, high.value as
// the upper one, a missing bound open (R4 datatypes: "If the low element
// is missing, the low boundary is not known"). ok is false with neither
// bound, or when the bounds carry different units: a unit is tested
// against both, so they must agree. A value that is not an object is
// skipped.
func readRange(s *cursor, depth int) (r numRange, sys, code, unit []byte, hasSys, hasCode, hasUnit, ok bool) {
	if s.Peek() != '{' {
		s.Skip(depth)
		return
	}
	var offs [2]int
	s.Fields(depth, namesRange, offs[:])
	for i, off := range offs {
		if off < 0 {
			continue
		}
		t := s.At(off)
		if t.Peek() != '{' {
			continue
		}
		q, s1, c1, u1, hs, hc, hu, ok := readQuantity(&t, false, depth+1)
		if t.Failed() {
			s.Fail()
			return r, sys, code, unit, hasSys, hasCode, hasUnit, false
		}
		if !ok {
			continue
		}
		if i == 0 {
			r.lo, r.hasLo = q.lo, true
		} else {
			r.hi, r.hasHi = q.hi, true
		}
		if hasSys || hasCode || hasUnit {
			// Both bounds must carry the unit tested: keep the
			// first and require the second to agree.
			if !bytes.Equal(sys, s1) || !bytes.Equal(code, c1) || !bytes.Equal(unit, u1) {
				return r, sys, code, unit, hasSys, hasCode, hasUnit, false
			}
		}
		sys, code, unit, hasSys, hasCode, hasUnit = s1, c1, u1, hs, hc, hu
	}
	return r, sys, code, unit, hasSys, hasCode, hasUnit, r.hasLo || r.hasHi
}

// iso4217 is the system of Money.currency.
const iso4217 = "urn:iso:std:iso:4217"

// readQuantity reads a Quantity (or a Money: currency as its code, in
// ISO 4217). ok is false without a value.
func readQuantity(s *cursor, money bool, depth int) (r numRange, sys, code, unit []byte, hasSys, hasCode, hasUnit, ok bool) {
	var offs [4]int
	if money {
		s.Fields(depth, namesMoney, offs[:2])
		code, hasCode = value(s, offs[1], depth+1)
		sys, hasSys = []byte(iso4217), hasCode
	} else {
		s.Fields(depth, namesQuantity, offs[:])
		sys, hasSys = value(s, offs[1], depth+1)
		code, hasCode = value(s, offs[2], depth+1)
		unit, hasUnit = value(s, offs[3], depth+1)
	}
	if offs[0] < 0 || s.Failed() {
		return r, sys, code, unit, hasSys, hasCode, hasUnit, false
	}
	t := s.At(offs[0])
	if c := t.Peek(); c != '-' && (c < '0' || c > '9') {
		return r, sys, code, unit, hasSys, hasCode, hasUnit, false
	}
	d, _, ok := parseDecimal(t.Number())
	if !ok {
		s.Fail()
		return r, sys, code, unit, hasSys, hasCode, hasUnit, false
	}
	return numRange{lo: d, hi: d, hasLo: true, hasHi: true}, sys, code, unit, hasSys, hasCode, hasUnit, true
}
