package dpop_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smartguard/smartguard/internal/dpop"
	"github.com/smartguard/smartguard/internal/dpoptest"
)

// sentinels are the reasons Verify may give.
var sentinels = []error{
	dpop.ErrTooLarge, dpop.ErrMalformed, dpop.ErrType, dpop.ErrAlgorithm, dpop.ErrCritical, dpop.ErrKey,
	dpop.ErrPrivateKey, dpop.ErrWeakKey, dpop.ErrSignature, dpop.ErrClaims, dpop.ErrJTI, dpop.ErrMethod,
	dpop.ErrURL, dpop.ErrStale, dpop.ErrFuture, dpop.ErrAccessTokenHash, dpop.ErrBinding,
}

// FuzzVerify checks that Verify never panics, that every refusal gives
// exactly one reason, and that what it accepts was signed by the key the
// request is bound to, for the request's method and URL.
func FuzzVerify(f *testing.F) {
	k := key("ES256")
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		p, err := key(alg).Proof(dpoptest.Claims("GET", testURL, testToken, testNow), nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p)
	}
	for _, s := range []string{"", "a.b.c", "e30.e30.AA", "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.AA", strings.Repeat(".", 5)} {
		f.Add(s)
	}
	v := verifier(f)
	f.Fuzz(func(t *testing.T, proof string) {
		req := request(k)
		p, err := v.Verify(proof, req)
		if err != nil {
			n := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("Verify error %v matches %d reasons, want 1", err, n)
			}
			return
		}
		if p.Thumbprint != k.Thumbprint || p.Method != "GET" || p.URL != testURL || p.JTI == "" {
			t.Fatalf("Verify accepted %+v", p)
		}
		if d := testNow.Sub(p.IssuedAt); d > 65*time.Second || d < -5*time.Second {
			t.Fatalf("Verify accepted iat %v", p.IssuedAt)
		}
	})
}

// FuzzNormalizeURL checks that NormalizeURL never panics and is
// idempotent, and that its result has no query or fragment.
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{testURL, "HTTPS://A:443", "http://a/%7e%2f?x#y", "https://[::1]:8/p q", "https://a/%", "https://a/%41%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := dpop.NormalizeURL(s)
		if err != nil {
			return
		}
		m, err := dpop.NormalizeURL(n)
		if err != nil || m != n {
			t.Fatalf("NormalizeURL(%q) = %q, then %q, %v", s, n, m, err)
		}
		if strings.ContainsAny(n, "?#") {
			t.Fatalf("NormalizeURL(%q) = %q holds a query or fragment", s, n)
		}
	})
}
