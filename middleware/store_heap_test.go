package middleware

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMemoryStoreHeapOrder: whatever the order of pushes, pops come out
// soonest first, and every pushed entry comes out once.
func TestMemoryStoreHeapOrder(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 16, 17, 100, 1000} {
		sh := &memShard{}
		var want []int64
		for i := range n {
			at := rand.Int64N(int64(n)/2 + 1) // with repeats
			want = append(want, at)
			sh.push(expiry{at: at, k: memKey{uint64(i)}})
		}
		slices.Sort(want)
		var got []int64
		for len(sh.exp) > 0 {
			got = append(got, sh.pop().at)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: popped %v, want %v", n, got, want)
		}
	}
}
