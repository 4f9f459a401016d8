package testissuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/smartguard/smartguard/scope"
	"github.com/smartguard/smartguard/wellknown"
)

// smarttestCapabilities are those of the SMART document smarttest serves
// beside this metadata.
var smarttestCapabilities = []wellknown.Capability{
	wellknown.LaunchStandalone, wellknown.ClientPublic, wellknown.ContextStandalonePatient,
	wellknown.PermissionPatient, wellknown.PermissionUser, wellknown.PermissionV1, wellknown.PermissionV2,
	wellknown.SSOOpenIDConnect,
}

// TestFromIssuerAcceptsMetadata: wellknown.FromIssuer against an Issuer
// mounted as smarttest mounts it (at the root) and as the demo does
// (under /auth) gives a valid SMART document that agrees with smarttest's.
func TestFromIssuerAcceptsMetadata(t *testing.T) {
	tests := []struct {
		name  string
		mount string
		caps  []wellknown.Capability
	}{
		{name: "smarttest capabilities, at the root", mount: "", caps: smarttestCapabilities},
		{name: "smarttest capabilities, under a path", mount: "/auth", caps: smarttestCapabilities},
		{name: "README capabilities", mount: "", caps: []wellknown.Capability{wellknown.LaunchStandalone, wellknown.ClientPublic,
			wellknown.ContextStandalonePatient, wellknown.PermissionPatient, wellknown.PermissionV2}},
		{name: "backend services only", mount: "/auth", caps: []wellknown.Capability{wellknown.PermissionPatient, wellknown.PermissionV2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iss, err := New("ES256")
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			if tc.mount == "" {
				mux.Handle("/", iss.Handler("/token"))
			} else {
				mux.Handle("GET "+tc.mount+"/", http.StripPrefix(tc.mount, iss.Handler("/token")))
			}
			srv := httptest.NewServer(mux)
			defer srv.Close()
			iss.SetURL(srv.URL + tc.mount)

			doc, err := wellknown.FromIssuer(t.Context(), iss.URL(), srv.Client(), tc.caps...)
			if err != nil {
				t.Fatalf("FromIssuer: %v", err)
			}
			if err := doc.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			u := iss.URL()
			if doc.AuthorizationEndpoint != u+AuthorizePath || doc.TokenEndpoint != u+"/token" {
				t.Errorf("endpoints %q, %q", doc.AuthorizationEndpoint, doc.TokenEndpoint)
			}
			if !slices.Equal(doc.GrantTypesSupported, []string{"authorization_code", "client_credentials"}) {
				t.Errorf("grant_types_supported %q", doc.GrantTypesSupported)
			}
			if !slices.Equal(doc.CodeChallengeMethodsSupported, []string{"S256"}) {
				t.Errorf("code_challenge_methods_supported %q", doc.CodeChallengeMethodsSupported)
			}
			if sso := slices.Contains(tc.caps, wellknown.SSOOpenIDConnect); sso && (doc.Issuer != u || doc.JWKSURI != u+"/jwks.json") {
				t.Errorf("issuer %q, jwks_uri %q", doc.Issuer, doc.JWKSURI)
			}
		})
	}
}

// TestMetadataScopesAreSMARTScopes: every scope advertised parses.
func TestMetadataScopesAreSMARTScopes(t *testing.T) {
	iss, err := New("RS256")
	if err != nil {
		t.Fatal(err)
	}
	iss.SetURL("https://as.example.org")
	var m struct {
		Scopes []string `json:"scopes_supported"`
	}
	if err := json.Unmarshal(iss.Metadata("/token"), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Scopes) == 0 {
		t.Fatal("no scopes_supported")
	}
	for _, s := range m.Scopes {
		if _, err := scope.ParseScope(s); err != nil {
			t.Errorf("scopes_supported %q: %v", s, err)
		}
	}
}
