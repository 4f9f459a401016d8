package search

import (
	"sync"
	"testing"
)

// TestEveryParameterTreeBuilds builds the tree of every R4 search
// parameter the evaluator may read, as init once did: trees are now built
// when a search first names them, and a path the generator wrote badly
// must still fail here rather than at a request. It pins how many the
// evaluator reads, so that a change to the reader that drops some shows.
func TestEveryParameterTreeBuilds(t *testing.T) {
	built, unreadable := 0, 0
	for typ, ps := range defs {
		for code, d := range ps {
			if d.unsupported != "" {
				continue
			}
			if buildTree(d) == nil {
				unreadable++
				continue
			}
			built++
			if len(d.paths) == 0 {
				t.Errorf("%s?%s: a tree without paths", typ, code)
			}
		}
	}
	t.Logf("%d trees built, %d parameters with a path the evaluator cannot read", built, unreadable)
	if built < 1000 {
		t.Errorf("only %d parameter trees built; the R4 tables have more than 1,000", built)
	}
}

// TestTreeOfIsBuiltOnce: goroutines naming one parameter at once get the
// same tree (run with -race).
func TestTreeOfIsBuiltOnce(t *testing.T) {
	d, key, ok := lookup("Observation", "category")
	if !ok {
		t.Fatal("Observation?category not found")
	}
	got := make([]*node, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = treeOf(key, d) })
	}
	wg.Wait()
	for i, n := range got {
		if n == nil || n != got[0] {
			t.Fatalf("goroutine %d got tree %p, goroutine 0 %p", i, n, got[0])
		}
	}
}
