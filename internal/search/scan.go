package search

import "github.com/smartguard/smartguard/internal/fhirjson"

// Resources are read with fhirjson's Cursor, as package compartment reads
// them: values that no path enters are skipped by its validating lexer,
// so that a resource that is not JSON is refused whole; the members a
// path enters are read one by one, a key that matters given twice in one
// object or spelled in another case ("Code", "ſystem", which
// encoding/json would take for it) is an error, and keys with escapes are
// refused.

// maxDepth bounds the containers the evaluator opens on a parameter's
// paths: a value on a path inside maxDepth containers may not be a
// container itself, and deeper input is ErrJSON, so that no reading
// recurses further. Values off the paths are skipped up to
// fhirjson.MaxDepth, as package compartment reads them.
const maxDepth = 128

// cursor is a fhirjson.Cursor that opens containers up to maxDepth.
type cursor struct{ fhirjson.Cursor }

// At returns a cursor on the same data at offset off. It fills in its
// named result: cursor{c.Cursor.At(off)} compiles to copies through
// overlapping stores, which made reading a Quantity's members 10% slower.
func (c *cursor) At(off int) (t cursor) {
	t.Cursor = c.Cursor.At(off)
	return t
}

// OpenObject is fhirjson's, failing at depth maxDepth.
func (c *cursor) OpenObject(depth int) bool {
	if depth >= maxDepth {
		c.Fail()
		return false
	}
	return c.Cursor.OpenObject(depth)
}

// OpenArray is fhirjson's, failing at depth maxDepth.
func (c *cursor) OpenArray(depth int) bool {
	if depth >= maxDepth {
		c.Fail()
		return false
	}
	return c.Cursor.OpenArray(depth)
}

// TextFields reads the object at the cursor, inside depth containers,
// as Fields does (a name given twice, or a key folding to one of names,
// fails), and sets vals[i] and oks[i] to the text of the member names[i]
// as Text reads it (ok false when absent or not a string). Each value is
// read once: Fields then At and Text would read the strings twice.
func (c *cursor) TextFields(depth int, names []string, vals [][]byte, oks []bool) {
	clear(vals)
	clear(oks)
	if !c.OpenObject(depth) {
		return
	}
	var seen uint64
	for first := true; ; first = false {
		key, ok := c.NextKey(first)
		if !ok {
			return
		}
		hit := -1
		for i, name := range names {
			if string(key) == name {
				if seen&(1<<i) != 0 {
					c.Fail()
					return
				}
				seen |= 1 << i
				hit = i
				break
			}
			if fhirjson.FoldsTo(key, name) {
				c.Fail()
				return
			}
		}
		if hit < 0 {
			c.Skip(depth + 1)
			continue
		}
		vals[hit], oks[hit] = c.Text(depth + 1)
		if c.Failed() {
			oks[hit] = false
			return
		}
	}
}

// Fields is fhirjson's, failing at depth maxDepth.
func (c *cursor) Fields(depth int, names []string, offs []int) {
	if depth >= maxDepth {
		for i := range offs {
			offs[i] = -1
		}
		c.Fail()
		return
	}
	c.Cursor.Fields(depth, names, offs)
}

// resourceType reads the top-level "resourceType" of a resource, refusing
// it twice or in another case, and checks the whole value is well formed
// as Skip reads it.
func resourceType(data []byte) ([]byte, bool) {
	s := fhirjson.NewCursor(data)
	var offs [1]int
	s.Fields(0, namesResourceType, offs[:])
	if !s.End() || offs[0] < 0 {
		return nil, false
	}
	t := s.At(offs[0])
	typ, ok := t.Text(1)
	return typ, ok && !t.Failed() && len(typ) > 0
}

var namesResourceType = []string{"resourceType"}

// Matcher is Match for a resource read by a caller that already holds its
// members' spans: fhirjson.ScanInto reads a Bundle's entries and tells
// each member of each resource (fhirjson.Visitor), and a Matcher fed
// those members answers as Match would of the resource's bytes, without
// reading again the values no path enters. It reads the same paths with
// the same rules, on the same bytes: only the pass over the other values
// is saved, which the caller's scan of the body made (Match would find
// them well-formed too, and less nested).
//
// A Matcher is reused resource after resource: Reset, then Member for
// each member in order, then Result. Once sized for its Query, it does not
// allocate.
type Matcher struct {
	q      *Query
	ms     []matcher
	seen   []uint64 // per parameter: the children of its root met
	typeOK bool     // the first "resourceType" is q's type
	typed  bool     // a "resourceType" was met
	bad    bool
	data   []byte
	keys   fhirjson.KeyFilter // the top-level names the parameters read
	keysOf *Query             // the Query keys was made for
}

// Reset starts the evaluation of q over a resource in data, the body
// whose spans Member is given. Reset(nil, nil) lets go of the last Query
// and data, keeping the Matcher's memory.
func (m *Matcher) Reset(q *Query, data []byte) {
	m.q, m.data, m.typeOK, m.typed, m.bad = q, data, false, false, q == nil || len(q.params) == 0
	clear(m.ms)
	m.ms, m.seen = m.ms[:0], m.seen[:0]
	if q == nil {
		return
	}
	if m.keysOf != q {
		names := []string{"resourceType"}
		for i := range q.params {
			if r := q.params[i].root; r != nil {
				for _, c := range r.children {
					names = append(names, c.name)
				}
			}
		}
		m.keys.Set(names...)
		m.keysOf = q
	}
	for i := range q.params {
		m.ms = append(m.ms, matcher{cp: &q.params[i]})
		m.seen = append(m.seen, 0)
	}
}

// Member reads the resource's member key (its content as in the data;
// escaped when it holds a backslash), whose value is at value in the data.
// The members come in their order in the resource, each once.
func (m *Matcher) Member(key []byte, escaped bool, value fhirjson.Span) {
	if m.bad {
		return
	}
	if escaped {
		m.bad = true // as Cursor.NextKey refuses it
		return
	}
	if !m.keys.May(key) {
		return // none of the names the parameters read, nor folds to one
	}
	s := cursor{fhirjson.NewCursor(m.data)}
	if string(key) == "resourceType" && !m.typed {
		t := s.At(value.Start)
		typ, ok := t.Text(1)
		m.typeOK, m.typed = ok && !t.Failed() && string(typ) == m.q.typ, true
	}
	for i := range m.ms {
		t := s.At(value.Start)
		m.ms[i].member(&t, m.ms[i].cp.root, 0, key, &m.seen[i])
		if t.Failed() {
			m.bad = true
			return
		}
	}
}

// Result reports whether the resource, its members all given, matches
// every parameter of the Query: what Match reports without an error.
func (m *Matcher) Result() bool {
	if m.bad || !m.typeOK {
		return false
	}
	for i := range m.ms {
		if !m.ms[i].seenType || !m.ms[i].result() {
			return false
		}
	}
	return true
}
