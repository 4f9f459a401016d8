// Package smartecho protects a FHIR API served by echo (v4) with
// smartguard: [Protect] runs a [smartmw.Guard] (CORS, authentication,
// FHIR authorization and the response guard) around the echo handlers of
// the FHIR routes, so that what they write reaches the client only as
// far as the token allows. A handler that forgets the patient compartment
// still cannot hand out another patient's resource, search entry or
// write.
//
// It is its own Go module, so that the core module does not depend on
// echo. Its directory is named after echo; import it as smartecho:
//
//	import smartecho "github.com/smartguard/smartguard/middleware/echo"
//
// # Wiring
//
//	guard, err := smartmw.New(ctx, smartmw.Config{
//		Issuer: smartmw.Issuer{
//			URL:      "https://auth.example.org/realms/fhir",
//			Audience: "https://fhir.example.org/fhir",
//		},
//		AllowedOrigins: []string{"https://app.example.org"},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	e := echo.New()
//	e.Use(middleware.Recover())
//
//	// Public, outside Protect: the SMART discovery document.
//	e.Match([]string{"GET", "HEAD", "OPTIONS"}, "/fhir/.well-known/smart-configuration", echo.WrapHandler(discovery))
//
//	// The FHIR API, behind Protect.
//	fhir := e.Group("/fhir", smartecho.Protect(guard, e))
//	fhir.GET("/Patient/:id", readPatient)
//	fhir.GET("/Observation", searchObservations)
//	fhir.GET("/Observation/:id", readObservation)
//	fhir.PUT("/Observation/:id", updateObservation)
//	fhir.DELETE("/Observation/:id", deleteObservation)
//
// A FHIR API served by one http.Handler (a FHIR server library, a reverse
// proxy) takes two routes:
//
//	api := echo.WrapHandler(fhirServer)
//	fhir := e.Group("/fhir", smartecho.Protect(guard, e))
//	fhir.Any("", api)   // [base]: batch, transaction, system search
//	fhir.Any("/*", api) // [base]/Type, [base]/Type/id, ...
//
// echo's router lets the discovery route live beside /fhir/*, unlike
// gin's. A handler reads the grant and the decision from the request's
// context:
//
//	g, ok := smartctx.FromContext(c.Request().Context())
//	d, ok := smartctx.DecisionFromContext(c.Request().Context())
//
// # Routes
//
//   - Use Protect as the middleware of a group (e.Group or g.Use): echo
//     then runs it for every request under the group, routed or not, so
//     that CORS preflight and HEAD requests reach it without routes of
//     their own. As the middleware of single routes it would see only the
//     methods they are registered for.
//   - Register the discovery document outside the group, not behind
//     Protect, and so a CapabilityStatement at /fhir/metadata if clients
//     read it without a token.
//   - Every type that can be updated, patched or deleted by id needs its
//     GET route behind Protect: the Guard reads the stored resource
//     through it before the write, and refuses the write (502) when no
//     GET route behind Protect answers (a RouteNotFound route does not
//     count).
//   - A HEAD request is answered by the GET route of its path, so that
//     the Guard checks the resource that the HEAD describes; the handler
//     of a HEAD route does not run.
//
// # What handlers may do
//
// Handlers write as usual: c.JSON, c.Blob, c.String, c.Stream,
// c.NoContent, c.Response().Write, echo.WrapHandler of a net/http
// handler. An error a handler returns is answered by e.HTTPErrorHandler
// while the Guard still holds the response, and Protect then returns nil:
// the Guard has answered the client. When the decision leaves something
// to enforce (a patient compartment, granular scopes, included
// resources), the Guard holds the response and checks it whole:
// c.Response().Flush sends nothing until the handler returns,
// c.Response().Hijack fails, and a response larger than
// Config.Bounds.MaxResponseBytes is refused (502). Otherwise writes go straight
// through, flushes included. After Protect returns, c.Response().Status
// is what the client got.
//
// A panic goes up to middleware.Recover (register it before Protect),
// which answers 500 on the real writer; what the handler wrote before the
// panic never reaches the client.
//
// With Config.FHIR.NotFoundForDenied, answer a missing resource the way the
// Guard answers one it refuses (smartmw.WriteError with a 404 *Error):
// echo's own {"message":"Not Found"} would tell the two apart.
//
// Put Protect before any middleware of the FHIR routes that reads the
// query: echo keeps the query it parses first (c.QueryParam), and the
// handlers must see the one the Guard narrowed (patient=..., a granular
// constraint, _elements; the Guard still filters what they answer). middleware.Gzip before Protect
// compresses what the Guard lets through; after Protect it compresses
// nothing, as the Guard's request asks for identity (the Guard reads
// uncompressed JSON only).
//
// The Guard's internal reads, and the GET that answers a HEAD, pass
// through the middleware before Protect (a logger logs them as GET
// requests) and reach the handlers with smartmw.IsStoredRead reporting
// true; what they answer goes to the Guard, never to the client.
package smartecho
