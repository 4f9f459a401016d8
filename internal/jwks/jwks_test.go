package jwks

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestValidKID(t *testing.T) {
	tests := []struct {
		kid string
		ok  bool
	}{
		{"k1", true},
		{"MrFm8lZL7T0Vq5c_0FDKUnHVjMpjVIbcSOo-kFfeDd0", true},
		{strings.Repeat("a", MaxKIDLength), true},
		{strings.Repeat("a", MaxKIDLength+1), false},
		{"", false},
		{"a b", false},
		{"a\r\nb", false},
		{"é", false},
	}
	for _, tc := range tests {
		if got := ValidKID(tc.kid); got != tc.ok {
			t.Errorf("ValidKID(%q) = %v", tc.kid, got)
		}
	}
}

// TestDiscoverReturnsJWKSURI: Discover takes the metadata from
// internal/asmeta (tested there) and adds the checks of the JWKS URL.
func TestDiscoverReturnsJWKSURI(t *testing.T) {
	tests := []struct {
		name    string
		jwksURI string // {{base}} is the server URL
		ok      bool
		mustSay string
	}{
		{name: "loopback jwks_uri", jwksURI: `"{{base}}/jwks"`, ok: true},
		{name: "https jwks_uri", jwksURI: `"https://keys.example.org/jwks"`, ok: true},
		{name: "no jwks_uri", jwksURI: `""`, mustSay: "has no jwks_uri"},
		{name: "http jwks_uri on a public host", jwksURI: `"http://keys.example.org/jwks"`, mustSay: "not https"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/.well-known/openid-configuration" {
					http.NotFound(w, r)
					return
				}
				fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%s}`, srv.URL, strings.ReplaceAll(tc.jwksURI, "{{base}}", srv.URL))
			}))
			defer srv.Close()
			u, err := Discover(t.Context(), Client(srv.Client()), srv.URL)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("Discover: %v", err)
			case tc.ok && !strings.HasSuffix(u, "/jwks"):
				t.Errorf("Discover = %q", u)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.mustSay) || !strings.HasPrefix(err.Error(), "jwks: ")):
				t.Errorf("Discover = %q, %v; want a jwks error saying %q", u, err, tc.mustSay)
			}
		})
	}
}
