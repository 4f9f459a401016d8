package middleware

import (
	"fmt"
	"testing"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
)

// testNow is the fixed clock of the internal tests (the cache's and the
// store's, which need no token).
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestCacheEviction(t *testing.T) {
	c := newCache(64, time.Hour)
	g := smartctx.NewGrant(smartctx.Claims{ExpiresAt: testNow.Add(time.Hour)})
	for i := range 10000 {
		c.put(c.mac.key(fmt.Sprint(i)), g, testNow, 0)
	}
	if n := c.len(); n > 64+cacheShards || n < 32 {
		t.Errorf("cache holds %d entries, bound 64", n)
	}
	// Expired entries go first.
	c = newCache(cacheShards, time.Hour)
	old := smartctx.NewGrant(smartctx.Claims{ExpiresAt: testNow.Add(time.Minute)})
	for i := range 1000 {
		c.put(c.mac.key(fmt.Sprint("old", i)), old, testNow, 0)
	}
	later := testNow.Add(2 * time.Minute)
	c.put(c.mac.key("new"), g, later, 0)
	if c.get(c.mac.key("new"), later) != g {
		t.Error("new entry not kept")
	}
}
