package bench

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/internal/testissuer"
	smartmw "github.com/smartguard/smartguard/middleware"
)

const (
	issuer   = "https://auth.example.org/realms/fhir"
	audience = "https://fhir.example.org/r4"
	patient  = "123"
)

// algorithms are the JWS algorithms compared for tokens seen the first
// time.
var algorithms = []string{"RS256", "ES256", "EdDSA"}

// signer is an authorization server of one algorithm: its key and a
// token minted with it.
type signer struct {
	alg string
	iss *testissuer.Issuer
}

func newSigner(tb testing.TB, alg string) *signer {
	tb.Helper()
	is, err := testissuer.New(alg)
	if err != nil {
		tb.Fatal(err)
	}
	is.SetURL(issuer)
	return &signer{alg: alg, iss: is}
}

func (s *signer) public() crypto.PublicKey { return s.iss.PublicKey() }

// token mints a SMART access token with the given scopes, for patient
// 123, typical of what an authorization server issues (about 0.8 KiB
// with RS256).
func (s *signer) token(tb testing.TB, scopes string) string {
	tb.Helper()
	now := time.Now()
	tok, err := s.iss.Sign(jwt.MapClaims{
		"iss": issuer, "aud": audience, "sub": "Practitioner/dr-jones", "client_id": "bench-app",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": fmt.Sprint(now.UnixNano()),
		"scope":   scopes,
		"patient": patient, "fhirUser": "Patient/" + patient,
	}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// patientScopes are the ten scopes of a typical patient app.
const patientScopes = "launch/patient openid fhirUser offline_access patient/Patient.r patient/Observation.rs " +
	"patient/Condition.rs patient/MedicationRequest.rs patient/AllergyIntolerance.rs patient/Immunization.rs"

// userScopes are those of a clinician app whose fhirUser is a
// Practitioner (see userToken).
const userScopes = "launch openid fhirUser user/Patient.rs user/Observation.rs user/Condition.rs"

// guard returns a smartguard Guard trusting s's key, with the cache on or
// off.
func (s *signer) guard(tb testing.TB, cache bool) *smartmw.Guard {
	tb.Helper()
	pub := s.public()
	g, err := smartmw.New(tb.Context(), smartmw.Config{
		Issuer: smartmw.Issuer{
			URL:      issuer,
			Audience: audience,
			Keyfunc:  func(*jwt.Token) (any, error) { return pub, nil },
		}, Cache: smartmw.CacheOptions{Disable: !cache},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// userToken mints a token of a Practitioner's clinician app with user/
// scopes: no patient, no compartment, nothing for the response guard.
func (s *signer) userToken(tb testing.TB) string {
	tb.Helper()
	now := time.Now()
	tok, err := s.iss.Sign(jwt.MapClaims{
		"iss": issuer, "aud": audience, "sub": "Practitioner/dr-jones", "client_id": "bench-app",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "user",
		"scope": userScopes, "fhirUser": "Practitioner/dr-jones",
	}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// jwtParse is golang-jwt's own Parse of a token with the same checks
// (algorithm, issuer, audience, expiry).
func jwtParse(alg string, pub crypto.PublicKey) func(string) error {
	kf := func(*jwt.Token) (any, error) { return pub, nil }
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{alg}), jwt.WithIssuer(issuer),
		jwt.WithAudience(audience), jwt.WithExpirationRequired()}
	return func(tok string) error {
		_, err := jwt.Parse(tok, kf, opts...)
		return err
	}
}

// observation is a laboratory result of the given patient, about 0.6 KiB.
func observation(i int, pat string) map[string]any {
	return map[string]any{
		"resourceType": "Observation", "id": fmt.Sprintf("obs-%s-%d", pat, i), "status": "final",
		"meta": map[string]any{"versionId": "1", "lastUpdated": "2026-10-02T09:30:00Z"},
		"category": []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory", "display": "Laboratory"}}}},
		"code": map[string]any{"coding": []any{map[string]any{
			"system": "http://loinc.org", "code": "2339-0", "display": "Glucose [Mass/volume] in Blood"}}, "text": "Glucose"},
		"subject":           map[string]any{"reference": "Patient/" + pat},
		"effectiveDateTime": "2026-10-02T09:30:00Z",
		"performer":         []any{map[string]any{"reference": "Practitioner/dr-jones"}},
		"valueQuantity": map[string]any{"value": 90 + i, "unit": "mg/dL",
			"system": "http://unitsofmeasure.org", "code": "mg/dL"},
	}
}

// searchset is a Bundle of n Observations of patient 123.
func searchset(n int) []byte {
	entries := make([]any, n)
	for i := range entries {
		o := observation(i, patient)
		entries[i] = map[string]any{"fullUrl": audience + "/Observation/" + o["id"].(string),
			"resource": o, "search": map[string]any{"mode": "match"}}
	}
	b, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "searchset", "total": n, "entry": entries})
	if err != nil {
		panic(err)
	}
	return b
}

// patientResource is Patient 123.
var patientResource = []byte(`{"resourceType":"Patient","id":"123","meta":{"versionId":"1"},"active":true,` +
	`"name":[{"family":"Shaw","given":["Amy"]}],"gender":"female","birthDate":"1987-02-20",` +
	`"generalPractitioner":[{"reference":"Practitioner/dr-jones"}],"managingOrganization":{"reference":"Organization/general-hospital"}}`)

// fixed answers every request with the same bytes, as a FHIR server
// whose store costs nothing would.
func fixed(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(body)
	})
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) Write(b []byte) (int, error) { return len(b), nil }
func (w *discard) WriteHeader(int)             {}

// request is a GET of target under the FHIR base with the token.
func request(target, token string) *http.Request {
	r, err := http.NewRequestWithContext(context.Background(), http.MethodGet, strings.TrimSuffix(audience, "/r4")+"/r4"+target, nil)
	if err != nil {
		panic(err)
	}
	r.RequestURI = r.URL.RequestURI()
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}
