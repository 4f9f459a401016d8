package wellknown

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxMetadataSize bounds the metadata document FromIssuer reads.
const maxMetadataSize = 1 << 20

// defaultTimeout bounds a whole FromIssuer request when the caller passes
// no client.
const defaultTimeout = 10 * time.Second

// FromIssuer builds a Configuration from the metadata of the authorization
// server issuer: its OpenID Connect Discovery document
// ({issuer}/.well-known/openid-configuration), or, when that answers 404,
// its RFC 8414 document (/.well-known/oauth-authorization-server inserted
// before the issuer's path). The metadata's issuer must equal issuer
// exactly, and issuer must be https (http only for a loopback host).
//
// It copies the endpoints (authorization, token, jwks_uri, registration,
// introspection, revocation, and management if present) and the lists of
// grant types, response types, token endpoint authentication methods and
// signing algorithms, and PKCE methods, as the server states them. Issuer
// is set only from an OpenID Connect document, since SMART's issuer is an
// OpenID Connect issuer: clear it unless you add [SSOOpenIDConnect].
// Capabilities and ScopesSupported are left for you to fill: the server
// SHALL support every scope it lists, which an authorization server cannot
// say for a FHIR server. The result is not validated; [Handler] does, or
// call [Configuration.Validate].
//
// client nil means a client with a 10 s timeout (never
// http.DefaultClient). Redirects to other than https (or loopback http) are
// refused. The response must be 200 with a JSON content type and at most 1
// MiB. ctx bounds the requests.
func FromIssuer(ctx context.Context, issuer string, client *http.Client) (*Configuration, error) {
	if err := checkIssuer(issuer); err != nil {
		return nil, fmt.Errorf("wellknown: issuer: %w", err)
	}
	client = safeClient(client)

	u, _ := url.Parse(issuer) // checked above
	oidc := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	m, err := fetchMetadata(ctx, client, oidc)
	fromOIDC := err == nil
	if errors.Is(err, errNotFound) {
		// RFC 8414 §3.1: the well-known segment goes between host and path.
		v := *u
		v.Path = "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.Path, "/")
		v.RawPath = ""
		var err2 error
		m, err2 = fetchMetadata(ctx, client, v.String())
		if err2 != nil {
			err = errors.Join(err, err2)
		} else {
			err = nil
		}
	}
	if err != nil {
		return nil, err
	}
	if m.Issuer != issuer {
		return nil, fmt.Errorf("wellknown: metadata of %q names issuer %q: they must be identical", issuer, m.Issuer)
	}

	c := &Configuration{
		JWKSURI:                                    m.JWKSURI,
		AuthorizationEndpoint:                      m.AuthorizationEndpoint,
		GrantTypesSupported:                        m.GrantTypesSupported,
		TokenEndpoint:                              m.TokenEndpoint,
		TokenEndpointAuthMethodsSupported:          m.TokenEndpointAuthMethodsSupported,
		RegistrationEndpoint:                       m.RegistrationEndpoint,
		ResponseTypesSupported:                     m.ResponseTypesSupported,
		ManagementEndpoint:                         m.ManagementEndpoint,
		IntrospectionEndpoint:                      m.IntrospectionEndpoint,
		RevocationEndpoint:                         m.RevocationEndpoint,
		CodeChallengeMethodsSupported:              m.CodeChallengeMethodsSupported,
		TokenEndpointAuthSigningAlgValuesSupported: m.TokenEndpointAuthSigningAlgValuesSupported,
	}
	if fromOIDC {
		c.Issuer = m.Issuer
	}
	return c, nil
}

// metadata holds the members of OpenID Connect and RFC 8414 metadata that
// FromIssuer takes.
type metadata struct {
	Issuer                                     string   `json:"issuer"`
	JWKSURI                                    string   `json:"jwks_uri"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	RegistrationEndpoint                       string   `json:"registration_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	ManagementEndpoint                         string   `json:"management_endpoint"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
}

// errNotFound marks a 404, after which FromIssuer tries RFC 8414.
var errNotFound = errors.New("not found")

func fetchMetadata(ctx context.Context, client *http.Client, u string) (*metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("wellknown: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("wellknown: fetching metadata: %w", err)
	}
	defer resp.Body.Close()

	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("wellknown: %s: %s: %w", u, resp.Status, errNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("wellknown: %s: %s, want 200 OK", u, resp.Status)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, fmt.Errorf("wellknown: %s: Content-Type %q, want application/json", u, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("wellknown: %s: reading metadata: %w", u, err)
	}
	if len(body) > maxMetadataSize {
		return nil, fmt.Errorf("wellknown: %s: metadata larger than %d bytes", u, maxMetadataSize)
	}
	var m metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("wellknown: %s: metadata is not a JSON object: %w", u, err)
	}
	return &m, nil
}

// safeClient returns a copy of client (or of a default client with a
// timeout) that refuses redirects to URLs other than https or loopback
// http, after the caller's own redirect policy.
func safeClient(client *http.Client) *http.Client {
	var c http.Client
	if client != nil {
		c = *client
	} else {
		c.Timeout = defaultTimeout
	}
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkTransport(req.URL); err != nil {
			return fmt.Errorf("wellknown: redirect refused: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("wellknown: stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

// checkTransport reports a URL that is neither https nor loopback http.
func checkTransport(u *url.URL) error {
	if u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%q is not https", u.Redacted())
}
