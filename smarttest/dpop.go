package smarttest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smartguard/smartguard/internal/dpoptest"
)

// DPoPKey is a client's DPoP key (RFC 9449): tokens are bound to it with
// BoundTo, and it signs the proof a request carries with such a token
// (Proof, Authorize). Test a handler behind a Guard whose issuer accepts
// DPoP-bound tokens (smartmw.Issuer.DPoP) like this:
//
//	key := smarttest.NewDPoPKey(t, "ES256")
//	tok := is.Token(t, smarttest.Scopes("user/*.rs"), smarttest.BoundTo(key))
//	r := httptest.NewRequest("GET", "https://fhir.example.org/r4/Patient/1", nil)
//	key.Authorize(t, r, tok) // Authorization: DPoP <tok>, DPoP: <proof>
type DPoPKey struct {
	k *dpoptest.Key
}

// NewDPoPKey generates a DPoP key whose proofs use alg: "ES256" (what
// Guards accept by default), "ES384", "ES512", "RS256", "PS256" (and their
// 384 and 512 forms, 2048-bit RSA), "EdDSA" or "Ed25519".
func NewDPoPKey(t testing.TB, alg string) *DPoPKey {
	t.Helper()
	k, err := dpoptest.NewKey(alg)
	if err != nil {
		t.Fatalf("smarttest: %v", err)
	}
	return &DPoPKey{k: k}
}

// Algorithm returns the algorithm of the key's proofs.
func (k *DPoPKey) Algorithm() string { return k.k.Alg }

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key:
// the cnf.jkt of the tokens bound to it.
func (k *DPoPKey) Thumbprint() string { return k.k.Thumbprint }

// PublicJWK returns the public key's JWK members, as its proofs' jwk
// header carries them.
func (k *DPoPKey) PublicJWK() map[string]string {
	out := make(map[string]string, len(k.k.JWK))
	for n, v := range k.k.JWK {
		out[n] = v
	}
	return out
}

// BoundTo binds the token to key: its "cnf" claim is {"jkt": the key's
// thumbprint} (RFC 9449 §6.1), so that it is accepted only with a proof
// signed by key, sent with the DPoP scheme.
func BoundTo(key *DPoPKey) TokenOption {
	return claim("cnf", map[string]any{"jkt": key.Thumbprint()})
}

// A ProofOption changes a proof minted by DPoPKey.Proof or
// DPoPKey.Authorize, most often to break it on purpose.
type ProofOption func(*proofSpec)

type proofSpec struct {
	claims map[string]any
	header map[string]any
}

// ProofNonce sets the proof's "nonce" claim: the DPoP-Nonce a Guard with
// nonces answered.
func ProofNonce(nonce string) ProofOption {
	return func(s *proofSpec) { s.claims["nonce"] = nonce }
}

// ProofIssuedAt sets the proof's "iat". Default: now.
func ProofIssuedAt(t time.Time) ProofOption {
	return func(s *proofSpec) { s.claims["iat"] = t.Unix() }
}

// ProofJTI sets the proof's "jti". Default: random.
func ProofJTI(jti string) ProofOption {
	return func(s *proofSpec) { s.claims["jti"] = jti }
}

// ProofClaim sets any claim of the proof ("htm", "htu", "ath", ...); a
// nil value removes it.
func ProofClaim(name string, v any) ProofOption {
	return func(s *proofSpec) {
		if v == nil {
			delete(s.claims, name)
			return
		}
		s.claims[name] = v
	}
}

// ProofHeader sets a JOSE header field of the proof ("typ", "alg",
// "jwk", ...); a nil value removes it.
func ProofHeader(name string, v any) ProofOption {
	return func(s *proofSpec) { s.header[name] = v } // nil: removed by Proof
}

// Proof returns a DPoP proof by the key for a request of method to url
// with the access token token: typ "dpop+jwt", the key's alg and public
// jwk, and the claims jti (random), htm (method), htu (url without its
// query and fragment), iat (now) and ath (the token's hash; none when
// token is ""), as opts change them.
func (k *DPoPKey) Proof(t testing.TB, method, url, token string, opts ...ProofOption) string {
	t.Helper()
	htu, _, _ := strings.Cut(url, "#")
	htu, _, _ = strings.Cut(htu, "?")
	s := proofSpec{claims: dpoptest.Claims(method, htu, token, time.Now()), header: map[string]any{}}
	for _, opt := range opts {
		opt(&s)
	}
	p, err := k.k.Proof(s.claims, s.header)
	if err != nil {
		t.Fatalf("smarttest: %v", err)
	}
	return p
}

// Authorize sets r's Authorization header to "DPoP <token>" and its DPoP
// header to a proof by the key for r's method and URL. The URL is r.URL
// when it is absolute (httptest.NewRequest given one), else https://,
// r.Host and r's path: it must be the URL of the FHIR base the Guard is
// configured with (smartmw.Issuer.Audience), followed by the path under
// it.
func (k *DPoPKey) Authorize(t testing.TB, r *http.Request, token string, opts ...ProofOption) {
	t.Helper()
	u := *r.URL
	if u.Scheme == "" || u.Host == "" {
		u.Scheme, u.Host = "https", r.Host
	}
	u.RawQuery, u.Fragment = "", ""
	r.Header.Set("Authorization", "DPoP "+token)
	r.Header.Set("DPoP", k.Proof(t, r.Method, u.String(), token, opts...))
}
