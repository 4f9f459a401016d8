package middleware

import (
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/internal/fhirjson"
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
// claims (fhirjson's bound is 256, encoding/json's 10,000): no claim of an
// access token nests more than a few levels, and the decoder recurses
// once a level.
const maxClaimsDepth = 64

var errClaimsJSON = errors.New("claims are not a JSON object of at most 64 levels")

// claimsDecoder decodes a JWT's header or claims into what json.Unmarshal
// makes of them in a map[string]any: objects are map[string]any (a name
// repeated takes its last value), arrays []any (empty, not nil), numbers
// float64, strings decoded as encoding/json decodes them (invalid UTF-8
// and lone surrogates each U+FFFD). It reads the JSON with fhirjson's
// Cursor, which validates as json.Valid does; unlike the Cursor's own
// readers it takes names with escapes ("https:\/\/example.org\/roles",
// as some encoders write a namespaced claim). A differential fuzz test
// holds it to encoding/json.
type claimsDecoder struct {
	data []byte
	c    fhirjson.Cursor
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
	d.c, d.text = fhirjson.NewCursor(d.data), string(d.data)
	var m map[string]any
	switch d.c.Peek() {
	case 'n':
		d.c.Skip(0)
	case '{':
		m = d.object(0)
	default:
		return nil, errClaimsJSON
	}
	if !d.c.End() {
		return nil, errClaimsJSON
	}
	return m, nil
}

// value decodes the value at the cursor, inside depth containers.
func (d *claimsDecoder) value(depth int) any {
	switch d.c.Peek() {
	case '{':
		return d.object(depth)
	case '[':
		return d.array(depth)
	case '"':
		return d.str()
	case 't', 'f', 'n':
		b := d.c.Peek()
		d.c.Skip(depth) // validates the literal
		switch b {
		case 't':
			return true
		case 'f':
			return false
		}
		return nil
	}
	f, err := strconv.ParseFloat(string(d.c.Number()), 64) // JSON's grammar: Number checks it
	if err != nil {
		d.c.Fail() // out of range, as encoding/json refuses it
	}
	return f
}

// object decodes the object at the cursor, inside depth containers.
func (d *claimsDecoder) object(depth int) map[string]any {
	if depth >= maxClaimsDepth || !d.c.OpenObject(depth) {
		d.c.Fail()
		return nil
	}
	var m map[string]any
	if depth == 0 {
		// An access token has 10 to 14 claims: room for 14 is one
		// table of 16 slots, made once instead of grown.
		m = make(map[string]any, 14)
	} else {
		m = make(map[string]any)
	}
	for first := true; ; first = false {
		switch b := d.c.Peek(); {
		case b == '}':
			d.c.Expect('}')
			return m
		case !first && !d.c.Expect(','):
			return nil
		}
		k := d.str()
		if !d.c.Expect(':') {
			return nil
		}
		m[k] = d.value(depth + 1)
		if d.c.Failed() {
			return nil
		}
	}
}

// array decodes the array at the cursor, inside depth containers.
func (d *claimsDecoder) array(depth int) []any {
	if depth >= maxClaimsDepth || !d.c.OpenArray(depth) {
		d.c.Fail()
		return nil
	}
	a := make([]any, 0)
	for first := true; d.c.NextElem(first); first = false {
		a = append(a, d.value(depth+1))
	}
	return a
}

// str decodes the string at the cursor. One without escapes in valid
// UTF-8, nearly every claim, is the substring of d.text it is.
func (d *claimsDecoder) str() string {
	raw, esc := d.c.RawString()
	if d.c.Failed() {
		return ""
	}
	end := d.c.Pos() - 1 // the closing quote
	start := end - len(raw)
	var s string
	if !esc && utf8.Valid(raw) {
		s = d.text[start:end]
	} else {
		s, _ = fhirjson.DecodeString(d.data[start-1 : end+1])
	}
	if hasRuneError(s) { // U+FFFD decoded, or written as it is
		d.replaced = true
	}
	return s
}
