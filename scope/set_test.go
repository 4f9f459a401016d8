package scope_test

import (
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/scope"
)

// check is one question to a Set.
type check struct {
	ctx  scope.Context
	typ  string
	perm scope.Permission
	want scope.Access
}

// TestAccessRules pins SPEC §3.2 and §7 items 58, 60, 61, 68: union,
// equivalence, no implication between letters, wildcard types, subsumption
// and separate contexts.
func TestAccessRules(t *testing.T) {
	const (
		P, U, S = scope.Patient, scope.User, scope.System
		c, r    = scope.Create, scope.Read
		u, d, s = scope.Update, scope.Delete, scope.Search
		no      = scope.Denied
		con     = scope.Constrained
		yes     = scope.Allowed
	)
	lab := "patient/Observation.rs?category=" + labCategory
	tests := []struct {
		name   string
		claim  string
		checks []check
	}{
		{name: "rs equals r plus s", claim: "patient/Observation.r patient/Observation.s", checks: []check{
			{P, "Observation", r, yes}, {P, "Observation", s, yes}, {P, "Observation", r | s, yes}, {P, "Observation", c, no},
		}},
		{name: "rs grants both letters", claim: "patient/Observation.rs", checks: []check{
			{P, "Observation", r | s, yes}, {P, "Observation", r, yes}, {P, "Observation", s, yes},
			{P, "Observation", r | s | c, no}, {P, "Observation", u, no}, {P, "Observation", d, no},
		}},
		{name: "union across scopes and types", claim: "patient/Condition.rs patient/AllergyIntolerance.rs", checks: []check{
			{P, "Condition", r, yes}, {P, "AllergyIntolerance", s, yes}, {P, "Observation", r, no}, {P, "Condition", c, no},
		}},
		{name: "union of letters across scopes", claim: "patient/Observation.c patient/Observation.u", checks: []check{
			{P, "Observation", c | u, yes}, {P, "Observation", c | u | d, no},
		}},
		{name: "write does not imply read", claim: "patient/Observation.c", checks: []check{
			{P, "Observation", c, yes}, {P, "Observation", r, no}, {P, "Observation", s, no},
		}},
		{name: "cud does not imply read", claim: "system/Encounter.cud", checks: []check{
			{S, "Encounter", c | u | d, yes}, {S, "Encounter", r, no}, {S, "Encounter", s, no},
		}},
		{name: "v1 write does not imply read", claim: "user/*.write", checks: []check{
			{U, "Observation", u, yes}, {U, "Observation", r, no}, {U, "Observation", s, no},
		}},
		{name: "read does not imply search", claim: "patient/Patient.r", checks: []check{
			{P, "Patient", r, yes}, {P, "Patient", s, no}, {P, "Patient", u, no},
		}},
		{name: "search does not imply read", claim: "user/Basic.s", checks: []check{
			{U, "Basic", s, yes}, {U, "Basic", r, no},
		}},
		{name: "wildcard matches every type, known or not", claim: "patient/*.rs", checks: []check{
			{P, "Observation", r, yes}, {P, "Patient", s, yes}, {P, "MedicationOrder", r, yes},
			{P, "CustomThing", r, yes}, {P, "*", r, yes}, {P, "Observation", c, no},
		}},
		{name: "specific type does not answer for every type", claim: "patient/Observation.rs", checks: []check{
			{P, "*", r, no}, {P, "Condition", r, no},
		}},
		{name: "malformed type names are denied even for wildcard", claim: "patient/*.cruds", checks: []check{
			{P, "", r, no}, {P, "observation", r, no}, {P, "Observation/1", r, no}, {P, "Observation?x", r, no}, {P, " Observation", r, no},
		}},
		{name: "v1 star is all", claim: "user/*.*", checks: []check{
			{U, "Appointment", scope.All, yes}, {P, "Appointment", r, no}, {S, "Appointment", r, no},
		}},
		{name: "user does not grant patient or system", claim: "user/*.cruds", checks: []check{
			{U, "Observation", r, yes}, {P, "Observation", r, no}, {S, "Observation", r, no},
		}},
		{name: "patient does not grant user or system", claim: "patient/*.cruds", checks: []check{
			{P, "Observation", r, yes}, {U, "Observation", r, no}, {S, "Observation", r, no},
		}},
		{name: "system does not grant user or patient", claim: "system/*.cruds", checks: []check{
			{S, "Observation", r, yes}, {U, "Observation", r, no}, {P, "Observation", r, no},
		}},
		{name: "zero context grants nothing", claim: "patient/*.cruds user/*.cruds system/*.cruds", checks: []check{
			{0, "Observation", r, no}, {4, "Observation", r, no},
		}},
		{name: "zero or out-of-range permission grants nothing", claim: "patient/*.cruds", checks: []check{
			{P, "Observation", 0, no}, {P, "Observation", 1 << 5, no}, {P, "Observation", scope.All | 1<<7, no},
		}},
		{name: "granular is constrained", claim: lab, checks: []check{
			{P, "Observation", r, con}, {P, "Observation", s, con}, {P, "Observation", r | s, con}, {P, "Observation", c, no},
			{P, "Condition", r, no}, {U, "Observation", r, no},
		}},
		{name: "unconstrained subsumes constrained", claim: lab + " patient/Observation.rs", checks: []check{
			{P, "Observation", r, yes}, {P, "Observation", s, yes},
		}},
		{name: "unconstrained subsumes constrained in any order", claim: "patient/Observation.r " + lab, checks: []check{
			{P, "Observation", r, yes}, {P, "Observation", s, con}, {P, "Observation", r | s, con},
		}},
		{name: "wildcard subsumes constrained type", claim: lab + " patient/*.rs", checks: []check{
			{P, "Observation", r, yes},
		}},
		{name: "constrained wildcard", claim: "patient/*.rs?_security=N", checks: []check{
			{P, "Observation", r, con}, {P, "Patient", s, con}, {P, "Patient", c, no},
		}},
		{name: "unconstrained other context does not subsume", claim: lab + " user/Observation.rs", checks: []check{
			{P, "Observation", r, con}, {U, "Observation", r, yes},
		}},
		{name: "invalid tokens grant nothing", claim: "patient/Observation.sr patient/Observation.read?x=1 Patient/*.rs patient%2F*.rs", checks: []check{
			{P, "Observation", r, no}, {P, "Observation", s, no}, {P, "Patient", r, no},
		}},
		{name: "empty claim grants nothing", claim: "", checks: []check{
			{P, "Observation", r, no}, {U, "*", r, no},
		}},
		{name: "non-resource scopes grant nothing", claim: "launch launch/patient openid fhirUser profile offline_access __x https://x.example/y", checks: []check{
			{P, "Patient", r, no}, {U, "Patient", r, no}, {S, "Patient", r, no},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := scope.Parse(tc.claim)
			for _, ch := range tc.checks {
				if got := set.Access(ch.ctx, ch.typ, ch.perm); got != ch.want {
					t.Errorf("%q: Access(%v, %q, %q) = %v; want %v", tc.claim, ch.ctx, ch.typ, ch.perm, got, ch.want)
				}
				if got := set.Allows(ch.ctx, ch.typ, ch.perm); got != (ch.want == scope.Allowed) {
					t.Errorf("%q: Allows(%v, %q, %q) = %v", tc.claim, ch.ctx, ch.typ, ch.perm, got)
				}
				cons := set.Constraints(ch.ctx, ch.typ, ch.perm)
				if (ch.want == scope.Constrained) != (len(cons) > 0) {
					t.Errorf("%q: Constraints(%v, %q, %q) = %v with Access %v", tc.claim, ch.ctx, ch.typ, ch.perm, cons, ch.want)
				}
			}
		})
	}
}

// TestWholeClaimStrings parses the scope strings the IG shows whole.
func TestWholeClaimStrings(t *testing.T) {
	tests := []struct {
		name    string
		claim   string
		len     int
		has     []string
		allowed []check
	}{
		{name: "EHR launch", claim: "launch patient/Observation.rs patient/Patient.rs openid fhirUser", len: 5,
			has: []string{"launch", "openid", "fhirUser"}, allowed: []check{{scope.Patient, "Patient", scope.Search, scope.Allowed}}},
		{name: "standalone with refresh", claim: "launch/patient patient/Observation.rs patient/Patient.rs offline_access", len: 4,
			has: []string{"launch/patient", "offline_access"}, allowed: []check{{scope.Patient, "Observation", scope.Read, scope.Allowed}}},
		{name: "extension scope", claim: "launch/patient patient/*.rs __profilePhoto.manage", len: 3,
			has: []string{"__profilePhoto.manage"}, allowed: []check{{scope.Patient, "Anything", scope.Read, scope.Allowed}}},
		{name: "backend", claim: "system/*.rs", len: 1,
			allowed: []check{{scope.System, "Patient", scope.Search, scope.Allowed}, {scope.System, "Patient", scope.Update, scope.Denied}}},
		{name: "introspection example", claim: "patient/*.read openid fhirUser", len: 3,
			has: []string{"patient/*.read", "patient/*.rs"}, allowed: []check{{scope.Patient, "Immunization", scope.Search, scope.Allowed}}},
		{name: "medication request", claim: "launch/patient patient/MedicationRequest.rs patient/Patient.rs", len: 3,
			allowed: []check{{scope.Patient, "MedicationRequest", scope.Read, scope.Allowed}, {scope.Patient, "MedicationOrder", scope.Read, scope.Denied}}},
		{name: "empty", claim: "", len: 0},
		{name: "only spaces", claim: "   ", len: 0},
		{name: "repeated spaces", claim: "  openid   patient/Patient.r  ", len: 2, has: []string{"openid", "patient/Patient.r"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := scope.Parse(tc.claim)
			if set.Len() != tc.len || len(set.Invalid()) != 0 {
				t.Errorf("Parse(%q): Len %d, Invalid %q; want %d, none", tc.claim, set.Len(), set.Invalid(), tc.len)
			}
			for _, h := range tc.has {
				if !set.Has(h) {
					t.Errorf("Has(%q) = false", h)
				}
			}
			for _, ch := range tc.allowed {
				if got := set.Access(ch.ctx, ch.typ, ch.perm); got != ch.want {
					t.Errorf("Access(%v, %q, %v) = %v; want %v", ch.ctx, ch.typ, ch.perm, got, ch.want)
				}
			}
			list := scope.ParseList(strings.Fields(tc.claim))
			if list.String() != set.String() {
				t.Errorf("ParseList gives %q; Parse gives %q", list.String(), set.String())
			}
		})
	}
}

func TestConstraintsSingleLetter(t *testing.T) {
	set := scope.Parse("patient/Observation.rs?category=" + labCategory +
		" patient/Observation.rs?category=" + vitalsCategory + " patient/Observation.s?code=x&status=final user/Observation.rs?code=y")
	got := set.Constraints(scope.Patient, "Observation", scope.Read)
	want := []scope.Constraint{
		{{Name: "category", Value: labCategory}},
		{{Name: "category", Value: vitalsCategory}},
	}
	if !slices.EqualFunc(got, want, scope.Constraint.Equal) {
		t.Errorf("Constraints(read) = %v; want %v", got, want)
	}
	got = set.Constraints(scope.Patient, "Observation", scope.Search)
	want = append(want, scope.Constraint{{Name: "code", Value: "x"}, {Name: "status", Value: "final"}})
	if !slices.EqualFunc(got, want, scope.Constraint.Equal) {
		t.Errorf("Constraints(search) = %v; want %v", got, want)
	}
	// The answer is a copy.
	got[0][0].Value = "changed"
	if again := set.Constraints(scope.Patient, "Observation", scope.Search); again[0][0].Value != labCategory {
		t.Error("changing the result of Constraints changed the Set")
	}
}

// TestConstraintsMultiLetterConsistent is the regression test for a set
// where read and search are granted by different granular scopes: Access
// said Constrained while Constraints said nil, which a caller could take
// for "no constraint".
func TestConstraintsMultiLetterConsistent(t *testing.T) {
	tests := []struct {
		name  string
		claim string
		perm  scope.Permission
		want  []string // alternatives as constraint strings
	}{
		{name: "read and search from different scopes", claim: "patient/Observation.r?a=1 patient/Observation.s?b=2",
			perm: scope.Read | scope.Search, want: []string{"a=1&b=2"}},
		{name: "one letter unconstrained", claim: "patient/Observation.r patient/Observation.s?b=2",
			perm: scope.Read | scope.Search, want: []string{"b=2"}},
		{name: "one scope grants both alone", claim: "patient/Observation.rs?a=1 patient/Observation.r?b=2",
			perm: scope.Read | scope.Search, want: []string{"a=1"}},
		{name: "cross product", claim: "patient/Observation.r?a=1 patient/Observation.r?a=2 patient/Observation.s?b=1 patient/Observation.s?b=2",
			perm: scope.Read | scope.Search, want: []string{"a=1&b=1", "a=1&b=2", "a=2&b=1", "a=2&b=2"}},
		{name: "wide scope beats combinations", claim: "patient/Observation.r?a=1 patient/Observation.rs?c=3 patient/Observation.s?b=2",
			perm: scope.Read | scope.Search, want: []string{"a=1&b=2", "c=3"}},
		{name: "shared params not repeated", claim: "patient/Observation.r?a=1&x=0 patient/Observation.s?x=0&b=2",
			perm: scope.Read | scope.Search, want: []string{"a=1&x=0&b=2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := scope.Parse(tc.claim)
			if a := set.Access(scope.Patient, "Observation", tc.perm); a != scope.Constrained {
				t.Fatalf("Access = %v; want constrained", a)
			}
			var got []string
			for _, c := range set.Constraints(scope.Patient, "Observation", tc.perm) {
				got = append(got, c.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Constraints = %q; want %q", got, tc.want)
			}
		})
	}
}

// TestConstraintsBounded: a pathological claim still answers quickly and
// never with an empty list.
func TestConstraintsBounded(t *testing.T) {
	var b strings.Builder
	for _, l := range "cruds" {
		for i := range 12 {
			b.WriteString("user/Observation." + string(l) + "?" + string(l) + "=" + string(rune('a'+i)) + " ")
		}
	}
	set := scope.Parse(b.String())
	got := set.Constraints(scope.User, "Observation", scope.All)
	if len(got) == 0 || len(got) > 256 {
		t.Fatalf("len(Constraints) = %d; want 1..256", len(got))
	}
	for _, c := range got {
		if len(c) != 5 {
			t.Fatalf("alternative %v does not constrain every letter", c)
		}
	}
}

func TestConstraintsNilWhenNotConstrained(t *testing.T) {
	set := scope.Parse("patient/Observation.rs patient/Condition.rs?x=1")
	if c := set.Constraints(scope.Patient, "Observation", scope.Read); c != nil {
		t.Errorf("Allowed: Constraints = %v; want nil", c)
	}
	if c := set.Constraints(scope.Patient, "Encounter", scope.Read); c != nil {
		t.Errorf("Denied: Constraints = %v; want nil", c)
	}
}

func TestParseKeepsInvalidAsWritten(t *testing.T) {
	set := scope.Parse("openid patient/Observation.sr junk patient/Observation.rs?category launch/Patient")
	want := []string{"patient/Observation.sr", "junk", "patient/Observation.rs?category", "launch/Patient"}
	if got := set.Invalid(); !slices.Equal(got, want) {
		t.Errorf("Invalid() = %q; want %q", got, want)
	}
	if set.Len() != 1 || set.String() != "openid" {
		t.Errorf("Len() = %d, String() = %q", set.Len(), set.String())
	}
	inv := set.Invalid()
	inv[0] = "changed"
	if set.Invalid()[0] != "patient/Observation.sr" {
		t.Error("changing Invalid() changed the Set")
	}
}

func TestSetStringCanonical(t *testing.T) {
	set := scope.Parse("launch/patient patient/*.read user/Observation.write system/*.* openid")
	const want = "launch/patient patient/*.rs user/Observation.cud system/*.cruds openid"
	if got := set.String(); got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	if again := scope.Parse(set.String()); again.String() != want {
		t.Errorf("String does not re-parse to itself: %q", again.String())
	}
}

func TestScopesIsACopy(t *testing.T) {
	set := scope.Parse("patient/Observation.rs?category=" + labCategory)
	sc := set.Scopes()
	sc[0].Constraint[0].Value = "anything"
	sc[0].Type = "*"
	if got := set.Scopes()[0]; got.Type != "Observation" || got.Constraint[0].Value != labCategory {
		t.Errorf("changing Scopes() changed the Set: %+v", got)
	}
}

func TestHasContext(t *testing.T) {
	set := scope.Parse("launch/patient openid patient/Patient.r user/Practitioner.rs")
	if !set.HasContext(scope.Patient) || !set.HasContext(scope.User) || set.HasContext(scope.System) {
		t.Errorf("HasContext: patient %v user %v system %v", set.HasContext(scope.Patient), set.HasContext(scope.User), set.HasContext(scope.System))
	}
	if scope.Parse("launch/patient").HasContext(scope.Patient) {
		t.Error(`"launch/patient" counts as a patient/ resource scope`)
	}
}

func TestHasIsAboutOneScope(t *testing.T) {
	set := scope.Parse("patient/Observation.rs openid")
	for _, tok := range []string{"patient/Observation.rs", "patient/Observation.read", "openid"} {
		if !set.Has(tok) {
			t.Errorf("Has(%q) = false", tok)
		}
	}
	for _, tok := range []string{"patient/Observation.r", "patient/Observation.sr", "fhirUser", "", "user/Observation.rs"} {
		if set.Has(tok) {
			t.Errorf("Has(%q) = true", tok)
		}
	}
}

func TestZeroSetGrantsNothing(t *testing.T) {
	var set scope.Set
	if set.Len() != 0 || set.String() != "" || set.Invalid() != nil || set.Has("openid") || set.HasContext(scope.Patient) ||
		set.Access(scope.Patient, "Patient", scope.Read) != scope.Denied || set.Constraints(scope.Patient, "Patient", scope.Read) != nil {
		t.Error("the zero Set is not empty")
	}
}

func TestNewSet(t *testing.T) {
	cons := scope.Constraint{{Name: "category", Value: labCategory}}
	set := scope.NewSet(
		scope.MustParseScope("patient/Patient.r"),
		scope.Scope{Kind: scope.Resource, Context: scope.Patient, Type: "Observation", Permissions: scope.Read | scope.Search, Constraint: cons},
		scope.MustParseScope("user/*.read"),
		scope.Scope{Kind: scope.Identity, Name: "openid"},
	)
	if set.Len() != 4 || len(set.Invalid()) != 0 {
		t.Fatalf("NewSet: Len %d, Invalid %q", set.Len(), set.Invalid())
	}
	cons[0].Value = "changed"
	if got := set.Constraints(scope.Patient, "Observation", scope.Read); len(got) != 1 || got[0][0].Value != labCategory {
		t.Errorf("NewSet shares the caller's Constraint: %v", got)
	}
	if !set.Scopes()[2].V1 || !set.Has("user/*.rs") {
		t.Errorf("NewSet lost V1 or canonical form: %+v", set.Scopes()[2])
	}
	if !set.Allows(scope.Patient, "Patient", scope.Read) || set.Allows(scope.Patient, "Patient", scope.Search) {
		t.Error("NewSet grants the wrong thing")
	}
}

// TestNewSetRejectsHandMadeScopes: a Scope literal ParseScope could not
// produce grants nothing.
func TestNewSetRejectsHandMadeScopes(t *testing.T) {
	tests := []struct {
		name string
		sc   scope.Scope
	}{
		{name: "zero scope", sc: scope.Scope{}},
		{name: "no context", sc: scope.Scope{Kind: scope.Resource, Type: "Observation", Permissions: scope.Read}},
		{name: "bad context", sc: scope.Scope{Kind: scope.Resource, Context: 9, Type: "Observation", Permissions: scope.Read}},
		{name: "empty type", sc: scope.Scope{Kind: scope.Resource, Context: scope.Patient, Permissions: scope.Read}},
		{name: "lower-case type", sc: scope.Scope{Kind: scope.Resource, Context: scope.Patient, Type: "observation", Permissions: scope.Read}},
		{name: "no permissions", sc: scope.Scope{Kind: scope.Resource, Context: scope.Patient, Type: "Observation"}},
		{name: "permission bits out of range", sc: scope.Scope{Kind: scope.Resource, Context: scope.Patient, Type: "Observation", Permissions: 0xff}},
		{name: "ambiguous param name", sc: scope.Scope{Kind: scope.Resource, Context: scope.Patient, Type: "Observation", Permissions: scope.Read,
			Constraint: scope.Constraint{{Name: "a=b", Value: "c"}}}},
		{name: "empty param value", sc: scope.Scope{Kind: scope.Resource, Context: scope.Patient, Type: "Observation", Permissions: scope.Read,
			Constraint: scope.Constraint{{Name: "a", Value: ""}}}},
		{name: "identity that is not one", sc: scope.Scope{Kind: scope.Identity, Name: "__x"}},
		{name: "role without launch type", sc: scope.Scope{Kind: scope.Launch, Role: "x"}},
		{name: "resource fields on identity", sc: scope.Scope{Kind: scope.Identity, Name: "openid", Context: scope.User, Type: "*", Permissions: scope.All}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := scope.NewSet(tc.sc)
			if set.Len() != 0 || len(set.Invalid()) != 1 {
				t.Errorf("NewSet(%+v): Len %d, Invalid %q", tc.sc, set.Len(), set.Invalid())
			}
			for _, c := range []scope.Context{scope.Patient, scope.User, scope.System} {
				if set.Access(c, "Observation", scope.Read) != scope.Denied {
					t.Errorf("grants %v read", c)
				}
			}
		})
	}
}

func TestGrants(t *testing.T) {
	tests := []struct {
		token string
		ch    check
		want  bool
	}{
		{"patient/Observation.rs", check{scope.Patient, "Observation", scope.Read | scope.Search, 0}, true},
		{"patient/Observation.rs", check{scope.Patient, "Observation", scope.Read | scope.Create, 0}, false},
		{"patient/Observation.rs", check{scope.User, "Observation", scope.Read, 0}, false},
		{"patient/Observation.rs", check{scope.Patient, "Condition", scope.Read, 0}, false},
		{"patient/Observation.rs", check{scope.Patient, "Observation", 0, 0}, false},
		{"patient/*.rs", check{scope.Patient, "Unknown", scope.Read, 0}, true},
		{"patient/*.rs", check{scope.Patient, "", scope.Read, 0}, false},
		{"patient/*.rs", check{scope.Patient, "bad/type", scope.Read, 0}, false},
		{"patient/Observation.rs?category=x", check{scope.Patient, "Observation", scope.Read, 0}, true}, // ignores the constraint
		{"launch/patient", check{scope.Patient, "Patient", scope.Read, 0}, false},
	}
	for _, tc := range tests {
		if got := scope.MustParseScope(tc.token).Grants(tc.ch.ctx, tc.ch.typ, tc.ch.perm); got != tc.want {
			t.Errorf("%q.Grants(%v, %q, %v) = %v; want %v", tc.token, tc.ch.ctx, tc.ch.typ, tc.ch.perm, got, tc.want)
		}
	}
}

func TestAccessDoesNotAllocate(t *testing.T) {
	set := scope.Parse(benchClaim)
	allocs := testing.AllocsPerRun(100, func() {
		_ = set.Allows(scope.Patient, "Observation", scope.Read)
		_ = set.Access(scope.Patient, "Observation", scope.Search)
		_ = set.Access(scope.System, "Encounter", scope.Read|scope.Search)
	})
	if allocs != 0 {
		t.Errorf("Access allocates %v times per run", allocs)
	}
}

// TestSetConcurrentUse is run under -race: a Set is read by many requests
// at once.
func TestSetConcurrentUse(t *testing.T) {
	set := scope.Parse(benchClaim)
	done := make(chan bool)
	for range 8 {
		go func() {
			ok := true
			for range 100 {
				ok = ok && set.Allows(scope.Patient, "Condition", scope.Read)
				ok = ok && len(set.Constraints(scope.Patient, "Observation", scope.Search)) == 1
				ok = ok && set.Has("openid") && len(set.Scopes()) == 10
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("a concurrent reader got a wrong answer")
		}
	}
}

func TestConstraintStringAndEqual(t *testing.T) {
	c := scope.Constraint{{Name: "code", Value: "a&b"}, {Name: "code", Value: "100% \"x\"\\"}, {Name: "category", Value: "http://x|y"}}
	const want = `code=a%26b&code=100%25%20%22x%22%5C&category=http://x|y`
	if got := c.String(); got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	if !c.Equal(slices.Clone(c)) || c.Equal(c[:2]) || c.Equal(scope.Constraint{c[1], c[0], c[2]}) {
		t.Error("Equal is wrong")
	}
	var empty scope.Constraint
	if !empty.Equal(scope.Constraint{}) || empty.String() != "" {
		t.Error("nil and empty constraints differ")
	}
}

// TestParseSpacePaddingDoesNotAmplify: a claim of one scope padded with a
// megabyte of spaces must not allocate room for a million scopes.
func TestParseSpacePaddingDoesNotAmplify(t *testing.T) {
	claim := "openid" + strings.Repeat(" ", 1<<20) + "patient/*.rs"
	var set scope.Set
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	set = scope.Parse(claim)
	runtime.ReadMemStats(&ms1)
	if set.Len() != 2 {
		t.Fatalf("Len() = %d; want 2", set.Len())
	}
	if got := ms1.TotalAlloc - ms0.TotalAlloc; got > 64<<10 {
		t.Errorf("Parse allocated %d bytes for two scopes", got)
	}
}
