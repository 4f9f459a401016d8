package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/ctxkey"
	"github.com/smartguard/smartguard/internal/fhirrest"
	"github.com/smartguard/smartguard/internal/search"
	"github.com/smartguard/smartguard/scope"
)

// NonCompartmentPolicy says what patient/ scopes allow on resource types
// that can belong to no patient (see middleware.NonCompartmentPolicy).
type NonCompartmentPolicy uint8

// The NonCompartmentPolicy values, as middleware defines them.
const (
	NonCompartmentNamed NonCompartmentPolicy = iota
	NonCompartmentWildcard
	NonCompartmentDeny
)

// Operation declares what a FHIR operation needs (see
// middleware.Operation).
type Operation struct {
	Permission scope.Permission
	AllTypes   bool
}

// Request is a classified FHIR REST request, as handed to a Policy: the
// request, the scope context it is being allowed under, and the
// submitted resource of a create or update (nil otherwise).
type Request struct {
	smartctx.Request
	// Context is the scope context the request is being allowed under.
	Context scope.Context
	// Resource is the submitted resource of a create or update, or nil.
	Resource []byte

	patient string // the patient whose compartment limits Context, or ""
}

// Policy is the application's own rule, applied after the scopes allowed
// a request (see middleware.Policy). An *Error it returns is the answer;
// another error refuses with 403.
type Policy func(ctx context.Context, g *smartctx.Grant, req *Request) error

// The RFC 6750 error codes the engine answers with.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInsufficientScope = "insufficient_scope"
)

// Error is a refusal: the status, the RFC 6750 code ("" for none), a
// description safe for the client, the scope that would allow the
// request, and the cause. The middleware turns it into its own Error.
type Error struct {
	Status      int
	Code        string
	Description string
	Scope       string
	// By says who refused: RefusedByScope, RefusedByPolicy, or "" (a
	// malformed request, a bound).
	By string
	// Rule names the access policy's rules that applied, for a refusal
	// by the policy.
	Rule string
	Err  error
}

// Error returns the code, the description and the cause.
func (e *Error) Error() string {
	msg := e.Description
	if e.Code != "" {
		msg = e.Code + ": " + msg
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Observer is told what the engine learns of the requests it serves, for
// audit and metrics. Its methods are called only when Options.Observer is
// set; they must be safe for concurrent use.
type Observer interface {
	// Classified is called with a request as classified, before it is
	// decided (a refusal is about it).
	Classified(ctx context.Context, req *smartctx.Request)
	// Decided is called with the decision the request is served under.
	Decided(ctx context.Context, req *smartctx.Request, lim *smartctx.Limits)
	// Guarded is called after the response guard checked an answer of
	// n bytes and withheld entries of it, refused being the entries of
	// a batch refused before the handler.
	Guarded(ctx context.Context, n, withheld, refused int)
}

// Options are what one Engine enforces, for one FHIR base. The zero value
// of each is the secure one, except the bounds, which must be set.
type Options struct {
	// BasePath is the base's path, escaped, without a trailing "/".
	BasePath string
	// BaseURL is the base's absolute URL (the audience), without a
	// trailing "/"; references under it are taken as local.
	BaseURL string

	NonCompartment             NonCompartmentPolicy
	Operations                 map[string]Operation
	RefuseIncludes             bool
	RefuseBroadSearches        bool
	NotFoundForDenied          bool
	SkipPatientUserCompartment bool
	SkipResponseGuard          bool
	Policy                     Policy
	// AccessPolicy is the declarative policy intersected with user/ and
	// system/ scopes; check it with CheckPolicy first.
	AccessPolicy *AccessPolicy

	MaxBodyBytes     int64
	MaxResponseBytes int64
	MaxStoredBytes   int64
	MaxBundleEntries int
	MaxStoredReads   int

	// OnError answers a refused request; err is an *Error.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
	// Outcome renders e as the OperationOutcome of a refused batch entry.
	Outcome func(e *Error) []byte
	// Observer, when set, is told of each request (audit, metrics).
	Observer Observer

	// Export decides Bulk Data kick-offs and serves the job endpoints
	// (export.go).
	Export ExportOptions
}

// Engine decides, for each FHIR REST request under one base, whether the
// SMART grant allows it, and guards the response. The rules are in the
// package documentation.
type Engine struct {
	opt      Options
	basePath string // escaped, without a trailing "/"
	baseURL  string // the audience served here, without a trailing "/"
	ops      map[string]Operation

	pol *policy // the compiled AccessPolicy, or nil

	mu      sync.Mutex
	queries map[string]*search.Query // compiled granular constraints

	counts withheldCounts // Bulk Data lines withheld, per job
}

// CheckPolicy reports what makes p unusable on the FHIR base base (the
// audience), naming the rule or relationship at fault.
func CheckPolicy(p *AccessPolicy, base string) error {
	_, err := compilePolicy(p, strings.TrimSuffix(base, "/"))
	return err
}

// New returns an Engine enforcing opt.
func New(opt Options) *Engine {
	a := &Engine{opt: opt, basePath: opt.BasePath, baseURL: strings.TrimSuffix(opt.BaseURL, "/"), ops: opt.Operations}
	if opt.AccessPolicy != nil {
		var err error
		if a.pol, err = compilePolicy(opt.AccessPolicy, a.baseURL); err != nil {
			// CheckPolicy was not asked: a policy that grants nothing.
			a.pol = &policy{now: time.Now, ttl: DefaultPolicyCacheTTL, size: 1, maxQuery: 1, maxLookup: 1}
		}
	}
	return a
}

// BasePath returns the escaped path of the base the Engine serves.
func (a *Engine) BasePath() string { return a.basePath }

// Decide decides r, a request under the Engine's base, for grant g,
// without serving it: the handler's copy of the decision, or an *Error.
// For a batch with refused entries it returns the first refusal, where
// Serve forwards the other entries and answers each refused one in its
// place.
func (a *Engine) Decide(ctx context.Context, g *smartctx.Grant, r *http.Request) (*smartctx.Decision, error) {
	d, err := a.decideHTTP(a.withLookup(ctx, r, nil), g, r)
	if err != nil {
		return nil, err
	}
	if refused := d.refused(); len(refused) > 0 {
		return nil, entryError(refused[0].index, refused[0].err)
	}
	return d.public(), nil
}

// maxQueries bounds the compiled constraints an Engine keeps.
const maxQueries = 1024

// matchConstraint reports whether resource, of type typ, matches the
// granular constraint c: the FHIR search c would run, evaluated in memory
// (internal/search) with this base. What is not evaluated matches
// nothing.
func (a *Engine) matchConstraint(typ string, resource []byte, c scope.Constraint) bool {
	q := a.query(typ, c)
	if q == nil {
		return false
	}
	m, err := q.Match(resource)
	return err == nil && m
}

// query returns the search constraint c runs on resources of type typ,
// compiled with this base, or nil when it is not evaluated.
func (a *Engine) query(typ string, c scope.Constraint) *search.Query {
	if len(c) == 0 {
		return nil
	}
	var buf [256]byte
	key := queryKey(buf[:0], typ, c)
	a.mu.Lock()
	q, ok := a.queries[string(key)]
	a.mu.Unlock()
	if ok {
		return q
	}
	var err error
	if q, err = search.Compile(typ, c, search.Options{Base: a.baseURL}); err != nil {
		q = nil // remembered: not evaluated
	}
	// "ap" dates are measured from when the search is compiled.
	if !strings.Contains(c.String(), "=ap") {
		a.mu.Lock()
		if a.queries == nil {
			a.queries = map[string]*search.Query{}
		}
		if len(a.queries) < maxQueries {
			a.queries[string(key)] = q
		}
		a.mu.Unlock()
	}
	return q
}

// queryKey appends to b the key of typ and c among the compiled queries:
// each string with its length before it, so that no two differ only in
// where one string ends.
func queryKey(b []byte, typ string, c scope.Constraint) []byte {
	b = appendString(b, typ)
	for _, p := range c {
		b = appendString(appendString(b, p.Name), p.Value)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// Serve decides r for grant g and serves it with next, the response
// guarded when the decision leaves something to enforce. With addGrant,
// g goes on the request context too (one copy of the request for both).
func (a *Engine) Serve(w http.ResponseWriter, r *http.Request, g *smartctx.Grant, addGrant bool, next http.Handler) {
	if a.opt.Export.Enabled {
		if rel, ok := fhirrest.Rel(a.basePath, r.URL.EscapedPath()); ok && a.serveExportPath(w, r, g, addGrant, next, rel) {
			return
		}
	}
	d, err := a.decideHTTP(a.withLookup(r.Context(), r, next), g, r)
	if err != nil {
		if addGrant { // an func(http.ResponseWriter, *http.Request, error) may log who was refused
			r = r.WithContext(smartctx.NewContext(r.Context(), g))
		}
		a.opt.OnError(w, r, err)
		return
	}
	// The handler gets its own immutable copy; the guard enforces d.
	ctx := d.handlerContext(r.Context(), g, addGrant)
	r = r.WithContext(ctx)
	if a.opt.Observer != nil {
		a.opt.Observer.Decided(ctx, &d.Request, &d.Limits)
	}
	if d.Rewritten {
		u := *r.URL
		u.RawQuery = d.Query
		r.URL = &u
		r.RequestURI = u.RequestURI()
	}
	if d.formRewritten {
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader(d.Form)), int64(len(d.Form))
	}
	if d.rare != nil && d.rare.export != nil {
		a.serveKickoff(w, r, g, d, next)
		return
	}
	if len(d.refused()) > 0 && len(d.entries()) == 0 {
		// Every entry of the batch refused: nothing to forward.
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(a.batchResponse(nil, d.refused(), d.entryCount()))
		return
	}
	if d.restricted() && !a.opt.SkipResponseGuard {
		// The guard changes headers (If-Match, Accept-Encoding): on its
		// own copy, without hop-by-hop names that would drop them.
		r.Header = ownHeader(r.Header)
		guardConnection(r.Header)
		if err := jsonOnly(r); err != nil {
			a.opt.OnError(w, r, err)
			return
		}
		if err := a.checkStored(r, next, g, d); err != nil {
			a.opt.OnError(w, r, err)
			return
		}
		a.guard(w, r, next, g, d)
		return
	}
	next.ServeHTTP(w, r)
}

// ownHeader returns a copy of h whose names can be set and deleted
// without changing h. The values are h's own slices, each capped at its
// length, so that appending to one (Header.Add) copies it first: unlike
// Header.Clone, it copies no value, which cost a second allocation and
// pass on every guarded request. Neither the guard nor net/http changes
// a value in place.
func ownHeader(h http.Header) http.Header {
	h2 := make(http.Header, len(h)+1) // room for Accept
	for k, v := range h {
		h2[k] = v[:len(v):len(v)]
	}
	return h2
}

// guardedHeaders are request headers the response guard sets or relies
// on. A client's Connection header naming one would have a proxy behind
// the guard (httputil.ReverseProxy) drop it as hop-by-hop.
var guardedHeaders = [...]string{"If-Match", "If-None-Match", "If-Modified-Since", "If-None-Exist",
	"Accept", "Accept-Encoding", "Content-Type", "Content-Length", "Prefer", "Authorization"}

// guardConnection removes from h's Connection header the names of the
// headers the guard relies on.
func guardConnection(h http.Header) {
	vals := h.Values("Connection")
	if len(vals) == 0 {
		return
	}
	var keep []string
	for _, v := range vals {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			guarded := false
			for _, g := range guardedHeaders {
				if strings.EqualFold(tok, g) {
					guarded = true
					break
				}
			}
			if tok != "" && !guarded {
				keep = append(keep, tok)
			}
		}
	}
	h.Del("Connection")
	if len(keep) > 0 {
		h.Set("Connection", strings.Join(keep, ", "))
	}
}

// decision is the Engine's own record of what it decided; the
// handler sees an immutable copy (smartctx.Decision).
type decision struct {
	smartctx.Request
	smartctx.Limits

	// bodyID is the id in the body of a create or update.
	bodyID string
	// opPerm is what an operation was declared to need.
	opPerm scope.Permission
	// own: the user's own fhirUser resource, read by the fhirUser scope
	// alone: that resource may leave, nothing else.
	own bool
	// orOwn: a read of the user's own fhirUser resource decided by the
	// scopes with a limit (a patient, a constraint): that resource may
	// leave as under own, or whatever the limit lets leave.
	orOwn bool
	// filtered: the search was forwarded without its constraints, for
	// the guard to filter; "total" would count what the client may not
	// see.
	filtered bool
	// resultParams: whether the search's parameter names hold _elements
	// or _summary (resultParamsUnread when no search was read).
	resultParams uint8
	// formRewritten: Form changed (_elements or _summary moved to
	// Query); the handler gets it as the body.
	formRewritten bool
	// pol: the access policy's view the answer is checked against too
	// (nil: none); byPolicy: the guard refused a resource for it.
	byPolicy bool
	pol      *policyView

	// rare is what only a batch, a bundle entry or a Bulk Data kick-off
	// decides (nil for any other request): apart, for a smaller
	// decision.
	rare *rareDecision

	// ctx is the request context the handler gets (handlerContext),
	// held here so that one allocation serves both.
	ctx handlerCtx
}

// rareDecision is the part of a decision that only a batch, a bundle
// entry or a Bulk Data kick-off has.
type rareDecision struct {
	// entries decide a batch's or transaction's forwarded entries, in
	// order (non-nil, maybe empty, for a batch or transaction).
	entries []*decision

	// entry: for a bundle entry narrowed, the pieces of the entry to
	// forward in its place (request.url replaced); decideBundle takes it.
	entry [][]byte

	// For a batch: its entries' refusals, in order of index; the number
	// of entries; and, when some were refused, the Bundle forwarded
	// without them (entries decide the forwarded ones, in order).
	refused    []refusal
	entryCount int
	forward    []byte

	// export is a Bulk Data kick-off's plan (export.go).
	export *exportPlan
}

// more returns d.rare, made when d has none, to set a field of it.
func (d *decision) more() *rareDecision {
	if d.rare == nil {
		d.rare = new(rareDecision)
	}
	return d.rare
}

// entries returns the decisions of a batch's or transaction's forwarded
// entries, in order; nil for any other request.
func (d *decision) entries() []*decision {
	if d.rare == nil {
		return nil
	}
	return d.rare.entries
}

// refused returns the refusals of a batch's entries, in order of index.
func (d *decision) refused() []refusal {
	if d.rare == nil {
		return nil
	}
	return d.rare.refused
}

// entryCount returns the number of a batch's entries.
func (d *decision) entryCount() int {
	if d.rare == nil {
		return 0
	}
	return d.rare.entryCount
}

// handlerCtx is a request context carrying the handler's decision and,
// when grant is set, the grant, as smartctx.WithDecision over
// smartctx.NewContext would: one value where those make two.
//
// The handler's decision is a public copy of d, made the first time it
// is asked for (most handlers never ask) and the same copy after that.
// It is made from d's Request and Limits, which do not change once Serve
// has made the handler's context.
type handlerCtx struct {
	context.Context
	grant *smartctx.Grant
	d     *decision
	pub   atomic.Pointer[smartctx.Decision]
}

// Value answers the keys of smartctx's Grant and Decision, and asks the
// parent context for any other.
func (c *handlerCtx) Value(key any) any {
	switch key.(type) {
	case ctxkey.Decision:
		return c.decision()
	case ctxkey.Grant:
		if c.grant != nil {
			return c.grant
		}
	}
	return c.Context.Value(key)
}

// String names the parent and what c carries, not its values, as
// context.WithValue's contexts do.
func (c *handlerCtx) String() string {
	return fmt.Sprint(c.Context) + ".WithValue(smartguard grant and decision)"
}

// decision returns the handler's copy of c.d, made on the first call.
// Calls from several goroutines get the same copy.
func (c *handlerCtx) decision() *smartctx.Decision {
	if p := c.pub.Load(); p != nil {
		return p
	}
	c.pub.CompareAndSwap(nil, c.d.public()) // a goroutine that loses takes the winner's
	return c.pub.Load()
}

// handlerContext returns parent carrying d's public copy and, with
// addGrant, g: the context of the request the handler gets. After it,
// d's Request and Limits must not change (Serve calls it when the
// decision is final).
func (d *decision) handlerContext(parent context.Context, g *smartctx.Grant, addGrant bool) context.Context {
	d.ctx.Context, d.ctx.d = parent, d
	if addGrant {
		d.ctx.grant = g
	}
	return &d.ctx
}

// permission is the letter the resources of d's answer are checked with.
func (d *decision) permission() scope.Permission {
	if d.opPerm != 0 {
		return d.opPerm
	}
	return d.Interaction.Permission()
}

// storedTarget returns the id of the stored resource d writes or works
// on, when the guard must check it first: an update, patch or delete by
// id; a conditional update whose body names an id (R4 servers may create
// the resource with that id when the search matches nothing, replacing
// whatever has it); an instance-level operation.
func (d *decision) storedTarget() (id string, ok bool) {
	switch d.Interaction {
	case scope.InteractionUpdate:
		if d.Conditional {
			return d.bodyID, d.bodyID != ""
		}
		return d.ID, d.ID != ""
	case scope.InteractionPatch, scope.InteractionDelete:
		return d.ID, d.ID != "" && !d.Conditional
	case scope.InteractionOperation:
		// Any instance operation: what it answers ($validate's
		// OperationOutcome, say) may tell that the resource exists.
		// The patient's own Patient was checked by id already.
		return d.ID, d.ID != "" && !(d.Type == "Patient" && d.ID == d.Patient)
	}
	return "", false
}

// public returns the handler's copy of d.
func (d *decision) public() *smartctx.Decision {
	return smartctx.NewDecision(d.Request, d.Limits, d.publicEntries()...)
}

// publicEntries returns the public copies of d's entries, or nil.
func (d *decision) publicEntries() []*smartctx.Decision {
	var entries []*smartctx.Decision
	if d.entries() != nil {
		entries = make([]*smartctx.Decision, len(d.entries()))
		for i, e := range d.entries() {
			entries[i] = e.public()
		}
	}
	return entries
}

// limitingPatient returns the patient whose compartment limits d, or for
// a bundle the first of its entries': one grant, one patient.
func (d *decision) limitingPatient() string {
	if d.Patient != "" {
		return d.Patient
	}
	for _, e := range d.entries() {
		if e.Patient != "" {
			return e.Patient
		}
	}
	return ""
}

// restricted reports whether d leaves something to enforce; see
// smartctx.Decision.Restricted.
func (d *decision) restricted() bool {
	if d == nil {
		return true
	}
	if d.Patient != "" || d.Constraints != nil || d.Includes || d.own || len(d.refused()) > 0 || d.pol != nil {
		return true
	}
	for _, e := range d.entries() {
		if e.restricted() {
			return true
		}
	}
	return false
}

func errNotFHIR() *Error {
	return &Error{Status: http.StatusNotFound, Description: "not a FHIR endpoint of this server"}
}

func (a *Engine) decideHTTP(ctx context.Context, g *smartctx.Grant, r *http.Request) (*decision, error) {
	if hasMethodOverride(r.Header) {
		// Some servers and frameworks run the method named here
		// instead of the request's: refuse rather than decide on the
		// wrong one.
		return nil, errMethodOverride()
	}
	if err := noMethodParam(r.URL.RawQuery); err != nil {
		return nil, err
	}
	rel, ok := fhirrest.Rel(a.basePath, r.URL.EscapedPath())
	if !ok {
		return nil, errNotFHIR()
	}
	ifNoneExist := ""
	if r.Method == http.MethodPost {
		// Only a create reads it (a conditional create): no other
		// request looks the header up.
		ifNoneExist = headerGet(r.Header, "If-None-Exist")
	}
	fr, err := fhirrest.Classify(r.Method, rel, r.URL.RawQuery, ifNoneExist)
	if err != nil {
		return nil, classifyError(err)
	}
	req := Request{Request: fr}
	if a.opt.Observer != nil {
		classified := fr // a copy, so that fr itself stays on the stack
		a.opt.Observer.Classified(ctx, &classified)
	}
	if a.isExportKickoff(&fr) {
		return a.decideExport(ctx, g, r, &req)
	}
	if fr.Conditional && fr.Interaction == scope.InteractionCreate {
		req.Query = r.URL.RawQuery // the If-None-Exist search is checked apart
	}
	body, err := a.requestBody(r, &req)
	if err != nil {
		return nil, err
	}
	if req.Interaction == scope.InteractionBatch {
		d, err := a.decideBundle(ctx, g, body)
		if err == nil && d.rare != nil && d.rare.forward != nil {
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(d.rare.forward)), int64(len(d.rare.forward))
		}
		return d, err
	}
	req.Resource = body
	ifNoneExist = ""
	if fr.Conditional && fr.Interaction == scope.InteractionCreate {
		ifNoneExist = fr.Query
	}
	return a.decide(ctx, g, &req, ifNoneExist, false)
}

// requestBody reads the body of r when req's decision needs it (a batch,
// a write, a POST _search) or when it is a form a method-override
// middleware could read, refusing what no FHIR interaction sends: a
// multipart body, a "_method" form parameter, a POST _search whose body
// is not a form. A POST _search's form becomes req.Form.
func (a *Engine) requestBody(r *http.Request, req *Request) ([]byte, error) {
	var body []byte
	var err error
	switch {
	case req.Interaction == scope.InteractionBatch,
		req.Interaction == scope.InteractionCreate,
		req.Interaction == scope.InteractionUpdate,
		req.Interaction == scope.InteractionPatch,
		(req.Interaction == scope.InteractionSearchType || req.Interaction == scope.InteractionSearchSystem) && r.Method == http.MethodPost:
		if body, err = a.readBody(r); err != nil {
			return nil, err
		}
	}
	if mediaType(headerGet(r.Header, "Content-Type")) == "multipart/form-data" {
		// No FHIR interaction sends one, and method-override middleware
		// reads "_method" from its parts as from a form.
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Description: "a multipart/form-data body is not a FHIR request"}
	}
	if r.Method == http.MethodPost && isForm(headerGet(r.Header, "Content-Type")) {
		// Method-override middleware (gorilla's HTTPMethodOverrideHandler,
		// echo's MethodOverride, Express, Rails) reads "_method" from the
		// form body of any POST: a create would run as a delete.
		if body == nil {
			if body, err = a.readBody(r); err != nil {
				return nil, err
			}
		}
		if err := noMethodParam(string(body)); err != nil {
			return nil, err
		}
	}
	if r.Method == http.MethodPost && (req.Interaction == scope.InteractionSearchType || req.Interaction == scope.InteractionSearchSystem) {
		if ct := headerGet(r.Header, "Content-Type"); len(body) > 0 && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			return nil, badRequest("a POST _search needs an application/x-www-form-urlencoded body")
		}
		req.Form = string(body)
		if !validForm(req.Form) {
			return nil, badRequest("malformed form body")
		}
	}
	return body, nil
}

// noMethodParam refuses a "_method" query parameter, which some frameworks
// take as the method to run.
func noMethodParam(q string) error {
	if strings.Contains(q, "method") || strings.IndexByte(q, '%') >= 0 {
		for p := range fhirrest.RawParams(q) {
			if p.Name == "_method" {
				return badRequest("_method is not allowed")
			}
		}
	}
	return nil
}

// isForm reports whether ct is a form's media type, which frameworks
// parse for "_method".
func isForm(ct string) bool { return mediaType(ct) == "application/x-www-form-urlencoded" }

// mediaType returns the media type of a Content-Type, in lower case and
// without parameters.
func mediaType(ct string) string {
	ct, _, _ = strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(ct))
}

var methodOverrides = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// hasMethodOverride reports whether h has a method override header,
// its name in any case: a header set on the map directly, by a framework
// or an adapter, need not be canonical. It reads the names once, which
// also costs less than hashing each of the three for a lookup.
func hasMethodOverride(h http.Header) bool {
	for k := range h {
		if len(k) < len("X-Http-Method") || k[0]|0x20 != 'x' || k[1] != '-' {
			continue
		}
		for _, o := range methodOverrides {
			if strings.EqualFold(k, o) {
				return true
			}
		}
	}
	return false
}

func errMethodOverride() error { return badRequest("method override headers are not allowed") }

func validForm(f string) bool {
	_, err := url.ParseQuery(f)
	return err == nil
}

// readBody reads r's body, at most MaxBodyBytes of it (413 past that),
// into buffers that grow with the bytes that arrive: the Content-Length
// a client announces bounds them, it never sizes them before half of it
// has come, so that a request announcing 10 MB and sending 1 KB costs a
// few KB. A body shorter or longer than its Content-Length is answered
// 400.
func (a *Engine) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > a.opt.MaxBodyBytes {
		r.Body.Close()
		r.Body = http.NoBody
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Description: "request body too large"}
	}
	var body []byte
	var err error
	if r.ContentLength > 0 {
		body, err = readAnnounced(r.Body, r.ContentLength)
	} else {
		// io.ReadAll grows its buffers as bytes arrive; one byte past
		// the bound tells a body too large.
		body, err = io.ReadAll(io.LimitReader(r.Body, a.opt.MaxBodyBytes+1))
	}
	r.Body.Close()
	if err != nil {
		r.Body = http.NoBody
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: "request body could not be read", Err: err}
	}
	if int64(len(body)) > a.opt.MaxBodyBytes {
		r.Body = http.NoBody
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Description: "request body too large"}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return body, nil
}

// readAnnounced reads a body of n bytes, as announced: into pieces that
// double as bytes arrive until half of it has come, then, its length now
// likely, into one buffer of n bytes. It allocates at most 4 times what
// arrives, and 1.5 times a body of n bytes. A body shorter or longer than
// n is an error.
func readAnnounced(rd io.Reader, n int64) ([]byte, error) {
	half := (n + 1) / 2
	var pieces [][]byte
	got := int64(0)
	for size := int64(512); got < half; size *= 2 {
		p := make([]byte, min(size, half-got))
		k, err := io.ReadFull(rd, p)
		got += int64(k)
		pieces = append(pieces, p[:k])
		if err != nil {
			return nil, shortBody(err)
		}
	}
	body := make([]byte, n)
	at := 0
	for _, p := range pieces {
		at += copy(body[at:], p)
	}
	if _, err := io.ReadFull(rd, body[at:]); err != nil {
		return nil, shortBody(err)
	}
	var probe [1]byte
	for range 100 { // a Read may return nothing, but not forever
		k, err := rd.Read(probe[:])
		switch {
		case k > 0:
			return nil, errors.New("request body longer than its Content-Length")
		case err == io.EOF:
			return body, nil
		case err != nil:
			return nil, err
		}
	}
	return nil, io.ErrNoProgress
}

// shortBody is the error for a body that ended (err, from io.ReadFull)
// before its Content-Length.
func shortBody(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func classifyError(err error) error {
	var e *fhirrest.Error
	if errors.As(err, &e) {
		switch e.Status {
		case http.StatusBadRequest:
			return &Error{Status: e.Status, Code: CodeInvalidRequest, Description: e.Msg, Err: err}
		default:
			return &Error{Status: e.Status, Description: e.Msg, Err: err}
		}
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: "malformed FHIR request", Err: err}
}

func badRequest(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: msg}
}
