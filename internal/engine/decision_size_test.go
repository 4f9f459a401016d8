package engine

import (
	"testing"
	"unsafe"
)

// TestDecisionFitsItsSizeClass pins the size of the decision every
// request allocates: at most 568 bytes, which with the allocator's 8-byte
// header is its 576-byte size class. A field that would push it into the
// next class (640) belongs in rareDecision, or must be worth the garbage.
func TestDecisionFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(decision{}); n > 568 {
		t.Errorf("a decision is %d bytes, more than 568", n)
	}
}
