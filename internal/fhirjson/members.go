package fhirjson

import (
	"slices"
	"unicode"
	"unicode/utf8"
)

// Members reads the JSON object obj (white space around it allowed) in
// one pass and returns, for each of names, the span of its member's value
// in obj: zero when obj has no member of that name. Values are skipped,
// not decoded ([DecodeString] decodes a string).
//
// It refuses with ErrUnreadable what decoders could read differently:
//   - obj that is not an object;
//   - two keys equal, or equal under Unicode simple case folding
//     ("request" and "Request"), whether or not they are named: a decoder
//     that keeps the last, or matches keys to fields case-insensitively
//     (encoding/json into a struct does both), reads another member than
//     the first;
//   - a key that is not one of names but equals one under case folding
//     ("IfNoneExist" for ifNoneExist): such a decoder reads it as that name.
//
// Keys are compared as encoding/json decodes them: escapes resolved, each
// byte of invalid UTF-8 and each lone surrogate read as U+FFFD. names are
// ASCII. It fails with ErrSyntax for what encoding/json's Valid refuses,
// and with ErrDepth for obj nested deeper than MaxDepth (obj itself is
// the first level).
//
// Members allocates the result, and for an object of more than 16 keys
// one int per key to compare them.
func Members(obj []byte, names ...string) ([]Span, error) {
	i := skipSpace(obj, 0)
	if i >= len(obj) {
		return nil, ErrSyntax
	}
	if obj[i] != '{' {
		end, err := SkipValue(obj, i, 0)
		switch {
		case err != nil:
			return nil, err
		case skipSpace(obj, end) != len(obj):
			return nil, ErrSyntax
		}
		return nil, ErrUnreadable
	}
	spans := make([]Span, len(names))
	var small [16]int
	keys := small[:0] // where each key's opening quote is
	unreadable := false
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		i++
	} else {
		for {
			if i >= len(obj) || obj[i] != '"' {
				return nil, ErrSyntax
			}
			end, esc := SkipString(obj, i+1)
			if end < 0 {
				return nil, ErrSyntax
			}
			key := obj[i+1 : end-1]
			keys = append(keys, i)
			colon := skipSpace(obj, end)
			if colon >= len(obj) || obj[colon] != ':' {
				return nil, ErrSyntax
			}
			v := skipSpace(obj, colon+1)
			vend, err := SkipValue(obj, v, 1)
			if err != nil {
				return nil, err
			}
			for n, name := range names {
				exact, folded := keyMatch(key, esc, name)
				if exact {
					spans[n] = Span{v, vend} // a second one is refused below
				}
				unreadable = unreadable || folded
			}
			i = skipSpace(obj, vend)
			if i >= len(obj) {
				return nil, ErrSyntax
			}
			if obj[i] == '}' {
				i++
				break
			}
			if obj[i] != ',' {
				return nil, ErrSyntax
			}
			i = skipSpace(obj, i+1)
		}
	}
	if skipSpace(obj, i) != len(obj) {
		return nil, ErrSyntax
	}
	if unreadable || !distinctKeys(obj, keys) {
		return nil, ErrUnreadable
	}
	return spans, nil
}

// distinctKeys reports whether no two of the keys whose opening quotes are
// at keys in data are equal under Unicode simple case folding. It sorts
// keys.
func distinctKeys(data []byte, keys []int) bool {
	if len(keys) <= 16 {
		for a := 1; a < len(keys); a++ {
			for b := range a {
				if compareKeys(data, keys[a], keys[b]) == 0 {
					return false
				}
			}
		}
		return true
	}
	slices.SortFunc(keys, func(a, b int) int { return compareKeys(data, a, b) })
	for k := 1; k < len(keys); k++ {
		if compareKeys(data, keys[k-1], keys[k]) == 0 {
			return false
		}
	}
	return true
}

// compareKeys compares the keys whose opening quotes are at a and b in
// data, as the sequences of their runes folded (foldMin): 0 when they are
// equal under Unicode simple case folding.
func compareKeys(data []byte, a, b int) int {
	ea, _ := SkipString(data, a+1)
	eb, _ := SkipString(data, b+1)
	ka, kb := data[a+1:ea-1], data[b+1:eb-1]
	i, j := 0, 0
	for i < len(ka) && j < len(kb) {
		var ra, rb rune
		ra, i = nextRune(ka, i)
		rb, j = nextRune(kb, j)
		if ra, rb = foldMin(ra), foldMin(rb); ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
	}
	switch {
	case i < len(ka):
		return 1
	case j < len(kb):
		return -1
	}
	return 0
}

// foldMin returns the least rune of r's orbit under Unicode simple case
// folding: two runes are equal under folding when their foldMin are.
func foldMin(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - ('a' - 'A') // 'K' < 'k' < U+212A KELVIN SIGN; 'S' < 's' < U+017F
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

// DecodeString decodes v, one JSON value (as Members returns them) or
// nothing, as encoding/json decodes a value into a Go string: a string's
// content with its escapes resolved (each byte of invalid UTF-8 and each
// lone surrogate read as U+FFFD); "" for null and for nothing (an absent
// member). ok is false for another value.
func DecodeString(v []byte) (s string, ok bool) {
	switch {
	case len(v) == 0:
		return "", true
	case v[0] == 'n':
		return "", string(v) == "null"
	case v[0] != '"':
		return "", false
	}
	end, esc := SkipString(v, 1)
	if end != len(v) {
		return "", false
	}
	raw := v[1 : end-1]
	if esc || !utf8.Valid(raw) {
		return unquote(raw), true
	}
	return string(raw), true
}
