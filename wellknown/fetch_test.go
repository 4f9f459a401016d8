package wellknown

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smartguard/smartguard/internal/asmeta"
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
	caps := []Capability{LaunchStandalone, ClientPublic, ContextStandalonePatient, PermissionPatient, SSOOpenIDConnect}
	c, err := FromIssuer(t.Context(), iss(), nil, caps...)
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
	if c.ScopesSupported != nil || c.Extra != nil {
		t.Errorf("scopes or extra members copied: %+v", c)
	}
	if !slices.Equal(c.Capabilities, caps) {
		t.Errorf("capabilities %q, want %q", c.Capabilities, caps)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
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
				t.Errorf("Issuer %q without %s, want none", c.Issuer, SSOOpenIDConnect)
			}
		})
	}
}

// TestFromIssuerRefusesSSOWithoutOpenIDDocument: sso-openid-connect
// promises OpenID Connect, which clients discover at
// {issuer}/.well-known/openid-configuration; an issuer with RFC 8414
// metadata only cannot keep that promise.
func TestFromIssuerRefusesSSOWithoutOpenIDDocument(t *testing.T) {
	var srv *httptest.Server
	iss := func() string { return srv.URL }
	srv = authServer(t, map[string]http.HandlerFunc{
		"/.well-known/oauth-authorization-server": metadataJSON(iss),
	})
	_, err := FromIssuer(t.Context(), iss(), nil, LaunchStandalone, ClientPublic, SSOOpenIDConnect)
	if err == nil || !strings.Contains(err.Error(), "no OpenID Connect discovery document") {
		t.Errorf("FromIssuer error = %v, want one saying there is no OpenID Connect discovery document", err)
	}
}

// TestFromIssuerKeepsWhatSMARTAllows: each member SMART restricts, from
// metadata that has it in each form.
func TestFromIssuerKeepsWhatSMARTAllows(t *testing.T) {
	tests := []struct {
		name   string
		member string // JSON member of the metadata, "" for none
		value  string // its JSON value
		caps   []Capability
		check  func(t *testing.T, c *Configuration, base string)
	}{
		{
			name: "plain dropped, S256 kept", member: "code_challenge_methods_supported", value: `["plain","S256"]`,
			check: func(t *testing.T, c *Configuration, _ string) {
				if !slices.Equal(c.CodeChallengeMethodsSupported, []string{"S256"}) {
					t.Errorf("code_challenge_methods_supported %q, want [S256]", c.CodeChallengeMethodsSupported)
				}
			},
		},
		{
			name: "plain only: nothing left, and Validate says so", member: "code_challenge_methods_supported", value: `["plain"]`,
			caps: []Capability{ClientPublic},
			check: func(t *testing.T, c *Configuration, _ string) {
				var fe *FieldError
				if c.CodeChallengeMethodsSupported != nil || !errors.As(c.Validate(), &fe) || fe.Field != "code_challenge_methods_supported" {
					t.Errorf("code_challenge_methods_supported %q, Validate %v; want none and an error for it", c.CodeChallengeMethodsSupported, c.Validate())
				}
			},
		},
		{
			name: "PKCE not advertised: S256 not claimed", member: "code_challenge_methods_supported", value: `null`,
			check: func(t *testing.T, c *Configuration, _ string) {
				if c.CodeChallengeMethodsSupported != nil {
					t.Errorf("code_challenge_methods_supported %q, want none", c.CodeChallengeMethodsSupported)
				}
			},
		},
		{
			name: "none dropped from signing algorithms", member: "token_endpoint_auth_signing_alg_values_supported", value: `["none","RS384","ES384"]`,
			check: func(t *testing.T, c *Configuration, _ string) {
				if !slices.Equal(c.TokenEndpointAuthSigningAlgValuesSupported, []string{"RS384", "ES384"}) {
					t.Errorf("signing algorithms %q", c.TokenEndpointAuthSigningAlgValuesSupported)
				}
			},
		},
		{
			name: "grant types omitted: authorization_code", member: "grant_types_supported", value: `null`,
			check: func(t *testing.T, c *Configuration, _ string) {
				if !slices.Equal(c.GrantTypesSupported, []string{"authorization_code"}) {
					t.Errorf("grant_types_supported %q, want [authorization_code]", c.GrantTypesSupported)
				}
			},
		},
		{
			name: "grant types stated: kept", member: "grant_types_supported", value: `["client_credentials","refresh_token"]`,
			check: func(t *testing.T, c *Configuration, _ string) {
				if !slices.Equal(c.GrantTypesSupported, []string{"client_credentials", "refresh_token"}) {
					t.Errorf("grant_types_supported %q", c.GrantTypesSupported)
				}
			},
		},
		{
			name: "issuer and jwks_uri omitted without sso-openid-connect",
			caps: []Capability{LaunchEHR, PermissionUser},
			check: func(t *testing.T, c *Configuration, _ string) {
				if c.Issuer != "" || c.JWKSURI != "" {
					t.Errorf("issuer %q, jwks_uri %q", c.Issuer, c.JWKSURI)
				}
			},
		},
		{
			name: "issuer and jwks_uri kept with sso-openid-connect",
			caps: []Capability{SSOOpenIDConnect},
			check: func(t *testing.T, c *Configuration, base string) {
				if c.Issuer != base || c.JWKSURI != base+"/jwks" {
					t.Errorf("issuer %q, jwks_uri %q", c.Issuer, c.JWKSURI)
				}
			},
		},
		{
			name: "scopes not copied", member: "scopes_supported", value: `["openid","profile","patient/*.rs"]`,
			check: func(t *testing.T, c *Configuration, _ string) {
				if c.ScopesSupported != nil {
					t.Errorf("scopes_supported %q, want none", c.ScopesSupported)
				}
			},
		},
		{
			name: "members SMART does not define not copied", member: "userinfo_endpoint", value: `"https://as.example.org/userinfo"`,
			check: func(t *testing.T, c *Configuration, _ string) {
				if c.Extra != nil {
					t.Errorf("extra members %v", c.Extra)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var srv *httptest.Server
			srv = authServer(t, map[string]http.HandlerFunc{
				"/.well-known/openid-configuration": func(w http.ResponseWriter, r *http.Request) {
					meta := map[string]any{}
					rec := httptest.NewRecorder()
					metadataJSON(func() string { return srv.URL })(rec, r)
					if err := json.Unmarshal(rec.Body.Bytes(), &meta); err != nil {
						t.Errorf("fixture: %v", err)
					}
					if tc.member != "" {
						meta[tc.member] = json.RawMessage(tc.value)
					}
					w.Header().Set("Content-Type", "application/json")
					json.NewEncoder(w).Encode(meta)
				},
			})
			c, err := FromIssuer(t.Context(), srv.URL, nil, tc.caps...)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c, srv.URL)
		})
	}
}

// TestFromIssuerCopiesCapabilities: the document does not share the
// caller's slice.
func TestFromIssuerCopiesCapabilities(t *testing.T) {
	var srv *httptest.Server
	srv = authServer(t, map[string]http.HandlerFunc{
		"/.well-known/openid-configuration": metadataJSON(func() string { return srv.URL }),
	})
	caps := []Capability{LaunchStandalone, ClientPublic}
	c, err := FromIssuer(t.Context(), srv.URL, nil, caps...)
	if err != nil {
		t.Fatal(err)
	}
	caps[0] = SSOOpenIDConnect
	if c.Capabilities[0] != LaunchStandalone {
		t.Errorf("the document shares the caller's slice: %q", c.Capabilities)
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
		timeout bool   // a net.Error whose Timeout() is true
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
				fmt.Fprint(w, `{"x":"`+strings.Repeat("a", asmeta.MaxDocumentSize)+`"}`)
			},
			want:    asmeta.ErrTooLarge,
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
			name: "HTML page",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, `<!doctype html><p>sign in`)
			},
			message: `Content-Type "text/html"`,
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
			timeout: true,
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
			var ne net.Error
			if tc.timeout && !(errors.As(err, &ne) && ne.Timeout()) {
				t.Errorf("error %v is not a timeout", err)
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
