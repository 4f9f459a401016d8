package smartgin

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
)

// noWritten is the size of a response whose header is not yet sent, as
// in gin.
const noWritten = -1

// errHijack refuses to hijack a connection whose response the Guard holds.
var errHijack = errors.New("smartgin: the connection cannot be hijacked behind the Guard")

// responseWriter is the gin.ResponseWriter the handlers behind Protect
// write to. It keeps gin's semantics (a status set by WriteHeader is sent
// with the first byte, or by WriteHeaderNow; Size is -1 before that) and
// writes to the Guard's writer: when the Guard holds the response, Flush
// sends nothing and Hijack fails, so nothing reaches the client unchecked.
type responseWriter struct {
	w      http.ResponseWriter // the Guard's
	ctx    context.Context     // the request's, for CloseNotify
	status int
	size   int
}

var _ gin.ResponseWriter = (*responseWriter)(nil)

func (w *responseWriter) Header() http.Header { return w.w.Header() }

func (w *responseWriter) WriteHeader(code int) {
	if code > 0 && !w.Written() {
		w.status = code
	}
}

func (w *responseWriter) WriteHeaderNow() {
	if !w.Written() {
		w.size = 0
		w.w.WriteHeader(w.status)
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.WriteHeaderNow()
	n, err := w.w.Write(b)
	w.size += n
	return n, err
}

func (w *responseWriter) WriteString(s string) (int, error) {
	w.WriteHeaderNow()
	n, err := io.WriteString(w.w, s)
	w.size += n
	return n, err
}

func (w *responseWriter) Status() int { return w.status }

func (w *responseWriter) Size() int { return w.size }

func (w *responseWriter) Written() bool { return w.size != noWritten }

// Flush sends what was written when the Guard lets the response stream
// (its decision leaves nothing to enforce); when the Guard holds the
// response, the handlers' writes stay held and are checked whole.
func (w *responseWriter) Flush() {
	w.WriteHeaderNow()
	if f, ok := w.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack takes over the connection when the Guard lets the response
// through unchecked and nothing was written yet; it fails when the Guard
// holds the response.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.w.(http.Hijacker)
	if !ok || w.size > 0 {
		return nil, nil, errHijack
	}
	if w.size < 0 {
		w.size = 0
	}
	return h.Hijack()
}

// CloseNotify reports that the client went away (gin.Context.Stream
// stops on it): from the underlying writer when it can tell, else when
// the request's context is done.
func (w *responseWriter) CloseNotify() <-chan bool {
	//lint:ignore SA1019 gin.ResponseWriter embeds http.CloseNotifier, so the wrapper must pass it on
	if cn, ok := w.w.(http.CloseNotifier); ok {
		return cn.CloseNotify()
	}
	return closeNotify(w.ctx)
}

// closeNotify returns a channel that receives true when ctx is done.
func closeNotify(ctx context.Context) <-chan bool {
	ch := make(chan bool, 1)
	context.AfterFunc(ctx, func() { ch <- true })
	return ch
}

func (w *responseWriter) Pusher() http.Pusher {
	if p, ok := w.w.(http.Pusher); ok {
		return p
	}
	return nil
}

// Unwrap returns the Guard's writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.w }
