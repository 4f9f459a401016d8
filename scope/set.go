package scope

import "strings"

// Set is the parsed scope claim of one token: the union of its scopes.
// A Set is immutable; its zero value grants nothing. Copying a Set is cheap
// and safe.
type Set struct {
	scopes  []Scope
	invalid []string
}

// Parse parses a space-delimited scope claim (RFC 6749 §3.3). It never
// fails as a whole: a token that is unknown or malformed grants nothing and
// is kept, as written, in Invalid. Tokens are separated by the space
// character only (a tab is not a separator, and makes its token invalid);
// empty tokens from repeated spaces are skipped. The empty claim grants
// nothing.
func Parse(claim string) Set {
	var s Set
	for token := range strings.SplitSeq(claim, " ") {
		if token == "" {
			continue
		}
		if s.scopes == nil {
			s.scopes = make([]Scope, 0, countTokens(claim))
		}
		// Parse in place: a Scope is large enough that copying it shows.
		s.scopes = s.scopes[:len(s.scopes)+1]
		if err := parseScope(token, &s.scopes[len(s.scopes)-1]); err != nil {
			s.scopes[len(s.scopes)-1] = Scope{}
			s.scopes = s.scopes[:len(s.scopes)-1]
			s.invalid = append(s.invalid, token)
		}
	}
	if len(s.scopes) == 0 {
		s.scopes = nil
	}
	return s
}

// countTokens returns the number of non-empty space-separated tokens in
// claim, so that a claim padded with spaces cannot make Parse allocate
// room for scopes it does not hold.
func countTokens(claim string) int {
	n := 0
	prev := byte(' ')
	for i := 0; i < len(claim); i++ {
		if claim[i] != ' ' && prev == ' ' {
			n++
		}
		prev = claim[i]
	}
	return n
}

// ParseList is Parse for a claim given as a list of tokens, as in the "scp"
// claim some authorization servers send. A list element holding spaces is
// split like a claim.
func ParseList(tokens []string) Set {
	return Parse(strings.Join(tokens, " "))
}

// NewSet returns the Set of the given scopes. A scope that ParseScope
// could not have produced (its String does not parse back to an Equal
// Scope, as for the zero Scope or an empty Type) grants nothing: its String
// goes to Invalid instead. The Set keeps its own copy of every Constraint.
func NewSet(scopes ...Scope) Set {
	var s Set
	for _, sc := range scopes {
		canonical := sc.String()
		parsed, err := ParseScope(canonical)
		if err != nil || !parsed.Equal(sc) {
			s.invalid = append(s.invalid, canonical)
			continue
		}
		parsed.V1 = sc.V1 && parsed.Constraint == nil &&
			(parsed.Permissions == Read|Search || parsed.Permissions == Create|Update|Delete || parsed.Permissions == All)
		s.scopes = append(s.scopes, parsed)
	}
	return s
}

// Len returns the number of recognised scopes in s.
func (s Set) Len() int { return len(s.scopes) }

// Scopes returns a copy of the recognised scopes, in claim order. Changing
// it, or the Constraints in it, does not change s.
func (s Set) Scopes() []Scope {
	out := make([]Scope, len(s.scopes))
	copy(out, s.scopes)
	for i := range out {
		if out[i].Constraint != nil {
			out[i].Constraint = append(Constraint(nil), out[i].Constraint...)
		}
	}
	return out
}

// InvalidLen returns the number of tokens that were unknown or malformed,
// without copying them.
func (s Set) InvalidLen() int { return len(s.invalid) }

// Invalid returns a copy of the tokens that were unknown or malformed. They
// grant nothing; they are kept to be logged or shown.
func (s Set) Invalid() []string {
	return append([]string(nil), s.invalid...)
}

// Has reports whether the claim held token as a recognised scope, spelled
// exactly so or as a scope Equal to it: after Parse("patient/*.read"),
// both Has("patient/*.read") and Has("patient/*.rs") are true. Has answers
// about that one scope, not about what the Set grants: it is false for
// "patient/Observation.r" there. Use Access for decisions.
func (s Set) Has(token string) bool {
	sc, err := ParseScope(token)
	if err != nil {
		return false
	}
	for i := range s.scopes {
		if s.scopes[i].Equal(sc) {
			return true
		}
	}
	return false
}

// HasContext reports whether s holds a resource scope in context c.
func (s Set) HasContext(c Context) bool {
	for i := range s.scopes {
		if s.scopes[i].Kind == Resource && s.scopes[i].Context == c {
			return true
		}
	}
	return false
}

// String returns the recognised scopes in canonical form, space-separated.
func (s Set) String() string {
	var b strings.Builder
	for i := range s.scopes {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.scopes[i].String())
	}
	return b.String()
}

// Access is how a Set grants a permission on a resource type.
type Access uint8

// The three answers of Set.Access.
const (
	// Denied: no scope grants it.
	Denied Access = iota
	// Constrained: every letter is granted, but some only by granular
	// scopes, so it is allowed only for resources that match one of the
	// alternatives of Set.Constraints.
	Constrained
	// Allowed: unconstrained scopes grant every letter, for every resource
	// of the type (an unconstrained scope subsumes constrained ones).
	Allowed
)

// String returns "denied", "constrained" or "allowed".
func (a Access) String() string {
	switch a {
	case Constrained:
		return "constrained"
	case Allowed:
		return "allowed"
	}
	return "denied"
}

// Access tells how s grants permission p on resource type typ in context
// c: the union over all of its scopes, per SMART's scope equivalence rules
// ("Observation.rs" is "Observation.r Observation.s"). It is Allowed when
// every letter of p is granted by an unconstrained scope, Constrained when
// every letter is granted but some only by granular scopes, and Denied
// otherwise. It allocates nothing.
//
// typ is a resource type name such as "Observation"; any well-formed name
// is accepted, so a "*" scope covers types this package does not know. typ
// "*" asks about every type at once and is granted by "*" scopes only. A
// malformed typ (empty, lower-case, with a "/"), a zero p or a p with bits
// outside [All] is Denied.
//
// Access knows nothing of launch context: a Patient answer must still be
// limited to the patient in context, and denied when there is none.
func (s Set) Access(c Context, typ string, p Permission) Access {
	if p == 0 || p&^All != 0 || !validType(typ) {
		return Denied
	}
	var granted, free Permission // letters granted at all; granted without constraint
	for i := range s.scopes {
		sc := &s.scopes[i]
		if !sc.matches(c, typ) {
			continue
		}
		g := sc.Permissions & p
		granted |= g
		if len(sc.Constraint) == 0 {
			if free |= g; free == p {
				return Allowed
			}
		}
	}
	switch {
	case free == p:
		return Allowed
	case granted == p:
		return Constrained
	}
	return Denied
}

// Allows reports whether s grants every letter of p on every resource of
// type typ in context c, without constraint: Access(c, typ, p) == Allowed.
// It allocates nothing.
func (s Set) Allows(c Context, typ string, p Permission) bool {
	return s.Access(c, typ, p) == Allowed
}

// maxAlternatives bounds the answer of Constraints; see there.
const maxAlternatives = 256

// Constraints returns the alternatives under which s grants p on typ in
// context c when Access is Constrained: a resource is allowed if it matches
// every Param of at least one of them (OR of ANDs). The result is never
// empty when Access is Constrained, and nil otherwise (Allowed or Denied).
//
// With one letter in p the alternatives are the constraints of the scopes
// that grant it, in claim order. With several letters, each letter granted
// only by granular scopes needs one of its scopes' constraints, so an
// alternative joins one constraint per such letter (a scope granting all
// of them alone stands by itself). Past 256 alternatives (or 16384
// combinations tried) the rest are dropped, which can only narrow what is
// allowed. The result is a copy.
func (s Set) Constraints(c Context, typ string, p Permission) []Constraint {
	if s.Access(c, typ, p) != Constrained {
		return nil
	}
	// For each letter not granted freely, the scopes that grant it.
	var free Permission
	for i := range s.scopes {
		if sc := &s.scopes[i]; sc.matches(c, typ) && len(sc.Constraint) == 0 {
			free |= sc.Permissions & p
		}
	}
	need := p &^ free
	if need != 0 && need&(need-1) == 0 { // the usual case: one letter
		return s.oneLetter(c, typ, need)
	}
	var lists [][]int
	for bit := Create; bit <= Search; bit <<= 1 {
		if need&bit == 0 {
			continue
		}
		var l []int
		for i := range s.scopes {
			if sc := &s.scopes[i]; sc.matches(c, typ) && sc.Permissions&bit != 0 {
				l = append(l, i)
			}
		}
		lists = append(lists, l)
	}
	var out []Constraint
	var seen [][]int
	pos := make([]int, len(lists))
	for steps := 0; len(out) < maxAlternatives && steps < 64*maxAlternatives; steps++ {
		// The distinct scopes of this combination, in claim order.
		var pick []int
		for k, l := range lists {
			pick = insertSorted(pick, l[pos[k]])
		}
		if !s.subsumed(pick, need) && !containsSet(seen, pick) {
			seen = append(seen, pick)
			var alt Constraint
			for _, i := range pick {
				for _, prm := range s.scopes[i].Constraint {
					if !containsParam(alt, prm) {
						alt = append(alt, prm)
					}
				}
			}
			out = append(out, alt)
		}
		// Next combination.
		k := len(lists) - 1
		for ; k >= 0; k-- {
			pos[k]++
			if pos[k] < len(lists[k]) {
				break
			}
			pos[k] = 0
		}
		if k < 0 {
			break
		}
	}
	return out
}

// oneLetter is Constraints for the one letter bit: the constraints of the
// scopes that grant it, in claim order, copied into one array.
func (s Set) oneLetter(c Context, typ string, bit Permission) []Constraint {
	n, params, last := 0, 0, -1
	for i := range s.scopes {
		if sc := &s.scopes[i]; sc.matches(c, typ) && sc.Permissions&bit != 0 {
			n++
			params += len(sc.Constraint)
			last = i
		}
	}
	if n == 1 && params <= 4 {
		// The usual case, one granular scope of a few parameters:
		// one allocation.
		one := new(struct {
			c [1]Constraint
			p [4]Param
		})
		k := copy(one.p[:], s.scopes[last].Constraint)
		one.c[0] = one.p[:k:k]
		return one.c[:]
	}
	out := make([]Constraint, 0, n)
	all := make([]Param, 0, params)
	for i := range s.scopes {
		if sc := &s.scopes[i]; sc.matches(c, typ) && sc.Permissions&bit != 0 {
			start := len(all)
			all = append(all, sc.Constraint...)
			out = append(out, all[start:len(all):len(all)])
		}
	}
	return out
}

// subsumed reports whether a combination of several scopes holds one that
// grants every needed letter by itself: that scope alone is a wider
// alternative, produced on its own.
func (s Set) subsumed(pick []int, need Permission) bool {
	if len(pick) < 2 {
		return false
	}
	for _, i := range pick {
		if s.scopes[i].Permissions&need == need {
			return true
		}
	}
	return false
}

func insertSorted(a []int, v int) []int {
	for j, x := range a {
		if x == v {
			return a
		}
		if x > v {
			a = append(a, 0)
			copy(a[j+1:], a[j:])
			a[j] = v
			return a
		}
	}
	return append(a, v)
}

func containsSet(sets [][]int, a []int) bool {
	for _, b := range sets {
		if len(a) == len(b) {
			same := true
			for j := range a {
				if a[j] != b[j] {
					same = false
					break
				}
			}
			if same {
				return true
			}
		}
	}
	return false
}

func containsParam(c Constraint, p Param) bool {
	for _, q := range c {
		if q == p {
			return true
		}
	}
	return false
}
