package dpop

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestThumbprintVectors checks the thumbprints of parseJWK against the
// published vectors (SPEC §10.3): RFC 9449's example EC key, whose
// thumbprint is the jkt of its examples, and RFC 7638 §3.1's RSA key.
// Members beyond the required ones, and their order, change nothing.
func TestThumbprintVectors(t *testing.T) {
	const rfc7638N = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	for _, tc := range []struct {
		name, alg, jwk, want string
	}{
		{"RFC 9449 EC key", "ES256",
			`{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}`,
			"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
		{"RFC 9449 EC key, escaped and decorated", "ES256",
			`{"y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","kid":"x","crv":"P\u002d256","kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs"}`,
			"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
		{"RFC 7638 RSA key", "RS256",
			`{"kty":"RSA","n":"` + rfc7638N + `","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`,
			"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got, err := parseJWK(json.RawMessage(tc.jwk), tc.alg, algorithms[tc.alg])
			if err != nil || got != tc.want {
				t.Errorf("thumbprint = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestParseJWKRefusesNonCanonical: one key, one thumbprint. An encoding
// of the same key that a lenient decoder would accept is refused, since
// its thumbprint (taken from the members as sent) would differ.
func TestParseJWKRefusesNonCanonical(t *testing.T) {
	const x, y = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs", "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"
	for _, tc := range []struct{ name, jwk string }{
		{"trailing bits set", `{"kty":"EC","crv":"P-256","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFt","y":"` + y + `"}`},
		{"standard base64", `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"9VE4jf/Ok/o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}`},
		{"leading zero byte", `{"kty":"EC","crv":"P-256","x":"AA` + x + `","y":"` + y + `"}`},
		{"RSA e with a leading zero", `{"kty":"RSA","n":"AQAB","e":"AAEAAQ"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alg := "ES256"
			if tc.name[:3] == "RSA" {
				alg = "RS256"
			}
			if _, _, err := parseJWK(json.RawMessage(tc.jwk), alg, algorithms[alg]); !errors.Is(err, ErrKey) {
				t.Errorf("parseJWK = %v, want ErrKey", err)
			}
		})
	}
}
