// Package smartgin protects a FHIR API served by gin with smartguard:
// [Protect] runs a [smartmw.Guard] (CORS, authentication, FHIR
// authorization and the response guard) around the gin handlers of the
// FHIR routes, so that what they write reaches the client only as far as
// the token allows. A handler that forgets the patient compartment still
// cannot hand out another patient's resource, search entry or write.
//
// It is its own Go module, so that the core module does not depend on
// gin. Its directory is named after gin; import it as smartgin:
//
//	import smartgin "github.com/smartguard/smartguard/middleware/gin"
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
//	r := gin.New()
//	r.Use(gin.Recovery())
//
//	// Public, outside Protect: the SMART discovery document.
//	r.Match([]string{"GET", "HEAD", "OPTIONS"}, "/fhir/.well-known/smart-configuration", gin.WrapH(discovery))
//
//	// The FHIR API, behind Protect.
//	fhir := r.Group("/fhir", smartgin.Protect(guard, r))
//	fhir.GET("/Patient/:id", readPatient)
//	fhir.GET("/Observation", searchObservations)
//	fhir.GET("/Observation/:id", readObservation)
//	fhir.PUT("/Observation/:id", updateObservation)
//	fhir.DELETE("/Observation/:id", deleteObservation)
//	// HEAD and CORS preflight: Protect answers them (a HEAD with the GET
//	// route of its path), so their routes need no handler.
//	for _, p := range []string{"", "/:type", "/:type/*rest"} {
//		fhir.Match([]string{"HEAD", "OPTIONS"}, p)
//	}
//
// A handler reads the grant and the decision from the request's context:
//
//	g, ok := smartctx.FromContext(c.Request.Context())
//	d, ok := smartctx.DecisionFromContext(c.Request.Context())
//
// (c itself is a context.Context that finds them only when the engine's
// ContextWithFallback is set.)
//
// # Routes
//
// gin's router cannot hold a catch-all beside the discovery document:
// registering both /fhir/.well-known/smart-configuration and /fhir/*path
// panics, in either order ("catch-all wildcard '*path' in new path
// '/fhir/*path' conflicts with existing path segment '.well-known'"). A
// parameter may share its segment with a static one, so a FHIR API served
// by one http.Handler (a FHIR server library, a reverse proxy) is mounted
// on three routes instead of the catch-all:
//
//	api := gin.WrapH(fhirServer)
//	fhir := r.Group("/fhir", smartgin.Protect(guard, r))
//	for _, p := range []string{"", "/:type", "/:type/*rest"} {
//		fhir.Any(p, api) // [base] (batch, transaction), [base]/Type, [base]/Type/...
//	}
//
// Whatever the layout:
//
//   - Register the discovery document outside the group, not behind
//     Protect, and so a CapabilityStatement at /fhir/metadata if clients
//     read it without a token.
//   - Every type that can be updated, patched or deleted by id needs its
//     GET route behind Protect: the Guard reads the stored resource
//     through it before the write, and refuses the write (502) when no
//     route behind Protect answers.
//   - gin routes a HEAD or OPTIONS request only to a route registered for
//     that method: without one, HEAD is answered 404 and a CORS preflight
//     never reaches Protect.
//   - Serve no FHIR from a NoRoute handler: it runs without the group's
//     middleware.
//
// # What handlers may do
//
// Handlers write as usual: c.JSON, c.Data, c.String, c.Render, c.Status,
// c.Writer.Write, c.Writer.WriteHeaderNow, gin.WrapH of a net/http
// handler. When the decision leaves something to enforce (a patient
// compartment, granular scopes, included resources), the Guard holds the
// response and checks it whole: c.Writer.Flush and c.Stream send nothing
// until the handlers return, c.Writer.Hijack fails, and a response larger
// than Config.Bounds.MaxResponseBytes is refused (502). Otherwise writes go
// straight through, flushes included. While the handlers run,
// c.Writer.Written, Size and Status describe what they wrote; after
// Protect returns, c.Writer.Status is what the client got.
//
// A handler may call c.Abort or c.AbortWithStatusJSON: its answer still
// goes through the Guard. A panic goes up to gin.Recovery (register it
// before Protect), which answers 500 on the real writer; what the handler
// wrote before the panic never reaches the client.
//
// Put Protect before any middleware of the FHIR routes that reads the
// query: gin keeps the query it parses first, and the handlers must see
// the one the Guard narrowed (patient=..., a granular constraint,
// _elements; the Guard still filters what they answer). A compression middleware that sets
// Content-Encoding before the handlers write makes the Guard refuse (502)
// every response it must check: it reads identity JSON only.
//
// The Guard's internal reads, and the GET that answers a HEAD, pass
// through the middleware before Protect (gin.Logger logs them as GET
// requests) and reach the handlers with smartmw.IsStoredRead reporting
// true; what they answer goes to the Guard, never to the client.
package smartgin
