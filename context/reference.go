package context

import "strings"

// maxReference bounds the length of a reference LocalReference reads.
const maxReference = 4096

// LocalReference returns the resource type and id of ref when ref is a
// literal reference to a resource on the FHIR server whose base URL is
// base: relative ("Patient/123"), or absolute under base
// ("https://fhir.example.org/r4/Patient/123" for the base
// "https://fhir.example.org/r4"). ok is false for anything else, and in
// particular for:
//
//   - a reference on another server, or under another base of the same
//     server, including one whose path only starts with base's path
//     ("https://fhir.example.org/r4x/Patient/1");
//   - a version-specific reference ("Patient/123/_history/1"): it names a
//     version, not the resource;
//   - a query or a fragment ("Patient/123?x", "Patient/123#x"),
//     percent-encoding anywhere ("Patient%2F123"), a backslash, user
//     information ("https://u@fhir.example.org/..."), dot-segments or
//     empty segments ("../Patient/123", "https://fhir.example.org/r4//Patient/1"),
//     and a path without scheme and host ("/r4/Patient/123");
//   - an id that is not a FHIR id (see [ValidID]) and a type that is not
//     a resource type name (a capital letter, then letters);
//   - "urn:uuid:" and "urn:oid:" references, which are resolved within a
//     Bundle, not on a server.
//
// Absolute references are compared with base as URLs: the scheme (http or
// https) and the host without regard to case, a port equal to the
// scheme's default (443, 80) as no port, and a trailing "/" of base
// ignored. The path is compared exactly, case included. With base "" only
// relative references are local.
func LocalReference(ref, base string) (typ, id string, ok bool) {
	if len(ref) > maxReference || !plainReference(ref) {
		return "", "", false
	}
	slash := strings.LastIndexByte(ref, '/')
	if slash < 0 {
		return "", "", false
	}
	head, id := ref[:slash], ref[slash+1:]
	prefix := ""
	typ = head
	if i := strings.LastIndexByte(head, '/'); i >= 0 {
		prefix, typ = head[:i], head[i+1:]
	}
	if !ValidID(id) || !validType(typ) {
		return "", "", false
	}
	if typ == head { // relative: "Type/id"
		return typ, id, true
	}
	r, okr := parseBaseURL(prefix, false)
	b, okb := parseBaseURL(base, true)
	if !okr || !okb || r != b {
		return "", "", false
	}
	return typ, id, true
}

// plainReference reports whether ref is made of printable ASCII only,
// without the characters that would make a reference more than a path:
// "%" (escapes), "?" and "#" (query, fragment), "\" (read as "/" by
// some), and "@" (user information).
func plainReference(ref string) bool {
	for i := 0; i < len(ref); i++ {
		switch c := ref[i]; {
		case c <= ' ' || c >= 0x7f:
			return false
		case c == '%' || c == '?' || c == '#' || c == '\\' || c == '@':
			return false
		}
	}
	return true
}

// validType reports whether s is a FHIR resource type name: a capital
// letter, then letters, at most 64 in all.
func validType(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// baseURL is a FHIR base URL as LocalReference compares it.
type baseURL struct {
	scheme, host, port, path string
}

// parseBaseURL reads s, an http or https URL without query, fragment or
// user information, into its compared form: scheme and host in lower
// case, the port as a number without leading zeros and "" for the
// scheme's default, the path as it is. With isBase, s is the configured
// base: one trailing "/" is dropped; else s is the part of a reference
// before its type, whose path must not end with "/" and must hold no empty
// segment, "." or "..".
func parseBaseURL(s string, isBase bool) (baseURL, bool) {
	var u baseURL
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return u, false
	}
	u.scheme = strings.ToLower(scheme)
	def := ""
	switch u.scheme {
	case "https":
		def = "443"
	case "http":
		def = "80"
	default:
		return u, false
	}
	authority := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, u.path = rest[:i], rest[i:]
	}
	if strings.ContainsAny(authority, "@?#\\%") {
		return u, false
	}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") { // an IPv6 literal
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return u, false
		}
		host, port = authority[:end+1], authority[end+1:]
		if port != "" {
			if port[0] != ':' {
				return u, false
			}
			port = port[1:]
		}
	} else if i := strings.IndexByte(authority, ':'); i >= 0 {
		host, port = authority[:i], authority[i+1:]
	}
	if !validHost(host) {
		return u, false
	}
	u.host = strings.ToLower(host)
	if port != "" {
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return u, false
			}
		}
		port = strings.TrimLeft(port, "0")
		if len(port) > 5 || len(port) == 5 && port > "65535" {
			return u, false
		}
		if port == "" {
			port = "0"
		}
	}
	if port == def {
		port = ""
	}
	u.port = port
	if isBase {
		u.path = strings.TrimSuffix(u.path, "/")
		return u, true
	}
	for p := u.path; p != ""; { // "" or "/seg/seg..."
		p = p[1:]
		seg := p
		if i := strings.IndexByte(p, '/'); i >= 0 {
			seg, p = p[:i], p[i:]
		} else {
			p = ""
		}
		if seg == "" || seg == "." || seg == ".." {
			return u, false
		}
	}
	return u, true
}

// validHost reports whether host is a host name or IPv4 address (letters,
// digits, "-", ".", "_", "~") or an IPv6 literal in brackets (hex digits,
// ":", "."). Other characters RFC 3986 allows in a host name are not
// found in FHIR base URLs.
func validHost(host string) bool {
	if host == "" {
		return false
	}
	if host[0] == '[' {
		if len(host) < 3 || host[len(host)-1] != ']' {
			return false
		}
		for i := 1; i < len(host)-1; i++ {
			c := host[i]
			if !('0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f' || c == ':' || c == '.') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
