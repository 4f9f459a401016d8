package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// TestAuthorizationServerTokenShapes: access tokens shaped as each
// authorization server issues them (claim names, nesting, scope forms,
// typ), with the Config the table of docs/authorization-servers.md gives
// for that server, carry their launch context and scopes into the grant
// and the decision.
func TestAuthorizationServerTokenShapes(t *testing.T) {
	is := newIssuer(t)
	for _, tc := range tokenShapes() {
		t.Run(tc.name, func(t *testing.T) {
			m := newGuard(t, is, func(c *smartmw.Config) {
				c.Issuer.URL = tc.iss
				if tc.adjust != nil {
					tc.adjust(c)
				}
			})
			tc.claims["iss"] = tc.iss
			tok := sign(t, is, tc.claims, headers(tc.hdr)...)
			req := httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=123", nil)
			if tc.patient == "example" {
				req = httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=example", nil)
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			reached := false
			m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				w.Header().Set("Content-Type", "application/fhir+json")
				w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[]}`))
			})).ServeHTTP(rec, req)
			if !reached || rec.Code != http.StatusOK {
				t.Fatalf("patient search: %d %s %s", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
			}
			g, err := m.Verify(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if g.Patient() != tc.patient || g.FHIRUser() != tc.user || g.ClientID() != tc.client {
				t.Errorf("patient %q fhirUser %q client %q, want %q %q %q", g.Patient(), g.FHIRUser(), g.ClientID(), tc.patient, tc.user, tc.client)
			}
			for _, s := range tc.scopes {
				if !g.Scopes().Has(s) {
					t.Errorf("scope %s missing from %s (invalid: %v)", s, g.Scopes(), g.Scopes().Invalid())
				}
			}
		})
	}
}

// tokenShape is an access token as an authorization server issues it,
// with the Config docs/authorization-servers.md gives for that server,
// and what its grant must hold.
type tokenShape struct {
	name    string
	iss     string
	hdr     map[string]any
	claims  jwt.MapClaims
	adjust  func(*smartmw.Config)
	patient string
	user    string
	client  string
	scopes  []string
	// patientAt is where the server puts the patient: the names of the
	// nested members ("ext", "patient"); nil for a top-level "patient".
	patientAt []string
}

// setPatient sets the patient claim of the token shaped as ts to v.
func (ts tokenShape) setPatient(v string) {
	at := ts.patientAt
	if at == nil {
		at = []string{"patient"}
	}
	m := map[string]any(ts.claims)
	for _, step := range at[:len(at)-1] {
		m = m[step].(map[string]any)
	}
	m[at[len(at)-1]] = v
}

// tokenShapes are the access tokens of TestAuthorizationServerTokenShapes,
// made afresh for each use.
func tokenShapes() []tokenShape {
	iat, exp := testNow.Add(-time.Minute).Unix(), testNow.Add(time.Hour).Unix()
	return []tokenShape{{
		name: "Ory Hydra: scp array, aud array, launch context under ext",
		iss:  "http://127.0.0.1:4444",
		hdr:  map[string]any{"typ": "JWT"},
		claims: jwt.MapClaims{
			"aud": []any{testAudience}, "client_id": "smart-app", "exp": exp, "iat": iat, "nbf": iat,
			"jti": "5d1f", "sub": "alice", "scp": []any{"launch/patient", "patient/Observation.rs", "openid"},
			"ext": map[string]any{"patient": "example", "fhirUser": "Patient/example"},
		},
		adjust: func(c *smartmw.Config) {
			c.Issuer.Claims = smartmw.ClaimNames{Patient: []string{"ext.patient"}, FHIRUser: []string{"ext.fhirUser"}}
		},
		patient: "example", user: "Patient/example", client: "smart-app",
		scopes:    []string{"launch/patient", "patient/Observation.rs"},
		patientAt: []string{"ext", "patient"},
	}, {
		name: "Microsoft Entra ID v2: scp string with %2F, client in azp",
		iss:  "https://login.microsoftonline.com/0c8e4a4e-tenant/v2.0",
		hdr:  map[string]any{"typ": "JWT"},
		claims: jwt.MapClaims{
			"aud": testAudience, "azp": "7f2c-app", "exp": exp, "iat": iat, "nbf": iat, "sub": "AAAA-sub", "oid": "5e1c",
			"tid": "0c8e4a4e-tenant", "ver": "2.0", "scp": "launch%2Fpatient patient%2FObservation.rs patient%2fPatient.r",
			"fhirUser": "https://fhir.example.org/r4/Patient/123", "patient": "123",
		},
		adjust:  func(c *smartmw.Config) { c.Issuer.DecodeScopeSlashes = true },
		patient: "123", user: "https://fhir.example.org/r4/Patient/123", client: "7f2c-app",
		scopes: []string{"launch/patient", "patient/Observation.rs", "patient/Patient.r"},
	}, {
		name: "Okta: scp array, client in cid, no typ",
		iss:  "https://example.okta.com/oauth2/aus1fhir",
		hdr:  map[string]any{"typ": nil},
		claims: jwt.MapClaims{
			"ver": 1, "jti": "AT.x", "aud": testAudience, "cid": "0oa-app", "uid": "00u1", "exp": exp, "iat": iat,
			"sub": "alice@example.org", "scp": []any{"launch/patient", "patient/Observation.rs"}, "patient": "123",
		},
		adjust:  func(c *smartmw.Config) { c.Issuer.Claims = smartmw.ClaimNames{ClientID: []string{"client_id", "cid"}} },
		patient: "123", client: "0oa-app",
		scopes: []string{"patient/Observation.rs"},
	}, {
		name: "Keycloak: scope string, azp, typ Bearer claim",
		iss:  "https://auth.example.org/realms/fhir",
		hdr:  map[string]any{"typ": "JWT"},
		claims: jwt.MapClaims{
			"exp": exp, "iat": iat, "jti": "onrtac:1", "iss": "https://auth.example.org/realms/fhir",
			"aud": []any{testAudience, "account"}, "sub": "f3a1", "typ": "Bearer", "azp": "smart-app",
			"scope": "openid fhirUser launch/patient patient/Observation.rs", "patient": "123",
			"fhirUser": "Patient/123", "realm_access": map[string]any{"roles": []any{"offline_access"}},
		},
		patient: "123", user: "Patient/123", client: "smart-app",
		scopes: []string{"patient/Observation.rs"},
	}, {
		name: "Auth0: issuer with a slash, namespaced claims with dots",
		iss:  "https://tenant.eu.auth0.com/",
		hdr:  map[string]any{"typ": "at+jwt"},
		claims: jwt.MapClaims{
			"aud": []any{testAudience, "https://tenant.eu.auth0.com/userinfo"}, "azp": "auth0-app", "exp": exp, "iat": iat,
			"sub": "auth0|abc", "scope": "openid launch/patient patient/Observation.rs",
			"permissions": []any{"read:everything"}, "https://fhir.example.org/patient": "123",
			"https://fhir.example.org/fhirUser": "Patient/123",
		},
		adjust: func(c *smartmw.Config) {
			c.Issuer.Claims = smartmw.ClaimNames{Patient: []string{"https://fhir.example.org/patient"}, FHIRUser: []string{"https://fhir.example.org/fhirUser"}}
		},
		patient: "123", user: "Patient/123", client: "auth0-app",
		scopes:    []string{"patient/Observation.rs"},
		patientAt: []string{"https://fhir.example.org/patient"},
	}, {
		name: "node oidc-provider: JWT access token of a resource indicator, extraTokenClaims at the top level",
		iss:  "https://op.example.org",
		hdr:  map[string]any{"typ": "at+jwt"},
		claims: jwt.MapClaims{
			"jti": "W1x", "sub": "alice", "iat": iat, "exp": exp, "scope": "openid fhirUser launch/patient patient/Observation.rs",
			"client_id": "op-app", "aud": testAudience, "patient": "123", "fhirUser": "https://fhir.example.org/r4/Practitioner/p1",
		},
		patient: "123", user: "https://fhir.example.org/r4/Practitioner/p1", client: "op-app",
		scopes: []string{"launch/patient", "patient/Observation.rs"},
	}, {
		name: "SMART reference launcher shape: context.patient",
		iss:  "https://launch.example.org/v/r4/auth",
		hdr:  map[string]any{"typ": "JWT"},
		claims: jwt.MapClaims{
			"aud": testAudience, "client_id": "app", "exp": exp, "iat": iat, "scope": "launch patient/*.rs",
			"context": map[string]any{"patient": "123", "need_patient_banner": true, "smart_style_url": "https://launch.example.org/style.json"},
		},
		adjust: func(c *smartmw.Config) {
			c.Issuer.Claims = smartmw.ClaimNames{Patient: []string{"patient", "context.patient"}, NeedPatientBanner: []string{"context.need_patient_banner"},
				SmartStyleURL: []string{"context.smart_style_url"}}
		},
		patient: "123", client: "app",
		scopes: []string{"patient/*.rs"},
	}}
}

// TestTokenShapesWithPatientReferences: whichever server's shape carries
// it, and wherever in the token, a patient given as a reference or a URL
// on the token's base is read as the id and decides the compartment; one
// on another server, another base or of a version refuses the token.
func TestTokenShapesWithPatientReferences(t *testing.T) {
	is := newIssuer(t)
	values := []struct {
		name, value string
		ok          bool
	}{
		{"relative", "Patient/123", true},
		{"URL on the base", testAudience + "/Patient/123", true},
		{"URL, upper-case host and default port", "https://FHIR.example.org:443/r4/Patient/123", true},
		{"URL on another server", "https://ehr.example.org/r4/Patient/123", false},
		{"URL on a base that only starts with this one's", "https://fhir.example.org/r4x/Patient/123", false},
		{"URL on another tenant", "https://fhir.example.org/tenant-b/Patient/123", false},
		{"version", "Patient/123/_history/1", false},
	}
	for i, shape := range tokenShapes() {
		for _, v := range values {
			t.Run(shape.name+"/"+v.name, func(t *testing.T) {
				tc := tokenShapes()[i] // claims of its own to change
				m := newGuard(t, is, func(c *smartmw.Config) {
					c.Issuer.URL = tc.iss
					c.Issuer.Audiences = []string{"https://fhir.example.org/tenant-b"}
					if tc.adjust != nil {
						tc.adjust(c)
					}
				})
				tc.claims["iss"] = tc.iss
				tc.setPatient(v.value)
				tok := sign(t, is, tc.claims, headers(tc.hdr)...)
				h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/fhir+json")
					w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[]}`))
				}))
				status := func(target string) int {
					req := httptest.NewRequest(http.MethodGet, target, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					return rec.Code
				}
				if !v.ok {
					if got := status("/r4/Observation?patient=123"); got != http.StatusUnauthorized {
						t.Fatalf("status %d, want 401", got)
					}
					return
				}
				if got := status("/r4/Observation?patient=123"); got != http.StatusOK {
					t.Fatalf("own search: status %d", got)
				}
				if got := status("/r4/Observation?patient=456"); got != http.StatusForbidden {
					t.Errorf("another patient's search: status %d", got)
				}
				if g, err := m.Verify(context.Background(), tok); err != nil || g.Patient() != "123" {
					t.Errorf("patient %q, %v", g.Patient(), err)
				}
			})
		}
	}
}

// TestClaimPaths: how a claim name is looked up: a top-level claim of
// that exact name first, then a path into nested objects.
func TestClaimPaths(t *testing.T) {
	is := newIssuer(t)
	tests := []struct {
		name    string
		names   []string
		claims  map[string]any
		want    string
		invalid bool
	}{
		{"nested", []string{"ext.patient"}, map[string]any{"ext": map[string]any{"patient": "a"}}, "a", false},
		{"deeper", []string{"a.b.patient"}, map[string]any{"a": map[string]any{"b": map[string]any{"patient": "a"}}}, "a", false},
		{"top-level name with a dot wins", []string{"ext.patient"}, map[string]any{"ext.patient": "a", "ext": map[string]any{"patient": "b"}}, "a", false},
		{"member name with a dot inside an object", []string{"ext.https://x.example/patient"}, map[string]any{"ext": map[string]any{"https://x.example/patient": "a"}}, "a", false},
		{"first present of a list", []string{"ext.patient", "patient"}, map[string]any{"patient": "b"}, "b", false},
		{"path through a non-object", []string{"ext.patient"}, map[string]any{"ext": "x"}, "", false},
		{"arrays are not entered", []string{"ext.0"}, map[string]any{"ext": []any{"a"}}, "", false},
		{"missing", []string{"ext.patient"}, map[string]any{"ext": map[string]any{}}, "", false},
		{"wrong type at the end", []string{"ext.patient"}, map[string]any{"ext": map[string]any{"patient": 7}}, "", true},
		{"invalid id at the end", []string{"ext.patient"}, map[string]any{"ext": map[string]any{"patient": "a/b"}}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newGuard(t, is, func(c *smartmw.Config) { c.Issuer.Claims.Patient = tc.names })
			c := goodClaims(is)
			delete(c, "patient")
			for k, v := range tc.claims {
				c[k] = v
			}
			g, err := m.Verify(context.Background(), sign(t, is, c))
			if tc.invalid {
				if !errors.Is(err, smartmw.ErrInvalidToken) {
					t.Fatalf("err = %v, want invalid_token", err)
				}
				return
			}
			if err != nil || g.Patient() != tc.want {
				t.Fatalf("patient %q, err %v; want %q", g.Patient(), err, tc.want)
			}
		})
	}
}

// TestDecodeScopeSlashes: with DecodeScopeSlashes, "%2F" in the part of a
// scope before "?" is "/"; constraint values are decoded once, by the
// scope grammar; nothing else is decoded. Without it such scopes grant
// nothing.
func TestDecodeScopeSlashes(t *testing.T) {
	is := newIssuer(t)
	tests := []struct {
		name   string
		claim  any
		decode bool
		want   []string // scopes the grant holds
		wantNo []string // scopes it must not hold
	}{
		{"string", "launch%2Fpatient patient%2FObservation.rs", true, []string{"launch/patient", "patient/Observation.rs"}, nil},
		{"lower case", "patient%2fObservation.rs", true, []string{"patient/Observation.rs"}, nil},
		{"array", []any{"patient%2FObservation.rs", "user%2FPatient.r"}, true, []string{"patient/Observation.rs", "user/Patient.r"}, nil},
		{"constraint decoded once", "patient%2FObservation.rs?category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Claboratory", true,
			[]string{"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}, nil},
		{"double encoding stays", "patient%252FObservation.rs", true, nil, []string{"patient/Observation.rs"}},
		{"off by default", "patient%2FObservation.rs", false, nil, []string{"patient/Observation.rs"}},
		{"plain slashes unchanged", "patient/Observation.rs", true, []string{"patient/Observation.rs"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newGuard(t, is, func(c *smartmw.Config) { c.Issuer.DecodeScopeSlashes = tc.decode })
			c := goodClaims(is)
			c["scope"] = tc.claim
			g, err := m.Verify(context.Background(), sign(t, is, c))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.want {
				if !g.Scopes().Has(s) {
					t.Errorf("missing %s in %s (invalid %v)", s, g.Scopes(), g.Scopes().Invalid())
				}
			}
			for _, s := range tc.wantNo {
				if g.Scopes().Has(s) {
					t.Errorf("holds %s", s)
				}
			}
		})
	}
}

// TestClaimNamesPerIssuer: each issuer reads its tokens with its own
// claim names; an empty name is a Config error.
func TestClaimNamesPerIssuer(t *testing.T) {
	is := newIssuer(t)
	const other = "https://hydra.example.org"
	const otherBase = "https://fhir.example.org/tenant-b"
	m := newGuard(t, is, func(c *smartmw.Config) {
		c.Issuers = []smartmw.Issuer{{URL: other, Audience: otherBase, JWKSURL: jwksOf(is), DecodeScopeSlashes: true,
			Claims: smartmw.ClaimNames{Patient: []string{"ext.patient"}}}}
	})
	nested := goodClaims(is)
	delete(nested, "patient")
	nested["ext"] = map[string]any{"patient": "p1"}
	nested["scope"] = "patient%2FObservation.rs"
	g, err := m.Verify(context.Background(), sign(t, is, nested))
	if err != nil || g.Patient() != "" || g.Scopes().Has("patient/Observation.rs") {
		t.Errorf("first issuer: patient %q scopes %s err %v; want neither the path nor the decoding", g.Patient(), g.Scopes(), err)
	}
	nested["iss"], nested["aud"] = other, otherBase
	g, err = m.Verify(context.Background(), sign(t, is, nested))
	if err != nil || g.Patient() != "p1" || !g.Scopes().Has("patient/Observation.rs") {
		t.Errorf("second issuer: patient %q scopes %s err %v", g.Patient(), g.Scopes(), err)
	}
	_, err = smartmw.New(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{
		URL:      is.URL(),
		Audience: testAudience,
		Keyfunc:  noKeys,
		Claims:   smartmw.ClaimNames{Patient: []string{""}},
	}, Issuers: []smartmw.Issuer{{URL: other, Audience: otherBase, Keyfunc: noKeys, Claims: smartmw.ClaimNames{Scope: []string{"scp", ""}}}}})
	if err == nil {
		t.Fatal("empty claim names accepted")
	}
	for _, want := range []string{"Claims.Patient", "Issuers[0].Claims.Scope"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
