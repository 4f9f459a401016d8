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

// compartments are the R4 compartment types a compartment search may name:
// the five that R4 defines (compartmentdefinition.html). No other type
// has a compartment, so [type]/[id]/[type] on any other is no endpoint.
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
//
// The paths are those of the FHIR R4 RESTful API (http.html), by number
// of segments:
//
//	[base]                                       root
//	[base]/(metadata|_history|_search|$op|[type])  one
//	[base]/[type]/(_search|_history|$op|[id])      two
//	[base]/[type]/[id]/(_history[/[vid]]|$op)      instance
//	[base]/[compartment]/[id]/[type][/_search]   compartmentSearch
//
// Anything else is refused: the guard must never pass a request it has
// not classified, since its scope checks rest on the classification.
func Classify(method, rel, query, ifNoneExist string) (smartctx.Request, error) {
	r := smartctx.Request{Method: method, Query: query}
	if method == "HEAD" {
		// HEAD asks what GET would answer, without the body: it needs the
		// same permission as GET. r.Method keeps "HEAD".
		method = "GET"
	}
	if !validQuery(query) {
		return r, errQuery
	}
	var buf [5]string
	n, err := segments(rel, &buf)
	if err != nil {
		return r, err
	}
	seg := buf[:n]
	switch n {
	case 0:
		return root(r, method)
	case 1:
		return one(r, method, seg[0], ifNoneExist)
	}
	// Two segments or more: the first is always a resource type (for a
	// compartment search, the compartment's type).
	if !scope.IsR4Type(seg[0]) {
		return r, errUnknownType
	}
	r.Type = seg[0]
	if n == 2 {
		return two(r, method, seg[1])
	}
	return instance(r, method, seg)
}

// segments splits rel at "/" into buf and returns how many segments it
// holds. It refuses what a proxy or the FHIR server behind the guard could
// read as another path than the one classified here:
//   - a "%" escape or a "\": no FHIR path segment needs escaping (types,
//     ids, operation names and _history are all unreserved characters), and
//     a server that decodes "%2F", or reads "\" as "/" as some do, would
//     serve another resource than the one the scopes were checked for;
//   - an empty, "." or ".." segment, and a trailing "/": servers merge or
//     drop these (RFC 3986 §5.2.4 removes dot-segments), so that
//     "Patient/1/../2" would be checked as one resource and served as
//     another.
//
// No FHIR R4 path has more than four segments. buf holds five, so that a
// path one segment too long still gets the error its first segments
// deserve (an unknown type, a malformed id); a longer one is refused as not
// found without reading the rest.
func segments(rel string, buf *[5]string) (int, error) {
	if strings.IndexByte(rel, '%') >= 0 || strings.IndexByte(rel, '\\') >= 0 {
		return 0, errMalformed // no FHIR path segment needs escaping
	}
	n := 0
	for rest := rel; rest != ""; {
		if n == len(buf) {
			return 0, errNotFound
		}
		var s string
		s, rest, _ = strings.Cut(rest, "/")
		if s == "" || s == "." || s == ".." {
			return 0, errMalformed
		}
		buf[n] = s
		n++
		// The last segment was cut from a trailing "/": "Patient/" names
		// no resource, and is not "Patient" either.
		if rest == "" && strings.HasSuffix(rel, "/") {
			return 0, errMalformed
		}
	}
	return n, nil
}

// root classifies the base itself: GET [base]?params is a search across
// all types (search-system), POST [base] a batch or transaction Bundle.
// Only the Bundle's type tells the two apart, so both are classified as
// batch here and the guard reads the body to tell.
func root(r smartctx.Request, method string) (smartctx.Request, error) {
	switch method {
	case "GET":
		r.Interaction = scope.InteractionSearchSystem
	case "POST":
		r.Interaction = scope.InteractionBatch // or transaction: the body says
	default:
		return r, errMethod
	}
	return r, nil
}

// two classifies [type]/s, where r.Type is set: s is "_search" (POST
// search-type), "_history" (history-type), "$op" (an operation on the
// type) or else an id, on which GET reads, PUT updates, PATCH patches and
// DELETE deletes. POST [type]/[id] is not FHIR (create is POST [type]).
func two(r smartctx.Request, method, s string) (smartctx.Request, error) {
	switch {
	case s == "_search":
		return search(r, method, scope.InteractionSearchType)
	case s == "_history":
		return get(r, method, scope.InteractionHistoryType)
	case s[0] == '$':
		return operation(r, method, s)
	}
	if !smartctx.ValidID(s) {
		return r, errBadID
	}
	r.ID = s
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

// instance classifies a path of three to five segments [type]/[id]/...,
// where r.Type is set: the history of the instance, one version of it
// (vread), an operation on it, or a search in its compartment.
func instance(r smartctx.Request, method string, seg []string) (smartctx.Request, error) {
	if !smartctx.ValidID(seg[1]) {
		return r, errBadID
	}
	r.ID = seg[1]
	switch third := seg[2]; {
	case third == "_history":
		switch len(seg) {
		case 3:
			return get(r, method, scope.InteractionHistoryInstance)
		case 4:
			// [type]/[id]/_history/[vid]: a version id has the syntax of
			// an id.
			if !smartctx.ValidID(seg[3]) {
				return r, errBadID
			}
			r.VersionID = seg[3]
			return get(r, method, scope.InteractionVRead)
		}
		return r, errNotFound
	case third[0] == '$':
		if len(seg) != 3 {
			return r, errNotFound
		}
		return operation(r, method, third)
	case compartments[r.Type] && (third == "*" || scope.IsR4Type(third)):
		return compartmentSearch(r, method, seg)
	case scope.IsR4Type(third) || third == "*":
		// A type after [type]/[id] is a compartment search, and only the
		// five compartment types have compartments: Observation/1/Patient
		// names nothing.
		return r, errNotFound // not a compartment
	}
	return r, errUnknownType
}

// compartmentSearch classifies [compartment]/[id]/[type] (GET) and
// [compartment]/[id]/[type]/_search (POST), where r holds the compartment
// as Type and ID: a search of [type] restricted to the resources in the
// compartment of that resource. [type] "*" searches every type in it. The
// request is moved to the searched type, the compartment to
// CompartmentType and CompartmentID, as the scope checks are on the type
// searched.
func compartmentSearch(r smartctx.Request, method string, seg []string) (smartctx.Request, error) {
	n := len(seg)
	if n == 4 && seg[3] != "_search" || n > 4 {
		return r, errNotFound
	}
	r.CompartmentType, r.CompartmentID = r.Type, r.ID
	r.Type, r.ID = seg[2], ""
	if n == 4 {
		return search(r, method, scope.InteractionSearchType)
	}
	return get(r, method, scope.InteractionSearchType)
}

// one classifies a one-segment path: metadata (capabilities), _history
// (history-system), _search (POST search-system), $op (an operation on
// the system) or a resource type, which GET searches and POST creates in.
// PUT, PATCH and DELETE on a type are FHIR's conditional update, patch and
// delete ([type]?[search]): the query selects the resource.
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
			// Conditional create: the If-None-Exist header holds a
			// search that decides whether to create, so it is checked
			// and classified as the request's query.
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
		// Without search criteria nothing selects the resource, and a
		// server could read the empty search as matching every resource
		// of the type: refuse it rather than let the server guess.
		if r.Query == "" {
			return r, errCondition
		}
		r.Conditional = true
	default:
		return r, errMethod
	}
	return r, nil
}

// get is an interaction that FHIR R4 defines for GET only (read, vread,
// history, capabilities, search by GET).
func get(r smartctx.Request, method string, i scope.Interaction) (smartctx.Request, error) {
	if method != "GET" {
		return r, errMethod
	}
	r.Interaction = i
	return r, nil
}

// search is POST [path]/_search. R4 (http.html#search) defines _search
// for POST only: a search by GET is on the path without it, and a GET on
// _search names nothing.
func search(r smartctx.Request, method string, i scope.Interaction) (smartctx.Request, error) {
	if method != "POST" {
		return r, errMethod
	}
	r.Interaction = i
	return r, nil
}

// operation is $name on the system, a type or an instance. FHIR allows
// GET for operations that change nothing and POST for all, so both pass
// here: which operations change nothing is in their definitions
// (affectsState), which the guard does not have; it is the server's to
// refuse a GET its operation does not allow. An operation name is refused
// as not found unless it is 1 to 63 letters, digits, "-", "_" or "."
// after the "$".
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
// ";" and that its percent-escapes are well formed. A space, a control
// or non-ASCII byte or a malformed escape is not valid in a query, and
// "#" ends it (RFC 3986 §3.4); servers and proxies repair or read such
// queries in different ways, and some split parameters at ";". The guard
// checks the scopes against the query as it reads it, so a query that
// the server could read otherwise is refused.
func validQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		if c := q[i]; !plainQueryByte[c] {
			if c != '%' || i+2 >= len(q) || !ishex(q[i+1]) || !ishex(q[i+2]) {
				return false
			}
		}
	}
	return true
}

// plainQueryByte holds the bytes a query may hold as they are: printable
// ASCII but "#", ";" (which separates parameters for some servers: it is
// refused raw so that nothing hides behind it) and "%", which must start
// an escape.
var plainQueryByte = func() (t [256]bool) {
	for c := 0x21; c <= 0x7e; c++ {
		t[c] = c != '#' && c != ';' && c != '%'
	}
	return t
}()

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Param is one parameter of a query: its decoded name and value.
type Param struct{ Name, Value string }

// Params iterates over the parameters of raw query strings (URL query and
// form body) in order, decoding names and values; it allocates only for
// names or values that hold escapes. Empty parts ("a=1&&b=2") are skipped.
// A POST _search may carry parameters in both the URL and the body, with
// the same meaning in either place (R4 http.html#search), so that the
// guard must read them all together.
func Params(queries ...string) func(yield func(Param) bool) {
	return func(yield func(Param) bool) {
		for _, q := range queries {
			for q != "" {
				var k, v string
				var ok bool
				if k, v, ok, q = nextParam(q); !ok {
					continue
				}
				if !yield(Param{Name: unescape(k), Value: unescape(v)}) {
					return
				}
			}
		}
	}
}

// RawParam is one parameter of a query: its decoded name, and its value
// as it is in the query.
type RawParam struct{ Name, Raw string }

// Value returns the parameter's value decoded, as Params decodes it.
func (p RawParam) Value() string { return unescape(p.Raw) }

// ValueIs reports whether Value() is v, without decoding into memory.
func (p RawParam) ValueIs(v string) bool {
	s := p.Raw
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s == v
	}
	if !validEscapes(s) {
		return v == "\x00" // what unescape makes of it
	}
	j := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		if j >= len(v) || v[j] != c {
			return false
		}
		j++
	}
	return j == len(v)
}

// RawParams is Params with the values left undecoded, for a reader that
// decodes only those of the names it looks for: it allocates only for
// names that hold escapes.
func RawParams(queries ...string) func(yield func(RawParam) bool) {
	return func(yield func(RawParam) bool) {
		for _, q := range queries {
			for q != "" {
				var k, v string
				var ok bool
				if k, v, ok, q = nextParam(q); !ok {
					continue
				}
				if !yield(RawParam{Name: unescape(k), Raw: v}) {
					return
				}
			}
		}
	}
}

// nextParam cuts the first part of the raw query q, up to "&": its name
// and value, raw, whether it is not empty, and what follows it.
func nextParam(q string) (k, v string, ok bool, rest string) {
	part, rest, _ := strings.Cut(q, "&")
	k, v, _ = strings.Cut(part, "=")
	return k, v, part != "", rest
}

// unescape decodes a query name or value as the form encoding does ("+"
// is a space).
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

// validEscapes reports whether every "%" of s starts an escape of two hex
// digits, as url.QueryUnescape requires.
func validEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2])) {
			return false
		}
	}
	return true
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
