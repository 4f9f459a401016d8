package middleware_test

import (
	"errors"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

// TestConstraintsRefuseWhatClientsCouldReadOtherwise: a granular
// constraint never matches a resource that is not JSON, even in members it
// does not read, nor one whose checked keys are given twice or in another
// case (which encoding/json, matching keys without case, would read).
func TestConstraintsRefuseWhatClientsCouldReadOtherwise(t *testing.T) {
	const head = `{"resourceType":"Observation","subject":{"reference":"Patient/1"},"category":[{"coding":[{"system":"s","code":"c"}]}],"note":`
	c := scope.Constraint{{Name: "category", Value: "s|c"}}
	tests := []struct{ name, body string }{
		{"leading zero", head + `[01]}`},
		{"dot without digits", head + `[1.]}`},
		{"plus sign", head + `[+1]}`},
		{"bare word", head + `[nul]}`},
		{"bad escape", head + `"\x"}`},
		{"control byte", head + "\"a\x01\"}"},
		{"trailing comma", head + `[1,]}`},
		{"missing colon", head + `{"a" 1}}`},
		{"missing comma", head + `{"a":1 "b":2}}`},
		{"key not a string", head + `{1:2}}`},
		{"code given twice in another case", `{"resourceType":"Observation","category":[{"coding":[{"system":"s","code":"c","cOde":"x"}]}]}`},
		{"category in another case", `{"resourceType":"Observation","category":[{"coding":[{"system":"s","code":"c"}]}],"Category":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if ok, err := matchesConstraint([]byte(tc.body), c); ok || !errors.Is(err, smartmw.ErrMalformedResource) {
				t.Errorf("MatchesConstraint = %v, %v; want ErrMalformedResource", ok, err)
			}
			if ok, err := matchesSearch([]byte(tc.body), "category=s|c", ""); ok || err == nil {
				t.Errorf("MatchesSearch = %v, %v; want an error", ok, err)
			}
		})
	}
	if ok, err := matchesConstraint([]byte(head+`[1,"x",{"a":null}]}`), c); !ok || err != nil {
		t.Errorf("a well-formed resource: %v, %v", ok, err)
	}
}
