// Package jwks finds an authorization server's keys and picks the one that
// may verify a token: discovery of the JWKS URL and the hardened HTTP
// client (both from internal/asmeta, shared with wellknown), and key
// selection that binds each key to one algorithm (RFC 8725 §3.1).
package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/smartguard/smartguard/internal/asmeta"
)

// MaxKIDLength bounds the "kid" header accepted from a token.
const MaxKIDLength = 256

// ErrNoKey means no key of the issuer may verify the token.
var ErrNoKey = errors.New("jwks: no usable key")

// CheckURL returns an error unless u is an absolute https URL, or an http
// URL on a loopback host; it is asmeta.CheckURL.
func CheckURL(u string) error { return asmeta.CheckURL(u) }

// Client returns a copy of c (nil: a client with a 10 s timeout) whose
// response bodies are bounded and whose redirects stay on URLs that
// CheckURL accepts; it is asmeta.Client.
func Client(c *http.Client) *http.Client { return asmeta.Client(c) }

// Discover reads the issuer's metadata (OpenID Connect discovery, or RFC
// 8414 when that document is absent; see asmeta.Discover), which must
// name the same issuer, and returns its jwks_uri, which CheckURL must
// accept.
func Discover(ctx context.Context, c *http.Client, issuer string) (string, error) {
	m, err := asmeta.Discover(ctx, c, issuer)
	if err != nil {
		return "", fmt.Errorf("jwks: %w", err)
	}
	if m.JWKSURI == "" {
		return "", fmt.Errorf("jwks: %s has no jwks_uri", m.URL)
	}
	if err := CheckURL(m.JWKSURI); err != nil {
		return "", fmt.Errorf("jwks: jwks_uri of %s: %w", m.URL, err)
	}
	return m.JWKSURI, nil
}

// Fits reports whether key, a public key, may verify a JWS signed with
// alg: RSA (of at least 2048 bits) for RS* and PS*, ECDSA on the curve the
// algorithm names for ES*, Ed25519 for EdDSA. Symmetric keys never fit.
func Fits(key any, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")) && k.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}
