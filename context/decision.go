package context

import (
	stdctx "context"
	"net/url"
	"slices"
	"strings"

	"github.com/smartguard/smartguard/internal/ctxkey"
	"github.com/smartguard/smartguard/scope"
)

// Request is a FHIR REST request as the authorizer classified it: which
// interaction, on which resource type and instance, with which search. It
// is a plain value; copying it copies everything in it.
type Request struct {
	// Method is the HTTP method ("GET", ...) or, for a bundle entry, the
	// entry's request.method.
	Method string
	// Interaction is what the request does: read, search-type, create...
	Interaction scope.Interaction
	// Type is the resource type, "" at system level, "*" for a
	// compartment search of every type ("Patient/123/*").
	Type string
	// ID and VersionID name the instance, if any
	// ("Observation/1/_history/2").
	ID, VersionID string
	// Operation is the operation's name with its "$" ("$everything").
	Operation string
	// CompartmentType and CompartmentID name the compartment of a
	// compartment search ("Patient", "123" for "Patient/123/Observation").
	CompartmentType, CompartmentID string
	// Query is the raw URL query the handler must run, after any
	// rewriting. (A conditional create's search is its If-None-Exist
	// header, or a bundle entry's request.ifNoneExist, which the
	// authorizer checks as a search of its own.)
	Query string
	// Form is the raw form body of a POST _search.
	Form string
	// Conditional is set for conditional create, update, patch and
	// delete: Query (If-None-Exist for a create) is then the search that
	// selects the resource.
	Conditional bool
	// Rewritten reports that the authorizer added the patient
	// compartment or a granular constraint to Query, instead of refusing
	// the request.
	Rewritten bool
}

// Params returns the decoded search parameters of Query and Form, in
// order. Malformed escapes are kept as they are.
func (r Request) Params() url.Values {
	v := url.Values{}
	for _, q := range [...]string{r.Query, r.Form} {
		for kv := range strings.SplitSeq(q, "&") {
			if kv == "" {
				continue
			}
			k, val, _ := strings.Cut(kv, "=")
			v.Add(unescape(k), unescape(val))
		}
	}
	return v
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// Limits is what a decision leaves to enforce on the resources a request
// reads, returns or changes.
type Limits struct {
	// Context is the scope context that allowed the request: scope.Patient,
	// scope.User or scope.System; 0 for capabilities (metadata), which any
	// valid token may read, and for batch and transaction bundles.
	Context scope.Context
	// Patient, when not empty, is the patient whose compartment limits
	// the request. It is set under patient/ scopes whatever type the
	// request names. Every resource the handler reads, returns or changes
	// for it whose type can belong to a patient (the R4 patient
	// compartment's types, and types outside it that refer to a patient,
	// such as Device) must be in the compartment of Patient/<Patient> (for
	// a history, every version returned), and a resource updated, patched
	// or deleted must be in it before and after; a Patient must be that
	// patient. Types about no patient (Medication, Organization, ...) are
	// not limited by it, but what they include is.
	Patient string
	// Constraints, when not nil, are the granular-scope alternatives the
	// request is limited to: every resource must match one of them.
	Constraints []scope.Constraint
	// Includes reports that the query has _include or _revinclude, which
	// the configuration allows: every included resource needs its own
	// check against the grant.
	Includes bool
}

// Decision is what the authorizer decided for one FHIR REST request, and
// what it leaves to enforce. The middleware puts it on the request context
// beside the Grant; read it with DecisionFromContext.
//
// A Decision is immutable: its getters return copies, so a handler cannot
// widen the decision the middleware enforces (the middleware keeps its
// own copy in any case). Every getter is safe on a nil *Decision.
//
// The authorizer sees the request, not the stored data. When Patient or
// Constraints are set, every resource read, returned, changed or deleted
// for this request must be in the patient's compartment and match a
// constraint. The middleware's response guard (on unless
// Config.FHIR.SkipResponseGuard) checks what the handler returns, and the
// stored resource before an update, patch or delete; a handler without
// the guard must do both itself (middleware.Permits). For searches the
// query the handler receives already carries both restrictions.
type Decision struct {
	req     Request
	lim     Limits
	entries []*Decision
}

// NewDecision returns a Decision for req with limits l and, for a batch or
// transaction, the decisions of its entries in order. It copies l's
// constraints. Tests of handlers use it to put a decision on a request
// (WithDecision); the middleware makes its own.
func NewDecision(req Request, l Limits, entries ...*Decision) *Decision {
	l.Constraints = cloneConstraints(l.Constraints)
	return &Decision{req: req, lim: l, entries: slices.Clone(entries)}
}

func cloneConstraints(cs []scope.Constraint) []scope.Constraint {
	if cs == nil {
		return nil
	}
	out := make([]scope.Constraint, len(cs))
	for i, c := range cs {
		out[i] = slices.Clone(c)
	}
	return out
}

// Request returns the classified request the decision is about.
func (d *Decision) Request() Request {
	if d == nil {
		return Request{}
	}
	return d.req
}

// Limits returns what the decision leaves to enforce (a copy).
func (d *Decision) Limits() Limits {
	if d == nil {
		return Limits{}
	}
	l := d.lim
	l.Constraints = cloneConstraints(l.Constraints)
	return l
}

// Entries returns the decisions of the entries of a batch or transaction
// bundle, in order, or nil.
func (d *Decision) Entries() []*Decision {
	if d == nil {
		return nil
	}
	return slices.Clone(d.entries)
}

// Restricted reports whether the handler has something to enforce: a
// patient compartment, granular constraints or included resources, here
// or in a bundle entry. A nil Decision is restricted: it permits nothing.
func (d *Decision) Restricted() bool {
	if d == nil {
		return true
	}
	if d.lim.Patient != "" || d.lim.Constraints != nil || d.lim.Includes {
		return true
	}
	for _, e := range d.entries {
		if e.Restricted() {
			return true
		}
	}
	return false
}

// WithDecision returns a copy of ctx carrying d.
func WithDecision(ctx stdctx.Context, d *Decision) stdctx.Context {
	return stdctx.WithValue(ctx, ctxkey.Decision{}, d)
}

// DecisionFromContext returns the Decision carried by ctx, if any.
func DecisionFromContext(ctx stdctx.Context) (*Decision, bool) {
	d, ok := ctx.Value(ctxkey.Decision{}).(*Decision)
	return d, ok && d != nil
}
