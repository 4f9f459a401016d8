package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/fakeas"
	"github.com/smartguard/smartguard/internal/testissuer"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/wellknown"
)

// fakeAuthServer serves the documentation's issuer in process (fakeas).
func fakeAuthServer(t *testing.T) *testissuer.Issuer {
	return fakeas.Serve(t, "https://auth.example.org/realms/fhir")
}

func devToken(t *testing.T, dev *testissuer.Issuer, aud string, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"iss": dev.URL(), "aud": aud, "sub": "u1", "client_id": "app",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	tok, err := dev.Sign(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestREADMEQuickStart runs the README's quick start verbatim against an
// OpenID-style authorization server, then uses it as a SMART app would.
func TestREADMEQuickStart(t *testing.T) {
	dev := fakeAuthServer(t)
	ctx := t.Context()
	fhirHandler := &anyPatientStore{} // serves any patient's data: the Guard must not let it

	// The README's quick start, verbatim (internal/doctest checks it):
	const issuer, base = "https://auth.example.org/realms/fhir", "https://fhir.example.org/r4"

	guard, err := smartmw.New(ctx, smartmw.Config{
		Issuer: smartmw.Issuer{URL: issuer, Audience: base}, // keys from the issuer's JWKS
	})
	if err != nil {
		log.Fatal(err)
	}
	doc, err := wellknown.FromIssuer(ctx, issuer, nil, // endpoints from the issuer's metadata
		wellknown.LaunchStandalone, wellknown.ClientPublic, wellknown.ContextStandalonePatient,
		wellknown.PermissionPatient, wellknown.PermissionV2)
	if err != nil {
		log.Fatal(err)
	}
	discovery, err := wellknown.Handler(*doc) // validated, precomputed, open to any origin
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/r4/.well-known/smart-configuration", discovery)
	protected := guard.Handler(fhirHandler) // 401, 403, and the response guard
	mux.Handle("/r4", protected)            // the base itself: batch, transaction, system search
	mux.Handle("/r4/", protected)           // everything under it

	// The app's view.
	w := do(t, mux, "GET", "/r4/.well-known/smart-configuration", "", "")
	var smart map[string]any
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &smart) != nil {
		t.Fatalf("discovery: %d %s", w.Code, w.Body)
	}
	if smart["authorization_endpoint"] == nil || smart["token_endpoint"] == nil || strings.Contains(w.Body.String(), `"plain"`) {
		t.Errorf("discovery document: %s", w.Body)
	}
	tok := devToken(t, dev, base, jwt.MapClaims{"scope": "launch/patient patient/Patient.r patient/Observation.rs", "patient": "123"})
	for _, tc := range []struct {
		target, token string
		want          int
	}{
		{"/r4/Patient/123", tok, 200},
		{"/r4/Patient/456", tok, 403},
		{"/r4/Observation/o456", tok, 403},
		{"/r4/Observation?patient=123", tok, 200},
		{"/r4/Patient/123", "", 401},
		{"/r4/Patient/123", devToken(t, dev, "https://other.example.org/r4", jwt.MapClaims{"scope": "patient/Patient.r", "patient": "123"}), 401},
	} {
		if w := do(t, mux, "GET", tc.target, tc.token, ""); w.Code != tc.want {
			t.Errorf("GET %s: %d, want %d: %s", tc.target, w.Code, tc.want, w.Body)
		}
	}
	if w := do(t, mux, "GET", "/r4/Observation?patient=123", tok, ""); strings.Contains(w.Body.String(), "456") {
		t.Errorf("search answered another patient's entry: %s", w.Body)
	}
	// The base itself is served, not redirected to "/r4/": a batch
	// (whose one entry the Guard answers itself, refused) and a system
	// search (refused to patient scopes, with 403, not a redirect).
	batch := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/456"}}]}`
	if w := do(t, mux, "POST", "/r4", tok, batch); w.Code != 200 || !strings.Contains(w.Body.String(), `"batch-response"`) ||
		!strings.Contains(w.Body.String(), `"403 Forbidden"`) {
		t.Errorf("POST /r4: %d %s", w.Code, w.Body)
	}
	if w := do(t, mux, "GET", "/r4?_type=Observation", tok, ""); w.Code != 403 {
		t.Errorf("GET /r4?_type=Observation: %d %v %s", w.Code, w.Header(), w.Body)
	}
}

// TestPackageDocQuickStart runs the middleware package documentation's
// quick start and handler lines verbatim, and the README's lines on reading
// the grant.
func TestPackageDocQuickStart(t *testing.T) {
	dev := fakeAuthServer(t)
	ctx := t.Context()
	mux := http.NewServeMux()
	var seen []string
	fhirHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The package documentation's handler lines, verbatim:
		g, _ := smartctx.FromContext(r.Context())         // who, which app, which scopes, which patient
		d, _ := smartctx.DecisionFromContext(r.Context()) // what was allowed, and what it is limited to
		seen = append(seen, fmt.Sprintf("%s %s %s", g.Patient(), d.Request().Interaction, d.Limits().Patient))
		w.Header().Set("Content-Type", "application/fhir+json")
		readGrant(w, r)
	})

	// The package documentation's quick start, verbatim:
	guard, err := smartmw.New(ctx, smartmw.Config{
		Issuer: smartmw.Issuer{
			URL:      "https://auth.example.org/realms/fhir", // the trusted authorization server
			Audience: "https://fhir.example.org/r4",          // this FHIR server's base URL
		},
		AllowedOrigins: []string{"https://app.example.org"}, // browser apps (CORS)
	})
	if err != nil {
		log.Fatal(err)
	}
	protected := guard.Handler(fhirHandler) // 401, 403, and the response guard
	mux.Handle("/r4", protected)            // the base itself: batch, transaction, system search
	mux.Handle("/r4/", protected)           // everything under it

	tok := devToken(t, dev, "https://fhir.example.org/r4", jwt.MapClaims{"scope": "patient/Patient.r", "patient": "123", "fhirUser": "Patient/123"})
	if w := do(t, mux, "GET", "/r4/Patient/456", tok, ""); w.Code != 403 {
		t.Errorf("another patient: %d", w.Code)
	}
	// The handler answers with a text body, which the response guard
	// cannot check for a patient-limited read: 502, never the body.
	if w := do(t, mux, "GET", "/r4/Patient/123", tok, ""); w.Code != 502 {
		t.Errorf("unreadable answer: %d %s", w.Code, w.Body)
	}
	if len(seen) != 1 || seen[0] != "123 read 123" {
		t.Errorf("the handler saw %q", seen)
	}
	r := httptest.NewRequest("OPTIONS", "/r4/Patient/123", nil)
	r.Header.Set("Origin", "https://app.example.org")
	r.Header.Set("Access-Control-Request-Method", "GET")
	r.Header.Set("Access-Control-Request-Headers", "authorization")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if w.Code/100 != 2 || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example.org" {
		t.Errorf("preflight: %d %v", w.Code, w.Header())
	}
}

// readGrant holds the README's lines on reading the grant, verbatim.
func readGrant(w http.ResponseWriter, r *http.Request) {
	//lint:ignore SA4006 the README's lines, verbatim, show the comma-ok form of both getters
	g, ok := smartctx.FromContext(r.Context())         // the grant: nil-safe getters
	d, ok := smartctx.DecisionFromContext(r.Context()) // the decision: read-only getters
	fmt.Fprintln(w, g.Patient(), g.FHIRUser(), g.ClientID(), d.Request().Interaction, d.Limits().Patient, d.Limits().Constraints)
	_ = ok
}

func TestReadGrantWithoutGrant(t *testing.T) {
	w := httptest.NewRecorder()
	readGrant(w, httptest.NewRequest("GET", "/", nil).WithContext(context.Background()))
	if got := strings.TrimSpace(w.Body.String()); got != "[]" {
		t.Errorf("nil grant and decision printed %q", got)
	}
}

// TestWellknownDocQuickStart runs the wellknown package documentation's
// quick start verbatim beside a Guard, against an OpenID-style issuer.
func TestWellknownDocQuickStart(t *testing.T) {
	fakeAuthServer(t)
	ctx := t.Context()
	mux := http.NewServeMux()
	fhir := &anyPatientStore{}
	guard, err := smartmw.New(ctx, smartmw.Config{Issuer: smartmw.Issuer{
		URL:      "https://auth.example.org/realms/fhir",
		Audience: "https://fhir.example.org/r4",
	}})
	if err != nil {
		t.Fatal(err)
	}

	// The package documentation's quick start, verbatim:
	doc, err := wellknown.FromIssuer(ctx, "https://auth.example.org/realms/fhir", nil,
		wellknown.LaunchStandalone, wellknown.ClientPublic,
		wellknown.ContextStandalonePatient, wellknown.PermissionPatient, wellknown.PermissionV2,
	)
	if err != nil {
		t.Fatal(err)
	}
	doc.ScopesSupported = []string{"launch/patient", "patient/*.rs", "offline_access"}

	h, err := wellknown.Handler(*doc) // fails, listing every problem, if doc is not valid
	if err != nil {
		t.Fatal(err)
	}
	p, err := wellknown.Path("https://fhir.example.org/r4") // "/r4/.well-known/smart-configuration"
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle(p, h) // public: not behind the Guard
	protected := guard.Handler(fhir)
	mux.Handle("/r4", protected)  // the FHIR API: its base
	mux.Handle("/r4/", protected) // and everything under it

	if w := do(t, mux, "GET", "/r4/.well-known/smart-configuration", "", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"patient/*.rs"`) {
		t.Errorf("discovery: %d %s", w.Code, w.Body)
	}
	if w := do(t, mux, "GET", "/r4/Patient/1", "", ""); w.Code != 401 {
		t.Errorf("FHIR API without a token: %d", w.Code)
	}
}
