package middleware_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// Adversarial tokens and key sets, for what smarttest deliberately does
// not mint: tokens signed with another algorithm or an attacker's key
// (forge, on the keys below), and JWKS documents a test writes key by key
// (fakeAS, jwk). Valid tokens come from the harness (sign, is.Token).

var (
	rsaKeys  = sync.OnceValue(func() [2]*rsa.PrivateKey { return [2]*rsa.PrivateKey{genRSA(), genRSA()} })
	ecKey256 = sync.OnceValue(func() *ecdsa.PrivateKey { return genEC(elliptic.P256()) })
	ecKey384 = sync.OnceValue(func() *ecdsa.PrivateKey { return genEC(elliptic.P384()) })
)

func genRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func genEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// rsaKey is the issuer's signing key; otherRSAKey belongs to someone else.
func rsaKey() *rsa.PrivateKey      { return rsaKeys()[0] }
func otherRSAKey() *rsa.PrivateKey { return rsaKeys()[1] }

// forge signs claims with key under method, with header fields hdr added
// (a nil value removes the field). The kid defaults to "k1", typ to
// "at+jwt".
func forge(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims, hdr map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = "k1"
	tok.Header["typ"] = "at+jwt"
	for k, v := range hdr {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withIss sets the "iss" of c.
func withIss(c jwt.MapClaims, iss string) jwt.MapClaims {
	c["iss"] = iss
	return c
}

// issuerRSAKey is the RSA public key is publishes, read from its JWKS as
// an attacker would.
func issuerRSAKey(t testing.TB, is *smarttest.Issuer) *rsa.PublicKey {
	t.Helper()
	res, err := is.Client().Get(is.URL() + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set struct{ Keys []struct{ Kty, N, E string } }
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil || len(set.Keys) != 1 || set.Keys[0].Kty != "RSA" {
		t.Fatalf("JWKS %+v: %v", set, err)
	}
	n, err1 := base64.RawURLEncoding.DecodeString(set.Keys[0].N)
	e, err2 := base64.RawURLEncoding.DecodeString(set.Keys[0].E)
	if err1 != nil || err2 != nil {
		t.Fatalf("JWKS n %v, e %v", err1, err2)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}

// b64 is base64url without padding.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk renders the public key of k as a JWK with kid and extra fields.
func jwk(k crypto.Signer, kid string, extra map[string]any) map[string]any {
	m := map[string]any{"kid": kid}
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64(pub.N.Bytes())
		m["e"] = b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		m["kty"] = "EC"
		m["crv"] = pub.Curve.Params().Name
		size := (pub.Curve.Params().BitSize + 7) / 8
		m["x"] = b64(pub.X.FillBytes(make([]byte, size)))
		m["y"] = b64(pub.Y.FillBytes(make([]byte, size)))
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = b64(pub)
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// fakeAS is an authorization server on httptest: discovery documents and
// a JWKS that tests may change.
type fakeAS struct {
	srv       *httptest.Server
	mu        sync.Mutex
	keys      []map[string]any
	jwksHits  atomic.Int32
	failJWKS  atomic.Bool
	oidc      bool // serve /.well-known/openid-configuration
	rfc8414   bool // serve /.well-known/oauth-authorization-server
	metaIss   string
	jwksBytes []byte // when set, served instead of keys
	cacheCtl  string // Cache-Control of the JWKS response
	// introspection is the introspection_endpoint of the metadata.
	introspection string
}

func newFakeAS(t testing.TB, keys ...map[string]any) *fakeAS {
	t.Helper()
	as := &fakeAS{keys: keys, oidc: true}
	as.srv = httptest.NewServer(http.HandlerFunc(as.serve))
	t.Cleanup(as.srv.Close)
	return as
}

// issuer is the issuer URL of the fake server (a loopback http URL).
func (as *fakeAS) issuer() string { return as.srv.URL + "/realms/fhir" }

// URL is the issuer URL, as issuer.
func (as *fakeAS) URL() string { return as.issuer() }

// Audience is the FHIR base the tests' tokens are for.
func (as *fakeAS) Audience() string { return testAudience }

// Config is a Config that trusts the server, discovering its keys, on
// the tests' fixed clock.
func (as *fakeAS) Config() smartmw.Config {
	return smartmw.Config{
		Issuer:     smartmw.Issuer{URL: as.issuer(), Audience: testAudience},
		HTTPClient: as.srv.Client(),
		Tokens:     smartmw.TokenOptions{Now: fixedNow},
	}
}

func (as *fakeAS) setKeys(keys ...map[string]any) {
	as.mu.Lock()
	as.keys = keys
	as.mu.Unlock()
}

func (as *fakeAS) serve(w http.ResponseWriter, r *http.Request) {
	meta := func() {
		iss := as.metaIss
		if iss == "" {
			iss = as.issuer()
		}
		meta := map[string]string{"issuer": iss, "jwks_uri": as.srv.URL + "/jwks"}
		if as.introspection != "" {
			meta["introspection_endpoint"] = as.introspection
		}
		json.NewEncoder(w).Encode(meta)
	}
	switch r.URL.Path {
	case "/realms/fhir/.well-known/openid-configuration":
		if !as.oidc {
			http.NotFound(w, r)
			return
		}
		meta()
	case "/.well-known/oauth-authorization-server/realms/fhir":
		if !as.rfc8414 {
			http.NotFound(w, r)
			return
		}
		meta()
	case "/jwks":
		as.jwksHits.Add(1)
		if as.cacheCtl != "" {
			w.Header().Set("Cache-Control", as.cacheCtl)
		}
		if as.failJWKS.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if as.jwksBytes != nil {
			w.Write(as.jwksBytes)
			return
		}
		as.mu.Lock()
		defer as.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"keys": as.keys})
	default:
		http.NotFound(w, r)
	}
}
