package fhirjson

import (
	"errors"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays Scan reads: the
// body's top-level value counts as one level, each container inside it
// one more. A FHIR resource is far shallower (a Bundle entry's resource
// starts at level 4; a deeply nested QuestionnaireResponse needs a few
// dozen), while a limit keeps any input from costing more than one pass.
// encoding/json accepts up to 10000 levels; Scan answers ErrDepth past
// MaxDepth.
const MaxDepth = 256

var (
	// ErrSyntax is returned for a body that is not well-formed JSON, as
	// encoding/json's Valid decides it.
	ErrSyntax = errors.New("fhirjson: malformed JSON")
	// ErrDepth is returned for a body nested deeper than MaxDepth.
	ErrDepth = errors.New("fhirjson: JSON nested deeper than MaxDepth")
	// ErrUnreadable is returned for well-formed JSON whose parts the guard
	// reads are not what FHIR JSON has there, or could be read two ways:
	// see Scan and Resource.Bundle.
	ErrUnreadable = errors.New("fhirjson: JSON the guard cannot read")
)

// Span is the range data[Start:End] of the body scanned. A JSON value is
// never empty, so a zero Span means that the value is absent.
type Span struct{ Start, End int }

// Len returns the number of bytes in s.
func (s Span) Len() int { return s.End - s.Start }

// Of returns the bytes of s in data, the body scanned.
func (s Span) Of(data []byte) []byte { return data[s.Start:s.End:s.End] }

// Presence tells whether an object member is absent, null, or has a value.
type Presence uint8

const (
	// Absent is a member that is not in the object.
	Absent Presence = iota
	// Null is a member whose value is null.
	Null
	// Present is a member with a value other than null.
	Present
)

// Resource is what Scan read of a body.
type Resource struct {
	// Type is the top-level "resourceType": "" when absent or null.
	Type string

	bundle    Bundle
	bundleBad bool
}

// Bundle returns the Bundle that r is, with its entries. It fails with
// ErrUnreadable when r is not a Bundle or when the members of a Bundle
// that the guard reads are not what FHIR JSON has there:
//   - "type" must be a string (or null, read as "");
//   - "entry" must be an array (or null, read as no entries) of objects;
//   - in each entry, "resource" must be an object or null, and "search"
//     an object;
//   - in each resource, "resourceType" a string (or null, read as "");
//   - in "search", "mode" a string (or null, read as "").
//
// In the Bundle object, each entry, its resource and its search, a key
// the guard reads (resourceType, type, total, entry; resource, search;
// resourceType; mode) must not be given twice, and no other key may equal
// it under Unicode simple case folding ("Entry", "ſearch"): a client that
// decodes with last-wins or case-insensitive matching (encoding/json into
// a struct does both) would read another member than the one checked.
// "total" is not read, only kept track of.
func (r *Resource) Bundle() (*Bundle, error) {
	if r.Type != "Bundle" || r.bundleBad {
		return nil, ErrUnreadable
	}
	return &r.bundle, nil
}

// Bundle is a Bundle as Scan read it. Its entries may be dropped (Drop)
// and the Bundle written again without them (Rewrite).
type Bundle struct {
	// Type is Bundle.type: "searchset", "batch-response"..., or "" when
	// absent or null.
	Type string
	// Total is the value of "total", zero when absent.
	Total Span
	// Entries are the elements of "entry", in order.
	Entries []Entry

	data    []byte
	members int    // members of the Bundle object
	close   int    // where its closing brace is
	total   member // the "total" member
	entry   member // the "entry" member
	dropped int

	replaced []replacement // entries marked by Replace, in order
	inserts  []insertion   // by Insert, in order of at
}

// replacement is an entry marked by Replace.
type replacement struct {
	i      int // its index
	pieces [][]byte
}

// insertion is an entry marked by Insert.
type insertion struct {
	at  int // the index of the entry it goes before
	raw []byte
}

// member locates one member of the Bundle object, for Rewrite.
type member struct {
	found      bool
	index      int  // among the object's members
	start, end int  // from the key's opening quote to the value's end
	prevEnd    int  // the end of the previous member's value, -1 for none
	next       int  // the start of the next member's key, -1 for none
	value      Span // its value
}

// Entry is one element of a Bundle's "entry".
type Entry struct {
	// Span is the entry object, braces included.
	Span Span
	// Resource is the value of "resource" ("null" included), zero when
	// absent.
	Resource Span
	// ResourceType is the resource's "resourceType": "" when the
	// resource is absent or null, or when its resourceType is.
	ResourceType string
	// SearchMode is "search"."mode": "match", "include", "outcome", or
	// "" when search, or its mode, is absent or null.
	SearchMode string
	// ResourcePresence tells whether "resource" is absent, null or an
	// object.
	ResourcePresence Presence

	drop bool
}

// Scan reads body in one pass: it checks that body is well-formed JSON
// (ErrSyntax otherwise, accepting exactly what encoding/json's Valid
// accepts) nested no deeper than MaxDepth (ErrDepth), holding an object
// (ErrUnreadable otherwise). It reads the object's "resourceType", which
// must be a string or null, given once, and not beside another key that
// equals it under Unicode simple case folding (ErrUnreadable otherwise).
// When the object is a Bundle, it reads in the same pass what Resource's
// Bundle returns.
//
// Scan keeps no copy of body: the Spans it reports are ranges of body,
// which must not change while they are used. It allocates the Resource,
// the entries' slice (growing by doubling) and the strings it reports,
// shared between entries that repeat them: a handful of allocations
// whatever the number of JSON tokens in body.
func Scan(body []byte) (*Resource, error) { return ScanLimit(body, 0) }

// ErrTooManyEntries is returned by ScanLimit for a Bundle with more entries
// than it allows.
var ErrTooManyEntries = errors.New("fhirjson: too many Bundle entries")

// ScanLimit is Scan for a body whose Bundle entries are bounded: it stops
// with ErrTooManyEntries at the entry past maxEntries (0 for no bound), so
// that an oversized batch costs no more than that many entries. Entries
// are counted in any object's "entry" member the scanner reads, that is a
// Bundle's.
func ScanLimit(body []byte, maxEntries int) (*Resource, error) {
	r := &Resource{}
	if err := ScanInto(r, body, Options{MaxEntries: maxEntries}); err != nil {
		return nil, err
	}
	return r, nil
}

// Options are what ScanInto is told besides the body.
type Options struct {
	// MaxEntries bounds a Bundle's entries as ScanLimit's maxEntries
	// does; 0 for no bound.
	MaxEntries int
	// Visitor, when not nil, is told the members of each entry's
	// resource as they are read.
	Visitor Visitor
}

// A Visitor is told, as ScanInto reads a Bundle's entries, the members of
// each entry's resource (an object), so that a reader of those members
// need not read the resource's bytes again: Begin(n) before the resource
// of entry n (its index in Bundle.Entries), Member for each of its
// members in order, after the member's value was read and found
// well-formed, and End(n) after its closing brace. key is the span of the
// key's content, between its quotes, as it is in the body (escaped tells
// whether it holds a backslash), value the span of the value. What is read after
// a call may still be refused: only a scan that succeeds vouches for the
// bytes, and a Bundle that Resource.Bundle refuses is not one to read
// entries of.
type Visitor interface {
	Begin(n int)
	Member(key Span, escaped bool, value Span)
	End(n int)
}

// ScanInto is ScanLimit, with opt, into r: what r held is replaced, and
// the memory of its entries is reused, so that a caller that keeps a
// Resource between bodies (in a sync.Pool) allocates nothing for them.
// On error r holds nothing usable.
func ScanInto(r *Resource, body []byte, opt Options) error {
	r.reset()
	s := scanner{data: body, r: r, max: opt.MaxEntries, visit: opt.Visitor}
	i := skipSpace(body, 0)
	var err error
	if i < len(body) && body[i] == '{' {
		i, err = s.top(i)
	} else {
		s.topBad = true
		i, err = SkipValue(body, i, 0)
	}
	switch {
	case err != nil:
		return err
	case skipSpace(body, i) != len(body):
		return ErrSyntax
	case s.topBad:
		return ErrUnreadable
	}
	if r.Type != "Bundle" {
		typ := r.Type
		r.reset()
		r.Type = typ
	}
	r.bundle.Total = r.bundle.total.value
	return nil
}

// reset empties r, keeping the memory of its slices.
func (r *Resource) reset() {
	b := &r.bundle
	clear(b.replaced)
	clear(b.inserts)
	*r = Resource{bundle: Bundle{Entries: b.Entries[:0], replaced: b.replaced[:0], inserts: b.inserts[:0]}}
}

// scanner holds the state of one Scan.
type scanner struct {
	data   []byte
	r      *Resource
	topBad bool // the top level is unreadable (see Scan)

	max   int     // the most entries to keep; 0 for no bound (ScanLimit)
	visit Visitor // told each entry's resource's members, or nil

	// Strings read so far, so that 20 entries of type Observation share
	// one "Observation".
	seen  [8]string
	nseen int
}

// intern returns raw, string content without escapes, as a string,
// reusing a constant or one read before.
func (s *scanner) intern(raw []byte) string {
	switch string(raw) {
	case "Bundle":
		return "Bundle"
	case "OperationOutcome":
		return "OperationOutcome"
	case "searchset":
		return "searchset"
	case "batch-response":
		return "batch-response"
	case "transaction-response":
		return "transaction-response"
	case "history":
		return "history"
	case "match":
		return "match"
	case "include":
		return "include"
	case "outcome":
		return "outcome"
	}
	for _, t := range s.seen[:s.nseen] {
		if t == string(raw) {
			return t
		}
	}
	t := string(raw)
	s.seen[s.nseen%len(s.seen)] = t
	if s.nseen < len(s.seen) {
		s.nseen++
	}
	return t
}

// text reads the value at i, a value inside depth containers: a string,
// decoded as encoding/json decodes it, or null, read as "". ok is false
// for another value, which is read all the same.
func (s *scanner) text(i, depth int) (str string, ok bool, next int, err error) {
	data := s.data
	switch data[i] {
	case '"':
		end, esc := SkipString(data, i+1)
		if end < 0 {
			return "", false, end, ErrSyntax
		}
		raw := data[i+1 : end-1]
		if esc || !utf8.Valid(raw) {
			return unquote(raw), true, end, nil
		}
		return s.intern(raw), true, end, nil
	case 'n':
		end := skipLiteral(data, i)
		if end < 0 {
			return "", false, end, ErrSyntax
		}
		return "", true, end, nil
	}
	next, err = SkipValue(data, i, depth)
	return "", false, next, err
}

// object reads the object whose '{' is at i, a value inside depth
// containers. For each member it calls f with the span of the key's
// content (escaped tells whether it holds a backslash) and the index of
// the value; f reads the value and returns the index after it.
func (s *scanner) object(i, depth int, f func(key Span, escaped bool, i int) (int, error)) (int, error) {
	data := s.data
	if depth >= MaxDepth {
		return i, ErrDepth
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return i, ErrSyntax
		}
		end, esc := SkipString(data, i+1)
		if end < 0 {
			return i, ErrSyntax
		}
		key := Span{i + 1, end - 1}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return i, ErrSyntax
		}
		var err error
		v := skipSpace(data, i+1)
		if v >= len(data) {
			return v, ErrSyntax // truncated after the colon: no value to read
		}
		i, err = f(key, esc, v)
		if err != nil {
			return i, err
		}
		i = skipSpace(data, i)
		switch {
		case i >= len(data):
			return i, ErrSyntax
		case data[i] == '}':
			return i + 1, nil
		case data[i] != ',':
			return i, ErrSyntax
		}
		i = skipSpace(data, i+1)
	}
}

// top reads the body's object, whose '{' is at i.
func (s *scanner) top(i int) (int, error) {
	data := s.data
	b := &s.r.bundle
	b.data = data
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		b.close = i
		return i + 1, nil
	}
	var t topSeen
	prevEnd := -1
	for k := 0; ; k++ {
		if i >= len(data) || data[i] != '"' {
			return i, ErrSyntax
		}
		start := i
		end, esc := SkipString(data, i+1)
		if end < 0 {
			return i, ErrSyntax
		}
		key := data[i+1 : end-1]
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return i, ErrSyntax
		}
		i = skipSpace(data, i+1)
		if i >= len(data) {
			return i, ErrSyntax
		}
		valueStart := i
		var m *member
		var err error
		if m, i, err = s.topMember(key, esc, i, &t); err != nil {
			return i, err
		}
		valueEnd := i
		i = skipSpace(data, i)
		if i >= len(data) {
			return i, ErrSyntax
		}
		if m != nil {
			if m.found {
				s.r.bundleBad = true
			}
			*m = member{found: true, index: k, start: start, end: valueEnd,
				prevEnd: prevEnd, next: -1, value: Span{valueStart, valueEnd}}
			if data[i] == ',' {
				m.next = skipSpace(data, i+1)
			}
		}
		switch data[i] {
		case '}':
			b.members, b.close = k+1, i
			return i + 1, nil
		case ',':
			prevEnd = valueEnd
			i = skipSpace(data, i+1)
		default:
			return i, ErrSyntax
		}
	}
}

// topSeen is what top saw of the members it reads once.
type topSeen struct{ typ, bundleType bool }

// topMember reads the value at i of the top-level member key (escaped
// tells whether it holds a backslash) and returns the index after it, and
// for "total" and "entry" the member to locate for Rewrite.
func (s *scanner) topMember(key []byte, esc bool, i int, t *topSeen) (m *member, next int, err error) {
	data, b := s.data, &s.r.bundle
	switch {
	case s.topKey(key, esc, "resourceType"):
		var ok bool
		s.r.Type, ok, next, err = s.text(i, 1)
		s.topBad = s.topBad || !ok || t.typ
		t.typ = true
	case s.bundleKey(key, esc, "type"):
		var ok bool
		b.Type, ok, next, err = s.text(i, 1)
		s.r.bundleBad = s.r.bundleBad || !ok || t.bundleType
		t.bundleType = true
	case s.bundleKey(key, esc, "total"):
		m = &b.total
		next, err = SkipValue(data, i, 1)
	case s.bundleKey(key, esc, "entry"):
		m = &b.entry
		switch {
		case t.typ && s.r.Type != "Bundle":
			next, err = SkipValue(data, i, 1) // a List's entry, say
		case data[i] == '[':
			next, err = s.entries(i)
		case data[i] == 'n':
			if next = skipLiteral(data, i); next < 0 {
				err = ErrSyntax
			}
		default:
			s.r.bundleBad = true
			next, err = SkipValue(data, i, 1)
		}
	default:
		next, err = SkipValue(data, i, 1)
	}
	return m, next, err
}

// topKey reports whether key is name. A key that equals name only under
// case folding makes the body unreadable.
func (s *scanner) topKey(key []byte, escaped bool, name string) bool {
	exact, folded := keyMatch(key, escaped, name)
	s.topBad = s.topBad || folded
	return exact
}

// bundleKey is topKey for a key that only a Bundle's readers need.
func (s *scanner) bundleKey(key []byte, escaped bool, name string) bool {
	exact, folded := keyMatch(key, escaped, name)
	s.r.bundleBad = s.r.bundleBad || folded
	return exact
}

// entries reads the array of "entry", whose '[' is at i.
func (s *scanner) entries(i int) (int, error) {
	data := s.data
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i < len(data) && data[i] == '{' {
			i, err = s.entry(i)
		} else {
			s.r.bundleBad = true
			i, err = SkipValue(data, i, 2)
		}
		if err != nil {
			return i, err
		}
		i = skipSpace(data, i)
		switch {
		case i >= len(data):
			return i, ErrSyntax
		case data[i] == ']':
			return i + 1, nil
		case data[i] != ',':
			return i, ErrSyntax
		}
		i = skipSpace(data, i+1)
	}
}

// entry reads one entry object, whose '{' is at i, and appends it.
func (s *scanner) entry(i int) (int, error) {
	data := s.data
	e := Entry{Span: Span{Start: i}}
	var seenResource, seenSearch bool
	end, err := s.object(i, 2, func(k Span, esc bool, i int) (int, error) {
		key := k.Of(data)
		switch {
		case s.bundleKey(key, esc, "resource"):
			s.r.bundleBad = s.r.bundleBad || seenResource
			seenResource = true
			switch data[i] {
			case '{':
				e.ResourcePresence = Present
				end, err := s.resource(i, &e)
				e.Resource = Span{i, end}
				return end, err
			case 'n':
				e.ResourcePresence = Null
				end := skipLiteral(data, i)
				if end < 0 {
					return end, ErrSyntax
				}
				e.Resource = Span{i, end}
				return end, nil
			}
			s.r.bundleBad = true
		case s.bundleKey(key, esc, "search"):
			s.r.bundleBad = s.r.bundleBad || seenSearch
			seenSearch = true
			if data[i] == '{' {
				return s.search(i, &e)
			}
			s.r.bundleBad = true
		}
		return SkipValue(data, i, 3)
	})
	e.Span.End = end
	b := &s.r.bundle
	if s.max > 0 && len(b.Entries) >= s.max {
		return end, ErrTooManyEntries
	}
	if b.Entries == nil {
		b.Entries = make([]Entry, 0, 16)
	}
	b.Entries = append(b.Entries, e)
	return end, err
}

// resource reads an entry's resource, whose '{' is at i, telling the
// Visitor its members.
func (s *scanner) resource(i int, e *Entry) (int, error) {
	seen := false
	n := len(s.r.bundle.Entries)
	if s.visit != nil {
		s.visit.Begin(n)
	}
	end, err := s.object(i, 3, func(k Span, esc bool, i int) (end int, err error) {
		if !s.bundleKey(k.Of(s.data), esc, "resourceType") {
			end, err = SkipValue(s.data, i, 4)
		} else {
			var t string
			var ok bool
			t, ok, end, err = s.text(i, 4)
			e.ResourceType = t
			s.r.bundleBad = s.r.bundleBad || !ok || seen
			seen = true
		}
		if err == nil && s.visit != nil {
			s.visit.Member(k, esc, Span{i, end})
		}
		return end, err
	})
	if err == nil && s.visit != nil {
		s.visit.End(n)
	}
	return end, err
}

// search reads an entry's search, whose '{' is at i.
func (s *scanner) search(i int, e *Entry) (int, error) {
	seen := false
	return s.object(i, 3, func(k Span, esc bool, i int) (int, error) {
		if !s.bundleKey(k.Of(s.data), esc, "mode") {
			return SkipValue(s.data, i, 4)
		}
		t, ok, end, err := s.text(i, 4)
		e.SearchMode = t
		s.r.bundleBad = s.r.bundleBad || !ok || seen
		seen = true
		return end, err
	})
}
