package engine

import (
	"bytes"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/compartment"
	"github.com/smartguard/smartguard/internal/fhirjson"
	"github.com/smartguard/smartguard/scope"
)

// The one rule: under a restricted decision, every resource that leaves
// (a search's matches and includes, history entries, batch answers,
// operation outputs, the resources a stored Bundle or a Parameters
// holds, and what a resource contains) is checked against the grant as a
// read of that resource, whatever the request was classified as:
//
//   - its type must be granted, in the decision's context, for the letter
//     the interaction needs (a read for anything but the type asked for),
//     patient/ scopes reaching types about no patient as the
//     NonCompartmentPolicy says;
//   - under a patient limit (patient/ scopes, or user/ scopes of a
//     patient's own login), a Patient must be that patient, and a
//     resource of a type that can belong to a patient (compartment.In:
//     the R4 patient compartment and the patient-linked types) must be in
//     that patient's compartment, and contain nothing of another
//     patient's;
//   - where only granular scopes grant the type, it must match one of
//     them.

// verdict is the one rule's answer: allowed, or who refused.
type verdict uint8

const (
	allowed verdict = iota
	refusedByScope
	refusedByPolicy
)

// allowsUnder is allows with the access policy's view pol (nil: none)
// applied as well, in user/ and system/ contexts: the resource must be
// allowed by the scopes and by the policy.
func (a *Engine) allowsUnder(gr *smartctx.Grant, pol *policyView, c scope.Context, pid, typ string, resource []byte, p scope.Permission) verdict {
	return a.allowsAt(gr, pol, c, pid, typ, resource, p, 0, nil)
}

// maxHolding bounds how deep Bundles and Parameters may hold one another
// for the guard to check what they hold: each level is read again.
const maxHolding = 8

// allowsAt is the one rule: whether the grant and the access policy's
// view pol (nil: none) let the client receive resource, of type typ, held
// depth levels deep (0 for an answer's own resources), with letter p, in
// context c under the patient limit pid ("" for none). Types that hold
// other resources (a stored Bundle, a Parameters) are permitted only when
// everything they hold is. When at is not nil, the resource is an entry
// of a response whose scan read it already (see respCheck): the same
// rule, with what that read found.
func (a *Engine) allowsAt(gr *smartctx.Grant, pol *policyView, c scope.Context, pid, typ string, resource []byte, p scope.Permission, depth int, at *entryAt) verdict {
	switch typ {
	case "Parameters":
		// An operation's output: no one holds scopes for Parameters
		// itself; what it carries decides.
		if depth >= maxHolding {
			return refusedByScope
		}
		return a.heldAllowed(gr, pol, c, pid, resource, parametersResources, depth)
	case "Bundle":
		if pid != "" || pol != nil {
			if depth >= maxHolding {
				return refusedByScope
			}
			if v := a.heldAllowed(gr, pol, c, pid, resource, bundleResources, depth); v != allowed {
				return v
			}
		}
	}
	if v := a.scopeAllows(gr, c, pid, typ, resource, p, at); v != allowed {
		return v
	}
	if pol != nil && typ != "Bundle" && !a.policyPermits(pol, typ, resource, p) {
		return refusedByPolicy
	}
	return allowed
}

// scopeAllows is the scopes' part of the one rule.
func (a *Engine) scopeAllows(gr *smartctx.Grant, c scope.Context, pid, typ string, resource []byte, p scope.Permission, at *entryAt) verdict {
	acc, cons, r := at.access(a, gr, c, typ, p)
	if acc == scope.Denied {
		return refusedByScope
	}
	if pid != "" {
		contains := true // unless the compartment's own pass says not
		switch {
		case typ == "Patient":
			if in, err := compartment.Member(resource, pid); err != nil || !in {
				return refusedByScope
			}
			contains = mayContain(resource)
		case typ != "Bundle" && (r != nil && r.in || r == nil && compartment.In(typ)):
			in, c, err := at.memberOfContains(resource, typ, pid)
			if err != nil || !in {
				return refusedByScope
			}
			contains = c
		default:
			contains = mayContain(resource)
		}
		if contains && !a.containsNoOther(resource, pid) {
			return refusedByScope
		}
	}
	if acc == scope.Allowed {
		return allowed
	}
	if at.matches(a, typ, resource, cons, r) {
		return allowed
	}
	return refusedByScope
}

// maxHeld bounds the resources a Bundle or Parameters may hold for the
// guard to check them; beyond it the holder is refused.
const maxHeld = 10000

// heldAllowed reports whether every resource that holder (a resource)
// carries, as walk finds them, is allowed as a read.
func (a *Engine) heldAllowed(gr *smartctx.Grant, pol *policyView, c scope.Context, pid string, holder []byte,
	walk func(body []byte, each func(res []byte) error) error, depth int) verdict {
	n := 0
	v := allowed
	err := walk(holder, func(res []byte) error {
		if n++; n > maxHeld {
			return errNotPermitted
		}
		r, err := fhirjson.Scan(res)
		if err != nil || r.Type == "" {
			return errNotPermitted
		}
		if v = a.allowsAt(gr, pol, c, pid, r.Type, res, scope.Read, depth+1, nil); v != allowed {
			return errNotPermitted
		}
		return nil
	})
	if err != nil && v == allowed {
		return refusedByScope
	}
	return v
}

// bundleResources calls each with the resource of every entry of the
// Bundle body.
func bundleResources(body []byte, each func(res []byte) error) error {
	r, err := fhirjson.Scan(body)
	if err != nil {
		return err
	}
	b, err := r.Bundle()
	if err != nil {
		return err
	}
	for _, e := range b.Entries {
		if e.ResourcePresence != fhirjson.Present {
			continue
		}
		if err := each(e.Resource.Of(body)); err != nil {
			return err
		}
	}
	return nil
}

// parametersResources calls each with every resource of the Parameters
// body: parameter[].resource, and the same in parts, at any depth.
func parametersResources(body []byte, each func(res []byte) error) error {
	return members(body, func(key string, v []byte) error {
		if key != "parameter" {
			return nil
		}
		return parameterList(v, each)
	}, "parameter")
}

func parameterList(list []byte, each func(res []byte) error) error {
	return fhirjson.Elements(list, func(s fhirjson.Span) error {
		return members(s.Of(list), func(key string, v []byte) error {
			switch key {
			case "resource":
				if bytes.Equal(v, []byte("null")) {
					return nil
				}
				return each(v)
			case "part":
				return parameterList(v, each)
			}
			return nil
		}, "resource", "part")
	})
}

// members calls fn, in the order of names, with the value of each member
// of obj named in names that obj has, refusing obj (fhirjson.Members)
// when it could be read two ways.
func members(obj []byte, fn func(key string, value []byte) error, names ...string) error {
	spans, err := fhirjson.Members(obj, names...)
	if err != nil {
		return err
	}
	for i, s := range spans {
		if s.Len() == 0 {
			continue
		}
		if err := fn(names[i], s.Of(obj)); err != nil {
			return err
		}
	}
	return nil
}

// mayContain reports whether resource's bytes could hold a "contained"
// member, spelled plainly or with escapes.
func mayContain(resource []byte) bool {
	return bytes.Contains(resource, []byte(`ontained"`)) || bytes.IndexByte(resource, '\\') >= 0
}

// containsNoOther reports whether resource contains no resource that
// belongs to a patient other than pid.
func (a *Engine) containsNoOther(resource []byte, pid string) bool {
	if !mayContain(resource) {
		return true
	}
	err := members(resource, func(_ string, v []byte) error {
		return fhirjson.Elements(v, func(s fhirjson.Span) error {
			res := s.Of(v)
			r, err := fhirjson.Scan(res)
			if err != nil || r.Type == "" {
				return errNotPermitted
			}
			if r.Type == "Patient" {
				return nil // a contained Patient is local to its container
			}
			other, err := compartment.Others(res, r.Type, pid, compartment.AnyServer)
			if err != nil || other {
				return errNotPermitted
			}
			return nil
		})
	}, "contained")
	return err == nil
}

// outcomeClean reports whether a batch or transaction answer's entry has
// no response.outcome, or one that contains nothing of a patient other
// than pid.
func (a *Engine) outcomeClean(entry []byte, pid string) bool {
	if !bytes.Contains(entry, []byte(`ontained"`)) && !bytes.Contains(entry, []byte(`\u`)) {
		return true
	}
	err := members(entry, func(_ string, response []byte) error {
		return members(response, func(_ string, outcome []byte) error {
			if !bytes.Equal(outcome, []byte("null")) && !a.containsNoOther(outcome, pid) {
				return errNotPermitted
			}
			return nil
		}, "outcome")
	}, "response")
	return err == nil
}
