package middleware_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
	"github.com/smartguard/smartguard/wellknown"
)

// challengeSyntax is RFC 7235 §4.1 with RFC 6750 §3's bytes inside quoted
// values ('"' and '\' never appear, so there is no quoted pair).
var challengeSyntax = regexp.MustCompile(`^Bearer realm="[\x20\x21\x23-\x5B\x5D-\x7E]*"(, [a-z_]+="[\x20\x21\x23-\x5B\x5D-\x7E]*")*$`)

// resourceMetadataOf returns the resource_metadata of a challenge, or "".
func resourceMetadataOf(t *testing.T, challenge string) string {
	t.Helper()
	if !challengeSyntax.MatchString(challenge) {
		t.Errorf("challenge %q: not RFC 6750 §3 syntax", challenge)
	}
	_, v, ok := strings.Cut(challenge, `resource_metadata="`)
	if !ok {
		return ""
	}
	if !strings.HasSuffix(challenge, `"`) || strings.Count(challenge, "resource_metadata=") != 1 {
		t.Errorf("challenge %q: resource_metadata is not the last parameter, once", challenge)
	}
	return strings.TrimSuffix(v, `"`)
}

func TestResourceMetadataIn401Challenges(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, func(cfg *smartmw.Config) {
		cfg.Hooks.ResourceMetadata = true
	})
	h := guard.Handler(&anyPatientStore{})
	const prm = "https://fhir.example.org/.well-known/oauth-protected-resource/r4"
	tests := []struct {
		name, target, auth string
		status             int
		want               string // resource_metadata
	}{
		{name: "no token", target: "/r4/Observation?patient=123", status: 401, want: prm},
		{name: "another scheme", target: "/r4/Observation?patient=123", auth: "Basic dTpw", status: 401, want: prm},
		{name: "expired", target: "/r4/Observation?patient=123", auth: "Bearer " + is.Token(t, smarttest.Expired()), status: 401, want: prm},
		{name: "other audience", target: "/r4/Observation?patient=123", auth: "Bearer " + is.Token(t, smarttest.WrongAudience()), status: 401, want: prm},
		{name: "the base itself", target: "/r4", status: 401, want: prm},
		{name: "insufficient scope", target: "/r4/Observation?patient=123",
			auth: "Bearer " + is.Token(t, smarttest.Scopes("patient/Condition.rs"), smarttest.Patient("123")), status: 403},
		{name: "malformed", target: "/r4/Observation?patient=123", auth: "Bearer a b", status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if got := resourceMetadataOf(t, w.Header().Get("WWW-Authenticate")); got != tc.want {
				t.Errorf("resource_metadata %q, want %q (challenge %q)", got, tc.want, w.Header().Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("bare challenge", func(t *testing.T) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/r4/Patient/123", nil))
		if got, want := w.Header().Get("WWW-Authenticate"), `Bearer realm="fhir", resource_metadata="`+prm+`"`; got != want {
			t.Errorf("WWW-Authenticate %q, want %q", got, want)
		}
	})
}

func TestResourceMetadataIsOptIn(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, nil)
	w := httptest.NewRecorder()
	guard.Handler(&anyPatientStore{}).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/r4/Patient/123", nil))
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="fhir"` {
		t.Errorf("WWW-Authenticate %q, want a bare challenge", got)
	}
}

// TestResourceMetadataPerTenant: the base a request is under decides the
// URL, for tenants told apart by path and by host, and for a base served
// under another path (Config.Base).
func TestResourceMetadataPerTenant(t *testing.T) {
	_, isB, cfg := hostTenants(t, tenantA, tenantB, func(c *smartmw.Config) {
		c.Issuers[0].Audiences = []string{"https://b.example.org/t/1/fhir", "https://b.example.org/t/2/fhir"}
		c.Hooks.ResourceMetadata = true
	})
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := guard.Handler(&anyPatientStore{})
	tokB := isB.Token(t, smarttest.Scopes("patient/*.rs"), smarttest.Patient("123"), smarttest.AudienceClaim(tenantB))
	tests := []struct {
		name, host, target, token string
		want                      string // resource_metadata; "" for a 404
	}{
		{name: "host a", host: "a.example.org", target: "/fhir/Patient/123", want: "https://a.example.org/.well-known/oauth-protected-resource/fhir"},
		{name: "host b", host: "b.example.org", target: "/fhir/Patient/123", want: "https://b.example.org/.well-known/oauth-protected-resource/fhir"},
		{name: "host b, port 443", host: "B.example.org:443", target: "/fhir/Patient/123", want: "https://b.example.org/.well-known/oauth-protected-resource/fhir"},
		{name: "tenant 1", host: "b.example.org", target: "/t/1/fhir/Patient/123", want: "https://b.example.org/.well-known/oauth-protected-resource/t/1/fhir"},
		{name: "tenant 2", host: "b.example.org", target: "/t/2/fhir", want: "https://b.example.org/.well-known/oauth-protected-resource/t/2/fhir"},
		{name: "tenant 2 with tenant b's token", host: "b.example.org", target: "/t/2/fhir/Patient/123", token: tokB,
			want: "https://b.example.org/.well-known/oauth-protected-resource/t/2/fhir"},
		{name: "unknown host", host: "c.example.org", target: "/fhir/Patient/123"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, hostRequest(http.MethodGet, tc.host, tc.target, tc.token))
			if tc.want == "" {
				if w.Code != http.StatusNotFound || w.Header().Get("WWW-Authenticate") != "" {
					t.Errorf("status %d, WWW-Authenticate %q; want 404 without a challenge", w.Code, w.Header().Get("WWW-Authenticate"))
				}
				return
			}
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", w.Code, w.Body)
			}
			if got := resourceMetadataOf(t, w.Header().Get("WWW-Authenticate")); got != tc.want {
				t.Errorf("resource_metadata %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("Base", func(t *testing.T) {
		is := smarttest.NewIssuer(t)
		guard := newGuard(t, is, func(cfg *smartmw.Config) {
			cfg.Base = "/fhir" // https://fhir.example.org/r4 is served here under /fhir
			cfg.Hooks.ResourceMetadata = true
		})
		w := httptest.NewRecorder()
		guard.Handler(&anyPatientStore{}).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/fhir/Patient/123", nil))
		if got, want := resourceMetadataOf(t, w.Header().Get("WWW-Authenticate")), "https://fhir.example.org/.well-known/oauth-protected-resource/r4"; got != want {
			t.Errorf("resource_metadata %q, want %q: the public URL of the audience", got, want)
		}
	})
}

// TestResourceMetadataReachesEveryStage: AuthenticateOnly and a custom
// ErrorHandler get it too; what the ErrorHandler receives says it.
func TestResourceMetadataReachesEveryStage(t *testing.T) {
	is := smarttest.NewIssuer(t)
	cfg := is.Config()
	cfg.Hooks.ResourceMetadata = true
	var got *smartmw.Error
	cfg.Hooks.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if !errors.As(err, &got) {
			t.Errorf("ErrorHandler got %v, not an *Error", err)
		}
		smartmw.WriteError(w, "custom", err)
	}
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	const prm = "https://fhir.example.org/.well-known/oauth-protected-resource/r4"
	w := httptest.NewRecorder()
	guard.AuthenticateOnly(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/r4/custom", nil))
	if got == nil || got.ResourceMetadata != prm || !errors.Is(got, smartmw.ErrMissingToken) {
		t.Fatalf("ErrorHandler got %+v, want ErrMissingToken with ResourceMetadata %q", got, prm)
	}
	if h, want := w.Header().Get("WWW-Authenticate"), `Bearer realm="custom", resource_metadata="`+prm+`"`; h != want {
		t.Errorf("WWW-Authenticate %q, want %q", h, want)
	}
	got = nil
	w = httptest.NewRecorder()
	guard.AuthenticateOnly(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/elsewhere", nil))
	if got == nil || got.ResourceMetadata != "" {
		t.Errorf("under no base: ErrorHandler got %+v, want no ResourceMetadata", got)
	}
}

func TestResourceMetadataRefusesAudiencesThatAreNoResource(t *testing.T) {
	is := smarttest.NewIssuer(t, smarttest.ForAudience("http://fhir.example.org/r4"))
	cfg := is.Config()
	if _, err := smartmw.New(t.Context(), cfg); err != nil {
		t.Fatalf("without ResourceMetadata: %v", err)
	}
	cfg.Hooks.ResourceMetadata = true
	_, err := smartmw.New(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), `Hooks.ResourceMetadata: audience "http://fhir.example.org/r4"`) || !errors.Is(err, wellknown.ErrInvalid) {
		t.Errorf("New = %v, want the http audience refused", err)
	}
}

func TestProtectedResources(t *testing.T) {
	_, isB, cfg := hostTenants(t, tenantA, tenantB, func(c *smartmw.Config) {
		c.Issuer.Audiences = []string{"https://example.org/t/1/fhir"}
		c.Issuers[0].Audiences = []string{"https://example.org/t/1/fhir"} // one base, two issuers
		c.Tokens.FormBody = true
		c.Hooks.ResourceMetadata = true
	})
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := guard.ProtectedResources()
	isA := cfg.Issuer.URL
	want := []wellknown.ProtectedResource{
		{Resource: tenantA, AuthorizationServers: []string{isA}, BearerMethodsSupported: []string{"header", "body"}},
		{Resource: tenantB, AuthorizationServers: []string{isB.URL()}, BearerMethodsSupported: []string{"header", "body"}},
		{Resource: "https://example.org/t/1/fhir", AuthorizationServers: []string{isA, isB.URL()}, BearerMethodsSupported: []string{"header", "body"}},
	}
	if len(got) != len(want) {
		t.Fatalf("ProtectedResources() = %+v, want %+v", got, want)
	}
	for i := range want {
		if d := got[i]; d.Resource != want[i].Resource || !slices.Equal(d.AuthorizationServers, want[i].AuthorizationServers) ||
			!slices.Equal(d.BearerMethodsSupported, want[i].BearerMethodsSupported) {
			t.Errorf("ProtectedResources()[%d] = %+v, want %+v", i, d, want[i])
		}
	}

	// The wiring of docs/discovery-and-cors.md, verbatim (internal/doctest
	// checks it), then what a client does with a 401 (RFC 9728 §3.3):
	// fetch resource_metadata, and find the resource it asked.
	mux := http.NewServeMux()
	docs := guard.ProtectedResources() // each base: its resource, issuers and bearer methods
	for i := range docs {
		docs[i].ScopesSupported = []string{"launch/patient", "patient/*.rs", "offline_access"}
	}
	prm, err := wellknown.ProtectedResourceHandler(docs...)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/.well-known/oauth-protected-resource/", prm) // at the host's root, not under the base
	h := guard.Handler(&anyPatientStore{})
	for _, base := range []string{tenantA, tenantB, "https://example.org/t/1/fhir"} {
		r := httptest.NewRequest(http.MethodGet, base+"/Patient/123", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		u := resourceMetadataOf(t, w.Header().Get("WWW-Authenticate"))
		w = httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
		var doc wellknown.ProtectedResource
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != http.StatusOK || doc.Resource != base {
			t.Errorf("%s: GET %s: %d, resource %q (%v); want %q", base, u, w.Code, doc.Resource, err, base)
		}
	}
}
