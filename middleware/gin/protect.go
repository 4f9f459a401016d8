package smartgin

import (
	"bufio"
	"context"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// Protect returns gin middleware that runs the whole protection of g
// around the handlers after it: CORS (Config.AllowedOrigins),
// authentication, FHIR authorization and the response guard, exactly as
// g.Handler does for a net/http handler. Use it on the group of FHIR
// routes, after gin.Recovery and before any middleware that reads the
// request:
//
//	fhir := r.Group("/fhir", smartgin.Protect(guard, r))
//
// engine must be the Engine that routes the group. Before an update,
// patch or delete by id under a restricted decision, the Guard reads the
// stored resource with an internal GET of the same URL, which Protect
// routes through engine to the GET route of that URL. That route must be
// behind Protect too: when no route behind Protect answers the read, the
// write is refused (502), because the stored resource cannot be checked.
// A HEAD request is answered the same way, by the GET route of its URL,
// so that the Guard checks the resource its status and headers describe;
// the handlers of the HEAD route do not run.
//
// The handlers write to a c.Writer that goes through the Guard: when the
// decision leaves something to enforce, what they write is held and
// checked before the client sees it. A refused request is answered by the
// Guard and the chain is aborted (c.IsAborted reports true), so no later
// handler runs. After the handlers return, c.Request and c.Writer are
// the ones Protect was given, and c.Writer.Status reports what the
// client got. See the package documentation for what handlers may do.
//
// Protect panics if g or engine is nil.
func Protect(g *smartmw.Guard, engine *gin.Engine) gin.HandlerFunc {
	if g == nil || engine == nil {
		panic("smartgin: Protect needs a Guard and the gin Engine that routes to it")
	}
	p := &protector{engine: engine}
	p.guarded = g.Handler(http.HandlerFunc(p.serve))
	return p.handle
}

// protector is what Protect returns: the Guard around serve.
type protector struct {
	engine  *gin.Engine
	guarded http.Handler // the Guard's Handler around serve
}

// passKey keys the *pass of a request on its context.
type passKey struct{}

// pass is one request through Protect: the gin context whose handlers
// the Guard lets run, and what happened to it.
type pass struct {
	c       *gin.Context
	w       responseWriter // c.Writer while the handlers run
	head    bool           // a HEAD request, answered by the GET route
	served  bool           // the Guard let c's handlers run
	inner   bool           // serve is routing a request through the engine
	reached bool           // that request reached a route behind Protect
}

// handle is the gin.HandlerFunc Protect returns.
func (p *protector) handle(c *gin.Context) {
	ps, _ := c.Request.Context().Value(passKey{}).(*pass)
	if ps != nil && ps.inner || smartmw.IsStoredRead(c.Request) {
		// A request serve routes through the engine (the Guard's
		// own read of a stored resource, or the GET answering a
		// HEAD): what the handlers answer goes to the Guard, which
		// checks it. Only a registered route counts as an answer:
		// gin's 404 for a missing route must not let a write through
		// as if the resource did not exist.
		if ps != nil && c.FullPath() != "" {
			ps.reached = true
		}
		c.Next()
		return
	}
	ps = &pass{c: c}
	r := c.Request.WithContext(context.WithValue(c.Request.Context(), passKey{}, ps))
	if r.Method == http.MethodHead {
		// The Guard passes a HEAD answer unchecked: let it check the
		// GET that the HEAD stands for.
		ps.head = true
		r.Method = http.MethodGet
	}
	p.guarded.ServeHTTP(c.Writer, r)
	if !ps.served {
		// The Guard refused, or answered a CORS preflight, or the GET
		// route answered a HEAD: no handler of this route may run.
		c.Abort()
	}
}

// serve is the handler behind the Guard: it runs the gin handlers after
// Protect with the Guard's request and writer, or routes a request
// through the engine.
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
	ps.served = true
	req, rw := c.Request, c.Writer
	defer func() {
		// Also on a panic, so that gin.Recovery answers on the real
		// writer; what the handlers wrote stays in the Guard.
		c.Request, c.Writer = req, rw
	}()
	ps.w = responseWriter{w: w, ctx: r.Context(), status: http.StatusOK, size: noWritten}
	c.Request, c.Writer = r, &ps.w
	c.Next()
	// gin sends a status set without a body (c.Status(201)) only after
	// the chain, on its own writer: send it to the Guard now.
	ps.w.WriteHeaderNow()
}

// route serves r through the engine, for the Guard, and reports whether
// it reached a route behind Protect. When gated, what is answered before
// that (gin's 404 for a missing route, an earlier middleware's refusal)
// is dropped.
func (p *protector) route(ps *pass, w http.ResponseWriter, r *http.Request, gated bool) bool {
	ps.inner, ps.reached = true, false
	defer func() { ps.inner = false }()
	p.engine.ServeHTTP(&innerWriter{w: w, ps: ps, ctx: r.Context(), gated: gated}, r)
	return ps.reached
}

// innerWriter is the writer of a request routed through the engine for
// the Guard. It has the methods gin's own writer asserts (so that
// c.Stream and c.Writer.Hijack do not panic), none of which sends
// anything to the client.
type innerWriter struct {
	w     http.ResponseWriter
	ps    *pass
	ctx   context.Context
	gated bool // drop what is written until the request reaches Protect
}

func (iw *innerWriter) Header() http.Header { return iw.w.Header() }

func (iw *innerWriter) WriteHeader(code int) {
	if !iw.gated || iw.ps.reached {
		iw.w.WriteHeader(code)
	}
}

func (iw *innerWriter) Write(b []byte) (int, error) {
	if !iw.gated || iw.ps.reached {
		return iw.w.Write(b)
	}
	return len(b), nil
}

func (iw *innerWriter) Flush() {}

func (iw *innerWriter) CloseNotify() <-chan bool { return closeNotify(iw.ctx) }

func (iw *innerWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, errHijack }
