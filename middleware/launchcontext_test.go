package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// launchContextCases are patient and encounter claim values, for a token
// whose aud is aud (testAudience when nil) from an issuer whose audiences
// are testAudience and tenantB: the id the grant carries, or the
// error_description of the refusal.

var launchContextCases = []struct {
	name    string
	claim   string // "patient" or "encounter"
	value   string
	aud     []any
	want    string // the id read
	refusal string // the error_description, when refused
}{
	{name: "a plain id", claim: "patient", value: "123", want: "123"},
	{name: "a relative reference", claim: "patient", value: "Patient/123", want: "123"},
	{name: "a URL on the base", claim: "patient", value: testAudience + "/Patient/123", want: "123"},
	{name: "a URL with an upper-case host", claim: "patient", value: "https://FHIR.Example.ORG/r4/Patient/123", want: "123"},
	{name: "a URL with an upper-case scheme", claim: "patient", value: "HTTPS://fhir.example.org/r4/Patient/123", want: "123"},
	{name: "a URL with the default port", claim: "patient", value: "https://fhir.example.org:443/r4/Patient/123", want: "123"},
	{name: "a URL on the tenant the token is for", claim: "patient", value: tenantB + "/Patient/123", aud: []any{tenantB}, want: "123"},
	{name: "a relative reference in a token for two bases", claim: "patient", value: "Patient/123", aud: []any{testAudience, tenantB}, want: "123"},
	{name: "a URL on the base among unknown audiences", claim: "patient", value: testAudience + "/Patient/123", aud: []any{testAudience, "account", "https://other.example.org/r4"}, want: "123"},
	{name: "an encounter id", claim: "encounter", value: "9", want: "9"},
	{name: "an encounter reference", claim: "encounter", value: "Encounter/9", want: "9"},
	{name: "an encounter URL on the base", claim: "encounter", value: testAudience + "/Encounter/9", want: "9"},

	{name: "empty", claim: "patient", value: "", refusal: "patient is empty"},
	{name: "another type", claim: "patient", value: "Practitioner/123", refusal: "patient is a reference to a type other than Patient"},
	{name: "another type as a URL on the base", claim: "patient", value: testAudience + "/Practitioner/123", refusal: "patient is a reference to a type other than Patient"},
	{name: "an Encounter for patient", claim: "patient", value: "Encounter/9", refusal: "patient is a reference to a type other than Patient"},
	{name: "a Patient for encounter", claim: "encounter", value: "Patient/123", refusal: "encounter is a reference to a type other than Encounter"},
	{name: "another server", claim: "patient", value: "https://other.example.org/r4/Patient/123", refusal: "patient is not a URL of a resource on the token's base"},
	{name: "another tenant's base", claim: "patient", value: tenantB + "/Patient/123", refusal: "patient is not a URL of a resource on the token's base"},
	{name: "a base that only starts with this one's", claim: "patient", value: "https://fhir.example.org/r4x/Patient/1", refusal: "patient is not a URL of a resource on the token's base"},
	{name: "a path under the base", claim: "patient", value: testAudience + "/x/Patient/1", refusal: "patient is not a URL of a resource on the token's base"},
	{name: "http for the https base", claim: "patient", value: "http://fhir.example.org/r4/Patient/123", refusal: "patient is not a URL of a resource on the token's base"},
	{name: "another port", claim: "patient", value: "https://fhir.example.org:8443/r4/Patient/123", refusal: "patient is not a URL of a resource on the token's base"},
	{name: "user information", claim: "patient", value: "https://fhir.example.org@evil.example.org/r4/Patient/123", refusal: "patient is not a URL of a resource on the token's base"},
	{name: "a double slash after the base", claim: "patient", value: testAudience + "//Patient/123", refusal: "patient is not a URL of a resource on the token's base"},
	{name: "dot-segments back into the base", claim: "patient", value: testAudience + "/x/../Patient/123", refusal: "patient is not a URL of a resource on the token's base"},
	{name: "a version as a URL", claim: "patient", value: testAudience + "/Patient/123/_history/1", refusal: "patient is not a URL of a resource on the token's base"},
	{name: "a URL on one of the two bases the token is for", claim: "patient", value: testAudience + "/Patient/123", aud: []any{testAudience, tenantB}, refusal: "patient is a URL but the token is for several bases"},
	{name: "a URL on the other of the two", claim: "patient", value: tenantB + "/Patient/123", aud: []any{testAudience, tenantB}, refusal: "patient is a URL but the token is for several bases"},
	{name: "a version", claim: "patient", value: "Patient/123/_history/1", refusal: "patient is not an id, Patient/[id] or its URL here"},
	{name: "a query", claim: "patient", value: "Patient/123?x", refusal: "patient is not an id, Patient/[id] or its URL here"},
	{name: "a fragment", claim: "patient", value: "Patient/123#x", refusal: "patient is not an id, Patient/[id] or its URL here"},
	{name: "a climb out", claim: "patient", value: "../Patient/123", refusal: "patient is not an id, Patient/[id] or its URL here"},
	{name: "a percent-encoded slash", claim: "patient", value: "Patient%2F123", refusal: "patient is not an id, Patient/[id] or its URL here"},
	{name: "a percent-encoded slash, lower case", claim: "patient", value: "Patient%2f123", refusal: "patient is not an id, Patient/[id] or its URL here"},
	{name: "a trailing slash", claim: "patient", value: "Patient/123/", refusal: "patient is not an id, Patient/[id] or its URL here"},
	{name: "a path without a host", claim: "patient", value: "/r4/Patient/123", refusal: "patient is not an id, Patient/[id] or its URL here"},
	{name: "urn:uuid", claim: "patient", value: "urn:uuid:2b1a1d1e-8a4e-4f6b-9c1d-0b6a7c3b9e10", refusal: "patient is not an id, Patient/[id] or its URL here"},
	{name: "a bad id in a reference", claim: "patient", value: "Patient/a_b", refusal: "patient is not an id, Patient/[id] or its URL here"},
	{name: "an id of two dots", claim: "patient", value: "Patient/..", refusal: "patient is not an id, Patient/[id] or its URL here"},
	{name: "a bad encounter", claim: "encounter", value: "Encounter/9/_history/2", refusal: "encounter is not an id, Encounter/[id] or its URL here"},
	{name: "an encounter on another server", claim: "encounter", value: "https://other.example.org/r4/Encounter/9", refusal: "encounter is not a URL of a resource on the token's base"},
}

// launchContextGuard is a Guard whose issuer serves testAudience and
// tenantB, and another issuer that serves a third base.
func launchContextGuard(t *testing.T, is *smarttest.Issuer, adjust func(*smartmw.Config)) *smartmw.Guard {
	return newGuard(t, is, func(c *smartmw.Config) {
		c.Issuer.Audiences = []string{tenantB}
		c.Issuers = []smartmw.Issuer{{URL: "https://other-as.example.org", Audience: "https://fhir.example.org/third", Keyfunc: noKeys}}
		if adjust != nil {
			adjust(c)
		}
	})
}

// TestLaunchContextReferencesAreReadAsIds: patient and encounter given as
// a reference, relative or on the FHIR base the token is for, are read
// as the id; every other form is refused at authentication with 401
// invalid_token saying what is wrong, never read as another resource.
func TestLaunchContextReferencesAreReadAsIds(t *testing.T) {
	is := newIssuer(t)
	m := launchContextGuard(t, is, nil)
	for _, tc := range launchContextCases {
		t.Run(tc.name, func(t *testing.T) {
			c := goodClaims(is)
			c[tc.claim] = tc.value
			if tc.aud != nil {
				c["aud"] = tc.aud
			}
			tok := sign(t, is, c)
			g, err := m.Verify(context.Background(), tok)
			if tc.refusal != "" {
				wantInvalid(t, m, tok, smartmw.ErrClaim)
				var e *smartmw.Error
				if errors.As(err, &e) && e.Description != tc.refusal {
					t.Errorf("description %q, want %q", e.Description, tc.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := g.Patient()
			if tc.claim == "encounter" {
				got = g.Encounter()
			}
			if got != tc.want {
				t.Errorf("%s %q, want %q", tc.claim, got, tc.want)
			}
		})
	}
}

// TestLaunchContextRefusalIsAChallenge: the refusal reaches the client as
// a 401 invalid_token challenge with the description, and the request
// never reaches the handler.
func TestLaunchContextRefusalIsAChallenge(t *testing.T) {
	is := newIssuer(t)
	m := launchContextGuard(t, is, nil)
	c := goodClaims(is)
	c["patient"] = "https://other.example.org/r4/Patient/123"
	req := httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=123", nil)
	req.Header.Set("Authorization", "Bearer "+sign(t, is, c))
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler reached") })).ServeHTTP(rec, req)
	want := `error="invalid_token", error_description="patient is not a URL of a resource on the token's base"`
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Header().Get("WWW-Authenticate"), want) {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

// TestLaunchContextOfAnotherIssuersBase: a URL on a base this Guard
// serves for another issuer is not on the token's base, even when the
// token names that base in aud too.
func TestLaunchContextOfAnotherIssuersBase(t *testing.T) {
	is := newIssuer(t)
	m := launchContextGuard(t, is, nil)
	c := goodClaims(is)
	c["aud"] = []any{testAudience, "https://fhir.example.org/third"}
	c["patient"] = "https://fhir.example.org/third/Patient/123"
	wantInvalid(t, m, sign(t, is, c), smartmw.ErrClaim)
	c["patient"] = testAudience + "/Patient/123"
	if g, err := m.Verify(context.Background(), sign(t, is, c)); err != nil || g.Patient() != "123" {
		t.Fatalf("patient %q, %v", g.Patient(), err)
	}
}

// TestIntrospectedLaunchContextReadTheSameWay: an introspection answer's
// patient and encounter go through the same reading as a JWT's.
func TestIntrospectedLaunchContextReadTheSameWay(t *testing.T) {
	is := newIssuer(t)
	f := newFakeIntrospection(t)
	m := launchContextGuard(t, is, func(c *smartmw.Config) {
		c.Issuer.Format = smartmw.TokensIntrospect
		c.Issuer.Introspection = smartmw.Introspection{Endpoint: f.url(), ClientID: "fhir-server", ClientSecret: "s3cret"}
	})
	for i, tc := range launchContextCases {
		t.Run(tc.name, func(t *testing.T) {
			tok := "opaque-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26+1)
			a := activeAnswer(is)
			a[tc.claim] = tc.value
			if tc.aud != nil {
				a["aud"] = tc.aud
			}
			f.set(tok, a)
			g, err := m.Verify(context.Background(), tok)
			if tc.refusal != "" {
				var e *smartmw.Error
				if g != nil || !errors.As(err, &e) || e.Code != smartmw.CodeInvalidToken || e.Description != tc.refusal {
					t.Fatalf("grant %v, err %v; want invalid_token %q", g, err, tc.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := g.Patient()
			if tc.claim == "encounter" {
				got = g.Encounter()
			}
			if got != tc.want {
				t.Errorf("%s %q, want %q", tc.claim, got, tc.want)
			}
		})
	}
}

// TestIntrospectedLaunchContextWithoutAudience: an answer without aud,
// accepted with SkipMissingAudience, is taken for the issuer's first
// audience: a URL on it is read, one on its other bases is not.
func TestIntrospectedLaunchContextWithoutAudience(t *testing.T) {
	is := newIssuer(t)
	f := newFakeIntrospection(t)
	m := launchContextGuard(t, is, func(c *smartmw.Config) {
		c.Issuer.Format = smartmw.TokensIntrospect
		c.Issuer.Introspection = smartmw.Introspection{Endpoint: f.url(), ClientID: "fhir-server", ClientSecret: "s3cret", SkipMissingAudience: true}
	})
	for _, tc := range []struct{ tok, patient, want string }{
		{"t1", testAudience + "/Patient/123", "123"},
		{"t2", tenantB + "/Patient/123", ""},
	} {
		a := activeAnswer(is)
		delete(a, "aud")
		a["patient"] = tc.patient
		f.set(tc.tok, a)
		g, err := m.Verify(context.Background(), tc.tok)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: patient %q accepted", tc.patient, g.Patient())
			}
			continue
		}
		if err != nil || g.Patient() != tc.want {
			t.Errorf("%s: patient %q, %v", tc.patient, g.Patient(), err)
		}
	}
}
