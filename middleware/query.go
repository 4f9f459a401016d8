package middleware

import (
	"strings"

	"github.com/smartguard/smartguard/internal/fhirrest"
)

// mayNameParam reports whether some parameter of the raw URL query q could
// be named name (ASCII) once decoded as url.ParseQuery decodes it: its
// name, a part of q between '&' separators up to the first '=', holds no
// ';' and unescapes to name ('+' a space, "%XX" a byte). It allocates
// nothing, so that a query is parsed (URL.Query) only when it may hold
// name; false means that URL.Query has no value for name.
func mayNameParam(q, name string) bool {
	if !strings.Contains(q, name) && strings.IndexByte(q, '%') < 0 && strings.IndexByte(name, ' ') < 0 {
		// No escape, no space to read from a "+", and name nowhere
		// as it is: no part is name.
		return false
	}
	for q != "" {
		var part string
		part, q, _ = strings.Cut(q, "&")
		if strings.IndexByte(part, ';') >= 0 {
			continue
		}
		k, _, _ := strings.Cut(part, "=")
		if (fhirrest.RawParam{Raw: k}).ValueIs(name) {
			return true
		}
	}
	return false
}
