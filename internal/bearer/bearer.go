// Package bearer reads an OAuth 2.0 access token from an Authorization
// header value: a bearer token (RFC 6750 §2.1), or a DPoP-bound token
// (RFC 9449 §7.1).
package bearer

import "errors"

var (
	// ErrNotBearer means the value uses another authentication scheme (or
	// is empty): for RFC 6750 the request carries no bearer credentials.
	ErrNotBearer = errors.New("bearer: not a Bearer credential")
	// ErrMalformed means the scheme is Bearer (DPoP for ParseDPoP) but
	// what follows is not one b64token.
	ErrMalformed = errors.New("bearer: malformed Bearer credential")
	// ErrNotDPoP means the value uses another scheme than DPoP (or is
	// empty).
	ErrNotDPoP = errors.New("bearer: not a DPoP credential")
)

// Parse returns the token of an Authorization header value of the form
//
//	credentials = "Bearer" 1*SP b64token
//	b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//
// The scheme is matched case-insensitively (RFC 9110 §11.1). The returned
// token is a substring of v; Parse does not allocate.
func Parse(v string) (string, error) {
	return checked(cut(v, "bearer", ErrNotBearer))
}

// ParseDPoP returns the token of an Authorization header value of the
// form (RFC 9449 §7.1)
//
//	credentials = "DPoP" 1*SP token68
//
// token68 being the b64token of Parse. The scheme is matched
// case-insensitively. It returns ErrNotDPoP for another scheme and
// ErrMalformed when what follows "DPoP" is not one token68.
func ParseDPoP(v string) (string, error) {
	return checked(cut(v, "dpop", ErrNotDPoP))
}

// Cut is Parse without the check of the token's characters (Valid), for a
// caller that checks them later, or knows the token already: what it
// returns is what Parse returns when Valid(token) holds. An empty token is
// ErrMalformed.
func Cut(v string) (string, error) {
	return cut(v, "bearer", ErrNotBearer)
}

// checked is tok, err of cut with the token's characters checked.
func checked(tok string, err error) (string, error) {
	if err == nil && !Valid(tok) {
		return "", ErrMalformed
	}
	return tok, err
}

// cut reads the token of credentials of the scheme (lower case), without
// checking its characters; other reports another scheme.
func cut(v, scheme string, other error) (string, error) {
	if len(v) < len(scheme) || !equalFold(v[:len(scheme)], scheme) {
		return "", other
	}
	rest := v[len(scheme):]
	if rest == "" {
		return "", ErrMalformed // the scheme alone, without its token
	}
	if rest[0] != ' ' {
		return "", other // another scheme that starts with this one
	}
	i := 0
	for i < len(rest) && rest[i] == ' ' {
		i++
	}
	tok := rest[i:]
	if tok == "" {
		return "", ErrMalformed
	}
	return tok, nil
}

// Valid reports whether s matches the b64token grammar of RFC 6750 §2.1.
func Valid(s string) bool {
	i := 0
	// Eight characters a step while all are token characters (a JWT of
	// 1 KB is read on every request), then one by one.
	t := &tokenChars
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8] // eight in bounds, checked once
		if t[w[0]]&t[w[1]]&t[w[2]]&t[w[3]]&t[w[4]]&t[w[5]]&t[w[6]]&t[w[7]] == 0 {
			break
		}
	}
	for i < len(s) && tokenChar(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

func tokenChar(c byte) bool { return tokenChars[c] != 0 }

// tokenChars marks with 1 the b64token characters other than "=".
var tokenChars = func() (t [256]uint8) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		t[c] = 1
	}
	return t
}()

// equalFold compares ASCII s with lower-case ASCII lower, ignoring case.
func equalFold(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
