package engine

// The access policy: declarative rules of what a user or a client may
// do, intersected with what its scopes allow. See AccessPolicy.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/compartment"
	"github.com/smartguard/smartguard/internal/fhirjson"
	"github.com/smartguard/smartguard/internal/search"
	"github.com/smartguard/smartguard/scope"
)

// AccessPolicy is a declarative policy (see middleware.AccessPolicy): it
// limits user/ and system/ scopes to what its rules grant the token's
// subject.
type AccessPolicy struct {
	Rules         []AccessRule
	Relationships []Relationship
	// Relations finds the patients a relationship reaches; nil: the
	// Engine searches its own FHIR API through the handler.
	Relations Relations
	// CacheTTL and CacheSize bound the cache of relationships.
	CacheTTL  time.Duration
	CacheSize int
	// MaxQueryIDs bounds the ids a search is narrowed with; above it the
	// guard filters the answer instead.
	MaxQueryIDs int
	// MaxLookupIDs bounds the patients one relationship reaches.
	MaxLookupIDs int
	// Now is the clock of the cache. Default time.Now.
	Now func() time.Time
}

// AccessRule grants its subject (every one of the set fields must match
// the token) the access of its Grants.
type AccessRule struct {
	Name         string
	FHIRUserType string
	Claim, Value string
	ClientID     string
	Grants       []AccessGrant
}

// AccessGrant grants interactions (letters of "cruds") on resource types,
// limited to the resources that match Criteria (a FHIR search, with
// %fhirUser, %patient and %client) and, with Patients, to those in the
// compartment of the patients the named relationship reaches.
type AccessGrant struct {
	Types        []string
	Interactions string
	Criteria     string
	Patients     string
}

// Relationship names the patients a search reaches: the Patients it
// finds (Search on Patient, Path "") or the patients referenced at Path
// ("subject", "member.entity") of the resources it finds.
type Relationship struct {
	Name   string
	Search string
	Path   string
}

// Relations finds the ids of the patients a relationship reaches: search
// is its Search with the variables replaced, path its Path. It must be
// safe for concurrent use; an error refuses the request.
type Relations interface {
	Patients(ctx context.Context, search, path string) ([]string, error)
}

// Policy defaults.
const (
	DefaultPolicyCacheTTL  = time.Minute
	DefaultPolicyCacheSize = 10000
	DefaultMaxQueryIDs     = 100
	DefaultMaxLookupIDs    = 10000
)

// compiled policy
type policy struct {
	rules     []cRule
	relations Relations
	ttl       time.Duration
	size      int
	maxQuery  int
	maxLookup int
	now       func() time.Time

	mu    sync.Mutex
	cache map[string]relEntry
}

type cRule struct {
	name               string
	userType, clientID string
	claim              []string
	value              string
	grants             []cGrant
}

type cGrant struct {
	types    []string // nil: every type
	perm     scope.Permission
	criteria scope.Constraint // with variables
	rel      *Relationship
	relType  string // the relationship search's type
	relQuery string
	// compiled are the criteria compiled for each of types, when they
	// hold no variable and no "ap" date (measured from when a search is
	// compiled): what every token's view shares. Nil otherwise.
	compiled []*search.Query
}

type relEntry struct {
	ids     map[string]struct{}
	sorted  []string
	expires time.Time
}

// policyView is what the policy grants one token's subject.
type policyView struct {
	rules  []string // the names of the rules that apply
	grants []vGrant
}

type vGrant struct {
	rule     string
	types    []string
	perm     scope.Permission
	cons     scope.Constraint    // nil: no criteria
	patients map[string]struct{} // nil: no relationship
	ids      []string            // sorted ids of patients

	// compiled are the grant's criteria compiled for each of types,
	// when they are the same for every token (cGrant.compiled).
	compiled []*search.Query

	// Else the compiled criteria for qTyp, kept for the request's other
	// resources (a view serves one request).
	mu   *sync.Mutex
	qTyp string
	q    *search.Query
}

// matchGrant is matchConstraint for g's criteria: compiled once for
// every token when they hold no variable, else compiled for this view
// and kept on g for the next resource of the same type.
func (a *Engine) matchGrant(g *vGrant, typ string, resource []byte) bool {
	if g.compiled != nil {
		i := slices.Index(g.types, typ)
		if i < 0 || g.compiled[i] == nil {
			return false
		}
		m, err := g.compiled[i].Match(resource)
		return err == nil && m
	}
	g.mu.Lock()
	q, ok := g.q, g.qTyp == typ
	g.mu.Unlock()
	if !ok {
		if strings.Contains(g.cons.String(), "=ap") {
			return a.matchConstraint(typ, resource, g.cons)
		}
		key := typ + "?" + g.cons.String()
		a.mu.Lock()
		q, ok = a.queries[key]
		a.mu.Unlock()
		if !ok {
			var err error
			if q, err = search.Compile(typ, g.cons, search.Options{Base: a.baseURL}); err != nil {
				q = nil
			}
			a.mu.Lock()
			if a.queries == nil {
				a.queries = map[string]*search.Query{}
			}
			if len(a.queries) < maxQueries {
				a.queries[key] = q
			}
			a.mu.Unlock()
		}
		g.mu.Lock()
		g.q, g.qTyp = q, typ
		g.mu.Unlock()
	}
	if q == nil {
		return false
	}
	m, err := q.Match(resource)
	return err == nil && m
}

var policyVars = []string{"%fhirUser", "%patient", "%client"}

// compilePolicy checks p and compiles it; the errors name the rule (or
// the relationship), every error at once.
func compilePolicy(p *AccessPolicy, base string) (*policy, error) {
	if p == nil {
		return nil, nil
	}
	cp := newPolicy(p)
	rels, errs := compileRelationships(p.Relationships, base)
	names := map[string]bool{}
	for i, r := range p.Rules {
		who := fmt.Sprintf("rule %d (%q)", i, r.Name)
		if r.Name == "" {
			errs = append(errs, fmt.Errorf("%s has no name", who))
			continue
		}
		if names[r.Name] {
			errs = append(errs, fmt.Errorf("%s: the name is given twice", who))
			continue
		}
		names[r.Name] = true
		cr, rerrs := compileRule(r, who, rels, base)
		if len(rerrs) > 0 {
			errs = append(errs, rerrs...)
			continue
		}
		cp.rules = append(cp.rules, cr)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cp, nil
}

// newPolicy returns the compiled policy of p without its rules: its
// settings, defaults filled in.
func newPolicy(p *AccessPolicy) *policy {
	cp := &policy{relations: p.Relations, ttl: p.CacheTTL, size: p.CacheSize, maxQuery: p.MaxQueryIDs, maxLookup: p.MaxLookupIDs, now: p.Now}
	if cp.ttl <= 0 {
		cp.ttl = DefaultPolicyCacheTTL
	}
	if cp.size <= 0 {
		cp.size = DefaultPolicyCacheSize
	}
	if cp.maxQuery <= 0 {
		cp.maxQuery = DefaultMaxQueryIDs
	}
	if cp.maxLookup <= 0 {
		cp.maxLookup = DefaultMaxLookupIDs
	}
	if cp.now == nil {
		cp.now = time.Now
	}
	return cp
}

// compileRelationships checks the relationships and returns them by
// name, with what is wrong with the others.
func compileRelationships(list []Relationship, base string) (map[string]*Relationship, []error) {
	var errs []error
	rels := map[string]*Relationship{}
	for i := range list {
		r := list[i]
		who := fmt.Sprintf("relationship %d (%q)", i, r.Name)
		if r.Name == "" {
			errs = append(errs, fmt.Errorf("%s has no name", who))
			continue
		}
		if rels[r.Name] != nil {
			errs = append(errs, fmt.Errorf("%s: the name is given twice", who))
			continue
		}
		typ, q, _ := strings.Cut(r.Search, "?")
		if !scope.IsR4Type(typ) || q == "" {
			errs = append(errs, fmt.Errorf("%s: search %q is not Type?params", who, r.Search))
			continue
		}
		// The search is parsed with sample values for its variables:
		// the values themselves are only known per token.
		if _, err := search.Parse(typ, sample(q), search.Options{Base: base}); err != nil {
			errs = append(errs, fmt.Errorf("%s: search %q cannot be evaluated: %w", who, r.Search, err))
			continue
		}
		if typ != "Patient" && r.Path == "" || typ == "Patient" && r.Path != "" {
			errs = append(errs, fmt.Errorf("%s: a search of Patient takes no path; a search of another type needs the path of its patient references", who))
			continue
		}
		if strings.Contains(r.Path, "..") || strings.HasPrefix(r.Path, ".") || strings.HasSuffix(r.Path, ".") {
			errs = append(errs, fmt.Errorf("%s: path %q is not element names separated by dots", who, r.Path))
			continue
		}
		rels[r.Name] = &r
	}
	return rels, errs
}

// smartUserTypes are the resource types a SMART fhirUser may be.
var smartUserTypes = []string{"Patient", "Practitioner", "PractitionerRole", "RelatedPerson", "Person"}

// compileRule checks rule r (named who in errors) and compiles it and
// its grants; a rule with any error is left out.
func compileRule(r AccessRule, who string, rels map[string]*Relationship, base string) (cRule, []error) {
	cr := cRule{name: r.Name, userType: r.FHIRUserType, clientID: r.ClientID, value: r.Value}
	fail := func(format string, args ...any) (cRule, []error) {
		return cr, []error{fmt.Errorf("%s"+format, append([]any{who}, args...)...)}
	}
	switch {
	case r.FHIRUserType == "" && r.Claim == "" && r.ClientID == "":
		return fail(" names no subject (fhirUserType, claim or clientId)")
	case r.FHIRUserType != "" && !slices.Contains(smartUserTypes, r.FHIRUserType):
		return fail(": fhirUserType %q is not a SMART user type", r.FHIRUserType)
	case (r.Claim == "") != (r.Value == ""):
		return fail(": claim and value go together")
	case len(r.Grants) == 0:
		return fail(" grants nothing")
	}
	if r.Claim != "" {
		cr.claim = strings.Split(r.Claim, ".")
		if slices.Contains(cr.claim, "") {
			return fail(": claim %q has an empty step", r.Claim)
		}
	}
	var errs []error
	for j, g := range r.Grants {
		cg, err := compileGrant(g, rels, base)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s grant %d: %w", who, j, err))
			continue
		}
		cr.grants = append(cr.grants, cg)
	}
	return cr, errs
}

func compileGrant(g AccessGrant, rels map[string]*Relationship, base string) (cGrant, error) {
	var cg cGrant
	perm, ok := parseLetters(g.Interactions)
	if !ok {
		return cg, fmt.Errorf("interactions %q are not letters of \"cruds\" in that order", g.Interactions)
	}
	cg.perm = perm
	if len(g.Types) == 0 {
		return cg, errors.New("names no resource type (\"*\" for every type)")
	}
	for _, t := range g.Types {
		if t == "*" {
			if len(g.Types) > 1 {
				return cg, errors.New("\"*\" stands alone in types")
			}
			break
		}
		if !scope.IsR4Type(t) {
			return cg, fmt.Errorf("%q is not an R4 resource type", t)
		}
		cg.types = append(cg.types, t)
	}
	if g.Criteria != "" {
		if cg.types == nil {
			return cg, errors.New("criteria need named types: a search cannot be evaluated on every type")
		}
		for _, part := range strings.Split(g.Criteria, "&") {
			k, v, _ := strings.Cut(part, "=")
			name, err1 := url.QueryUnescape(k)
			value, err2 := unescapeWithVars(v)
			switch {
			case err2 != nil:
				return cg, fmt.Errorf("criteria %q: %w", g.Criteria, err2)
			case err1 != nil || name == "" || value == "":
				return cg, fmt.Errorf("criteria %q: %q is not name=value", g.Criteria, part)
			}
			cg.criteria = append(cg.criteria, scope.Param{Name: name, Value: value})
		}
		// A '%' left in a value is a variable (checked above).
		fixed := !slices.ContainsFunc(cg.criteria, func(p scope.Param) bool { return strings.Contains(p.Value, "%") }) &&
			!strings.Contains(cg.criteria.String(), "=ap")
		for _, t := range cg.types {
			q, err := search.Compile(t, sampleConstraint(cg.criteria), search.Options{Base: base})
			if err != nil {
				return cg, fmt.Errorf("criteria %q cannot be evaluated on %s: %w", g.Criteria, t, err)
			}
			if fixed {
				cg.compiled = append(cg.compiled, q)
			}
		}
	}
	if g.Patients != "" {
		r := rels[g.Patients]
		if r == nil {
			return cg, fmt.Errorf("patients names no relationship %q", g.Patients)
		}
		cg.rel = r
		cg.relType, cg.relQuery, _ = strings.Cut(r.Search, "?")
	}
	return cg, nil
}

// unescapeWithVars query-unescapes a criteria value, keeping the
// variables it names as they are written ("subject=%patient": "%pa" is no
// percent-escape). A '%' must start a variable or an escape, and an
// escape must not decode to '%' ("%25patient" would read as a variable).
func unescapeWithVars(v string) (string, error) {
	var b strings.Builder
	for {
		at, name := -1, ""
		for i := strings.IndexByte(v, '%'); i >= 0 && at < 0; {
			for _, pv := range policyVars {
				if strings.HasPrefix(v[i:], pv) {
					at, name = i, pv
				}
			}
			if at < 0 {
				j := strings.IndexByte(v[i+1:], '%')
				if j < 0 {
					break
				}
				i += 1 + j
			}
		}
		seg := v
		if at >= 0 {
			seg = v[:at]
		}
		dec, err := url.QueryUnescape(seg)
		if err != nil {
			return "", fmt.Errorf("%q holds a '%%' that is neither an escape nor a variable (known: %s)", v, strings.Join(policyVars, ", "))
		}
		if strings.IndexByte(dec, '%') >= 0 {
			return "", fmt.Errorf("%q: an escaped '%%' is not allowed", v)
		}
		b.WriteString(dec)
		if at < 0 {
			return b.String(), nil
		}
		b.WriteString(name)
		v = v[at+len(name):]
	}
}

// parseLetters reads interaction letters: a non-empty subset of "cruds",
// in that order.
func parseLetters(s string) (scope.Permission, bool) {
	const order = "cruds"
	bits := [...]scope.Permission{scope.Create, scope.Read, scope.Update, scope.Delete, scope.Search}
	var p scope.Permission
	at := 0
	for i := 0; i < len(s); i++ {
		k := strings.IndexByte(order[at:], s[i])
		if k < 0 {
			return 0, false
		}
		at += k
		p |= bits[at]
		at++
	}
	return p, p != 0
}

// sample replaces the variables of a search with sample values, to check
// it compiles.
func sample(s string) string {
	return strings.NewReplacer("%fhirUser", "Practitioner/x", "%patient", "Patient/x", "%client", "x").Replace(s)
}

func sampleConstraint(c scope.Constraint) scope.Constraint {
	out := make(scope.Constraint, len(c))
	for i, p := range c {
		out[i] = scope.Param{Name: p.Name, Value: sample(p.Value)}
	}
	return out
}

// vars are the values of the variables for one grant: "" when absent.
type vars struct{ fhirUser, patient, client string }

func (v vars) replace(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	ok := true
	r := func(name, val string) {
		if strings.Contains(s, name) {
			if val == "" {
				ok = false
			}
			s = strings.ReplaceAll(s, name, val)
		}
	}
	r("%fhirUser", v.fhirUser)
	r("%patient", v.patient)
	r("%client", v.client)
	return s, ok
}

// matches reports whether rule r applies to grant g.
func (r *cRule) matches(g *smartctx.Grant) bool {
	if r.userType != "" {
		typ, _, ok := g.FHIRUserReference()
		if !ok || typ != r.userType {
			return false
		}
	}
	if r.clientID != "" && g.ClientID() != r.clientID {
		return false
	}
	if r.claim != nil && !slices.Contains(ClaimStrings(g, r.claim), r.value) {
		return false
	}
	return true
}

// ClaimStrings returns the string values of the claim at path in g's
// raw claims: a string, or the strings of an array.
func ClaimStrings(g *smartctx.Grant, path []string) []string {
	if len(path) == 0 {
		return nil
	}
	v, ok := g.Claim(strings.Join(path, "."))
	if !ok {
		v, ok = g.Claim(path[0])
		for _, step := range path[1:] {
			if !ok {
				break
			}
			m, isMap := v.(map[string]any)
			if !isMap {
				ok = false
				break
			}
			v, ok = m[step]
		}
	}
	if !ok {
		return nil
	}
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return v
	}
	return nil
}

// view returns what the policy grants g's subject, looking relationships
// up with lookup (the handler) unless the policy has its own Relations.
func (a *Engine) policyView(ctx context.Context, g *smartctx.Grant) (*policyView, error) {
	if m, ok := ctx.Value(viewKey{}).(*viewMemo); ok && m.g == g && m.v != nil {
		return m.v, nil
	}
	p := a.pol
	v := &policyView{}
	var vs vars
	varsSet := false
	for i := range p.rules {
		r := &p.rules[i]
		if !r.matches(g) {
			continue
		}
		v.rules = append(v.rules, r.name)
		for j := range r.grants {
			cg := &r.grants[j]
			vg := vGrant{rule: r.name, types: cg.types, perm: cg.perm, compiled: cg.compiled}
			if (cg.compiled == nil && cg.criteria != nil || cg.rel != nil) && !varsSet {
				vs, varsSet = grantVars(g, a.baseURL), true
			}
			if !vs.apply(cg, &vg) {
				continue // a variable without a value grants nothing
			}
			if cg.rel != nil {
				q, good := vs.replace(cg.relQuery)
				if !good {
					continue
				}
				e, err := p.patients(ctx, a, cg.relType, q, cg.rel.Path)
				if err != nil {
					return nil, err
				}
				vg.patients, vg.ids = e.ids, e.sorted
			}
			v.grants = append(v.grants, vg)
		}
	}
	if m, ok := ctx.Value(viewKey{}).(*viewMemo); ok {
		m.g, m.v = g, v
	}
	return v, nil
}

// grantVars returns the values of the variables of g's grants.
func grantVars(g *smartctx.Grant, base string) vars {
	var vs vars
	if typ, id, ok := g.LocalFHIRUser(base); ok {
		vs.fhirUser = typ + "/" + id
	}
	if pid := g.Patient(); pid != "" {
		vs.patient = "Patient/" + pid
	}
	vs.client = g.ClientID()
	return vs
}

// apply sets the criteria of vg, cg's with vs's values (cg's own when
// they are compiled for every token), and reports whether each variable
// had a value.
func (vs vars) apply(cg *cGrant, vg *vGrant) bool {
	if cg.compiled != nil {
		vg.cons = cg.criteria
		return true
	}
	if cg.criteria == nil {
		return true
	}
	vg.mu = new(sync.Mutex)
	vg.cons = make(scope.Constraint, 0, len(cg.criteria))
	ok := true
	for _, c := range cg.criteria {
		val, good := vs.replace(c.Value)
		ok = ok && good
		vg.cons = append(vg.cons, scope.Param{Name: c.Name, Value: val})
	}
	return ok
}

type viewKey struct{}

// viewMemo keeps one request's view (bundle entries and contexts share
// it) and what relationships are looked up through: the request and the
// handler (nil: none, or the policy's own Relations).
type viewMemo struct {
	g    *smartctx.Grant
	v    *policyView
	r    *http.Request
	next http.Handler
}

// patients returns the patients a relationship reaches, from the cache
// or looked up.
func (p *policy) patients(ctx context.Context, a *Engine, typ, query, path string) (relEntry, error) {
	key := typ + "?" + query + "#" + path
	now := p.now()
	p.mu.Lock()
	e, ok := p.cache[key]
	p.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e, nil
	}
	var ids []string
	var err error
	switch {
	case p.relations != nil:
		ids, err = p.relations.Patients(ctx, typ+"?"+query, path)
	default:
		m, _ := ctx.Value(viewKey{}).(*viewMemo)
		if m == nil || m.next == nil {
			err = errors.New("no handler to look relationships up with")
		} else {
			ids, err = a.lookupThrough(m.r, m.next, typ, query, path)
		}
	}
	if err != nil {
		return relEntry{}, &Error{Status: http.StatusServiceUnavailable, Description: "the access policy's relationships cannot be looked up",
			Err: fmt.Errorf("relationship %s?%s: %w", typ, query, err)}
	}
	if len(ids) > p.maxLookup {
		ids = ids[:p.maxLookup] // fewer patients: refuses more, never less
	}
	e = relEntry{ids: make(map[string]struct{}, len(ids)), expires: now.Add(p.ttl)}
	for _, id := range ids {
		if id != "" {
			e.ids[id] = struct{}{}
		}
	}
	e.sorted = make([]string, 0, len(e.ids))
	for id := range e.ids {
		e.sorted = append(e.sorted, id)
	}
	sort.Strings(e.sorted)
	p.mu.Lock()
	if p.cache == nil {
		p.cache = map[string]relEntry{}
	}
	if len(p.cache) >= p.size {
		for k, old := range p.cache {
			if !now.Before(old.expires) {
				delete(p.cache, k)
			}
		}
		for k := range p.cache {
			if len(p.cache) < p.size {
				break
			}
			delete(p.cache, k)
		}
	}
	p.cache[key] = e
	p.mu.Unlock()
	return e, nil
}

// access returns the grants of v that allow every letter of perm on typ.
func (v *policyView) access(typ string, perm scope.Permission) []*vGrant {
	var out []*vGrant
	for i := range v.grants {
		g := &v.grants[i]
		if g.perm&perm != perm {
			continue
		}
		if g.types != nil && !slices.Contains(g.types, typ) {
			continue
		}
		if g.types != nil && (typ == "*" || typ == "") {
			continue
		}
		out = append(out, g)
	}
	return out
}

func unlimited(gs []*vGrant) bool {
	for _, g := range gs {
		if g.cons == nil && g.patients == nil {
			return true
		}
	}
	return false
}

// permits reports whether the policy lets resource, of type typ, leave
// or be written with letter perm.
func (a *Engine) policyPermits(v *policyView, typ string, resource []byte, perm scope.Permission) bool {
	for i := range v.grants {
		g := &v.grants[i]
		if g.perm&perm != perm || g.types != nil && !slices.Contains(g.types, typ) {
			continue
		}
		if g.cons != nil && !a.matchGrant(g, typ, resource) {
			continue
		}
		if g.patients != nil && !a.inPatients(g.patients, typ, resource) {
			continue
		}
		return true
	}
	return false
}

// inPatients reports whether resource belongs to the compartment of one
// of the patients and holds nothing of another's.
func (a *Engine) inPatients(set map[string]struct{}, typ string, resource []byte) bool {
	in := func(id string) bool { _, ok := set[id]; return ok }
	if typ == "Patient" {
		_, id, err := compartment.TypeAndID(resource)
		return err == nil && in(id) && a.containedIn(set, resource)
	}
	if !compartment.In(typ) {
		return false
	}
	ok, other, contains, err := compartment.MemberOfSet(resource, typ, in, compartment.AnyServer)
	if err != nil || !ok || other {
		return false
	}
	return !contains || a.containedIn(set, resource)
}

// containedIn reports whether every resource contained in resource
// refers to no patient outside set.
func (a *Engine) containedIn(set map[string]struct{}, resource []byte) bool {
	if !mayContain(resource) {
		return true
	}
	in := func(id string) bool { _, ok := set[id]; return ok }
	err := members(resource, func(_ string, v []byte) error {
		return fhirjson.Elements(v, func(s fhirjson.Span) error {
			res := s.Of(v)
			r, err := fhirjson.Scan(res)
			if err != nil || r.Type == "" {
				return errNotPermitted
			}
			if r.Type == "Patient" || !compartment.In(r.Type) {
				return nil
			}
			_, other, _, err := compartment.MemberOfSet(res, r.Type, in, compartment.AnyServer)
			if err != nil || other {
				return errNotPermitted
			}
			return nil
		})
	}, "contained")
	return err == nil
}

// policyDeny refuses req for the policy: the rules that apply and why.
func (a *Engine) policyDeny(req *Request, bundled bool, v *policyView, why string) *Error {
	rules := "no rule applies to this "
	if req.Context == scope.System {
		rules += "client"
	} else {
		rules += "user"
	}
	if v != nil && len(v.rules) == 1 {
		rules = "rule " + quoteAll(v.rules)
	} else if v != nil && len(v.rules) > 1 {
		rules = "rules " + quoteAll(v.rules)
	}
	desc := "refused by the access policy (" + rules + "): " + why
	rule := ""
	if v != nil {
		rule = strings.Join(v.rules, ",")
	}
	switch req.Interaction {
	case scope.InteractionRead, scope.InteractionVRead, scope.InteractionHistoryInstance:
		if a.opt.NotFoundForDenied {
			return &Error{Status: http.StatusNotFound, Description: "resource not found", By: RefusedByPolicy, Rule: rule,
				Err: errors.New(desc)}
		}
	}
	return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Description: desc, By: RefusedByPolicy, Rule: rule}
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// Who refused, in Error.By.
const (
	RefusedByScope  = "scope"
	RefusedByPolicy = "policy"
)

// applyPolicy intersects d, allowed by the scopes in req.Context, with
// the access policy: it refuses, narrows the query, or leaves the
// response guard to check the answer against the policy (d.pol).
func (a *Engine) applyPolicy(ctx context.Context, g *smartctx.Grant, req *Request, d *decision, bundled bool) (*decision, error) {
	v, err := a.policyView(ctx, g)
	if err != nil {
		return nil, err
	}
	if len(v.rules) == 0 {
		return nil, a.policyDeny(req, bundled, v, "the policy grants nothing")
	}
	typ := req.Type
	if typ == "" {
		typ = "*"
	}
	perm := d.permission()
	if perm == 0 {
		perm = scope.Read | scope.Search
	}
	if req.Conditional {
		perm |= scope.Search
	}
	gs := v.access(typ, perm)
	if len(gs) == 0 {
		return nil, a.policyDeny(req, bundled, v, "no grant allows "+typ+"."+perm.String())
	}
	d.pol = v
	free := unlimited(gs)
	switch req.Interaction {
	case scope.InteractionSearchType:
		if free {
			break
		}
		if typ == "*" {
			return nil, a.policyDeny(req, bundled, v, "searches of every type need a grant without criteria")
		}
		if one := unionPatients(gs); one != nil {
			gs = []*vGrant{one}
		}
		if len(gs) == 1 {
			if q, ok := a.narrow(gs[0], typ, d.Query); ok {
				d.Query, d.Rewritten = q, true
				break
			}
		}
		if bundled || a.opt.SkipResponseGuard {
			return nil, a.policyDeny(req, bundled, v, "this search cannot be limited to what the policy grants")
		}
		d.filtered = true
	case scope.InteractionSearchSystem, scope.InteractionHistoryType, scope.InteractionHistorySystem, scope.InteractionOperation:
		if !free {
			return nil, a.policyDeny(req, bundled, v, "the policy grants "+typ+" only with criteria, which "+string(req.Interaction)+" cannot be held to")
		}
	case scope.InteractionCreate, scope.InteractionUpdate:
		if len(req.Resource) > 0 && !a.policyPermits(v, req.Type, req.Resource, req.Interaction.Permission()) {
			return nil, a.policyDeny(req, bundled, v, "the resource does not match what the policy grants")
		}
	case scope.InteractionPatch:
		if free {
			break
		}
		var cons []scope.Constraint
		rel := false
		for _, g := range gs {
			if g.cons != nil {
				cons = append(cons, g.cons)
			}
			rel = rel || g.patients != nil
		}
		if !patchLeavesAlone(req.Resource, req.Type, rel && compartment.In(req.Type), cons) {
			return nil, a.policyDeny(req, bundled, v, "a patch must be a JSON Patch that leaves the policy's elements alone")
		}
	}
	return d, nil
}

// narrow returns q with g's limits added, when that is exact: its
// criteria, and its patients by a compartment parameter when they are at
// most MaxQueryIDs.
func (a *Engine) narrow(g *vGrant, typ, q string) (string, bool) {
	for _, p := range g.cons {
		q = appendParam(q, p.Name, p.Value)
	}
	if g.patients == nil {
		return q, true
	}
	if len(g.ids) == 0 || len(g.ids) > a.pol.maxQuery {
		return "", false
	}
	if typ == "Patient" {
		return appendParam(q, "_id", strings.Join(g.ids, ",")), true
	}
	name, _, ok := compartmentParam(typ, g.ids[0])
	if !ok || name == "_id" {
		return "", false
	}
	refs := make([]string, len(g.ids))
	for i, id := range g.ids {
		refs[i] = "Patient/" + id
	}
	return appendParam(q, name, strings.Join(refs, ",")), true
}

// withLookup returns ctx with the memo of the request's policy view and,
// when next is set, what relationships are looked up through: r and
// next. One context value, allocated once per request.
func (a *Engine) withLookup(ctx context.Context, r *http.Request, next http.Handler) context.Context {
	if a.pol == nil {
		return ctx
	}
	m := &viewMemo{}
	if next != nil && a.pol.relations == nil {
		m.r, m.next = r, next
	}
	return context.WithValue(ctx, viewKey{}, m)
}

// maxLookupPages bounds the pages of one relationship lookup through the
// handler (lookupThrough): a search that pages further is read no
// further, as one that reaches MaxLookupIDs.
const maxLookupPages = 100

// lookupThrough runs the search typ?query through next, as the guard's
// own read (IsGuardRead), and returns the patients it reaches: the ids
// of the Patients found, or the patients referenced at path. It follows
// the searchset's "next" links, page after page, while they stay under
// this FHIR base (its origin and path), none twice.
//
// A page that cannot be read (a status other than 200, an answer that is
// not a Bundle, a "next" link elsewhere or seen before) fails the whole
// lookup, and with it the request (503): the set is never taken from
// the pages read before. A search that goes on past MaxLookupIDs
// patients or maxLookupPages pages is cut there: the patients of the
// pages read so far are kept, the others dropped. That can only narrow
// what the policy grants, since a relationship only ever adds patients
// to what a grant reaches (no rule subtracts one); it refuses those
// patients, never allows another.
func (a *Engine) lookupThrough(r *http.Request, next http.Handler, typ, query, path string) ([]string, error) {
	steps := strings.Split(path, ".")
	seen := map[string]bool{}
	page, q := a.basePath+"/"+typ, appendParam(query, "_count", strconv.Itoa(a.pol.maxLookup))
	var ids []string
	for n := 0; ; n++ {
		body, err := a.lookupPage(r, next, typ, page, q)
		if err != nil {
			return nil, err
		}
		link, err := a.lookupIDs(body, typ, steps, &ids)
		if err != nil {
			return nil, err
		}
		if link == "" || len(ids) >= a.pol.maxLookup || n+1 >= maxLookupPages {
			return ids, nil
		}
		if seen[link] {
			return nil, errors.New("the search's next link goes back to a page already read")
		}
		seen[link] = true
		var ok bool
		if page, q, ok = a.pageOf(link); !ok {
			return nil, errors.New("the search's next link is not under this FHIR base")
		}
	}
}

// pageOf returns the path and query of a "next" link under this FHIR
// base: a resource path under it ("<base>/Patient?..."), or the base
// itself with a query ("<base>?_getpages=..."); ok is false for any
// other link (another origin or base, a relative URL, escapes, the
// guard's own paths).
func (a *Engine) pageOf(link string) (path, query string, ok bool) {
	if a.baseURL == "" {
		return "", "", false
	}
	if q, ok := strings.CutPrefix(link, a.baseURL+"?"); ok {
		if q == "" || strings.ContainsAny(q, "#\\ ") || !validQueryString(q) {
			return "", "", false
		}
		return a.basePath, q, true
	}
	rel, ok := a.underBase(link)
	if !ok {
		return "", "", false
	}
	p, q, _ := strings.Cut(rel, "?")
	return a.basePath + "/" + p, q, true
}

// lookupPage runs one page of a relationship's search, the GET of path
// with query, through next as the guard's own read, and returns the
// Bundle it answers.
func (a *Engine) lookupPage(r *http.Request, next http.Handler, typ, path, query string) ([]byte, error) {
	d := &decision{Request: smartctx.Request{Method: http.MethodGet, Interaction: scope.InteractionSearchType, Type: typ, Query: query},
		Limits: smartctx.Limits{Context: scope.System}}
	pre := r.Clone(context.WithValue(smartctx.WithDecision(r.Context(), d.public()), guardReadKey{}, true))
	pre.Method = http.MethodGet
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = "", "", query
	pu, err := url.Parse(path)
	if err != nil {
		return nil, err
	}
	u.Path, u.RawPath = pu.Path, pu.RawPath
	pre.URL = &u
	pre.RequestURI = u.RequestURI()
	pre.Body, pre.ContentLength = http.NoBody, 0
	for _, h := range [...]string{"If-Match", "If-None-Match", "If-Modified-Since", "If-None-Exist", "Content-Type", "Content-Length", "Accept-Encoding", "Prefer"} {
		pre.Header.Del(h)
	}
	pre.Header.Set("Accept", "application/fhir+json")
	h := http.Header{}
	gw := &guardWriter{w: headerOnly(h), max: a.opt.MaxResponseBytes}
	next.ServeHTTP(gw, pre)
	if gw.overflow || gw.status != 0 && gw.status != http.StatusOK {
		return nil, fmt.Errorf("the search answered %d", gw.status)
	}
	if enc := h.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return nil, errors.New("the search answered compressed")
	}
	return gw.buf, nil
}

// lookupIDs adds to ids the patients one page of a relationship's
// search reaches (the ids of its resources of type typ when steps is
// [""], the patients they reference at steps otherwise), and returns the
// url of its "next" link ("" when it has none).
func (a *Engine) lookupIDs(body []byte, typ string, steps []string, ids *[]string) (string, error) {
	res, err := fhirjson.Scan(body)
	if err != nil || res.Type != "Bundle" {
		return "", errors.New("the search did not answer a Bundle")
	}
	b, err := res.Bundle()
	if err != nil {
		return "", err
	}
	for _, e := range b.Entries {
		if e.ResourcePresence != fhirjson.Present {
			continue
		}
		rb := e.Resource.Of(body)
		rt, id, err := compartment.TypeAndID(rb)
		if err != nil || rt != typ {
			continue
		}
		if len(steps) == 1 && steps[0] == "" {
			*ids = append(*ids, id)
			continue
		}
		_ = referencesAt(rb, steps, func(ref []byte) {
			if pid, ok := compartment.PatientOf(ref, a.baseURL); ok {
				*ids = append(*ids, pid)
			} else if pid, ok := compartment.PatientOf(ref, compartment.NoServer); ok {
				*ids = append(*ids, pid)
			}
		})
	}
	return nextLink(body)
}

// nextLink returns the url of the "next" link of a Bundle ("" when it
// has none); two "next" links, or one without a url, are an error.
func nextLink(bundle []byte) (string, error) {
	m, err := fhirjson.Members(bundle, "link")
	if err != nil || m[0].Len() == 0 {
		return "", err
	}
	links := m[0].Of(bundle)
	next, n := "", 0
	err = fhirjson.Elements(links, func(s fhirjson.Span) error {
		l := s.Of(links)
		lm, err := fhirjson.Members(l, "relation", "url")
		if err != nil {
			return err
		}
		if rel, ok := fhirjson.DecodeString(lm[0].Of(l)); ok && rel == "next" {
			n++
			next, _ = fhirjson.DecodeString(lm[1].Of(l))
		}
		return nil
	})
	switch {
	case err != nil:
		return "", err
	case n > 1 || n == 1 && next == "":
		return "", errors.New("the search's next link is not one url")
	}
	return next, nil
}

// referencesAt calls fn with the "reference" of each Reference at the
// element path steps of obj, arrays being walked at every step.
func referencesAt(obj []byte, steps []string, fn func(ref []byte)) error {
	if len(obj) > 0 && obj[0] == '[' {
		return fhirjson.Elements(obj, func(s fhirjson.Span) error {
			return referencesAt(s.Of(obj), steps, fn)
		})
	}
	if len(steps) == 0 {
		spans, err := fhirjson.Members(obj, "reference")
		if err != nil {
			return err
		}
		if ref, ok := fhirjson.DecodeString(spans[0].Of(obj)); ok && ref != "" {
			fn([]byte(ref))
		}
		return nil
	}
	spans, err := fhirjson.Members(obj, steps[0])
	if err != nil || spans[0].Len() == 0 {
		return err
	}
	return referencesAt(spans[0].Of(obj), steps[1:], fn)
}

// unionPatients returns one grant standing for gs when each limits by
// patients alone (a panel of several relationships), or nil.
func unionPatients(gs []*vGrant) *vGrant {
	if len(gs) < 2 {
		return nil
	}
	u := &vGrant{patients: map[string]struct{}{}}
	for _, g := range gs {
		if g.cons != nil || g.patients == nil {
			return nil
		}
		for id := range g.patients {
			u.patients[id] = struct{}{}
		}
	}
	for id := range u.patients {
		u.ids = append(u.ids, id)
	}
	sort.Strings(u.ids)
	return u
}
