package smartecho_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/smartguard/smartguard/internal/adaptertest"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartecho "github.com/smartguard/smartguard/middleware/echo"
)

// TestProtect runs the suite every adapter runs (internal/adaptertest)
// through echo and smartecho.Protect.
func TestProtect(t *testing.T) { adaptertest.Run(t, framework{}) }

// writeStyle answers status and body the way one kind of echo handler does.
type writeStyle struct {
	name  string
	write func(c echo.Context, status int, body string) error
}

// errAfterWriting is what a handler returns after it answered.
var errAfterWriting = errors.New("the handler failed after it answered")

// writeStyles are the ways an echo handler writes a response.
var writeStyles = []writeStyle{
	{"c.Blob", func(c echo.Context, status int, body string) error {
		return c.Blob(status, "application/fhir+json", []byte(body))
	}},
	{"c.JSON", func(c echo.Context, status int, body string) error { return c.JSON(status, json.RawMessage(body)) }},
	{"c.String", func(c echo.Context, status int, body string) error { return c.String(status, body) }},
	{"c.Stream", func(c echo.Context, status int, body string) error {
		return c.Stream(status, "application/fhir+json", strings.NewReader(body))
	}},
	{"c.Response().WriteHeader and Write", func(c echo.Context, status int, body string) error {
		c.Response().Header().Set("Content-Type", "application/fhir+json")
		c.Response().WriteHeader(status)
		_, err := c.Response().Write([]byte(body))
		return err
	}},
	{"c.Response().Write in pieces with Flush", func(c echo.Context, status int, body string) error {
		c.Response().WriteHeader(status)
		for len(body) > 0 {
			n := min(len(body), 16)
			c.Response().Write([]byte(body[:n]))
			c.Response().Flush()
			body = body[n:]
		}
		return nil
	}},
	{"an error returned after c.Blob", func(c echo.Context, status int, body string) error {
		c.Blob(status, "application/fhir+json", []byte(body))
		return errAfterWriting
	}},
	{"echo.WrapHandler of a net/http handler", func(c echo.Context, status int, body string) error {
		return echo.WrapHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))(c)
	}},
}

// echoCtx is the suite's view of an echo context, writing in style.
type echoCtx struct {
	c     echo.Context
	style writeStyle
}

func (x echoCtx) Request() *http.Request                { return x.c.Request() }
func (x echoCtx) Param(name string) string              { return x.c.Param(name) }
func (x echoCtx) Query(name string) string              { return x.c.QueryParam(name) }
func (x echoCtx) Writer() http.ResponseWriter           { return x.c.Response() }
func (x echoCtx) NoContent(status int) error            { return x.c.NoContent(status) }
func (x echoCtx) Respond(status int, body string) error { return x.style.write(x.c, status, body) }

func (x echoCtx) Stream(part string) {
	x.c.Response().Write([]byte(part))
	x.c.Response().Flush()
}

// handler returns h as an echo handler writing in writeStyles[style].
func handler(h adaptertest.Handler, style int) echo.HandlerFunc {
	return func(c echo.Context) error { return h(echoCtx{c, writeStyles[style]}) }
}

// router is what *echo.Echo and *echo.Group have in common.
type router interface {
	Add(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	Any(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) []*echo.Route
}

// mount registers api's routes on r.
func mount(r router, api adaptertest.API) {
	for _, rt := range api.Routes {
		if rt.Method == "" {
			r.Any(rt.Path, handler(rt.Handle, api.Style))
		} else {
			r.Add(rt.Method, rt.Path, handler(rt.Handle, api.Style))
		}
	}
}

// newEcho returns a quiet Echo.
func newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.Logger.SetOutput(io.Discard)
	return e
}

// discoveryRoute registers the discovery document as the documentation
// shows, outside Protect.
func discoveryRoute(e *echo.Echo, discovery http.Handler) {
	e.Match([]string{http.MethodGet, http.MethodHead, http.MethodOptions}, "/fhir/.well-known/smart-configuration", echo.WrapHandler(discovery))
}

// framework is echo, for the suite.
type framework struct{}

func (framework) Styles() []string {
	var names []string
	for _, s := range writeStyles {
		names = append(names, s.name)
	}
	return names
}

func (framework) Protect(g *smartmw.Guard, api adaptertest.API) http.Handler {
	e := newEcho()
	if api.Log != nil {
		e.Logger.SetOutput(api.Log)
	}
	e.Use(middleware.Recover())
	if api.ChainStopped != nil {
		e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				err := next(c)
				api.ChainStopped(err == nil)
				return err
			}
		})
	}
	for _, base := range api.BasePaths() {
		mount(e.Group(base, smartecho.Protect(g, e)), api)
	}
	return e
}

// Layouts are the route layouts of the package documentation. Both rely
// on echo running a group's middleware for every path under the group,
// routed or not.
func (framework) Layouts() []adaptertest.Wiring {
	return []adaptertest.Wiring{
		{Name: "an echo route per FHIR interaction", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			e := newEcho()
			discoveryRoute(e, api.Discovery)
			mount(e.Group("/fhir", smartecho.Protect(g, e)), api) // no OPTIONS routes: the group's own catch-all routes reach Protect
			return e
		}},
		{Name: "one net/http handler for the whole FHIR API", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			e := newEcho()
			discoveryRoute(e, api.Discovery)
			server := newEcho() // stands for any http.Handler: a FHIR server, a proxy
			mount(server.Group("/fhir"), api)
			fhir := e.Group("/fhir", smartecho.Protect(g, e))
			for _, p := range []string{"", "/*"} {
				fhir.Any(p, echo.WrapHandler(server))
			}
			return e
		}},
	}
}

func (framework) UncheckableWrites() []adaptertest.Wiring {
	return []adaptertest.Wiring{
		{Name: "no GET route: the group's RouteNotFound answers the read 404", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			e := newEcho()
			mount(e.Group("/fhir", smartecho.Protect(g, e)), api.Only(http.MethodDelete))
			return e
		}},
		{Name: "the GET route is not behind Protect", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			e := newEcho()
			mount(e.Group("/fhir"), api.Only(http.MethodGet))
			mount(e.Group("/fhir", smartecho.Protect(g, e)), api.Only(http.MethodDelete))
			return e
		}},
		{Name: "Protect on the Echo, a RouteNotFound handler answers the read", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			e := newEcho()
			e.Use(smartecho.Protect(g, e))
			e.RouteNotFound("/*", handler(api.Only(http.MethodGet).Routes[0].Handle, api.Style))
			mount(e.Group("/fhir"), api.Only(http.MethodDelete))
			return e
		}},
		{Name: "a middleware before Protect refuses the read", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			e := newEcho()
			mount(e.Group("/fhir", func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					if c.Request().Method == http.MethodGet {
						return echo.ErrNotFound
					}
					return next(c)
				}
			}, smartecho.Protect(g, e)), api)
			return e
		}},
	}
}

func (framework) NaiveAdapters() []adaptertest.NaiveAdapter {
	return []adaptertest.NaiveAdapter{
		{
			// The echo handler runs inside the Guard without the
			// Guard's writer: echo writes past it.
			Wiring: adaptertest.Wiring{Name: "the writer not swapped", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
				naive := func(next echo.HandlerFunc) echo.HandlerFunc {
					return func(c echo.Context) (err error) {
						g.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
							c.SetRequest(r)
							err = next(c)
						})).ServeHTTP(c.Response(), c.Request())
						return err
					}
				}
				e := newEcho()
				mount(e.Group("/fhir", naive), api)
				return e
			}},
			LeaksRead: true,
		},
		{
			// echo.WrapMiddleware gives the handler the Guard's
			// writer, but runs the write handler for the Guard's read
			// of the stored resource.
			Wiring: adaptertest.Wiring{Name: "echo.WrapMiddleware", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
				e := newEcho()
				mount(e.Group("/fhir", echo.WrapMiddleware(g.Handler)), api)
				return e
			}},
			ReachesWrite: true,
		},
	}
}
