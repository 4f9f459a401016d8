// Package jwks finds an authorization server's keys and picks the one that
// may verify a token: discovery of the JWKS URL (OpenID Connect, then RFC
// 8414), a size-bounded HTTP client, and key selection that binds each
// key to one algorithm (RFC 8725 §3.1).
package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// MaxDocumentSize bounds a metadata or JWKS response body.
const MaxDocumentSize = 1 << 20

// MaxKIDLength bounds the "kid" header accepted from a token.
const MaxKIDLength = 256

var (
	// ErrNoKey means no key of the issuer may verify the token.
	ErrNoKey = errors.New("jwks: no usable key")
	// ErrTooLarge means a response body exceeded MaxDocumentSize.
	ErrTooLarge = errors.New("jwks: response too large")
)

// CheckURL returns an error unless u is an absolute https URL, or an http
// URL whose host is a loopback name (127.0.0.1, ::1, localhost).
func CheckURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return err
	}
	if p.Host == "" || p.User != nil || p.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL without user info and fragment", u)
	}
	switch {
	case p.Scheme == "https":
		return nil
	case p.Scheme == "http" && isLoopback(p.Hostname()):
		return nil
	}
	return fmt.Errorf("%q is not https (http is allowed for loopback hosts only)", u)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

// Client returns a copy of c whose responses are cut at MaxDocumentSize
// (reading past it fails with ErrTooLarge) and whose redirects must stay
// on URLs that CheckURL accepts.
func Client(c *http.Client) *http.Client {
	cc := *c
	next := cc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cc.Transport = limitTransport{next}
	check := cc.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := CheckURL(req.URL.String()); err != nil {
			return fmt.Errorf("jwks: redirect refused: %w", err)
		}
		if check != nil {
			return check(req, via)
		}
		if len(via) >= 5 {
			return errors.New("jwks: too many redirects")
		}
		return nil
	}
	return &cc
}

type limitTransport struct{ next http.RoundTripper }

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > MaxDocumentSize {
		resp.Body.Close()
		return nil, ErrTooLarge
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxDocumentSize}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Tell a body that ends exactly at the bound from a longer one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, ErrTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// Discover reads the issuer's OpenID Connect discovery document and, when
// that fails, its RFC 8414 metadata, checks that the document names the
// same issuer, and returns its jwks_uri.
func Discover(ctx context.Context, c *http.Client, issuer string) (string, error) {
	base := strings.TrimSuffix(issuer, "/")
	oidc := base + "/.well-known/openid-configuration"
	u, err := discover(ctx, c, issuer, oidc)
	if err == nil {
		return u, nil
	}
	// RFC 8414 §3: the well-known segment goes between host and path.
	p, perr := url.Parse(issuer)
	if perr != nil {
		return "", perr
	}
	p.Path = "/.well-known/oauth-authorization-server" + strings.TrimSuffix(p.Path, "/")
	p.RawPath = ""
	u, err2 := discover(ctx, c, issuer, p.String())
	if err2 != nil {
		return "", errors.Join(err, err2)
	}
	return u, nil
}

func discover(ctx context.Context, c *http.Client, issuer, doc string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, doc, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("jwks: fetching %s: %w", doc, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("jwks: fetching %s: status %d", doc, resp.StatusCode)
	}
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		return "", fmt.Errorf("jwks: reading %s: %w", doc, err)
	}
	if meta.Issuer != issuer {
		return "", fmt.Errorf("jwks: %s names issuer %q, want %q", doc, meta.Issuer, issuer)
	}
	if meta.JWKSURI == "" {
		return "", fmt.Errorf("jwks: %s has no jwks_uri", doc)
	}
	if err := CheckURL(meta.JWKSURI); err != nil {
		return "", fmt.Errorf("jwks: jwks_uri of %s: %w", doc, err)
	}
	return meta.JWKSURI, nil
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
