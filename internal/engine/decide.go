package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/compartment"
	"github.com/smartguard/smartguard/internal/fhirjson"
	"github.com/smartguard/smartguard/internal/fhirrest"
	"github.com/smartguard/smartguard/internal/search"
	"github.com/smartguard/smartguard/scope"
)

// attempt is one context a request is decided under, in order.
type attempt struct {
	c       scope.Context
	rewrite bool
}

// decide decides req, classified, for grant g, and then makes sure that
// the _elements and _summary of a restricted decision leave the guard what
// it reads (resultElements).
//
// Each scope context is tried on its own, with its own scopes only: a
// user/ scope never lifts the compartment limit of a patient/ scope, and
// a patient/ scope never lends its letters or types to user/ or system/
// decisions. The order is patient/, user/, system/ with the search as it
// is, then (unless RefuseBroadSearches) the same with the search narrowed
// to what the grant allows. The first decision that leaves nothing to the
// handler (no compartment, no constraint) wins; failing that, the first
// decision that allows the request.
func (a *Engine) decide(ctx context.Context, g *smartctx.Grant, req *Request, ifNoneExist string, bundled bool) (*decision, error) {
	d, err := a.decideScopes(ctx, g, req, ifNoneExist, bundled)
	if err != nil || !d.restricted() {
		return d, err
	}
	if err := a.resultElements(g, d); err != nil {
		return nil, err
	}
	return d, nil
}

// decideScopes is decide, before _elements and _summary are applied.
func (a *Engine) decideScopes(ctx context.Context, g *smartctx.Grant, req *Request, ifNoneExist string, bundled bool) (*decision, error) {
	if req.Interaction == scope.InteractionCapabilities {
		return &decision{Request: req.Request}, nil
	}
	attempts := [...]attempt{{scope.Patient, false}, {scope.User, false}, {scope.System, false},
		{scope.Patient, true}, {scope.User, true}, {scope.System, true}}
	set := g.Scopes()
	var found *decision
	var denial error
	for _, at := range attempts {
		if at.rewrite && (a.opt.RefuseBroadSearches || found != nil || !narrowable(req)) {
			continue
		}
		if !set.HasContext(at.c) {
			continue
		}
		d, err := a.decideAttempt(ctx, g, req, at, ifNoneExist, bundled)
		if err != nil {
			if denial == nil {
				denial = err
			}
			continue
		}
		if d.Patient == "" && d.Constraints == nil {
			return d, nil
		}
		if found == nil {
			found = d
		}
	}
	if found != nil {
		// A decision held to a patient or a constraint may withhold the
		// user's own fhirUser resource; the fhirUser scope reads it
		// whatever the other scopes (see ownFHIRUser).
		found.orOwn = a.ownFHIRUser(g, req)
		return found, nil
	}
	if a.ownFHIRUser(g, req) {
		return a.decideOwn(ctx, g, req)
	}
	if denial == nil {
		c := scope.User
		if g.Patient() != "" {
			c = scope.Patient
		}
		r := *req
		r.Context = c
		denial = a.deny(&r, bundled, "the token has no scope for this request")
	}
	return nil, explain(g, denial)
}

// decideAttempt decides req in the attempt's context (at.rewrite: with
// the search narrowed to what the scopes reach): the scopes' decision,
// then the access policy's (user/ and system/ contexts), then
// Options.Policy's.
func (a *Engine) decideAttempt(ctx context.Context, g *smartctx.Grant, req *Request, at attempt, ifNoneExist string, bundled bool) (*decision, error) {
	r := *req
	r.Context = at.c
	var err error
	if r.patient, err = a.limitPatient(g, at.c, &r, bundled); err != nil {
		return nil, err
	}
	d, err := a.decideIn(g, &r, ifNoneExist, at.rewrite, bundled)
	if err == nil && a.pol != nil && at.c != scope.Patient {
		// Scopes ∩ policy: the access policy limits user/ and system/
		// scopes to what its rules grant.
		d, err = a.applyPolicy(ctx, g, &r, d, bundled)
	}
	if err != nil || a.opt.Policy == nil {
		return d, err
	}
	pr := new(Request) // the policy may keep it
	*pr = r
	pr.Query = d.Query
	if err := a.opt.Policy(ctx, g, pr); err != nil {
		return nil, policyError(err)
	}
	return d, nil
}

// decideOwn decides a read of the grant's own fhirUser resource (see
// ownFHIRUser) that no other scope allows: SMART's fhirUser scope lets
// the user read exactly that resource, whatever the other scopes, and
// the guard lets it out and nothing else. Options.Policy still decides.
func (a *Engine) decideOwn(ctx context.Context, g *smartctx.Grant, req *Request) (*decision, error) {
	d := &decision{Request: req.Request, Limits: smartctx.Limits{Context: scope.User}, own: true}
	if a.opt.Policy == nil {
		return d, nil
	}
	pr := new(Request) // the policy may keep it
	*pr = *req
	pr.Context = scope.User
	if err := a.opt.Policy(ctx, g, pr); err != nil {
		return nil, policyError(err)
	}
	return d, nil
}

// ownFHIRUser reports whether req reads (read, vread, HEAD) the very
// resource the grant's fhirUser names, on this server ("Practitioner/x",
// or its absolute URL under this base: smartctx.Grant.LocalFHIRUser), with
// the fhirUser scope granted. A search for it ("Practitioner?_id=x") is
// not such a read: it is decided by the scopes alone.
func (a *Engine) ownFHIRUser(g *smartctx.Grant, req *Request) bool {
	if req.Interaction != scope.InteractionRead && req.Interaction != scope.InteractionVRead || req.Conditional || req.ID == "" {
		return false
	}
	u := g.FHIRUser()
	// Cheap first: most reads are not of the user's own resource.
	if !strings.HasSuffix(u, req.ID) || !g.Scopes().Has("fhirUser") {
		return false
	}
	typ, id, ok := g.LocalFHIRUser(a.baseURL)
	return ok && typ == req.Type && id == req.ID
}

// narrowable reports whether req has a search the engine may narrow: a
// type or compartment search, or the search of a conditional update,
// patch or delete. (A conditional create's search is its If-None-Exist
// header, which must carry its restrictions itself.)
func narrowable(req *Request) bool {
	switch req.Interaction {
	case scope.InteractionSearchType, scope.InteractionSearchSystem:
		return true
	case scope.InteractionUpdate, scope.InteractionPatch, scope.InteractionDelete:
		return req.Conditional
	}
	return false
}

// explain makes a 403 say what is actually wrong: it names no scope the
// token already holds (the request was refused for another reason, such
// as a patient outside the context), and it names the scopes of the token
// that are not SMART scopes, which often explain a refusal
// ("patient/observation.rs").
func explain(g *smartctx.Grant, err error) error {
	e, ok := err.(*Error)
	if !ok || e.Code != CodeInsufficientScope {
		return err
	}
	c := *e
	if sc, perr := scope.ParseScope(c.Scope); perr == nil && sc.Kind == scope.Resource &&
		g.Scopes().Access(sc.Context, sc.Type, sc.Permissions) != scope.Denied {
		c.Scope = ""
	}
	if bad := g.Scopes().Invalid(); len(bad) > 0 {
		var b strings.Builder
		b.WriteString(c.Description)
		for i, t := range bad {
			if i == 3 {
				fmt.Fprintf(&b, "; and %d more", len(bad)-i)
				break
			}
			fmt.Fprintf(&b, "; '%s' is not a SMART scope", printable(t, 64))
		}
		c.Description = b.String()
	}
	return &c
}

// printable returns s with bytes outside printable ASCII dropped, cut to
// at most n bytes.
func printable(s string, n int) string {
	b := make([]byte, 0, min(len(s), n))
	for i := 0; i < len(s) && len(b) < n; i++ {
		if c := s[i]; c > 0x20 && c < 0x7f && c != '\'' && c != '"' && c != '\\' {
			b = append(b, c)
		}
	}
	return string(b)
}

// limitPatient returns the patient whose compartment limits decisions in
// context c: the patient in context for patient/ scopes, and for user/
// scopes the Patient a user's fhirUser names (a patient-portal login),
// unless Config.FHIR.SkipPatientUserCompartment. It refuses user/ scopes with
// a fhirUser that is not a reference (which the middleware never lets
// through, but a hand-made Grant may hold), and those of a RelatedPerson
// or a Person without a Policy: they act for patients the grant does not
// name, and only the application knows which.
//
// It refuses user/ scopes of a Patient on another FHIR server (an
// absolute fhirUser not under this base, or a version of a Patient): the
// same id here is another patient, or none, so the compartment cannot be
// placed; read as no limit at all, the user/ scopes of a patient-portal
// login would reach every patient.
func (a *Engine) limitPatient(g *smartctx.Grant, c scope.Context, req *Request, bundled bool) (string, error) {
	switch c {
	case scope.Patient:
		return g.Patient(), nil
	case scope.User:
		if a.opt.SkipPatientUserCompartment || g.FHIRUser() == "" {
			return "", nil
		}
		typ, _, ok := g.FHIRUserReference()
		if !ok {
			return "", a.deny(req, bundled, "the token's fhirUser is not a FHIR reference")
		}
		switch typ {
		case "Patient":
			if _, id, local := g.LocalFHIRUser(a.baseURL); local {
				return id, nil
			}
			return "", a.deny(req, bundled, "the token's fhirUser is a Patient on another FHIR server: its user scopes cannot be held to that patient here")
		case "RelatedPerson", "Person":
			if a.opt.Policy == nil && a.pol == nil {
				return "", a.deny(req, bundled, "user scopes of a "+typ+" need a Policy that says whose records they reach")
			}
		}
	}
	return "", nil
}

func policyError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope,
		Description: "the request is not allowed for this user or client", By: RefusedByPolicy, Err: err}
}

// deny refuses req, decided in req.Context, with 403 insufficient_scope
// naming the scope that would allow it, or 404 for an instance read when
// NotFoundForDenied is set.
func (a *Engine) deny(req *Request, bundled bool, why string) *Error {
	switch req.Interaction {
	case scope.InteractionRead, scope.InteractionVRead, scope.InteractionHistoryInstance:
		if a.opt.NotFoundForDenied {
			// Answered exactly as a missing resource: the cause is for
			// logs only.
			return &Error{Status: http.StatusNotFound, Description: "resource not found",
				Err: fmt.Errorf("refused: %s", why)}
		}
	}
	return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Description: why, Scope: neededScope(req), By: RefusedByScope}
}

// neededScope is the scope that would allow req in its context, such as
// "patient/Observation.s".
func neededScope(req *Request) string {
	typ := req.Type
	if typ == "" {
		typ = "*"
	}
	p := req.Interaction.Permission()
	if req.Conditional {
		p |= scope.Search
	}
	if p == 0 {
		p = scope.Read | scope.Search
	}
	c := req.Context
	if c == 0 {
		c = scope.User
	}
	return c.String() + "/" + typ + "." + p.String()
}

// decideIn decides req under the one context req.Context.
func (a *Engine) decideIn(g *smartctx.Grant, req *Request, ifNoneExist string, rewrite, bundled bool) (*decision, error) {
	// Under a patient limit the decision carries the patient whatever
	// the type asked for: what the answer includes is checked against it.
	d := &decision{Request: req.Request, Limits: smartctx.Limits{Context: req.Context, Patient: req.patient}}
	if req.Context == scope.Patient && g.Patient() == "" {
		return nil, a.deny(req, bundled, "patient scopes need a patient in context")
	}

	var err error
	switch req.Interaction {
	case scope.InteractionSearchType, scope.InteractionSearchSystem:
		err = a.search(g, req, d, req.Query, req.Form, rewrite, bundled)
	case scope.InteractionHistoryType, scope.InteractionHistorySystem:
		err = a.history(g, req, d, bundled)
	case scope.InteractionOperation:
		err = a.operation(g, req, d, bundled)
	case scope.InteractionCreate:
		if ifNoneExist != "" {
			// The If-None-Exist search runs too: it must be allowed as is.
			crit := *req
			crit.Interaction = scope.InteractionSearchType
			if err = a.search(g, &crit, &decision{}, ifNoneExist, "", false, bundled); err != nil {
				break
			}
		}
		err = a.instance(g, req, d, bundled)
	case scope.InteractionRead, scope.InteractionVRead, scope.InteractionHistoryInstance,
		scope.InteractionUpdate, scope.InteractionPatch, scope.InteractionDelete:
		if req.Conditional {
			crit := *req
			crit.Interaction = scope.InteractionSearchType
			if err = a.search(g, &crit, d, req.Query, "", rewrite, bundled); err != nil {
				break
			}
			searchCons := d.Constraints
			err = a.instance(g, req, d, bundled)
			if searchCons != nil && d.Constraints == nil {
				d.Constraints = searchCons
			}
			break
		}
		err = a.instance(g, req, d, bundled)
	default:
		err = a.deny(req, bundled, "interaction not allowed")
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// access is the grant's answer for p on typ in req.Context, with the
// NonCompartmentPolicy applied to patient/ scopes.
func (a *Engine) access(g *smartctx.Grant, c scope.Context, typ string, p scope.Permission) (scope.Access, []scope.Constraint) {
	acc := g.Access(c, typ, p)
	if acc == scope.Denied {
		return acc, nil
	}
	set := g.Scopes()
	if c == scope.Patient && typ != "*" && !compartment.In(typ) {
		switch a.opt.NonCompartment {
		case NonCompartmentDeny:
			return scope.Denied, nil
		case NonCompartmentNamed:
			var named []scope.Scope
			for _, sc := range set.Scopes() {
				if sc.Kind == scope.Resource && sc.Context == c && sc.Type == typ {
					named = append(named, sc)
				}
			}
			set = scope.NewSet(named...)
			acc = set.Access(c, typ, p)
		}
	}
	if acc != scope.Constrained {
		return acc, nil
	}
	cons := set.Constraints(c, typ, p)
	if len(cons) == 0 {
		return scope.Denied, nil
	}
	return acc, cons
}

// instance decides read, vread, instance history, update, patch, delete
// and create.
func (a *Engine) instance(g *smartctx.Grant, req *Request, d *decision, bundled bool) error {
	acc, cons := a.access(g, req.Context, req.Type, req.Interaction.Permission())
	if acc == scope.Denied {
		return a.deny(req, bundled, "the token has no scope for this request")
	}
	d.Constraints = cons
	pid := req.patient
	linked := pid != "" && compartment.In(req.Type) // the type can belong to a patient
	if pid != "" {
		switch req.Type {
		case "Patient":
			if req.Interaction == scope.InteractionCreate {
				return a.deny(req, bundled, "patient scopes cannot create a Patient")
			}
			if !req.Conditional && req.ID != pid {
				return a.deny(req, bundled, "patient scopes reach only the patient in context")
			}
		case "Bundle":
			if w := req.Interaction.Permission(); w&(scope.Create|scope.Update|scope.Delete) != 0 {
				// A stored Bundle holds resources of any patient: the
				// guard checks what one holds when it is read, but
				// cannot vouch for what a write puts in one.
				return a.deny(req, bundled, "patient scopes cannot write a Bundle")
			}
		}
	}
	if req.Interaction == scope.InteractionPatch && (linked && req.Type != "Patient" || cons != nil) {
		if !patchLeavesAlone(req.Resource, req.Type, linked, cons) {
			return a.deny(req, bundled, "under these scopes a patch must be a JSON Patch that leaves the compartment and the granular scopes' elements alone")
		}
		return nil
	}
	if req.Interaction != scope.InteractionCreate && req.Interaction != scope.InteractionUpdate {
		return nil
	}
	if len(req.Resource) == 0 {
		return badRequest("a " + string(req.Interaction) + " needs a resource body")
	}
	typ, id, err := compartment.TypeAndID(req.Resource)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: "the resource body is not a FHIR JSON resource", Err: err}
	}
	if typ != req.Type {
		return badRequest("the resource body's resourceType does not match the URL")
	}
	d.bodyID = id
	if req.Interaction == scope.InteractionUpdate && !req.Conditional && id != req.ID {
		return badRequest("the resource body's id does not match the URL")
	}
	if linked {
		// In this compartment and no other: a resource that also names
		// another patient (subject Patient/456, performer Patient/123)
		// would be written into that patient's record too.
		ok, err := compartment.OnlyMemberOf(req.Resource, typ, id, d.Patient, a.baseURL)
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: "the resource body is not a FHIR JSON resource", Err: err}
		}
		if !ok {
			return a.deny(req, bundled, "the resource is not in the compartment of the patient in context alone")
		}
	}
	if cons != nil {
		for _, c := range cons {
			if a.matchConstraint(req.Type, req.Resource, c) {
				return nil
			}
		}
		return a.deny(req, bundled, "the resource does not match the granular scopes")
	}
	return nil
}

// search decides a type, system or compartment search with raw query q
// and form f; with rewrite, what narrows it is added to d.Query.
func (a *Engine) search(g *smartctx.Grant, req *Request, d *decision, q, f string, rewrite, bundled bool) error {
	hasRev, contained, err := a.searchControls(req, d, q, f, bundled)
	if err != nil {
		return err
	}
	if req.Type == "" || req.Type == "*" {
		err = a.searchTypes(g, req, q, f, bundled)
	} else {
		err = a.searchType(g, req, d, q, f, rewrite, bundled)
	}
	if err != nil {
		return err
	}
	if hasRev && d.Constraints != nil {
		return a.deny(req, bundled, "reverse chaining (_has) is not allowed under granular scopes")
	}
	if contained || d.Constraints != nil && hasContained(q, f) {
		return a.deny(req, bundled, "_contained searches cannot be limited to the patient or the granular scopes")
	}
	if req.patient == "" {
		if d.Constraints != nil {
			return plainNames(q, f)
		}
		return nil
	}
	return a.searchPatient(req, d, q, f, rewrite, bundled) // plainNames too
}

// plainNames refuses, in a search held to a patient or to granular
// scopes, a parameter whose name (decoded) is not made of the characters
// of FHIR parameter names, modifiers and chains (letters, digits, "_",
// "-", ".", ":"): "patient%00", "patient%3D123%26patient", "patient ".
// A server that cuts a name at a NUL, decodes the query before splitting
// it or trims spaces would read such a parameter as another one, which
// the decision did not see, beside the one narrowing the search.
func plainNames(q, f string) error {
	for p := range fhirrest.Params(q, f) {
		if !plainName(p.Name) {
			return errNameNotPlain()
		}
	}
	return nil
}

func errNameNotPlain() error { return badRequest("malformed search parameter name") }

func plainName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !plainByte[name[i]] {
			return false
		}
	}
	return true
}

// plainByte holds the bytes of plain parameter names.
var plainByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':'
	}
	return t
}()

// maxIncludes bounds the _include and _revinclude parameters of one
// search, ":iterate" ones among them: each asks the server for one more
// round of references.
const maxIncludes = 16

// searchControls reads the search's result parameters: includes (when
// allowed), named queries (refused), reverse chaining (refused under a
// patient limit) and contained searches.
func (a *Engine) searchControls(req *Request, d *decision, q, f string, bundled bool) (hasRev, contained bool, err error) {
	includes := 0
	d.resultParams = resultParamsNone
	for p := range fhirrest.RawParams(q, f) {
		if d.resultParams == resultParamsNone && mayBeResultName(p.Name) {
			d.resultParams = resultParamsSome // for resultElements
		}
		name, _, _ := strings.Cut(p.Name, ":")
		switch name {
		case "_include", "_revinclude":
			if a.opt.RefuseIncludes {
				return false, false, a.deny(req, bundled, "_include and _revinclude are not allowed")
			}
			if p.Value() == "*" || strings.HasPrefix(p.Value(), "*:") {
				// Every reference of every resource, at any depth with
				// :iterate: unbounded work for the server.
				return false, false, badRequest("wildcard includes (" + p.Name + "=*) are not allowed: name the search parameter")
			}
			if includes++; includes > maxIncludes {
				return false, false, badRequest(fmt.Sprintf("a search may name at most %d includes", maxIncludes))
			}
			d.Includes = true
		case "_query":
			return false, false, a.deny(req, bundled, "named queries (_query) are not allowed")
		case "_has":
			// Reverse chaining selects by other resources: under
			// patient/ scopes, Medication?_has:MedicationRequest:
			// medication:subject=Patient/456 lists what another
			// patient takes, whatever the type searched.
			if req.patient != "" {
				return false, false, a.deny(req, bundled, "reverse chaining (_has) is not allowed under patient scopes")
			}
			hasRev = true
		case "_contained", "_containedType":
			// With _contained the search parameters, the patient's
			// among them, select contained resources, and the server
			// may return their containers: another patient's
			// Observation that contains one naming Patient/123.
			if req.patient != "" && (p.Name != "_contained" || p.Value() != "false") {
				contained = true
			}
		}
	}
	return hasRev, contained, nil
}

// searchTypes decides a system search or "Patient/123/*": every type in
// _type, or every type, must be searchable.
func (a *Engine) searchTypes(g *smartctx.Grant, req *Request, q, f string, bundled bool) error {
	c, n := req.Context, 0
	for p := range fhirrest.Params(q, f) {
		if p.Name != "_type" {
			continue
		}
		for t := range strings.SplitSeq(p.Value, ",") {
			if !scope.IsR4Type(t) {
				return badRequest("_type names an unknown resource type")
			}
			if n++; n > MaxTypes {
				// R4 has fewer types: a longer list repeats some, and
				// would cost a decision per name.
				return badRequest(fmt.Sprintf("_type names more than %d resource types", MaxTypes))
			}
			if acc, _ := a.access(g, c, t, scope.Search); acc != scope.Allowed {
				return a.deny(req, bundled, "the token does not allow searching every type in _type")
			}
		}
	}
	if n == 0 {
		if acc, _ := a.access(g, c, "*", scope.Search); acc != scope.Allowed {
			return a.deny(req, bundled, "a search of every type needs a scope for every type")
		}
	}
	return nil
}

// searchType decides a search of one type: granted, or granted under
// granular constraints that the query carries, that narrowing adds
// (rewrite), or that the guard applies to the answer.
func (a *Engine) searchType(g *smartctx.Grant, req *Request, d *decision, q, f string, rewrite, bundled bool) error {
	acc, cons := a.access(g, req.Context, req.Type, scope.Search)
	switch acc {
	case scope.Denied:
		return a.deny(req, bundled, "the token has no scope for this search")
	case scope.Constrained:
		d.Constraints = cons
		var merged scope.Constraint
		switch {
		case queryMatchesOne(cons, q, f) || queryWithin(cons, q, f):
		case !rewrite:
			// Narrowed, if at all, in the attempts that narrow.
			return a.deny(req, bundled, "granular scopes allow only searches that carry their parameters")
		case len(cons) == 1:
			merged = cons[0]
		case mergeable(req.Type, cons, &merged):
		case len(cons) > 1 && !a.opt.SkipResponseGuard && !bundled && req.Interaction == scope.InteractionSearchType && !req.Conditional:
			// Several alternatives cannot be ORed into one FHIR query:
			// forwarded as it is, the response guard keeps the entries
			// that match one of them, removes "total" and says that
			// others were withheld. Only a search: the search of a
			// conditional update or delete selects what it writes, which
			// no guard can filter afterwards.
			d.filtered = true
		default:
			return a.deny(req, bundled, "granular scopes allow only searches that carry their parameters")
		}
		if merged != nil {
			// ANDed with whatever the query says: a server applying it
			// returns exactly the matches the grant allows.
			for _, p := range merged {
				d.Query = appendParam(d.Query, p.Name, p.Value)
			}
			d.Rewritten = true
		}
	}
	return nil
}

// queryWithin reports whether the query holds its results to the
// alternatives cons through a ","-list: one of its parameters lists values
// (ORed) each of which an alternative allows for that parameter, the rest
// of that alternative being in the query exactly. So under the laboratory
// and vital-signs scopes of Observation,
// "category=...|laboratory,...|vital-signs" is held to them, as is
// "category=...|laboratory" under a scope "category=...|laboratory,...|survey".
// Every match then has one of the listed values, and the alternative
// allowing that value.
func queryWithin(cons []scope.Constraint, q, f string) bool {
	for p := range fhirrest.Params(q, f) {
		if strings.IndexByte(p.Name, ':') >= 0 {
			// A modifier may not OR its values (":not" excludes each):
			// only the exact parameter counts.
			continue
		}
		if strings.IndexByte(p.Value, ',') < 0 && !anyListed(cons, p.Name) {
			continue // no list here, nor in the alternatives: queryMatchesOne decided
		}
		vals, ok := splitList(p.Value)
		if !ok {
			continue
		}
		all := true
		for _, v := range vals {
			if !someAlternativeAllows(cons, p.Name, v, q, f) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// anyListed reports whether an alternative of cons gives parameter name a
// ","-list.
func anyListed(cons []scope.Constraint, name string) bool {
	for _, c := range cons {
		for _, p := range c {
			if p.Name == name && strings.IndexByte(p.Value, ',') >= 0 {
				return true
			}
		}
	}
	return false
}

// someAlternativeAllows reports whether an alternative of cons lists v
// among the values of parameter name, every other parameter of it being
// in the query exactly.
func someAlternativeAllows(cons []scope.Constraint, name, v, q, f string) bool {
	for _, c := range cons {
		for i, p := range c {
			if p.Name != name {
				continue
			}
			vals, ok := splitList(p.Value)
			if !ok || !slices.Contains(vals, v) {
				continue
			}
			if rest := without(c, i); len(rest) == 0 || queryMatchesOne([]scope.Constraint{rest}, q, f) {
				return true
			}
		}
	}
	return false
}

// splitList splits a search value at the "," not escaped with "\" (FHIR
// R4 search, "Escaping Search Parameters"); ok is false for an empty value
// or item, or a value ending in a lone "\".
func splitList(v string) (vals []string, ok bool) {
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
			if i == len(v) {
				return nil, false
			}
		case ',':
			if i == start {
				return nil, false
			}
			vals = append(vals, v[start:i])
			start = i + 1
		}
	}
	if start == len(v) {
		return nil, false
	}
	return append(vals, v[start:]), true
}

// mergeable reports whether the alternatives cons (two or more) of a
// search of typ differ only in the value of one token parameter without a
// modifier (one category or another, each scope otherwise alike), and
// then sets *merged to the one constraint that ORs them: that parameter
// with the ","-list of their values, and the rest as they all have it.
// Under the ONC (g)(10) category scopes of Condition or Observation a
// search is then narrowed exactly, with paging and total, rather than
// filtered by the guard.
func mergeable(typ string, cons []scope.Constraint, merged *scope.Constraint) bool {
	first := cons[0]
	for i, cand := range first {
		name := cand.Name
		if strings.IndexByte(name, ':') >= 0 || !search.IsToken(typ, name) || countParam(first, name) != 1 {
			continue
		}
		rest := without(first, i)
		vals, ok := splitList(cand.Value)
		if !ok {
			continue
		}
		same := true
		for _, c := range cons[1:] {
			j := indexParam(c, name)
			if len(c) != len(first) || j < 0 || countParam(c, name) != 1 || !sameParams(without(c, j), rest) {
				same = false
				break
			}
			more, ok := splitList(c[j].Value)
			if !ok {
				same = false
				break
			}
			for _, v := range more {
				if !slices.Contains(vals, v) {
					vals = append(vals, v)
				}
			}
		}
		if !same {
			continue
		}
		out := slices.Clone(first)
		out[i].Value = strings.Join(vals, ",")
		*merged = out
		return true
	}
	return false
}

func countParam(c scope.Constraint, name string) int {
	n := 0
	for _, p := range c {
		if p.Name == name {
			n++
		}
	}
	return n
}

func indexParam(c scope.Constraint, name string) int {
	for i, p := range c {
		if p.Name == name {
			return i
		}
	}
	return -1
}

func without(c scope.Constraint, i int) scope.Constraint {
	out := make(scope.Constraint, 0, len(c)-1)
	return append(append(out, c[:i]...), c[i+1:]...)
}

// sameParams reports whether a and b hold the same parameters, in any
// order.
func sameParams(a, b scope.Constraint) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
	for _, p := range a {
		found := false
		for j, o := range b {
			if !used[j] && o == p {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// searchPatient holds a search to the patient in context: no patient
// parameter may name anyone else, and a search of a type that can belong
// to a patient must be limited to that patient, or is narrowed to it
// (rewrite).
func (a *Engine) searchPatient(req *Request, d *decision, q, f string, rewrite, bundled bool) error {
	pid, typ := req.patient, req.Type
	if err := a.noOtherPatient(req, typ, q, f, bundled); err != nil {
		return err
	}
	switch {
	case req.CompartmentType == "Patient":
		if req.CompartmentID != pid || typ == "Patient" {
			return a.deny(req, bundled, "patient scopes reach only the compartment of the patient in context")
		}
		return nil
	case typ == "" || typ == "*":
		return a.deny(req, bundled, "patient scopes cannot search every type: search Patient/<id>/* instead")
	case !compartment.In(typ):
		// A type about no patient (NonCompartmentPolicy applied by
		// access); what the answer includes is still checked.
		return nil
	}
	if a.restricted(typ, pid, q, f) {
		return nil
	}
	if !rewrite {
		return a.deny(req, bundled, "the search must be limited to the patient in context (patient=Patient/<id>)")
	}
	name, value, ok := compartmentParam(typ, pid)
	if !ok {
		return a.deny(req, bundled, "a search of "+typ+" cannot be limited to the patient in context")
	}
	d.Query = appendParam(d.Query, name, value)
	d.Rewritten = true
	return nil
}

// noOtherPatient refuses, under a patient limit, a search with a name
// that is not plain (see plainNames), or whose patient
// parameters name anyone but that patient, in any spelling: "patient",
// "subject", "subject:Patient", any other compartment parameter of typ,
// with "Patient/456", "456" or an absolute URL, given once or repeated,
// and "_id" for Patient. Whatever else limits the search, a server that
// reads the first value of a repeated parameter (url.Values.Get does)
// would answer, count, change or delete another patient's data.
// Chains and modifiers that select by something else (":identifier",
// ":missing") are ANDed with the patient and left alone; a type modifier
// other than ":Patient" names someone else.
func (a *Engine) noOtherPatient(req *Request, typ, q, f string, bundled bool) error {
	pid := req.patient
	restrictors := compartment.Restrictors(typ)
	for p := range fhirrest.RawParams(q, f) {
		if !plainName(p.Name) {
			return errNameNotPlain()
		}
		name, mod, _ := strings.Cut(p.Name, ":")
		if strings.IndexByte(name, '.') >= 0 || strings.IndexByte(mod, '.') >= 0 {
			continue // a chain selects by the referenced resource's elements
		}
		if typ == "Patient" && strings.EqualFold(name, "_id") {
			if mod != "" || !allValues(p.Value(), func(v string) bool { return v == pid }) {
				return a.deny(req, bundled, "patient scopes reach only the patient in context (_id)")
			}
			continue
		}
		// In any case: a server that reads names without regard to case
		// takes "Patient=456" or "subject:PATIENT=456" for the patient
		// parameter, beside the one that narrows the search.
		patientOnly, ok := restrictorFold(restrictors, name)
		if !ok {
			continue
		}
		bare := patientOnly
		switch {
		case mod == "":
		case strings.EqualFold(mod, "Patient"):
			bare = true
		case scope.IsR4Type(mod) || hasUpper(mod):
			// A type other than Patient, or a modifier no FHIR server
			// defines (FHIR's are lower case) that one could take
			// for a type.
			return a.deny(req, bundled, "under patient scopes "+name+" may name only the patient in context")
		default:
			continue
		}
		if !allValues(p.Value(), func(v string) bool { return a.namesPatient(v, pid, bare) }) {
			return a.deny(req, bundled, "under patient scopes "+name+" may name only the patient in context")
		}
	}
	return nil
}

// restrictorFold looks name up in restrictors (see compartment.Restrictors)
// without regard to ASCII case.
func restrictorFold(restrictors map[string]bool, name string) (patientOnly, ok bool) {
	if patientOnly, ok = restrictors[name]; ok || !hasUpper(name) {
		return patientOnly, ok
	}
	for r, only := range restrictors {
		if strings.EqualFold(r, name) {
			return only, true
		}
	}
	return false, false
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// MaxTypes bounds the names in _type: R4 has 146 resource types.
const MaxTypes = 200

// restricted reports whether the search already limits its results to the
// compartment of Patient/pid: one of its parameters (ANDed with the rest)
// is a compartment parameter of typ, or "patient", every value of which
// (values separated by "," are ORed) names that patient. For Patient
// itself, "_id" must name the patient.
func (a *Engine) restricted(typ, pid, q, f string) bool {
	restrictors := compartment.Restrictors(typ)
	for p := range fhirrest.RawParams(q, f) {
		name, mod, _ := strings.Cut(p.Name, ":")
		if typ == "Patient" {
			if name == "_id" && mod == "" && allValues(p.Value(), func(v string) bool { return v == pid }) {
				return true
			}
			continue
		}
		patientOnly, ok := restrictors[name]
		if !ok || mod != "" && mod != "Patient" {
			continue
		}
		bare := mod == "Patient" || patientOnly
		if allValues(p.Value(), func(v string) bool { return a.namesPatient(v, pid, bare) }) {
			return true
		}
	}
	return false
}

// namesPatient reports whether a reference search value v names
// Patient/pid: "Patient/pid", the absolute URL of it under Base, or bare
// "pid" when the parameter can only mean a Patient.
func (a *Engine) namesPatient(v, pid string, bare bool) bool {
	if bare && v == pid {
		return true
	}
	if a.baseURL != "" {
		if rest, ok := strings.CutPrefix(v, a.baseURL); ok {
			v, ok = strings.CutPrefix(rest, "/")
			if !ok {
				return false
			}
		}
	}
	rest, ok := strings.CutPrefix(v, "Patient/")
	return ok && rest == pid
}

// compartmentParam is what narrowing adds to limit a search of typ to the
// compartment of Patient/pid: "patient" where typ has it, else its first
// compartment parameter (which may narrow the search further than the
// compartment, never widen it).
func compartmentParam(typ, pid string) (name, value string, ok bool) {
	if typ == "Patient" {
		return "_id", pid, true
	}
	restrictors := compartment.Restrictors(typ)
	if _, ok := restrictors["patient"]; ok {
		return "patient", "Patient/" + pid, true
	}
	for _, p := range compartment.Params(typ) {
		if _, ok := restrictors[p]; ok {
			return p, "Patient/" + pid, true
		}
	}
	return "", "", false // no search parameter (Binary's securityContext)
}

func allValues(list string, ok func(string) bool) bool {
	if list == "" {
		return false
	}
	for v := range strings.SplitSeq(list, ",") {
		if !ok(v) {
			return false
		}
	}
	return true
}

// queryMatchesOne reports whether the query carries, for one of the
// alternatives, every one of its parameters with exactly its value.
func queryMatchesOne(cons []scope.Constraint, q, f string) bool {
	for _, c := range cons {
		all := true
		for _, want := range c {
			has := false
			for p := range fhirrest.RawParams(q, f) {
				if p.Name == want.Name && p.ValueIs(want.Value) {
					has = true
					break
				}
			}
			if !has {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// appendParam adds name=value to the raw query q, escaped but for the
// commas of a value's list, which FHIR servers split the decoded value at
// all the same.
func appendParam(q, name, value string) string {
	p := url.QueryEscape(name) + "=" + strings.ReplaceAll(url.QueryEscape(value), "%2C", ",")
	if q == "" {
		return p
	}
	return q + "&" + p
}

// history decides type and system history: "s" on the type, or on every
// type. Under patient/ scopes, only types outside the compartment, as
// history cannot be limited to a compartment.
func (a *Engine) history(g *smartctx.Grant, req *Request, d *decision, bundled bool) error {
	typ := req.Type
	if typ == "" {
		typ = "*"
	}
	if req.patient != "" && (typ == "*" || compartment.In(typ)) {
		return a.deny(req, bundled, "patient scopes cannot read history beyond an instance")
	}
	if acc, _ := a.access(g, req.Context, typ, scope.Search); acc != scope.Allowed {
		return a.deny(req, bundled, "the token has no scope for this history")
	}
	return nil
}

// operation decides an operation declared in the configuration.
func (a *Engine) operation(g *smartctx.Grant, req *Request, d *decision, bundled bool) error {
	var op Operation
	var ok bool
	switch {
	case req.ID != "":
		if op, ok = a.ops[req.Type+"/[id]/"+req.Operation]; !ok {
			op, ok = a.ops["*/[id]/"+req.Operation]
		}
	case req.Type != "":
		if op, ok = a.ops[req.Type+"/"+req.Operation]; !ok {
			op, ok = a.ops["*/"+req.Operation]
		}
	default:
		op, ok = a.ops[req.Operation]
	}
	if !ok || op.Permission == 0 {
		return a.deny(req, bundled, "operation "+req.Operation+" is not allowed")
	}
	d.opPerm = op.Permission
	typ := req.Type
	if op.AllTypes || typ == "" {
		typ = "*"
	}
	if acc, _ := a.access(g, req.Context, typ, op.Permission); acc != scope.Allowed {
		return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope,
			Description: "the token has no scope for operation " + req.Operation,
			Scope:       req.Context.String() + "/" + typ + "." + op.Permission.String()}
	}
	pid := req.patient
	if pid == "" {
		return nil
	}
	switch {
	case req.ID != "" && req.Type == "Patient":
		if req.ID != pid {
			return a.deny(req, bundled, "patient scopes reach only the patient in context")
		}
	case req.ID != "" && compartment.In(req.Type):
	case req.Type != "" && !compartment.In(req.Type) && !op.AllTypes:
		// outside the compartment, allowed by the NonCompartmentPolicy
	default:
		return a.deny(req, bundled, "patient scopes allow this operation only on one instance")
	}
	return nil
}

// foldKey maps key to one representative of the keys equal to it under
// Unicode simple case folding (strings.EqualFold, which is how
// encoding/json matches keys to struct fields).
func foldKey(key string) string {
	var b strings.Builder
	for _, r := range key {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// decideBundle decides every entry of a batch or transaction on its own.
// One refused entry refuses the whole bundle: a transaction is atomic, and
// a batch answered in part would need the handler to enforce the refusal.
func (a *Engine) decideBundle(ctx context.Context, g *smartctx.Grant, body []byte) (*decision, error) {
	notBundle := badRequest("the body is not a FHIR batch or transaction Bundle")
	// One pass, which stops at the entry past the bound: an oversized
	// batch costs no more than MaxBundleEntries entries.
	res, err := fhirjson.ScanLimit(body, a.opt.MaxBundleEntries)
	switch {
	case errors.Is(err, fhirjson.ErrTooManyEntries):
		return nil, &Error{Status: http.StatusRequestEntityTooLarge,
			Description: fmt.Sprintf("a bundle may have at most %d entries", a.opt.MaxBundleEntries)}
	case err != nil:
		return nil, notBundle
	}
	fb, err := res.Bundle()
	if err != nil {
		return nil, notBundle
	}
	d := &decision{Request: smartctx.Request{Method: http.MethodPost, Interaction: scope.InteractionBatch}}
	switch fb.Type {
	case "transaction":
		d.Interaction = scope.InteractionTransaction
	case "batch":
	default:
		return nil, notBundle
	}
	d.more().entries = make([]*decision, 0, len(fb.Entries))
	forwarded, narrowed := 0, 0
	for i := range fb.Entries {
		ed, err, fatal := a.decideEntry(ctx, g, fb.Entries[i].Span.Of(body), i)
		if fatal != nil {
			return nil, fatal
		}
		var refused *Error
		switch {
		case err == nil:
			d.rare.entries = append(d.rare.entries, ed)
			forwarded++
			if ed.rare != nil && ed.rare.entry != nil {
				// Narrowed: forwarded with its request.url replaced.
				fb.Replace(i, ed.rare.entry...)
				ed.rare.entry = nil
				narrowed++
			}
		case d.Interaction == scope.InteractionBatch && !a.opt.SkipResponseGuard && errors.As(err, &refused):
			// A batch is answered entry by entry (SMART 2.2, FHIR
			// batch): the refused entry is not forwarded, and the
			// guard puts its refusal in its place in the answer.
			d.more().refused = append(d.refused(), refusal{index: i, err: refused})
			fb.Drop(i)
		default:
			// A transaction is all or nothing; without the guard
			// nothing would answer the refused entry.
			return nil, entryError(i, err)
		}
	}
	d.more().entryCount = len(fb.Entries)
	if (len(d.refused()) > 0 || narrowed > 0) && forwarded > 0 {
		// The batch as it came, without the refused entries, with the
		// narrowed ones' URLs.
		if d.rare.forward, err = fb.Rewrite(fhirjson.NoTotal, nil); err != nil {
			return nil, notBundle
		}
	}
	return d, nil
}

// decideEntry decides entry i of a batch or transaction, raw: the
// entry's decision or its refusal (err), or, for an entry that cannot be
// decided at all (no valid request, a URL off this base, a nested
// bundle), the error that refuses the whole bundle (fatal).
func (a *Engine) decideEntry(ctx context.Context, g *smartctx.Grant, raw []byte, i int) (ed *decision, err, fatal error) {
	e, ok := readEntry(raw)
	if !ok || e.method == "" || e.url == "" {
		return nil, nil, badRequest(fmt.Sprintf("bundle entry %d has no valid request", i))
	}
	method, rel := e.method, e.url
	if a.baseURL != "" {
		if rest, ok := strings.CutPrefix(rel, a.baseURL+"/"); ok {
			rel = rest
		}
	}
	path, query, _ := strings.Cut(rel, "?")
	if strings.Contains(path, "://") || strings.HasPrefix(path, "/") {
		// Only the path: a search value may be a URL (a token's
		// system, "category=http://...|laboratory").
		return nil, nil, badRequest(fmt.Sprintf("bundle entry %d: the URL is not relative to this FHIR base", i))
	}
	if err := noMethodParam(query); err != nil {
		return nil, nil, entryError(i, err)
	}
	fr, err := fhirrest.Classify(method, path, query, e.ifNoneExist)
	if err == nil && (fr.Interaction == scope.InteractionBatch || fr.Interaction == scope.InteractionSearchSystem && method == http.MethodPost ||
		fr.Interaction == scope.InteractionSearchType && method == http.MethodPost) {
		err = errors.New("nested bundles and POST searches are not allowed in a bundle")
	}
	if err != nil {
		return nil, nil, entryError(i, classifyError(err))
	}
	req := Request{Request: fr}
	criteria := ""
	if fr.Conditional && fr.Interaction == scope.InteractionCreate {
		req.Query, criteria = query, fr.Query
	}
	if fr.Interaction == scope.InteractionCreate || fr.Interaction == scope.InteractionUpdate {
		req.Resource = e.resource
	}
	ed, err = a.decide(ctx, g, &req, criteria, true)
	if err == nil && ed.Rewritten {
		// The entry as it came, its request.url the narrowed search.
		u, merr := json.Marshal(path + "?" + ed.Query)
		if merr != nil {
			return nil, nil, badRequest(fmt.Sprintf("bundle entry %d has no valid request", i))
		}
		ed.more().entry = [][]byte{raw[:e.urlAt.Start:e.urlAt.Start], u, raw[e.urlAt.End:]}
	}
	conditional := e.ifNoneMatch != "" || e.ifModifiedSince != "" || e.ifMatch != ""
	if err == nil && conditional && method == http.MethodGet && ed.restricted() {
		// Answered by the handler (304, 412, with the resource's etag)
		// for a resource the guard then never sees: whether it exists
		// would show.
		err = badRequest("under these scopes a read in a bundle cannot be conditional (ifNoneMatch, ifModifiedSince, ifMatch)")
	}
	return ed, err, nil
}

// entryRequest is what decideBundle reads of a batch or transaction
// entry: its request's method, url and conditional headers, each "" when
// absent or null, and its resource.
type entryRequest struct {
	method, url                                        string
	ifNoneExist, ifMatch, ifNoneMatch, ifModifiedSince string
	resource                                           []byte        // nil when absent
	urlAt                                              fhirjson.Span // the url's JSON value in the entry
}

var (
	entryMembers   = []string{"request", "resource"}
	requestMembers = []string{"method", "url", "ifNoneExist", "ifMatch", "ifNoneMatch", "ifModifiedSince"}
)

// readEntry reads a bundle entry's request (internal/fhirjson, in one
// pass, without decoding the entry). ok is false, as the entry cannot be
// decided, when the entry or its request is not an object, has two keys
// equal or equal under case folding, or a key that folds to one of
// theirs ("Request", "IfNoneExist"): a server could read another member
// than the one checked. It is false too when a request member read is
// not a string (or null).
func readEntry(raw []byte) (e entryRequest, ok bool) {
	m, err := fhirjson.Members(raw, entryMembers...)
	if err != nil || m[0].Len() == 0 {
		return e, false
	}
	request := m[0].Of(raw)
	rm, err := fhirjson.Members(request, requestMembers...)
	if err != nil {
		return e, false
	}
	for k, s := range [...]*string{&e.method, &e.url, &e.ifNoneExist, &e.ifMatch, &e.ifNoneMatch, &e.ifModifiedSince} {
		if *s, ok = fhirjson.DecodeString(rm[k].Of(request)); !ok {
			return e, false
		}
	}
	e.urlAt = fhirjson.Span{Start: m[0].Start + rm[1].Start, End: m[0].Start + rm[1].End}
	if m[1].Len() > 0 {
		e.resource = m[1].Of(raw)
	}
	return e, true
}

// refusal is a batch entry refused on its own.
type refusal struct {
	index int
	err   *Error
}

func entryError(i int, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Description = fmt.Sprintf("bundle entry %d: %s", i, e.Description)
	return &c
}

// patchLeavesAlone reports whether body is a JSON Patch (RFC 6902) none of
// whose operations touches, at the top level of a resource of type typ,
// an element of the patient compartment (when compartment is set) or of
// the granular constraints cons, nor the whole resource. Such a patch
// cannot move a resource out of the compartment (subject Patient/123 →
// Patient/456) or out of a granular scope (category laboratory →
// social-history); the library cannot check other patch formats, which
// are refused.
func patchLeavesAlone(body []byte, typ string, compartmentPaths bool, cons []scope.Constraint) bool {
	guarded := map[string]bool{}
	add := func(p compartment.Param) {
		for _, path := range p.Paths {
			top, _, _ := strings.Cut(path, ".")
			top, _, _ = strings.Cut(top, "@")
			guarded[foldKey(top)] = true
			guarded[foldKey("_"+top)] = true
		}
	}
	if compartmentPaths {
		for _, code := range compartment.Params(typ) {
			p, _ := compartment.SearchParam(typ, code)
			add(p)
		}
	}
	for _, c := range cons {
		for _, kv := range c {
			p, ok := compartment.SearchParam(typ, kv.Name)
			if !ok {
				return false
			}
			add(p)
		}
	}
	err := fhirjson.Elements(body, func(s fhirjson.Span) error {
		return patchOpLeavesAlone(s.Of(body), guarded)
	})
	return err == nil
}

// errTouches refuses a JSON Patch operation on a guarded element.
var errTouches = errors.New("the patch touches an element the grant guards")

// patchOpLeavesAlone checks one JSON Patch operation, op, read with
// fhirjson (an object with no key given twice or folding to one it
// reads): its "path" and "from" must point below the top level, at no
// element of guarded ("test" only reads).
func patchOpLeavesAlone(op []byte, guarded map[string]bool) error {
	spans, err := fhirjson.Members(op, "op", "path", "from")
	if err != nil {
		return err
	}
	name, ok := fhirjson.DecodeString(spans[0].Of(op))
	if !ok || name == "" {
		return errTouches
	}
	for k, key := range [...]string{"path", "from"} {
		s := spans[k+1]
		if key == "from" && s.Len() == 0 {
			continue // absent
		}
		ptr, ok := fhirjson.DecodeString(s.Of(op))
		if !ok {
			return errTouches
		}
		if name == "test" {
			continue
		}
		top, _, _ := strings.Cut(strings.TrimPrefix(ptr, "/"), "/")
		top = strings.ReplaceAll(strings.ReplaceAll(top, "~1", "/"), "~0", "~")
		if !strings.HasPrefix(ptr, "/") || top == "" || guarded[foldKey(top)] {
			return errTouches
		}
	}
	return nil
}

func hasContained(q, f string) bool {
	for p := range fhirrest.RawParams(q, f) {
		if p.Name == "_containedType" || p.Name == "_contained" && p.Value() != "false" {
			return true
		}
	}
	return false
}
