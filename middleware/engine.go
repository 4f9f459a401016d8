package middleware

// The boundary with the FHIR decision engine (internal/engine): the
// public types a Config declares the engine's rules with, and their
// translation into the engine's own options, errors and hooks.

import (
	"context"
	"errors"
	"net/http"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/engine"
	"github.com/smartguard/smartguard/scope"
)

// NonCompartmentPolicy says what patient/ scopes allow on resource types
// that can belong to no patient (Medication, Practitioner, Organization,
// Location, ...): data not about any patient, which patient apps often
// need to show what the patient's own data refers to. Types outside the
// R4 patient compartment that refer to a patient (Device, Task, Binary,
// ...: see docs/security.md, "Patient-linked types") are not among them:
// they are held to the patient in context like the compartment's.
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
// (Limits.Patient) on a type of the compartment; type- and system-level
// operations are refused, except on types outside the compartment as the
// NonCompartmentPolicy allows.
type Operation struct {
	Permission scope.Permission
	AllTypes   bool
}

// DefaultOperations returns the operations a Guard allows when its
// Config declares none: "Patient/[id]/$everything", which needs read
// and search on every type ("patient/*.rs" for the patient's own record,
// "user/*.rs" or "system/*.rs" otherwise). "$export" is not among them.
func DefaultOperations() map[string]Operation {
	return map[string]Operation{
		"Patient/[id]/$everything": {Permission: scope.Read | scope.Search, AllTypes: true},
	}
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

// IsStoredRead reports whether r is the Guard's own read of a stored
// resource: before an update, patch or delete by id, or an instance
// operation, under a restricted decision, the Guard asks the handler for
// the resource with a GET and checks it. Framework adapters
// (middleware/gin, middleware/echo) route such a request through their
// router to the read handler, without protecting it again: what it
// answers goes to the Guard, never to the client. A client cannot make a
// request for which it reports true.
func IsStoredRead(r *http.Request) bool { return engine.IsGuardRead(r) }

func errNoGrant() *Error {
	return &Error{Status: http.StatusInternalServerError, Description: "authorization is not configured",
		Err: errors.New("no grant on the request context: authentication must run before authorization")}
}

func errNotFHIR() *Error {
	return &Error{Status: http.StatusNotFound, Description: "not a FHIR endpoint of this server"}
}

// newEngine returns the engine that decides and guards the requests of
// one base: the FHIR base path (escaped) of audience aud.
func newEngine(cfg *Config, path, aud string, onError ErrorHandler) *engine.Engine {
	ops := make(map[string]engine.Operation, len(cfg.FHIR.Operations))
	for k, op := range cfg.FHIR.Operations {
		ops[k] = engine.Operation(op)
	}
	opt := engine.Options{
		BasePath:                   path,
		BaseURL:                    aud,
		NonCompartment:             engine.NonCompartmentPolicy(cfg.FHIR.NonCompartment),
		Operations:                 ops,
		RefuseIncludes:             cfg.FHIR.RefuseIncludes,
		RefuseBroadSearches:        cfg.FHIR.RefuseBroadSearches,
		NotFoundForDenied:          cfg.FHIR.NotFoundForDenied,
		SkipPatientUserCompartment: cfg.FHIR.SkipPatientUserCompartment,
		SkipResponseGuard:          cfg.FHIR.SkipResponseGuard,
		MaxBodyBytes:               cfg.Bounds.MaxBodyBytes,
		MaxResponseBytes:           cfg.Bounds.MaxResponseBytes,
		MaxStoredBytes:             cfg.Bounds.MaxStoredBytes,
		MaxBundleEntries:           cfg.Bounds.MaxBundleEntries,
		MaxStoredReads:             cfg.Bounds.MaxStoredReads,
		Export:                     cfg.FHIR.Export.engine(cfg.Tokens.Now),
		OnError:                    func(w http.ResponseWriter, r *http.Request, err error) { onError(w, r, fromEngine(err)) },
		Outcome:                    func(e *engine.Error) []byte { return operationOutcome(fromEngine(e).(*Error)) },
		AccessPolicy:               cfg.AccessPolicy.engine(cfg.Tokens.Now),
	}
	if p := cfg.Policy; p != nil {
		opt.Policy = func(ctx context.Context, g *smartctx.Grant, req *engine.Request) error {
			err := p(ctx, g, &Request{Request: req.Request, Context: req.Context, Resource: req.Resource})
			var e *Error
			if errors.As(err, &e) {
				// The policy's own answer, carried through the engine.
				return &engine.Error{Status: e.Status, Code: e.Code, Description: e.Description, Scope: e.Scope, Err: e}
			}
			return err
		}
	}
	if cfg.Hooks.Audit != nil || cfg.Hooks.Metrics != nil {
		opt.Observer = observer{cfg.Hooks.Metrics}
	}
	return engine.New(opt)
}

// fromEngine returns err, or for an *engine.Error the *Error the Guard
// answers with: a Policy's own *Error as it was.
func fromEngine(err error) error {
	var e *engine.Error
	if !errors.As(err, &e) {
		return err
	}
	if pe, ok := e.Err.(*Error); ok && pe.Status == e.Status && pe.Description == e.Description {
		return pe
	}
	return &Error{Status: e.Status, Code: e.Code, Description: e.Description, Scope: e.Scope, RefusedBy: e.By, Rule: e.Rule, Err: e.Err}
}

// observer records what the engine learns of a request on its audit
// record, and counts guarded answers.
type observer struct{ metrics Metrics }

func (o observer) Classified(ctx context.Context, req *smartctx.Request) {
	if rec := recordOf(ctx); rec != nil {
		rec.request = req
	}
}

func (o observer) Decided(ctx context.Context, req *smartctx.Request, lim *smartctx.Limits) {
	if rec := recordOf(ctx); rec != nil {
		rec.decided, rec.limits = req, lim
	}
}

func (o observer) Guarded(ctx context.Context, n, withheld, refused int) {
	if o.metrics != nil {
		o.metrics.Guarded(n, withheld)
	}
	if rec := recordOf(ctx); rec != nil {
		rec.withheld += withheld + refused
	}
}

// Check that the public declarations keep the engine's values.
var (
	_ = [1]struct{}{}[NonCompartmentNamed-NonCompartmentPolicy(engine.NonCompartmentNamed)]
	_ = [1]struct{}{}[NonCompartmentWildcard-NonCompartmentPolicy(engine.NonCompartmentWildcard)]
	_ = [1]struct{}{}[NonCompartmentDeny-NonCompartmentPolicy(engine.NonCompartmentDeny)]
	_ = scope.Read
)
