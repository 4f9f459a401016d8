package smartgin_test

import (
	"fmt"
	"log"
	"testing"

	"github.com/gin-gonic/gin"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/adaptertest"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartgin "github.com/smartguard/smartguard/middleware/gin"
)

// The tests of this file run the README's gin lines and the package
// documentation's snippets verbatim (internal/doctest checks that they
// do), against the authorization server those snippets name, with the
// suite's FHIR API (which ignores the grant) behind them.

// docHandlers returns the handlers the snippets name, serving a.
// readPatient also reads the grant and the decision as the package
// documentation shows.
func docHandlers(a *adaptertest.FHIR) (readPatient, searchObservations, readObservation, updateObservation, deleteObservation gin.HandlerFunc) {
	read := handler(a.Read("Patient"), 0)
	readPatient = func(c *gin.Context) {
		// The package documentation's lines, verbatim:
		//lint:ignore SA4006 the documentation shows the comma-ok form of both getters
		g, ok := smartctx.FromContext(c.Request.Context())
		d, ok := smartctx.DecisionFromContext(c.Request.Context())
		if ok {
			a.Record(fmt.Sprintf("grant of patient %s: %s of patient %s", g.Patient(), d.Request().Interaction, d.Limits().Patient))
		}
		read(c)
	}
	return readPatient, handler(a.SearchObservations, 0), handler(a.Read("Observation"), 0),
		handler(a.UpdateObservation, 0), handler(a.DeleteObservation, 0)
}

// TestREADMEFrameworksGin runs the README's gin lines verbatim: the
// discovery document answers without a token, and what readObservation
// writes reaches the client only for the token's patient.
func TestREADMEFrameworksGin(t *testing.T) {
	dev := adaptertest.FakeAuthServer(t)
	ctx := t.Context()
	guard := adaptertest.DocGuard(t, ctx)
	discovery := adaptertest.DocDiscovery(t, ctx)
	a := &adaptertest.FHIR{}
	readObservation := handler(a.Read("Observation"), 0)

	// The README's lines, verbatim:
	r := gin.New()
	r.Use(gin.Recovery())
	r.Match([]string{"GET", "HEAD", "OPTIONS"}, "/fhir/.well-known/smart-configuration", gin.WrapH(discovery))
	fhir := r.Group("/fhir", smartgin.Protect(guard, r))
	fhir.GET("/Observation/:id", readObservation) // what it writes passes the response guard

	adaptertest.RunCases(t, r, a, adaptertest.READMECases(t, dev))
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
	r := gin.New()
	r.Use(gin.Recovery())

	// Public, outside Protect: the SMART discovery document.
	r.Match([]string{"GET", "HEAD", "OPTIONS"}, "/fhir/.well-known/smart-configuration", gin.WrapH(discovery))

	// The FHIR API, behind Protect.
	fhir := r.Group("/fhir", smartgin.Protect(guard, r))
	fhir.GET("/Patient/:id", readPatient)
	fhir.GET("/Observation", searchObservations)
	fhir.GET("/Observation/:id", readObservation)
	fhir.PUT("/Observation/:id", updateObservation)
	fhir.DELETE("/Observation/:id", deleteObservation)
	// HEAD and CORS preflight: Protect answers them (a HEAD with the GET
	// route of its path), so their routes need no handler.
	for _, p := range []string{"", "/:type", "/:type/*rest"} {
		fhir.Match([]string{"HEAD", "OPTIONS"}, p)
	}

	adaptertest.RunCases(t, r, a, adaptertest.PackageDocWiringCases(t, dev))
}

// TestPackageDocOneHandlerForTheAPI runs verbatim the package
// documentation's routes for a FHIR API served by one http.Handler,
// beside the discovery route.
func TestPackageDocOneHandlerForTheAPI(t *testing.T) {
	dev := adaptertest.FakeAuthServer(t)
	ctx := t.Context()
	guard := adaptertest.DocGuard(t, ctx)
	a := &adaptertest.FHIR{}
	fhirServer := gin.New() // stands for any http.Handler: a FHIR server, a proxy
	mount(fhirServer.Group("/fhir"), adaptertest.API{Routes: a.Routes()})
	r := gin.New()
	r.Use(gin.Recovery())
	r.Match([]string{"GET", "HEAD", "OPTIONS"}, "/fhir/.well-known/smart-configuration", gin.WrapH(adaptertest.DocDiscovery(t, ctx)))

	// The package documentation's routes, verbatim:
	api := gin.WrapH(fhirServer)
	fhir := r.Group("/fhir", smartgin.Protect(guard, r))
	for _, p := range []string{"", "/:type", "/:type/*rest"} {
		fhir.Any(p, api) // [base] (batch, transaction), [base]/Type, [base]/Type/...
	}

	adaptertest.RunCases(t, r, a, adaptertest.OneHandlerCases(t, dev))
}
