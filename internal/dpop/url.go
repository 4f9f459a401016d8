package dpop

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
)

// errHTU is the cause of an htu (or a base URL) that is not an absolute
// http(s) URL with a host and without user information.
var errHTU = errors.New("not an absolute http or https URL with a host")

// NormalizeURL returns the http or https URL s without its query and
// fragment, normalised as RFC 3986 §6.2.2 and §6.2.3 describe, so that
// URLs that differ only in spelling compare equal:
//
//   - the scheme and host in lower case;
//   - the port dropped when it is the scheme's default (80, 443) or empty;
//   - an empty path made "/";
//   - percent-encodings of unreserved characters (letters, digits, "-",
//     ".", "_", "~") decoded, the others' hex digits in upper case, and
//     characters a path may not hold percent-encoded.
//
// Dot segments ("/./", "/../") are kept, not removed: a request path
// holding them is compared as it is, never as a path it could mean. It
// fails for a URL that is not absolute http(s) with a host, or that holds
// user information.
func NormalizeURL(s string) (string, error) {
	origin, path, err := split(s)
	if err != nil {
		return "", err
	}
	if path == "" {
		path = "/"
	}
	return origin + path, nil
}

// split parses and normalises s into its origin (scheme://host[:port])
// and its path, "" when it has none.
func split(s string) (origin, path string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", errHTU
	}
	// url.Parse has put the scheme in lower case.
	if u.Scheme != "http" && u.Scheme != "https" || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", "", errHTU
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" || strings.ContainsAny(host, "%/") { // no IPv6 zones
		return "", "", errHTU
	}
	if strings.IndexByte(host, ':') >= 0 { // an IPv6 literal, in brackets
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || !strings.HasPrefix(u.Host, "[") {
			return "", "", errHTU
		}
		host = "[" + a.String() + "]"
	}
	if port == "80" && u.Scheme == "http" || port == "443" && u.Scheme == "https" {
		port = ""
	}
	origin = u.Scheme + "://" + host
	if port != "" {
		origin += ":" + port
	}
	return origin, NormalizePath(u.EscapedPath()), nil
}

// Base is the external URL of a FHIR base, normalised once, to which the
// paths of requests under it are added.
type Base struct {
	prefix   string // origin + normalised path, without a final "/" added
	pathless bool   // the base has no path of its own
}

// NewBase returns the Base of the URL u, such as
// "https://fhir.example.org/r4". Its query and fragment, if any, are
// dropped.
func NewBase(u string) (Base, error) {
	origin, path, err := split(u)
	if err != nil {
		return Base{}, err
	}
	return Base{prefix: origin + path, pathless: path == ""}, nil
}

// URL returns the normalised URL (see NormalizeURL) of the request whose
// path, escaped, is the base's path followed by rest ("" or starting with
// "/").
func (b Base) URL(rest string) string {
	if rest == "" && b.pathless {
		return b.prefix + "/"
	}
	return b.prefix + NormalizePath(rest)
}

// NormalizePath normalises the percent-encoding of an escaped path (see
// NormalizeURL). It allocates only when the path changes.
func NormalizePath(p string) string {
	i := 0
	for i < len(p) && pathChar(p[i]) {
		i++
	}
	if i == len(p) {
		return p
	}
	b := make([]byte, 0, len(p)+8)
	b = append(b, p[:i]...)
	for ; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%' && i+2 < len(p) && unhex(p[i+1]) >= 0 && unhex(p[i+2]) >= 0:
			d := byte(unhex(p[i+1])<<4 | unhex(p[i+2]))
			if unreserved(d) {
				b = append(b, d)
			} else {
				b = append(b, '%', upperHex[d>>4], upperHex[d&15])
			}
			i += 2
		case pathChar(c):
			b = append(b, c)
		default:
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return string(b)
}

const upperHex = "0123456789ABCDEF"

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// pathChar reports whether c stands for itself in a normalised path:
// pchar (RFC 3986 §3.3) or "/", without "%".
func pathChar(c byte) bool {
	if unreserved(c) {
		return true
	}
	switch c {
	case '/', ':', '@', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}
