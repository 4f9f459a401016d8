package engine

import (
	"context"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
)

type otherKey struct{}

// TestHandlerContextAnswersAsWithValue pins that the one context value
// the handler's request carries answers as smartctx.WithDecision over
// smartctx.NewContext did: the decision, the grant (with addGrant) or the
// parent's grant (without), and the parent's other values.
func TestHandlerContextAnswersAsWithValue(t *testing.T) {
	parentGrant := testGrant("user/*.rs", "", "")
	g := testGrant("patient/*.rs", "p1", "")
	parent := context.WithValue(smartctx.NewContext(context.Background(), parentGrant), otherKey{}, "v")
	for _, tc := range []struct {
		name     string
		parent   context.Context
		addGrant bool
		want     *smartctx.Grant
	}{
		{"grant added", parent, true, g},
		{"grant of the parent", parent, false, parentGrant},
		{"no grant", context.Background(), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &decision{}
			d.Patient = "p1"
			ctx := d.handlerContext(tc.parent, g, tc.addGrant)
			got, ok := smartctx.FromContext(ctx)
			if got != tc.want || ok != (tc.want != nil) {
				t.Errorf("grant %p %v, want %p", got, ok, tc.want)
			}
			pub, ok := smartctx.DecisionFromContext(ctx)
			if !ok || pub != &d.pub || pub.Limits().Patient != "p1" {
				t.Errorf("decision %v %v, want d's handler copy", pub, ok)
			}
			if v := ctx.Value(otherKey{}); tc.parent == parent && v != "v" {
				t.Errorf("other value %v, want the parent's", v)
			}
		})
	}
}
