package middleware_test

import (
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

// TestDeepNestingIsAnErrorNotACrash: 6 MB of nested arrays or objects,
// handed to every public function that reads a resource, is an error.
// (Each once crashed the process with a stack overflow.)
func TestDeepNestingIsAnErrorNotACrash(t *testing.T) {
	const n = 6 << 20
	bodies := map[string][]byte{
		"arrays":              []byte(strings.Repeat("[", n)),
		"objects":             []byte(strings.Repeat(`{"a":`, n/5)),
		"inside a resource":   []byte(`{"resourceType":"Observation","subject":` + strings.Repeat("[", n)),
		"inside an extension": []byte(`{"resourceType":"Observation","extension":` + strings.Repeat(`{"a":`, n/5)),
	}
	c := scope.MustParseScope("patient/Observation.rs?category=laboratory").Constraint
	d := smartctx.NewDecision(smartctx.Request{}, smartctx.Limits{Patient: "123", Constraints: []scope.Constraint{c}})
	for name, body := range bodies {
		for fn, call := range map[string]func() (bool, error){
			"InPatientCompartment": func() (bool, error) { return smartmw.InPatientCompartment(body, "123") },
			"MatchesConstraint":    func() (bool, error) { return matchesConstraint(body, c) },
			"Permits":              func() (bool, error) { return smartmw.Permits(d, body) },
			"MatchesSearch":        func() (bool, error) { return matchesSearch(body, "category=laboratory", "") },
		} {
			if ok, err := call(); ok || err == nil {
				t.Errorf("%s of %s: %v, %v; want an error", fn, name, ok, err)
			}
		}
	}
}
