package fhirjson

import (
	"encoding/binary"
	"math/bits"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The lexical layer: it accepts exactly what encoding/json's Valid
// accepts (RFC 8259 with any bytes of 0x20 and above inside strings, valid
// UTF-8 or not), with nesting bounded by MaxDepth.

// Bytes repeated in every lane of a word, for the string scanner.
const (
	lanes01 = 0x0101010101010101
	lanes20 = 0x2020202020202020
	lanes22 = 0x2222222222222222
	lanes5c = 0x5c5c5c5c5c5c5c5c
	lanes80 = 0x8080808080808080
)

// special marks, in the high bit of each byte lane, the bytes of w that
// end a run of plain string content: '"', '\\' and control bytes below
// 0x20. Lanes above the first marked one may be marked wrongly (a borrow
// runs upward), the first marked lane never is.
func special(w uint64) uint64 {
	q := w ^ lanes22
	b := w ^ lanes5c
	return ((q - lanes01) &^ q & lanes80) | ((b - lanes01) &^ b & lanes80) | ((w - lanes20) &^ w & lanes80)
}

// SkipString reads the rest of a string whose opening quote is at i-1
// and returns the index after its closing quote, and whether the string
// holds a backslash escape. It returns -1 for a bad string (a control
// byte, a bad escape, no closing quote).
func SkipString(data []byte, i int) (end int, escaped bool) {
	for {
		for i+8 <= len(data) {
			if m := special(binary.LittleEndian.Uint64(data[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto found
			}
			i += 8
		}
		for i < len(data) && data[i] >= 0x20 && data[i] != '"' && data[i] != '\\' {
			i++
		}
		if i >= len(data) {
			return -1, escaped
		}
	found:
		switch data[i] {
		case '"':
			return i + 1, escaped
		case '\\':
			escaped = true
			if i+1 >= len(data) {
				return -1, escaped
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) || !isHex(data[i+5]) {
					return -1, escaped
				}
				i += 6
			default:
				return -1, escaped
			}
		default: // a control byte
			return -1, escaped
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipNumber reads a number starting at i and returns the index after it,
// or -1.
func skipNumber(data []byte, i int) int {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return -1
	case data[i] == '0':
		i++
	case '1' <= data[i] && data[i] <= '9':
		i = digits(data, i+1)
	default:
		return -1
	}
	if i < len(data) && data[i] == '.' {
		j := digits(data, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(data, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(data []byte, i int) int {
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	return i
}

// skipLiteral reads true, false or null at i and returns the index after
// it, or -1.
func skipLiteral(data []byte, i int) int {
	var word string
	switch data[i] {
	case 't':
		word = "true"
	case 'f':
		word = "false"
	default:
		word = "null"
	}
	if len(data)-i < len(word) || string(data[i:i+len(word)]) != word {
		return -1
	}
	return i + len(word)
}

// SkipValue reads the JSON value at data[i:], after white space, and
// returns the index after it. The value is inside depth containers, and
// may open MaxDepth-depth more: containers are read with an explicit
// stack, so that no input can exhaust the goroutine's. The error is
// ErrSyntax or ErrDepth.
func SkipValue(data []byte, i, depth int) (int, error) {
	var stack [MaxDepth/64 + 1]uint64 // bit n set: the n-th open container is an object
	n := 0                            // containers opened here
	for {
		// A value is expected at i.
		i = skipSpace(data, i)
		if i >= len(data) {
			return i, ErrSyntax
		}
		switch c := data[i]; c {
		case '"':
			i, _ = SkipString(data, i+1)
		case '{', '[':
			if depth+n >= MaxDepth {
				return i, ErrDepth
			}
			if c == '{' {
				stack[n>>6] |= 1 << (n & 63)
			} else {
				stack[n>>6] &^= 1 << (n & 63)
			}
			n++
			i = skipSpace(data, i+1)
			if i < len(data) && data[i] == c+2 { // '{'+2 == '}', '['+2 == ']'
				i++
				n--
			} else if c == '{' {
				if i = skipKey(data, i); i < 0 {
					return i, ErrSyntax
				}
				continue
			} else {
				continue
			}
		case 't', 'f', 'n':
			i = skipLiteral(data, i)
		default:
			i = skipNumber(data, i)
		}
		if i < 0 {
			return i, ErrSyntax
		}
		// After a value: close containers until one goes on.
		for {
			if n == 0 {
				return i, nil
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return i, ErrSyntax
			}
			obj := stack[(n-1)>>6]&(1<<((n-1)&63)) != 0
			c := data[i]
			if c == ',' {
				i++
				if obj {
					if i = skipKey(data, skipSpace(data, i)); i < 0 {
						return i, ErrSyntax
					}
				}
				break
			}
			if obj && c == '}' || !obj && c == ']' {
				i++
				n--
				continue
			}
			return i, ErrSyntax
		}
	}
}

// skipKey reads a key and its colon at i and returns the index after the
// colon, or -1.
func skipKey(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}
	i, _ = SkipString(data, i+1)
	if i < 0 {
		return -1
	}
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return -1
	}
	return i + 1
}

// nextRune decodes the rune of the string content raw (valid JSON string
// content, between the quotes) at i, as encoding/json decodes strings:
// escapes resolved, a UTF-16 surrogate pair joined, a lone surrogate and
// each byte of invalid UTF-8 read as U+FFFD. It returns the index after.
func nextRune(raw []byte, i int) (rune, int) {
	c := raw[i]
	if c < utf8.RuneSelf && c != '\\' {
		return rune(c), i + 1
	}
	if c != '\\' {
		r, size := utf8.DecodeRune(raw[i:])
		return r, i + size
	}
	switch raw[i+1] {
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
		r := hex4(raw[i+2 : i+6])
		if !utf16.IsSurrogate(r) {
			return r, i + 6
		}
		if i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
			if d := utf16.DecodeRune(r, hex4(raw[i+8:i+12])); d != unicode.ReplacementChar {
				return d, i + 12
			}
		}
		return unicode.ReplacementChar, i + 6
	default: // '"', '\\', '/'
		return rune(raw[i+1]), i + 2
	}
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unquote decodes string content raw as encoding/json would.
func unquote(raw []byte) string {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		var r rune
		r, i = nextRune(raw, i)
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}

// keyMatch compares the key content raw (escaped tells whether it holds
// a backslash) with name, an ASCII name: exact when the decoded key is
// name, folded when it differs from name but equals it under Unicode
// simple case folding (how encoding/json matches keys to struct fields,
// so that a Go client could read it as name).
func keyMatch(raw []byte, escaped bool, name string) (exact, folded bool) {
	// Most keys differ at once: no rune folds to an ASCII one in fewer
	// bytes (an escape takes more), and an ASCII first byte other than
	// a backslash is a whole rune.
	if len(raw) < len(name) || raw[0] < utf8.RuneSelf && raw[0] != '\\' && raw[0]|0x20 != name[0]|0x20 {
		return false, false
	}
	if !escaped && len(raw) == len(name) {
		if string(raw) == name {
			return true, false
		}
		ascii := true
		for i := 0; i < len(raw); i++ {
			c := raw[i]
			if c >= utf8.RuneSelf {
				ascii = false
				break
			}
			if lower(c) != lower(name[i]) {
				return false, false
			}
		}
		if ascii {
			return false, true
		}
	} else if !escaped && isASCII(raw) {
		return false, false // ASCII folds only to ASCII, of the same length
	}
	// The slow way, rune by rune.
	same, j := true, 0
	for i := 0; i < len(raw); j++ {
		var r rune
		r, i = nextRune(raw, i)
		if j >= len(name) {
			return false, false
		}
		c := rune(name[j])
		if r == c {
			continue
		}
		same = false
		if !foldEqual(r, c) {
			return false, false
		}
	}
	if j != len(name) {
		return false, false
	}
	return same, !same
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldEqual reports whether r and c are in the same orbit of Unicode
// simple case folding.
func foldEqual(r, c rune) bool {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f == c {
			return true
		}
	}
	return false
}

// FoldsTo reports whether key is not name but equal to it under Unicode
// case folding, as encoding/json matches keys to struct fields: a
// decoder of that kind would read it as name, so a check that reads name
// alone could be reading the wrong member. name is ASCII, not empty.
func FoldsTo(key []byte, name string) bool {
	return MayFold(key, name) && foldsToSlow(key, name)
}

// KeyFilter answers with one look-up whether a key may be one of a few
// names, or fold to one (MayFold): a reader that looks for those names
// among many keys lets the others go at once.
type KeyFilter [256]uint8 // by first byte (ORed with 0x20): the shortest name's length; 255 for none

// Set makes f the filter of names (ASCII, not empty).
func (f *KeyFilter) Set(names ...string) {
	for c := range f {
		f[c] = 255
		if c >= utf8.RuneSelf {
			f[c] = 0 // a multi-byte rune may fold to anything
		}
	}
	for _, n := range names {
		c := n[0] | 0x20
		f[c] = uint8(min(int(f[c]), len(n)))
	}
}

// May reports whether key may be one of f's names, or fold to one: false
// only when MayFold(key, name) is false for every name.
func (f *KeyFilter) May(key []byte) bool {
	return len(key) > 0 && len(key) >= int(f[key[0]|0x20])
}

// MayFold reports whether key may be name, or fold to it (FoldsTo): it is
// false for most keys, at the cost of a few comparisons inlined, and
// true for name itself. No rune folds to an ASCII one in fewer bytes, and
// an ASCII first byte is a whole rune. name is ASCII, not empty.
func MayFold(key []byte, name string) bool {
	return len(key) >= len(name) && (key[0]|0x20 == name[0]|0x20 || key[0] >= utf8.RuneSelf)
}

func foldsToSlow(key []byte, name string) bool {
	if len(key) == len(name) && string(key) == name {
		return false
	}
	i := 0
	for len(key) > 0 {
		if i == len(name) {
			return false
		}
		r, size := rune(key[0]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(key)
		}
		key = key[size:]
		c := rune(name[i])
		i++
		if r == c {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		if r == c {
			continue
		}
		if r < utf8.RuneSelf {
			return false
		}
		eq := false
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f == c || f == unicode.ToUpper(c) {
				eq = true
				break
			}
		}
		if !eq {
			return false
		}
	}
	return i == len(name)
}
