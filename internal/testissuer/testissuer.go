// Package testissuer is the token issuer of smarttest, of the
// repository's own tests and of the demo's development authorization
// server: it holds a generated signing key, publishes it as a JWKS with
// an OpenID discovery document, and signs whatever claims it is given.
// It authenticates no one; nothing outside tests and loopback demos may
// use it. (The demo's browser flows are in the examples module.)
package testissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer signs tokens with its current key and publishes the public half.
type Issuer struct {
	mu     sync.RWMutex
	url    string
	alg    jwt.SigningMethod
	key    crypto.Signer
	kid    string
	serial int
	grants []string // grant_types_supported of Metadata
	scopes []string // scopes_supported of Metadata
	// revocation is the revocation endpoint of Metadata, relative to
	// the URL, or "" for none.
	revocation string
}

// Algorithms are the JWS algorithms an Issuer signs with.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}

// New returns an Issuer whose key is of algorithm alg, one of Algorithms.
func New(alg string) (*Issuer, error) {
	m := jwt.GetSigningMethod(alg)
	if !slices.Contains(Algorithms, alg) {
		return nil, fmt.Errorf("testissuer: algorithm %q not supported (%s)", alg, strings.Join(Algorithms, ", "))
	}
	i := &Issuer{alg: m, grants: Grants, scopes: Scopes}
	return i, i.Rotate()
}

// SetURL sets the issuer identifier, the "iss" of its tokens and the base
// of its endpoints.
func (i *Issuer) SetURL(u string) {
	i.mu.Lock()
	i.url = u
	i.mu.Unlock()
}

// URL returns the issuer identifier.
func (i *Issuer) URL() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.url
}

// Algorithm returns the JWS algorithm of the issuer's keys.
func (i *Issuer) Algorithm() string { return i.alg.Alg() }

// Rotate replaces the signing key with a new one under a new kid; the old
// key is no longer published.
func (i *Issuer) Rotate() error {
	var key crypto.Signer
	var err error
	switch i.alg.Alg() {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EdDSA":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return fmt.Errorf("testissuer: generating a key: %w", err)
	}
	i.mu.Lock()
	i.serial++
	i.key, i.kid = key, "key-"+strconv.Itoa(i.serial)
	i.mu.Unlock()
	return nil
}

// KeyID returns the kid of the current key.
func (i *Issuer) KeyID() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.kid
}

// PublicKey returns the public half of the current key.
func (i *Issuer) PublicKey() crypto.PublicKey {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.key.Public()
}

// Sign signs claims with the current key. The header carries typ "at+jwt"
// and the kid; header entries given override them (a nil value removes
// one).
func (i *Issuer) Sign(claims jwt.MapClaims, header map[string]any) (string, error) {
	i.mu.RLock()
	key, kid := i.key, i.kid
	i.mu.RUnlock()
	return SignWith(i.alg, key, kid, claims, header)
}

// SignRaw signs header and payload as given (JSON or not) with the
// current key: base64url(header) "." base64url(payload) "." signature.
func (i *Issuer) SignRaw(header, payload []byte) (string, error) {
	i.mu.RLock()
	key := i.key
	i.mu.RUnlock()
	enc := base64.RawURLEncoding.EncodeToString
	in := enc(header) + "." + enc(payload)
	sig, err := i.alg.Sign(in, key)
	if err != nil {
		return "", fmt.Errorf("testissuer: signing: %w", err)
	}
	return in + "." + enc(sig), nil
}

// SignWith signs claims with any key, for tokens an Issuer would not
// issue (an unknown key, say).
func SignWith(alg jwt.SigningMethod, key crypto.Signer, kid string, claims jwt.MapClaims, header map[string]any) (string, error) {
	tok := jwt.NewWithClaims(alg, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = kid
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("testissuer: signing: %w", err)
	}
	return s, nil
}

// JWKS returns the JWK Set of the current public key.
func (i *Issuer) JWKS() []byte {
	i.mu.RLock()
	pub, kid, alg := i.key.Public(), i.kid, i.alg.Alg()
	i.mu.RUnlock()
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := map[string]string{"kid": kid, "alg": alg, "use": "sig"}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		jwk["kty"], jwk["n"], jwk["e"] = "RSA", b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		ecdh, _ := k.ECDH()
		raw := ecdh.Bytes() // 0x04 || X || Y
		n := (len(raw) - 1) / 2
		jwk["kty"], jwk["crv"], jwk["x"], jwk["y"] = "EC", k.Curve.Params().Name, b64(raw[1:1+n]), b64(raw[1+n:])
	case ed25519.PublicKey:
		jwk["kty"], jwk["crv"], jwk["x"] = "OKP", "Ed25519", b64(k)
	}
	out, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	return out
}

// AuthorizePath is the authorization endpoint that Metadata advertises,
// relative to the issuer URL. Handler does not serve it: the programs that
// mount Handler decide whether they offer an authorization endpoint there
// (the demo serves its browser flows there; smarttest serves nothing).
const AuthorizePath = "/authorize"

// Grants are the grant_types_supported of Metadata unless Advertise says
// otherwise.
var Grants = []string{"authorization_code", "client_credentials"}

// Scopes are the scopes_supported of Metadata unless Advertise says
// otherwise: identity, patient launch and every permission in each
// context. Sign signs any scope it is given.
var Scopes = []string{"openid", "fhirUser", "launch/patient", "patient/*.cruds", "user/*.cruds", "system/*.cruds"}

// Advertise sets the grant types and scopes Metadata advertises, for a
// server that serves more than the default Grants (the demo's browser
// flows add refresh tokens, and the scopes they grant).
func (i *Issuer) Advertise(grants, scopes []string) {
	i.mu.Lock()
	i.grants, i.scopes = slices.Clone(grants), slices.Clone(scopes)
	i.mu.Unlock()
}

// AdvertiseRevocation makes Metadata advertise an RFC 7009 revocation
// endpoint at path (relative to the issuer URL), for public clients, for
// a server that serves one there (the demo's).
func (i *Issuer) AdvertiseRevocation(path string) {
	i.mu.Lock()
	i.revocation = path
	i.mu.Unlock()
}

// Metadata returns the issuer's OpenID Connect discovery document, with
// tokenPath as its token endpoint (relative to the issuer URL). It agrees
// with the SMART document smarttest serves beside it: AuthorizePath as
// authorization endpoint, the grants of Grants (or Advertise), response
// type "code" and PKCE with "S256" only, so that wellknown.FromIssuer
// gives a valid SMART document from it, also with sso-openid-connect.
// Clients are public ("none" authentication). It names a revocation
// endpoint only after AdvertiseRevocation.
func (i *Issuer) Metadata(tokenPath string) []byte {
	u := i.URL()
	i.mu.RLock()
	grants, scopes, revocation := i.grants, i.scopes, i.revocation
	i.mu.RUnlock()
	meta := map[string]any{
		"issuer":                                u,
		"jwks_uri":                              u + "/jwks.json",
		"authorization_endpoint":                u + AuthorizePath,
		"token_endpoint":                        u + tokenPath,
		"grant_types_supported":                 grants,
		"token_endpoint_auth_methods_supported": []string{"none"},
		"response_types_supported":              []string{"code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      scopes,
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{i.alg.Alg()},
	}
	if revocation != "" {
		meta["revocation_endpoint"] = u + revocation
		meta["revocation_endpoint_auth_methods_supported"] = []string{"none"}
	}
	out, _ := json.Marshal(meta)
	return out
}

// Handler serves "/.well-known/openid-configuration" and "/jwks.json"
// under the issuer URL's path, whatever that is; mount it there.
func (i *Issuer) Handler(tokenPath string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(i.Metadata(tokenPath))
	})
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(i.JWKS())
	})
	return mux
}
