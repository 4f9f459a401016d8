package search

import (
	"strings"
	"sync"
)

// leafKind is the FHIR type at the end of a path, as the evaluator reads
// it.
type leafKind uint8

const (
	lNone leafKind = iota
	lCoding
	lCodeableConcept
	lIdentifier
	lContactPoint
	lCode    // code: a token without a known system
	lId      // id
	lURI     // uri, url, canonical, oid, uuid read as a token or uri
	lString  // string, markdown
	lBoolean // boolean
	lHumanName
	lAddress
	lDate    // date, dateTime
	lInstant // instant: a point
	lPeriod
	lTiming
	lReference
	lCanonical // canonical or uri read as a reference
	lQuantity  // Quantity, Age, Duration, Count, Distance, ...
	lMoney
	lRange
	lNumber // decimal, integer, positiveInt, unsignedInt
)

// leafOf returns how the evaluator reads an element of fhirType for a
// parameter of kind k. A type it does not read is lNone, and the whole
// parameter is then ErrUnsupported (init builds no tree for it): leaving
// one of its paths out would make it find less, and :not or :missing
// then find more.
func leafOf(k kind, fhirType string) leafKind {
	switch fhirType {
	case "Coding":
		return lCoding
	case "CodeableConcept":
		return lCodeableConcept
	case "Identifier":
		return lIdentifier
	case "ContactPoint":
		return lContactPoint
	case "code":
		return lCode
	case "id":
		return lId
	case "uri", "url", "canonical", "oid", "uuid":
		if k == kReference {
			return lCanonical
		}
		return lURI
	case "string", "markdown":
		return lString
	case "boolean":
		return lBoolean
	case "HumanName":
		return lHumanName
	case "Address":
		return lAddress
	case "date", "dateTime":
		return lDate
	case "instant":
		return lInstant
	case "Period":
		return lPeriod
	case "Timing":
		return lTiming
	case "Reference":
		return lReference
	case "Quantity", "Age", "Duration", "Count", "Distance", "SimpleQuantity", "MoneyQuantity":
		return lQuantity
	case "Money":
		return lMoney
	case "Range":
		return lRange
	case "decimal", "integer", "positiveInt", "unsignedInt":
		return lNumber
	}
	return lNone
}

// node is one step of the element paths of a parameter. Children may
// share a name when their filters differ.
type node struct {
	name       string
	fkey, fval string // where(fkey='fval') on this element
	resolve    string // where(resolve() is resolve), on a Reference leaf
	leaf       leafKind
	children   []*node
}

// hasLeaf reports whether a path below n ends in one of kinds.
func (n *node) hasLeaf(kinds ...leafKind) bool {
	for _, k := range kinds {
		if n.leaf == k {
			return true
		}
	}
	for _, c := range n.children {
		if c.hasLeaf(kinds...) {
			return true
		}
	}
	return false
}

// hasLeaf reports whether one of d's paths ends in a k.
func (d def) hasLeaf(k leafKind) bool {
	for _, p := range d.paths {
		i := strings.LastIndexByte(p, ':')
		if leafOf(d.kind, p[i+1:]) == k {
			return true
		}
	}
	return false
}

// add adds a generated path ("a[k=v].b@Patient:Reference") below n.
func (n *node) add(k kind, path string) bool {
	i := strings.LastIndexByte(path, ':')
	if i < 0 {
		return false
	}
	leaf := leafOf(k, path[i+1:])
	if leaf == lNone {
		return false
	}
	path = path[:i]
	for path != "" {
		step, rest, _ := strings.Cut(path, ".")
		path = rest
		c := &node{}
		if j := strings.IndexByte(step, '@'); j >= 0 {
			step, c.resolve = step[:j], step[j+1:]
		}
		if j := strings.IndexByte(step, '['); j >= 0 {
			f := strings.TrimSuffix(step[j+1:], "]")
			step = step[:j]
			c.fkey, c.fval, _ = strings.Cut(f, "=")
		}
		c.name = step
		var next *node
		for _, x := range n.children {
			if x.name == c.name && x.fkey == c.fkey && x.fval == c.fval && x.resolve == c.resolve {
				next = x
			}
		}
		if next == nil {
			n.children = append(n.children, c)
			next = c
		}
		n = next
	}
	n.leaf = leaf
	return true
}

// trees: "Type?code" → the paths of the parameter (a nil *node when the
// evaluator cannot read one of them), each built the first time a search
// names it. A deployment names a few dozen of the 1,400 R4 parameters:
// built all at once, their trees were most of the heap the package kept
// alive, which every garbage collection of the process had to mark.
var trees sync.Map

// treeOf returns the tree of d, the definition of key ("Type?code"), or
// nil when the evaluator cannot read one of its paths. Calls from several
// goroutines get the same tree.
func treeOf(key string, d def) *node {
	if t, ok := trees.Load(key); ok {
		return t.(*node)
	}
	root := buildTree(d)
	t, _ := trees.LoadOrStore(key, root)
	return t.(*node)
}

// buildTree builds the tree of d's paths, or returns nil when the
// evaluator cannot read one of them.
func buildTree(d def) *node {
	root := &node{}
	for _, p := range d.paths {
		if !root.add(d.kind, p) {
			return nil
		}
	}
	return root
}
