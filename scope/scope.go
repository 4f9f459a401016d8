package scope

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid is matched, through [errors.Is], by every error ParseScope
// returns: the token is not a well-formed scope this package recognises.
var ErrInvalid = errors.New("scope: invalid scope")

// Error is the error ParseScope returns. Its message names the token and
// says what is wrong with it:
//
//	scope: "patient/Observation.sr": permissions must be an ordered subset of "cruds"
//
// errors.Is(err, ErrInvalid) is true for every *Error.
type Error struct {
	Token  string // the token as given
	Reason string // what is wrong with it
}

// Error returns `scope: "<token>": <reason>`.
func (e *Error) Error() string {
	return "scope: " + strconv.Quote(e.Token) + ": " + e.Reason
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Context is the first segment of a resource scope: whose data it reaches.
type Context uint8

// The three SMART contexts. The zero Context matches nothing.
const (
	// Patient scopes reach the data of the patient in launch context
	// (SMART's "patient/"), and nothing without one: the caller enforces
	// both, since Set.Access knows nothing of launch context.
	Patient Context = iota + 1
	// User scopes reach the data the signed-in user may see ("user/").
	User
	// System scopes reach the data the client itself is allowed ("system/").
	System
)

// String returns "patient", "user" or "system", or "" for the zero Context.
func (c Context) String() string {
	switch c {
	case Patient:
		return "patient"
	case User:
		return "user"
	case System:
		return "system"
	}
	return ""
}

// Permission is a set of SMART v2 interaction letters, one bit each.
type Permission uint8

// The five SMART v2 permission letters ("cruds").
const (
	Create Permission = 1 << iota // c: type-level create
	Read                          // r: read, vread, instance history
	Update                        // u: update, patch, update-as-create
	Delete                        // d: delete
	Search                        // s: type and system search and history
)

// All is every permission: v2 ".cruds", v1 ".*".
const All = Create | Read | Update | Delete | Search

const letters = "cruds"

// String returns the letters of p in canonical order, such as "rs".
func (p Permission) String() string {
	var b [5]byte
	n := 0
	for i := range 5 {
		if p&(1<<i) != 0 {
			b[n] = letters[i]
			n++
		}
	}
	return string(b[:n])
}

// Kind tells what a scope token is.
type Kind uint8

// The kinds of scope token SMART App Launch 2.2 defines.
const (
	// Resource is a FHIR resource scope: context/Type.perms[?constraint].
	Resource Kind = iota + 1
	// Launch asks for launch context: "launch", "launch/patient", ...
	Launch
	// Identity asks for the user's identity: "openid", "fhirUser",
	// "profile" (SMART v1's alias of fhirUser), and the OpenID Connect
	// scopes "email", "address" and "phone".
	Identity
	// Refresh asks for a refresh token: "offline_access", "online_access".
	Refresh
	// Extension is an authorization server's own scope: an absolute URI or
	// a name starting with "__". It grants no FHIR access here.
	Extension
)

// String returns the kind's name in lower case.
func (k Kind) String() string {
	switch k {
	case Resource:
		return "resource"
	case Launch:
		return "launch"
	case Identity:
		return "identity"
	case Refresh:
		return "refresh"
	case Extension:
		return "extension"
	}
	return ""
}

// Param is one name=value pair of a granular scope's constraint. Value is
// percent-decoded ("a%26b" is "a&b"; "+" stays "+") and keeps raw "|", ":"
// and "/" as written; Name is a search parameter code of ASCII letters,
// digits, "-", "_", "." and ":", and may carry a modifier ("code:in") or a
// chain ("patient.birthdate"), which SMART calls experimental.
type Param struct {
	Name  string
	Value string
}

// Constraint is the "?a=1&b=2" part of a granular scope: a resource matches
// when it matches every Param (AND), as in a FHIR search. Repeated names are
// kept in order, never collapsed.
type Constraint []Param

// String renders c in scope syntax without the leading "?", percent-encoding
// "%", "&" and bytes not allowed in a scope token in each value.
func (c Constraint) String() string {
	var b strings.Builder
	for i, p := range c {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		escapeValue(&b, p.Value)
	}
	return b.String()
}

// Equal reports whether c and d list the same params in the same order.
func (c Constraint) Equal(d Constraint) bool {
	if len(c) != len(d) {
		return false
	}
	for i := range c {
		if c[i] != d[i] {
			return false
		}
	}
	return true
}

// Scope is one parsed scope token, from ParseScope, MustParseScope or
// Set.Scopes. The zero Scope is not valid; NewSet checks a Scope built by
// hand.
type Scope struct {
	// Kind tells which of the fields below are meaningful.
	Kind Kind

	// Context, Permissions, Type and Constraint describe a Resource scope.
	Context     Context
	Permissions Permission
	// V1 records that a resource scope was written in SMART v1 syntax
	// (".read", ".write", ".*"). It does not change what the scope grants.
	V1 bool
	// Type is a FHIR resource type or "*" for every type, present and
	// future.
	Type string
	// Constraint is the granular part of a v2 resource scope, nil when the
	// scope is unconstrained.
	Constraint Constraint

	// LaunchType is the lower-case context type of a Launch scope
	// ("patient", "encounter", "imagingstudy"), or "" for bare "launch".
	LaunchType string
	// Role is the "?role=" of a Launch scope, or "".
	Role string

	// Name is the token itself for Identity, Refresh and Extension scopes.
	Name string
}

// String renders s in canonical SMART v2 form: v1 suffixes become their v2
// letters (".read" is ".rs"), constraint values are percent-encoded where
// needed. ParseScope(s.String()) returns a Scope Equal to s.
func (s Scope) String() string {
	switch s.Kind {
	case Resource:
		var b strings.Builder
		b.Grow(len(s.Type) + 16)
		b.WriteString(s.Context.String())
		b.WriteByte('/')
		b.WriteString(s.Type)
		b.WriteByte('.')
		b.WriteString(s.Permissions.String())
		if len(s.Constraint) > 0 {
			b.WriteByte('?')
			b.WriteString(s.Constraint.String())
		}
		return b.String()
	case Launch:
		out := "launch"
		if s.LaunchType != "" {
			out += "/" + s.LaunchType
		}
		if s.Role != "" {
			out += "?role=" + s.Role
		}
		return out
	}
	return s.Name
}

// URI returns the scope as a URI (SMART App Launch 2.2, Appendix). The
// OpenID Connect identity scopes ("openid", "profile", "email", "address",
// "phone") go under "http://openid.net/specs/openid-connect-core-1_0#";
// absolute-URI extension scopes stay as they are; every other scope, in
// its canonical String form, goes under "http://smarthealthit.org/fhir/scopes/":
// "patient/*.read" becomes "http://smarthealthit.org/fhir/scopes/patient/*.rs".
func (s Scope) URI() string {
	switch {
	case s.Kind == Identity && s.Name != "fhirUser":
		return "http://openid.net/specs/openid-connect-core-1_0#" + s.Name
	case s.Kind == Extension && !strings.HasPrefix(s.Name, "__"):
		return s.Name
	}
	return "http://smarthealthit.org/fhir/scopes/" + s.String()
}

// Equal reports whether s and t are the same scope: they grant the same and
// render the same. It ignores V1, the spelling of the suffix.
func (s Scope) Equal(t Scope) bool {
	return s.Kind == t.Kind && s.Context == t.Context && s.Type == t.Type &&
		s.Permissions == t.Permissions && s.Constraint.Equal(t.Constraint) &&
		s.LaunchType == t.LaunchType && s.Role == t.Role && s.Name == t.Name
}

// Grants reports whether s, by itself and ignoring its constraint, grants
// every letter of p on resource type typ in context c. typ must be a
// resource type name ("Observation") or "*"; "*" is granted only by a
// wildcard scope. A zero or out-of-range p is never granted. Because it
// ignores the constraint, Grants is no decision: use Set.Access for that.
func (s Scope) Grants(c Context, typ string, p Permission) bool {
	return p != 0 && p&^All == 0 && validType(typ) && s.matches(c, typ) && s.Permissions&p == p
}

// matches reports whether s is a resource scope of context c that covers
// resource type typ.
func (s *Scope) matches(c Context, typ string) bool {
	return s.Kind == Resource && s.Context == c && (s.Type == typ || s.Type == "*")
}

// MustParseScope is ParseScope for literals known to be valid; it panics otherwise.
func MustParseScope(token string) Scope {
	s, err := ParseScope(token)
	if err != nil {
		panic(err)
	}
	return s
}

// isIdentity reports whether t is an OpenID Connect or SMART identity scope.
func isIdentity(t string) bool {
	switch t {
	case "openid", "fhirUser", "profile", "email", "address", "phone":
		return true
	}
	return false
}

// ParseScope parses one scope token strictly. The error is an [*Error]
// that names the token and says what is wrong, and errors.Is(err,
// ErrInvalid) holds, for example:
//
//	scope: "patient/Observation.sr": permissions must be an ordered subset of "cruds"
//
// Tokens SMART defines are recognised by kind; an absolute URI or a "__"
// name is an Extension; any other token is an error. A resource scope needs
// a lower-case context, then a type that is "*" or starts with an
// upper-case ASCII letter followed by letters and digits (at most 64), then
// v2 letters (a non-empty, ordered, unrepeated subset of "cruds") or a v1
// suffix; only v2 scopes may carry a "?name=value&..." constraint.
func ParseScope(token string) (Scope, error) {
	var s Scope
	if err := parseScope(token, &s); err != nil {
		return Scope{}, err
	}
	return s, nil
}

// parseScope is ParseScope writing into *s, which must be the zero Scope;
// on error *s holds garbage.
func parseScope(token string, s *Scope) error {
	if token == "" {
		return invalid(token, "empty token")
	}
	if i := badScopeChar(token); i >= 0 {
		return invalid(token, fmt.Sprintf("character %q is not allowed in a scope", token[i]))
	}
	switch {
	case isIdentity(token):
		s.Kind, s.Name = Identity, token
		return nil
	case token == "offline_access" || token == "online_access":
		s.Kind, s.Name = Refresh, token
		return nil
	case strings.HasPrefix(token, "__"):
		if len(token) == 2 {
			return invalid(token, "extension name is empty")
		}
		s.Kind, s.Name = Extension, token
		return nil
	case token == "launch" || strings.HasPrefix(token, "launch/") || strings.HasPrefix(token, "launch?"):
		return parseLaunch(token, s)
	}
	if ctx, rest, ok := strings.Cut(token, "/"); ok {
		if c := parseContext(ctx); c != 0 {
			return parseResource(token, c, rest, s)
		}
	}
	if isAbsoluteURI(token) {
		s.Kind, s.Name = Extension, token
		return nil
	}
	return invalid(token, "not a SMART scope")
}

func invalid(token, why string) error {
	return &Error{Token: token, Reason: why}
}

// badScopeChar returns the index of the first byte outside RFC 6749's
// scope-token set (%x21 / %x23-5B / %x5D-7E), or -1.
func badScopeChar(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return i
		}
	}
	return -1
}

func parseContext(s string) Context {
	switch s {
	case "patient":
		return Patient
	case "user":
		return User
	case "system":
		return System
	}
	return 0
}

func parseLaunch(token string, s *Scope) error {
	rest := token[len("launch"):]
	s.Kind = Launch
	if typ, ok := strings.CutPrefix(rest, "/"); ok {
		typ, query, hasQuery := strings.Cut(typ, "?")
		if typ == "" {
			return invalid(token, "launch context type is empty")
		}
		for i := 0; i < len(typ); i++ {
			if typ[i] < 'a' || typ[i] > 'z' {
				return invalid(token, "launch context type must be a lower-case resource type")
			}
		}
		s.LaunchType = typ
		if hasQuery {
			role, ok := strings.CutPrefix(query, "role=")
			if !ok || role == "" || strings.ContainsAny(role, "&?") {
				return invalid(token, `launch scope may carry only one non-empty "?role="`)
			}
			s.Role = role
		}
		return nil
	}
	if rest != "" {
		return invalid(token, `bare "launch" takes no role or parameters`)
	}
	return nil
}

func parseResource(token string, c Context, rest string, s *Scope) error {
	body, query, constrained := strings.Cut(rest, "?")
	dot := strings.LastIndexByte(body, '.')
	if dot < 0 {
		return invalid(token, `resource scope needs ".permissions"`)
	}
	typ, suffix := body[:dot], body[dot+1:]
	if !validType(typ) {
		return invalid(token, `resource type must be "*" or a FHIR resource type name`)
	}
	s.Kind, s.Context, s.Type = Resource, c, typ
	switch suffix {
	case "read":
		s.Permissions, s.V1 = Read|Search, true
	case "write":
		s.Permissions, s.V1 = Create|Update|Delete, true
	case "*":
		s.Permissions, s.V1 = All, true
	default:
		p, ok := parseLetters(suffix)
		if !ok {
			return invalid(token, `permissions must be an ordered subset of "cruds"`)
		}
		s.Permissions = p
	}
	if constrained {
		if s.V1 {
			return invalid(token, "SMART v1 scopes take no constraint")
		}
		cons, err := parseConstraint(query)
		if err != "" {
			return invalid(token, err)
		}
		s.Constraint = cons
	}
	return nil
}

// validType reports whether t is "*" or shaped like a FHIR resource type
// name: an upper-case ASCII letter, then ASCII letters and digits.
func validType(t string) bool {
	if t == "*" {
		return true
	}
	if t == "" || t[0] < 'A' || t[0] > 'Z' || len(t) > 64 {
		return false
	}
	for i := 1; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// parseLetters accepts a non-empty, strictly ordered subset of "cruds".
func parseLetters(s string) (Permission, bool) {
	if s == "" || len(s) > len(letters) {
		return 0, false
	}
	var p Permission
	next := 0 // index in letters the next letter may start from
	for i := 0; i < len(s); i++ {
		j := strings.IndexByte(letters[next:], s[i])
		if j < 0 {
			return 0, false
		}
		p |= 1 << (next + j)
		next += j + 1
	}
	return p, true
}

func parseConstraint(q string) (Constraint, string) {
	if q == "" {
		return nil, "constraint after \"?\" is empty"
	}
	n := strings.Count(q, "&") + 1
	out := make(Constraint, 0, n)
	for part := range strings.SplitSeq(q, "&") {
		name, value, ok := strings.Cut(part, "=")
		if !ok || name == "" || value == "" {
			return nil, "constraint must be name=value pairs joined by \"&\""
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
				c == '-' || c == '_' || c == '.' || c == ':') {
				return nil, fmt.Sprintf("constraint parameter name %q is not a search parameter", name)
			}
		}
		v, ok := unescapeValue(value)
		if !ok {
			return nil, "constraint value has a bad percent-escape"
		}
		out = append(out, Param{Name: name, Value: v})
	}
	return out, ""
}

// unescapeValue percent-decodes v; it allocates only when v has a '%'.
func unescapeValue(v string) (string, bool) {
	if strings.IndexByte(v, '%') < 0 {
		return v, true
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b = append(b, v[i])
			continue
		}
		if i+2 >= len(v) {
			return "", false
		}
		h, ok1 := unhex(v[i+1])
		l, ok2 := unhex(v[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b = append(b, h<<4|l)
		i += 2
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// escapeValue writes v, percent-encoding '%', '&' and every byte that may
// not stand in a scope token, so that unescapeValue gives v back.
func escapeValue(b *strings.Builder, v string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '%' || c == '&' || c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
}

// isAbsoluteURI reports whether s starts with an RFC 3986 scheme and ":"
// followed by something.
func isAbsoluteURI(s string) bool {
	i := strings.IndexByte(s, ':')
	if i < 1 || i == len(s)-1 {
		return false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
