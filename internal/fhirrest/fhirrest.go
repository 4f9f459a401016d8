// Package fhirrest classifies FHIR REST requests: which interaction, on
// which resource type and id, with which search parameters.
package fhirrest

import (
	"net/url"
	"strings"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/scope"
)

// Error is a request the classifier refuses: Status 400 (malformed), 404
// (no such FHIR endpoint) or 405 (method not allowed there).
type Error struct {
	Status int
	Msg    string
}

// Error returns the message with the package prefix.
func (e *Error) Error() string { return "fhirrest: " + e.Msg }

var (
	errMalformed   = &Error{Status: 400, Msg: "malformed FHIR request path"}
	errNotFound    = &Error{Status: 404, Msg: "no such FHIR endpoint"}
	errUnknownType = &Error{Status: 404, Msg: "unknown resource type"}
	errBadID       = &Error{Status: 400, Msg: "malformed resource id"}
	errMethod      = &Error{Status: 405, Msg: "method not allowed for this FHIR endpoint"}
	errCondition   = &Error{Status: 400, Msg: "conditional request without search parameters"}
	errQuery       = &Error{Status: 400, Msg: "malformed query string"}
)

// compartments are the R4 compartment types a compartment search may name.
var compartments = map[string]bool{
	"Patient": true, "Encounter": true, "RelatedPerson": true, "Practitioner": true, "Device": true,
}

// Rel returns path relative to the base path basePath (no trailing "/"):
// "" for the base itself, else what follows "basePath/". ok is false when
// path is outside the base.
func Rel(basePath, path string) (rel string, ok bool) {
	rest, ok := strings.CutPrefix(path, basePath)
	if !ok {
		return "", false
	}
	if rest == "" || rest == "/" {
		return "", true
	}
	if rest[0] != '/' {
		return "", false
	}
	return rest[1:], true
}

// Classify classifies a request with method and path rel relative to the
// FHIR base (see Rel; still escaped), raw query, and the If-None-Exist
// header. It does not allocate.
func Classify(method, rel, query, ifNoneExist string) (smartctx.Request, error) {
	r := smartctx.Request{Method: method, Query: query}
	if method == "HEAD" {
		method = "GET"
	}
	if !validQuery(query) {
		return r, errQuery
	}
	if strings.IndexByte(rel, '%') >= 0 || strings.IndexByte(rel, '\\') >= 0 {
		return r, errMalformed // no FHIR path segment needs escaping
	}
	var seg [5]string
	n := 0
	for rest := rel; rest != ""; {
		if n == len(seg) {
			return r, errNotFound
		}
		var s string
		s, rest, _ = strings.Cut(rest, "/")
		if s == "" || s == "." || s == ".." {
			return r, errMalformed
		}
		seg[n] = s
		n++
		if rest == "" && strings.HasSuffix(rel, "/") {
			return r, errMalformed
		}
	}
	switch n {
	case 0:
		switch method {
		case "GET":
			r.Interaction = scope.InteractionSearchSystem
		case "POST":
			r.Interaction = scope.InteractionBatch // or transaction: the body says
		default:
			return r, errMethod
		}
		return r, nil
	case 1:
		return one(r, method, seg[0], ifNoneExist)
	}
	typ := seg[0]
	if !scope.IsR4Type(typ) {
		return r, errUnknownType
	}
	r.Type = typ
	if n == 2 {
		switch s := seg[1]; {
		case s == "_search":
			return search(r, method, scope.InteractionSearchType)
		case s == "_history":
			return get(r, method, scope.InteractionHistoryType)
		case s[0] == '$':
			return operation(r, method, s)
		}
		if !smartctx.ValidID(seg[1]) {
			return r, errBadID
		}
		r.ID = seg[1]
		switch method {
		case "GET":
			r.Interaction = scope.InteractionRead
		case "PUT":
			r.Interaction = scope.InteractionUpdate
		case "PATCH":
			r.Interaction = scope.InteractionPatch
		case "DELETE":
			r.Interaction = scope.InteractionDelete
		default:
			return r, errMethod
		}
		return r, nil
	}
	if !smartctx.ValidID(seg[1]) {
		return r, errBadID
	}
	r.ID = seg[1]
	switch third := seg[2]; {
	case third == "_history":
		switch n {
		case 3:
			return get(r, method, scope.InteractionHistoryInstance)
		case 4:
			if !smartctx.ValidID(seg[3]) {
				return r, errBadID
			}
			r.VersionID = seg[3]
			return get(r, method, scope.InteractionVRead)
		}
		return r, errNotFound
	case third[0] == '$':
		if n != 3 {
			return r, errNotFound
		}
		return operation(r, method, third)
	case compartments[typ] && (third == "*" || scope.IsR4Type(third)):
		if n == 4 && seg[3] != "_search" || n > 4 {
			return r, errNotFound
		}
		r.CompartmentType, r.CompartmentID = typ, r.ID
		r.Type, r.ID = third, ""
		if n == 4 {
			return search(r, method, scope.InteractionSearchType)
		}
		return get(r, method, scope.InteractionSearchType)
	case scope.IsR4Type(third) || third == "*":
		return r, errNotFound // not a compartment
	}
	return r, errUnknownType
}

// one classifies a one-segment path.
func one(r smartctx.Request, method, s, ifNoneExist string) (smartctx.Request, error) {
	switch {
	case s == "metadata":
		return get(r, method, scope.InteractionCapabilities)
	case s == "_history":
		return get(r, method, scope.InteractionHistorySystem)
	case s == "_search":
		return search(r, method, scope.InteractionSearchSystem)
	case s[0] == '$':
		return operation(r, method, s)
	case !scope.IsR4Type(s):
		return r, errUnknownType
	}
	r.Type = s
	switch method {
	case "GET":
		r.Interaction = scope.InteractionSearchType
	case "POST":
		r.Interaction = scope.InteractionCreate
		if ifNoneExist != "" {
			if !validQuery(ifNoneExist) {
				return r, errQuery
			}
			r.Conditional, r.Query = true, ifNoneExist
		}
	case "PUT", "PATCH", "DELETE":
		switch method {
		case "PUT":
			r.Interaction = scope.InteractionUpdate
		case "PATCH":
			r.Interaction = scope.InteractionPatch
		default:
			r.Interaction = scope.InteractionDelete
		}
		if r.Query == "" {
			return r, errCondition
		}
		r.Conditional = true
	default:
		return r, errMethod
	}
	return r, nil
}

func get(r smartctx.Request, method string, i scope.Interaction) (smartctx.Request, error) {
	if method != "GET" {
		return r, errMethod
	}
	r.Interaction = i
	return r, nil
}

// search is POST [path]/_search.
func search(r smartctx.Request, method string, i scope.Interaction) (smartctx.Request, error) {
	if method != "POST" {
		return r, errMethod
	}
	r.Interaction = i
	return r, nil
}

func operation(r smartctx.Request, method, name string) (smartctx.Request, error) {
	if method != "GET" && method != "POST" {
		return r, errMethod
	}
	if len(name) < 2 || len(name) > 64 {
		return r, errNotFound
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return r, errNotFound
		}
	}
	r.Interaction, r.Operation = scope.InteractionOperation, name
	return r, nil
}

// validQuery checks that a raw query is printable ASCII without "#" or
// ";" and that its percent-escapes are well formed.
func validQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '%':
			if i+2 >= len(q) || !ishex(q[i+1]) || !ishex(q[i+2]) {
				return false
			}
		case c < 0x21 || c > 0x7e || c == '#' || c == ';':
			// ";" separates parameters for some servers: refuse it raw so
			// that nothing hides behind it.
			return false
		}
	}
	return true
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Param is one parameter of a query: its decoded name and value.
type Param struct{ Name, Value string }

// Params iterates over the parameters of raw query strings (URL query and
// form body) in order, decoding names and values; it allocates only for
// names or values that hold escapes. Empty parts ("a=1&&b=2") are skipped.
func Params(queries ...string) func(yield func(Param) bool) {
	return func(yield func(Param) bool) {
		for _, q := range queries {
			for q != "" {
				var part string
				part, q, _ = strings.Cut(q, "&")
				if part == "" {
					continue
				}
				k, v, _ := strings.Cut(part, "=")
				if !yield(Param{Name: unescape(k), Value: unescape(v)}) {
					return
				}
			}
		}
	}
}

func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	u, err := url.QueryUnescape(s)
	if err != nil {
		return "\x00" // never a valid name or value; validQuery prevents it
	}
	return u
}
