package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/fhirjson"
	"github.com/smartguard/smartguard/internal/fhirrest"
	"github.com/smartguard/smartguard/internal/search"
	"github.com/smartguard/smartguard/scope"
)

// The guard's own Bulk Data endpoints, under the base.
const (
	pollPrefix = "$export-poll/"
	filePrefix = "$export-file/"
)

// DefaultMaxLineBytes is the default bound of one NDJSON line the guard
// checks.
const DefaultMaxLineBytes = 16 << 20

type exportForwardKey struct{}

// IsExportForward reports whether r is the Guard forwarding a Bulk Data
// status, cancel or file request to the handler, at the path the handler
// gave (the kick-off's Content-Location, a manifest's file URL), after it
// checked the job's binding. A handler serves its job paths only to such
// requests; a client cannot make a request for which it reports true.
func IsExportForward(r *http.Request) bool {
	v, _ := r.Context().Value(exportForwardKey{}).(bool)
	return v
}

// serveExportPath serves the guard's own job endpoints, rel being the
// request's path relative to the base; it reports false for any other
// path.
func (a *Engine) serveExportPath(w http.ResponseWriter, r *http.Request, g *smartctx.Grant, addGrant bool, next http.Handler, rel string) bool {
	var kind byte
	var tok string
	switch {
	case strings.HasPrefix(rel, pollPrefix):
		kind, tok = tokenPoll, rel[len(pollPrefix):]
	case strings.HasPrefix(rel, filePrefix):
		kind, tok = tokenFile, rel[len(filePrefix):]
	default:
		return false
	}
	if addGrant {
		r = r.WithContext(smartctx.NewContext(r.Context(), g))
	}
	fail := func(err error) { a.opt.OnError(w, r, err) }
	if hasMethodOverride(r.Header) {
		fail(errMethodOverride())
		return true
	}
	if r.URL.RawQuery != "" {
		fail(errNoJob())
		return true
	}
	switch {
	case kind == tokenPoll && r.Method != http.MethodGet && r.Method != http.MethodDelete,
		kind == tokenFile && r.Method != http.MethodGet && r.Method != http.MethodHead:
		fail(&Error{Status: http.StatusMethodNotAllowed, Description: "method not allowed for this Bulk Data endpoint"})
		return true
	}
	ctx := a.withLookup(r.Context(), r, next)
	t, pol, err := a.jobFor(ctx, g, tok, kind, r.Method)
	if err != nil {
		fail(err)
		return true
	}
	if t.kind == tokenReport {
		a.serveReport(w, r, t)
		return true
	}
	fr, err := a.forward(r, t)
	if err != nil {
		fail(err)
		return true
	}
	if a.opt.Observer != nil {
		if d, ok := smartctx.DecisionFromContext(fr.Context()); ok {
			req, lim := d.Request(), d.Limits()
			a.opt.Observer.Classified(r.Context(), &req)
			a.opt.Observer.Decided(r.Context(), &req, &lim)
		}
	}
	if kind == tokenPoll {
		a.servePoll(w, r, fr, g, t, pol, next)
	} else {
		a.serveFile(w, r, fr, g, t, pol, next)
	}
	return true
}

// errNoJob is the answer for a job token that is not the caller's: badly
// signed, expired, another client's or user's, another base's.
func errNoJob() *Error {
	return &Error{Status: http.StatusNotFound, Description: "no such Bulk Data job or file"}
}

// jobFor checks tok, a token of kind (tokenFile stands for every file
// kind), for the caller g: its signature for this base, its expiry, that
// g is the job's issuer, client and user, and that g's scopes still
// cover every type of the job in the job's context (and the Policy
// allows the request), and returns the token with the access policy's
// view of g (nil without a policy), which must grant every type of the
// job too. Anything else is answered 404 (403 with ForbiddenForScope for
// scopes or a policy that no longer cover the job).
func (a *Engine) jobFor(ctx context.Context, g *smartctx.Grant, tok string, kind byte, method string) (*jobToken, *policyView, error) {
	opt := &a.opt.Export
	t, err := decodeJobToken(tok, opt.Key, a.baseURL)
	if err != nil || kind == tokenPoll && t.kind != tokenPoll || kind == tokenFile && t.kind == tokenPoll {
		return nil, nil, errNoJob()
	}
	if a.now().Unix() >= t.exp {
		return nil, nil, errNoJob()
	}
	if t.iss != g.Issuer() || t.client != g.ClientID() || t.user != jobUser(g) {
		return nil, nil, errNoJob()
	}
	c := t.ctx
	req := &Request{Request: smartctx.Request{Method: method, Interaction: scope.InteractionOperation,
		Operation: "$export-poll"}, Context: c}
	if kind == tokenFile {
		req.Operation = "$export-file"
	}
	req.Type, req.ID, _ = strings.Cut(t.level, "/")
	scopeErr := func(typ string) error {
		if !opt.ForbiddenForScope {
			return errNoJob()
		}
		return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope,
			Description: "the token's scopes no longer cover every type of this export", Scope: c.String() + "/" + typ + ".rs"}
	}
	if !g.Scopes().HasContext(c) || c == scope.User && !opt.UserScopes {
		return nil, nil, scopeErr("*")
	}
	if pid, err := a.limitPatient(g, c, req, false); err != nil || pid != "" {
		return nil, nil, scopeErr("*")
	}
	if t.types == "*" {
		if !a.allowsAll(g, c) {
			return nil, nil, scopeErr("*")
		}
	} else {
		for _, typ := range t.typeList() {
			if acc, _ := a.access(g, c, typ, scope.Read|scope.Search); acc == scope.Denied {
				return nil, nil, scopeErr(typ)
			}
		}
	}
	if t.kind == tokenFile && t.fileType != "OperationOutcome" && !t.hasType(t.fileType) {
		return nil, nil, errNoJob()
	}
	var pol *policyView
	if a.pol != nil {
		if pol, err = a.policyView(ctx, g); err != nil {
			return nil, nil, err
		}
		rs := scope.Read | scope.Search
		if len(pol.rules) == 0 || t.types == "*" && len(pol.access("*", rs)) == 0 {
			return nil, nil, scopeErr("*")
		}
		for _, typ := range t.typeList() {
			if len(pol.access(typ, rs)) == 0 {
				return nil, nil, scopeErr(typ)
			}
		}
	}
	if a.opt.Policy != nil {
		if err := a.opt.Policy(ctx, g, req); err != nil {
			return nil, nil, policyError(err)
		}
	}
	return t, pol, nil
}

// jobUser is the user a job is bound to: the token's fhirUser, else its
// subject ("" for neither).
func jobUser(g *smartctx.Grant) string {
	if u := g.FHIRUser(); u != "" {
		return u
	}
	return g.Subject()
}

func (a *Engine) now() time.Time {
	if a.opt.Export.Now != nil {
		return a.opt.Export.Now()
	}
	return time.Now()
}

// forward returns the request the handler is served for t: the method
// and headers of r at the handler's own path, with the Decision of a
// $export-poll or $export-file operation and the mark of
// IsExportForward on its context.
func (a *Engine) forward(r *http.Request, t *jobToken) (*http.Request, error) {
	path, query, _ := strings.Cut(t.path, "?")
	pu, err := url.Parse(a.basePath + "/" + path)
	if err != nil {
		return nil, &Error{Status: http.StatusBadGateway, Description: "the export job's URL cannot be used", Err: err}
	}
	req := smartctx.Request{Method: r.Method, Interaction: scope.InteractionOperation, Operation: "$export-poll", Query: query}
	if t.kind != tokenPoll {
		req.Operation = "$export-file"
	}
	req.Type, req.ID, _ = strings.Cut(t.level, "/")
	ctx := smartctx.WithDecision(r.Context(), smartctx.NewDecision(req, smartctx.Limits{Context: t.ctx}))
	fr := r.Clone(context.WithValue(ctx, exportForwardKey{}, true))
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = pu.Path, pu.RawPath, query
	fr.URL = &u
	fr.RequestURI = u.RequestURI()
	fr.Body, fr.ContentLength = http.NoBody, 0
	guardConnection(fr.Header)
	for _, h := range [...]string{"Content-Type", "Content-Length", "If-None-Exist", "If-Match"} {
		fr.Header.Del(h)
	}
	return fr, nil
}

// serveKickoff serves a decided kick-off: the handler gets the
// canonical parameters; its answer must be 202 with an absolute
// Content-Location under the base (502 otherwise), which the client gets
// as a status URL bound to it; errors pass when they carry no resource.
func (a *Engine) serveKickoff(w http.ResponseWriter, r *http.Request, g *smartctx.Grant, d *decision, next http.Handler) {
	plan := d.rare.export
	if plan.post {
		r.Body, r.ContentLength = readerOf(plan.body), int64(len(plan.body))
		r.Header = r.Header.Clone()
		r.Header.Set("Content-Type", "application/fhir+json")
		r.Header.Set("Content-Length", strconv.Itoa(len(plan.body)))
	}
	saved := w.Header().Clone()
	r.Header = r.Header.Clone()
	r.Header.Del("Accept-Encoding")
	gw := &guardWriter{w: w, max: a.opt.MaxResponseBytes}
	serveHeld(w, saved, next, gw, r)
	refuse := func(err *Error) {
		restoreHeader(w.Header(), saved)
		a.opt.OnError(w, r, err)
	}
	status, body := gw.status, gw.buf
	if status == 0 {
		status = http.StatusOK
	}
	h := w.Header()
	switch {
	case gw.overflow:
		refuse(&Error{Status: http.StatusBadGateway, Description: "the kick-off's answer is too large", Err: errResponseUnchecked})
		return
	case status == http.StatusAccepted:
	case status >= 400 && !carriesResource(body):
		h.Del("Content-Location") // the handler's own URLs stay behind the guard
		h.Del("Location")
		w.WriteHeader(status)
		w.Write(body)
		return
	default:
		refuse(&Error{Status: http.StatusBadGateway, Description: "a Bulk Data kick-off must be answered 202 Accepted", Err: errResponseUnchecked})
		return
	}
	rel, ok := a.underBase(h.Get("Content-Location"))
	if !ok {
		refuse(&Error{Status: http.StatusBadGateway, Description: "the kick-off's Content-Location is not a URL under this FHIR base", Err: errResponseUnchecked})
		return
	}
	types := "*"
	if plan.jobTypes != nil {
		types = strings.Join(plan.jobTypes, ",")
	}
	t := &jobToken{kind: tokenPoll, ctx: plan.ctx, exp: a.now().Unix() + int64(a.linkTTL().Seconds()),
		iss: g.Issuer(), client: g.ClientID(), user: jobUser(g), job: newJobID(), level: plan.level,
		path: rel, types: types, scopes: plan.scopes}
	h.Set("Content-Location", a.baseURL+"/"+pollPrefix+t.encode(a.opt.Export.Key, a.baseURL))
	h.Del("Location")
	if !isOutcome(body) {
		body = nil // a 202's body may only be an OperationOutcome
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusAccepted)
	w.Write(body)
}

// underBase returns the part of the absolute URL u after this base's
// URL and "/", with its query: the handler's job path. ok is false for
// anything else: a relative URL, another host or base, a fragment,
// user information, an escape or a dot-segment in the path.
func (a *Engine) underBase(u string) (rel string, ok bool) {
	rest, ok := strings.CutPrefix(u, a.baseURL+"/")
	if !ok || a.baseURL == "" || rest == "" || strings.ContainsAny(rest, "#\\ ") {
		return "", false
	}
	path, query, _ := strings.Cut(rest, "?")
	if strings.IndexByte(path, '%') >= 0 || !validQueryString(query) {
		return "", false
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c <= 0x20 || c >= 0x7f || c == ';' {
			return "", false
		}
	}
	for s := range strings.SplitSeq(path, "/") {
		if s == "" || s == "." || s == ".." {
			return "", false
		}
	}
	if strings.HasPrefix(rest, pollPrefix) || strings.HasPrefix(rest, filePrefix) {
		return "", false // the guard's own
	}
	return rest, true
}

func validQueryString(q string) bool {
	_, err := fhirrest.Classify("GET", "", q, "")
	return err == nil
}

// isOutcome reports whether body is empty or an OperationOutcome.
func isOutcome(body []byte) bool {
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	res, err := fhirjson.Scan(body)
	return err == nil && res.Type == "OperationOutcome"
}

func (a *Engine) linkTTL() time.Duration {
	if a.opt.Export.LinkTTL > 0 {
		return a.opt.Export.LinkTTL
	}
	return defaultLinkTTL
}

// servePoll serves a status poll or a cancel, forwarded as fr: 202 (in
// progress) passes with X-Progress and Retry-After; 200 must be the
// manifest, whose file URLs become URLs bound like the status URL; errors
// pass when they carry no resource; anything else is 502.
func (a *Engine) servePoll(w http.ResponseWriter, r, fr *http.Request, g *smartctx.Grant, t *jobToken, pol *policyView, next http.Handler) {
	fr.Header.Del("Accept-Encoding")
	for _, k := range [...]string{"If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "Range", "If-Range"} {
		fr.Header.Del(k)
	}
	saved := w.Header().Clone()
	gw := &guardWriter{w: w, max: a.opt.MaxResponseBytes}
	serveHeld(w, saved, next, gw, fr)
	refuse := func(err *Error) {
		restoreHeader(w.Header(), saved)
		a.opt.OnError(w, r, err)
	}
	status, body := gw.status, gw.buf
	if status == 0 {
		status = http.StatusOK
	}
	h := w.Header()
	h.Del("Content-Location")
	h.Del("Location")
	switch {
	case gw.overflow:
		refuse(&Error{Status: http.StatusBadGateway, Description: "the status answer is too large", Err: errResponseUnchecked})
		return
	case enc(h) != "":
		refuse(&Error{Status: http.StatusBadGateway, Description: "encoded status answer cannot be checked", Err: errResponseUnchecked})
		return
	case status == http.StatusAccepted || r.Method == http.MethodDelete && (status == http.StatusOK || status == http.StatusNoContent):
		if !isOutcome(body) {
			body = nil
		}
	case status >= 400:
		if carriesResource(body) {
			refuse(&Error{Status: http.StatusBadGateway, Description: "the status answer cannot be checked", Err: errResponseUnchecked})
			return
		}
	case status == http.StatusOK && r.Method == http.MethodGet:
		out, err := a.rewriteManifest(body, g, t, pol)
		if err != nil {
			refuse(&Error{Status: http.StatusBadGateway, Description: "the export manifest cannot be checked: " + err.Error(), Err: errResponseUnchecked})
			return
		}
		body = out
		h.Set("Content-Type", "application/json")
		h.Del("ETag")
		h.Del("Last-Modified")
	default:
		refuse(&Error{Status: http.StatusBadGateway, Description: "unexpected status answer", Err: errResponseUnchecked})
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

func enc(h http.Header) string {
	if e := h.Get("Content-Encoding"); e != "" && !strings.EqualFold(e, "identity") {
		return e
	}
	return ""
}

// manifestMembers are the members of a Bulk Data manifest the guard
// passes on.
var manifestMembers = []string{"transactionTime", "request", "requiresAccessToken", "output", "error", "deleted", "extension"}

// rewriteManifest returns the complete-status manifest body with every
// file URL replaced by one bound to the job's caller (and the file's
// type), requiresAccessToken true, and, when a file of the job may have
// lines withheld, the guard's report in "error". Files of a type outside
// the job are left out; a "count" is left out where lines may be
// withheld (it would count what the client may not see).
func (a *Engine) rewriteManifest(body []byte, g *smartctx.Grant, t *jobToken, pol *policyView) ([]byte, error) {
	m, err := fhirjson.Members(body, manifestMembers...)
	if err != nil {
		return nil, errors.New("not a JSON object read one way")
	}
	for i, name := range manifestMembers[:5] {
		if m[i].Len() == 0 && name != "error" {
			return nil, errors.New("no " + name)
		}
	}
	if string(m[2].Of(body)) != "true" {
		return nil, errors.New("requiresAccessToken is not true: the files would not be protected")
	}
	var b bytes.Buffer
	b.WriteString(`{"transactionTime":`)
	b.Write(m[0].Of(body))
	b.WriteString(`,"request":`)
	b.Write(m[1].Of(body))
	b.WriteString(`,"requiresAccessToken":true`)
	restricted := false
	for _, k := range [...]int{3, 5, 4} { // output, deleted, error
		if m[k].Len() == 0 {
			if k == 4 {
				b.WriteString(`,"error":[`)
				a.writeReport(&b, g, t, restricted, false)
				b.WriteString(`]`)
			}
			continue
		}
		b.WriteString(`,"` + manifestMembers[k] + `":[`)
		n := 0
		err := fhirjson.Elements(m[k].Of(body), func(s fhirjson.Span) error {
			kind := byte(tokenFile)
			if k == 5 {
				kind = tokenDeleted
			}
			item, checked, err := a.manifestItem(s.Of(m[k].Of(body)), g, t, pol, kind)
			if err != nil || item == nil {
				return err
			}
			restricted = restricted || checked
			if n > 0 {
				b.WriteByte(',')
			}
			n++
			b.Write(item)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if k == 4 {
			a.writeReport(&b, g, t, restricted, n > 0)
		}
		b.WriteByte(']')
	}
	if m[6].Len() > 0 {
		b.WriteString(`,"extension":`)
		b.Write(m[6].Of(body))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeReport adds the guard's report file to the manifest's error list
// when some file may have lines withheld.
func (a *Engine) writeReport(b *bytes.Buffer, g *smartctx.Grant, t *jobToken, restricted, comma bool) {
	if !restricted {
		return
	}
	if comma {
		b.WriteByte(',')
	}
	rt := *t
	rt.kind, rt.fileType, rt.path = tokenReport, "OperationOutcome", ""
	rt.exp = a.now().Unix() + int64(a.linkTTL().Seconds())
	b.WriteString(`{"type":"OperationOutcome","url":`)
	b.Write(jsonString(a.baseURL + "/" + filePrefix + rt.encode(a.opt.Export.Key, a.baseURL)))
	b.WriteByte('}')
}

func jsonString(s string) []byte {
	out, _ := json.Marshal(s)
	return out
}

// manifestItem rewrites one file entry of a manifest: nil for a file of
// a type outside the job; checked tells that its lines will be checked.
func (a *Engine) manifestItem(item []byte, g *smartctx.Grant, t *jobToken, pol *policyView, kind byte) (out []byte, checked bool, err error) {
	m, err := fhirjson.Members(item, "type", "url", "count", "extension")
	if err != nil {
		return nil, false, errors.New("a file entry is not a JSON object read one way")
	}
	typ, ok := fhirjson.DecodeString(m[0].Of(item))
	if !ok || !scope.IsR4Type(typ) {
		return nil, false, errors.New("a file entry has no resource type")
	}
	u, ok := fhirjson.DecodeString(m[1].Of(item))
	if !ok {
		return nil, false, errors.New("a file entry has no url")
	}
	rel, ok := a.underBase(u)
	if !ok {
		return nil, false, errors.New("a file URL is not under this FHIR base")
	}
	if kind == tokenDeleted && typ != "Bundle" {
		return nil, false, errors.New(`a "deleted" file must be of type Bundle`)
	}
	if kind == tokenFile && typ != "OperationOutcome" && !t.hasType(typ) {
		return nil, false, nil // not one of the job's types: left out
	}
	ft := *t
	ft.kind, ft.fileType, ft.path = kind, typ, rel
	ft.exp = a.now().Unix() + int64(a.linkTTL().Seconds())
	checked = a.linesChecked(g, &ft, pol)
	var b bytes.Buffer
	b.WriteString(`{"type":`)
	b.Write(jsonString(typ))
	b.WriteString(`,"url":`)
	b.Write(jsonString(a.baseURL + "/" + filePrefix + ft.encode(a.opt.Export.Key, a.baseURL)))
	if c := m[2].Of(item); len(c) > 0 && !checked {
		b.WriteString(`,"count":`)
		b.Write(c)
	}
	if e := m[3].Of(item); len(e) > 0 {
		b.WriteString(`,"extension":`)
		b.Write(e)
	}
	b.WriteByte('}')
	return b.Bytes(), checked, nil
}

// linesChecked reports whether the lines of file t must be checked one by
// one for caller g under the policy view pol: unless g, the job and the
// policy allow every type without constraint, a line may be of a type,
// outside a granular scope or of a patient the caller may not see.
func (a *Engine) linesChecked(g *smartctx.Grant, t *jobToken, pol *policyView) bool {
	return !(t.types == "*" && t.scopes == "" && a.allowsAll(g, t.ctx) &&
		(pol == nil || unlimited(pol.access("*", scope.Read|scope.Search))))
}

// serveFile serves a file download forwarded as fr: passed through as
// the handler streams it when nothing needs checking (linesChecked),
// else checked line by line as it streams.
func (a *Engine) serveFile(w http.ResponseWriter, r, fr *http.Request, g *smartctx.Grant, t *jobToken, pol *policyView, next http.Handler) {
	if !a.linesChecked(g, t, pol) {
		next.ServeHTTP(w, fr)
		return
	}
	// The handler's validators, ranges and encodings describe the file
	// as it is, not as the caller gets it.
	for _, k := range [...]string{"If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "Range", "If-Range", "Accept-Encoding"} {
		fr.Header.Del(k)
	}
	lf := a.newLineFilter(w, g, t, pol)
	lf.head = r.Method == http.MethodHead
	func() {
		defer func() {
			if p := recover(); p != nil {
				if !lf.sent {
					restoreHeader(w.Header(), lf.saved)
				}
				panic(p)
			}
		}()
		next.ServeHTTP(lf, fr)
	}()
	lf.finish(r)
}

// lineFilter checks the NDJSON lines a handler writes, one at a time,
// and lets through those the caller may see. It holds at most one line
// (MaxLineBytes) and a 64 KiB output buffer, whatever the file's size.
type lineFilter struct {
	a     *Engine
	w     http.ResponseWriter
	saved http.Header
	head  bool
	check func(line []byte) bool
	t     *jobToken

	status   int
	sent     bool          // the status line and headers went out
	out      *bufio.Writer // to w, once sent
	pending  []byte        // the start of a line not yet ended
	max      int
	aborted  bool
	errBody  bytes.Buffer // a non-200 answer, held to check it
	overflow bool
	withheld int64
	passed   int64
}

var errLineTooLong = errors.New("an NDJSON line is longer than the guard checks")

func (a *Engine) newLineFilter(w http.ResponseWriter, g *smartctx.Grant, t *jobToken, pol *policyView) *lineFilter {
	max := a.opt.Export.MaxLineBytes
	if max <= 0 {
		max = DefaultMaxLineBytes
	}
	return &lineFilter{a: a, w: w, saved: w.Header().Clone(), t: t, max: max, check: a.lineCheck(g, t, pol)}
}

func (lf *lineFilter) Header() http.Header { return lf.w.Header() }

func (lf *lineFilter) WriteHeader(code int) {
	if lf.status == 0 && code >= 200 {
		lf.status = code
	}
}

// Flush sends what was checked so far.
func (lf *lineFilter) Flush() {
	if lf.status == http.StatusOK && !lf.aborted {
		lf.send()
		lf.out.Flush()
		if f, ok := lf.w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// send sends the status and headers of a 200, once.
func (lf *lineFilter) send() {
	if lf.sent {
		return
	}
	lf.sent = true
	h := lf.w.Header()
	for _, k := range [...]string{"Content-Length", "ETag", "Last-Modified", "Accept-Ranges", "Content-Range", "Content-Location", "Location"} {
		h.Del(k)
	}
	h.Set("Content-Type", "application/fhir+ndjson")
	lf.w.WriteHeader(http.StatusOK)
	lf.out = bufio.NewWriterSize(lf.w, 64<<10)
}

func (lf *lineFilter) Write(p []byte) (int, error) {
	if lf.status == 0 {
		lf.status = http.StatusOK
	}
	if lf.aborted {
		return 0, errLineTooLong
	}
	if lf.status != http.StatusOK {
		if lf.overflow || int64(lf.errBody.Len()+len(p)) > lf.a.opt.MaxResponseBytes {
			lf.overflow = true
			return 0, errResponseUnchecked
		}
		return lf.errBody.Write(p)
	}
	if enc(lf.w.Header()) != "" {
		lf.aborted = true
		return 0, errResponseUnchecked
	}
	if lf.head {
		return len(p), nil // a HEAD's body goes nowhere
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(lf.pending)+len(p) > lf.max {
				lf.aborted = true
				return 0, errLineTooLong
			}
			lf.pending = append(lf.pending, p...)
			break
		}
		line := p[:i]
		if len(lf.pending) > 0 {
			if len(lf.pending)+i > lf.max {
				lf.aborted = true
				return 0, errLineTooLong
			}
			lf.pending = append(lf.pending, line...)
			line = lf.pending
		} else if i > lf.max {
			lf.aborted = true
			return 0, errLineTooLong
		}
		lf.line(line)
		lf.pending = lf.pending[:0]
		p = p[i+1:]
	}
	return n, nil
}

// line checks one line and sends it when the caller may see it.
func (lf *lineFilter) line(line []byte) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	if !lf.check(line) {
		lf.withheld++
		return
	}
	lf.passed++
	lf.send()
	lf.out.Write(line)
	lf.out.WriteByte('\n')
}

// finish ends the answer once the handler returned: the last line, or
// the refusal of an answer that could not be checked. A download that
// broke after its headers went out is aborted (http.ErrAbortHandler), so
// that the client sees a broken transfer, never a shorter file.
func (lf *lineFilter) finish(r *http.Request) {
	a := lf.a
	status := lf.status
	if status == 0 {
		status = http.StatusOK
	}
	refuse := func(err *Error) {
		restoreHeader(lf.w.Header(), lf.saved)
		a.opt.OnError(lf.w, r, err)
	}
	if status != http.StatusOK {
		body := lf.errBody.Bytes()
		switch {
		case lf.overflow || status < 400 || carriesResource(body):
			refuse(&Error{Status: http.StatusBadGateway, Description: "the file answer cannot be checked", Err: errResponseUnchecked})
		default:
			lf.w.WriteHeader(status)
			lf.w.Write(body)
		}
		return
	}
	if !lf.aborted && len(lf.pending) > 0 {
		lf.line(lf.pending) // the last line, without "\n"
		lf.pending = nil
	}
	if lf.withheld > 0 {
		a.counts.add(lf.t.job, lf.withheld)
	}
	if lf.aborted {
		if !lf.sent {
			refuse(&Error{Status: http.StatusBadGateway, Description: "the file cannot be checked", Err: errLineTooLong})
			return
		}
		lf.out.Flush()
		panic(http.ErrAbortHandler)
	}
	lf.send()
	lf.out.Flush()
	if a.opt.Observer != nil {
		a.opt.Observer.Guarded(r.Context(), 0, int(lf.withheld), 0)
	}
}

// lineCheck returns the check of one NDJSON line of file t for caller
// g: the one rule (allows) for a read of the line's resource, which must
// be of the file's type, in the job's context, and match the job's own
// granular scopes too when it had any. A "deleted" file's lines are
// transaction Bundles of DELETEs, each of which must name a type the
// caller and the job allow without constraint (a deleted resource's
// content is not there to be checked). Under an access policy (pol) each
// line must be one the policy lets leave too.
func (a *Engine) lineCheck(g *smartctx.Grant, t *jobToken, pol *policyView) func(line []byte) bool {
	c, typ := t.ctx, t.fileType
	var jobCons []scope.Constraint
	jobConstrained := false
	if t.scopes != "" {
		job := scope.Parse(t.scopes)
		if job.Access(c, typ, scope.Read|scope.Search) == scope.Constrained {
			jobConstrained, jobCons = true, job.Constraints(c, typ, scope.Read|scope.Search)
		}
	}
	if t.kind == tokenDeleted {
		return func(line []byte) bool { return a.deletedAllowed(g, t, pol, line) }
	}
	if typ == "OperationOutcome" {
		// The handler's error files: outcomes, holding no resource.
		return func(line []byte) bool {
			m, err := fhirjson.Members(line, "resourceType", "contained")
			if err != nil || m[1].Len() > 0 {
				return false
			}
			t, ok := fhirjson.DecodeString(m[0].Of(line))
			return ok && t == "OperationOutcome"
		}
	}
	// What allows decides for a resource of typ with no patient limit,
	// computed once: the access, and the alternatives to match,
	// compiled.
	acc, cons := a.access(g, c, typ, scope.Read)
	queries := a.compile(typ, cons)
	jobQueries := a.compile(typ, jobCons)
	if typ == "Bundle" || typ == "Parameters" {
		// They hold resources of any type: the one rule as it is.
		return func(line []byte) bool {
			res, err := fhirjson.Scan(line)
			return err == nil && res.Type == typ && a.allowsUnder(g, pol, c, "", typ, line, scope.Read) == allowed &&
				(!jobConstrained || matchAny(jobQueries, line))
		}
	}
	return func(line []byte) bool {
		// One JSON object, read one way (no key twice, none folding to
		// resourceType), of the file's type.
		m, err := fhirjson.Members(line, "resourceType")
		if err != nil {
			return false
		}
		if t, ok := fhirjson.DecodeString(m[0].Of(line)); !ok || t != typ {
			return false
		}
		switch acc {
		case scope.Denied:
			return false
		case scope.Constrained:
			if !matchAny(queries, line) {
				return false
			}
		}
		if pol != nil && !a.policyPermits(pol, typ, line, scope.Read) {
			return false
		}
		return !jobConstrained || matchAny(jobQueries, line)
	}
}

// compile compiles the granular constraints cons on typ, as
// matchConstraint does; a constraint that cannot be evaluated is left
// out (it matches nothing).
func (a *Engine) compile(typ string, cons []scope.Constraint) []*search.Query {
	var qs []*search.Query
	for _, c := range cons {
		if q, err := search.Compile(typ, c, search.Options{Base: a.baseURL}); err == nil {
			qs = append(qs, q)
		}
	}
	return qs
}

// matchAny reports whether resource matches one of qs.
func matchAny(qs []*search.Query, resource []byte) bool {
	for _, q := range qs {
		if m, err := q.Match(resource); err == nil && m {
			return true
		}
	}
	return false
}

// deletedAllowed checks a line of a "deleted" file: a transaction Bundle
// whose every entry is a DELETE of Type/id, Type one of the job's and
// allowed to the caller (and the job) without constraint.
func (a *Engine) deletedAllowed(g *smartctx.Grant, t *jobToken, pol *policyView, line []byte) bool {
	res, err := fhirjson.Scan(line)
	if err != nil || res.Type != "Bundle" {
		return false
	}
	b, err := res.Bundle()
	if err != nil {
		return false
	}
	job := scope.Parse(t.scopes)
	for _, e := range b.Entries {
		if e.ResourcePresence == fhirjson.Present {
			return false
		}
		er, ok := readEntry(e.Span.Of(line))
		if !ok || er.method != http.MethodDelete {
			return false
		}
		typ, id, ok := strings.Cut(er.url, "/")
		if !ok || !scope.IsR4Type(typ) || !smartctx.ValidID(id) || !t.hasType(typ) {
			return false
		}
		if acc, _ := a.access(g, t.ctx, typ, scope.Read); acc != scope.Allowed {
			return false
		}
		if t.scopes != "" && job.Access(t.ctx, typ, scope.Read|scope.Search) == scope.Constrained {
			return false
		}
		if pol != nil && !unlimited(pol.access(typ, scope.Read)) {
			return false
		}
	}
	return true
}

// serveReport answers the guard's report file: one OperationOutcome
// line telling how many lines this server withheld from the job's
// downloads so far.
func (a *Engine) serveReport(w http.ResponseWriter, r *http.Request, t *jobToken) {
	n := a.counts.get(t.job)
	severity, msg := "information", "No resource was withheld from the files of this export downloaded so far."
	if n > 0 {
		severity = "warning"
		msg = fmt.Sprintf("%d resources were withheld from the files of this export downloaded so far: the access token does not allow them.", n)
	}
	body, _ := json.Marshal(map[string]any{"resourceType": "OperationOutcome",
		"issue": []map[string]string{{"severity": severity, "code": "suppressed", "diagnostics": msg}}})
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/fhir+ndjson")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// withheldCounts are the lines withheld per job, kept in memory (by
// replica): at most maxCountedJobs jobs, the oldest forgotten first.
type withheldCounts struct {
	mu    sync.Mutex
	n     map[string]int64
	order []string
}

const maxCountedJobs = 10000

func (c *withheldCounts) add(job string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int64{}
	}
	if _, ok := c.n[job]; !ok {
		if len(c.order) >= maxCountedJobs {
			delete(c.n, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, job)
	}
	c.n[job] += n
}

func (c *withheldCounts) get(job string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[job]
}
