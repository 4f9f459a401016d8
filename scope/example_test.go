package scope_test

import (
	"errors"
	"fmt"

	"github.com/smartguard/smartguard/scope"
)

func ExampleParse() {
	set := scope.Parse("launch/patient openid patient/Observation.rs patient/Patient.r patient/Observation.sr")

	fmt.Println(set.Allows(scope.Patient, "Observation", scope.Search))
	fmt.Println(set.Allows(scope.Patient, "Patient", scope.Search)) // read does not imply search
	fmt.Println(set.Allows(scope.User, "Observation", scope.Read))  // contexts never mix
	fmt.Println(set.Has("launch/patient"))
	fmt.Println(set.Invalid()) // out of order: grants nothing
	// Output:
	// true
	// false
	// false
	// true
	// [patient/Observation.sr]
}

func ExampleParseScope() {
	s, err := scope.ParseScope("patient/Observation.rs")
	fmt.Println(s.Context, s.Type, s.Permissions, err)

	_, err = scope.ParseScope("patient/Observation.sr")
	fmt.Println(err)
	fmt.Println(errors.Is(err, scope.ErrInvalid))
	// Output:
	// patient Observation rs <nil>
	// scope: "patient/Observation.sr": permissions must be an ordered subset of "cruds"
	// true
}

func ExampleSet_Access() {
	set := scope.Parse("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory")

	fmt.Println(set.Access(scope.Patient, "Observation", scope.Read))
	fmt.Println(set.Access(scope.Patient, "Observation", scope.Create))
	for _, c := range set.Constraints(scope.Patient, "Observation", scope.Read) {
		for _, p := range c {
			fmt.Printf("%s = %s\n", p.Name, p.Value)
		}
	}
	// Output:
	// constrained
	// denied
	// category = http://terminology.hl7.org/CodeSystem/observation-category|laboratory
}

func ExampleScope_String() {
	for _, tok := range []string{"patient/*.read", "user/Observation.write", "system/*.*"} {
		s := scope.MustParseScope(tok)
		fmt.Println(tok, "=>", s.String(), s.V1)
	}
	fmt.Println(scope.MustParseScope("patient/*.r").URI())
	// Output:
	// patient/*.read => patient/*.rs true
	// user/Observation.write => user/Observation.cud true
	// system/*.* => system/*.cruds true
	// http://smarthealthit.org/fhir/scopes/patient/*.r
}

func ExampleInteraction_Permission() {
	for _, i := range []scope.Interaction{
		scope.InteractionRead, scope.InteractionVRead, scope.InteractionHistoryInstance,
		scope.InteractionPatch, scope.InteractionHistoryType, scope.InteractionSearchSystem,
		scope.InteractionOperation,
	} {
		fmt.Printf("%s: %q\n", i, i.Permission())
	}
	// Output:
	// read: "r"
	// vread: "r"
	// history-instance: "r"
	// patch: "u"
	// history-type: "s"
	// search-system: "s"
	// operation: ""
}

// The lines of the package documentation, with what they return.
func Example_allows() {
	set := scope.Parse("launch/patient patient/Observation.rs openid")
	set.Allows(scope.Patient, "Observation", scope.Read)   // true
	set.Allows(scope.Patient, "Observation", scope.Create) // false: no "c"
	fmt.Println(set.Allows(scope.Patient, "Observation", scope.Read), set.Allows(scope.Patient, "Observation", scope.Create))
	// Output: true false
}
