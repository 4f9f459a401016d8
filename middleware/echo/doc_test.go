package smartecho_test

import (
	"fmt"
	"log"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/adaptertest"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartecho "github.com/smartguard/smartguard/middleware/echo"
)

// The tests of this file run the README's echo lines and the package
// documentation's snippets verbatim (internal/doctest checks that they
// do), against the authorization server those snippets name, with the
// suite's FHIR API (which ignores the grant) behind them.

// docHandlers returns the handlers the snippets name, serving a.
// readPatient also reads the grant and the decision as the package
// documentation shows.
func docHandlers(a *adaptertest.FHIR) (readPatient, searchObservations, readObservation, updateObservation, deleteObservation echo.HandlerFunc) {
	read := handler(a.Read("Patient"), 0)
	readPatient = func(c echo.Context) error {
		// The package documentation's lines, verbatim:
		//lint:ignore SA4006 the documentation shows the comma-ok form of both getters
		g, ok := smartctx.FromContext(c.Request().Context())
		d, ok := smartctx.DecisionFromContext(c.Request().Context())
		if ok {
			a.Record(fmt.Sprintf("grant of patient %s: %s of patient %s", g.Patient(), d.Request().Interaction, d.Limits().Patient))
		}
		return read(c)
	}
	return readPatient, handler(a.SearchObservations, 0), handler(a.Read("Observation"), 0),
		handler(a.UpdateObservation, 0), handler(a.DeleteObservation, 0)
}

// TestREADMEFrameworksEcho runs the README's echo line verbatim: the
// discovery document, outside the group, answers without a token, and
// what readObservation writes reaches the client only for the token's
// patient.
func TestREADMEFrameworksEcho(t *testing.T) {
	dev := adaptertest.FakeAuthServer(t)
	ctx := t.Context()
	guard := adaptertest.DocGuard(t, ctx)
	a := &adaptertest.FHIR{}
	e := echo.New()
	e.Match([]string{"GET", "HEAD", "OPTIONS"}, "/fhir/.well-known/smart-configuration", echo.WrapHandler(adaptertest.DocDiscovery(t, ctx)))

	// The README's line, verbatim:
	fhir := e.Group("/fhir", smartecho.Protect(guard, e))

	fhir.GET("/Observation/:id", handler(a.Read("Observation"), 0))
	adaptertest.RunCases(t, e, a, adaptertest.READMECases(t, dev))
}

// TestPackageDocWiring runs the package documentation's wiring and its
// lines reading the grant verbatim.
func TestPackageDocWiring(t *testing.T) {
	dev := adaptertest.FakeAuthServer(t)
	ctx := t.Context()
	discovery := adaptertest.DocDiscovery(t, ctx)
	a := &adaptertest.FHIR{}
	readPatient, searchObservations, readObservation, updateObservation, deleteObservation := docHandlers(a)

	// The package documentation's wiring, verbatim:
	guard, err := smartmw.New(ctx, smartmw.Config{
		Issuer: smartmw.Issuer{
			URL:      "https://auth.example.org/realms/fhir",
			Audience: "https://fhir.example.org/fhir",
		},
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

	adaptertest.RunCases(t, e, a, adaptertest.PackageDocWiringCases(t, dev))
}

// TestPackageDocOneHandlerForTheAPI runs verbatim the package
// documentation's routes for a FHIR API served by one http.Handler,
// beside the discovery route.
func TestPackageDocOneHandlerForTheAPI(t *testing.T) {
	dev := adaptertest.FakeAuthServer(t)
	ctx := t.Context()
	guard := adaptertest.DocGuard(t, ctx)
	a := &adaptertest.FHIR{}
	fhirServer := newEcho() // stands for any http.Handler: a FHIR server, a proxy
	mount(fhirServer.Group("/fhir"), adaptertest.API{Routes: a.Routes()})
	e := echo.New()
	e.Use(middleware.Recover())
	e.Match([]string{"GET", "HEAD", "OPTIONS"}, "/fhir/.well-known/smart-configuration", echo.WrapHandler(adaptertest.DocDiscovery(t, ctx)))

	// The package documentation's routes, verbatim:
	api := echo.WrapHandler(fhirServer)
	fhir := e.Group("/fhir", smartecho.Protect(guard, e))
	fhir.Any("", api)   // [base]: batch, transaction, system search
	fhir.Any("/*", api) // [base]/Type, [base]/Type/id, ...

	adaptertest.RunCases(t, e, a, adaptertest.OneHandlerCases(t, dev))
}
