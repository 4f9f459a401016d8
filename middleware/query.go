package middleware

import "strings"

// mayNameParam reports whether some parameter of the raw URL query q could
// be named name (ASCII) once decoded as url.ParseQuery decodes it: its
// name, a part of q between '&' separators up to the first '=', holds no
// ';' and unescapes to name ('+' a space, "%XX" a byte). It allocates
// nothing, so that a query is parsed (URL.Query) only when it may hold
// name; false means that URL.Query has no value for name.
func mayNameParam(q, name string) bool {
	for q != "" {
		var part string
		part, q, _ = strings.Cut(q, "&")
		if strings.IndexByte(part, ';') >= 0 {
			continue
		}
		k, _, _ := strings.Cut(part, "=")
		if unescapesTo(k, name) {
			return true
		}
	}
	return false
}

// unescapesTo reports whether s, unescaped as url.QueryUnescape does,
// is name.
func unescapesTo(s, name string) bool {
	j := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		if j >= len(name) || name[j] != c {
			return false
		}
		j++
	}
	return j == len(name)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
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
