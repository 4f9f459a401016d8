// Package asmeta reads an authorization server's metadata, the one way
// this module does it: the URL policy (https, or http on a loopback host
// only), a hardened HTTP client (timeout, bounded bodies, bounded
// redirects that keep that policy), and discovery of the metadata
// document, OpenID Connect Discovery first and RFC 8414 second, with the
// document's issuer compared exactly with the configured one.
//
// Both the middleware (for the JWKS URL) and wellknown (for the SMART
// discovery document) use it, so that they trust the same servers for
// the same reasons.
//
// Errors do not start with a package name: the callers, whose names users
// know, add theirs.
package asmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxDocumentSize bounds every response body read through [Client]: a
// metadata document or a JWK Set.
const MaxDocumentSize = 1 << 20

// DefaultTimeout is the timeout of the client [Client] makes when given
// none.
const DefaultTimeout = 10 * time.Second

// MaxRedirects is the most redirects [Client] follows for one request.
const MaxRedirects = 5

// ErrTooLarge means a response body was longer than MaxDocumentSize.
var ErrTooLarge = errors.New("response larger than 1 MiB")

// CheckURL returns an error unless s is an absolute https URL, or an http
// URL whose host is a loopback host (see [IsLoopback]), without user
// information or fragment, with a valid port if any, and made only of
// characters RFC 3986 allows.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL", s)
	case strings.IndexFunc(s, notURLChar) >= 0:
		return fmt.Errorf("%q has a character not allowed in a URL (RFC 3986)", s)
	case !validPort(u.Port()):
		return fmt.Errorf("%q has an invalid port", s)
	case !u.IsAbs() || u.Opaque != "" || u.Host == "":
		return fmt.Errorf("%q is not an absolute URL", s)
	case u.User != nil:
		return fmt.Errorf("%q has user information", s)
	case strings.ContainsRune(s, '#'):
		return fmt.Errorf("%q has a fragment", s)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && IsLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%q is not https (http is allowed for loopback hosts only)", s)
	}
	return fmt.Errorf("%q is not an https URL", s)
}

// CheckIssuer is [CheckURL] for an issuer identifier, which has no query
// either (OpenID Connect Discovery §3, RFC 8414 §2).
func CheckIssuer(s string) error {
	if err := CheckURL(s); err != nil {
		return err
	}
	if strings.ContainsRune(s, '?') {
		return fmt.Errorf("%q has a query; an issuer has none", s)
	}
	return nil
}

// IsLoopback reports whether host, as url.URL.Hostname returns it, names
// the local machine without DNS: "localhost" (in any case) or an IP
// address in 127.0.0.0/8 or ::1 (also written as an IPv4-mapped IPv6
// address). Other spellings of an address ("127.1", "2130706433") and
// names under localhost ("a.localhost") are not loopback hosts here.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// notURLChar reports a rune that RFC 3986 allows nowhere in a URI: space,
// controls, non-ASCII, and "<>\^`{|}.
func notURLChar(r rune) bool {
	return r <= ' ' || r >= 0x7f || strings.ContainsRune("\"<>\\^`{|}", r)
}

// validPort reports whether p is empty or a port number.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.ParseUint(p, 10, 16)
	return err == nil && n > 0
}

// Client returns a copy of c hardened for fetching metadata and keys; c
// itself is not changed. c nil means a client with DefaultTimeout (never
// http.DefaultClient). In the copy:
//   - a response body longer than MaxDocumentSize fails with ErrTooLarge
//     (at once when Content-Length says so, else when read past it);
//   - a redirect is followed only to a URL that CheckURL accepts, and at
//     most MaxRedirects times; c's own CheckRedirect, if any, then decides.
//
// Client is idempotent: a client it returned is returned unchanged.
func Client(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{Timeout: DefaultTimeout}
	} else if _, ok := c.Transport.(limitTransport); ok {
		return c
	}
	cc := *c
	next := cc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cc.Transport = limitTransport{next}
	check := cc.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := CheckURL(req.URL.String()); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if len(via) > MaxRedirects { // via holds the requests made so far
			return fmt.Errorf("stopped after %d redirects", MaxRedirects)
		}
		if check != nil {
			return check(req, via)
		}
		return nil
	}
	return &cc
}

// limitTransport bounds response bodies at MaxDocumentSize.
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

// Metadata holds the members of an authorization server's metadata
// (OpenID Connect Discovery 1.0 §3, RFC 8414 §2) that this module uses,
// as the server states them. A list is nil when the member is absent.
type Metadata struct {
	// Issuer is the document's issuer; Discover has checked that it is
	// the one asked for.
	Issuer string `json:"issuer"`

	// The URLs, as stated: Discover does not check them (CheckURL does).
	JWKSURI               string `json:"jwks_uri"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	RegistrationEndpoint  string `json:"registration_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	ManagementEndpoint    string `json:"management_endpoint"` // SMART's; rare in metadata

	// The lists, as stated; nil when the member is absent (for some, the
	// specifications then define a default).
	ScopesSupported                            []string `json:"scopes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`

	// OpenID reports whether the document is the issuer's OpenID Connect
	// discovery document (false: its RFC 8414 metadata).
	OpenID bool `json:"-"`
	// URL is where the document was read.
	URL string `json:"-"`
}

// OpenIDConfigurationURL returns where OpenID Connect Discovery 1.0 §4
// puts the metadata of issuer: issuer without a trailing "/", then
// "/.well-known/openid-configuration".
func OpenIDConfigurationURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// OAuthMetadataURL returns where RFC 8414 §3.1 puts the metadata of
// issuer: "/.well-known/oauth-authorization-server" between the host and
// the issuer's path (without a trailing "/"). issuer must be an absolute
// URL.
func OAuthMetadataURL(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%q is not an absolute URL", issuer)
	}
	return u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.EscapedPath(), "/"), nil
}

// Discover reads the metadata of issuer and returns it. issuer must pass
// CheckIssuer. c is made safe with [Client] (so may be nil, for the
// default client); ctx bounds the requests.
//
// It reads the OpenID Connect discovery document ([OpenIDConfigurationURL])
// and, only when that document is absent (an answer with a 4xx status, or
// a 200 answer whose body is not a JSON object), the RFC 8414 document
// ([OAuthMetadataURL]). Any other failure of the first request (a network
// error, a timeout, a 5xx status, a refused redirect, a body over
// MaxDocumentSize, a malformed member, another issuer) is returned as
// is: the second document is not a way around it.
//
// The document's "issuer" must equal issuer exactly (OpenID Connect
// Discovery §4.3, RFC 8414 §3.3): no normalization, a trailing "/" counts.
// The body must be a JSON object; its Content-Type is not checked (some
// servers say text/plain), but is named in the error when the body is not
// JSON.
func Discover(ctx context.Context, c *http.Client, issuer string) (*Metadata, error) {
	if err := CheckIssuer(issuer); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	c = Client(c)
	m, err := fetch(ctx, c, OpenIDConfigurationURL(issuer))
	if err == nil {
		m.OpenID = true
	} else if errors.Is(err, errAbsent) {
		u, _ := OAuthMetadataURL(issuer) // issuer is absolute: checked above
		var err2 error
		if m, err2 = fetch(ctx, c, u); err2 != nil {
			return nil, errors.Join(err, err2)
		}
	} else {
		return nil, err
	}
	if m.Issuer != issuer {
		return nil, fmt.Errorf("%s names issuer %q, not %q: they must be identical", m.URL, m.Issuer, issuer)
	}
	return m, nil
}

// errAbsent marks a document that is not there, after which Discover
// tries the next one.
var errAbsent = errors.New("no metadata document there")

// fetch reads one metadata document.
func fetch(ctx context.Context, c *http.Client, u string) (*Metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching metadata: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return nil, fmt.Errorf("%s: %s: %w", u, resp.Status, errAbsent)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: %s, want 200 OK", u, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: reading metadata: %w", u, err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		ct := resp.Header.Get("Content-Type")
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return nil, fmt.Errorf("%s: metadata is not a JSON object (Content-Type %q): %w", u, ct, errAbsent)
		}
		return nil, fmt.Errorf("%s: metadata is not a JSON object: %w", u, errAbsent)
	}
	m := &Metadata{URL: u}
	if err := json.Unmarshal(body, m); err != nil {
		return nil, fmt.Errorf("%s: malformed metadata: %w", u, err)
	}
	return m, nil
}
