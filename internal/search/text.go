package search

import (
	"unicode"
	"unicode/utf8"
)

// String search in R4 is insensitive to case and to combining characters
// (accents): both sides are compared after fold. fold maps a rune to its
// lower case, drops combining marks (Unicode category Mn, as in a
// decomposed "e\u0301"), and maps the precomposed Latin letters of
// U+00C0–U+017F to their base letter ("é" → "e", "Ł" → "l"). Letters
// outside that block keep their accents: a search for "e" does not find
// "ế" (U+1EBF); it grants less, never more.

// latinBase holds, for U+00C0 to U+017F, the base letter, or 0 to keep the
// rune (Æ, ×, ß, Œ, ...).
var latinBase = [...]byte{
	// U+00C0
	'A', 'A', 'A', 'A', 'A', 'A', 0, 'C', 'E', 'E', 'E', 'E', 'I', 'I', 'I', 'I',
	'D', 'N', 'O', 'O', 'O', 'O', 'O', 0, 'O', 'U', 'U', 'U', 'U', 'Y', 0, 0,
	'a', 'a', 'a', 'a', 'a', 'a', 0, 'c', 'e', 'e', 'e', 'e', 'i', 'i', 'i', 'i',
	'd', 'n', 'o', 'o', 'o', 'o', 'o', 0, 'o', 'u', 'u', 'u', 'u', 'y', 0, 'y',
	// U+0100
	'A', 'a', 'A', 'a', 'A', 'a', 'C', 'c', 'C', 'c', 'C', 'c', 'C', 'c', 'D', 'd',
	'D', 'd', 'E', 'e', 'E', 'e', 'E', 'e', 'E', 'e', 'E', 'e', 'G', 'g', 'G', 'g',
	'G', 'g', 'G', 'g', 'H', 'h', 'H', 'h', 'I', 'i', 'I', 'i', 'I', 'i', 'I', 'i',
	'I', 'i', 0, 0, 'J', 'j', 'K', 'k', 0, 'L', 'l', 'L', 'l', 'L', 'l', 'L',
	'l', 'L', 'l', 'N', 'n', 'N', 'n', 'N', 'n', 0, 0, 0, 'O', 'o', 'O', 'o',
	'O', 'o', 0, 0, 'R', 'r', 'R', 'r', 'R', 'r', 'S', 's', 'S', 's', 'S', 's',
	'S', 's', 'T', 't', 'T', 't', 'T', 't', 'U', 'u', 'U', 'u', 'U', 'u', 'U', 'u',
	'U', 'u', 'U', 'u', 'W', 'w', 'Y', 'y', 'Y', 'Z', 'z', 'Z', 'z', 'Z', 'z', 's',
}

// fold returns the rune r compares as, or -1 for a rune to ignore.
func fold(r rune) rune {
	switch {
	case r < 'A':
		return r
	case r <= 'Z':
		return r + 'a' - 'A'
	case r < utf8.RuneSelf:
		return r
	case r >= 0xC0 && r <= 0x17F:
		if b := latinBase[r-0xC0]; b != 0 {
			r = rune(b)
		}
	case unicode.Is(unicode.Mn, r):
		return -1
	}
	return unicode.ToLower(r)
}

// foldIter yields the folded runes of a string.
type foldIter struct {
	s []byte
	i int
}

func (it *foldIter) next() (rune, bool) {
	for it.i < len(it.s) {
		r, size := rune(it.s[it.i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(it.s[it.i:])
		}
		it.i += size
		if f := fold(r); f >= 0 {
			return f, true
		}
	}
	return 0, false
}

// foldString returns the folded form of s.
func foldString(s string) string {
	it := foldIter{s: []byte(s)}
	out := make([]byte, 0, len(s))
	for {
		r, ok := it.next()
		if !ok {
			return string(out)
		}
		out = utf8.AppendRune(out, r)
	}
}

// foldHasPrefix reports whether value, folded, starts with the already
// folded want.
func foldHasPrefix(value []byte, want string) bool {
	it := foldIter{s: value}
	for _, w := range want {
		r, ok := it.next()
		if !ok || r != w {
			return false
		}
	}
	return true
}

// foldContains reports whether value, folded, contains the already folded
// want.
func foldContains(value []byte, want string) bool {
	if want == "" {
		return true
	}
	for start := 0; start < len(value); {
		if foldHasPrefix(value[start:], want) {
			return true
		}
		_, size := utf8.DecodeRune(value[start:])
		start += size
	}
	return false
}
