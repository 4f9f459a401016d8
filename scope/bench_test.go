package scope_test

import (
	"testing"

	"github.com/smartguard/smartguard/scope"
)

// benchClaim is a typical 11-scope claim of a patient app with a granular
// scope, a user scope and a v1 system scope.
const benchClaim = "launch/patient openid fhirUser offline_access patient/Patient.r " +
	"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory " +
	"patient/Condition.rs patient/MedicationRequest.rs user/Practitioner.rs system/*.read"

var (
	sinkSet    scope.Set
	sinkBool   bool
	sinkAccess scope.Access
	sinkCons   []scope.Constraint
)

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchClaim)))
	for b.Loop() {
		sinkSet = scope.Parse(benchClaim)
	}
}

func BenchmarkParseScope(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s, _ := scope.ParseScope("patient/MedicationRequest.rs")
		sinkBool = s.Kind == scope.Resource
	}
}

// BenchmarkAllows is the permission check of every request: an
// unconstrained grant found among ten scopes.
func BenchmarkAllows(b *testing.B) {
	set := scope.Parse(benchClaim)
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = set.Allows(scope.Patient, "MedicationRequest", scope.Read)
	}
}

// BenchmarkAccess answers Constrained: the granular laboratory scope.
func BenchmarkAccess(b *testing.B) {
	set := scope.Parse(benchClaim)
	b.ReportAllocs()
	for b.Loop() {
		sinkAccess = set.Access(scope.Patient, "Observation", scope.Search)
	}
}

func BenchmarkConstraints(b *testing.B) {
	set := scope.Parse(benchClaim)
	b.ReportAllocs()
	for b.Loop() {
		sinkCons = set.Constraints(scope.Patient, "Observation", scope.Search)
	}
}
