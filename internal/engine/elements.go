package engine

import (
	"net/url"
	"slices"
	"strings"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/compartment"
	"github.com/smartguard/smartguard/internal/fhirrest"
	"github.com/smartguard/smartguard/internal/search"
	"github.com/smartguard/smartguard/scope"
)

// _elements and _summary ask the server for part of each resource (FHIR
// R4 search §3.1.1.5.8-9). Under a restricted decision the response guard
// reads elements of each resource to decide it: the compartment's
// references (subject, performer, ...; a Patient's id), the elements of
// the granular constraints' parameters (category), those of the access
// policy's criteria and relationships. Left out, a resource of
// the patient's would be withheld (a 200 with nothing but the withheld
// notice), and worse, one outside a ":not" or ":missing" constraint would
// look inside it. So before the handler sees the request:
//
//   - _elements gains the elements the guard reads (one _elements, in the
//     URL query, listing the client's and the guard's);
//   - _summary=text becomes _elements=text,meta and those elements;
//   - _summary=true is refused (400) when the guard reads elements other
//     than id and meta: which elements it keeps depends on each type's
//     summary flags, which the library does not hold;
//   - _summary=count (nothing but the total), data and false pass;
//     count is refused (400) where the guard would filter the answer, as
//     its total could not count only what the grant allows;
//   - on a request whose answer holds resources of types the engine cannot
//     name (system searches, operations), or resources included with
//     _include or _revinclude that the grant limits, the parts that would
//     hide elements are refused (400).
//
// The client may thus get the extra elements with the resources it asked
// for: resources it may read whole.

// resultParams are a request's _elements and _summary.
type resultParams struct {
	elements []string // the names listed, in order, without repeats
	hasElems bool     // _elements present (perhaps listing nothing)
	repeated bool     // _elements given more than once
	inForm   bool     // one of them is in the form body of a POST _search
	summary  string   // the _summary value, in lower case, or ""
}

// hides reports whether the parameters may leave out elements.
func (rp *resultParams) hides() bool {
	return rp.hasElems || rp.summary == "true" || rp.summary == "text"
}

// What searchControls learnt of a search's parameter names, for
// resultElements.
const (
	resultParamsUnread uint8 = iota // not read: a read, a write
	resultParamsNone                // no _elements or _summary
	resultParamsSome                // one, in some spelling
)

// mayBeResultName reports whether a parameter name (decoded) may be read
// as _elements or _summary by a server that trims names and ignores case.
func mayBeResultName(name string) bool {
	for len(name) > 0 && name[0] <= ' ' {
		name = name[1:]
	}
	return foldAt(name, 0, "_element") || foldAt(name, 0, "_summary")
}

// mayHoldResultParams reports whether the raw query or form s may hold
// _elements or _summary, in any case or escaped: one pass, as it runs for
// every restricted request.
func mayHoldResultParams(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%':
			return true
		case 'l', 'L':
			if foldAt(s, i, "lements") {
				return true
			}
		case 'u', 'U':
			if foldAt(s, i, "ummary") {
				return true
			}
		}
	}
	return false
}

// foldAt reports whether s holds sub (lower-case ASCII) at i, in any
// ASCII case.
func foldAt(s string, i int, sub string) bool {
	if len(s)-i < len(sub) {
		return false
	}
	for j := 0; j < len(sub); j++ {
		if c := s[i+j]; c != sub[j] && c|0x20 != sub[j] {
			return false
		}
	}
	return true
}

// readResultParams reads the _elements and _summary of the raw query q
// and form f. It refuses what a server could read as one of them but
// that is not spelled as FHIR spells it ("_Elements", "_elements:exclude",
// "_summary " with a space), and a _summary given twice or listing values.
func readResultParams(q, f string) (resultParams, error) {
	var rp resultParams
	n := 0
	for _, src := range [...]struct {
		raw  string
		form bool
	}{{q, false}, {f, true}} {
		if !mayHoldResultParams(src.raw) {
			continue
		}
		for p := range fhirrest.Params(src.raw) {
			// As a server that trims names (Java's String.trim cuts
			// every control character) and ignores case reads it.
			lower := strings.ToLower(strings.TrimLeftFunc(p.Name, func(r rune) bool { return r <= ' ' }))
			switch {
			case p.Name == "_elements":
				rp.repeated = rp.hasElems
				rp.hasElems = true
				rp.inForm = rp.inForm || src.form
				for e := range strings.SplitSeq(p.Value, ",") {
					if e = strings.TrimSpace(e); e != "" {
						rp.elements = appendNew(rp.elements, e)
					}
				}
			case p.Name == "_summary":
				rp.inForm = rp.inForm || src.form
				if n++; n > 1 || strings.IndexByte(p.Value, ',') >= 0 {
					return rp, badRequest("_summary may be given once, with one value")
				}
				rp.summary = strings.ToLower(strings.TrimSpace(p.Value))
				switch rp.summary {
				case "true", "text", "data", "count", "false":
				default:
					return rp, badRequest("_summary must be true, text, data, count or false")
				}
			case strings.HasPrefix(lower, "_elements"), strings.HasPrefix(lower, "_summary"):
				return rp, badRequest("_elements and _summary take no modifier or other spelling under these scopes")
			}
		}
	}
	return rp, nil
}

// resultElements applies _elements and _summary to restricted decision d
// (see above): it changes d's query (and form), or refuses the request.
func (a *Engine) resultElements(g *smartctx.Grant, d *decision) error {
	switch d.resultParams {
	case resultParamsNone:
		return nil // searchControls read the names
	case resultParamsUnread:
		if !mayHoldResultParams(d.Query) && !mayHoldResultParams(d.Form) {
			return nil
		}
	}
	rp, err := readResultParams(d.Query, d.Form)
	if err != nil || !rp.hasElems && rp.summary == "" {
		return err
	}
	if rp.summary == "count" && d.filtered {
		return badRequest("_summary=count cannot be answered under these granular scopes: " +
			"their alternatives do not fit in one query, so the total would count what the token does not allow; search with one of them")
	}
	if !rp.hides() {
		return nil
	}
	limited := d.Patient != "" || d.Constraints != nil || d.own || d.pol != nil
	if d.Includes && (limited || constrainedScopes(g, d.Context)) {
		return badRequest("_elements and _summary=" + orTrue(rp.summary) + " cannot be combined with _include or _revinclude under these scopes: " +
			"the included resources could lose the elements the access check reads")
	}
	if !limited {
		return nil
	}
	need, known := a.guardElements(d)
	if !known {
		return badRequest("_elements and _summary=" + orTrue(rp.summary) + " are not allowed on this request under these scopes: " +
			"the resources of the answer could lose the elements the access check reads")
	}
	list, rewrite, err := elementsToAsk(rp, need)
	if err != nil || !rewrite {
		return err
	}
	drop := func(name string) bool {
		return name == "_elements" || rp.summary == "text" && name == "_summary"
	}
	if rp.inForm {
		d.Form = dropParams(d.Form, drop)
		d.formRewritten = true
	}
	d.Query = appendParam(dropParams(d.Query, drop), "_elements", strings.Join(list, ","))
	d.Rewritten = true
	return nil
}

// elementsToAsk returns the one _elements list a restricted search must
// ask for, given the result parameters rp and the elements need the guard
// reads: the client's with the guard's added, or "text", "id", "meta" and
// the guard's for _summary=text. rewrite is false when the query can stay
// as it is; a _summary that would hide what the guard reads is an error.
func elementsToAsk(rp resultParams, need []string) (list []string, rewrite bool, err error) {
	minimal := true // the guard reads nothing every summary leaves out
	for _, e := range need {
		if e != "id" && e != "meta" {
			minimal = false
			break
		}
	}
	switch {
	case rp.summary == "true" && !minimal:
		return nil, false, badRequest("_summary=true could leave out " + strings.Join(need, ", ") +
			", which the access check reads: ask for the elements you need with _elements (the guard adds those)")
	case rp.summary == "true" || rp.summary == "text" && minimal:
		if !rp.hasElems {
			return nil, false, nil
		}
		fallthrough
	case rp.hasElems && (rp.summary == "true" || rp.summary == "text"):
		return nil, false, badRequest("_elements cannot be combined with _summary=" + rp.summary)
	case rp.summary == "text":
		// The text, id and meta (and the mandatory elements, which
		// servers add to any _elements), and what the guard reads.
		list = []string{"text", "id", "meta"}
	default:
		// One _elements, with the guard's: a server may read only the
		// first of several.
		list = rp.elements
		missing := rp.repeated
		for _, e := range need {
			if !contains(list, e) {
				missing = true
				break
			}
		}
		if !missing {
			return nil, false, nil
		}
	}
	for _, e := range need {
		list = appendNew(list, e)
	}
	return list, true, nil
}

func orTrue(summary string) string {
	if summary == "" {
		return "true/text"
	}
	return summary
}

// guardElements returns the top-level elements the response guard reads
// of a resource answering d, beyond resourceType; known is false when the
// answer may hold resources of types it cannot name (a system search, an
// operation's output).
func (a *Engine) guardElements(d *decision) (need []string, known bool) {
	typ := d.Type
	if typ == "" || typ == "*" || d.Operation != "" {
		return nil, false
	}
	if d.own {
		need = appendNew(need, "id")
	}
	if d.Patient != "" {
		need = compartmentElements(need, typ)
	}
	for _, c := range d.Constraints {
		need = constraintElements(need, typ, c)
	}
	if d.pol != nil {
		// The access policy's grants of the type: their criteria, and
		// the compartment of the patients a relationship reaches.
		for _, pg := range d.pol.grants {
			if pg.types != nil && !slices.Contains(pg.types, typ) {
				continue
			}
			need = constraintElements(need, typ, pg.cons)
			if pg.patients != nil {
				need = compartmentElements(need, typ)
			}
		}
	}
	return need, true
}

// compartmentElements adds to need the elements that tie a resource of
// typ to a patient: a Patient's id, the compartment references, what a
// stored Bundle holds.
func compartmentElements(need []string, typ string) []string {
	switch {
	case typ == "Patient":
		return appendNew(need, "id") // the patient's own, by id
	case typ == "Bundle":
		return appendNew(need, "entry")
	case compartment.In(typ):
		for _, code := range compartment.Params(typ) {
			p, _ := compartment.SearchParam(typ, code)
			for _, path := range p.Paths {
				top, _, _ := strings.Cut(path, ".")
				top, _, _ = strings.Cut(top, "@")
				need = appendNew(need, top)
			}
		}
	}
	return need
}

// constraintElements adds to need the elements the parameters of c read
// on a resource of typ.
func constraintElements(need []string, typ string, c scope.Constraint) []string {
	for _, p := range c {
		code, _, _ := strings.Cut(p.Name, ":")
		els, _ := search.Elements(typ, code) // one not evaluated matches nothing
		for _, e := range els {
			need = appendNew(need, e)
		}
	}
	return need
}

// constrainedScopes reports whether g holds granular scopes in context c,
// which may limit resources an include brings.
func constrainedScopes(g *smartctx.Grant, c scope.Context) bool {
	for _, sc := range g.Scopes().Scopes() {
		if sc.Kind == scope.Resource && sc.Context == c && sc.Constraint != nil {
			return true
		}
	}
	return false
}

// dropParams returns the raw query q without the parameters whose name
// (decoded) drop reports, the others byte for byte.
func dropParams(q string, drop func(name string) bool) string {
	var b strings.Builder
	for part := range strings.SplitSeq(q, "&") {
		if part == "" {
			continue
		}
		k, _, _ := strings.Cut(part, "=")
		if name, err := url.QueryUnescape(k); err == nil && drop(name) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	return b.String()
}

func appendNew(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
