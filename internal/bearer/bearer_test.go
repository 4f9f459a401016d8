package bearer

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{name: "plain", in: "Bearer abc.def-ghi", want: "abc.def-ghi"},
		{name: "lower case scheme", in: "bearer abc", want: "abc"},
		{name: "upper case scheme", in: "BEARER abc", want: "abc"},
		{name: "several spaces", in: "Bearer   abc", want: "abc"},
		{name: "padding", in: "Bearer YWJj==", want: "YWJj=="},
		{name: "all token characters", in: "Bearer aZ09-._~+/=", want: "aZ09-._~+/="},
		{name: "empty", in: "", err: ErrNotBearer},
		{name: "basic", in: "Basic dXNlcjpwYXNz", err: ErrNotBearer},
		{name: "dpop", in: "DPoP abc", err: ErrNotBearer},
		{name: "scheme prefix", in: "Bearerx abc", err: ErrNotBearer},
		{name: "scheme alone", in: "Bearer", err: ErrMalformed},
		{name: "no token", in: "Bearer ", err: ErrMalformed},
		{name: "tab", in: "Bearer\tabc", err: ErrNotBearer},
		{name: "two tokens", in: "Bearer abc def", err: ErrMalformed},
		{name: "trailing space", in: "Bearer abc ", err: ErrMalformed},
		{name: "comma list", in: "Bearer abc, Bearer def", err: ErrMalformed},
		{name: "padding inside", in: "Bearer ab=c", err: ErrMalformed},
		{name: "only padding", in: "Bearer ==", err: ErrMalformed},
		{name: "quote", in: `Bearer "abc"`, err: ErrMalformed},
		{name: "non-ASCII", in: "Bearer abcé", err: ErrMalformed},
		{name: "control", in: "Bearer abc\x00", err: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Errorf("Parse(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _ = Parse("Bearer abc.def.ghi") }); n != 0 {
		t.Errorf("Parse allocates %v times", n)
	}
}

// FuzzParse checks that Parse and ParseDPoP never panic, that every token
// they accept is a b64token found at the end of the input, and that no
// input is both Bearer and DPoP credentials.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer  x==", "Basic x", "Bearer", "Bearer a b", "Bearer =", "BEARER ~+/", "DPoP a.b", "dpop  x=", "DPoP"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tok, err := Parse(in)
		dtok, derr := ParseDPoP(in)
		if err == nil && derr == nil {
			t.Fatalf("%q is both Bearer and DPoP credentials", in)
		}
		for _, c := range []struct {
			tok    string
			err    error
			scheme int
		}{{tok, err, len("Bearer ")}, {dtok, derr, len("DPoP ")}} {
			if c.err != nil {
				if c.tok != "" {
					t.Fatalf("%q: token %q with error %v", in, c.tok, c.err)
				}
				continue
			}
			if !grammar(c.tok) {
				t.Fatalf("%q: accepted %q, not a b64token", in, c.tok)
			}
			if len(in) < len(c.tok)+c.scheme || in[len(in)-len(c.tok):] != c.tok {
				t.Fatalf("%q: %q is not the tail of the input", in, c.tok)
			}
		}
	})
}

// grammar is an independent, slower statement of the b64token grammar.
func grammar(s string) bool {
	body := s
	for len(body) > 0 && body[len(body)-1] == '=' {
		body = body[:len(body)-1]
	}
	if body == "" {
		return false
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
	for _, r := range body {
		found := false
		for _, a := range alphabet {
			if r == a {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// FuzzValid checks Valid against the independent statement of the
// grammar, both ways, on strings long enough for its eight-at-a-time
// loop.
func FuzzValid(f *testing.F) {
	for _, s := range []string{"abcdefgh", "abcdefghij==", "abcdefg=h", "abcdefgh=========", "aaaaaaaa aaaaaaaa", "", "=", "a.b-c_d~e+f/g0123456789"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Valid(s) != grammar(s) {
			t.Fatalf("Valid(%q) = %v, the grammar says %v", s, Valid(s), grammar(s))
		}
	})
}

// FuzzCut checks that Cut is Parse without the check of the token's
// characters: Parse accepts what Cut returns when Valid holds of it.
func FuzzCut(f *testing.F) {
	for _, s := range []string{"Bearer abc", "Bearer  x==", "Basic x", "Bearer", "Bearer ", "Bearer a b", "Bearer a!b", "bearer ~+/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ptok, perr := Parse(in)
		ctok, cerr := Cut(in)
		switch {
		case cerr != nil:
			if !errors.Is(perr, cerr) || ptok != "" || ctok != "" {
				t.Fatalf("Cut(%q) = %q, %v; Parse %q, %v", in, ctok, cerr, ptok, perr)
			}
		case Valid(ctok):
			if perr != nil || ptok != ctok {
				t.Fatalf("Cut(%q) = %q, valid; Parse %q, %v", in, ctok, ptok, perr)
			}
		default:
			if !errors.Is(perr, ErrMalformed) || ctok == "" {
				t.Fatalf("Cut(%q) = %q, not valid; Parse %q, %v", in, ctok, ptok, perr)
			}
		}
	})
}

func TestParseDPoP(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{name: "plain", in: "DPoP abc.def-ghi", want: "abc.def-ghi"},
		{name: "any case", in: "dpop abc", want: "abc"},
		{name: "upper case", in: "DPOP abc=", want: "abc="},
		{name: "bearer", in: "Bearer abc", err: ErrNotDPoP},
		{name: "empty", in: "", err: ErrNotDPoP},
		{name: "scheme prefix", in: "DPoPx abc", err: ErrNotDPoP},
		{name: "scheme alone", in: "DPoP", err: ErrMalformed},
		{name: "no token", in: "DPoP ", err: ErrMalformed},
		{name: "two tokens", in: "DPoP abc def", err: ErrMalformed},
		{name: "comma list", in: "DPoP abc, Bearer def", err: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDPoP(tc.in)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Errorf("ParseDPoP(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}
