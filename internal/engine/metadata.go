package engine

import (
	"net/http"
	"strconv"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/fhirjson"
	"github.com/smartguard/smartguard/internal/fhirrest"
	"github.com/smartguard/smartguard/scope"
)

// IsMetadata reports whether r reads the base's CapabilityStatement: a GET
// or HEAD of [base]/metadata, whatever its query.
func (a *Engine) IsMetadata(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	rel, ok := fhirrest.Rel(a.basePath, r.URL.EscapedPath())
	return ok && rel == "metadata"
}

// ServeMetadata serves the CapabilityStatement with next, without a
// grant, open to any origin: what apps and test kits read before they
// have a token. Only a CapabilityStatement in FHIR JSON may leave (502
// otherwise): a handler that answers something else at that path does not
// answer it to anyone who asks.
func (a *Engine) ServeMetadata(w http.ResponseWriter, r *http.Request, next http.Handler) {
	saved := w.Header().Clone()
	head := r.Method == http.MethodHead
	if head {
		r2 := *r
		r2.Method = http.MethodGet
		r = &r2
	}
	// The handler sees the decision it would see with a token: a read
	// of the capabilities, limited to nothing (there is no grant).
	req := smartctx.Request{Method: r.Method, Interaction: scope.InteractionCapabilities, Query: r.URL.RawQuery}
	r = r.WithContext(smartctx.WithDecision(r.Context(), smartctx.NewDecision(req, smartctx.Limits{})))
	r.Header = r.Header.Clone()
	if err := jsonOnly(r); err != nil {
		a.opt.OnError(w, r, err)
		return
	}
	r.Header.Del("Accept-Encoding")
	gw := &guardWriter{w: w, max: a.opt.MaxResponseBytes}
	serveHeld(w, saved, next, gw, r)
	status, body := gw.status, gw.buf
	if status == 0 {
		status = http.StatusOK
	}
	res, err := fhirjson.Scan(body)
	if gw.overflow || status != http.StatusOK || err != nil || res.Type != "CapabilityStatement" ||
		w.Header().Get("Content-Encoding") != "" {
		restoreHeader(w.Header(), saved)
		a.opt.OnError(w, r, &Error{Status: http.StatusBadGateway, Description: "the capability statement cannot be checked", Err: errResponseUnchecked})
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if !head {
		w.Write(body)
	}
}
