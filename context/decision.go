package context

import (
	stdctx "context"

	"github.com/smartguard/smartguard/scope"
)

// Decision is what the authorizer decided for one FHIR REST request, and
// what it leaves to the handler. The middleware puts it on the request
// context beside the Grant; read it with DecisionFromContext.
//
// The authorizer sees the request, not the stored data. When Patient or
// Constraints are set, every resource read, returned, changed or deleted
// by id for this request must be in the patient's compartment and match a
// constraint. The middleware's response guard (on unless the authorizer
// is configured with SkipResponseGuard) checks what the handler returns,
// and the stored resource before an update, patch or delete; a handler
// without the guard must do both itself (middleware.Permits). For searches
// the query the handler receives already carries both restrictions.
type Decision struct {
	// Interaction is what the request does: read, search-type, create...
	Interaction scope.Interaction
	// Type is the resource type, "" at system level, "*" for a
	// compartment search of every type ("Patient/123/*").
	Type string
	// ID and VersionID name the instance, if any.
	ID, VersionID string
	// Operation is the operation's name with its "$", for operations.
	Operation string
	// Context is the scope context that allowed the request: scope.Patient,
	// scope.User or scope.System; 0 for capabilities (metadata), which any
	// valid token may read, and for batch and transaction bundles.
	Context scope.Context
	// Patient, when not empty, is the patient whose compartment limits the
	// request: every resource the handler reads, returns or changes for
	// it must be in the compartment of Patient/<Patient> (for a history,
	// every version returned), and a resource updated, patched or deleted
	// must be in it before and after.
	Patient string
	// Constraints, when not nil, are the granular-scope alternatives the
	// request is limited to: every resource the handler reads, returns or
	// changes for it must match at least one of them.
	Constraints []scope.Constraint
	// Query is the raw query the handler must run. It differs from the
	// request's own query when Rewritten.
	Query string
	// Rewritten reports that the authorizer added the compartment or a
	// granular constraint to the query, instead of refusing the request.
	Rewritten bool
	// Includes reports that the query has _include or _revinclude, which
	// the configuration allows: every included resource needs its own
	// check against the grant.
	Includes bool
	// Entries holds the decision for each entry of a batch or transaction
	// bundle, in order.
	Entries []*Decision
}

// Restricted reports whether the handler has something to enforce: a
// patient compartment, granular constraints or included resources, here
// or in a bundle entry.
func (d *Decision) Restricted() bool {
	if d == nil {
		return true
	}
	if d.Patient != "" || d.Constraints != nil || d.Includes {
		return true
	}
	for _, e := range d.Entries {
		if e.Restricted() {
			return true
		}
	}
	return false
}

type decisionKey struct{}

// WithDecision returns a copy of ctx carrying d.
func WithDecision(ctx stdctx.Context, d *Decision) stdctx.Context {
	return stdctx.WithValue(ctx, decisionKey{}, d)
}

// DecisionFromContext returns the Decision carried by ctx, if any.
func DecisionFromContext(ctx stdctx.Context) (*Decision, bool) {
	d, ok := ctx.Value(decisionKey{}).(*Decision)
	return d, ok && d != nil
}
