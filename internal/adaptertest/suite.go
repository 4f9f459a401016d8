package adaptertest

import (
	"io"
	"net/http"
	"slices"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// Framework is what an adapter's tests tell the suite of their framework:
// how its handlers write a response, and how its router mounts an [API]
// behind the adapter's Protect.
type Framework interface {
	// Styles names the ways a handler of the framework writes a
	// response (c.JSON, c.Data, a net/http handler wrapped, ...): every
	// case about what reaches the client runs once per style. The
	// first writes raw bytes with the FHIR content type (gin's c.Data,
	// echo's c.Blob); the cases that need one style use it.
	Styles() []string

	// Protect returns a router that serves api's routes under each of
	// api.BasePaths(), in a group behind the adapter's Protect with g,
	// after the framework's recovery middleware (logging to api.Log)
	// and, when api.ChainStopped is set, a middleware that reports how
	// the request ended. Each route's handler writes in
	// Styles()[api.Style].
	Protect(g *smartmw.Guard, api API) http.Handler

	// Layouts are the route layouts the adapter's documentation shows:
	// the discovery document (api.Discovery) at
	// /fhir/.well-known/smart-configuration, outside Protect, beside
	// api's routes under /fhir, behind it.
	Layouts() []Wiring

	// UncheckableWrites are wirings of api (a GET route of
	// /Observation/:id and a DELETE route of the same path, under
	// /fhir) in which the Guard's read of the stored resource, before
	// a delete, reaches no GET route behind Protect: no GET route at
	// all, one outside Protect, the framework's not-found handler, a
	// middleware before Protect that refuses the read. The Guard must
	// refuse every delete (502) without running its handler.
	UncheckableWrites() []Wiring

	// NaiveAdapters are ways of running the Guard inside the framework
	// that look right and are not: the suite checks that each leaks
	// what it says, so that its own checks can fail.
	NaiveAdapters() []NaiveAdapter
}

// API is a FHIR API to mount: its routes, and how to mount them.
type API struct {
	Routes []Route

	// Style is the index, in Framework.Styles, of the way the routes'
	// handlers write their responses.
	Style int

	// Bases are the paths under which Framework.Protect mounts the
	// routes, each in a group behind Protect; nil means /fhir alone.
	Bases []string

	// Discovery is the SMART discovery document, which Layouts serve
	// outside Protect.
	Discovery http.Handler

	// Log is where the framework's recovery middleware, before
	// Protect, logs a panic; nil discards it.
	Log io.Writer

	// ChainStopped, when set, is called once a request is served, by a
	// middleware before Protect, with whether the framework's chain
	// stopped at Protect the framework's way: gin's c.IsAborted(), echo's
	// Protect returning no error (the Guard answered).
	ChainStopped func(stopped bool)
}

// BasePaths returns the paths under which the routes are mounted:
// api.Bases, or /fhir.
func (api API) BasePaths() []string {
	if len(api.Bases) == 0 {
		return []string{"/fhir"}
	}
	return api.Bases
}

// Only returns api with only its routes of the given methods.
func (api API) Only(methods ...string) API {
	out := api
	out.Routes = nil
	for _, rt := range api.Routes {
		if slices.Contains(methods, rt.Method) {
			out.Routes = append(out.Routes, rt)
		}
	}
	return out
}

// Route is a route of an API, under its base.
type Route struct {
	// Method is the route's HTTP method; "" registers the route for
	// every method (the router's Any).
	Method string
	// Path is the route's path under the base, with :name parameters,
	// which gin and echo write alike: "/Observation/:id".
	Path   string
	Handle Handler
}

// Handler is a handler of the suite, which the framework runs as one of
// its own. An error is the framework's to handle (echo answers it with
// its HTTPErrorHandler).
type Handler func(c Ctx) error

// Ctx is what a [Handler] sees of the framework's context. Each method is
// the framework's own way of doing it.
type Ctx interface {
	// Request returns the request the handler serves: gin's c.Request,
	// echo's c.Request().
	Request() *http.Request
	// Param returns the value of the path parameter name.
	Param(name string) string
	// Query returns the query parameter name as the framework parses
	// it (gin's c.Query, echo's c.QueryParam: each caches the query it
	// parses first).
	Query(name string) string
	// Writer returns the framework's response writer: gin's c.Writer,
	// echo's c.Response().
	Writer() http.ResponseWriter
	// Respond answers status and body in the route's style.
	Respond(status int, body string) error
	// NoContent answers status without a body: gin's c.Status, echo's
	// c.NoContent.
	NoContent(status int) error
	// Stream writes part and flushes it, the framework's streaming way
	// (gin's c.Stream, echo's c.Response().Write and Flush).
	Stream(part string)
}

// Wiring is one way of mounting an API with a router.
type Wiring struct {
	Name  string
	Mount func(g *smartmw.Guard, api API) http.Handler
}

// NaiveAdapter is a wrong way of running the Guard inside a framework
// (its Mount serves api under /fhir), and what it lets through.
type NaiveAdapter struct {
	Wiring
	// LeaksRead: another patient's Observation, which the Guard must
	// refuse, reaches the client.
	LeaksRead bool
	// ReachesWrite: a delete of another patient's Observation, which
	// the Guard must refuse, reaches the handler.
	ReachesWrite bool
}

// behaviours are the cases of the suite, each named after what it pins.
var behaviours = []struct {
	name string
	run  func(t *testing.T, f Framework)
}{
	{"HandlerThatIgnoresTheGrantLeaksNoOtherPatient", handlerThatIgnoresTheGrantLeaksNoOtherPatient},
	{"NaiveAdaptersLeak", naiveAdaptersLeak},
	{"OtherPatientsResourceLooksMissing", otherPatientsResourceLooksMissing},
	{"WriteToAnotherPatientsResourceNeverReachesTheHandler", writeToAnotherPatientsResourceNeverReachesTheHandler},
	{"HeadIsAnsweredByTheGETRouteThroughTheGuard", headIsAnsweredByTheGETRouteThroughTheGuard},
	{"RefusalStopsTheChain", refusalStopsTheChain},
	{"HandlerSeesTheGrantTheDecisionAndTheNarrowedSearch", handlerSeesTheGrantTheDecisionAndTheNarrowedSearch},
	{"PanicInHandlerReachesTheFrameworksRecovery", panicInHandlerReachesTheFrameworksRecovery},
	{"FlushStreamsOnlyWhatTheGuardNeedNotHold", flushStreamsOnlyWhatTheGuardNeedNotHold},
	{"HijackFailsWhileTheGuardHoldsTheResponse", hijackFailsWhileTheGuardHoldsTheResponse},
	{"WriteWhoseReadRouteIsMissingIsRefused", writeWhoseReadRouteIsMissingIsRefused},
	{"DocumentedRouteLayoutsServeDiscoveryBesideProtectedFHIR", documentedRouteLayoutsServeDiscoveryBesideProtectedFHIR},
	{"TenantTokenRefusedOnAnotherTenantsHost", tenantTokenRefusedOnAnotherTenantsHost},
	{"DPoPProofsThroughTheAdapter", dpopProofsThroughTheAdapter},
}

// Run runs every case of the suite through f, each as a subtest named
// after the behaviour it pins.
func Run(t *testing.T, f Framework) {
	if len(f.Styles()) == 0 {
		t.Fatal("the framework names no style of writing a response")
	}
	for _, b := range behaviours {
		t.Run(b.name, func(t *testing.T) { b.run(t, f) })
	}
}
