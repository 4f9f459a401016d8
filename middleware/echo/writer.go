package smartecho

import (
	"bufio"
	"errors"
	"net"
	"net/http"
)

// errHijack refuses to hijack a connection whose response the Guard holds.
var errHijack = errors.New("smartecho: the connection cannot be hijacked behind the Guard")

// responseWriter is the writer under the echo.Response the handler
// behind Protect writes to: the Guard's writer, with the Flush echo
// requires. When the Guard holds the response, Flush sends nothing and
// Hijack fails, so nothing reaches the client unchecked.
type responseWriter struct {
	w http.ResponseWriter // the Guard's
}

func (w *responseWriter) Header() http.Header { return w.w.Header() }

func (w *responseWriter) WriteHeader(code int) { w.w.WriteHeader(code) }

func (w *responseWriter) Write(b []byte) (int, error) { return w.w.Write(b) }

// Flush sends what was written when the Guard lets the response stream
// (its decision leaves nothing to enforce); when the Guard holds the
// response, the handler's writes stay held and are checked whole.
func (w *responseWriter) Flush() {
	if f, ok := w.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack takes over the connection when the Guard lets the response
// through unchecked; it fails when the Guard holds the response.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.w.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errHijack
}

// Unwrap returns the Guard's writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.w }

// innerWriter is the writer of a request routed through the Echo for the
// Guard. It has the Flush echo requires, which sends nothing.
type innerWriter struct {
	w     http.ResponseWriter
	ps    *pass
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

func (iw *innerWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, errHijack }
