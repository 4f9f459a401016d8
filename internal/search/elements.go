package search

import "strings"

// IsToken reports whether code is an R4 token search parameter of typ (or
// of every type, such as "_tag").
func IsToken(typ, code string) bool {
	d, _, ok := lookup(typ, code)
	return ok && d.kind == kToken
}

// Elements returns the top-level elements of a resource of type typ that
// the search parameter code (without its modifier) reads, as a FHIR
// server's _elements names them: "category" for Observation?category,
// "meta" for _tag, "id" for _id. A path that ends on a choice element
// ("effectiveDateTime") gives both its JSON name and the element's base
// name ("effective"), as servers differ in which _elements takes; the
// base name is a guess (a name ending in the element's type name), so
// one that is not a choice ("servicePeriod") gives a name that is no
// element as well, which servers ignore. ok is false for a parameter the
// package does not know or does not evaluate.
func Elements(typ, code string) (elems []string, ok bool) {
	d, _, ok := lookup(typ, code)
	if !ok || d.unsupported != "" || len(d.paths) == 0 {
		return nil, false
	}
	for _, p := range d.paths {
		path, ftype, _ := strings.Cut(p, ":")
		path, _, _ = strings.Cut(path, "@")
		top, rest, _ := strings.Cut(path, ".")
		top, _, _ = strings.Cut(top, "[")
		elems = appendNew(elems, top)
		if rest == "" && ftype != "" && !strings.Contains(path, "[") {
			suffix := strings.ToUpper(ftype[:1]) + ftype[1:]
			if base, ok := strings.CutSuffix(top, suffix); ok && base != "" {
				elems = appendNew(elems, base)
			}
		}
	}
	return elems, true
}

func appendNew(list []string, s string) []string {
	for _, e := range list {
		if e == s {
			return list
		}
	}
	return append(list, s)
}
