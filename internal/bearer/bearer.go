// Package bearer reads an OAuth 2.0 bearer token from an Authorization
// header value, per RFC 6750 §2.1.
package bearer

import "errors"

var (
	// ErrNotBearer means the value uses another authentication scheme (or
	// is empty): for RFC 6750 the request carries no bearer credentials.
	ErrNotBearer = errors.New("bearer: not a Bearer credential")
	// ErrMalformed means the scheme is Bearer but what follows is not one
	// b64token.
	ErrMalformed = errors.New("bearer: malformed Bearer credential")
)

// Parse returns the token of an Authorization header value of the form
//
//	credentials = "Bearer" 1*SP b64token
//	b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//
// The scheme is matched case-insensitively (RFC 9110 §11.1). The returned
// token is a substring of v; Parse does not allocate.
func Parse(v string) (string, error) {
	tok, err := Cut(v)
	if err == nil && !Valid(tok) {
		return "", ErrMalformed
	}
	return tok, err
}

// Cut is Parse without the check of the token's characters (Valid), for a
// caller that checks them later, or knows the token already: what it
// returns is what Parse returns when Valid(token) holds. An empty token is
// ErrMalformed.
func Cut(v string) (string, error) {
	const scheme = "bearer"
	if len(v) < len(scheme) || !equalFold(v[:len(scheme)], scheme) {
		return "", ErrNotBearer
	}
	rest := v[len(scheme):]
	if rest == "" {
		return "", ErrMalformed // "Bearer" alone: the scheme without its token
	}
	if rest[0] != ' ' {
		return "", ErrNotBearer // another scheme that starts with "Bearer"
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
