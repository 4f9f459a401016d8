package asmeta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
		ok   bool
	}{
		{"https", "https://auth.example.org/realms/fhir", true},
		{"https without path", "https://auth.example.org", true},
		{"https with port", "https://auth.example.org:8443/x", true},
		{"loopback IPv4", "http://127.0.0.1:8080/x", true},
		{"loopback IPv4, elsewhere in 127/8", "http://127.0.0.2/x", true},
		{"loopback IPv6", "http://[::1]:8080/x", true},
		{"loopback IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]/x", true},
		{"localhost", "http://localhost:8080/x", true},
		{"localhost, upper case", "http://LOCALHOST/x", true},
		{"http on a public host", "http://auth.example.org/x", false},
		{"http on a public address", "http://192.0.2.1/x", false},
		{"http on the unspecified address", "http://0.0.0.0/x", false},
		{"http on IPv6 unspecified", "http://[::]/x", false},
		{"http on a name under localhost", "http://a.localhost/x", false},
		{"http on localhost with a trailing dot", "http://localhost./x", false},
		{"http on a name starting with localhost", "http://localhost.evil.org/x", false},
		{"http on a name starting with a loopback address", "http://127.0.0.1.nip.io/x", false},
		{"http on a short loopback spelling", "http://127.1/x", false},
		{"http on a decimal loopback spelling", "http://2130706433/x", false},
		{"http on a zoned loopback address", "http://[::1%25lo]/x", false},
		{"other scheme", "ftp://auth.example.org/x", false},
		{"user information", "https://user:pw@auth.example.org/x", false},
		{"fragment", "https://auth.example.org/x#frag", false},
		{"empty fragment", "https://auth.example.org/x#", false},
		{"port zero", "https://auth.example.org:0/x", false},
		{"port too large", "https://auth.example.org:65536/x", false},
		{"space", "https://auth.example.org/a b", false},
		{"non-ASCII", "https://auth.example.org/é", false},
		{"relative", "/relative", false},
		{"scheme-relative", "//auth.example.org/x", false},
		{"opaque", "https:auth.example.org", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckURL(tc.url); (err == nil) != tc.ok {
				t.Errorf("CheckURL(%q) = %v, want ok %v", tc.url, err, tc.ok)
			}
		})
	}
}

func TestCheckIssuerRefusesQuery(t *testing.T) {
	tests := []struct {
		issuer string
		ok     bool
	}{
		{"https://auth.example.org/realms/fhir", true},
		{"https://auth.example.org/", true},
		{"https://auth.example.org/?tenant=1", false},
		{"https://auth.example.org/?", false},
		{"http://auth.example.org", false},
	}
	for _, tc := range tests {
		if err := CheckIssuer(tc.issuer); (err == nil) != tc.ok {
			t.Errorf("CheckIssuer(%q) = %v, want ok %v", tc.issuer, err, tc.ok)
		}
	}
}

// TestMetadataURLs: OpenID Connect appends the well-known path to the
// issuer; RFC 8414 §3.1 inserts it between host and path.
func TestMetadataURLs(t *testing.T) {
	tests := []struct {
		issuer, oidc, oauth string
	}{
		{
			issuer: "https://as.example.org",
			oidc:   "https://as.example.org/.well-known/openid-configuration",
			oauth:  "https://as.example.org/.well-known/oauth-authorization-server",
		},
		{
			issuer: "https://as.example.org/",
			oidc:   "https://as.example.org/.well-known/openid-configuration",
			oauth:  "https://as.example.org/.well-known/oauth-authorization-server",
		},
		{
			issuer: "https://as.example.org/realms/fhir",
			oidc:   "https://as.example.org/realms/fhir/.well-known/openid-configuration",
			oauth:  "https://as.example.org/.well-known/oauth-authorization-server/realms/fhir",
		},
		{
			issuer: "https://as.example.org/tenant1/",
			oidc:   "https://as.example.org/tenant1/.well-known/openid-configuration",
			oauth:  "https://as.example.org/.well-known/oauth-authorization-server/tenant1",
		},
		{
			issuer: "http://127.0.0.1:4444/a%2Fb",
			oidc:   "http://127.0.0.1:4444/a%2Fb/.well-known/openid-configuration",
			oauth:  "http://127.0.0.1:4444/.well-known/oauth-authorization-server/a%2Fb",
		},
	}
	for _, tc := range tests {
		t.Run(tc.issuer, func(t *testing.T) {
			if got := OpenIDConfigurationURL(tc.issuer); got != tc.oidc {
				t.Errorf("OpenIDConfigurationURL = %q, want %q", got, tc.oidc)
			}
			got, err := OAuthMetadataURL(tc.issuer)
			if err != nil || got != tc.oauth {
				t.Errorf("OAuthMetadataURL = %q, %v, want %q", got, err, tc.oauth)
			}
		})
	}
	if _, err := OAuthMetadataURL("/relative"); err == nil {
		t.Error("OAuthMetadataURL accepted a relative URL")
	}
}

func TestClientBoundsBodies(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		chunked bool
		ok      bool
	}{
		{name: "at the bound, with length", size: MaxDocumentSize, ok: true},
		{name: "at the bound, chunked", size: MaxDocumentSize, chunked: true, ok: true},
		{name: "over, with length", size: MaxDocumentSize + 1},
		{name: "over, chunked", size: MaxDocumentSize + 1, chunked: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.chunked {
					w.(http.Flusher).Flush()
				}
				w.Write([]byte(strings.Repeat("x", tc.size)))
			}))
			defer srv.Close()
			var n int
			resp, err := Client(srv.Client()).Get(srv.URL)
			if err == nil {
				var b []byte
				b, err = io.ReadAll(resp.Body)
				n = len(b)
				resp.Body.Close()
			}
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrTooLarge) {
				t.Errorf("err = %v, want ok %v", err, tc.ok)
			}
			if n > MaxDocumentSize {
				t.Errorf("read %d bytes", n)
			}
		})
	}
}

// redirector answers /hop/N with a redirect to /hop/N-1, and /hop/0 with
// 200; /loop redirects to itself; /away redirects to target.
func redirector(t *testing.T, target string, hits *int) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*hits++
		mu.Unlock()
		var n int
		switch {
		case r.URL.Path == "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case r.URL.Path == "/away":
			http.Redirect(w, r, target, http.StatusFound)
		case r.URL.Path == "/hop/0":
			fmt.Fprint(w, "arrived")
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			fmt.Sscanf(r.URL.Path, "/hop/%d", &n)
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClientRedirects(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		target   string
		maxHits  int    // requests the server may see
		mustSay  string // in the error; "" means success
		callerOK bool   // the caller's CheckRedirect allows (else it refuses all)
	}{
		{name: "within the bound", path: fmt.Sprintf("/hop/%d", MaxRedirects), maxHits: MaxRedirects + 1, callerOK: true},
		{name: "one over the bound", path: fmt.Sprintf("/hop/%d", MaxRedirects+1), maxHits: MaxRedirects + 1, mustSay: "stopped after", callerOK: true},
		{name: "loop, bounded", path: "/loop", maxHits: MaxRedirects + 1, mustSay: "stopped after", callerOK: true},
		{name: "to http on a public host", path: "/away", target: "http://auth.example.org/x", maxHits: 1, mustSay: "redirect refused", callerOK: true},
		{name: "to another scheme", path: "/away", target: "ftp://auth.example.org/x", maxHits: 1, mustSay: "redirect refused", callerOK: true},
		{name: "the caller's policy still applies", path: "/hop/1", maxHits: 1, mustSay: "caller says no"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hits int
			srv := redirector(t, tc.target, &hits)
			c := srv.Client()
			c.Timeout = 5 * time.Second // a broken bound fails, not hangs
			if !tc.callerOK {
				c.CheckRedirect = func(*http.Request, []*http.Request) error { return errors.New("caller says no") }
			}
			resp, err := Client(c).Get(srv.URL + tc.path)
			if err == nil {
				resp.Body.Close()
			}
			switch {
			case tc.mustSay == "" && err != nil:
				t.Errorf("err = %v, want success", err)
			case tc.mustSay != "" && (err == nil || !strings.Contains(err.Error(), tc.mustSay)):
				t.Errorf("err = %v, want one saying %q", err, tc.mustSay)
			}
			if hits > tc.maxHits {
				t.Errorf("server saw %d requests, want at most %d", hits, tc.maxHits)
			}
		})
	}
}

func TestClientCopiesAndDefaults(t *testing.T) {
	if c := Client(nil); c.Timeout != DefaultTimeout || c == http.DefaultClient {
		t.Errorf("Client(nil) timeout %v, want %v", c.Timeout, DefaultTimeout)
	}
	orig := &http.Client{Timeout: time.Second}
	c := Client(orig)
	if orig.Transport != nil || orig.CheckRedirect != nil {
		t.Error("Client changed the caller's client")
	}
	if c.Timeout != time.Second {
		t.Errorf("timeout %v, want the caller's", c.Timeout)
	}
	if Client(c) != c {
		t.Error("Client of a hardened client made another copy")
	}
}

// metaServer serves documents at paths; {{base}} in a document is the
// server's URL. It records the paths asked for.
type metaServer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	asked []string
}

func newMetaServer(t *testing.T, routes map[string]http.HandlerFunc) *metaServer {
	t.Helper()
	ms := &metaServer{}
	ms.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ms.mu.Lock()
		ms.asked = append(ms.asked, r.URL.EscapedPath())
		ms.mu.Unlock()
		if h, ok := routes[r.URL.EscapedPath()]; ok {
			h(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(ms.srv.Close)
	return ms
}

// doc answers with JSON, {{base}} replaced by the request's host URL.
func doc(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, strings.ReplaceAll(body, "{{base}}", "http://"+r.Host))
	}
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", code) }
}

func TestDiscover(t *testing.T) {
	const (
		oidcRoot  = "/.well-known/openid-configuration"
		oauthRoot = "/.well-known/oauth-authorization-server"
		rootMeta  = `{"issuer":"{{base}}","jwks_uri":"{{base}}/jwks","token_endpoint":"{{base}}/token"}`
		pathMeta  = `{"issuer":"{{base}}/realms/fhir","jwks_uri":"{{base}}/realms/fhir/certs","token_endpoint":"{{base}}/realms/fhir/token"}`
	)
	tests := []struct {
		name       string
		issuerPath string // appended to the server URL
		routes     map[string]http.HandlerFunc
		wantOpenID bool
		wantURL    string   // path of the document read, on success
		wantAsked  []string // paths requested, in order
		mustSay    string   // in the error; "" means success
		wantIs     error
	}{
		{
			name:       "OpenID Connect document",
			routes:     map[string]http.HandlerFunc{oidcRoot: doc(rootMeta)},
			wantOpenID: true, wantURL: oidcRoot, wantAsked: []string{oidcRoot},
		},
		{
			name:       "path issuer, OpenID Connect document after the path",
			issuerPath: "/realms/fhir",
			routes:     map[string]http.HandlerFunc{"/realms/fhir" + oidcRoot: doc(pathMeta)},
			wantOpenID: true, wantURL: "/realms/fhir" + oidcRoot,
		},
		{
			name:       "issuer with a trailing slash",
			issuerPath: "/",
			routes:     map[string]http.HandlerFunc{oidcRoot: doc(`{"issuer":"{{base}}/","jwks_uri":"{{base}}/jwks"}`)},
			wantOpenID: true, wantURL: oidcRoot,
		},
		{
			name:      "OpenID Connect missing, RFC 8414 found",
			routes:    map[string]http.HandlerFunc{oauthRoot: doc(rootMeta)},
			wantURL:   oauthRoot,
			wantAsked: []string{oidcRoot, oauthRoot},
		},
		{
			name:       "path issuer, RFC 8414 document between host and path",
			issuerPath: "/realms/fhir",
			routes:     map[string]http.HandlerFunc{oauthRoot + "/realms/fhir": doc(pathMeta)},
			wantURL:    oauthRoot + "/realms/fhir",
			wantAsked:  []string{"/realms/fhir" + oidcRoot, oauthRoot + "/realms/fhir"},
		},
		{
			name:    "OpenID Connect forbidden, RFC 8414 found",
			routes:  map[string]http.HandlerFunc{oidcRoot: status(http.StatusForbidden), oauthRoot: doc(rootMeta)},
			wantURL: oauthRoot,
		},
		{
			name: "OpenID Connect answered by an HTML page, RFC 8414 found",
			routes: map[string]http.HandlerFunc{
				oidcRoot: func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html")
					io.WriteString(w, "<!doctype html><p>welcome")
				},
				oauthRoot: doc(rootMeta),
			},
			wantURL: oauthRoot,
		},
		{
			name: "any content type for a JSON object",
			routes: map[string]http.HandlerFunc{oidcRoot: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				fmt.Fprintf(w, `{"issuer":"http://%s"}`, r.Host)
			}},
			wantOpenID: true, wantURL: oidcRoot,
		},
		{
			name:    "both missing",
			routes:  map[string]http.HandlerFunc{},
			mustSay: oauthRoot, wantAsked: []string{oidcRoot, oauthRoot},
		},
		{
			name:      "issuer mismatch refused, without trying RFC 8414",
			routes:    map[string]http.HandlerFunc{oidcRoot: doc(`{"issuer":"https://evil.example.org"}`), oauthRoot: doc(rootMeta)},
			mustSay:   "must be identical",
			wantAsked: []string{oidcRoot},
		},
		{
			name:       "issuer differing by a trailing slash refused",
			issuerPath: "/",
			routes:     map[string]http.HandlerFunc{oidcRoot: doc(rootMeta)},
			mustSay:    "must be identical",
		},
		{
			name:    "issuer mismatch in RFC 8414 metadata refused",
			routes:  map[string]http.HandlerFunc{oauthRoot: doc(`{"issuer":"https://evil.example.org"}`)},
			mustSay: "must be identical",
		},
		{
			name:      "server error, without trying RFC 8414",
			routes:    map[string]http.HandlerFunc{oidcRoot: status(http.StatusBadGateway), oauthRoot: doc(rootMeta)},
			mustSay:   "502 Bad Gateway",
			wantAsked: []string{oidcRoot},
		},
		{
			name: "oversized body refused",
			routes: map[string]http.HandlerFunc{oidcRoot: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"issuer":"http://%s","x":"%s"}`, r.Host, strings.Repeat("a", MaxDocumentSize))
			}, oauthRoot: doc(rootMeta)},
			wantIs:    ErrTooLarge,
			wantAsked: []string{oidcRoot},
		},
		{
			name: "redirect to http refused",
			routes: map[string]http.HandlerFunc{oidcRoot: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://auth.example.org"+oidcRoot, http.StatusFound)
			}},
			mustSay: "redirect refused",
		},
		{
			name: "redirect loop bounded",
			routes: map[string]http.HandlerFunc{oidcRoot: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, oidcRoot, http.StatusFound)
			}},
			mustSay: "stopped after",
		},
		{
			name:    "malformed member",
			routes:  map[string]http.HandlerFunc{oidcRoot: doc(`{"issuer":"{{base}}","grant_types_supported":"authorization_code"}`)},
			mustSay: "malformed metadata",
		},
		{
			name:       "issuer with a query refused before any request",
			issuerPath: "/?tenant=1",
			routes:     map[string]http.HandlerFunc{oidcRoot: doc(rootMeta)},
			mustSay:    "query",
			wantAsked:  []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms := newMetaServer(t, tc.routes)
			iss := ms.srv.URL + tc.issuerPath
			c := ms.srv.Client()
			c.Timeout = 5 * time.Second // a broken bound fails, not hangs
			m, err := Discover(t.Context(), c, iss)
			switch {
			case tc.mustSay == "" && tc.wantIs == nil:
				if err != nil {
					t.Fatalf("Discover: %v", err)
				}
				if m.Issuer != iss || m.OpenID != tc.wantOpenID || m.URL != ms.srv.URL+tc.wantURL {
					t.Errorf("got issuer %q, OpenID %v, URL %q; want %q, %v, %q", m.Issuer, m.OpenID, m.URL, iss, tc.wantOpenID, ms.srv.URL+tc.wantURL)
				}
			case err == nil:
				t.Fatalf("Discover = %+v, want an error", m)
			case tc.wantIs != nil && !errors.Is(err, tc.wantIs):
				t.Errorf("err = %v, want one matching %v", err, tc.wantIs)
			case !strings.Contains(err.Error(), tc.mustSay):
				t.Errorf("err = %v, want one saying %q", err, tc.mustSay)
			}
			if tc.wantAsked != nil && !slices.Equal(ms.asked, tc.wantAsked) {
				t.Errorf("asked for %q, want %q", ms.asked, tc.wantAsked)
			}
		})
	}
}

func TestDiscoverRefusesHTTPIssuerOffLoopback(t *testing.T) {
	called := false
	c := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		called = true
		return nil, errors.New("no network here")
	})}
	_, err := Discover(context.Background(), c, "http://auth.example.org")
	if err == nil || !strings.Contains(err.Error(), "not https") {
		t.Errorf("err = %v, want one saying not https", err)
	}
	if called {
		t.Error("a request was made")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDiscoverReadsMembers(t *testing.T) {
	ms := newMetaServer(t, map[string]http.HandlerFunc{"/.well-known/openid-configuration": doc(`{
		"issuer": "{{base}}",
		"jwks_uri": "{{base}}/jwks",
		"authorization_endpoint": "{{base}}/authorize",
		"token_endpoint": "{{base}}/token",
		"registration_endpoint": "{{base}}/register",
		"introspection_endpoint": "{{base}}/introspect",
		"revocation_endpoint": "{{base}}/revoke",
		"management_endpoint": "{{base}}/manage",
		"scopes_supported": ["openid"],
		"grant_types_supported": ["authorization_code"],
		"response_types_supported": ["code"],
		"token_endpoint_auth_methods_supported": ["private_key_jwt"],
		"token_endpoint_auth_signing_alg_values_supported": ["ES384"],
		"code_challenge_methods_supported": ["S256"],
		"claims_supported": ["sub"]
	}`)})
	m, err := Discover(t.Context(), nil, ms.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := ms.srv.URL
	want := Metadata{
		Issuer: b, JWKSURI: b + "/jwks", AuthorizationEndpoint: b + "/authorize", TokenEndpoint: b + "/token",
		RegistrationEndpoint: b + "/register", IntrospectionEndpoint: b + "/introspect",
		RevocationEndpoint: b + "/revoke", ManagementEndpoint: b + "/manage",
		ScopesSupported: []string{"openid"}, GrantTypesSupported: []string{"authorization_code"},
		ResponseTypesSupported: []string{"code"}, TokenEndpointAuthMethodsSupported: []string{"private_key_jwt"},
		TokenEndpointAuthSigningAlgValuesSupported: []string{"ES384"}, CodeChallengeMethodsSupported: []string{"S256"},
		OpenID: true, URL: b + "/.well-known/openid-configuration",
	}
	if fmt.Sprint(*m) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", *m, want)
	}
}
