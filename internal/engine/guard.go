package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/compartment"
	"github.com/smartguard/smartguard/internal/fhirjson"
	"github.com/smartguard/smartguard/scope"
)

// The response guard checks what a handler returns for a restricted
// decision (a patient compartment, granular constraints or includes to
// enforce) before it reaches the client: a single resource must be
// permitted, and a Bundle keeps only the entries that are. It is what
// makes a read by id under a patient/ scope safe when the handler (or the
// FHIR server behind a proxy) does not check the stored resource itself.

// errResponseUnchecked refuses a response the guard cannot read.
var errResponseUnchecked = errors.New("the response guard cannot check this response")

// guardWriter holds a handler's response until the guard has checked it.
// Headers go to the real writer's map; they are sent only after the check.
type guardWriter struct {
	w        http.ResponseWriter
	status   int
	buf      []byte // the body
	max      int64
	overflow bool
	done     bool // the guard is done: the buffer went back to its pool
}

func (g *guardWriter) Header() http.Header { return g.w.Header() }

func (g *guardWriter) WriteHeader(code int) {
	if g.status == 0 && code >= 200 {
		g.status = code
	}
}

func (g *guardWriter) Write(p []byte) (int, error) {
	if g.status == 0 {
		g.status = http.StatusOK
	}
	if g.done || g.overflow || int64(len(g.buf)+len(p)) > g.max {
		g.overflow = true
		return 0, errResponseUnchecked
	}
	if need := len(g.buf) + len(p); need > cap(g.buf) {
		size := max(2*cap(g.buf), need)
		if len(g.buf) == 0 {
			// The length the handler announces (a proxy passes the
			// upstream's), within max, sizes the buffer at once:
			// written in pieces, a doubling buffer would allocate up
			// to 4 times the body.
			if cl := headerGet(g.w.Header(), "Content-Length"); cl != "" {
				if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > int64(need) && n <= g.max {
					size = int(n)
				}
			}
		}
		g.buf = append(make([]byte, 0, size), g.buf...)
	}
	g.buf = append(g.buf, p...)
	return len(p), nil
}

// guardState is what the guard of one response needs beyond the guardWriter,
// kept in a pool between responses: the buffer that holds the body, its
// scan, and the check of its entries. A ResponseWriter may not be used
// once ServeHTTP returned, so nothing holds them after the guard is done.
type guardState struct {
	buf []byte
	res fhirjson.Resource
	rc  respCheck
}

var guardStates = sync.Pool{New: func() any { return new(guardState) }}

// maxPooledBody bounds the buffers kept for later responses: a larger
// body's goes to the garbage collector.
const maxPooledBody = 1 << 20

// release returns st to the pool with the buffer gw holds, and makes any
// later Write to gw fail.
func (st *guardState) release(gw *guardWriter) {
	buf := gw.buf
	gw.buf, gw.done = nil, true
	if cap(buf) > maxPooledBody {
		buf = nil
	}
	st.buf = buf[:0]
	st.rc.reset()
	guardStates.Put(st)
}

// guard serves r with next and lets its response through only as far as
// decision d and grant gr permit.
//
// Reads answer nothing about a resource the client may not see: a HEAD is
// served to next as a GET and checked as one, conditional headers
// (If-None-Match, If-Modified-Since) are evaluated here on the checked
// answer rather than by next, and with NotFoundForDenied a missing
// resource is answered exactly as a refused one.
func (a *Engine) guard(w http.ResponseWriter, r *http.Request, next http.Handler, gr *smartctx.Grant, d *decision) {
	var saved http.Header // what earlier stages (CORS) set
	if h := w.Header(); len(h) > 0 {
		saved = h.Clone()
	}
	// A compressed body could not be read: ask for identity.
	delete(r.Header, "Accept-Encoding")
	orig := r
	head := r.Method == http.MethodHead
	read := r.Method == http.MethodGet || head
	var conds preconditions
	if read {
		r = conds.take(r)
	}
	st := guardStates.Get().(*guardState)
	gw := &guardWriter{w: w, max: a.opt.MaxResponseBytes, buf: st.buf}
	defer st.release(gw)
	serveHeld(w, saved, next, gw, r)

	refuse := func(err *Error) {
		restoreHeader(w.Header(), saved)
		a.opt.OnError(w, orig, err)
	}
	status := gw.status
	if status == 0 {
		status = http.StatusOK
	}
	body := gw.buf
	if err, done := a.unchecked(w, gw, d, status, body, read, head); done {
		if err != nil {
			refuse(err)
		}
		return
	}
	an, err := a.checkResponse(gr, d, body, st)
	if a.opt.Observer != nil {
		a.opt.Observer.Guarded(r.Context(), len(body), an.withheld, len(d.refused()))
	}
	switch {
	case errors.Is(err, errResponseUnchecked):
		refuse(&Error{Status: http.StatusBadGateway, Description: "response cannot be checked", Err: err})
		return
	case err != nil:
		refuse(a.denied(d))
		return
	}
	h := w.Header()
	setLength(h, &an)
	if read && status == http.StatusOK && preconditionFailed(conds.ifMatch, conds.ifUnmodifiedSince, h) {
		h.Del("Content-Length")
		refuse(&Error{Status: http.StatusPreconditionFailed, Description: "the resource does not match If-Match or If-Unmodified-Since"})
		return
	}
	if read && status == http.StatusOK && notModified(conds.ifNoneMatch, conds.ifModifiedSince, h) {
		h.Del("Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(status)
	if !head {
		an.writeTo(w)
	}
}

// preconditions are a read's conditional headers, which the guard
// evaluates on the checked answer: the handler would answer them (304,
// 412) for a resource it then never shows.
type preconditions struct {
	ifNoneMatch, ifModifiedSince, ifMatch, ifUnmodifiedSince string
}

// take moves r's conditional headers into p, and returns the request the
// handler is served: a HEAD as the GET it stands for.
func (p *preconditions) take(r *http.Request) *http.Request {
	h := r.Header
	p.ifNoneMatch, p.ifModifiedSince = headerGet(h, "If-None-Match"), headerGet(h, "If-Modified-Since")
	p.ifMatch, p.ifUnmodifiedSince = headerGet(h, "If-Match"), headerGet(h, "If-Unmodified-Since")
	for _, k := range [...]string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"} {
		delete(h, k)
	}
	if r.Method == http.MethodHead {
		r2 := *r
		r2.Method = http.MethodGet
		return &r2
	}
	return r
}

// unchecked answers what needs no check, or cannot have one: done is
// true when the answer is settled, with err the refusal to send (nil
// when the handler's answer was passed on: an error or an empty answer to
// a write).
func (a *Engine) unchecked(w http.ResponseWriter, gw *guardWriter, d *decision, status int, body []byte, read, head bool) (err *Error, done bool) {
	empty := len(bytes.TrimSpace(body)) == 0
	switch {
	case gw.overflow:
		return &Error{Status: http.StatusBadGateway, Description: "response too large to check", Err: errResponseUnchecked}, true
	case a.opt.NotFoundForDenied && read && (status == http.StatusNotFound || status == http.StatusGone):
		// Missing (or deleted) and refused look the same: status,
		// headers and body.
		return a.denied(d), true
	case read && (status == http.StatusNotModified || status >= 200 && status < 300 && empty):
		// A read answered without a resource cannot be checked, and
		// would tell the client that the resource exists.
		return &Error{Status: http.StatusBadGateway, Description: "response cannot be checked", Err: errResponseUnchecked}, true
	case (status < 200 || status >= 300) && !carriesResource(body) || empty:
		// Errors (an OperationOutcome, an error page) and empty answers
		// to writes (204) carry no resource. A resource sent with an
		// error status is checked all the same: the client reads it.
		w.WriteHeader(status)
		if !head {
			w.Write(body)
		}
		return nil, true
	}
	if enc := headerGet(w.Header(), "Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return &Error{Status: http.StatusBadGateway, Description: "encoded response cannot be checked", Err: errResponseUnchecked}, true
	}
	return nil, false
}

// setLength sets the Content-Length of the answer the client gets, and
// drops the validators of a body the guard changed.
func setLength(h http.Header, an *answer) {
	n := int64(len(an.body))
	switch {
	case an.out != nil:
		n = int64(len(an.out))
	case an.bundle != nil:
		// Sent as it is spliced; its length counted without a copy.
		n, _ = an.bundle.WriteRewrite(io.Discard, an.total, an.extra)
	}
	if v := h["Content-Length"]; len(v) != 1 || v[0] != strconv.FormatInt(n, 10) {
		h["Content-Length"] = []string{strconv.FormatInt(n, 10)}
	}
	if an.rewritten() {
		delete(h, "Etag") // the filtered Bundle is another representation
		delete(h, "Last-Modified")
	}
}

// headerGet is h.Get for key, which must be in canonical form
// (http.CanonicalHeaderKey), without making it so again: the guard's
// headers are read and changed on every request.
func headerGet(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// serveHeld serves r with next into gw. Should next panic, the headers it
// set go before the panic goes on: the recovery that answers it (gin's,
// echo's, the application's) must not send an ETag or a Location of a
// resource the guard never checked.
func serveHeld(w http.ResponseWriter, saved http.Header, next http.Handler, gw *guardWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			restoreHeader(w.Header(), saved)
			panic(p)
		}
	}()
	next.ServeHTTP(gw, r)
}

// restoreHeader makes h what saved holds: the headers set before the
// handler ran.
func restoreHeader(h, saved http.Header) {
	for k := range h {
		delete(h, k)
	}
	for k, v := range saved {
		h[k] = v
	}
}

// notModified evaluates a GET's If-None-Match (weak comparison, RFC 9110
// §13.1.2) or, without it, If-Modified-Since against the checked answer's
// validators.
func notModified(inm, ims string, h http.Header) bool {
	if inm != "" {
		etag := strings.TrimPrefix(h.Get("ETag"), "W/")
		if etag == "" {
			return false
		}
		for tag := range strings.SplitSeq(inm, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
		return false
	}
	if ims == "" {
		return false
	}
	since, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	return err == nil && !lm.After(since)
}

// preconditionFailed evaluates a GET's If-Match (strong comparison, RFC
// 9110 §13.1.1) or, without it, If-Unmodified-Since against the checked
// answer's validators.
func preconditionFailed(im, ius string, h http.Header) bool {
	if im != "" {
		etag := h.Get("ETag")
		if etag == "" || strings.HasPrefix(etag, "W/") {
			return im != "*" || etag == ""
		}
		for tag := range strings.SplitSeq(im, ",") {
			if tag = strings.TrimSpace(tag); tag == "*" || tag == etag {
				return false
			}
		}
		return true
	}
	if ius == "" {
		return false
	}
	since, err := http.ParseTime(ius)
	if err != nil {
		return false
	}
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	return err != nil || lm.After(since)
}

// denied is the error for a resource the decision does not permit.
func (a *Engine) denied(d *decision) *Error {
	if d.byPolicy {
		e := a.policyDeny(&Request{Request: d.Request, Context: d.Context}, false, d.pol, "the resource is not one the policy grants")
		if a.opt.NotFoundForDenied {
			e = &Error{Status: http.StatusNotFound, Description: "resource not found", By: RefusedByPolicy, Rule: e.Rule, Err: errors.New(e.Description)}
		}
		return e
	}
	if a.opt.NotFoundForDenied {
		return &Error{Status: http.StatusNotFound, Description: "resource not found"}
	}
	return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope,
		Description: "the token does not allow this resource", By: RefusedByScope}
}

// withheldEntry is the entry a searchset gains when the guard removed entries
// (SMART App Launch: the server may leave out what the client may not
// see, and should say so); it names nothing of what was withheld.
var withheldEntry = []byte(`{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"suppressed",` +
	`"diagnostics":"Some results were withheld: the access token does not allow them."}]},"search":{"mode":"outcome"}}`)

// refusalEntry is a batch-response entry answering a refused entry: its
// status and the refusal's OperationOutcome.
func (a *Engine) refusalEntry(e *Error) []byte {
	oo := a.opt.Outcome(e)
	b := make([]byte, 0, len(oo)+64)
	b = append(b, `{"response":{"status":"`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(e.Status)...) // letters, digits, spaces, an apostrophe
	b = append(b, `","outcome":`...)
	b = append(b, oo...)
	return append(b, "}}"...)
}

// batchEntries merges the answers of the forwarded entries with the
// refusals of the others, in the batch's order: the JSON array of a
// batch-response's entries.
func (a *Engine) batchEntries(answers [][]byte, refused []refusal, n int) []byte {
	b := append(make([]byte, 0, 256*len(refused)), '[')
	next := 0
	for i := range n {
		var entry []byte
		switch {
		case len(refused) > 0 && refused[0].index == i:
			entry = a.refusalEntry(refused[0].err)
			refused = refused[1:]
		case next < len(answers):
			entry = answers[next]
			next++
		default:
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, entry...)
	}
	return append(b, ']')
}

// batchResponse is the answer to a batch none of whose entries was
// forwarded.
func (a *Engine) batchResponse(answers [][]byte, refused []refusal, n int) []byte {
	entries := a.batchEntries(answers, refused, n)
	b := make([]byte, 0, len(entries)+64)
	b = append(b, `{"resourceType":"Bundle","type":"batch-response","entry":`...)
	b = append(b, entries...)
	return append(b, '}')
}

// mergeBatch marks b, the answer to a batch whose entries d decided, to
// be written (by splicing its bytes, body) with each refused answer in
// its entry's place, each filtered search Bundle in its entry in place of
// the one answered, and the refusals of the entries not forwarded among
// the answers, in the batch's order.
func (a *Engine) mergeBatch(b *fhirjson.Bundle, body []byte, d *decision, refusals map[int]*Error, resources map[int][]byte) {
	for i, e := range b.Entries {
		if r, ok := refusals[i]; ok {
			b.Replace(i, a.refusalEntry(r))
		} else if res, ok := resources[i]; ok {
			b.Replace(i, body[e.Span.Start:e.Resource.Start], res, body[e.Resource.End:e.Span.End])
		}
	}
	next := 0 // the answers passed
	refused := d.refused()
	for i := range d.entryCount() {
		if len(refused) > 0 && refused[0].index == i {
			b.Insert(next, a.refusalEntry(refused[0].err))
			refused = refused[1:]
		} else {
			next++
		}
	}
}

// errNotPermitted refuses a resource the decision does not permit.
var errNotPermitted = errors.New("resource not permitted")

// answer is what the guard lets the client see of a response body.
type answer struct {
	body     []byte           // what the handler wrote
	bundle   *fhirjson.Bundle // with entries dropped: written by splicing body
	extra    []byte           // an entry to add after the kept ones
	total    int              // the bundle's total, or fhirjson.NoTotal to remove it
	out      []byte           // a body built anew (a batch's answer)
	withheld int              // entries removed or refused
}

// rewritten reports whether the client gets another body than the
// handler's.
func (an *answer) rewritten() bool { return an.bundle != nil || an.out != nil }

// writeTo sends the answer's body.
func (an *answer) writeTo(w io.Writer) {
	switch {
	case an.bundle != nil:
		an.bundle.WriteRewrite(w, an.total, an.extra)
	case an.out != nil:
		w.Write(an.out)
	default:
		w.Write(an.body)
	}
}

// checkResponse reads body in one pass (internal/fhirjson) and returns
// what the client may see of it: a Bundle without the entries the grant
// does not permit, or any other resource whole. It fails with
// errNotPermitted for a resource outside the decision, and with
// errResponseUnchecked for a body that is not FHIR JSON the guard can
// read. st, when not nil, lends the scan its memory, and its respCheck
// reads the entries' resources as the scan reads them.
func (a *Engine) checkResponse(gr *smartctx.Grant, d *decision, body []byte, st *guardState) (answer, error) {
	an := answer{body: body}
	if st == nil {
		st = &guardState{}
	}
	var opt fhirjson.Options
	if st.rc.start(a, gr, d, body) {
		opt.Visitor = &st.rc
	}
	res := &st.res
	if err := fhirjson.ScanInto(res, body, opt); err != nil || res.Type == "" {
		return an, errResponseUnchecked
	}
	if res.Type == "OperationOutcome" {
		// The outcome of the interaction (a delete, an update answered
		// with Prefer: return=OperationOutcome): no resource of the
		// compartment, unless it contains one.
		if pid := d.limitingPatient(); pid != "" && !a.containsNoOther(body, pid) {
			return an, errNotPermitted
		}
		return an, nil
	}
	if res.Type != "Bundle" || d.Type == "Bundle" || d.own {
		if !a.permitted(gr, d, res.Type, body, false, nil) {
			return an, errNotPermitted
		}
		return an, nil
	}
	b, err := res.Bundle()
	if err != nil {
		return an, errResponseUnchecked
	}
	bc := bundleCheck{answer: an, b: b, body: body, d: d, rc: &st.rc,
		perEntry: b.Type == "batch-response" || b.Type == "transaction-response"}
	for i := range b.Entries {
		if err := a.checkEntry(gr, &bc, i); err != nil {
			return an, err
		}
	}
	return a.finishBundle(&bc)
}

// bundleCheck is what checkResponse learns of a Bundle's entries.
type bundleCheck struct {
	answer
	b        *fhirjson.Bundle
	body     []byte
	d        *decision
	perEntry bool // a batch or transaction answer: entry i answers d.entries()[i]
	rc       *respCheck

	refusals      map[int]*Error // answers replaced by a refusal
	resources     map[int][]byte // entries' search Bundles, filtered
	matchWithheld bool           // an entry other than an included one was withheld
}

// refuse puts a refusal in the place of answer i.
func (bc *bundleCheck) refuse(i int, err *Error) {
	if bc.refusals == nil {
		bc.refusals = map[int]*Error{}
	}
	bc.refusals[i] = err
}

// checkEntry checks entry i of the Bundle, under its own decision in a
// batch or transaction answer, under d's otherwise: the one rule, with
// an entry's search Bundle checked as that search alone, and a read
// answered without a resource made to look refused (NotFoundForDenied).
func (a *Engine) checkEntry(gr *smartctx.Grant, bc *bundleCheck, i int) error {
	e, d, body := &bc.b.Entries[i], bc.d, bc.body
	ed := d
	if bc.perEntry {
		if i >= len(d.entries()) {
			return errResponseUnchecked
		}
		ed = d.entries()[i]
		if ed.Patient != "" && !a.outcomeClean(e.Span.Of(body), ed.Patient) {
			// The entry's response.outcome holds a resource of
			// another patient's.
			bc.withheld++
			bc.refuse(i, a.denied(ed))
			return nil
		}
	}
	if e.ResourcePresence != fhirjson.Present {
		if bc.perEntry && a.opt.NotFoundForDenied && isRead(ed) && ed.restricted() {
			// A read answered without a resource (404, 410): as a
			// refused one is answered, so that the two look the same.
			bc.refuse(i, a.denied(ed))
		}
		return nil // a history delete, a response status
	}
	if e.ResourceType == "" {
		return errResponseUnchecked
	}
	if bc.perEntry && e.ResourceType == "Bundle" && isSearch(ed) {
		// A search or history entry of a batch answers with a Bundle
		// of its own: checked as that search would be alone.
		inner, err := a.checkResponse(gr, ed, e.Resource.Of(body), nil)
		if err != nil {
			return errResponseUnchecked
		}
		if bc.withheld += inner.withheld; inner.rewritten() {
			var buf bytes.Buffer
			inner.writeTo(&buf)
			if bc.resources == nil {
				bc.resources = map[int][]byte{}
			}
			bc.resources[i] = buf.Bytes()
		}
		return nil
	}
	res := e.Resource.Of(body)
	var at *entryAt
	if !bc.perEntry {
		at = &entryAt{bc.rc, i}
	}
	if e.ResourceType == "OperationOutcome" && (bc.perEntry || e.SearchMode == "outcome") &&
		(ed.Patient == "" || a.containsNoOther(res, ed.Patient)) ||
		a.permitted(gr, ed, e.ResourceType, res, e.SearchMode == "include", at) {
		return nil
	}
	bc.withheld++
	if e.SearchMode == "match" || e.SearchMode == "" {
		bc.matchWithheld = true
	}
	if bc.perEntry {
		// An answer keeps its entries in the request's order: the
		// refusal takes the place of the resource.
		bc.refuse(i, a.denied(ed))
		return nil
	}
	bc.b.Drop(i)
	return nil
}

// finishBundle returns what the client sees of the checked Bundle.
func (a *Engine) finishBundle(bc *bundleCheck) (answer, error) {
	an, b, d := bc.answer, bc.b, bc.d
	switch {
	case bc.perEntry && (bc.refusals != nil || bc.resources != nil || len(d.refused()) > 0):
		if len(b.Entries) != len(d.entries()) {
			return an, errResponseUnchecked
		}
		// Spliced in as the answer is written, total removed.
		a.mergeBatch(b, bc.body, d, bc.refusals, bc.resources)
		an.bundle, an.total = b, fhirjson.NoTotal
	case b.Dropped() > 0 && d.Interaction == scope.InteractionHistoryInstance:
		// The versions of one resource: one not permitted (another
		// patient's, or out of the granular scopes) refuses it all, as a
		// read of it is refused, rather than answer an empty history
		// that a missing resource would not get.
		return an, errNotPermitted
	case b.Dropped() > 0:
		an.bundle, an.total = b, fhirjson.NoTotal
		if !bc.matchWithheld && !d.filtered && b.Total.Len() > 0 {
			// Only included resources were left out: "total" counts
			// matches, and stays as it was, so that the answer does
			// not tell whether an included resource existed.
			if t, err := strconv.Atoi(string(b.Total.Of(bc.body))); err == nil && t >= 0 {
				an.total = t
			}
		}
		if b.Type == "searchset" && bc.matchWithheld && !a.opt.NotFoundForDenied {
			// Withheld includes are not announced: whether one was
			// there tells whether the resource referred to exists.
			// With NotFoundForDenied nothing is announced.
			an.extra = withheldEntry
		}
	case d.filtered && b.Total.Len() > 0:
		// Nothing dropped here, but "total" counts every page, and
		// other pages hold what the client may not see.
		an.out = b.WithoutTotal()
	}
	return an, nil
}

// isRead reports whether d decides a read of one resource: read, vread,
// instance history.
func isRead(d *decision) bool {
	switch d.Interaction {
	case scope.InteractionRead, scope.InteractionVRead, scope.InteractionHistoryInstance:
		return true
	}
	return false
}

// isSearch reports whether d decides a search or a type or system
// history, which answer with a Bundle.
func isSearch(d *decision) bool {
	switch d.Interaction {
	case scope.InteractionSearchType, scope.InteractionSearchSystem, scope.InteractionHistoryType,
		scope.InteractionHistorySystem, scope.InteractionHistoryInstance:
		return true
	}
	return false
}

// permitted reports whether the grant lets the client see resource, of
// type typ, in the answer to a request decided as d (see allowsAt, the one
// rule): the type asked for, or any type for an operation or as an
// included resource, checked with the interaction's letter for the type
// asked for and as a read otherwise.
//
// at, when not nil, is the entry of the response resource is in, which
// may have been read already as the response was scanned.
func (a *Engine) permitted(gr *smartctx.Grant, d *decision, typ string, resource []byte, included bool, at *entryAt) bool {
	if !d.restricted() {
		return true
	}
	if d.own || d.orOwn {
		// The fhirUser's own resource, that id, and nothing it holds.
		_, id, err := compartment.TypeAndID(resource)
		if ok := err == nil && typ == d.Type && id == d.ID && !mayContain(resource); ok || d.own {
			return ok
		}
	}
	if typ != d.Type && d.Type != "" && d.Type != "*" && d.Operation == "" && !(included && d.Includes) {
		return false
	}
	letter := d.permission()
	if letter == 0 || included || typ != d.Type && d.Type != "" && d.Type != "*" {
		letter = scope.Read
	}
	switch a.allowsAt(gr, d.pol, d.Context, d.Patient, typ, resource, letter, 0, at) {
	case allowed:
		return true
	case refusedByPolicy:
		d.byPolicy = true
	}
	return false
}

// carriesResource reports whether body is a FHIR JSON resource other than
// an OperationOutcome.
func carriesResource(body []byte) bool {
	res, err := fhirjson.Scan(body)
	switch {
	case errors.Is(err, fhirjson.ErrUnreadable):
		return true // JSON a client could read two ways: check it, and refuse
	case err != nil:
		return false // not JSON: an error page
	}
	return res.Type != "" && res.Type != "OperationOutcome"
}

// checkStored protects an update, patch or delete by id under a restricted
// decision: the body of an update was checked, but the resource it
// replaces, or the one a patch or delete changes, is only known to the
// handler. So the handler is asked for it first, with a GET of the same
// URL; the write goes ahead only if what it answers is permitted (or it
// answers 404 or 410: an update creates, a delete finds nothing), and
// then with If-Match set to the ETag read, when the request has none, so
// that the server refuses the write if the resource changed in between.
// Without it a patient app could overwrite or delete another patient's
// Observation by id in front of a FHIR server that knows nothing of
// SMART.
func (a *Engine) checkStored(r *http.Request, next http.Handler, gr *smartctx.Grant, d *decision) error {
	switch d.Interaction {
	case scope.InteractionBatch, scope.InteractionTransaction:
		// Each write entry the same way; If-Match cannot be added to an
		// entry without rewriting the bundle. Entries that write the
		// same resource under equal decisions (99 DELETEs of one id) are
		// checked by one read. The reads are bounded in number
		// (MaxStoredReads) and in bytes in all (MaxStoredBytes), and
		// share one buffer.
		sr := &storedReads{left: a.opt.MaxStoredBytes}
		type check struct {
			path string
			d    *decision
		}
		var done []check
	entries:
		for _, e := range d.entries() {
			id, ok := e.storedTarget()
			if !ok || !e.restricted() {
				continue
			}
			path := a.basePath + "/" + e.Type + "/" + id
			for _, c := range done {
				if c.path == path && reflect.DeepEqual(c.d, e) {
					continue entries
				}
			}
			if len(done) == a.opt.MaxStoredReads {
				return &Error{Status: http.StatusRequestEntityTooLarge,
					Description: fmt.Sprintf("a bundle may write at most %d resources by id under these scopes", a.opt.MaxStoredReads)}
			}
			done = append(done, check{path, e})
			if _, err := a.readStored(r, next, gr, e, path, sr); err != nil {
				return err
			}
		}
		return nil
	}
	id, ok := d.storedTarget()
	if !ok {
		return nil
	}
	etag, err := a.storedPermitted(r, next, gr, d, a.basePath+"/"+d.Type+"/"+id)
	if err != nil {
		return err
	}
	if byID := id == d.ID && d.Interaction != scope.InteractionOperation; byID && etag != "" && r.Header.Get("If-Match") == "" {
		r.Header.Set("If-Match", etag)
	}
	return nil
}

// storedPermitted asks next for the resource at path (escaped, under the
// base) with a GET and checks it against d. It returns the ETag read.
func (a *Engine) storedPermitted(r *http.Request, next http.Handler, gr *smartctx.Grant, d *decision, path string) (string, error) {
	return a.readStored(r, next, gr, d, path, nil)
}

// storedReads is what the reads of stored resources for one request
// share: the bytes they may still read (MaxStoredBytes in all), and one
// buffer, since none keeps what it read.
type storedReads struct {
	left int64
	buf  []byte
}

// readStored is storedPermitted, the read one of those sr bounds (nil:
// the only one of its request).
func (a *Engine) readStored(r *http.Request, next http.Handler, gr *smartctx.Grant, d *decision, path string, sr *storedReads) (string, error) {
	if sr == nil {
		sr = &storedReads{left: a.opt.MaxStoredBytes}
	}
	// The handler sees the GET as what it is, a read of the resource:
	// a handler that acts on the decision must not do the write here.
	read := decision{Request: d.Request, Limits: d.Limits}
	read.Interaction, read.VersionID, read.Query, read.Rewritten = scope.InteractionRead, "", "", false
	pre := r.Clone(context.WithValue(smartctx.WithDecision(r.Context(), read.public()), guardReadKey{}, true))
	pre.Method = http.MethodGet
	u := *r.URL
	u.RawQuery, u.Path, u.RawPath = "", "", ""
	pu, err := url.Parse(path)
	if err != nil {
		return "", &Error{Status: http.StatusBadGateway, Description: "the stored resource cannot be checked", Err: err}
	}
	u.Path, u.RawPath = pu.Path, pu.RawPath
	pre.URL = &u
	pre.RequestURI = u.RequestURI()
	pre.Body, pre.ContentLength = http.NoBody, 0
	for _, h := range [...]string{"If-Match", "If-None-Match", "If-Modified-Since", "If-None-Exist", "Content-Type", "Content-Length", "Accept-Encoding", "Prefer"} {
		pre.Header.Del(h)
	}
	pre.Header.Set("Accept", "application/fhir+json")
	h := http.Header{}
	limit := min(a.opt.MaxResponseBytes, sr.left)
	gw := &guardWriter{w: headerOnly(h), max: limit, buf: sr.buf[:0]}
	next.ServeHTTP(gw, pre)
	sr.buf = gw.buf[:0]
	if gw.overflow && limit < a.opt.MaxResponseBytes {
		return "", &Error{Status: http.StatusRequestEntityTooLarge,
			Description: fmt.Sprintf("the resources a request writes by id may hold at most %d bytes in all under these scopes", a.opt.MaxStoredBytes)}
	}
	sr.left -= int64(len(gw.buf))
	status := gw.status
	if status == 0 {
		status = http.StatusOK
	}
	unchecked := &Error{Status: http.StatusBadGateway, Description: "the stored resource cannot be checked", Err: errResponseUnchecked}
	switch {
	case (status == http.StatusNotFound || status == http.StatusGone) && a.opt.NotFoundForDenied:
		// Answered exactly as a refused resource is: the write does
		// not go ahead (an update does not create), so that a client
		// cannot tell a missing resource from another patient's.
		return "", a.denied(d)
	case status == http.StatusNotFound || status == http.StatusGone:
		return "", nil
	case gw.overflow || status < 200 || status >= 300:
		return "", unchecked
	}
	if enc := h.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return "", unchecked
	}
	body := gw.buf
	res, err := fhirjson.Scan(body)
	if err != nil || res.Type == "" {
		return "", unchecked
	}
	if !a.permitted(gr, d, res.Type, body, false, nil) {
		return "", a.denied(d)
	}
	return h.Get("ETag"), nil
}

type guardReadKey struct{}

// IsGuardRead reports whether r is the Guard's own read of a stored
// resource: before an update, patch or delete by id under a restricted
// decision, the Guard asks the handler for the resource with a GET and
// checks it. Framework adapters (middleware/gin, middleware/echo) route
// such a request through their router to the read handler, without
// protecting it again: what it answers goes to the Guard, never to the
// client. A client cannot make a request for which it reports true.
func IsGuardRead(r *http.Request) bool {
	v, _ := r.Context().Value(guardReadKey{}).(bool)
	return v
}

// headerOnly is a ResponseWriter that keeps headers in h and nothing else;
// guardWriter holds the status and body.
type headerOnly http.Header

func (h headerOnly) Header() http.Header         { return http.Header(h) }
func (h headerOnly) Write(p []byte) (int, error) { return len(p), nil }
func (h headerOnly) WriteHeader(int)             {}
