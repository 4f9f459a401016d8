package context

import (
	stdctx "context"
	"testing"

	"github.com/smartguard/smartguard/scope"
)

func TestDecisionContext(t *testing.T) {
	if _, ok := DecisionFromContext(stdctx.Background()); ok {
		t.Fatal("decision on an empty context")
	}
	if _, ok := DecisionFromContext(WithDecision(stdctx.Background(), nil)); ok {
		t.Fatal("nil decision reported")
	}
	d := &Decision{Interaction: scope.InteractionRead, Type: "Observation", ID: "1"}
	got, ok := DecisionFromContext(WithDecision(stdctx.Background(), d))
	if !ok || got != d {
		t.Fatal("decision lost")
	}
}

func TestDecisionRestricted(t *testing.T) {
	tests := []struct {
		name string
		d    *Decision
		want bool
	}{
		{"nil", nil, true},
		{"free", &Decision{Context: scope.User}, false},
		{"patient", &Decision{Patient: "1"}, true},
		{"constraints", &Decision{Constraints: []scope.Constraint{{{Name: "category", Value: "x"}}}}, true},
		{"includes", &Decision{Includes: true}, true},
		{"entry", &Decision{Entries: []*Decision{{}, {Patient: "1"}}}, true},
	}
	for _, tc := range tests {
		if got := tc.d.Restricted(); got != tc.want {
			t.Errorf("%s: Restricted = %v", tc.name, got)
		}
	}
}
