package engine

import (
	"context"
	"sync"
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
			if !ok || pub.Limits().Patient != "p1" {
				t.Errorf("decision %v %v, want a copy of d", pub, ok)
			}
			if again, _ := smartctx.DecisionFromContext(ctx); again != pub {
				t.Errorf("asked twice, the decision is %p then %p, want one copy", pub, again)
			}
			if v := ctx.Value(otherKey{}); tc.parent == parent && v != "v" {
				t.Errorf("other value %v, want the parent's", v)
			}
		})
	}
}

// TestHandlerDecisionIsOneCopyAcrossGoroutines pins that handlers asking
// for the decision at once, from several goroutines, get one copy (run
// with -race: the copy is made on the first call).
func TestHandlerDecisionIsOneCopyAcrossGoroutines(t *testing.T) {
	d := &decision{}
	d.Patient = "p1"
	ctx := d.handlerContext(context.Background(), testGrant("patient/*.rs", "p1", ""), true)
	got := make([]*smartctx.Decision, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i], _ = smartctx.DecisionFromContext(ctx) })
	}
	wg.Wait()
	for i, p := range got {
		if p == nil || p != got[0] {
			t.Fatalf("goroutine %d got %p, goroutine 0 %p: want one copy", i, p, got[0])
		}
	}
}
