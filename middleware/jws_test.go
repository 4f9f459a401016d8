package middleware

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// jwsAlgorithms are the algorithms the parser under test allows.
var jwsAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// refParse is what verify did before parseJWS: jwt.Parser's
// ParseUnverified with strict decoding, then its check of the algorithm
// (WithValidMethods), as ParseWithClaims makes them.
func refParse(token string) (*jwt.Token, error) {
	p := jwt.NewParser(jwt.WithStrictDecoding())
	t, _, err := p.ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		return nil, err
	}
	if alg := t.Method.Alg(); !contains(jwsAlgorithms, alg) {
		return nil, jwt.ErrTokenSignatureInvalid
	}
	return t, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// errKind is which of jwt's kinds err is.
func errKind(err error) error {
	for _, k := range []error{jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid} {
		if errors.Is(err, k) {
			return k
		}
	}
	return err
}

// stricter reports why parseJWS may refuse what jwt.Parser reads: a
// header or claims that are not UTF-8 (the claims are then refused by
// Validate, not here), or JSON nested more than maxClaimsDepth.
func stricter(token string) bool {
	h64, rest, _ := strings.Cut(token, ".")
	p64, _, _ := strings.Cut(rest, ".")
	for _, seg := range []string{h64, p64} {
		b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
		if err == nil && (!utf8.Valid(b) || strings.Contains(string(b), `\u`) || depth(b) > maxClaimsDepth) {
			return true
		}
	}
	return false
}

// FuzzParseJWS holds parseJWS to jwt.Parser: where both read a token,
// the same algorithm, header, claims and signature; where both refuse
// it, the same kind of error (malformed, unverifiable, signature); where
// only one reads it, parseJWS refuses and stricter says why.
func FuzzParseJWS(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, tc := range [][3]string{
		{`{"alg":"RS256","typ":"at+jwt","kid":"k1"}`, `{"iss":"https://as.example.org","exp":9999999999,"scope":"patient/*.rs"}`, "sig"},
		{`{"alg":"none"}`, `{}`, ""},
		{`{"alg":"HS256"}`, `{}`, "x"},
		{`{"alg":"RS384"}`, `{}`, "x"},
		{`{"alg":"XX1"}`, `{}`, "x"},
		{`{"typ":"JWT"}`, `{}`, "x"},
		{`null`, `null`, "x"},
		{`{"alg":1}`, `[]`, "x"},
		{`{"alg":"ES256","alg":"RS256"}`, "{\"s\":\"\xff\"}", "x"},
		{`{"alg":"EdDSA"}`, `{"a":{"b":[1,2,{"c":null}]}}`, "x"},
	} {
		f.Add(enc([]byte(tc[0])) + "." + enc([]byte(tc[1])) + "." + enc([]byte(tc[2])))
	}
	for _, raw := range []string{"", ".", "..", "a.b.c", "a.b.c.d", "eyJhbGciOiJSUzI1NiJ9.e30.", "eyJhbGciOiJSUzI1NiJ9.e30.=", "eyJhbGciOiJSUzI1NiJ9.e30.AB"} {
		f.Add(raw)
	}
	g := &Guard{parser: jwt.NewParser(jwt.WithStrictDecoding()), algorithms: jwsAlgorithms}
	f.Fuzz(func(t *testing.T, token string) {
		got, pl, err := g.parseJWS(token)
		want, wantErr := refParse(token)
		switch {
		case err == nil && wantErr == nil:
			if got.Method != want.Method || !reflect.DeepEqual(got.Header, want.Header) ||
				!reflect.DeepEqual(map[string]any(pl.MapClaims), map[string]any(want.Claims.(jwt.MapClaims))) ||
				string(got.Signature) != string(want.Signature) || got.Raw != token {
				t.Fatalf("%q: parseJWS reads %v %v %v; jwt.Parser %v %v %v", token, got.Method, got.Header, pl.MapClaims, want.Method, want.Header, want.Claims)
			}
		case err != nil && wantErr != nil:
			if errKind(err) != errKind(wantErr) && !stricter(token) {
				t.Fatalf("%q: parseJWS refuses it %v; jwt.Parser %v", token, err, wantErr)
			}
		case err != nil:
			if !stricter(token) {
				t.Fatalf("%q: parseJWS refuses it (%v); jwt.Parser reads it", token, err)
			}
		default:
			t.Fatalf("%q: parseJWS reads it; jwt.Parser refuses it: %v", token, wantErr)
		}
	})
}

// TestParseJWSRefuses pins the refusals that matter, each with jwt's kind
// of error, as describe names them to the client.
func TestParseJWSRefuses(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	tok := func(h, p string) string { return enc([]byte(h)) + "." + enc([]byte(p)) + ".c2ln" }
	g := &Guard{parser: jwt.NewParser(jwt.WithStrictDecoding()), algorithms: jwsAlgorithms}
	for _, tc := range []struct {
		name, token string
		want        error
	}{
		{"two segments", "eyJhbGciOiJSUzI1NiJ9.e30", jwt.ErrTokenMalformed},
		{"four segments", tok(`{"alg":"RS256"}`, `{}`) + ".x", jwt.ErrTokenMalformed},
		{"a JWE's five segments", "a.b.c.d.e", jwt.ErrTokenMalformed},
		{"padding", enc([]byte(`{"alg":"RS256"}`)) + "=.e30.c2ln", jwt.ErrTokenMalformed},
		{"trailing bits set", strings.TrimSuffix(enc([]byte(`{"alg":"RS256"}`)), "9") + "-.e30.c2ln", jwt.ErrTokenMalformed},
		{"a header that is not JSON", enc([]byte(`{"alg":"RS256"`)) + ".e30.c2ln", jwt.ErrTokenMalformed},
		{"a header that is not UTF-8", tok("{\"alg\":\"RS256\",\"kid\":\"\xff\"}", `{}`), jwt.ErrTokenMalformed},
		{"claims that are not JSON", tok(`{"alg":"RS256"}`, `{"a":}`), jwt.ErrTokenMalformed},
		{"claims that are an array", tok(`{"alg":"RS256"}`, `[]`), jwt.ErrTokenMalformed},
		{"no alg", tok(`{"typ":"JWT"}`, `{}`), jwt.ErrTokenUnverifiable},
		{"an alg that is not a string", tok(`{"alg":["RS256"]}`, `{}`), jwt.ErrTokenUnverifiable},
		{"an unknown alg", tok(`{"alg":"RS1"}`, `{}`), jwt.ErrTokenUnverifiable},
		{"alg none", tok(`{"alg":"none"}`, `{}`), jwt.ErrTokenSignatureInvalid},
		{"HMAC", tok(`{"alg":"HS256"}`, `{}`), jwt.ErrTokenSignatureInvalid},
		{"a known alg not allowed", tok(`{"alg":"PS256"}`, `{}`), jwt.ErrTokenSignatureInvalid},
		{"a signature that is not base64url", tok(`{"alg":"RS256"}`, `{}`) + "!", jwt.ErrTokenMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := g.parseJWS(tc.token); !errors.Is(err, tc.want) {
				t.Errorf("%q: %v, want %v", tc.token, err, tc.want)
			}
		})
	}
}
