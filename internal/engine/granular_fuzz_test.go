package engine

import (
	"strings"
	"testing"

	"github.com/smartguard/smartguard/internal/search"
	"github.com/smartguard/smartguard/scope"
)

// fuzzObservations are the resources the granular properties are checked
// on: the store's, and Observations of several categories or none.
var fuzzObservations = append([]string{
	`{"resourceType":"Observation","id":"m1","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"},` +
		`{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"text":"x"},"subject":{"reference":"Patient/123"}}`,
	`{"resourceType":"Observation","id":"m2","status":"amended","code":{"coding":[{"system":"http://loinc.org","code":"1-8"}]},"subject":{"reference":"Patient/123"}}`,
	`{"resourceType":"Observation","id":"m3","status":"final","category":[{"coding":[{"code":"laboratory"}]}],"code":{"text":"x"},"subject":{"reference":"Patient/123"}}`,
}, storeData["Observation"]...)

// FuzzGranularNarrowing checks the two ways a search is held to granular
// alternatives without the guard filtering it, on Observations, with the
// evaluator the guard uses (internal/search):
//
//   - queryWithin: when it says the query holds its results to the
//     alternatives, every Observation the query matches matches one;
//   - mergeable: the one constraint it makes matches exactly the
//     Observations one of the alternatives matches.
//
// Neither may panic on any input.
func FuzzGranularNarrowing(f *testing.F) {
	for _, seed := range [][3]string{
		{"category=" + labCat, "category=" + vitCat, "category=" + labCat + "," + vitCat},
		{"category=" + labCat + "&status=final", "status=final&category=" + vitCat, "status=final&category=" + vitCat},
		{"category=" + labCat + "," + socCat, "code=http://loinc.org|1-8", "category=" + socCat},
		{"category:not=" + labCat, "category:not=" + vitCat, "category:not=" + labCat},
		{"category=laboratory", "category=vital-signs", "category=laboratory,vital-signs,survey"},
		{"status=final", "status=amended", "status=final,amended&code=http://loinc.org|1-8"},
		{"category=a\\,b", "category=c", "category=a\\,b,c"},
		{"code=http://loinc.org|2339-0", "code=http://loinc.org|8480-6", "code=http://loinc.org|2339-0,http://loinc.org|8480-6"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, c1, c2, q string) {
		if strings.ContainsAny(c1+c2, " \t\r\n") {
			return // one scope each
		}
		set := scope.Parse("patient/Observation.rs?" + c1 + " patient/Observation.rs?" + c2)
		cons := set.Constraints(scope.Patient, "Observation", scope.Search)
		within := queryWithin(cons, q, "")
		var merged scope.Constraint
		ok := len(cons) > 1 && mergeable("Observation", cons, &merged)
		_, _ = splitList(q)
		if !within && !ok {
			return
		}
		alts := make([]*search.Query, len(cons))
		for i, c := range cons {
			var err error
			if alts[i], err = search.Compile("Observation", c, search.Options{Base: testBase}); err != nil {
				return // not evaluated: grants nothing, nothing to compare
			}
		}
		anyAlt := func(r string) bool {
			for _, alt := range alts {
				if m, err := alt.Match([]byte(r)); err == nil && m {
					return true
				}
			}
			return false
		}
		if within {
			query, err := search.Parse("Observation", selecting(q), search.Options{Base: testBase})
			if err == nil {
				for _, r := range fuzzObservations {
					if m, err := query.Match([]byte(r)); err == nil && m && !anyAlt(r) {
						t.Fatalf("query %q held to %v matches %s, which no alternative matches", q, cons, r)
					}
				}
			}
		}
		if ok {
			mq, err := search.Compile("Observation", merged, search.Options{Base: testBase})
			if err != nil {
				t.Fatalf("alternatives %v compile, their merge %v does not: %v", cons, merged, err)
			}
			for _, r := range fuzzObservations {
				m, err := mq.Match([]byte(r))
				if err != nil {
					continue
				}
				if m != anyAlt(r) {
					t.Fatalf("merge %v of %v: %v on %s, the alternatives %v", merged, cons, m, r, anyAlt(r))
				}
			}
		}
	})
}
