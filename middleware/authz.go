package middleware

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/fhirrest"
	"github.com/smartguard/smartguard/scope"
)

// NonCompartmentPolicy says what patient/ scopes allow on resource types
// that are never in a patient compartment (Medication, Practitioner,
// Organization, Location, ...): data not about any patient, which patient
// apps often need to show what the patient's own data refers to.
type NonCompartmentPolicy uint8

const (
	// NonCompartmentNamed (the default) allows them under patient/ scopes
	// that name the type: "patient/Medication.rs" reads and searches every
	// Medication; "patient/*.rs" reaches none of them.
	NonCompartmentNamed NonCompartmentPolicy = iota
	// NonCompartmentWildcard also lets a "patient/*" scope reach them.
	NonCompartmentWildcard
	// NonCompartmentDeny never allows them under patient/ scopes; the app
	// needs user/ or system/ scopes for them.
	NonCompartmentDeny
)

// Operation declares what a FHIR operation needs: the letters of Permission
// on the request's resource type, or on every type ("*" scopes) when
// AllTypes is set or the operation is at system level. Constrained
// (granular) scopes never allow an operation.
//
// Under patient/ scopes an instance-level operation is allowed on the
// patient's own Patient, or with the compartment left to the handler
// (Decision.Patient) on a type of the compartment; type- and system-level
// operations are refused, except on types outside the compartment as the
// NonCompartmentPolicy allows.
type Operation struct {
	Permission scope.Permission
	AllTypes   bool
}

// DefaultOperations returns the operations an Authorizer allows when its
// configuration declares none: "Patient/[id]/$everything", which needs read
// and search on every type ("patient/*.rs" for the patient's own record,
// "user/*.rs" or "system/*.rs" otherwise). "$export" is not among them.
func DefaultOperations() map[string]Operation {
	return map[string]Operation{
		"Patient/[id]/$everything": {Permission: scope.Read | scope.Search, AllTypes: true},
	}
}

// Request is a classified FHIR REST request, as handed to a Policy.
type Request struct {
	// Method is the HTTP method ("GET", ...) or, for a bundle entry, the
	// entry's request.method.
	Method      string
	Interaction scope.Interaction
	// Type is the resource type, "" at system level, "*" for a
	// compartment search of every type.
	Type          string
	ID, VersionID string
	// Operation is the name with its "$" of an operation.
	Operation string
	// CompartmentType and CompartmentID name the compartment of a
	// compartment search ("Patient", "123" for "Patient/123/Observation").
	CompartmentType, CompartmentID string
	// Query is the raw query that will run, after any rewriting; for a
	// conditional create, the If-None-Exist search.
	Query string
	// Form is the raw form body of a POST _search.
	Form string
	// Conditional is set for conditional create, update, patch and delete.
	Conditional bool
	// Context is the scope context the request is being allowed under.
	Context scope.Context
	// Resource is the submitted resource of a create or update, or nil.
	Resource []byte
}

// Params returns the decoded search parameters of Query and Form.
func (r *Request) Params() url.Values {
	v := url.Values{}
	for p := range fhirrest.Params(r.Query, r.Form) {
		v.Add(p.Name, p.Value)
	}
	return v
}

// Policy is the application's own rule, applied after the scopes allowed a
// request: it intersects the scopes with what the user (user/ scopes, the
// identity in g.Subject() or g.FHIRUserReference()) or the client
// (system/ scopes, g.ClientID()) may do. It returns nil to allow, an
// *Error to answer with it, or another error to refuse with 403. It is
// called for patient/ decisions too, after the compartment rules, and for
// every entry of a bundle.
//
// SMART lets a server answer a search with the results the user may not
// see left out (200) rather than refuse it: to do that, allow the search
// here and filter in the handler.
type Policy func(ctx context.Context, g *smartctx.Grant, req *Request) error

// AuthorizerConfig configures an Authorizer. Its zero value, with Base
// set, is the strict configuration.
type AuthorizerConfig struct {
	// Base is the FHIR base, an absolute URL ("https://ehr.example.org/fhir")
	// or a path ("/fhir"). Requests outside it are refused (404). Required.
	Base string

	// RewriteSearch makes the authorizer add the patient compartment or a
	// granular constraint to a search that lacks it, instead of refusing
	// the search (403). The handler then receives the rewritten URL.
	// Default: refuse.
	RewriteSearch bool

	// NonCompartment says what patient/ scopes allow on types outside the
	// patient compartment. Default: NonCompartmentNamed.
	NonCompartment NonCompartmentPolicy

	// Operations declares the operations that may run, keyed "$name"
	// (system level), "Type/$name" (type level) or "Type/[id]/$name"
	// (instance level), with "*" for any type ("*/[id]/$validate").
	// Every other operation is refused. Default (nil): DefaultOperations().
	Operations map[string]Operation

	// AllowIncludes lets searches use _include and _revinclude. The
	// handler (or a response guard) must then check every included
	// resource against the grant: an included resource may belong to
	// another patient or to a type the scopes do not reach. Default:
	// refuse such searches.
	AllowIncludes bool

	// NotFoundForDenied answers 404 instead of 403 when a read, vread or
	// instance history is refused, so that an app cannot learn that a
	// resource it may not see exists. The response guard then answers 404
	// too for a resource it finds outside Decision.Patient or
	// Decision.Constraints; a handler without the guard should do the same.
	NotFoundForDenied bool

	// Policy is the application's own rule; see Policy. Default: none,
	// the scopes alone decide. user/ scopes then reach everything of their
	// types and system/ scopes everything of theirs: SMART says they must
	// be intersected with the user's or client's own permissions, so set a
	// Policy unless the authorization server already limits who gets them.
	Policy Policy

	// MaxBodyBytes bounds the body read to check a create, an update, a
	// POST _search or a bundle. Default: 10 MiB.
	MaxBodyBytes int64

	// SkipResponseGuard turns off the response guard. By default, when a
	// decision leaves something to enforce (Decision.Restricted: a patient
	// compartment, granular constraints, included resources), Handler
	// holds the handler's response and checks it before the client sees
	// it: a single resource outside the decision is answered 403 (404 with
	// NotFoundForDenied), and a Bundle loses the entries the grant does not
	// permit (and its "total"). Before an update, patch or delete by id
	// (also in a bundle) it reads the stored resource through the handler
	// with a GET and lets the write through only if that is permitted.
	// This is what makes reads and writes by id under a patient/ scope
	// safe in front of a FHIR server that knows nothing of SMART. The guard reads JSON only: a response it cannot read (XML,
	// compressed, larger than MaxResponseBytes) is refused with 502. Set
	// SkipResponseGuard only if your handlers apply the Decision
	// themselves (Permits), or to stream large responses; it MUST NOT be
	// set in front of a FHIR server that does not.
	SkipResponseGuard bool

	// MaxResponseBytes bounds a response the guard holds. Default: 32 MiB.
	MaxResponseBytes int64

	// ErrorHandler answers refused requests. Default: WriteError with Realm.
	ErrorHandler ErrorHandler
	// Realm is the realm of WWW-Authenticate challenges. Default: "fhir".
	Realm string
}

// Authorizer decides, for each FHIR REST request, whether the SMART grant
// on the request context allows it. Build it with NewAuthorizer and use its
// Handler after authentication:
//
//	mux.Handle("/fhir/", auth.Handler(authz.Handler(fhir)))
//
// # Requests
//
// Every request under Base is classified as a FHIR R4 REST interaction:
// read, vread, update, patch, delete (also conditional), create (also
// conditional, If-None-Exist), search (GET, POST _search with a form body,
// system level, compartment searches such as Patient/123/Observation or
// Patient/123/*), history (instance, type, system), capabilities
// (metadata), operations ($name at system, type and instance level), and
// batch or transaction bundles. Anything else (an unknown type, a bad id,
// an escaped or empty path segment, "..", a path outside Base, a raw ";"
// in the query) is refused with 400, 404 or 405; nothing unclassified
// reaches the handler.
//
// # Letters
//
// c create; r read, vread, instance history; u update, patch; d delete; s
// search and type or system history (SMART App Launch 2.2). Conditional
// interactions also need s, because they search. Scopes are a union and
// "*" is every type.
//
// # Contexts
//
// patient/, user/ and system/ scopes are separate grants. A request is
// decided under each context with that context's scopes only, and allowed
// if one context allows it; letters and types never carry from one
// context to another (so "user/Practitioner.rs patient/Observation.rs"
// reads the patient's Observations only). If several contexts allow it,
// a decision without restrictions is preferred; otherwise patient/ comes
// first, then user/, then system/. With RewriteSearch, a patient/ rewrite
// is only tried when no context allows the request as it is. The Policy,
// if any, is asked after the scopes; refusing there moves on to the next
// context.
//
// # Patient scopes
//
// They need a patient in context, and reach the FHIR R4 patient
// compartment of that patient:
//   - Patient/<id> for the patient in context only, by id (Patient.link is
//     not followed); no other Patient, and no Patient create;
//   - searches must name the patient in a compartment parameter or
//     "patient" (patient=123, patient=Patient/123, subject=Patient/123,
//     subject:Patient=123, the absolute URL under Base; every value of a
//     ","-list must name the patient, as the values are ORed), or be a
//     compartment search Patient/<id>/<type> (run by the FHIR server with
//     its own compartment rules: Patient/<id>/* may include Patients whose
//     link names the patient, which FHIR says concern the same person;
//     Patient/<id>/Patient is refused); else they are refused, or
//     rewritten (RewriteSearch) to add patient=Patient/<id>;
//   - system search, type and system history of compartment types, and
//     type- or system-level operations are refused;
//   - created and updated resources must be in the compartment and in no
//     other patient's (the body is checked: an Observation with subject
//     Patient/456 and performer Patient/123 is refused, as it would write
//     into Patient/456's record; an absolute reference counts only under
//     Base);
//   - instance reads, updates, patches and deletes are allowed with
//     Decision.Patient set (a patch must be a JSON Patch that leaves the
//     compartment's reference elements alone, so that it cannot move the
//     resource into another patient's record): the response guard (see
//     SkipResponseGuard)
//     refuses a returned resource outside the compartment and, before an
//     update, patch or delete by id, asks the handler for the stored
//     resource with a GET of the same URL and lets the write through only
//     if it is permitted (or absent), with If-Match set to its ETag;
//     with SkipResponseGuard the handler must check the stored resource
//     itself (InPatientCompartment, Permits);
//   - types outside the compartment follow NonCompartment.
//
// # Granular scopes
//
// A constrained scope ("patient/Observation.rs?category=...|laboratory")
// allows a search only if the query carries its parameters exactly (or,
// with RewriteSearch and a single alternative, once they are added), and
// an instance access with Decision.Constraints set for the handler to
// check (MatchesConstraint, Permits). Several alternatives cannot be ANDed
// into one FHIR query: such a search must already carry one of them.
// Created and updated bodies must match one alternative. Granular scopes
// never allow operations or multi-type searches.
//
// # Bundles, operations, includes
//
// Every entry of a batch or transaction is classified and decided on its
// own, as if it came alone (without rewriting); one refused entry refuses
// the whole bundle. Operations need an entry in Operations; _include,
// _revinclude and _query are refused unless AllowIncludes (_query always).
// Reverse chaining (_has) is refused under patient/ and granular scopes,
// and _contained searches when the search is limited to a patient or to
// granular constraints: both select by other resources than the ones
// returned.
type Authorizer struct {
	cfg      AuthorizerConfig
	basePath string
	baseURL  string // "" when Base is a path
	ops      map[string]Operation
	onError  ErrorHandler
}

// NewAuthorizer checks cfg and returns an Authorizer.
func NewAuthorizer(cfg AuthorizerConfig) (*Authorizer, error) {
	a := &Authorizer{cfg: cfg, ops: cfg.Operations}
	u, err := url.Parse(cfg.Base)
	switch {
	case cfg.Base == "" || err != nil:
		return nil, fmt.Errorf("middleware: authorizer Base %q must be the FHIR base URL or path", cfg.Base)
	case u.IsAbs():
		if u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("middleware: authorizer Base %q must be a URL without query or fragment", cfg.Base)
		}
		a.baseURL = strings.TrimSuffix(cfg.Base, "/")
		a.basePath = strings.TrimSuffix(u.EscapedPath(), "/")
	case strings.HasPrefix(cfg.Base, "/") && u.RawQuery == "" && u.Fragment == "" && u.Host == "":
		a.basePath = strings.TrimSuffix(u.EscapedPath(), "/")
	default:
		return nil, fmt.Errorf("middleware: authorizer Base %q must be an absolute URL or a path starting with /", cfg.Base)
	}
	if a.ops == nil {
		a.ops = DefaultOperations()
	}
	if a.cfg.MaxBodyBytes <= 0 {
		a.cfg.MaxBodyBytes = 10 << 20
	}
	if a.cfg.MaxResponseBytes <= 0 {
		a.cfg.MaxResponseBytes = 32 << 20
	}
	if a.cfg.Realm == "" {
		a.cfg.Realm = "fhir"
	}
	a.onError = cfg.ErrorHandler
	if a.onError == nil {
		realm := a.cfg.Realm
		a.onError = func(w http.ResponseWriter, _ *http.Request, err error) { WriteError(w, realm, err) }
	}
	return a, nil
}

// Handler returns next guarded by the authorizer. It must run after
// authentication, which puts the grant on the request context; a request
// without a grant is refused with 500, never let through.
//
// An allowed request reaches next with the Decision on its context
// (smartctx.DecisionFromContext) and, when the query was rewritten, with
// the rewritten URL. Bodies read to decide are given back to next intact.
//
// "GET [base]/metadata" is allowed for any valid token. SMART wants the
// CapabilityStatement public: serve it outside authentication (for
// instance on its own route) if clients call it without a token.
func (a *Authorizer) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, ok := smartctx.FromContext(r.Context())
		if !ok {
			a.onError(w, r, errNoGrant)
			return
		}
		d, err := a.decideHTTP(r.Context(), g, r)
		if err != nil {
			a.onError(w, r, err)
			return
		}
		r = r.WithContext(smartctx.WithDecision(r.Context(), d))
		if d.Rewritten {
			u := *r.URL
			u.RawQuery = d.Query
			r.URL = &u
			r.RequestURI = u.RequestURI()
		}
		if d.Restricted() && !a.cfg.SkipResponseGuard {
			if err := a.checkStored(r, next, g, d); err != nil {
				a.onError(w, r, err)
				return
			}
			a.guard(w, r, next, g, d)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Decide classifies r and decides it for grant g, as Handler would,
// without calling any handler: for tests of an application's own rules,
// or for non-HTTP callers. A body it reads is given back to r.
func (a *Authorizer) Decide(ctx context.Context, g *smartctx.Grant, r *http.Request) (*smartctx.Decision, error) {
	if g == nil {
		return nil, errNoGrant
	}
	return a.decideHTTP(ctx, g, r)
}

var errNoGrant = &Error{Status: http.StatusInternalServerError,
	Description: "authorization is not configured", Err: errors.New("no grant on the request context: authentication must run before the authorizer")}

func (a *Authorizer) decideHTTP(ctx context.Context, g *smartctx.Grant, r *http.Request) (*smartctx.Decision, error) {
	for _, h := range methodOverrides {
		if _, ok := r.Header[h]; ok {
			// Some servers and frameworks run the method named here
			// instead of the request's: refuse rather than decide on
			// the wrong one.
			return nil, badRequest("method override headers are not allowed")
		}
	}
	if err := noMethodParam(r.URL.RawQuery); err != nil {
		return nil, err
	}
	rel, ok := fhirrest.Rel(a.basePath, r.URL.EscapedPath())
	if !ok {
		return nil, &Error{Status: http.StatusNotFound, Description: "not a FHIR endpoint of this server"}
	}
	fr, err := fhirrest.Classify(r.Method, rel, r.URL.RawQuery, r.Header.Get("If-None-Exist"))
	if err != nil {
		return nil, classifyError(err)
	}
	req := Request{Method: fr.Method, Interaction: fr.Interaction, Type: fr.Type, ID: fr.ID,
		VersionID: fr.VersionID, Operation: fr.Operation, CompartmentType: fr.CompartmentType,
		CompartmentID: fr.CompartmentID, Query: fr.Query, Conditional: fr.Conditional}
	if fr.Conditional && fr.Interaction == scope.InteractionCreate {
		req.Query = r.URL.RawQuery // the If-None-Exist search is checked apart
	}
	var body []byte
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
	if r.Method == http.MethodPost && (req.Interaction == scope.InteractionSearchType || req.Interaction == scope.InteractionSearchSystem) {
		if ct := r.Header.Get("Content-Type"); len(body) > 0 && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			return nil, badRequest("a POST _search needs an application/x-www-form-urlencoded body")
		}
		req.Form = string(body)
		if !validForm(req.Form) {
			return nil, badRequest("malformed form body")
		}
		// Method-override middleware (gorilla's HTTPMethodOverrideHandler,
		// Express, Rails) reads "_method" from a form body too.
		if err := noMethodParam(req.Form); err != nil {
			return nil, err
		}
	}
	if req.Interaction == scope.InteractionBatch {
		return a.decideBundle(ctx, g, body)
	}
	req.Resource = body
	ifNoneExist := ""
	if fr.Conditional && fr.Interaction == scope.InteractionCreate {
		ifNoneExist = fr.Query
	}
	return a.decide(ctx, g, &req, ifNoneExist, false)
}

// noMethodParam refuses a "_method" query parameter, which some frameworks
// take as the method to run.
func noMethodParam(q string) error {
	if strings.Contains(q, "method") || strings.IndexByte(q, '%') >= 0 {
		for p := range fhirrest.Params(q) {
			if p.Name == "_method" {
				return badRequest("_method is not allowed")
			}
		}
	}
	return nil
}

var methodOverrides = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

func validForm(f string) bool {
	_, err := url.ParseQuery(f)
	return err == nil
}

func (a *Authorizer) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, a.cfg.MaxBodyBytes+1))
	r.Body.Close()
	if err != nil {
		r.Body = http.NoBody
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: "request body could not be read", Err: err}
	}
	if int64(len(body)) > a.cfg.MaxBodyBytes {
		r.Body = http.NoBody
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Description: "request body too large"}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return body, nil
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
