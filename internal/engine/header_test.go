package engine

import (
	"net/http"
	"os"
	"regexp"
	"testing"
)

// TestHeaderKeysAreCanonical checks that the header names the engine reads
// and changes through the map itself (headerGet, delete, h["..."]) are in
// canonical form: h.Get would canonicalize them, the map does not.
func TestHeaderKeysAreCanonical(t *testing.T) {
	uses := regexp.MustCompile(`(?:headerGet\([^,]+, |delete\([^,]+, |Header\[|\bh\[|\bk := range \[\.\.\.\]string\{)"([^"]+)"`)
	n := 0
	for _, file := range []string{"guard.go", "engine.go", "formats.go"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range uses.FindAllSubmatch(src, -1) {
			n++
			if k := string(m[1]); http.CanonicalHeaderKey(k) != k {
				t.Errorf("%s: header %q is not canonical (%q)", file, k, http.CanonicalHeaderKey(k))
			}
		}
	}
	if n < 8 {
		t.Errorf("found %d header names: the pattern misses them", n)
	}
}
