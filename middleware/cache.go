package middleware

import (
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"

	smartctx "github.com/smartguard/smartguard/context"
)

// cacheShards spreads the cache over locks so that concurrent requests
// rarely wait on each other.
const cacheShards = 32

// cache holds the grants of verified tokens, keyed by the SHA-256 of the
// token: the key is 32 bytes whatever the token's size, and a cached
// entry cannot be reached without the token itself. It is a sharded map
// bounded in size; a full shard first drops its expired entries, then a
// random one (map iteration order).
type cache struct {
	ttl    time.Duration
	max    int // per shard
	shards [cacheShards]shard
}

type shard struct {
	mu sync.Mutex
	m  map[[32]byte]entry
}

type entry struct {
	grant   *smartctx.Grant
	expires time.Time // the token's exp or the insertion time + ttl, the earlier
}

func newCache(size int, ttl time.Duration) *cache {
	c := &cache{ttl: ttl, max: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]entry)
	}
	return c
}

// cacheKey hashes token without copying it: Sum256 only reads the bytes
// of the string, so the string's own memory can be lent to it.
func cacheKey(token string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// get returns the grant cached for key, or nil when there is none or it
// expired at now.
func (c *cache) get(key [32]byte, now time.Time) *smartctx.Grant {
	s := &c.shards[key[0]%cacheShards]
	s.mu.Lock()
	e, ok := s.m[key]
	if ok && !now.Before(e.expires) {
		delete(s.m, key)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return nil
	}
	return e.grant
}

// put caches g, verified at now, until its expiry or now + ttl (the
// cache's own TTL when ttl is 0).
func (c *cache) put(key [32]byte, g *smartctx.Grant, now time.Time, ttl time.Duration) {
	if ttl <= 0 {
		ttl = c.ttl
	}
	exp := now.Add(ttl)
	if t := g.ExpiresAt(); t.Before(exp) {
		exp = t
	}
	if !now.Before(exp) {
		return // accepted within the leeway only: do not keep it
	}
	s := &c.shards[key[0]%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && len(s.m) >= c.max {
		for k, e := range s.m {
			if !now.Before(e.expires) {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < c.max {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[key] = entry{grant: g, expires: exp}
}

// len returns the number of entries.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
