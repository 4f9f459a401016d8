package wellknown

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// authServer is a fake authorization server. Its metadata names issuer
// (with {{base}} replaced by the server's URL) and is served at the paths
// in routes; other paths answer 404.
func authServer(t *testing.T, routes map[string]http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := routes[r.URL.Path]; ok {
			h(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// metadataJSON answers with metadata naming issuer.
func metadataJSON(issuer func() string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		iss := issuer()
		fmt.Fprintf(w, `{
			"issuer": %q,
			"authorization_endpoint": "%[1]s/authorize",
			"token_endpoint": "%[1]s/token",
			"jwks_uri": "%[1]s/jwks",
			"registration_endpoint": "%[1]s/register",
			"introspection_endpoint": "%[1]s/introspect",
			"revocation_endpoint": "%[1]s/revoke",
			"grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
			"response_types_supported": ["code"],
			"token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
			"token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
			"code_challenge_methods_supported": ["S256"],
			"scopes_supported": ["openid", "roles", "web-origins"],
			"claims_supported": ["sub"]
		}`, iss)
	}
}

func TestFromIssuerReadsOpenIDConfiguration(t *testing.T) {
	var srv *httptest.Server
	iss := func() string { return srv.URL + "/realms/ehr" }
	srv = authServer(t, map[string]http.HandlerFunc{
		"/realms/ehr/.well-known/openid-configuration": metadataJSON(iss),
	})
	c, err := FromIssuer(t.Context(), iss(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != iss() || c.TokenEndpoint != iss()+"/token" || c.AuthorizationEndpoint != iss()+"/authorize" ||
		c.JWKSURI != iss()+"/jwks" || c.RegistrationEndpoint != iss()+"/register" ||
		c.IntrospectionEndpoint != iss()+"/introspect" || c.RevocationEndpoint != iss()+"/revoke" {
		t.Errorf("endpoints not copied: %+v", c)
	}
	if !slices.Equal(c.GrantTypesSupported, []string{"authorization_code", "client_credentials", "refresh_token"}) ||
		!slices.Equal(c.ResponseTypesSupported, []string{"code"}) ||
		!slices.Equal(c.TokenEndpointAuthMethodsSupported, []string{"client_secret_basic", "private_key_jwt"}) ||
		!slices.Equal(c.TokenEndpointAuthSigningAlgValuesSupported, []string{"RS384", "ES384"}) ||
		!slices.Equal(c.CodeChallengeMethodsSupported, []string{"S256"}) {
		t.Errorf("lists not copied: %+v", c)
	}
	if c.ScopesSupported != nil || c.Capabilities != nil || c.Extra != nil {
		t.Errorf("scopes, capabilities or extra members copied: %+v", c)
	}

	// The common completion: what the user adds makes a valid document.
	c.Capabilities = []Capability{LaunchStandalone, ClientPublic, ContextStandalonePatient, PermissionPatient, SSOOpenIDConnect}
	c.ScopesSupported = []string{"openid", "fhirUser", "launch/patient", "patient/*.rs"}
	if err := c.Validate(); err != nil {
		t.Errorf("completed document: %v", err)
	}
}

func TestFromIssuerFallsBackToRFC8414(t *testing.T) {
	for _, path := range []string{"", "/tenant1"} {
		t.Run("path "+path, func(t *testing.T) {
			var srv *httptest.Server
			iss := func() string { return srv.URL + path }
			srv = authServer(t, map[string]http.HandlerFunc{
				"/.well-known/oauth-authorization-server" + path: metadataJSON(iss),
			})
			c, err := FromIssuer(t.Context(), iss(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.TokenEndpoint != iss()+"/token" {
				t.Errorf("TokenEndpoint %q", c.TokenEndpoint)
			}
			if c.Issuer != "" {
				t.Errorf("Issuer %q from RFC 8414 metadata, want none: it is not an OpenID Connect issuer", c.Issuer)
			}
		})
	}
}

func TestFromIssuerRejects(t *testing.T) {
	slow := make(chan struct{})
	t.Cleanup(func() { close(slow) })
	tests := []struct {
		name    string
		handler http.HandlerFunc
		issuer  func(base string) string // default: base
		ctx     func(t *testing.T) context.Context
		client  *http.Client
		want    error  // matched with errors.Is, if set
		message string // in the error
	}{
		{
			name:    "issuer mismatch",
			handler: metadataJSON(func() string { return "https://evil.example.com" }),
			message: "must be identical",
		},
		{
			name:    "issuer differing by a trailing slash",
			issuer:  func(base string) string { return base + "/" },
			message: "must be identical",
		},
		{
			name:    "server error",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) },
			message: "500 Internal Server Error",
		},
		{
			name: "oversized",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"x":"`+strings.Repeat("a", maxMetadataSize)+`"}`)
			},
			message: "larger than",
		},
		{
			name: "not JSON",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `<html>hello</html>`)
			},
			message: "not a JSON object",
		},
		{
			name: "JSON array",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `[]`)
			},
			message: "not a JSON object",
		},
		{
			name: "HTML content type",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, `{}`)
			},
			message: "want application/json",
		},
		{
			name: "slow, context deadline",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-slow:
				case <-r.Context().Done():
				}
			},
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			want: context.DeadlineExceeded,
		},
		{
			name: "slow, client timeout",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-slow:
				case <-r.Context().Done():
				}
			},
			client:  &http.Client{Timeout: 50 * time.Millisecond},
			message: "Client.Timeout exceeded",
		},
		{
			name:    "http issuer not on loopback",
			issuer:  func(string) string { return "http://as.example.com" },
			message: "not https",
		},
		{
			name:    "issuer with a query",
			issuer:  func(base string) string { return base + "?x=1" },
			message: "query",
		},
		{
			name: "redirect to http off loopback",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://as.example.com/.well-known/openid-configuration", http.StatusFound)
			},
			message: "redirect refused",
		},
		{
			name:    "both documents missing",
			handler: http.NotFound,
			message: "oauth-authorization-server",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var srv *httptest.Server
			h := tc.handler
			if h == nil {
				h = metadataJSON(func() string { return srv.URL })
			}
			srv = authServer(t, map[string]http.HandlerFunc{"/.well-known/openid-configuration": h})
			iss := srv.URL
			if tc.issuer != nil {
				iss = tc.issuer(srv.URL)
			}
			ctx := t.Context()
			if tc.ctx != nil {
				ctx = tc.ctx(t)
			}
			start := time.Now()
			c, err := FromIssuer(ctx, iss, tc.client)
			if err == nil {
				t.Fatalf("FromIssuer() = %+v, want an error", c)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if !strings.HasPrefix(err.Error(), "wellknown: ") {
				t.Errorf("error %q does not start with the package name", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v does not match %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not say %q", err, tc.message)
			}
		})
	}
}

func TestFromIssuerServerDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	iss := srv.URL
	srv.Close()
	_, err := FromIssuer(t.Context(), iss, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "wellknown: ") {
		t.Fatalf("FromIssuer() error = %v, want a wellknown error", err)
	}
}

func TestFromIssuerKeepsCallersRedirectPolicy(t *testing.T) {
	var srv *httptest.Server
	srv = authServer(t, map[string]http.HandlerFunc{
		"/.well-known/openid-configuration": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, srv.URL+"/moved", http.StatusFound)
		},
		"/moved": metadataJSON(func() string { return srv.URL }),
	})
	errStop := errors.New("no redirects here")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return errStop }}
	if _, err := FromIssuer(t.Context(), srv.URL, client); !errors.Is(err, errStop) {
		t.Errorf("error %v, want the caller's %v", err, errStop)
	}
	if client.CheckRedirect == nil {
		t.Error("the caller's client was changed")
	}
	if _, err := FromIssuer(t.Context(), srv.URL, nil); err != nil {
		t.Errorf("same-origin loopback redirect with the default client: %v", err)
	}
}
