package smartecho

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// Protect returns echo middleware that runs the whole protection of g
// around the handler it wraps: CORS (Config.AllowedOrigins),
// authentication, FHIR authorization and the response guard, exactly as
// g.Handler does for a net/http handler. Use it on the group of FHIR
// routes, after middleware.Recover and before any middleware that reads
// the request:
//
//	fhir := e.Group("/fhir", smartecho.Protect(guard, e))
//
// e must be the Echo that routes the group. Before an update, patch or
// delete by id under a restricted decision, the Guard reads the stored
// resource with an internal GET of the same URL, which Protect routes
// through e to the GET route of that URL. That route must be behind
// Protect too: when no GET route behind Protect answers the read (echo's
// RouteNotFound routes do not count), the write is refused (502), because
// the stored resource cannot be checked. A HEAD request is answered the
// same way, by the GET route of its URL, so that the Guard checks the
// resource its status and headers describe; the handler of the HEAD route
// does not run.
//
// The handler writes to a c.Response() that goes through the Guard: when
// the decision leaves something to enforce, what it writes is held and
// checked before the client sees it. An error it returns is answered by
// e.HTTPErrorHandler there, through the Guard, and not returned further.
// A request the Guard refuses is answered by the Guard and never reaches
// the handler. After the handler returns, c.Request() and c.Response()
// are the ones Protect was given, and c.Response().Status is what the
// client got. See the package documentation for what handlers may do.
//
// Protect panics if g or e is nil.
func Protect(g *smartmw.Guard, e *echo.Echo) echo.MiddlewareFunc {
	if g == nil || e == nil {
		panic("smartecho: Protect needs a Guard and the Echo that routes to it")
	}
	p := &protector{echo: e}
	p.guarded = g.Handler(http.HandlerFunc(p.serve))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { return p.handle(c, next) }
	}
}

// protector is what Protect returns: the Guard around serve.
type protector struct {
	echo    *echo.Echo
	guarded http.Handler // the Guard's Handler around serve
}

// passKey keys the *pass of a request on its context.
type passKey struct{}

// pass is one request through Protect: the echo context and handler the
// Guard lets run, and what happened to it.
type pass struct {
	c       echo.Context
	next    echo.HandlerFunc
	head    bool // a HEAD request, answered by the GET route
	inner   bool // serve is routing a request through the Echo
	reached bool // that request reached a GET route behind Protect
}

// handle is the echo.HandlerFunc Protect wraps around next.
func (p *protector) handle(c echo.Context, next echo.HandlerFunc) error {
	req := c.Request()
	ps, _ := req.Context().Value(passKey{}).(*pass)
	if ps != nil && ps.inner || smartmw.IsStoredRead(req) {
		// A request serve routes through the Echo (the Guard's own
		// read of a stored resource, or the GET answering a HEAD):
		// what the handler answers goes to the Guard, which checks
		// it. Only a GET route counts as an answer: the 404 of a
		// RouteNotFound route must not let a write through as if the
		// resource did not exist.
		if ps != nil && isGETRoute(c) {
			ps.reached = true
		}
		return next(c)
	}
	ps = &pass{c: c, next: next}
	r := req.WithContext(context.WithValue(req.Context(), passKey{}, ps))
	if r.Method == http.MethodHead {
		// The Guard passes a HEAD answer unchecked: let it check the
		// GET that the HEAD stands for.
		ps.head = true
		r.Method = http.MethodGet
	}
	p.guarded.ServeHTTP(c.Response(), r)
	return nil
}

// isGETRoute reports whether the route c matched is one registered for
// GET, not a RouteNotFound route nor the 405 of a path without GET.
func isGETRoute(c echo.Context) bool {
	path := c.Path()
	if path == "" {
		return false
	}
	e := c.Echo()
	routers := []*echo.Router{e.Router()}
	for _, r := range e.Routers() {
		routers = append(routers, r)
	}
	for _, router := range routers {
		for _, rt := range router.Routes() {
			if rt.Method == http.MethodGet && rt.Path == path {
				return true
			}
		}
	}
	return false
}

// serve is the handler behind the Guard: it runs the echo handler with
// the Guard's request and writer, or routes a request through the Echo.
func (p *protector) serve(w http.ResponseWriter, r *http.Request) {
	ps, ok := r.Context().Value(passKey{}).(*pass)
	switch {
	case !ok:
		// Only handle calls the Guard's Handler.
		w.WriteHeader(http.StatusInternalServerError)
		return
	case smartmw.IsStoredRead(r):
		if !p.route(ps, w, r, true) {
			// The stored resource cannot be checked: the Guard
			// refuses the write.
			w.WriteHeader(http.StatusBadGateway)
		}
		return
	case ps.head:
		p.route(ps, w, r, false)
		return
	}
	c := ps.c
	req, res := c.Request(), c.Response()
	defer func() {
		// Also on a panic, so that middleware.Recover answers on the
		// real writer; what the handler wrote stays in the Guard.
		c.SetRequest(req)
		c.SetResponse(res)
	}()
	c.SetRequest(r)
	c.SetResponse(echo.NewResponse(&responseWriter{w: w}, p.echo))
	if err := ps.next(c); err != nil {
		// Answer the error here, through the Guard: once Protect
		// returns, the Guard has answered the client.
		c.Error(err)
	}
}

// route serves r through the Echo, for the Guard, and reports whether it
// reached a GET route behind Protect. When gated, what is answered before
// that (a 404 or 405 for a missing route, an earlier middleware's
// refusal) is dropped.
func (p *protector) route(ps *pass, w http.ResponseWriter, r *http.Request, gated bool) bool {
	ps.inner, ps.reached = true, false
	defer func() { ps.inner = false }()
	p.echo.ServeHTTP(&innerWriter{w: w, ps: ps, gated: gated}, r)
	return ps.reached
}
