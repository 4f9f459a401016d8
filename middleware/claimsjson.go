package middleware

import (
	"errors"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// payload is a JWT's claims as parseJWS decodes them: the jwt.MapClaims
// claimsDecoder makes, and whether a name or string of them held U+FFFD
// once decoded (see claimsDecoder.replaced), which claims.Validate
// refuses.
type payload struct {
	jwt.MapClaims
	replaced bool
}

// maxClaimsDepth bounds how deep objects and arrays nest in a JWT's
// claims. encoding/json allows 10,000; no claim of an access token nests
// more than a few levels, and the decoder recurses once a level.
const maxClaimsDepth = 64

var errClaimsJSON = errors.New("claims are not a JSON object of at most 64 levels")

// claimsDecoder decodes a JWT's claims into what json.Unmarshal makes of
// them in a map[string]any: objects are map[string]any (a name repeated
// takes its last value), arrays []any (empty, not nil), numbers float64,
// and strings are unescaped as encoding/json does, invalid UTF-8 and
// lone surrogates each becoming U+FFFD. A differential fuzz test holds it
// to encoding/json. It fails, never panics, on input that is not JSON.
type claimsDecoder struct {
	data []byte
	i    int
	// text is data as a string, made once: a name or string without
	// escapes is a substring of it rather than a copy of its own.
	text string
	// replaced records that a decoded name or string holds U+FFFD, from
	// invalid UTF-8, a lone surrogate or the character itself: what
	// Validate refuses (RFC 8725 §3.7) without walking the claims again.
	replaced bool
}

// decode decodes the whole of d.data: an object, or null (no claims, as
// encoding/json leaves a map nil).
func (d *claimsDecoder) decode() (map[string]any, error) {
	d.text = string(d.data)
	d.space()
	var m map[string]any
	switch {
	case d.i+4 <= len(d.data) && string(d.data[d.i:d.i+4]) == "null":
		d.i += 4
	case d.i < len(d.data) && d.data[d.i] == '{':
		var err error
		if m, err = d.object(1); err != nil {
			return nil, err
		}
	default:
		return nil, errClaimsJSON
	}
	if d.space(); d.i != len(d.data) {
		return nil, errClaimsJSON
	}
	return m, nil
}

// space skips JSON white space.
func (d *claimsDecoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value decodes the value at d.i, at depth (the levels it sits in).
func (d *claimsDecoder) value(depth int) (any, error) {
	if d.i >= len(d.data) {
		return nil, errClaimsJSON
	}
	switch d.data[d.i] {
	case '{':
		return d.object(depth + 1)
	case '[':
		return d.array(depth + 1)
	case '"':
		return d.str()
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	}
	return d.number()
}

func (d *claimsDecoder) literal(lit string) error {
	if d.i+len(lit) > len(d.data) || string(d.data[d.i:d.i+len(lit)]) != lit {
		return errClaimsJSON
	}
	d.i += len(lit)
	return nil
}

// object decodes the object at d.i, at depth.
func (d *claimsDecoder) object(depth int) (map[string]any, error) {
	if depth > maxClaimsDepth {
		return nil, errClaimsJSON
	}
	d.i++ // {
	var m map[string]any
	if depth == 1 {
		// An access token has 10 to 14 claims: room for 14 is one
		// table of 16 slots, made once instead of grown.
		m = make(map[string]any, 14)
	} else {
		m = make(map[string]any)
	}
	if d.space(); d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		if d.space(); d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, errClaimsJSON
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		if d.space(); d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, errClaimsJSON
		}
		d.i++
		d.space()
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		m[k] = v
		if d.space(); d.i >= len(d.data) {
			return nil, errClaimsJSON
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, nil
		default:
			return nil, errClaimsJSON
		}
	}
}

// array decodes the array at d.i, at depth.
func (d *claimsDecoder) array(depth int) ([]any, error) {
	if depth > maxClaimsDepth {
		return nil, errClaimsJSON
	}
	d.i++ // [
	a := make([]any, 0)
	if d.space(); d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		d.space()
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if d.space(); d.i >= len(d.data) {
			return nil, errClaimsJSON
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return a, nil
		default:
			return nil, errClaimsJSON
		}
	}
}

// number decodes the number at d.i as encoding/json does into an any:
// strconv.ParseFloat, out of range an error. It reads JSON's grammar
// only (RFC 8259 §6), which ParseFloat alone is wider than ("01", "1.",
// "+1", "Inf").
func (d *claimsDecoder) number() (float64, error) {
	start := d.i
	if d.i < len(d.data) && d.data[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.data) && d.data[d.i] == '0':
		d.i++
	case d.digits() == 0:
		return 0, errClaimsJSON
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return 0, errClaimsJSON
		}
	}
	if d.i < len(d.data) && d.data[d.i]|0x20 == 'e' {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return 0, errClaimsJSON
		}
	}
	f, err := strconv.ParseFloat(string(d.data[start:d.i]), 64)
	if err != nil {
		return 0, errClaimsJSON
	}
	return f, nil
}

// digits skips the decimal digits at d.i and returns how many.
func (d *claimsDecoder) digits() int {
	start := d.i
	for d.i < len(d.data) && '0' <= d.data[d.i] && d.data[d.i] <= '9' {
		d.i++
	}
	return d.i - start
}

// str decodes the string at d.i. A string of printable ASCII without
// escapes, nearly every claim, is the substring of d.text it is.
func (d *claimsDecoder) str() (string, error) {
	start := d.i + 1
	for j := start; j < len(d.data); j++ {
		switch c := d.data[j]; {
		case c == '"':
			d.i = j + 1
			return d.text[start:j], nil
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return d.unquote(start, j)
		}
	}
	return "", errClaimsJSON
}

// unquote decodes the string whose content starts at start, from j on
// (what is before j is plain ASCII), as encoding/json's unquote does.
func (d *claimsDecoder) unquote(start, j int) (string, error) {
	b := make([]byte, j-start, j-start+16)
	copy(b, d.data[start:j])
	for j < len(d.data) {
		c := d.data[j]
		switch {
		case c == '"':
			d.i = j + 1
			return string(b), nil
		case c == '\\':
			var r rune
			var ok bool
			if r, j, ok = d.escape(j); !ok {
				return "", errClaimsJSON
			}
			b = d.appendRune(b, r)
		case c < 0x20:
			return "", errClaimsJSON
		case c < utf8.RuneSelf:
			b = append(b, c)
			j++
		default:
			r, size := utf8.DecodeRune(d.data[j:]) // invalid UTF-8: U+FFFD, one byte
			b = d.appendRune(b, r)
			j += size
		}
	}
	return "", errClaimsJSON
}

// escape decodes the escape at j; it returns the rune and where the
// string goes on. A surrogate not followed by the escape of its pair is
// U+FFFD, as in encoding/json.
func (d *claimsDecoder) escape(j int) (rune, int, bool) {
	if j+1 >= len(d.data) {
		return 0, j, false
	}
	switch e := d.data[j+1]; e {
	case '"', '\\', '/':
		return rune(e), j + 2, true
	case 'b':
		return '\b', j + 2, true
	case 'f':
		return '\f', j + 2, true
	case 'n':
		return '\n', j + 2, true
	case 'r':
		return '\r', j + 2, true
	case 't':
		return '\t', j + 2, true
	case 'u':
		r := u4(d.data[j:])
		if r < 0 {
			return 0, j, false
		}
		j += 6
		if utf16.IsSurrogate(r) {
			if dec := utf16.DecodeRune(r, u4(d.data[j:])); dec != unicode.ReplacementChar {
				return dec, j + 6, true
			}
			r = unicode.ReplacementChar
		}
		return r, j, true
	}
	return 0, j, false
}

// appendRune appends r to b, noting U+FFFD.
func (d *claimsDecoder) appendRune(b []byte, r rune) []byte {
	if r == utf8.RuneError {
		d.replaced = true
	}
	return utf8.AppendRune(b, r)
}

// u4 decodes the \uXXXX escape at the start of s, or returns -1.
func u4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
