// Package fhirjson reads what the response guard needs from a FHIR JSON
// body in one pass over its bytes, without decoding it: that the body is
// well-formed JSON, its resourceType and, for a Bundle, its type, total
// and, for each entry, where the entry and its resource are, the
// resource's type and the entry's search mode. A Bundle can then be
// written again without some of its entries by splicing bytes.
//
// It replaces four rounds of encoding/json decoding: [Scan] accepts
// exactly the JSON that encoding/json's Valid accepts, nested up to
// [MaxDepth] levels, refuses what the guard could read otherwise than a
// client (a key it reads given twice, or another key equal to it under
// case folding), and allocates a few objects per body whatever its number
// of JSON tokens. [Bundle.WriteRewrite] sends a filtered Bundle without
// copying it.
//
// [Members] reads named members of one object (a bundle entry, its
// request) in the same way, refusing keys that two decoders could read
// differently, and [DecodeString] decodes a string member as
// encoding/json would.
//
// [Cursor] is the lexical layer for readers that follow paths into a
// resource (internal/compartment, internal/search): it reads values one by
// one, objects and arrays with an iterator, validating what it reads and
// skips, refusing keys with escapes and nesting past [MaxDepth].
//
// # Use
//
//	r, err := fhirjson.Scan(body)
//	if err != nil || r.Type == "" {
//		// not FHIR JSON: the body cannot be checked
//	}
//	b, err := r.Bundle() // ErrUnreadable when r is not a Bundle the guard can read
//	for i, e := range b.Entries {
//		if e.ResourcePresence == fhirjson.Present && !allowed(e.ResourceType, e.Resource.Of(body)) {
//			b.Drop(i)
//		}
//	}
//	out, err := b.Rewrite(fhirjson.NoTotal, nil) // body itself when nothing was dropped
//	// or, without a copy: b.WriteRewrite(w, fhirjson.NoTotal, nil)
//
// # Nesting
//
// Every reader in this package, and those built on [Cursor]
// (internal/compartment, internal/search), refuses input nested deeper than
// [MaxDepth] with an error: none recurses on the
// input's structure without a bound, so no body can exhaust the stack.
package fhirjson
