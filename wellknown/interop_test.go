package wellknown

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readmeCapabilities are the capabilities of the README's quick start.
var readmeCapabilities = []Capability{LaunchStandalone, ClientPublic, ContextStandalonePatient, PermissionPatient, PermissionV2}

// fixtureIssuer serves testdata/issuers/file at issuerPath's OpenID
// Connect discovery URL, {{base}} replaced by the server's URL, and
// returns the issuer and the document as served.
func fixtureIssuer(t *testing.T, file, issuerPath string) (issuer string, served map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "issuers", file))
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != strings.TrimSuffix(issuerPath, "/")+"/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	body = []byte(strings.ReplaceAll(string(raw), "{{base}}", srv.URL))
	if err := json.Unmarshal(body, &served); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if served["issuer"] != srv.URL+issuerPath {
		t.Fatalf("%s: issuer %v, the table says %s", file, served["issuer"], srv.URL+issuerPath)
	}
	return srv.URL + issuerPath, served
}

// strs returns the member name of doc as a list of strings.
func strs(doc map[string]any, name string) []string {
	list, _ := doc[name].([]any)
	var out []string
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// TestFromIssuerGivesValidDocumentForEachAuthorizationServer: with the
// README's capabilities, with and without sso-openid-connect, FromIssuer
// gives a document that Validate accepts and Handler serves, for metadata
// shaped like that of the major authorization servers.
func TestFromIssuerGivesValidDocumentForEachAuthorizationServer(t *testing.T) {
	servers := []struct {
		name, file, issuerPath string
		advertisesS256         bool // else the user must add it
		omitsGrantTypes        bool
	}{
		{name: "Keycloak", file: "keycloak.json", issuerPath: "/realms/fhir", advertisesS256: true},
		{name: "Okta", file: "okta.json", issuerPath: "/oauth2/default", advertisesS256: true},
		{name: "Auth0", file: "auth0.json", issuerPath: "/", advertisesS256: true, omitsGrantTypes: true},
		{name: "Entra ID", file: "entra-id.json", issuerPath: "/aaaabbbb-0000-cccc-1111-dddd2222eeee/v2.0", omitsGrantTypes: true},
		{name: "Ory Hydra", file: "ory-hydra.json", issuerPath: "", advertisesS256: true},
		{name: "oidc-provider", file: "oidc-provider.json", issuerPath: "/oidc", advertisesS256: true},
	}
	for _, as := range servers {
		for _, sso := range []bool{false, true} {
			name := as.name + "/README capabilities"
			caps := slices.Clone(readmeCapabilities)
			if sso {
				name += " and sso-openid-connect"
				caps = append(caps, SSOOpenIDConnect)
			}
			t.Run(name, func(t *testing.T) {
				iss, meta := fixtureIssuer(t, as.file, as.issuerPath)
				doc, err := FromIssuer(t.Context(), iss, nil, caps...)
				if err != nil {
					t.Fatalf("FromIssuer: %v", err)
				}

				if slices.Contains(doc.CodeChallengeMethodsSupported, "plain") {
					t.Errorf("code_challenge_methods_supported %q keeps plain", doc.CodeChallengeMethodsSupported)
				}
				if sso {
					if doc.Issuer != iss || doc.JWKSURI != meta["jwks_uri"] || doc.JWKSURI == "" {
						t.Errorf("issuer %q, jwks_uri %q: want both kept with %s", doc.Issuer, doc.JWKSURI, SSOOpenIDConnect)
					}
				} else if doc.Issuer != "" || doc.JWKSURI != "" {
					t.Errorf("issuer %q, jwks_uri %q: want both omitted without %s", doc.Issuer, doc.JWKSURI, SSOOpenIDConnect)
				}
				if doc.TokenEndpoint != meta["token_endpoint"] || doc.AuthorizationEndpoint != meta["authorization_endpoint"] {
					t.Errorf("endpoints %q, %q not taken from the metadata", doc.AuthorizationEndpoint, doc.TokenEndpoint)
				}
				wantGrants := strs(meta, "grant_types_supported")
				if as.omitsGrantTypes {
					wantGrants = []string{"authorization_code"}
				}
				if !slices.Equal(doc.GrantTypesSupported, wantGrants) {
					t.Errorf("grant_types_supported %q, want %q", doc.GrantTypesSupported, wantGrants)
				}
				if !slices.Equal(doc.Capabilities, caps) {
					t.Errorf("capabilities %q, want %q", doc.Capabilities, caps)
				}

				err = doc.Validate()
				if !as.advertisesS256 {
					// FromIssuer does not claim S256 for the server;
					// Validate names the one member to complete.
					var fe *FieldError
					if !errors.As(err, &fe) || fe.Field != "code_challenge_methods_supported" || len(err.(interface{ Unwrap() []error }).Unwrap()) != 1 {
						t.Fatalf("Validate = %v, want only code_challenge_methods_supported reported", err)
					}
					doc.CodeChallengeMethodsSupported = []string{"S256"}
					err = doc.Validate()
				}
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}

				h, err := Handler(*doc)
				if err != nil {
					t.Fatalf("Handler: %v", err)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/r4/.well-known/smart-configuration", nil))
				var served map[string]any
				if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &served) != nil {
					t.Fatalf("served %d %s", w.Code, w.Body)
				}
				if got := strs(served, "code_challenge_methods_supported"); !slices.Equal(got, []string{"S256"}) {
					t.Errorf("served code_challenge_methods_supported %q, want [S256]", got)
				}
				for _, member := range []string{"issuer", "jwks_uri"} {
					if _, ok := served[member]; ok != sso {
						t.Errorf("served %s: present %v, want %v", member, ok, sso)
					}
				}
				for _, member := range []string{"userinfo_endpoint", "claims_supported", "scopes_supported", "response_modes_supported", "id_token_signing_alg_values_supported"} {
					if _, ok := served[member]; ok {
						t.Errorf("served %s, which SMART does not define or FromIssuer must not copy", member)
					}
				}
			})
		}
	}
}
