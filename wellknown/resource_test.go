package wellknown

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestProtectedResourcePathInsertsBeforeThePath pins RFC 9728 §3.1: the
// well-known segment goes between the host and the path (and query), and
// only the "/" right after the host is dropped, when it is all the path.
func TestProtectedResourcePathInsertsBeforeThePath(t *testing.T) {
	tests := []struct {
		resource, path, url string
	}{
		{"https://fhir.example.org/r4", "/.well-known/oauth-protected-resource/r4", "https://fhir.example.org/.well-known/oauth-protected-resource/r4"},
		{"https://host/fhir", "/.well-known/oauth-protected-resource/fhir", "https://host/.well-known/oauth-protected-resource/fhir"},
		{"https://host/t/42/fhir", "/.well-known/oauth-protected-resource/t/42/fhir", "https://host/.well-known/oauth-protected-resource/t/42/fhir"},
		{"https://host", "/.well-known/oauth-protected-resource", "https://host/.well-known/oauth-protected-resource"},
		{"https://host/", "/.well-known/oauth-protected-resource", "https://host/.well-known/oauth-protected-resource"},
		{"https://host/api?tenant=1", "/.well-known/oauth-protected-resource/api?tenant=1", "https://host/.well-known/oauth-protected-resource/api?tenant=1"},
		{"https://host/?tenant=1", "/.well-known/oauth-protected-resource?tenant=1", "https://host/.well-known/oauth-protected-resource?tenant=1"},
		{"https://host/fhir/", "/.well-known/oauth-protected-resource/fhir/", "https://host/.well-known/oauth-protected-resource/fhir/"},
		{"https://Host.Example.org:8443/R4", "/.well-known/oauth-protected-resource/R4", "https://Host.Example.org:8443/.well-known/oauth-protected-resource/R4"},
		{"http://127.0.0.1:8080/fhir", "/.well-known/oauth-protected-resource/fhir", "http://127.0.0.1:8080/.well-known/oauth-protected-resource/fhir"},
		{"https://[::1]:8443/fhir", "/.well-known/oauth-protected-resource/fhir", "https://[::1]:8443/.well-known/oauth-protected-resource/fhir"},
		{"https://host/a%2Fb", "/.well-known/oauth-protected-resource/a%2Fb", "https://host/.well-known/oauth-protected-resource/a%2Fb"},
	}
	for _, tc := range tests {
		t.Run(tc.resource, func(t *testing.T) {
			p, err := ProtectedResourcePath(tc.resource)
			if err != nil || p != tc.path {
				t.Errorf("ProtectedResourcePath = %q, %v; want %q", p, err, tc.path)
			}
			u, err := ProtectedResourceURL(tc.resource)
			if err != nil || u != tc.url {
				t.Errorf("ProtectedResourceURL = %q, %v; want %q", u, err, tc.url)
			}
		})
	}
}

func TestProtectedResourcePathOfAPath(t *testing.T) {
	for in, want := range map[string]string{
		"/r4":        "/.well-known/oauth-protected-resource/r4",
		"/t/42/fhir": "/.well-known/oauth-protected-resource/t/42/fhir",
		"/":          "/.well-known/oauth-protected-resource",
	} {
		if got, err := ProtectedResourcePath(in); err != nil || got != want {
			t.Errorf("ProtectedResourcePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got, err := ProtectedResourceURL("/r4"); err == nil {
		t.Errorf("ProtectedResourceURL(%q) = %q, want an error: a URL needs a host", "/r4", got)
	}
}

func TestProtectedResourcePathRefusesWhatIsNoResource(t *testing.T) {
	for _, in := range []string{"https://host/fhir#x", "r4", "//host/r4", "urn:example:r4", "https:///r4", "http://host:x/r4", ""} {
		if got, err := ProtectedResourcePath(in); err == nil {
			t.Errorf("ProtectedResourcePath(%q) = %q, want an error", in, got)
		}
		if got, err := ProtectedResourceURL(in); err == nil {
			t.Errorf("ProtectedResourceURL(%q) = %q, want an error", in, got)
		}
	}
}

func validResource() ProtectedResource {
	return ProtectedResource{
		Resource:                      "https://fhir.example.org/r4",
		AuthorizationServers:          []string{"https://auth.example.org/realms/fhir"},
		ScopesSupported:               []string{"launch/patient", "patient/Observation.rs", "offline_access"},
		BearerMethodsSupported:        []string{"header"},
		ResourceName:                  "Example FHIR R4",
		ResourceDocumentation:         "https://fhir.example.org/docs",
		DPoPSigningAlgValuesSupported: []string{"ES256", "EdDSA"},
	}
}

func TestProtectedResourceValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *ProtectedResource)
		fields []string // nil: valid
	}{
		{name: "valid", change: func(*ProtectedResource) {}},
		{name: "resource only", change: func(p *ProtectedResource) { *p = ProtectedResource{Resource: p.Resource} }},
		{name: "loopback http", change: func(p *ProtectedResource) { p.Resource = "http://127.0.0.1:8080/fhir" }},
		{name: "root resource", change: func(p *ProtectedResource) { p.Resource = "https://fhir.example.org" }},
		{name: "body method", change: func(p *ProtectedResource) { p.BearerMethodsSupported = []string{"header", "body"} }},
		{name: "DPoP required", change: func(p *ProtectedResource) { p.DPoPBoundAccessTokensRequired = true }},
		{name: "no resource", change: func(p *ProtectedResource) { p.Resource = "" }, fields: []string{"resource"}},
		{name: "http resource", change: func(p *ProtectedResource) { p.Resource = "http://fhir.example.org/r4" }, fields: []string{"resource"}},
		{name: "fragment", change: func(p *ProtectedResource) { p.Resource = "https://fhir.example.org/r4#x" }, fields: []string{"resource"}},
		{name: "query", change: func(p *ProtectedResource) { p.Resource = "https://fhir.example.org/r4?tenant=1" }, fields: []string{"resource"}},
		{name: "trailing slash", change: func(p *ProtectedResource) { p.Resource = "https://fhir.example.org/r4/" }, fields: []string{"resource"}},
		{name: "root with slash", change: func(p *ProtectedResource) { p.Resource = "https://fhir.example.org/" }, fields: []string{"resource"}},
		{name: "user info", change: func(p *ProtectedResource) { p.Resource = "https://u:p@fhir.example.org/r4" }, fields: []string{"resource"}},
		{name: "relative", change: func(p *ProtectedResource) { p.Resource = "/r4" }, fields: []string{"resource"}},
		{name: "issuer with query", change: func(p *ProtectedResource) { p.AuthorizationServers = []string{"https://auth.example.org?x=1"} }, fields: []string{"authorization_servers[0]"}},
		{name: "issuer twice", change: func(p *ProtectedResource) {
			p.AuthorizationServers = append(p.AuthorizationServers, p.AuthorizationServers[0])
		}, fields: []string{"authorization_servers[1]"}},
		{name: "empty issuer", change: func(p *ProtectedResource) { p.AuthorizationServers = []string{""} }, fields: []string{"authorization_servers[0]"}},
		{name: "bad scope", change: func(p *ProtectedResource) {
			p.ScopesSupported = []string{"patient/Observation.rs", "patient/Observation.sr"}
		}, fields: []string{"scopes_supported[1]"}},
		{name: "query method", change: func(p *ProtectedResource) { p.BearerMethodsSupported = []string{"header", "query"} }, fields: []string{"bearer_methods_supported[1]"}},
		{name: "unknown method", change: func(p *ProtectedResource) { p.BearerMethodsSupported = []string{"cookie"} }, fields: []string{"bearer_methods_supported[0]"}},
		{name: "method twice", change: func(p *ProtectedResource) { p.BearerMethodsSupported = []string{"header", "header"} }, fields: []string{"bearer_methods_supported[1]"}},
		{name: "documentation", change: func(p *ProtectedResource) { p.ResourceDocumentation = "ftp://docs.example.org" }, fields: []string{"resource_documentation"}},
		{name: "policy and terms", change: func(p *ProtectedResource) { p.ResourcePolicyURI, p.ResourceTOSURI = "docs", "http://tos.example.org" }, fields: []string{"resource_policy_uri", "resource_tos_uri"}},
		{name: "DPoP none and HMAC", change: func(p *ProtectedResource) { p.DPoPSigningAlgValuesSupported = []string{"none", "ES256", "HS256", ""} }, fields: []string{"dpop_signing_alg_values_supported[3]", "dpop_signing_alg_values_supported[0]", "dpop_signing_alg_values_supported[2]"}},
		{name: "DPoP required without algorithms", change: func(p *ProtectedResource) {
			p.DPoPSigningAlgValuesSupported, p.DPoPBoundAccessTokensRequired = nil, true
		}, fields: []string{"dpop_signing_alg_values_supported"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validResource()
			tc.change(&p)
			err := p.Validate()
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid", err)
			}
			if got := fields(err); !slices.Equal(got, tc.fields) {
				t.Errorf("fields %q, want %q (%v)", got, tc.fields, err)
			}
		})
	}
}

// getMetadata asks h for target, with Host host when not "".
func getMetadata(t *testing.T, h http.Handler, method, target, host string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	if host != "" {
		r.Host = host
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestProtectedResourceHandlerServesTheDocument(t *testing.T) {
	doc := validResource()
	h, err := ProtectedResourceHandler(doc)
	if err != nil {
		t.Fatal(err)
	}
	w := getMetadata(t, h, http.MethodGet, "https://fhir.example.org/.well-known/oauth-protected-resource/r4", "", map[string]string{"Origin": "https://app.example.net", "Authorization": "Bearer nonsense"})
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", w.Code)
	}
	for k, want := range map[string]string{
		"Content-Type":                "application/json",
		"Cache-Control":               "public, max-age=3600",
		"X-Content-Type-Options":      "nosniff",
		"Access-Control-Allow-Origin": "*",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	want := `{"resource":"https://fhir.example.org/r4","authorization_servers":["https://auth.example.org/realms/fhir"],` +
		`"scopes_supported":["launch/patient","patient/Observation.rs","offline_access"],"bearer_methods_supported":["header"],` +
		`"resource_name":"Example FHIR R4","resource_documentation":"https://fhir.example.org/docs",` +
		`"dpop_signing_alg_values_supported":["ES256","EdDSA"]}`
	if got := w.Body.String(); got != want {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
	etag := w.Header().Get("Etag")
	if w := getMetadata(t, h, http.MethodGet, "/.well-known/oauth-protected-resource/r4", "", map[string]string{"If-None-Match": etag}); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("If-None-Match: status %d, body %q; want 304 and none", w.Code, w.Body)
	}
	if w := getMetadata(t, h, http.MethodHead, "/.well-known/oauth-protected-resource/r4", "", nil); w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") != strconv.Itoa(len(want)) {
		t.Errorf("HEAD: status %d, body %q, Content-Length %q", w.Code, w.Body, w.Header().Get("Content-Length"))
	}
	if w := getMetadata(t, h, http.MethodPost, "/.well-known/oauth-protected-resource/r4", "", nil); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", w.Code)
	}
	pre := getMetadata(t, h, http.MethodOptions, "/.well-known/oauth-protected-resource/r4", "", map[string]string{"Origin": "https://app.example.net", "Access-Control-Request-Method": "GET"})
	if pre.Code != http.StatusNoContent || pre.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: status %d, Access-Control-Allow-Origin %q", pre.Code, pre.Header().Get("Access-Control-Allow-Origin"))
	}
	for _, p := range []string{
		"/r4/.well-known/oauth-protected-resource", // SMART's placement, not RFC 9728's
		"/.well-known/oauth-protected-resource",
		"/.well-known/oauth-protected-resource/r4/",
		"/.well-known/oauth-protected-resource/R4",
		"/.well-known/oauth-protected-resource/r4/Patient",
	} {
		if w := getMetadata(t, h, http.MethodGet, p, "", nil); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, w.Code)
		}
	}
}

// TestProtectedResourceIsTheBaseExactly: what a client checks (RFC 9728
// §3.3): the resource of the document at a URL is the identifier that URL
// was derived from.
func TestProtectedResourceIsTheBaseExactly(t *testing.T) {
	docs := []ProtectedResource{
		{Resource: "https://fhir.example.org/r4"},
		{Resource: "https://fhir.example.org"},
		{Resource: "https://fhir.example.org/t/42/fhir"},
	}
	h, err := ProtectedResourceHandler(docs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		u, err := ProtectedResourceURL(d.Resource)
		if err != nil {
			t.Fatal(err)
		}
		w := getMetadata(t, h, http.MethodGet, u, "", nil)
		var got struct {
			Resource string `json:"resource"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Resource != d.Resource {
			t.Errorf("GET %s: status %d, resource %q (%v), want %q", u, w.Code, got.Resource, err, d.Resource)
		}
	}
}

func TestProtectedResourceHandlerTenants(t *testing.T) {
	docs := []ProtectedResource{
		{Resource: "https://a.example.org/fhir", ResourceName: "a"},
		{Resource: "https://b.example.org/fhir", ResourceName: "b"},
		{Resource: "https://example.org/t/42/fhir", ResourceName: "t42"},
		{Resource: "https://example.org/t/43/fhir", ResourceName: "t43"},
		{Resource: "https://example.org", ResourceName: "root"},
	}
	h, err := ProtectedResourceHandler(docs...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(ProtectedResourceWellKnown+"/", h) // every document with a path
	mux.Handle(ProtectedResourceWellKnown, h)     // the one without
	tests := []struct {
		host, path string
		want       string // resource_name; "" for 404
	}{
		{"a.example.org", "/.well-known/oauth-protected-resource/fhir", "a"},
		{"A.Example.ORG:443", "/.well-known/oauth-protected-resource/fhir", "a"},
		{"b.example.org", "/.well-known/oauth-protected-resource/fhir", "b"},
		{"c.example.org", "/.well-known/oauth-protected-resource/fhir", ""}, // shared path: the host decides
		{"b.example.org:8443", "/.well-known/oauth-protected-resource/fhir", ""},
		{"example.org", "/.well-known/oauth-protected-resource/t/42/fhir", "t42"},
		{"example.org", "/.well-known/oauth-protected-resource/t/43/fhir", "t43"},
		{"other.example", "/.well-known/oauth-protected-resource/t/43/fhir", "t43"}, // one document at that path
		{"example.org", "/.well-known/oauth-protected-resource/t/44/fhir", ""},
		{"example.org", "/.well-known/oauth-protected-resource", "root"},
		{"example.org", "/.well-known/oauth-protected-resource/", ""},
	}
	for _, tc := range tests {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			w := getMetadata(t, mux, http.MethodGet, tc.path, tc.host, nil)
			if tc.want == "" {
				if w.Code != http.StatusNotFound {
					t.Errorf("status %d, want 404", w.Code)
				}
				return
			}
			var got ProtectedResource
			if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != http.StatusOK || err != nil || got.ResourceName != tc.want {
				t.Errorf("status %d, %+v (%v); want %q", w.Code, got, err, tc.want)
			}
		})
	}
}

func TestProtectedResourceHandlerRefuses(t *testing.T) {
	tests := []struct {
		name string
		docs []ProtectedResource
		want string
	}{
		{name: "none", want: "no protected resource"},
		{name: "invalid", docs: []ProtectedResource{{Resource: "https://a.example.org/fhir"}, {Resource: "http://b.example.org/fhir"}}, want: "resource 1"},
		{name: "one URL twice", docs: []ProtectedResource{{Resource: "https://a.example.org/fhir"}, {Resource: "https://A.example.org:443/fhir"}}, want: "have one metadata URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ProtectedResourceHandler(tc.docs...)
			if h != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ProtectedResourceHandler() = %v, %v; want an error saying %q", h, err, tc.want)
			}
		})
	}
	if _, err := ProtectedResourceHandler(ProtectedResource{Resource: "ftp://a.example.org"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("err %v, want ErrInvalid", err)
	}
}

// TestProtectedResourceOmitsEmptyMembers: RFC 9728 §3.2, members without
// a value are omitted, never null.
func TestProtectedResourceOmitsEmptyMembers(t *testing.T) {
	b, err := json.Marshal(ProtectedResource{Resource: "https://fhir.example.org/r4", ScopesSupported: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"resource":"https://fhir.example.org/r4"}`; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	var back ProtectedResource
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, ProtectedResource{Resource: "https://fhir.example.org/r4"}) {
		t.Errorf("round trip %+v, %v", back, err)
	}
}
