package scope

import "strings"

// Set is the parsed scope claim of one token: the union of its scopes.
// A Set is immutable; its zero value grants nothing. Copying a Set is cheap
// and safe.
type Set struct {
	scopes  []Scope
	raw     []string // the token of each scope as it was written
	invalid []string
}

// Parse parses a space-delimited scope claim (RFC 6749 §3.3). It never
// fails as a whole: a token that is unknown or malformed grants nothing and
// is kept, as written, in Invalid. Empty tokens from repeated spaces are
// skipped.
func Parse(claim string) Set {
	var s Set
	n := strings.Count(claim, " ") + 1
	for token := range strings.SplitSeq(claim, " ") {
		if token == "" {
			continue
		}
		sc, err := ParseScope(token)
		if err != nil {
			s.invalid = append(s.invalid, token)
			continue
		}
		if s.scopes == nil {
			s.scopes = make([]Scope, 0, n)
			s.raw = make([]string, 0, n)
		}
		s.scopes = append(s.scopes, sc)
		s.raw = append(s.raw, token)
	}
	return s
}

// ParseList is Parse for a claim given as a list of tokens, as in the "scp"
// claim some authorization servers send. A list element holding spaces is
// split like a claim.
func ParseList(tokens []string) Set {
	return Parse(strings.Join(tokens, " "))
}

// NewSet returns the Set of the given scopes.
func NewSet(scopes ...Scope) Set {
	s := Set{scopes: make([]Scope, len(scopes)), raw: make([]string, len(scopes))}
	for i, sc := range scopes {
		sc.Constraint = append(Constraint(nil), sc.Constraint...)
		s.scopes[i] = sc
		s.raw[i] = sc.String()
	}
	return s
}

// Len returns the number of recognised scopes in s.
func (s Set) Len() int { return len(s.scopes) }

// Scopes returns a copy of the recognised scopes, in claim order.
func (s Set) Scopes() []Scope {
	out := make([]Scope, len(s.scopes))
	copy(out, s.scopes)
	return out
}

// Invalid returns a copy of the tokens that were unknown or malformed. They
// grant nothing; they are kept to be logged or shown.
func (s Set) Invalid() []string {
	return append([]string(nil), s.invalid...)
}

// Has reports whether token was in the claim as a recognised scope, spelled
// exactly so or in canonical form: Has("launch/patient"), Has("openid").
func (s Set) Has(token string) bool {
	for i := range s.scopes {
		if s.raw[i] == token {
			return true
		}
	}
	for i := range s.scopes {
		if s.scopes[i].String() == token {
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
	// Constrained: only granular scopes grant it, so it is allowed only for
	// resources that match one of Set.Constraints.
	Constrained
	// Allowed: an unconstrained scope grants it, for every resource of the
	// type (an unconstrained scope subsumes constrained ones).
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
// ("Observation.rs" is "Observation.r Observation.s"). With several letters
// in p the answer is the weakest of the per-letter answers. It allocates
// nothing.
//
// Access knows nothing of launch context: a Patient answer must still be
// limited to the patient in context, and denied when there is none.
func (s Set) Access(c Context, typ string, p Permission) Access {
	if p == 0 || p&^All != 0 || typ == "" {
		return Denied
	}
	result := Allowed
	for bit := Create; bit <= Search; bit <<= 1 {
		if p&bit == 0 {
			continue
		}
		a := Denied
		for i := range s.scopes {
			sc := &s.scopes[i]
			if !sc.Grants(c, typ, bit) {
				continue
			}
			if sc.Constraint == nil {
				a = Allowed
				break
			}
			a = Constrained
		}
		result = min(result, a)
		if result == Denied {
			return Denied
		}
	}
	return result
}

// Allows reports whether s grants every letter of p on every resource of
// type typ in context c, without constraint. It allocates nothing.
func (s Set) Allows(c Context, typ string, p Permission) bool {
	return s.Access(c, typ, p) == Allowed
}

// Constraints returns the alternatives under which s grants p on typ in
// context c when Access is Constrained: a resource is allowed if it matches
// every Param of at least one Constraint. It returns nil when Access is
// Allowed or Denied. With several letters in p, only scopes that grant all
// of them by themselves count, which can only narrow the answer.
func (s Set) Constraints(c Context, typ string, p Permission) []Constraint {
	if s.Access(c, typ, p) != Constrained {
		return nil
	}
	var out []Constraint
	for i := range s.scopes {
		sc := &s.scopes[i]
		if sc.Grants(c, typ, p) && sc.Constraint != nil {
			out = append(out, append(Constraint(nil), sc.Constraint...))
		}
	}
	return out
}
