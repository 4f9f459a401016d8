package scope_test

import (
	"strings"
	"testing"

	"github.com/smartguard/smartguard/scope"
)

// FuzzParse checks, for any input, that parsing never panics, that every
// scope ParseScope accepts renders to a String that parses back to an
// Equal scope (and the same String), that a Set Has each of its scopes,
// and that a Set never grants a letter none of its scopes carries.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"", " ", "patient/*.rs", "user/*.cruds", "system/*.read", "patient/*.*", "user/Observation.write",
		"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
		"patient/Basic.cuds?code=https://myapp.example.org|encrypted-phr-access-keys",
		"patient/Observation.rs?code:in=http://valueset.example.org/ValueSet/diabetes-codes",
		"patient/Observation.rs?patient.birthdate=1990&code=a%26b&code=%25",
		"patient/Observation.rs?code=a%2", "patient/Observation.sr", "patient/Observation.rrs",
		"patient/Observation.read?category=x", "patient/Observation.rs?", "patient/Observation.rs?category",
		"Patient/Observation.rs", "patient/observation.rs", "patient%2FObservation.rs", "patient/Observation.Read",
		"launch", "launch/patient", "launch/list?role=https://example.org/med-list-at-home", "launch?role=x",
		"openid", "fhirUser", "profile", "offline_access", "online_access", "__profilePhoto.manage",
		"https://ehr.example.org/scopes/profilePhoto.manage", "urn:x", "__", "\x00", "\r", "openid\tfhirUser", "patient/\xff.rs",
		benchClaim,
		"launch patient/Observation.rs patient/Patient.rs openid fhirUser",
		"patient/Observation.r?a=1 patient/Observation.s?b=2 patient/*.c",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		// One token.
		if sc, err := scope.ParseScope(in); err == nil {
			checkRoundTrip(t, sc)
			_ = sc.URI()
		} else if sc.Kind != 0 {
			t.Errorf("ParseScope(%q) returned %+v with error %v", in, sc, err)
		}

		// A whole claim.
		set := scope.Parse(in)
		var letters [4]scope.Permission // by context; index 0 unused
		wildcard := [4]bool{}
		types := map[string]bool{}
		for _, sc := range set.Scopes() {
			checkRoundTrip(t, sc)
			if !set.Has(sc.String()) {
				t.Errorf("Parse(%q).Has(%q) = false", in, sc.String())
			}
			if sc.Kind == scope.Resource {
				letters[sc.Context] |= sc.Permissions
				types[sc.Type] = true
				if sc.Type == "*" {
					wildcard[sc.Context] = true
				}
			}
		}
		n := 0
		for tok := range strings.SplitSeq(in, " ") {
			if tok != "" {
				n++
			}
		}
		if set.Len()+len(set.Invalid()) != n {
			t.Errorf("Parse(%q): %d scopes + %d invalid != %d tokens", in, set.Len(), len(set.Invalid()), n)
		}
		for _, tok := range set.Invalid() {
			if _, err := scope.ParseScope(tok); err == nil {
				t.Errorf("Parse(%q) put valid token %q in Invalid", in, tok)
			}
		}
		if again := scope.Parse(set.String()); again.String() != set.String() || len(again.Invalid()) != 0 {
			t.Errorf("Parse(String()) of %q: %q, invalid %q", set.String(), again.String(), again.Invalid())
		}

		// Access never grants a letter that no scope of that context
		// carries, nor a type no scope names.
		types["Observation"], types["Zz9"] = true, true
		for c := scope.Patient; c <= scope.System; c++ {
			for typ := range types {
				for p := scope.Permission(1); p <= scope.All; p++ {
					a := set.Access(c, typ, p)
					if a != scope.Denied && p&^letters[c] != 0 {
						t.Fatalf("Parse(%q).Access(%v, %q, %q) = %v but the scopes carry only %q", in, c, typ, p, a, letters[c])
					}
					if a != scope.Denied && !wildcard[c] && !strings.Contains(" "+set.String(), " "+c.String()+"/"+typ+".") {
						t.Fatalf("Parse(%q).Access(%v, %q, %q) = %v without a scope naming the type", in, c, typ, p, a)
					}
					cons := set.Constraints(c, typ, p)
					if (a == scope.Constrained) != (len(cons) > 0) {
						t.Fatalf("Parse(%q): Access(%v, %q, %q) = %v but Constraints = %v", in, c, typ, p, a, cons)
					}
				}
			}
		}
	})
}

func checkRoundTrip(t *testing.T, sc scope.Scope) {
	t.Helper()
	s := sc.String()
	back, err := scope.ParseScope(s)
	if err != nil {
		t.Fatalf("ParseScope(%q), the String of %+v: %v", s, sc, err)
	}
	if !back.Equal(sc) {
		t.Fatalf("ParseScope(%q) = %+v; not Equal to %+v", s, back, sc)
	}
	if back.String() != s {
		t.Fatalf("String not stable: %q then %q", s, back.String())
	}
}
