package engine

import (
	"bytes"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/compartment"
	"github.com/smartguard/smartguard/internal/fhirjson"
	"github.com/smartguard/smartguard/internal/search"
	"github.com/smartguard/smartguard/scope"
)

// The one rule reads each resource of a searchset twice or more besides
// the scan of the body: once for the patient compartment, once per
// granular constraint. A respCheck makes those reads on the members the
// scan reads (fhirjson.Visitor), so that the values off the paths they
// follow are read once, by the scan: compartment.Check and
// search.Matcher read the same paths with the same rules on the same
// bytes as compartment.MemberOfContains and search.Query.Match, and the
// scan has read everything else, well-formed, when it succeeds. The
// rule applied is the same (allowsAt); what it reads of an entry comes
// from the respCheck when the respCheck read that entry for the same
// type, patient and constraints, from the resource's bytes otherwise.

// respCheck is the check of the entries of one response: the grant's
// answer for each resource type it meets (a searchset repeats a few), and
// what the scan read of each entry's resource.
type respCheck struct {
	a    *Engine
	gr   *smartctx.Grant
	d    *decision
	body []byte

	rules [8]rule // the grant's answers met, the first 8
	nrule int

	facts []entryFacts // by entry index

	// The resource being read.
	cur  entryFacts
	k    int // its members read
	cmp  compartment.Check
	ms   []search.Matcher // one per constraint of cur.rule
	hold bool             // its first member is not its type: hold them
	held []heldMember     // the members held
}

// rule is the grant's answer for one resource type and letter in one
// context (Engine.access), with its constraints compiled (nil where not
// evaluated).
type rule struct {
	c    scope.Context
	typ  string
	p    scope.Permission
	acc  scope.Access
	cons []scope.Constraint
	qs   []*search.Query
	q4   [4]*search.Query // qs, for up to 4 constraints
	in   bool             // compartment.In(typ)
}

// entryFacts is what the scan read of one entry's resource.
type entryFacts struct {
	done bool   // read to its end
	typ  string // its resourceType (a string without escapes)
	// For the compartment of pid (compartment.MemberOfContains), when
	// cmp is set.
	cmp                  bool
	pid                  string
	member, contains, no bool // no: the check failed (ErrJSON)
	// Whether some constraint of rule matched, when rule is not nil.
	rule    *rule
	matched bool
}

// start readies rc for the response body to d; it reports whether the
// scan should tell rc the entries' members: under a restricted decision
// the guard checks each entry, and not a batch's, each answer of which
// has its own decision.
func (rc *respCheck) start(a *Engine, gr *smartctx.Grant, d *decision, body []byte) bool {
	rc.reset()
	if !d.restricted() || d.own || d.Type == "Bundle" || len(d.entries()) > 0 ||
		d.Interaction == scope.InteractionBatch || d.Interaction == scope.InteractionTransaction {
		return false
	}
	rc.a, rc.gr, rc.d, rc.body = a, gr, d, body
	return true
}

// reset forgets the response, keeping rc's memory.
func (rc *respCheck) reset() {
	rc.a, rc.gr, rc.d, rc.body = nil, nil, nil, nil
	for i := range rc.rules[:rc.nrule] {
		rc.rules[i] = rule{}
	}
	rc.nrule = 0
	clear(rc.facts)
	rc.facts = rc.facts[:0]
	rc.cur = entryFacts{}
	// Nothing kept may hold on to the body; what the readers remember
	// of types and their memory stay.
	rc.held = rc.held[:0] // spans, no pointer
	rc.cmp.Reset(nil, "", "", "")
	for i := range rc.ms {
		rc.ms[i].Reset(nil, nil)
	}
}

// rule returns the grant's answer for typ and letter p in context c,
// made once per response for the first 8 asked; nil past them.
func (rc *respCheck) rule(c scope.Context, typ string, p scope.Permission) *rule {
	if r := rc.known(c, []byte(typ), p); r != nil {
		return r
	}
	return rc.add(c, typ, p)
}

// known returns the rule made for typ and p in c, or nil.
func (rc *respCheck) known(c scope.Context, typ []byte, p scope.Permission) *rule {
	for i := range rc.rules[:rc.nrule] {
		if r := &rc.rules[i]; r.c == c && r.p == p && r.typ == string(typ) {
			return r
		}
	}
	return nil
}

// add makes the rule for typ and p in c, unless 8 are made (nil).
func (rc *respCheck) add(c scope.Context, typ string, p scope.Permission) *rule {
	if rc.nrule == len(rc.rules) {
		return nil
	}
	r := &rc.rules[rc.nrule]
	rc.nrule++
	*r = rule{c: c, typ: typ, p: p, in: compartment.In(typ)}
	r.acc, r.cons = rc.a.access(rc.gr, c, typ, p)
	if len(r.cons) > 0 {
		r.qs = r.q4[:0]
		if len(r.cons) > len(r.q4) {
			r.qs = make([]*search.Query, 0, len(r.cons))
		}
		r.qs = r.qs[:len(r.cons)]
		for j, con := range r.cons {
			r.qs[j] = rc.a.query(typ, con)
		}
	}
	return r
}

// Begin starts the resource of entry n (fhirjson.Visitor).
func (rc *respCheck) Begin(int) {
	rc.cur, rc.k, rc.hold, rc.held = entryFacts{}, 0, false, rc.held[:0]
}

// Member reads one member of the resource (fhirjson.Visitor). When the
// first is "resourceType", as FHIR servers write it, it tells what to
// read of the others as they come; otherwise the members are held until
// the resource's end, where its "resourceType" is found among them.
func (rc *respCheck) Member(key fhirjson.Span, escaped bool, value fhirjson.Span) {
	if rc.k++; rc.k == 1 {
		rc.hold = escaped || string(key.Of(rc.body)) != "resourceType"
		if !rc.hold {
			rc.begin(escaped, value)
		}
	}
	switch {
	case rc.hold:
		rc.held = append(rc.held, heldMember{key, value, escaped})
	case rc.cur.typ != "":
		rc.member(key.Of(rc.body), escaped, value)
	}
}

// heldMember is a member held until its resource's type is known: spans
// of the body, no pointer.
type heldMember struct {
	key, value fhirjson.Span
	escaped    bool
}

// member runs the reads readied for the resource (begin) on one member.
func (rc *respCheck) member(key []byte, escaped bool, value fhirjson.Span) {
	if rc.cur.cmp {
		rc.cmp.Member(key, escaped, value)
	}
	if rc.cur.rule != nil {
		for i := range rc.cur.rule.qs {
			if rc.cur.rule.qs[i] != nil {
				rc.ms[i].Member(key, escaped, value)
			}
		}
	}
}

// replay reads the members held, once the resource's "resourceType" is
// found among them (the first so named: another would make the Bundle
// unreadable).
func (rc *respCheck) replay() {
	for _, m := range rc.held {
		if string(m.key.Of(rc.body)) == "resourceType" && !m.escaped {
			rc.begin(m.escaped, m.value)
			break
		}
	}
	if rc.cur.typ == "" {
		return
	}
	for _, m := range rc.held {
		rc.member(m.key.Of(rc.body), m.escaped, m.value)
	}
}

// begin reads value, the resource's "resourceType" (escaped: its key holds
// an escape, which reads none), and readies the reads the one rule will
// ask of the resource: none when the value is not a plain string (the one
// rule then reads the resource's bytes), or when the resource is refused
// whatever it holds.
func (rc *respCheck) begin(escaped bool, value fhirjson.Span) {
	v := value.Of(rc.body)
	if escaped || len(v) < 3 || v[0] != '"' || bytes.IndexByte(v, '\\') >= 0 {
		return
	}
	raw, d := v[1:len(v)-1], rc.d
	if string(raw) != d.Type && d.Type != "" && d.Type != "*" && d.Operation == "" && !d.Includes {
		return // refused whatever it holds (permitted)
	}
	p := d.permission()
	if p == 0 || string(raw) != d.Type && d.Type != "" && d.Type != "*" {
		p = scope.Read
	}
	r := rc.known(d.Context, raw, p)
	if r == nil {
		r = rc.add(d.Context, string(raw), p)
	}
	if r == nil || r.acc == scope.Denied {
		return
	}
	rc.cur.typ = r.typ
	if pid := d.Patient; pid != "" && r.typ != "Patient" && r.typ != "Bundle" && r.typ != "Parameters" && r.in {
		rc.cur.cmp, rc.cur.pid = true, pid
		rc.cmp.Reset(rc.body, r.typ, pid, compartment.AnyServer)
	}
	if r.acc == scope.Constrained {
		rc.cur.rule = r
		for len(rc.ms) < len(r.qs) {
			rc.ms = append(rc.ms, search.Matcher{})
		}
		for i, q := range r.qs {
			if q != nil {
				rc.ms[i].Reset(q, rc.body)
			}
		}
	}
}

// End ends the resource of entry n (fhirjson.Visitor): what was read of
// it is kept for allowsAt.
func (rc *respCheck) End(n int) {
	if rc.hold {
		rc.replay()
	}
	f := rc.cur
	if f.typ == "" {
		return
	}
	f.done = true
	if f.cmp {
		var err error
		f.member, f.contains, err = rc.cmp.Result()
		f.no = err != nil
	}
	if f.rule != nil {
		for i, q := range f.rule.qs {
			if q != nil && rc.ms[i].Result() {
				f.matched = true
				break
			}
		}
	}
	for len(rc.facts) <= n {
		rc.facts = append(rc.facts, entryFacts{})
	}
	rc.facts[n] = f
}

// entryAt is entry i of the response rc checks, for allowsAt.
type entryAt struct {
	rc *respCheck
	i  int
}

// facts returns what the scan read of the entry, or nil.
func (at *entryAt) facts() *entryFacts {
	if at == nil || at.rc == nil || at.i >= len(at.rc.facts) || !at.rc.facts[at.i].done {
		return nil
	}
	return &at.rc.facts[at.i]
}

// access is Engine.access, answered once per response for the entries
// of one; r is the answer's rule, or nil.
func (at *entryAt) access(a *Engine, gr *smartctx.Grant, c scope.Context, typ string, p scope.Permission) (scope.Access, []scope.Constraint, *rule) {
	if at != nil && at.rc != nil && at.rc.a == a && at.rc.gr == gr {
		if r := at.rc.rule(c, typ, p); r != nil {
			return r.acc, r.cons, r
		}
	}
	acc, cons := a.access(gr, c, typ, p)
	return acc, cons, nil
}

// memberOfContains is compartment.MemberOfContains of resource, from what
// the scan read of it when it read it for typ and pid.
func (at *entryAt) memberOfContains(resource []byte, typ, pid string) (ok, contains bool, err error) {
	if f := at.facts(); f != nil && f.cmp && f.typ == typ && f.pid == pid {
		if f.no {
			return false, false, compartment.ErrJSON
		}
		return f.member, f.contains, nil
	}
	return compartment.MemberOfContains(resource, typ, pid, compartment.AnyServer)
}

// matches reports whether resource, of type typ, matches one of cons (r's
// when r is not nil), from what the scan read of it when it read it for
// r.
func (at *entryAt) matches(a *Engine, typ string, resource []byte, cons []scope.Constraint, r *rule) bool {
	if f := at.facts(); f != nil && r != nil && f.rule == r && f.typ == typ {
		return f.matched
	}
	for j, con := range cons {
		q := (*search.Query)(nil)
		if r != nil {
			q = r.qs[j]
		} else {
			q = a.query(typ, con)
		}
		if q == nil {
			continue
		}
		if m, err := q.Match(resource); err == nil && m {
			return true
		}
	}
	return false
}
