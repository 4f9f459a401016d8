package engine

import (
	"testing"
	"unsafe"
)

// TestDecisionFitsItsSizeClass pins the size of the decision every
// request allocates: at most 320 bytes, one of the allocator's size
// classes (objects of up to 512 bytes carry no header). A field that
// would push it into the next class (352) belongs in rareDecision, or
// must be worth the garbage.
func TestDecisionFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(decision{}); n > 320 {
		t.Errorf("a decision is %d bytes, more than 320", n)
	}
}
