package middleware

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// claimsSeeds are JSON texts the decoder must read as encoding/json does:
// tokens' claims, escapes, surrogates, invalid UTF-8, numbers at their
// limits, repeated names, nesting.
var claimsSeeds = []string{
	`{"iss":"https://as.example.org","aud":["https://fhir.example.org/r4"],"exp":1733612345,"scope":"patient/*.rs openid","patient":"123"}`,
	`{}`, ` { } `, `null`, ` null `, `{"a":null,"b":true,"c":false,"d":[],"e":{},"f":[1,"x",null,{"g":[[]]}]}`,
	`{"a":"\u00e9\n\t\"\\\/\b\f\r","b":"\ud83d\ude00","c":"\ud83d","d":"\ude00x","e":"\ud83d\u0041","f":"\ufffd"}`,
	"{\"a\":\"\xff\",\"b\":\"caf\xc3\",\"\xfe\":1,\"c\":\"\xef\xbf\xbd\",\"d\":\"\xe2\x82\xac\"}",
	`{"n":[0,-0,1.5,-2.5e-3,1E400,1e-400,123456789012345678901234567890,0.1e1]}`,
	`{"a":1,"a":2,"b":{"x":1},"b":{"y":2}}`,
	`{"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	`[]`, `"x"`, `1`, `true`, `{"a":1}x`, `{"a" 1}`, `{"a":1,}`, `{`, `{"a":"\u12"}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}",
}

// FuzzDecodeClaims holds claimsDecoder to encoding/json. On any input
// that is JSON: the same map, an error where encoding/json has one (a
// number out of range, a value that is not an object), and U+FFFD noted
// exactly when some name or string of the text holds it once decoded, a
// value that a repeated name replaces included (the map alone would hide
// it); nesting past maxClaimsDepth is refused. On input that is not JSON
// (json.Valid false) it must fail: parseJWS gives it a token's decoded
// segments as they come, and nothing else checks them.
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range claimsSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := claimsDecoder{data: b}
		got, err := d.decode()
		if !json.Valid(b) {
			if err == nil {
				t.Fatalf("decoded %q, which is not JSON", b)
			}
			return
		}
		var want map[string]any
		wantErr := json.Unmarshal(b, &want)
		if err != nil {
			if wantErr == nil && depth(b) <= maxClaimsDepth {
				t.Fatalf("decode(%q): %v; encoding/json reads %v", b, err, want)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("decode(%q) = %v; encoding/json fails: %v", b, got, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decode(%q) = %#v; encoding/json reads %#v", b, got, want)
		}
		if d.replaced != anyReplaced(t, b) {
			t.Fatalf("decode(%q) notes U+FFFD %v; encoding/json's tokens hold it %v", b, d.replaced, !d.replaced)
		}
	})
}

// anyReplaced reports whether a name or string of JSON b, read token by
// token by encoding/json, holds U+FFFD.
func anyReplaced(t *testing.T, b []byte) bool {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if s, ok := tok.(string); ok && strings.ContainsRune(s, utf8.RuneError) {
			return true
		}
	}
}

// depth is the deepest nesting of objects and arrays in JSON b.
func depth(b []byte) int {
	n, most, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			n++
			most = max(most, n)
		case c == '}' || c == ']':
			n--
		}
	}
	return most
}

// TestDecodeClaimsReadsAsEncodingJSON runs the seeds as a test, and pins
// the cases that matter most by their result.
func TestDecodeClaimsReadsAsEncodingJSON(t *testing.T) {
	for _, s := range claimsSeeds {
		d := claimsDecoder{data: []byte(s)}
		got, err := d.decode()
		var want map[string]any
		wantErr := json.Unmarshal([]byte(s), &want)
		switch {
		case (err != nil) != (wantErr != nil):
			t.Errorf("%q: error %v, encoding/json's %v", s, err, wantErr)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Errorf("%q: %#v, encoding/json reads %#v", s, got, want)
		case err == nil && d.replaced != anyReplaced(t, []byte(s)):
			t.Errorf("%q: U+FFFD noted %v, in encoding/json's tokens %v", s, d.replaced, !d.replaced)
		}
	}
	for _, tc := range []struct {
		name, json string
		key        string
		want       any
		replaced   bool
	}{
		{"a repeated name takes its last value", `{"iss":"a","iss":"b"}`, "iss", "b", false},
		{"a surrogate pair is one character", `{"s":"\ud83d\ude00"}`, "s", "😀", false},
		{"a lone surrogate is U+FFFD", `{"s":"\ud83dx"}`, "s", "\ufffdx", true},
		{"invalid UTF-8 is U+FFFD", "{\"s\":\"a\xffb\"}", "s", "a\ufffdb", true},
		{"U+FFFD escaped is noted", `{"s":"\ufffd"}`, "s", "\ufffd", true},
		{"U+FFFD as it is is noted", "{\"s\":\"a\xef\xbf\xbdb\"}", "s", "a\ufffdb", true},
		{"other UTF-8 as it is is kept", `{"s":"café €"}`, "s", "café €", false},
		{"an escaped name", `{"https:\/\/example.org\/roles":["a"]}`, "https://example.org/roles", []any{"a"}, false},
		{"a name with invalid UTF-8 is noted", "{\"\xff\":1}", "\ufffd", 1.0, true},
		{"a value a repeated name replaces is noted", "{\"s\":\"\xff\",\"s\":\"ok\"}", "s", "ok", true},
		{"numbers are float64", `{"exp":1733612345}`, "exp", 1733612345.0, false},
		{"an empty array is not nil", `{"aud":[]}`, "aud", []any{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := claimsDecoder{data: []byte(tc.json)}
			m, err := d.decode()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m[tc.key], tc.want) || d.replaced != tc.replaced {
				t.Errorf("%s = %#v, U+FFFD noted %v; want %#v, %v", tc.key, m[tc.key], d.replaced, tc.want, tc.replaced)
			}
		})
	}
}

// TestDecodeClaimsRefuses: what is not an object of claims, or nests
// deeper than maxClaimsDepth, is an error.
func TestDecodeClaimsRefuses(t *testing.T) {
	deep := `{"a":` + strings.Repeat("[", maxClaimsDepth) + strings.Repeat("]", maxClaimsDepth) + `}`
	for _, s := range []string{`[]`, `"x"`, `1`, `true`, `{"a":1e400}`, deep, `{"a":1}{}`, ``, ` `} {
		d := claimsDecoder{data: []byte(s)}
		if m, err := d.decode(); err == nil {
			t.Errorf("%.40q decoded to %v", s, m)
		}
	}
	ok := `{"a":` + strings.Repeat("[", maxClaimsDepth-1) + strings.Repeat("]", maxClaimsDepth-1) + `}`
	if _, err := (&claimsDecoder{data: []byte(ok)}).decode(); err != nil {
		t.Errorf("%d levels refused: %v", maxClaimsDepth, err)
	}
}
