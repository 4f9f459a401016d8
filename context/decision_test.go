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
	d := NewDecision(Request{Interaction: scope.InteractionRead, Type: "Observation", ID: "1"}, Limits{})
	got, ok := DecisionFromContext(WithDecision(stdctx.Background(), d))
	if !ok || got != d {
		t.Fatal("decision lost")
	}
}

func TestDecisionRestricted(t *testing.T) {
	cons := []scope.Constraint{{{Name: "category", Value: "x"}}}
	tests := []struct {
		name string
		d    *Decision
		want bool
	}{
		{"nil", nil, true},
		{"free", NewDecision(Request{}, Limits{Context: scope.User}), false},
		{"patient", NewDecision(Request{}, Limits{Patient: "1"}), true},
		{"constraints", NewDecision(Request{}, Limits{Constraints: cons}), true},
		{"includes", NewDecision(Request{}, Limits{Includes: true}), true},
		{"entry", NewDecision(Request{}, Limits{}, NewDecision(Request{}, Limits{}), NewDecision(Request{}, Limits{Patient: "1"})), true},
		{"free entries", NewDecision(Request{}, Limits{}, NewDecision(Request{}, Limits{})), false},
	}
	for _, tc := range tests {
		if got := tc.d.Restricted(); got != tc.want {
			t.Errorf("%s: Restricted = %v", tc.name, got)
		}
	}
}

// TestDecisionCannotBeWidened: nothing a holder of a Decision does to what
// its getters return, or to what it was made from, changes the Decision.
func TestDecisionCannotBeWidened(t *testing.T) {
	cons := []scope.Constraint{{{Name: "category", Value: "laboratory"}}}
	entry := NewDecision(Request{Type: "Observation"}, Limits{Patient: "1"})
	d := NewDecision(Request{Interaction: scope.InteractionSearchType, Type: "Observation", Query: "patient=1"},
		Limits{Context: scope.Patient, Patient: "1", Constraints: cons}, entry)

	cons[0][0].Value = "changed-by-maker" // the slice it was made from
	d.Limits().Constraints[0][0].Value = "changed-by-getter"
	l := d.Limits()
	l.Patient, l.Constraints[0][0].Value = "", "changed-by-limits"
	d.Entries()[0] = NewDecision(Request{}, Limits{})
	r := d.Request()
	r.Query = "patient=2"

	tests := []struct {
		name, got, want string
	}{
		{"constraint", d.Limits().Constraints[0][0].Value, "laboratory"},
		{"limits constraint", d.Limits().Constraints[0][0].Value, "laboratory"},
		{"patient", d.Limits().Patient, "1"},
		{"query", d.Request().Query, "patient=1"},
		{"entry patient", d.Entries()[0].Limits().Patient, "1"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %q after changes from outside, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestNilDecisionGetters(t *testing.T) {
	var d *Decision
	if d.Limits().Patient != "" || d.Limits().Constraints != nil || d.Entries() != nil || d.Request().Type != "" || d.Limits().Includes || d.Limits().Context != 0 {
		t.Fatal("a nil Decision's getters returned something")
	}
}

func TestRequestParams(t *testing.T) {
	r := Request{Query: "patient=Patient%2F1&code=a|b&code=c", Form: "status=final&bad=%zz"}
	p := r.Params()
	if p.Get("patient") != "Patient/1" || len(p["code"]) != 2 || p.Get("status") != "final" || p.Get("bad") != "%zz" {
		t.Fatalf("Params = %v", p)
	}
}
