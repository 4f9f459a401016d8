package compartment

import "github.com/smartguard/smartguard/internal/fhirjson"

// Others reports whether the resource in data, of type typ, refers on one
// of its patient compartment paths to a Patient other than
// Patient/patientID, or to something that could resolve to one (see
// mayBeOther): the check for a resource that travels inside one the
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

// Check is MemberOfContains for a resource read by a caller that already
// holds its members' spans: fhirjson.ScanInto reads a Bundle's entries
// and tells each member of each resource (fhirjson.Visitor), and a Check
// fed those members answers as MemberOfContains would of the resource's
// bytes, without reading again the values off the compartment's paths.
// It reads the same paths with the same rules, on the same bytes: only
// the pass over the other values is saved, which the caller's scan of the
// body made (MemberOfContains would find them well-formed too, and less
// nested: the body's scan bounds their nesting from the body's top).
//
// A Check is reused resource after resource: Reset, then Member for each
// member in order, then Result. It does not allocate.
type Check struct {
	s     scanner
	typ   string
	root  *node
	known bool
	seen  uint64
	pid   string // the patientID given, of which s.patientID is readable's
	types typeMemo
	keys  fhirjson.KeyFilter // the top-level names member reads
}

// Reset starts the check of a resource of type typ (not "Patient", which
// MemberOf reads by id) in data, the body whose spans Member is given, for
// Patient/patientID, accepting absolute references as MemberOf does under
// base. Reset(nil, "", "", "") lets go of the last data, keeping what the
// Check remembers of types.
func (c *Check) Reset(data []byte, typ, patientID, base string) {
	if typ != c.typ || c.root == nil {
		root := refTrees[typ]
		c.typ, c.root, c.known = typ, root, root != nil
		if root == nil {
			c.root = &noPaths
		}
		c.keys.Set(append([]string{"resourceType", "id", "contained"}, c.root.names...)...)
	}
	if patientID != c.pid || c.s.patientID == "" {
		c.pid, c.s.patientID = patientID, readable(patientID)
	}
	c.seen = 0
	c.s = scanner{Cursor: fhirjson.NewCursor(data), patientID: c.s.patientID, base: base, types: &c.types}
}

// Member reads the resource's member key (its content as in the data;
// escaped when it holds a backslash), whose value is at value in the data.
// The members come in their order in the resource, each once.
func (c *Check) Member(key []byte, escaped bool, value fhirjson.Span) {
	if c.s.Failed() {
		return
	}
	if escaped {
		c.s.Fail() // as Cursor.NextKey refuses it
		return
	}
	if !c.keys.May(key) {
		return // none of the names member reads, nor folds to one
	}
	c.s.Cursor = c.s.At(value.Start)
	c.s.member(c.root, 0, key, &c.seen)
}

// Result returns what MemberOfContains returns for the resource, its
// members all given.
func (c *Check) Result() (ok, contains bool, err error) {
	if c.s.Failed() || string(c.s.typ) != c.typ {
		return false, false, ErrJSON
	}
	return c.s.found && c.s.patientID != "" && c.known, c.s.contained, nil
}
