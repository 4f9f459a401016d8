package devauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

const testTokenEndpoint = "http://127.0.0.1:8080/auth/token"

func newChecker(t *testing.T, replays Replays) *ProofChecker {
	t.Helper()
	if replays == nil {
		replays = smartmw.NewMemoryStore(0)
	}
	c, err := NewProofChecker(ProofConfig{TokenEndpoint: testTokenEndpoint, Replays: replays})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tokenRequest is a POST to the token endpoint with the DPoP headers
// given.
func tokenRequest(proofs ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, testTokenEndpoint, strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return r
}

// TestProofCheckerRefusesWhatRFC9449Refuses: every check of RFC 9449
// §4.3 that applies at a token endpoint refuses with invalid_dpop_proof,
// and a good proof gives its key's thumbprint.
func TestProofCheckerRefusesWhatRFC9449Refuses(t *testing.T) {
	key := smarttest.NewDPoPKey(t, "ES256")
	now := time.Now()
	tests := []struct {
		name  string
		proof func() []string
		want  string // "" for accepted
	}{
		{"good proof", func() []string { return []string{key.Proof(t, "POST", testTokenEndpoint, "")} }, ""},
		{"htu with a query and another case of host", func() []string {
			return []string{key.Proof(t, "POST", testTokenEndpoint, "", smarttest.ProofClaim("htu", "HTTP://127.0.0.1:8080/auth/token?x=1"))}
		}, ""},
		{"two DPoP headers", func() []string {
			return []string{key.Proof(t, "POST", testTokenEndpoint, ""), key.Proof(t, "POST", testTokenEndpoint, "")}
		}, "more than one"},
		{"another method", func() []string { return []string{key.Proof(t, "GET", testTokenEndpoint, "")} }, "htm"},
		{"another URL", func() []string { return []string{key.Proof(t, "POST", "http://127.0.0.1:8080/auth/revoke", "")} }, "htu"},
		{"another port", func() []string { return []string{key.Proof(t, "POST", "http://127.0.0.1:8081/auth/token", "")} }, "htu"},
		{"stale", func() []string {
			return []string{key.Proof(t, "POST", testTokenEndpoint, "", smarttest.ProofIssuedAt(now.Add(-2*time.Minute)))}
		}, "iat too old"},
		{"future", func() []string {
			return []string{key.Proof(t, "POST", testTokenEndpoint, "", smarttest.ProofIssuedAt(now.Add(2*time.Minute)))}
		}, "future"},
		{"no jti", func() []string {
			return []string{key.Proof(t, "POST", testTokenEndpoint, "", smarttest.ProofClaim("jti", nil))}
		}, "missing"},
		{"jti too long", func() []string {
			return []string{key.Proof(t, "POST", testTokenEndpoint, "", smarttest.ProofJTI(strings.Repeat("j", 257)))}
		}, "jti too long"},
		{"typ JWT", func() []string {
			return []string{key.Proof(t, "POST", testTokenEndpoint, "", smarttest.ProofHeader("typ", "JWT"))}
		}, "typ"},
		{"no jwk", func() []string {
			return []string{key.Proof(t, "POST", testTokenEndpoint, "", smarttest.ProofHeader("jwk", nil))}
		}, "jwk"},
		{"private jwk", func() []string {
			jwk := map[string]any{"d": "AAAA"}
			for k, v := range key.PublicJWK() {
				jwk[k] = v
			}
			return []string{key.Proof(t, "POST", testTokenEndpoint, "", smarttest.ProofHeader("jwk", jwk))}
		}, "private key"},
		{"another key's jwk", func() []string {
			other := smarttest.NewDPoPKey(t, "ES256").PublicJWK()
			return []string{key.Proof(t, "POST", testTokenEndpoint, "", smarttest.ProofHeader("jwk", other))}
		}, "signature"},
		{"RS256, not accepted", func() []string {
			return []string{smarttest.NewDPoPKey(t, "RS256").Proof(t, "POST", testTokenEndpoint, "")}
		}, "signing method"},
		{"crit", func() []string {
			return []string{key.Proof(t, "POST", testTokenEndpoint, "", smarttest.ProofHeader("crit", []string{"x"}))}
		}, "crit"},
		{"not a JWT", func() []string { return []string{"not.a.jwt"} }, "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jkt, err := newChecker(t, nil).Check(tokenRequest(tc.proof()...))
			if tc.want == "" {
				if err != nil || jkt != key.Thumbprint() {
					t.Fatalf("Check = %q, %v; want %q", jkt, err, key.Thumbprint())
				}
				return
			}
			var te *TokenError
			if !errors.As(err, &te) || te.Code != "invalid_dpop_proof" || te.Status != 400 || !strings.Contains(te.Description, tc.want) || jkt != "" {
				t.Fatalf("Check = %q, %v; want invalid_dpop_proof mentioning %q", jkt, err, tc.want)
			}
		})
	}
}

func TestProofCheckerUsesEachProofOnce(t *testing.T) {
	c := newChecker(t, nil)
	key := smarttest.NewDPoPKey(t, "ES256")
	proof := key.Proof(t, "POST", testTokenEndpoint, "")
	if jkt, err := c.Check(tokenRequest(proof)); err != nil || jkt != key.Thumbprint() {
		t.Fatalf("first use: %q, %v", jkt, err)
	}
	if _, err := c.Check(tokenRequest(proof)); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("replay: %v, want refused", err)
	}
	if jkt, err := c.Check(tokenRequest()); jkt != "" || err != nil {
		t.Errorf("no proof: %q, %v; want no binding and no error", jkt, err)
	}
}

type failingReplays struct{}

func (failingReplays) Add(context.Context, string, time.Duration) (bool, error) {
	return false, errors.New("store down")
}

// TestProofCheckerFailsClosedWithoutItsStore: a proof that cannot be
// recorded gets no token (503), however good.
func TestProofCheckerFailsClosedWithoutItsStore(t *testing.T) {
	key := smarttest.NewDPoPKey(t, "ES256")
	jkt, err := newChecker(t, failingReplays{}).Check(tokenRequest(key.Proof(t, "POST", testTokenEndpoint, "")))
	var te *TokenError
	if !errors.As(err, &te) || te.Status != 503 || jkt != "" {
		t.Fatalf("Check = %q, %v; want 503", jkt, err)
	}
}

func TestNewProofCheckerRefusesBadConfig(t *testing.T) {
	for _, cfg := range []ProofConfig{
		{TokenEndpoint: "/auth/token", Replays: smartmw.NewMemoryStore(0)},
		{TokenEndpoint: testTokenEndpoint},
		{TokenEndpoint: testTokenEndpoint, Replays: smartmw.NewMemoryStore(0), Algorithms: []string{"HS256"}},
		{TokenEndpoint: testTokenEndpoint, Replays: smartmw.NewMemoryStore(0), Algorithms: []string{"RS256"}},
	} {
		if _, err := NewProofChecker(cfg); err == nil {
			t.Errorf("NewProofChecker(%+v): no error", cfg)
		}
	}
}

// TestThumbprintVector: RFC 9449's example key has the jkt of its
// example (recomputed in SPEC.md §10.3).
func TestThumbprintVector(t *testing.T) {
	got := Thumbprint("P-256", "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs", "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA")
	if want := "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"; got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
}
