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

// TestMemoryStoreExpiryQueues: expiries that come mostly in order (held
// in the queue) with some out of order (held in the heap), dropped as
// they are added, come out soonest first, each once; the queue's dropped
// head is compacted away.
func TestMemoryStoreExpiryQueues(t *testing.T) {
	sh := &memShard{}
	var ref []int64 // what is held, sorted
	at := int64(0)
	dropped := 0
	for i := range 6000 {
		at += rand.Int64N(3)
		e := at
		if rand.IntN(10) == 0 {
			e -= rand.Int64N(50) // late
		}
		sh.add(expiry{at: e, k: memKey{uint64(i)}})
		j, _ := slices.BinarySearch(ref, e)
		ref = slices.Insert(ref, j, e)
		if i%3 != 2 { // drop two for three added, as lock does
			x, ok := sh.next()
			if !ok || x.at != ref[0] {
				t.Fatalf("add %d: next %v, %v; want %d", i, x, ok, ref[0])
			}
			sh.drop()
			ref = ref[1:]
			dropped++
		}
		if sh.head >= 1024 && sh.head*2 >= len(sh.fifo) {
			t.Fatalf("the queue keeps %d dropped entries of %d", sh.head, len(sh.fifo))
		}
	}
	for len(ref) > 0 {
		x, ok := sh.next()
		if !ok || x.at != ref[0] {
			t.Fatalf("next %v, %v; want %d", x, ok, ref[0])
		}
		sh.drop()
		ref = ref[1:]
		dropped++
	}
	if _, ok := sh.next(); ok || sh.held() != 0 || dropped != 6000 {
		t.Errorf("%d dropped of 6000, %d still held", dropped, sh.held())
	}
}
