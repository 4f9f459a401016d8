package adaptertest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/internal/fakeas"
	"github.com/smartguard/smartguard/internal/testissuer"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/wellknown"
)

// The helpers of the adapters' tests that run the README's lines and the
// package documentation's snippets verbatim, against the authorization
// server those snippets name.

// DocIssuer is the authorization server the documentation names.
const DocIssuer = "https://auth.example.org/realms/fhir"

// FakeAuthServer serves the documentation's issuer in process (fakeas).
func FakeAuthServer(t *testing.T) *testissuer.Issuer { return fakeas.Serve(t, DocIssuer) }

// DocToken returns a token of dev for patient 123 with scopes (and
// launch/patient), for Audience.
func DocToken(t *testing.T, dev *testissuer.Issuer, scopes string) string {
	t.Helper()
	tok, err := dev.Sign(jwt.MapClaims{"iss": dev.URL(), "aud": Audience, "sub": "u1", "client_id": "app",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		"scope": "launch/patient " + scopes, "patient": "123"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// DocGuard returns a Guard trusting the fake authorization server, for
// the snippets that take one.
func DocGuard(t *testing.T, ctx context.Context) *smartmw.Guard {
	t.Helper()
	g, err := smartmw.New(ctx, smartmw.Config{Issuer: smartmw.Issuer{
		URL:      DocIssuer,
		Audience: Audience,
	}, AllowedOrigins: []string{AppOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// DocDiscovery returns the SMART discovery document built from the fake
// authorization server's metadata, as the README's quick start builds it.
func DocDiscovery(t *testing.T, ctx context.Context) http.Handler {
	t.Helper()
	doc, err := wellknown.FromIssuer(ctx, DocIssuer, nil,
		wellknown.LaunchStandalone, wellknown.ClientPublic, wellknown.ContextStandalonePatient,
		wellknown.PermissionPatient, wellknown.PermissionV2)
	if err != nil {
		t.Fatal(err)
	}
	h, err := wellknown.Handler(*doc)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// READMECases are what the README's lines for a framework must answer,
// with a [FHIR]'s Read("Observation") as readObservation: the discovery
// document without a token, and what readObservation writes only for the
// token's patient.
func READMECases(t *testing.T, dev *testissuer.Issuer) []Case {
	tok := DocToken(t, dev, "patient/Observation.rs")
	return []Case{
		{Name: "discovery without a token", Method: "GET", Target: "/fhir/.well-known/smart-configuration",
			WantStatus: 200, WantIn: `"token_endpoint":"https://auth.example.org/realms/fhir/token"`},
		{Name: "the patient's Observation", Method: "GET", Target: "/fhir/Observation/obs-123", Token: tok,
			WantStatus: 200, WantIn: `"obs-123"`, WantCalls: []string{"GET Observation/obs-123"}},
		// readObservation answers obs-456: the response guard refuses it.
		{Name: "another patient's Observation", Method: "GET", Target: "/fhir/Observation/obs-456", Token: tok,
			WantStatus: 403, WantCalls: []string{"GET Observation/obs-456"}},
		{Name: "no token", Method: "GET", Target: "/fhir/Observation/obs-123", WantStatus: 401},
	}
}

// PackageDocWiringCases are what the wiring of an adapter's package
// documentation must answer, with a [FHIR]'s handlers as readPatient
// (which records the grant it reads first, as "grant of patient 123: read
// of patient 123"), searchObservations, readObservation,
// updateObservation and deleteObservation.
func PackageDocWiringCases(t *testing.T, dev *testissuer.Issuer) []Case {
	read := DocToken(t, dev, "patient/Patient.r patient/Observation.rs")
	write := DocToken(t, dev, "patient/Observation.rud")
	return []Case{
		{Name: "discovery without a token", Method: "GET", Target: "/fhir/.well-known/smart-configuration",
			WantStatus: 200, WantIn: `"token_endpoint"`},
		{Name: "discovery preflight from any origin", Method: "OPTIONS", Target: "/fhir/.well-known/smart-configuration",
			Origin: "https://anyone.example", WantStatus: 204},
		{Name: "no token", Method: "GET", Target: "/fhir/Observation/obs-123", WantStatus: 401},
		{Name: "the patient's Patient, the handler reading the grant", Method: "GET", Target: "/fhir/Patient/123", Token: read,
			WantStatus: 200, WantIn: `"123"`, WantCalls: []string{"grant of patient 123: read of patient 123", "GET Patient/123"}},
		{Name: "another patient's Patient", Method: "GET", Target: "/fhir/Patient/456", Token: read, WantStatus: 403},
		{Name: "the patient's Observation", Method: "GET", Target: "/fhir/Observation/obs-123", Token: read,
			WantStatus: 200, WantIn: `"obs-123"`, WantCalls: []string{"GET Observation/obs-123"}},
		{Name: "another patient's Observation", Method: "GET", Target: "/fhir/Observation/obs-456", Token: read,
			WantStatus: 403, WantCalls: []string{"GET Observation/obs-456"}},
		{Name: "a search answered with every patient's entries", Method: "GET", Target: "/fhir/Observation?patient=123", Token: read,
			WantStatus: 200, WantIDs: []string{"obs-123"}, WantCalls: []string{"search Observation"}},
		{Name: "HEAD of the patient's Observation", Method: "HEAD", Target: "/fhir/Observation/obs-123", Token: read,
			WantStatus: 200, WantCalls: []string{"GET Observation/obs-123"}},
		{Name: "HEAD of another patient's Observation", Method: "HEAD", Target: "/fhir/Observation/obs-456", Token: read,
			WantStatus: 403, WantCalls: []string{"GET Observation/obs-456"}},
		{Name: "update of another patient's Observation", Method: "PUT", Target: "/fhir/Observation/obs-456", Token: write,
			Body: Observation("obs-456", "123"), WantStatus: 403, WantCalls: []string{"GET Observation/obs-456"}},
		{Name: "update of the patient's Observation", Method: "PUT", Target: "/fhir/Observation/obs-123", Token: write,
			Body: Observation("obs-123", "123"), WantStatus: 200, WantIn: `"obs-123"`,
			WantCalls: []string{"GET Observation/obs-123", `PUT Observation/obs-123 If-Match W/"1"`}},
		{Name: "delete of another patient's Observation", Method: "DELETE", Target: "/fhir/Observation/obs-456", Token: write,
			WantStatus: 403, WantCalls: []string{"GET Observation/obs-456"}},
		{Name: "delete of the patient's Observation", Method: "DELETE", Target: "/fhir/Observation/obs-123", Token: write,
			WantStatus: 204, WantCalls: []string{"GET Observation/obs-123", "DELETE Observation/obs-123"}},
		{Name: "CORS preflight of a read", Method: "OPTIONS", Target: "/fhir/Observation/obs-123", Origin: AppOrigin, WantStatus: 204},
	}
}

// OneHandlerCases are what the routes of an adapter's package
// documentation for a FHIR API served by one http.Handler (a [FHIR]'s
// routes) must answer.
func OneHandlerCases(t *testing.T, dev *testissuer.Issuer) []Case {
	tok := DocToken(t, dev, "patient/Observation.rs")
	return []Case{
		{Name: "discovery without a token", Method: "GET", Target: "/fhir/.well-known/smart-configuration",
			WantStatus: 200, WantIn: `"token_endpoint"`},
		{Name: "no token", Method: "GET", Target: "/fhir/Observation/obs-123", WantStatus: 401},
		{Name: "the patient's Observation", Method: "GET", Target: "/fhir/Observation/obs-123", Token: tok,
			WantStatus: 200, WantIn: `"obs-123"`, WantCalls: []string{"GET Observation/obs-123"}},
		// The API answers obs-456: the response guard refuses it.
		{Name: "another patient's Observation", Method: "GET", Target: "/fhir/Observation/obs-456", Token: tok,
			WantStatus: 403, WantCalls: []string{"GET Observation/obs-456"}},
		{Name: "a search answered with every patient's entries", Method: "GET", Target: "/fhir/Observation?patient=123", Token: tok,
			WantStatus: 200, WantIDs: []string{"obs-123"}, WantCalls: []string{"search Observation"}},
		{Name: "CORS preflight of a batch", Method: "OPTIONS", Target: "/fhir", Origin: AppOrigin, WantStatus: 204},
	}
}
