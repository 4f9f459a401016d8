package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/compartment"
	"github.com/smartguard/smartguard/internal/fhirjson"
	"github.com/smartguard/smartguard/internal/fhirrest"
	"github.com/smartguard/smartguard/scope"
)

// FHIR Bulk Data Access 2.0 export (SPEC.md §11): the kick-off decision.
// The job binding (export_token.go) and the status and file endpoints
// (export_stream.go) follow.

// ExportOptions turn Bulk Data export on (see middleware.ExportOptions).
type ExportOptions struct {
	// Enabled decides $export kick-offs by the rules below instead of
	// refusing them as undeclared operations.
	Enabled bool
	// Key signs the job tokens (at least MinExportKey bytes).
	Key []byte
	// UserScopes lets user/ scopes start exports; system/ scopes always
	// may, patient/ scopes never.
	UserScopes bool
	// LinkTTL is how long a status or file URL stays valid.
	LinkTTL time.Duration
	// MaxLineBytes bounds one NDJSON line the guard checks.
	MaxLineBytes int
	// ForbiddenForScope answers 403 instead of 404 when the caller of a
	// status or file URL is the job's client but its scopes no longer
	// cover the job.
	ForbiddenForScope bool
	// Now is the clock of the tokens' expiry.
	Now func() time.Time
}

// MinExportKey is the least length of ExportOptions.Key.
const MinExportKey = 32

// Export bounds.
const (
	// maxTypeFilters bounds the _typeFilter entries a kick-off hands the
	// handler: the client's, each ANDed with each alternative of the
	// granular scopes of its type.
	maxTypeFilters = 64
	// maxExportPatients bounds the patient parameters of a kick-off.
	maxExportPatients = 1000
)

// exportPlan is a decided kick-off: what the handler gets, and what the
// job's tokens will say.
type exportPlan struct {
	level  string // "", "Patient" or "Group/<id>"
	ctx    scope.Context
	types  []string // nil: every type ("*")
	scopes string   // the granular scopes that limit the job's types
	query  string   // the canonical parameters, as a query
	body   []byte   // for a POST: the canonical Parameters
	post   bool

	jobTypes []string // the types of the job's files: types, and Provenance for associated data
}

// isExportKickoff reports whether req is a Bulk Data kick-off the export
// rules decide: $export at system level, on Patient, or on a Group
// instance, with export enabled.
func (a *Engine) isExportKickoff(req *smartctx.Request) bool {
	if !a.opt.Export.Enabled || req.Interaction != scope.InteractionOperation || req.Operation != "$export" {
		return false
	}
	switch {
	case req.Type == "" && req.ID == "", req.Type == "Patient" && req.ID == "", req.Type == "Group" && req.ID != "":
		return true
	}
	return false
}

// exportParams are the kick-off's parameters, read from the query (GET)
// or the Parameters body (POST).
type exportParams struct {
	outputFormat, since string
	types               []string // nil when _type is absent
	elements            []string
	patients            []string // "Patient/<id>"
	associated          []string
	typeFilters         []string // "Type?query"
	lenient             bool
}

var instantRE = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)

var elementRE = regexp.MustCompile(`^([A-Z][A-Za-z]*\.)?[a-z][A-Za-z0-9]*$`)

// outputFormats are the _outputFormat values Bulk Data 2.0 servers accept.
var outputFormats = map[string]bool{"application/fhir+ndjson": true, "application/ndjson": true, "ndjson": true}

// typeFilterRefused are search parameters a _typeFilter may not carry:
// Bulk Data forbids _include and _sort, and the others change what a
// line holds or how many there are, not which resources are exported.
var typeFilterRefused = map[string]bool{"_include": true, "_revinclude": true, "_sort": true, "_elements": true,
	"_summary": true, "_count": true, "_contained": true, "_containedType": true, "_total": true, "_format": true, "_query": true}

// set applies one parameter, name=value (value already decoded), to p.
func (p *exportParams) set(name, value string, post bool) error {
	list := func(dst *[]string) error {
		for v := range strings.SplitSeq(value, ",") {
			if v = strings.TrimSpace(v); v == "" {
				return badRequest("an empty value in " + name)
			}
			*dst = append(*dst, v)
		}
		return nil
	}
	switch name {
	case "_outputFormat":
		if p.outputFormat != "" {
			return badRequest("_outputFormat is given twice")
		}
		if !outputFormats[value] {
			return badRequest("_outputFormat must be application/fhir+ndjson, application/ndjson or ndjson")
		}
		p.outputFormat = value
	case "_since":
		if p.since != "" {
			return badRequest("_since is given twice")
		}
		if !post {
			// A "+" in a query decodes to a space: an instant has none.
			value = strings.ReplaceAll(value, " ", "+")
		}
		if !instantRE.MatchString(value) {
			return badRequest("_since must be a FHIR instant (2024-01-02T03:04:05Z)")
		}
		p.since = value
	case "_type":
		if p.types == nil {
			p.types = []string{}
		}
		return list(&p.types)
	case "_elements":
		return list(&p.elements)
	case "includeAssociatedData":
		return list(&p.associated)
	case "_typeFilter":
		return list(&p.typeFilters)
	case "patient":
		if !post {
			return badRequest("the patient parameter is allowed only in a POST kick-off")
		}
		p.patients = append(p.patients, value)
	default:
		if !p.lenient {
			return badRequest("unsupported $export parameter " + printable(name, 40) + " (send Prefer: handling=lenient to have it ignored)")
		}
	}
	return nil
}

// lenient reports whether a Prefer header asks for handling=lenient.
func lenient(h http.Header) bool {
	for _, v := range h.Values("Prefer") {
		for p := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(p), " ", ""), "handling=lenient") {
				return true
			}
		}
	}
	return false
}

// readExportParams reads the parameters of a kick-off: the query of a
// GET, the Parameters body of a POST (which must have no query).
func (a *Engine) readExportParams(r *http.Request) (*exportParams, error) {
	p := &exportParams{lenient: lenient(r.Header)}
	if r.Method != http.MethodPost {
		for q := range fhirrest.Params(r.URL.RawQuery) {
			if err := p.set(q.Name, q.Value, false); err != nil {
				return nil, err
			}
		}
		return p, nil
	}
	if r.URL.RawQuery != "" {
		return nil, badRequest("a POST kick-off takes its parameters in its Parameters body, not in the URL")
	}
	body, err := a.readBody(r)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		return p, nil
	}
	if ct := mediaType(r.Header.Get("Content-Type")); ct != "application/fhir+json" && ct != "application/json" {
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Description: "a POST kick-off needs a FHIR JSON Parameters body"}
	}
	if err := readParameters(body, p); err != nil {
		return nil, err
	}
	return p, nil
}

// parameterValues are the value[x] members a kick-off parameter may
// have: the ones Bulk Data names, and valueCode for codes sent as such.
var parameterValues = []string{"name", "valueString", "valueCode", "valueInstant", "valueReference", "resource", "part"}

// readParameters reads a kick-off's Parameters body (internal/fhirjson)
// into p: each parameter's name and its one value.
func readParameters(body []byte, p *exportParams) error {
	bad := func(why string) error { return badRequest("the body is not a valid $export Parameters: " + why) }
	top, err := fhirjson.Members(body, "resourceType", "parameter")
	if err != nil {
		return bad("not a JSON object read one way")
	}
	if typ, ok := fhirjson.DecodeString(top[0].Of(body)); !ok || typ != "Parameters" {
		return bad("resourceType is not Parameters")
	}
	list := top[1].Of(body)
	if len(list) == 0 {
		return nil
	}
	n := 0
	return fhirjson.Elements(list, func(s fhirjson.Span) error {
		if n++; n > maxExportPatients+64 {
			return bad("too many parameters")
		}
		param := s.Of(list)
		m, err := fhirjson.Members(param, parameterValues...)
		if err != nil {
			return bad("a parameter is not a JSON object read one way")
		}
		name, ok := fhirjson.DecodeString(m[0].Of(param))
		if !ok || name == "" {
			return bad("a parameter has no name")
		}
		if m[5].Len() > 0 || m[6].Len() > 0 {
			return bad("parameter " + printable(name, 40) + " has a resource or parts")
		}
		var value string
		given := 0
		for k := 1; k <= 3; k++ {
			if m[k].Len() == 0 {
				continue
			}
			given++
			if value, ok = fhirjson.DecodeString(m[k].Of(param)); !ok {
				return bad("parameter " + printable(name, 40) + " has a value that is not a string")
			}
		}
		if ref := m[4].Of(param); len(ref) > 0 {
			given++
			rm, err := fhirjson.Members(ref, "reference")
			if err != nil {
				return bad("a valueReference is not a JSON object read one way")
			}
			if value, ok = fhirjson.DecodeString(rm[0].Of(ref)); !ok {
				return bad("a valueReference's reference is not a string")
			}
		}
		switch {
		case given != 1:
			return bad("parameter " + printable(name, 40) + " needs exactly one value")
		case name == "patient" && m[4].Len() == 0:
			return bad("patient needs a valueReference")
		case name != "patient" && m[4].Len() > 0:
			return bad("only patient takes a valueReference")
		case name == "_since" && m[3].Len() == 0 && m[1].Len() == 0:
			return bad("_since needs a valueInstant")
		}
		return p.set(name, value, true)
	})
}

// decideExport decides a kick-off (isExportKickoff): in the system/
// context, or with ExportOptions.UserScopes in the user/ context (never
// under a patient limit, never with patient/ scopes). The first context
// that allows it wins; else the first refusal.
func (a *Engine) decideExport(ctx context.Context, g *smartctx.Grant, r *http.Request, req *Request) (*decision, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		// A HEAD would start an export whose answer nobody reads.
		return nil, &Error{Status: http.StatusMethodNotAllowed, Description: "a Bulk Data kick-off is a GET or a POST"}
	}
	p, err := a.readExportParams(r)
	if err != nil {
		return nil, err
	}
	level, err := exportLevel(req, p)
	if err != nil {
		return nil, err
	}
	if g.ClientID() == "" {
		// The job is bound to its client: a token naming none could
		// not be told from another.
		return nil, &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope,
			Description: "a Bulk Data export needs a token that names its client (client_id)"}
	}
	var denial error
	set := g.Scopes()
	for _, c := range [...]scope.Context{scope.System, scope.User} {
		if !set.HasContext(c) || c == scope.User && !a.opt.Export.UserScopes {
			continue
		}
		cr := *req
		cr.Context = c
		plan, err := a.planIn(ctx, g, &cr, p, level)
		if err != nil {
			if denial == nil {
				denial = err
			}
			continue
		}
		plan.post = r.Method == http.MethodPost
		if plan.post {
			plan.body = plan.parameters()
		}
		d := &decision{Request: req.Request, Limits: smartctx.Limits{Context: c}, rare: &rareDecision{export: plan}}
		d.Query = ""
		if !plan.post {
			d.Query, d.Rewritten = plan.query, plan.query != r.URL.RawQuery
		}
		return d, nil
	}
	if denial == nil {
		denial = a.noExportContext(set)
	}
	return nil, explain(g, denial)
}

// exportLevel returns the level of a kick-off ("" for the system,
// "Patient", "Group/<id>") after checking its patient parameters.
func exportLevel(req *Request, p *exportParams) (string, error) {
	level := req.Type
	if req.ID != "" {
		level += "/" + req.ID
	}
	if len(p.patients) > 0 && level == "" {
		return "", badRequest("the patient parameter is not allowed in a system-level export")
	}
	if len(p.patients) > maxExportPatients {
		return "", badRequest(fmt.Sprintf("a kick-off may name at most %d patients", maxExportPatients))
	}
	for _, ref := range p.patients {
		id, ok := strings.CutPrefix(ref, "Patient/")
		if !ok || !smartctx.ValidID(id) {
			return "", badRequest("patient must reference Patient/<id>")
		}
	}
	return level, nil
}

// planIn plans the kick-off in the context req.Context and lets the
// Policy (Options.Policy) refuse it.
func (a *Engine) planIn(ctx context.Context, g *smartctx.Grant, req *Request, p *exportParams, level string) (*exportPlan, error) {
	plan, err := a.planExport(ctx, g, req, p, level)
	if err != nil || a.opt.Policy == nil {
		return plan, err
	}
	// The Policy limits Group exports and patient lists to what the
	// client may export (attribution): it sees the level (Type, ID) and
	// the checked parameters (Query, patient among them).
	pr := new(Request) // the policy may keep it
	*pr = *req
	pr.Query = plan.query
	if perr := a.opt.Policy(ctx, g, pr); perr != nil {
		return nil, policyError(perr)
	}
	return plan, nil
}

// noExportContext is the refusal of a kick-off by a token with no
// context that may start one.
func (a *Engine) noExportContext(set scope.Set) *Error {
	why := "a Bulk Data export needs system/ scopes"
	if a.opt.Export.UserScopes {
		why = "a Bulk Data export needs system/ or user/ scopes"
	}
	if set.HasContext(scope.Patient) {
		why += "; patient/ scopes cannot start one"
	}
	return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Description: why, Scope: "system/*.rs"}
}

// planExport decides the kick-off in the context req.Context: the job's
// types, the _typeFilter entries granular scopes and the access policy
// add, and the canonical parameters.
func (a *Engine) planExport(ctx context.Context, g *smartctx.Grant, req *Request, p *exportParams, level string) (*exportPlan, error) {
	c := req.Context
	if pid, err := a.limitPatient(g, c, req, false); err != nil {
		return nil, err
	} else if pid != "" {
		return nil, a.deny(req, false, "user scopes limited to a patient's own record cannot start a Bulk Data export")
	}
	patientLevel := level != ""
	plan := &exportPlan{level: level, ctx: c}
	var err error
	if plan.types, err = a.exportTypes(g, c, p, patientLevel); err != nil {
		return nil, err
	}
	if err := a.associatedData(g, c, p); err != nil {
		return nil, err
	}
	pol, err := a.exportPolicy(ctx, g, req, p, plan, patientLevel)
	if err != nil {
		return nil, err
	}
	// The job's types: those exported, and Provenance when associated
	// data brings it.
	jobTypes := slices.Clone(plan.types)
	if plan.types != nil && len(p.associated) > 0 && !slices.Contains(jobTypes, "Provenance") {
		jobTypes = append(jobTypes, "Provenance")
	}
	filters, scopes, err := a.typeFilters(g, c, p, jobTypes, pol)
	if err != nil {
		return nil, err
	}
	elements, err := exportElements(p.elements, g, a, c, jobTypes)
	if err != nil {
		return nil, err
	}
	plan.scopes = scopes
	plan.query = exportQuery(p, plan.types, elements, filters)
	plan.jobTypes = jobTypes
	return plan, nil
}

// exportTypes returns the types a kick-off exports in context c: those
// it names (_type), each of which g must allow to read and search; nil
// for every type when g allows them all without constraint; else every
// type g's scopes of c name (a patient-level export: those in the
// patient compartment).
func (a *Engine) exportTypes(g *smartctx.Grant, c scope.Context, p *exportParams, patientLevel bool) ([]string, error) {
	rs := scope.Read | scope.Search
	var types []string
	switch {
	case p.types != nil:
		if len(p.types) > MaxTypes {
			return nil, badRequest(fmt.Sprintf("_type names more than %d resource types", MaxTypes))
		}
		for _, t := range p.types {
			switch {
			case !scope.IsR4Type(t):
				return nil, badRequest("_type names an unknown resource type")
			case patientLevel && !compartment.In(t):
				return nil, badRequest("_type names " + t + ", which belongs to no patient: a Patient or Group export holds the patients' data")
			}
			if acc, _ := a.access(g, c, t, rs); acc == scope.Denied {
				return nil, exportNeeds(c, t)
			}
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	case a.allowsAll(g, c):
		// Every type, and nothing to filter: the handler exports what
		// it supports (nil).
	default:
		for _, sc := range g.Scopes().Scopes() {
			if sc.Kind != scope.Resource || sc.Context != c || sc.Permissions&rs == 0 {
				continue
			}
			if sc.Type == "*" {
				return nil, badRequest("the token's scopes for every type are limited: name the types to export in _type")
			}
			if patientLevel && !compartment.In(sc.Type) || slices.Contains(types, sc.Type) {
				continue
			}
			if acc, _ := a.access(g, c, sc.Type, rs); acc != scope.Denied {
				types = append(types, sc.Type)
			}
		}
		if len(types) == 0 {
			return nil, &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope,
				Description: "the token allows no resource type to export (read and search)", Scope: c.String() + "/*.rs"}
		}
	}
	return types, nil
}

// exportNeeds refuses a kick-off for a type t the scopes of c do not let
// it read and search.
func exportNeeds(c scope.Context, t string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope,
		Description: "the token does not allow exporting " + t + " (read and search)",
		Scope:       c.String() + "/" + t + ".rs"}
}

// associatedData checks includeAssociatedData, keeping in p the values
// supported (the others are refused, or dropped under lenient
// handling); Provenance must then be allowed to read and search.
func (a *Engine) associatedData(g *smartctx.Grant, c scope.Context, p *exportParams) error {
	if len(p.associated) == 0 {
		return nil
	}
	var keep []string
	for _, v := range p.associated {
		switch {
		case v == "LatestProvenanceResources" || v == "RelevantProvenanceResources":
			keep = append(keep, v)
		case p.lenient:
		default:
			return badRequest("includeAssociatedData supports LatestProvenanceResources and RelevantProvenanceResources only")
		}
	}
	if len(keep) > 0 {
		if acc, _ := a.access(g, c, "Provenance", scope.Read|scope.Search); acc == scope.Denied {
			return exportNeeds(c, "Provenance")
		}
	}
	p.associated = keep
	return nil
}

// exportPolicy applies the access policy (when there is one) to a
// kick-off the scopes allow in the user/ or system/ context: every type
// of the job needs a policy grant of read and search, with or without
// criteria or patients (the lines of the files are held to them); where
// the scopes grant every type, the job's types are those the policy
// names, unless it grants every type too. It returns the policy's view
// of g (nil without a policy), from which typeFilters narrows the job.
func (a *Engine) exportPolicy(ctx context.Context, g *smartctx.Grant, req *Request, p *exportParams, plan *exportPlan, patientLevel bool) (*policyView, error) {
	if a.pol == nil {
		return nil, nil
	}
	v, err := a.policyView(ctx, g)
	if err != nil {
		return nil, err
	}
	if len(v.rules) == 0 {
		return nil, a.policyDeny(req, false, v, "the policy grants nothing")
	}
	rs := scope.Read | scope.Search
	if plan.types == nil {
		if len(v.access("*", rs)) > 0 {
			return v, nil
		}
		for _, vg := range v.grants {
			if vg.perm&rs != rs {
				continue
			}
			for _, t := range vg.types {
				if !slices.Contains(plan.types, t) && (!patientLevel || compartment.In(t)) {
					plan.types = append(plan.types, t)
				}
			}
		}
		if len(plan.types) == 0 {
			return nil, a.policyDeny(req, false, v, "no grant allows exporting any type (read and search)")
		}
	}
	for _, t := range plan.types {
		if len(v.access(t, rs)) == 0 {
			return nil, a.policyDeny(req, false, v, "no grant allows exporting "+t+" (read and search)")
		}
	}
	if len(p.associated) > 0 && len(v.access("Provenance", rs)) == 0 {
		return nil, a.policyDeny(req, false, v, "no grant allows exporting Provenance (includeAssociatedData)")
	}
	return v, nil
}

// policyFilters returns the searches the access policy's view v holds
// type t of an export to, as _typeFilter queries ORed, when that is
// exact: when every grant of read and search on t has criteria and no
// patients. Nil otherwise (a grant without limits: nothing to narrow;
// a grant of patients: the handler exports the resources of every
// patient and the guard withholds, line by line, those of patients
// outside the relationship). The lines of the files are checked against
// the policy either way: the filters only spare the handler exporting,
// and the client downloading, what would be withheld.
func policyFilters(v *policyView, t string) []string {
	if v == nil {
		return nil
	}
	gs := v.access(t, scope.Read|scope.Search)
	if len(gs) == 0 || unlimited(gs) {
		return nil
	}
	var out []string
	for _, g := range gs {
		if g.patients != nil || g.cons == nil {
			return nil
		}
		if q := constraintQuery(g.cons); !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	return out
}

// allowsAll reports whether g allows reading and searching every type in
// context c without constraint.
func (a *Engine) allowsAll(g *smartctx.Grant, c scope.Context) bool {
	acc, _ := a.access(g, c, "*", scope.Read|scope.Search)
	return acc == scope.Allowed
}

// typeFilters returns the _typeFilter entries the handler gets: for each
// job type whose read and search are granted only by granular scopes or
// only with the access policy's criteria (policyFilters), each
// alternative of those scopes ANDed with each of the policy's, ANDed
// with each of the client's own _typeFilter entries for the type (Bulk
// Data ORs the entries of one type); for the other types the client's
// entries as they are. It returns the granular scopes of the job's types
// too, space-separated, as the job's tokens keep them.
func (a *Engine) typeFilters(g *smartctx.Grant, c scope.Context, p *exportParams, jobTypes []string, pol *policyView) ([]string, string, error) {
	own, order, err := ownTypeFilters(p, jobTypes)
	if err != nil {
		return nil, "", err
	}
	var out []string
	var scopes []string
	types := jobTypes
	if types == nil {
		types = order // every type: only the client's own filters
	}
	for _, t := range types {
		acc, cons := a.access(g, c, t, scope.Read|scope.Search)
		var alts []string // the type's limits, ORed; nil: none
		if acc == scope.Constrained {
			for _, sc := range g.Scopes().Scopes() {
				if sc.Kind == scope.Resource && sc.Context == c && (sc.Type == t || sc.Type == "*") && len(sc.Constraint) > 0 {
					if s := sc.String(); !slices.Contains(scopes, s) {
						scopes = append(scopes, s)
					}
				}
			}
			for _, con := range cons {
				alts = append(alts, constraintQuery(con))
			}
		}
		if pf := policyFilters(pol, t); pf != nil && len(out)+max(1, len(alts))*len(pf)*max(1, len(own[t])) <= maxTypeFilters {
			// The policy's criteria AND the scopes' (each pair); too
			// many entries and the lines alone hold the files to the
			// policy: narrowing is a saving, never refused.
			alts = andQueries(alts, pf)
		}
		out = append(out, andFilters(t, alts, own[t])...)
		if len(out) > maxTypeFilters {
			if acc == scope.Constrained {
				return nil, "", badRequest(fmt.Sprintf("the granular scopes and _typeFilter make more than %d filters: send fewer _typeFilter entries", maxTypeFilters))
			}
			return nil, "", badRequest(fmt.Sprintf("more than %d _typeFilter entries", maxTypeFilters))
		}
	}
	return out, strings.Join(scopes, " "), nil
}

// ownTypeFilters checks the client's _typeFilter entries and returns
// their queries by type, and the types in the order they came.
func ownTypeFilters(p *exportParams, jobTypes []string) (map[string][]string, []string, error) {
	own := map[string][]string{}
	var order []string
	for _, f := range p.typeFilters {
		t, q, ok := strings.Cut(f, "?")
		if !ok || !scope.IsR4Type(t) || q == "" {
			return nil, nil, badRequest("a _typeFilter must be Type?search")
		}
		if jobTypes != nil && !slices.Contains(jobTypes, t) {
			return nil, nil, badRequest("_typeFilter names " + t + ", which is not exported")
		}
		vals, err := url.ParseQuery(q)
		if err != nil {
			return nil, nil, badRequest("a _typeFilter's search is malformed")
		}
		for name := range vals {
			base, _, _ := strings.Cut(name, ":")
			if typeFilterRefused[base] {
				return nil, nil, badRequest("a _typeFilter may not use " + printable(base, 40))
			}
		}
		if _, seen := own[t]; !seen {
			order = append(order, t)
		}
		own[t] = append(own[t], q)
	}
	return own, order, nil
}

// andQueries returns each query of a ANDed with each of b (b alone when
// a is nil).
func andQueries(a, b []string) []string {
	if a == nil {
		return b
	}
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+"&"+y)
		}
	}
	return out
}

// andFilters returns the _typeFilter entries of type t: each of the
// limits alts ANDed with each of the client's own queries mine (alts
// nil: mine as they are).
func andFilters(t string, alts, mine []string) []string {
	var out []string
	if alts == nil {
		for _, q := range mine {
			out = append(out, t+"?"+q)
		}
		return out
	}
	for _, alt := range alts {
		if len(mine) == 0 {
			out = append(out, t+"?"+alt)
		}
		for _, q := range mine {
			out = append(out, t+"?"+alt+"&"+q)
		}
	}
	return out
}

// constraintQuery renders a granular scope's constraint as a FHIR search
// query, every name and value escaped (a "," too, which would split a
// _typeFilter list).
func constraintQuery(c scope.Constraint) string {
	var b strings.Builder
	for i, p := range c {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.Value))
	}
	return b.String()
}

// exportElements checks _elements and, for each job type under granular
// scopes whose elements the client limits, adds the top-level elements
// the scopes' search parameters read ("Observation.category"): without
// them no line of the type could be checked, and every one would be
// withheld.
func exportElements(elements []string, g *smartctx.Grant, a *Engine, c scope.Context, jobTypes []string) ([]string, error) {
	if len(elements) == 0 {
		return nil, nil
	}
	out := slices.Clone(elements)
	bare := false
	typed := map[string]bool{}
	for _, e := range elements {
		if !elementRE.MatchString(e) {
			return nil, badRequest("_elements lists element names (name or Type.name)")
		}
		t, _, ok := strings.Cut(e, ".")
		switch {
		case !ok:
			bare = true
		case !scope.IsR4Type(t):
			return nil, badRequest("_elements names an unknown resource type")
		default:
			typed[t] = true
		}
	}
	for _, t := range jobTypes {
		if !bare && !typed[t] {
			continue // its elements are not limited
		}
		acc, cons := a.access(g, c, t, scope.Read|scope.Search)
		if acc != scope.Constrained {
			continue
		}
		for _, con := range cons {
			for _, prm := range con {
				name, _, _ := strings.Cut(prm.Name, ":")
				name, _, _ = strings.Cut(name, ".")
				sp, ok := compartment.SearchParam(t, name)
				if !ok || len(sp.Paths) == 0 {
					return nil, badRequest("_elements cannot be used with the granular scope on " + t + ": its parameter " + printable(name, 40) + " is not known")
				}
				for _, path := range sp.Paths {
					top, _, _ := strings.Cut(path, ".")
					top, _, _ = strings.Cut(top, "@")
					if e := t + "." + top; !slices.Contains(out, e) && !slices.Contains(elements, top) {
						out = append(out, e)
					}
				}
			}
		}
	}
	return out, nil
}

// exportQuery renders the canonical parameters as a query: what the
// handler of a GET gets, and what a Policy reads.
func exportQuery(p *exportParams, types, elements, filters []string) string {
	var q []string
	add := func(name, value string) { q = append(q, name+"="+url.QueryEscape(value)) }
	if p.outputFormat != "" {
		add("_outputFormat", p.outputFormat)
	}
	if p.since != "" {
		add("_since", p.since)
	}
	if types != nil {
		add("_type", strings.Join(types, ","))
	}
	if len(elements) > 0 {
		add("_elements", strings.Join(elements, ","))
	}
	for _, ref := range p.patients {
		add("patient", ref)
	}
	if len(p.associated) > 0 {
		add("includeAssociatedData", strings.Join(p.associated, ","))
	}
	for _, f := range filters {
		add("_typeFilter", f)
	}
	return strings.Join(q, "&")
}

// parameters renders the plan's canonical parameters as the Parameters
// body of a POST kick-off.
func (plan *exportPlan) parameters() []byte {
	type value struct {
		Name           string          `json:"name"`
		ValueString    string          `json:"valueString,omitempty"`
		ValueInstant   string          `json:"valueInstant,omitempty"`
		ValueReference json.RawMessage `json:"valueReference,omitempty"`
	}
	var params []value
	for q := range fhirrest.Params(plan.query) {
		switch q.Name {
		case "_since":
			params = append(params, value{Name: q.Name, ValueInstant: q.Value})
		case "patient":
			ref, _ := json.Marshal(map[string]string{"reference": q.Value})
			params = append(params, value{Name: q.Name, ValueReference: ref})
		default:
			params = append(params, value{Name: q.Name, ValueString: q.Value})
		}
	}
	body, _ := json.Marshal(struct {
		ResourceType string  `json:"resourceType"`
		Parameter    []value `json:"parameter,omitempty"`
	}{"Parameters", params})
	return body
}

// defaultLinkTTL is how long status and file URLs stay valid by default.
const defaultLinkTTL = 24 * time.Hour

func readerOf(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

// newJobID returns a random job id.
func newJobID() string { return rand.Text()[:20] }
