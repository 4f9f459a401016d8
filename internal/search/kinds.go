package search

// kind is a search parameter type.
type kind uint8

const (
	kNumber kind = iota + 1
	kDate
	kString
	kToken
	kReference
	kQuantity
	kUri
	kComposite
	kSpecial
)

// def is a generated parameter definition; see data/README.md.
type def struct {
	kind        kind
	target      string
	paths       []string
	unsupported string
}
