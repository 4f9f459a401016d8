package smartgin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/smartguard/smartguard/internal/adaptertest"
	smartmw "github.com/smartguard/smartguard/middleware"
	smartgin "github.com/smartguard/smartguard/middleware/gin"
)

func init() { gin.SetMode(gin.TestMode) }

// TestProtect runs the suite every adapter runs (internal/adaptertest)
// through gin and smartgin.Protect.
func TestProtect(t *testing.T) { adaptertest.Run(t, framework{}) }

// writeStyle answers status and body the way one kind of gin handler does.
type writeStyle struct {
	name  string
	write func(c *gin.Context, status int, body string)
}

// writeStyles are the ways a gin handler writes a response.
var writeStyles = []writeStyle{
	{"c.Data", func(c *gin.Context, status int, body string) {
		c.Data(status, "application/fhir+json", []byte(body))
	}},
	{"c.JSON", func(c *gin.Context, status int, body string) { c.JSON(status, json.RawMessage(body)) }},
	{"c.String", func(c *gin.Context, status int, body string) { c.String(status, "%s", body) }},
	{"c.Status then c.Writer.WriteHeaderNow and Write", func(c *gin.Context, status int, body string) {
		c.Header("Content-Type", "application/fhir+json")
		c.Status(status)
		c.Writer.WriteHeaderNow()
		c.Writer.Write([]byte(body))
	}},
	{"c.Writer.WriteString in pieces with Flush", func(c *gin.Context, status int, body string) {
		c.Status(status)
		for len(body) > 0 {
			n := min(len(body), 16)
			c.Writer.WriteString(body[:n])
			c.Writer.Flush()
			body = body[n:]
		}
	}},
	{"c.Stream", func(c *gin.Context, status int, body string) {
		c.Status(status)
		c.Stream(func(w io.Writer) bool {
			n := min(len(body), 16)
			w.Write([]byte(body[:n]))
			body = body[n:]
			return len(body) > 0
		})
	}},
	{"c.AbortWithStatusJSON", func(c *gin.Context, status int, body string) {
		c.AbortWithStatusJSON(status, json.RawMessage(body))
	}},
	{"gin.WrapH of a net/http handler", func(c *gin.Context, status int, body string) {
		gin.WrapH(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))(c)
	}},
}

// ginCtx is the suite's view of a gin context, writing in style.
type ginCtx struct {
	c     *gin.Context
	style writeStyle
}

func (x ginCtx) Request() *http.Request                { return x.c.Request }
func (x ginCtx) Param(name string) string              { return x.c.Param(name) }
func (x ginCtx) Query(name string) string              { return x.c.Query(name) }
func (x ginCtx) Writer() http.ResponseWriter           { return x.c.Writer }
func (x ginCtx) NoContent(status int) error            { x.c.Status(status); return nil }
func (x ginCtx) Respond(status int, body string) error { x.style.write(x.c, status, body); return nil }

func (x ginCtx) Stream(part string) {
	x.c.Stream(func(w io.Writer) bool {
		io.WriteString(w, part)
		return false
	})
}

// handler returns h as a gin handler writing in writeStyles[style].
func handler(h adaptertest.Handler, style int) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(ginCtx{c, writeStyles[style]}); err != nil {
			c.Error(err)
		}
	}
}

// mount registers api's routes on r.
func mount(r gin.IRoutes, api adaptertest.API) {
	for _, rt := range api.Routes {
		if rt.Method == "" {
			r.Any(rt.Path, handler(rt.Handle, api.Style))
		} else {
			r.Handle(rt.Method, rt.Path, handler(rt.Handle, api.Style))
		}
	}
}

// discoveryRoute registers the discovery document as the documentation
// shows, outside Protect.
func discoveryRoute(r *gin.Engine, discovery http.Handler) {
	r.Match([]string{http.MethodGet, http.MethodHead, http.MethodOptions}, "/fhir/.well-known/smart-configuration", gin.WrapH(discovery))
}

// framework is gin, for the suite.
type framework struct{}

func (framework) Styles() []string {
	var names []string
	for _, s := range writeStyles {
		names = append(names, s.name)
	}
	return names
}

func (framework) Protect(g *smartmw.Guard, api adaptertest.API) http.Handler {
	r := gin.New()
	log := api.Log
	if log == nil {
		log = io.Discard
	}
	r.Use(gin.RecoveryWithWriter(log))
	if api.ChainStopped != nil {
		r.Use(func(c *gin.Context) {
			c.Next()
			api.ChainStopped(c.IsAborted())
		})
	}
	for _, base := range api.BasePaths() {
		mount(r.Group(base, smartgin.Protect(g, r)), api)
	}
	return r
}

// Layouts are the route layouts of the package documentation.
func (framework) Layouts() []adaptertest.Wiring {
	return []adaptertest.Wiring{
		{Name: "a gin route per FHIR interaction", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			r := gin.New()
			discoveryRoute(r, api.Discovery)
			fhir := r.Group("/fhir", smartgin.Protect(g, r))
			mount(fhir, api)
			for _, p := range []string{"", "/:type", "/:type/*rest"} {
				fhir.Match([]string{http.MethodHead, http.MethodOptions}, p)
			}
			return r
		}},
		{Name: "one net/http handler for the whole FHIR API", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			r := gin.New()
			discoveryRoute(r, api.Discovery)
			server := gin.New() // stands for any http.Handler: a FHIR server, a proxy
			mount(server.Group("/fhir"), api)
			fhir := r.Group("/fhir", smartgin.Protect(g, r))
			for _, p := range []string{"", "/:type", "/:type/*rest"} {
				fhir.Any(p, gin.WrapH(server))
			}
			return r
		}},
	}
}

func (framework) UncheckableWrites() []adaptertest.Wiring {
	return []adaptertest.Wiring{
		{Name: "no GET route: gin answers the read 404", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			r := gin.New()
			mount(r.Group("/fhir", smartgin.Protect(g, r)), api.Only(http.MethodDelete))
			return r
		}},
		{Name: "the GET route is not behind Protect", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			r := gin.New()
			mount(r.Group("/fhir"), api.Only(http.MethodGet))
			mount(r.Group("/fhir", smartgin.Protect(g, r)), api.Only(http.MethodDelete))
			return r
		}},
		{Name: "a NoRoute handler answers the read", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			r := gin.New()
			r.NoRoute(handler(api.Only(http.MethodGet).Routes[0].Handle, api.Style))
			mount(r.Group("/fhir", smartgin.Protect(g, r)), api.Only(http.MethodDelete))
			return r
		}},
		{Name: "Protect on the engine, no GET route: gin's 404 passes Protect", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			r := gin.New()
			r.Use(smartgin.Protect(g, r))
			mount(r.Group("/fhir"), api.Only(http.MethodDelete))
			return r
		}},
		{Name: "a middleware before Protect refuses the read", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			r := gin.New()
			mount(r.Group("/fhir", func(c *gin.Context) {
				if c.Request.Method == http.MethodGet {
					c.AbortWithStatus(http.StatusNotFound)
				}
			}, smartgin.Protect(g, r)), api)
			return r
		}},
	}
}

func (framework) NaiveAdapters() []adaptertest.NaiveAdapter {
	return []adaptertest.NaiveAdapter{{
		// c.Next() inside the Guard lets gin write past it.
		Wiring: adaptertest.Wiring{Name: "c.Next() inside the Guard's Handler", Mount: func(g *smartmw.Guard, api adaptertest.API) http.Handler {
			naive := func(c *gin.Context) {
				g.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
					c.Request = r
					c.Next()
				})).ServeHTTP(c.Writer, c.Request)
			}
			r := gin.New()
			mount(r.Group("/fhir", naive), api)
			return r
		}},
		LeaksRead: true,
	}}
}
