// Package adaptertest is the test suite every framework adapter of
// smartguard runs (middleware/gin, middleware/echo): what Protect must do
// whatever the router, written once and run through each adapter.
//
// An adapter's tests describe how its framework mounts a guarded FHIR API
// (a [Framework]: its ways of writing a response, its Protect, the route
// layouts its documentation shows, the wirings whose writes cannot be
// checked, and naive adapters that leak) and call [Run]:
//
//	func TestProtect(t *testing.T) { adaptertest.Run(t, framework{}) }
//
// The suite's FHIR API ([FHIR]) is written once, in terms of [Ctx]; each
// adapter runs its handlers as handlers of its own framework. They ignore
// the grant: they serve and change any patient's resources, so that only
// the Guard keeps a token of patient 123 from patient 456's data. A case
// of the suite fails when an adapter lets anything of patient 456 through,
// or lets a write to patient 456 reach a handler.
//
// What is truly one framework's (its writer's semantics, its router's
// quirks, its recovery and error handling, the tests that run its
// documentation verbatim) stays in the adapter's own tests, which use the
// fixtures here ([NewGuard], [FHIR], [Case], [RunCases], the Doc helpers).
//
// The package imports no framework: the core module's dependencies stay
// golang-jwt, keyfunc and rs/cors. It is for tests only.
package adaptertest
