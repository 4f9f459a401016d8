package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"testing"
	"time"
)

// TestMaxAge: Cache-Control max-age decides when a JWKS is fetched again,
// within [lo, MaxMaxAge]; no-store and no-cache mean lo; no or a bad
// directive means the default.
func TestMaxAge(t *testing.T) {
	const lo, def = time.Minute, time.Hour
	tests := []struct {
		name string
		cc   []string
		want time.Duration
	}{
		{"absent", nil, def},
		{"max-age", []string{"max-age=600"}, 10 * time.Minute},
		{"with other directives", []string{"public, max-age=7200, must-revalidate"}, 2 * time.Hour},
		{"quoted", []string{`max-age="120"`}, 2 * time.Minute},
		{"case", []string{"Max-Age=120"}, 2 * time.Minute},
		{"below the bound", []string{"max-age=5"}, lo},
		{"zero", []string{"max-age=0"}, lo},
		{"above the bound", []string{"max-age=31536000"}, MaxMaxAge},
		{"huge", []string{"max-age=99999999999999999999"}, def},
		{"no-store", []string{"no-store"}, lo},
		{"no-cache wins over max-age", []string{"max-age=600, no-cache"}, lo},
		{"malformed", []string{"max-age=soon"}, def},
		{"negative", []string{"max-age=-1"}, def},
		{"two headers", []string{"public", "max-age=300"}, 5 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.cc {
				h.Add("Cache-Control", v)
			}
			if got := MaxAge(h, lo, def); got != tc.want {
				t.Errorf("MaxAge(%q) = %v, want %v", tc.cc, got, tc.want)
			}
		})
	}
}

// TestBind: a JWK with "alg" verifies that algorithm only (and only when
// allowed and fitting); one without is bound to the first allowed
// algorithm its key type fits.
func TestBind(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	def := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	tests := []struct {
		name   string
		key    any
		jwkAlg string
		algs   []string
		want   string
		ok     bool
	}{
		{"RSA without alg, default list", &rk.PublicKey, "", def, "RS256", true},
		{"RSA without alg, PS first", &rk.PublicKey, "", []string{"ES256", "PS384", "RS256"}, "PS384", true},
		{"RSA with alg", &rk.PublicKey, "PS256", def, "PS256", true},
		{"RSA with alg not allowed", &rk.PublicKey, "PS256", []string{"RS256"}, "", false},
		{"RSA with an EC alg", &rk.PublicKey, "ES256", def, "", false},
		{"RSA without an RSA algorithm allowed", &rk.PublicKey, "", []string{"ES256"}, "", false},
		{"P-384 without alg", &ek.PublicKey, "", def, "ES384", true},
		{"P-384 with ES256", &ek.PublicKey, "ES256", def, "", false},
		{"Ed25519 without alg", pub, "", def, "EdDSA", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Bind(tc.key, tc.jwkAlg, tc.algs)
			if ok != tc.ok || ok && got != tc.want {
				t.Errorf("Bind = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
