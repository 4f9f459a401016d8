package dpop_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/internal/dpop"
	"github.com/smartguard/smartguard/internal/dpoptest"
)

const (
	testURL   = "https://fhir.example.org/r4/Patient/1"
	testToken = "access.token.value"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var keys = sync.OnceValue(func() map[string]*dpoptest.Key {
	m := map[string]*dpoptest.Key{}
	for _, alg := range []string{"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA", "Ed25519"} {
		k, err := dpoptest.NewKey(alg)
		if err != nil {
			panic(err)
		}
		m[alg] = k
	}
	return m
})

func key(alg string) *dpoptest.Key { return keys()[alg] }

func verifier(t testing.TB) *dpop.Verifier {
	t.Helper()
	v, err := dpop.NewVerifier(dpop.Options{
		Algorithms: []string{"ES256", "ES384", "RS256", "PS256", "EdDSA", "Ed25519"},
		MaxAge:     60 * time.Second,
		Leeway:     5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func request(k *dpoptest.Key) dpop.Request {
	return dpop.Request{Method: "GET", URL: testURL, AccessToken: testToken, Thumbprint: k.Thumbprint, Now: testNow}
}

// proofCase builds one proof by k, whose claims and header are changed
// by the case, and checks it against a request the case may change.
type proofCase struct {
	name    string
	alg     string // default ES256
	claims  map[string]any
	header  map[string]any
	raw     func(t *testing.T, k *dpoptest.Key) string // replaces the signed proof
	request func(*dpop.Request)
	want    error // nil: accepted
}

func (tc proofCase) run(t *testing.T, v *dpop.Verifier) {
	alg := tc.alg
	if alg == "" {
		alg = "ES256"
	}
	k := key(alg)
	var proof string
	if tc.raw != nil {
		proof = tc.raw(t, k)
	} else {
		c := dpoptest.Claims("GET", testURL, testToken, testNow)
		for n, val := range tc.claims {
			if val == nil {
				delete(c, n)
			} else {
				c[n] = val
			}
		}
		var err error
		if proof, err = k.Proof(c, tc.header); err != nil {
			t.Fatal(err)
		}
	}
	req := request(k)
	if tc.request != nil {
		tc.request(&req)
	}
	p, err := v.Verify(proof, req)
	switch {
	case tc.want == nil && err != nil:
		t.Fatalf("Verify refused a good proof: %v", err)
	case tc.want != nil && !errors.Is(err, tc.want):
		t.Fatalf("Verify = %v, want %v", err, tc.want)
	case tc.want == nil && (p.Thumbprint != k.Thumbprint || p.JTI == "" || p.Method != req.Method || p.URL != req.URL):
		t.Fatalf("Verify returned %+v", p)
	}
}

func TestVerifyAcceptsGoodProofs(t *testing.T) {
	v := verifier(t)
	for _, tc := range []proofCase{
		{name: "ES256"},
		{name: "ES384", alg: "ES384"},
		{name: "RS256", alg: "RS256"},
		{name: "PS256", alg: "PS256"},
		{name: "EdDSA", alg: "EdDSA"},
		{name: "Ed25519 (RFC 9864 name)", alg: "Ed25519"},
		{name: "typ in upper case", header: map[string]any{"typ": "DPOP+JWT"}},
		{name: "typ with application/", header: map[string]any{"typ": "application/dpop+jwt"}},
		{name: "with a nonce", claims: map[string]any{"nonce": "n-1"}},
		{name: "other claims", claims: map[string]any{"extra": []int{1}}},
		{name: "jwk with kid, use and alg", header: map[string]any{"jwk": withMembers(key("ES256"), map[string]any{"kid": "k", "use": "sig", "alg": "ES256", "ext": true})}},
		{name: "iat at the oldest", claims: map[string]any{"iat": testNow.Add(-65 * time.Second).Unix()}},
		{name: "iat at the leeway", claims: map[string]any{"iat": testNow.Add(5 * time.Second).Unix()}},
		{name: "iat with a fraction", claims: map[string]any{"iat": float64(testNow.Unix()) + 0.5}},
		{name: "jti at the bound", claims: map[string]any{"jti": strings.Repeat("j", dpop.MaxJTILength)}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, v) })
	}
}

// withMembers returns k's jwk with the members of extra added (a nil
// value removes one).
func withMembers(k *dpoptest.Key, extra map[string]any) map[string]any {
	jwk := map[string]any{}
	for n, v := range k.JWK {
		jwk[n] = v
	}
	for n, v := range extra {
		if v == nil {
			delete(jwk, n)
		} else {
			jwk[n] = v
		}
	}
	return jwk
}

// TestVerifyRefuses holds one case per check of RFC 9449 §4.3 (and the
// binding of §6, §7): each proof fails that check only.
func TestVerifyRefuses(t *testing.T) {
	v := verifier(t)
	ec := key("ES256")
	other := key("ES384")
	for _, tc := range []proofCase{
		// 2. one well-formed JWT
		{name: "two parts", raw: func(t *testing.T, k *dpoptest.Key) string { return "a.b" }, want: dpop.ErrMalformed},
		{name: "four parts", raw: func(t *testing.T, k *dpoptest.Key) string { return good(t, k) + ".x" }, want: dpop.ErrMalformed},
		{name: "empty signature", raw: func(t *testing.T, k *dpoptest.Key) string {
			p := good(t, k)
			return p[:strings.LastIndexByte(p, '.')+1]
		}, want: dpop.ErrMalformed},
		{name: "padded base64", raw: func(t *testing.T, k *dpoptest.Key) string {
			parts := strings.Split(good(t, k), ".")
			return parts[0] + "=." + parts[1] + "." + parts[2]
		}, want: dpop.ErrMalformed},
		{name: "header not an object", raw: func(t *testing.T, k *dpoptest.Key) string {
			parts := strings.Split(good(t, k), ".")
			return b64("[1]") + "." + parts[1] + "." + parts[2]
		}, want: dpop.ErrMalformed},
		{name: "claims not UTF-8", raw: func(t *testing.T, k *dpoptest.Key) string {
			parts := strings.Split(good(t, k), ".")
			return parts[0] + "." + b64("{\"jti\":\"\xff\"}") + "." + parts[2]
		}, want: dpop.ErrMalformed},
		{name: "too large", claims: map[string]any{"pad": strings.Repeat("x", dpop.MaxSize)}, want: dpop.ErrTooLarge},
		// 3. required claims
		{name: "no jti", claims: map[string]any{"jti": nil}, want: dpop.ErrClaims},
		{name: "empty jti", claims: map[string]any{"jti": ""}, want: dpop.ErrClaims},
		{name: "jti a number", claims: map[string]any{"jti": 7}, want: dpop.ErrClaims},
		{name: "no htm", claims: map[string]any{"htm": nil}, want: dpop.ErrClaims},
		{name: "no htu", claims: map[string]any{"htu": nil}, want: dpop.ErrClaims},
		{name: "no iat", claims: map[string]any{"iat": nil}, want: dpop.ErrClaims},
		{name: "iat a string", claims: map[string]any{"iat": "1772366400"}, want: dpop.ErrClaims},
		{name: "no ath", claims: map[string]any{"ath": nil}, want: dpop.ErrClaims},
		{name: "nonce a number", claims: map[string]any{"nonce": 1}, want: dpop.ErrClaims},
		{name: "jti too long", claims: map[string]any{"jti": strings.Repeat("j", dpop.MaxJTILength+1)}, want: dpop.ErrJTI},
		// 4. typ
		{name: "no typ", header: map[string]any{"typ": nil}, want: dpop.ErrType},
		{name: "typ JWT", header: map[string]any{"typ": "JWT"}, want: dpop.ErrType},
		{name: "typ at+jwt", header: map[string]any{"typ": "at+jwt"}, want: dpop.ErrType},
		{name: "typ not a string", header: map[string]any{"typ": 1}, want: dpop.ErrType},
		// 5. alg
		{name: "alg none", raw: func(t *testing.T, k *dpoptest.Key) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, header(k, "none"), claims())
		}, want: dpop.ErrMalformed}, // an empty signature: not even a JWS to look into
		{name: "alg none with a signature", raw: func(t *testing.T, k *dpoptest.Key) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, header(k, "none"), claims()) + "AAAA"
		}, want: dpop.ErrAlgorithm},
		{name: "alg HS256 with a secret", raw: func(t *testing.T, k *dpoptest.Key) string {
			h := header(k, "HS256")
			h["jwk"] = map[string]any{"kty": "oct", "k": b64("secret")}
			return sign(t, jwt.SigningMethodHS256, []byte("secret"), h, claims())
		}, want: dpop.ErrAlgorithm},
		{name: "alg HS256 keyed with the public key", raw: func(t *testing.T, k *dpoptest.Key) string {
			return sign(t, jwt.SigningMethodHS256, []byte(k.JWK["x"]+k.JWK["y"]), header(k, "HS256"), claims())
		}, want: dpop.ErrAlgorithm},
		{name: "alg not allowed here", alg: "ES512", want: dpop.ErrAlgorithm},
		{name: "alg not a string", header: map[string]any{"alg": 256}, want: dpop.ErrAlgorithm},
		{name: "crit", header: map[string]any{"crit": []string{"exp"}}, want: dpop.ErrCritical},
		// 6. signature with jwk
		{name: "claims changed after signing", raw: func(t *testing.T, k *dpoptest.Key) string {
			parts := strings.Split(good(t, k), ".")
			c := claims()
			c["jti"] = "changed"
			return parts[0] + "." + b64(mustJSON(t, c)) + "." + parts[2]
		}, want: dpop.ErrSignature},
		{name: "signed by another key than jwk", raw: func(t *testing.T, k *dpoptest.Key) string {
			impostor, _ := dpoptest.NewKey("ES256")
			return sign(t, jwt.SigningMethodES256, impostor.Signer, header(k, "ES256"), claims())
		}, want: dpop.ErrSignature},
		{name: "RS256 signature under PS256", alg: "RS256", raw: func(t *testing.T, k *dpoptest.Key) string {
			p, _ := k.Proof(claims(), map[string]any{"alg": "PS256"})
			return p
		}, want: dpop.ErrSignature},
		// 7. jwk: a public key of alg's type
		{name: "no jwk", header: map[string]any{"jwk": nil}, want: dpop.ErrKey},
		{name: "jwk a string", header: map[string]any{"jwk": "key"}, want: dpop.ErrKey},
		{name: "jwk with d", header: map[string]any{"jwk": withMembers(ec, map[string]any{"d": b64(string(make([]byte, 32)))})}, want: dpop.ErrPrivateKey},
		{name: "RSA jwk with p and q", alg: "RS256", header: map[string]any{"jwk": withMembers(key("RS256"), map[string]any{"p": "AQAB", "q": "AQAB"})}, want: dpop.ErrPrivateKey},
		{name: "jwk oct", header: map[string]any{"jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}}, want: dpop.ErrPrivateKey},
		{name: "jwk of another kty", header: map[string]any{"jwk": withMembers(key("RS256"), nil)}, want: dpop.ErrKey},
		{name: "jwk of another curve", header: map[string]any{"jwk": withMembers(other, nil)}, want: dpop.ErrKey},
		{name: "jwk point not on the curve", header: map[string]any{"jwk": withMembers(ec, map[string]any{"y": ec.JWK["x"]})}, want: dpop.ErrKey},
		{name: "jwk coordinate short", header: map[string]any{"jwk": withMembers(ec, map[string]any{"x": ec.JWK["x"][2:]})}, want: dpop.ErrKey},
		{name: "jwk coordinate padded", header: map[string]any{"jwk": withMembers(ec, map[string]any{"x": ec.JWK["x"] + "="})}, want: dpop.ErrKey},
		{name: "jwk alg not the proof's", header: map[string]any{"jwk": withMembers(ec, map[string]any{"alg": "ES384"})}, want: dpop.ErrKey},
		{name: "jwk use enc", header: map[string]any{"jwk": withMembers(ec, map[string]any{"use": "enc"})}, want: dpop.ErrKey},
		{name: "RSA key of 1024 bits", alg: "RS256", raw: func(t *testing.T, _ *dpoptest.Key) string {
			small, err := rsa.GenerateKey(rand.Reader, 1024)
			if err != nil {
				t.Fatal(err)
			}
			k, err := dpoptest.FromSigner("RS256", small)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := k.Proof(claims(), nil)
			return p
		}, want: dpop.ErrWeakKey},
		// 8. htm
		{name: "htm another method", claims: map[string]any{"htm": "POST"}, want: dpop.ErrMethod},
		{name: "htm in lower case", claims: map[string]any{"htm": "get"}, want: dpop.ErrMethod},
		// 9. htu
		{name: "htu another host", claims: map[string]any{"htu": "https://evil.example.org/r4/Patient/1"}, want: dpop.ErrURL},
		{name: "htu another path", claims: map[string]any{"htu": "https://fhir.example.org/r4/Patient/2"}, want: dpop.ErrURL},
		{name: "htu another port", claims: map[string]any{"htu": "https://fhir.example.org:8443/r4/Patient/1"}, want: dpop.ErrURL},
		{name: "htu http", claims: map[string]any{"htu": "http://fhir.example.org/r4/Patient/1"}, want: dpop.ErrURL},
		{name: "htu path in another case", claims: map[string]any{"htu": "https://fhir.example.org/r4/patient/1"}, want: dpop.ErrURL},
		{name: "htu with a trailing slash", claims: map[string]any{"htu": testURL + "/"}, want: dpop.ErrURL},
		{name: "htu relative", claims: map[string]any{"htu": "/r4/Patient/1"}, want: dpop.ErrURL},
		{name: "htu with user info", claims: map[string]any{"htu": "https://u@fhir.example.org/r4/Patient/1"}, want: dpop.ErrURL},
		{name: "htu with a dot segment", claims: map[string]any{"htu": "https://fhir.example.org/r4/Patient/../Patient/1"}, want: dpop.ErrURL},
		{name: "htu encoding a slash", claims: map[string]any{"htu": "https://fhir.example.org/r4/Patient%2F1"}, want: dpop.ErrURL},
		// 11. iat window
		{name: "iat too old", claims: map[string]any{"iat": testNow.Add(-66 * time.Second).Unix()}, want: dpop.ErrStale},
		{name: "iat in the future", claims: map[string]any{"iat": testNow.Add(6 * time.Second).Unix()}, want: dpop.ErrFuture},
		{name: "iat huge", claims: map[string]any{"iat": 1e300}, want: dpop.ErrFuture},
		// 12. ath and the binding
		{name: "ath of another token", claims: map[string]any{"ath": dpop.AccessTokenHash("another")}, want: dpop.ErrAccessTokenHash},
		{name: "ath padded", claims: map[string]any{"ath": dpop.AccessTokenHash(testToken) + "="}, want: dpop.ErrAccessTokenHash},
		{name: "ath hex", claims: map[string]any{"ath": "00"}, want: dpop.ErrAccessTokenHash},
		{name: "token bound to another key", request: func(r *dpop.Request) { r.Thumbprint = other.Thumbprint }, want: dpop.ErrBinding},
		{name: "no binding to compare with", request: func(r *dpop.Request) { r.Thumbprint = "" }, want: dpop.ErrBinding},
		{name: "no access token to compare with", request: func(r *dpop.Request) { r.AccessToken = "" }, want: dpop.ErrAccessTokenHash},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, v) })
	}
}

// TestVerifyNormalisesHTU: spellings of the request's URL that RFC 3986
// §6.2.2 and §6.2.3 make equal are accepted; query and fragment are
// ignored.
func TestVerifyNormalisesHTU(t *testing.T) {
	v := verifier(t)
	for _, htu := range []string{
		"HTTPS://FHIR.EXAMPLE.ORG/r4/Patient/1",
		"https://fhir.example.org:443/r4/Patient/1",
		"https://fhir.example.org:/r4/Patient/1",
		"https://fhir.example.org/%72%34/Patient/%31",
		"https://fhir.example.org/r4/Patient/1?_format=json",
		"https://fhir.example.org/r4/Patient/1#frag",
		"https://fhir.example.org/r4/Patient/1?a=b#c",
	} {
		t.Run(htu, func(t *testing.T) {
			proofCase{claims: map[string]any{"htu": htu}}.run(t, v)
		})
	}
}

func good(t *testing.T, k *dpoptest.Key) string {
	t.Helper()
	p, err := k.Proof(claims(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func claims() map[string]any { return dpoptest.Claims("GET", testURL, testToken, testNow) }

func header(k *dpoptest.Key, alg string) map[string]any {
	h := k.Header()
	h["alg"] = alg
	return h
}

func sign(t *testing.T, m jwt.SigningMethod, key any, h, c map[string]any) string {
	t.Helper()
	p, err := dpoptest.Sign(m, key, h, c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNewVerifierRefuses(t *testing.T) {
	for _, o := range []dpop.Options{
		{MaxAge: time.Minute},
		{Algorithms: []string{"HS256"}, MaxAge: time.Minute},
		{Algorithms: []string{"none"}, MaxAge: time.Minute},
		{Algorithms: []string{"ES256"}},
		{Algorithms: []string{"ES256"}, MaxAge: time.Minute, Leeway: -1},
	} {
		if _, err := dpop.NewVerifier(o); err == nil {
			t.Errorf("NewVerifier(%+v) accepted", o)
		}
	}
}

// TestAccessTokenHash is the vector of RFC 9449 §4.2 (SPEC §10.3).
func TestAccessTokenHash(t *testing.T) {
	if got, want := dpop.AccessTokenHash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"; got != want {
		t.Errorf("AccessTokenHash = %q, want %q", got, want)
	}
}

func TestReplayKey(t *testing.T) {
	p := dpop.Proof{JTI: "j", Thumbprint: "t", Method: "GET", URL: testURL}
	q := p
	q.JTI = "k"
	r := p
	r.Thumbprint = "u"
	same := p
	if p.ReplayKey() == q.ReplayKey() || p.ReplayKey() == r.ReplayKey() || p.ReplayKey() != same.ReplayKey() {
		t.Error("ReplayKey does not tell proofs apart, or is not stable")
	}
	if !strings.HasPrefix(p.ReplayKey(), "dpop:jti:") || len(p.ReplayKey()) > 64 {
		t.Errorf("ReplayKey = %q", p.ReplayKey())
	}
	// Lengths are part of the hash: moving bytes between fields changes it.
	s := dpop.Proof{JTI: "ab", Thumbprint: "t", Method: "GET", URL: testURL + "x"}
	u := dpop.Proof{JTI: "xab", Thumbprint: "t", Method: "GET", URL: testURL}
	if s.ReplayKey() == u.ReplayKey() {
		t.Error("ReplayKey is ambiguous")
	}
}

func TestRetain(t *testing.T) {
	v := verifier(t)
	p := dpop.Proof{IssuedAt: testNow.Add(-10 * time.Second)}
	if got, want := v.Retain(p, testNow), 61*time.Second; got != want { // 60 + 2×5 - 10 + 1
		t.Errorf("Retain = %v, want %v", got, want)
	}
	if got := v.Retain(dpop.Proof{IssuedAt: testNow.Add(-time.Hour)}, testNow); got != time.Second {
		t.Errorf("Retain of an old proof = %v, want 1s", got)
	}
}

func TestPublicJWKOfUnsupportedKeys(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if _, _, err := dpop.PublicJWK(&k.PublicKey); err == nil {
		t.Error("PublicJWK accepted P-224")
	}
	if _, _, err := dpop.PublicJWK("key"); err == nil {
		t.Error("PublicJWK accepted a string")
	}
}
