package smartecho_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/fakeas"
	"github.com/smartguard/smartguard/internal/testissuer"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartecho "github.com/smartguard/smartguard/middleware/echo"
	"github.com/smartguard/smartguard/wellknown"
)

// The tests of this file run the README's echo lines and the package
// documentation's snippets verbatim (internal/doctest checks that they
// do), against the authorization server those snippets name.

// docIssuer is the authorization server the documentation names.
const docIssuer = "https://auth.example.org/realms/fhir"

// fakeAuthServer serves the documentation's issuer in process (fakeas).
func fakeAuthServer(t *testing.T) *testissuer.Issuer { return fakeas.Serve(t, docIssuer) }

// docToken returns a token of dev for patient 123 with scopes, for the
// tests' audience.
func docToken(t *testing.T, dev *testissuer.Issuer, scopes string) string {
	t.Helper()
	tok, err := dev.Sign(jwt.MapClaims{"iss": dev.URL(), "aud": audience, "sub": "u1", "client_id": "app",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		"scope": "launch/patient " + scopes, "patient": "123"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// docGuard returns a Guard trusting the fake authorization server, for
// the snippets that take one.
func docGuard(t *testing.T, ctx context.Context) *smartmw.Guard {
	t.Helper()
	g, err := smartmw.New(ctx, smartmw.Config{Issuer: docIssuer, Audience: audience, AllowedOrigins: []string{appOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// docDiscovery returns the SMART discovery document built from the fake
// authorization server's metadata, as the README's quick start builds it.
func docDiscovery(t *testing.T, ctx context.Context) http.Handler {
	t.Helper()
	doc, err := wellknown.FromIssuer(ctx, docIssuer, nil,
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

// docAPI holds the handlers the snippets name. Like leakyAPI's, they
// ignore the grant: they serve and change any patient's resources.
// readPatient also reads the grant and the decision as the package
// documentation shows.
type docAPI struct{ k calls }

func (a *docAPI) serve(c echo.Context, key string) error {
	a.k.add(c.Request().Method + " " + key)
	body, ok := resources[key]
	if !ok {
		return notFound(c)
	}
	c.Response().Header().Set("ETag", `W/"1"`)
	return c.Blob(http.StatusOK, "application/fhir+json", []byte(body))
}

func (a *docAPI) readPatient(c echo.Context) error {
	// The package documentation's lines, verbatim:
	//lint:ignore SA4006 the documentation shows the comma-ok form of both getters
	g, ok := smartctx.FromContext(c.Request().Context())
	d, ok := smartctx.DecisionFromContext(c.Request().Context())
	if ok {
		a.k.add(fmt.Sprintf("grant of patient %s: %s of patient %s", g.Patient(), d.Interaction(), d.Patient()))
	}
	return a.serve(c, "Patient/"+c.Param("id"))
}

func (a *docAPI) readObservation(c echo.Context) error {
	return a.serve(c, "Observation/"+c.Param("id"))
}

func (a *docAPI) searchObservations(c echo.Context) error {
	a.k.add("search Observation")
	return c.Blob(http.StatusOK, "application/fhir+json", []byte(everyObservation))
}

func (a *docAPI) updateObservation(c echo.Context) error {
	a.k.add("PUT Observation/" + c.Param("id"))
	var body json.RawMessage
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/fhir+json", body)
}

func (a *docAPI) deleteObservation(c echo.Context) error {
	a.k.add("DELETE Observation/" + c.Param("id"))
	return c.NoContent(http.StatusNoContent)
}

// docCase is a request to a documented wiring and what it must answer.
type docCase struct {
	name, method, target, token, origin, body string
	wantStatus                                int
	wantIn                                    string   // a string the body must hold
	wantIDs                                   []string // the ids of the matches of a searchset answered
}

// runDocCases sends each case to h; no answer may hold patient 456.
func runDocCases(t *testing.T, h http.Handler, tests []docCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := newRequest(tc.method, tc.target, tc.token, tc.body)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
				req.Header.Set("Access-Control-Request-Method", "GET")
				req.Header.Set("Access-Control-Request-Headers", "authorization")
			}
			w := serve(h, req)
			if w.Code != tc.wantStatus || !strings.Contains(w.Body.String(), tc.wantIn) || strings.Contains(w.Body.String(), "456") {
				t.Errorf("%s %s: %d %s, want %d with %s", tc.method, tc.target, w.Code, w.Body, tc.wantStatus, tc.wantIn)
			}
			if tc.wantIDs != nil {
				if ids := entryIDs(t, w.Body.Bytes()); !slices.Equal(ids, tc.wantIDs) {
					t.Errorf("entries %v, want %v", ids, tc.wantIDs)
				}
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); tc.origin != "" && got != tc.origin && got != "*" {
				t.Errorf("preflight: Access-Control-Allow-Origin %q, want %q", got, tc.origin)
			}
			if tc.wantStatus == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("401 without a Bearer challenge: %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// TestREADMEFrameworksEcho runs the README's echo line verbatim: the
// discovery document, outside the group, answers without a token, and
// what readObservation writes reaches the client only for the token's
// patient.
func TestREADMEFrameworksEcho(t *testing.T) {
	dev := fakeAuthServer(t)
	ctx := t.Context()
	guard := docGuard(t, ctx)
	a := &docAPI{}
	e := echo.New()
	e.Match([]string{"GET", "HEAD", "OPTIONS"}, "/fhir/.well-known/smart-configuration", echo.WrapHandler(docDiscovery(t, ctx)))

	// The README's line, verbatim:
	fhir := e.Group("/fhir", smartecho.Protect(guard, e))

	fhir.GET("/Observation/:id", a.readObservation)
	tok := docToken(t, dev, "patient/Observation.rs")
	runDocCases(t, e, []docCase{
		{name: "discovery without a token", method: "GET", target: "/fhir/.well-known/smart-configuration",
			wantStatus: 200, wantIn: `"token_endpoint":"https://auth.example.org/realms/fhir/token"`},
		{name: "the patient's Observation", method: "GET", target: "/fhir/Observation/obs-123", token: tok,
			wantStatus: 200, wantIn: `"obs-123"`},
		{name: "another patient's Observation", method: "GET", target: "/fhir/Observation/obs-456", token: tok,
			wantStatus: 403},
		{name: "no token", method: "GET", target: "/fhir/Observation/obs-123", wantStatus: 401},
	})
	if !a.k.has("GET Observation/obs-456") {
		t.Errorf("readObservation did not answer for obs-456, so the response guard refused nothing: %s", &a.k)
	}
}

// TestPackageDocWiring runs the package documentation's wiring and its
// lines reading the grant verbatim.
func TestPackageDocWiring(t *testing.T) {
	dev := fakeAuthServer(t)
	ctx := t.Context()
	discovery := docDiscovery(t, ctx)
	a := &docAPI{}
	readPatient, searchObservations, readObservation, updateObservation, deleteObservation :=
		a.readPatient, a.searchObservations, a.readObservation, a.updateObservation, a.deleteObservation

	// The package documentation's wiring, verbatim:
	guard, err := smartmw.New(ctx, smartmw.Config{
		Issuer:         "https://auth.example.org/realms/fhir",
		Audience:       "https://fhir.example.org/fhir",
		AllowedOrigins: []string{"https://app.example.org"},
	})
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.Use(middleware.Recover())

	// Public, outside Protect: the SMART discovery document.
	e.Match([]string{"GET", "HEAD", "OPTIONS"}, "/fhir/.well-known/smart-configuration", echo.WrapHandler(discovery))

	// The FHIR API, behind Protect.
	fhir := e.Group("/fhir", smartecho.Protect(guard, e))
	fhir.GET("/Patient/:id", readPatient)
	fhir.GET("/Observation", searchObservations)
	fhir.GET("/Observation/:id", readObservation)
	fhir.PUT("/Observation/:id", updateObservation)
	fhir.DELETE("/Observation/:id", deleteObservation)

	read := docToken(t, dev, "patient/Patient.r patient/Observation.rs")
	write := docToken(t, dev, "patient/Observation.rud")
	runDocCases(t, e, []docCase{
		{name: "discovery without a token", method: "GET", target: "/fhir/.well-known/smart-configuration",
			wantStatus: 200, wantIn: `"token_endpoint"`},
		{name: "discovery preflight from any origin", method: "OPTIONS", target: "/fhir/.well-known/smart-configuration",
			origin: "https://anyone.example", wantStatus: 204},
		{name: "no token", method: "GET", target: "/fhir/Observation/obs-123", wantStatus: 401},
		{name: "the patient's Patient", method: "GET", target: "/fhir/Patient/123", token: read, wantStatus: 200, wantIn: `"123"`},
		{name: "another patient's Patient", method: "GET", target: "/fhir/Patient/456", token: read, wantStatus: 403},
		{name: "the patient's Observation", method: "GET", target: "/fhir/Observation/obs-123", token: read, wantStatus: 200, wantIn: `"obs-123"`},
		{name: "another patient's Observation", method: "GET", target: "/fhir/Observation/obs-456", token: read, wantStatus: 403},
		{name: "a search answered with every patient's entries", method: "GET", target: "/fhir/Observation?patient=123", token: read,
			wantStatus: 200, wantIDs: []string{"obs-123"}},
		{name: "HEAD of the patient's Observation", method: "HEAD", target: "/fhir/Observation/obs-123", token: read, wantStatus: 200},
		{name: "HEAD of another patient's Observation", method: "HEAD", target: "/fhir/Observation/obs-456", token: read, wantStatus: 403},
		{name: "update of another patient's Observation", method: "PUT", target: "/fhir/Observation/obs-456", token: write,
			body: observation("obs-456", "123"), wantStatus: 403},
		{name: "update of the patient's Observation", method: "PUT", target: "/fhir/Observation/obs-123", token: write,
			body: observation("obs-123", "123"), wantStatus: 200, wantIn: `"obs-123"`},
		{name: "delete of another patient's Observation", method: "DELETE", target: "/fhir/Observation/obs-456", token: write, wantStatus: 403},
		{name: "delete of the patient's Observation", method: "DELETE", target: "/fhir/Observation/obs-123", token: write, wantStatus: 204},
		{name: "CORS preflight of a read", method: "OPTIONS", target: "/fhir/Observation/obs-123", origin: appOrigin, wantStatus: 204},
	})
	for _, c := range []string{"grant of patient 123: read of patient 123", "PUT Observation/obs-123", "DELETE Observation/obs-123"} {
		if !a.k.has(c) {
			t.Errorf("the handlers did not record %q: %s", c, &a.k)
		}
	}
	for _, c := range []string{"GET Patient/456", "PUT Observation/obs-456", "DELETE Observation/obs-456"} {
		if a.k.has(c) {
			t.Errorf("a handler ran for %q: %s", c, &a.k)
		}
	}
}

// TestPackageDocOneHandlerForTheAPI runs verbatim the package
// documentation's routes for a FHIR API served by one http.Handler,
// beside the discovery route.
func TestPackageDocOneHandlerForTheAPI(t *testing.T) {
	dev := fakeAuthServer(t)
	ctx := t.Context()
	guard := docGuard(t, ctx)
	k := &calls{}
	fhirServer := newEcho() // stands for any http.Handler: a FHIR server, a proxy
	leakyAPI(fhirServer.Group("/fhir"), writeStyles[0], k)
	e := echo.New()
	e.Use(middleware.Recover())
	e.Match([]string{"GET", "HEAD", "OPTIONS"}, "/fhir/.well-known/smart-configuration", echo.WrapHandler(docDiscovery(t, ctx)))

	// The package documentation's routes, verbatim:
	api := echo.WrapHandler(fhirServer)
	fhir := e.Group("/fhir", smartecho.Protect(guard, e))
	fhir.Any("", api)   // [base]: batch, transaction, system search
	fhir.Any("/*", api) // [base]/Type, [base]/Type/id, ...

	tok := docToken(t, dev, "patient/Observation.rs")
	runDocCases(t, e, []docCase{
		{name: "discovery without a token", method: "GET", target: "/fhir/.well-known/smart-configuration",
			wantStatus: 200, wantIn: `"token_endpoint"`},
		{name: "no token", method: "GET", target: "/fhir/Observation/obs-123", wantStatus: 401},
		{name: "the patient's Observation", method: "GET", target: "/fhir/Observation/obs-123", token: tok, wantStatus: 200, wantIn: `"obs-123"`},
		{name: "another patient's Observation", method: "GET", target: "/fhir/Observation/obs-456", token: tok, wantStatus: 403},
		{name: "a search answered with every patient's entries", method: "GET", target: "/fhir/Observation?patient=123", token: tok,
			wantStatus: 200, wantIDs: []string{"obs-123"}},
		{name: "CORS preflight of a batch", method: "OPTIONS", target: "/fhir", origin: appOrigin, wantStatus: 204},
	})
	if !k.has("GET Observation/obs-456") {
		t.Errorf("the API did not answer for obs-456, so the response guard refused nothing: %s", k)
	}
}
