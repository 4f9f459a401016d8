// Package dpoptest mints DPoP proofs (RFC 9449) as a client does, for
// smarttest and for the repository's own tests: a generated key, its
// public JWK and thumbprint, and proofs with any header and claims,
// including broken ones. Nothing outside tests may use it.
package dpoptest

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
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/internal/dpop"
)

// Key is a client's DPoP key pair.
type Key struct {
	// Alg is the proofs' algorithm.
	Alg string
	// Signer is the private key.
	Signer crypto.Signer
	// JWK is the public key as a proof's jwk header carries it.
	JWK map[string]string
	// Thumbprint is the RFC 7638 thumbprint of JWK: the cnf.jkt of the
	// access tokens bound to the key.
	Thumbprint string
}

// NewKey generates a key for alg: ES256, ES384, ES512, RS256, RS384,
// RS512, PS256, PS384, PS512 (2048-bit RSA), EdDSA or Ed25519.
func NewKey(alg string) (*Key, error) {
	var signer crypto.Signer
	var err error
	switch alg {
	case "ES256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		signer, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA", "Ed25519":
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("dpoptest: algorithm %q not supported", alg)
	}
	if err != nil {
		return nil, err
	}
	return FromSigner(alg, signer)
}

// FromSigner returns the Key of an existing private key.
func FromSigner(alg string, signer crypto.Signer) (*Key, error) {
	jwk, thumb, err := dpop.PublicJWK(signer.Public())
	if err != nil {
		return nil, err
	}
	return &Key{Alg: alg, Signer: signer, JWK: jwk, Thumbprint: thumb}, nil
}

// Claims returns the claims of a proof for a request of method to url
// (used as htu as it is) with token, created at iat: jti (random), htm,
// htu, iat and ath.
func Claims(method, url, token string, iat time.Time) map[string]any {
	c := map[string]any{"jti": rand.Text(), "htm": method, "htu": url, "iat": iat.Unix()}
	if token != "" {
		c["ath"] = dpop.AccessTokenHash(token)
	}
	return c
}

// Header returns the header of a proof by k: typ dpop+jwt, alg and jwk.
func (k *Key) Header() map[string]any {
	jwk := make(map[string]any, len(k.JWK))
	for n, v := range k.JWK {
		jwk[n] = v
	}
	return map[string]any{"typ": "dpop+jwt", "alg": k.Alg, "jwk": jwk}
}

// Proof signs claims with k under k.Header() changed by header (a nil
// value removes a field).
func (k *Key) Proof(claims map[string]any, header map[string]any) (string, error) {
	h := k.Header()
	for n, v := range header {
		if v == nil {
			delete(h, n)
		} else {
			h[n] = v
		}
	}
	return Sign(jwt.GetSigningMethod(method(k.Alg)), k.Signer, h, claims)
}

func method(alg string) string {
	if alg == "Ed25519" {
		return "EdDSA"
	}
	return alg
}

// Sign serialises header and claims as they are and signs them with key
// under m; jwt.SigningMethodNone needs jwt.UnsafeAllowNoneSignatureType.
func Sign(m jwt.SigningMethod, key any, header, claims map[string]any) (string, error) {
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding.EncodeToString
	input := enc(hb) + "." + enc(cb)
	sig, err := m.Sign(input, key)
	if err != nil {
		return "", err
	}
	return input + "." + enc(sig), nil
}
