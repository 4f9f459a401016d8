package middleware

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
)

// Store is state shared by the replicas of a resource server.
//
// The Guard keeps in it the record of used DPoP proofs
// (Config.DPoP.Store), so that a proof replayed to another replica is
// refused. It treats every error of a Store, and a call that outlasts
// Config.DPoP.StoreTimeout, as "cannot decide now": the request is
// answered 503 (ErrUnavailable) with Retry-After, never let through. Keys
// are printable ASCII, at most 128 bytes, prefixed by their use
// ("dpop:jti:..."). A Store for replicas keeps its records where all of
// them reach, such as Redis (SET key "" NX PX ttl for Add);
// NewMemoryStore is for one replica. Implementations must be safe for
// concurrent use.
type Store interface {
	// Add records key until ttl has passed and reports true, atomically; it reports false when key is already recorded and unexpired.
	Add(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Put stores value under key for ttl, replacing any value.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Get returns the value under key, if recorded and unexpired.
	Get(ctx context.Context, key string) ([]byte, bool, error)
}

// ErrStoreFull is the error of a memory store (NewMemoryStore) asked to
// record a new key while it holds its maximum of unexpired entries. It
// never drops an unexpired entry to make room: a forgotten record of a
// used proof would let the proof be used again.
var ErrStoreFull = errors.New("middleware: store full")

// errBadTTL refuses a record that would expire at once or never.
var errBadTTL = errors.New("middleware: store: ttl must be positive")

// storeShards spreads a memory store of at least shardedStoreSize entries
// over locks; a smaller one has one lock, so that it holds exactly its
// size (a shard is full at its share of it, however empty the others).
const (
	storeShards      = 16
	shardedStoreSize = 1 << 14
)

// NewMemoryStore returns a Store held in this process's memory, for a
// single replica (or tests): each replica has its own, so a proof
// replayed to another replica is not noticed; give replicas a Store they
// share. It holds at most maxEntries unexpired entries (DefaultStoreSize
// when maxEntries < 1); full, it refuses new keys with ErrStoreFull until
// some expire, and expired entries are dropped as new ones arrive. From
// 16,384 entries on, they are spread over 16 shards by a hash of the key
// with a random seed, each refusing at its share, so that such a store
// may refuse a little before it holds maxEntries. An entry costs about
// 200 bytes plus its key and value.
func NewMemoryStore(maxEntries int) Store {
	return newMemoryStore(maxEntries, time.Now)
}

// DefaultStoreSize is the size of a memory store when none is given.
const DefaultStoreSize = 1 << 18

func newMemoryStore(maxEntries int, now func() time.Time) *memoryStore {
	if maxEntries < 1 {
		maxEntries = DefaultStoreSize
	}
	n := 1
	if maxEntries >= shardedStoreSize {
		n = storeShards
	}
	s := &memoryStore{now: now, seed: maphash.MakeSeed(), shards: make([]memShard, n)}
	for i := range s.shards {
		s.shards[i].max = maxEntries / n
		if i < maxEntries%n {
			s.shards[i].max++
		}
		s.shards[i].m = map[string]*memItem{}
	}
	return s
}

type memoryStore struct {
	now    func() time.Time
	seed   maphash.Seed
	shards []memShard
}

type memShard struct {
	mu  sync.Mutex
	max int
	m   map[string]*memItem
	// exp holds when the items of m expire, soonest first (a min-heap),
	// and stale entries of items whose expiry Put changed since.
	exp []expiry
}

type memItem struct {
	key     string
	value   []byte
	expires int64 // Unix nanoseconds
}

// expiry is an entry of a shard's heap: the expiry inline, so that
// ordering the heap reads no item.
type expiry struct {
	at int64
	it *memItem
}

func (s *memoryStore) shard(key string) *memShard {
	if len(s.shards) == 1 {
		return &s.shards[0]
	}
	return &s.shards[maphash.String(s.seed, key)%uint64(len(s.shards))]
}

// lock locks the shard of key and drops its expired items.
func (s *memoryStore) lock(key string) (*memShard, int64) {
	sh := s.shard(key)
	now := s.now().UnixNano()
	sh.mu.Lock()
	for len(sh.exp) > 0 && sh.exp[0].at <= now {
		e := sh.pop()
		// A stale entry (Put changed the item's expiry, or the key was
		// dropped and added anew) is only dropped from the heap.
		if e.it.expires == e.at && sh.m[e.it.key] == e.it {
			delete(sh.m, e.it.key)
		}
	}
	return sh, now
}

// Add implements Store.
func (s *memoryStore) Add(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, errBadTTL
	}
	sh, now := s.lock(key)
	defer sh.mu.Unlock()
	if _, ok := sh.m[key]; ok {
		return false, nil
	}
	if len(sh.m) >= sh.max {
		return false, fmt.Errorf("%w: %d unexpired entries", ErrStoreFull, sh.max)
	}
	sh.insert(&memItem{key: key, expires: now + int64(ttl)})
	return true, nil
}

// Put implements Store.
func (s *memoryStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		return errBadTTL
	}
	value = append([]byte{}, value...)
	sh, now := s.lock(key)
	defer sh.mu.Unlock()
	if it, ok := sh.m[key]; ok {
		it.value, it.expires = value, now+int64(ttl)
		sh.push(expiry{it.expires, it})
		if len(sh.exp) > 2*len(sh.m)+64 { // stale entries of many Puts
			sh.rebuild()
		}
		return nil
	}
	if len(sh.m) >= sh.max {
		return fmt.Errorf("%w: %d unexpired entries", ErrStoreFull, sh.max)
	}
	sh.insert(&memItem{key: key, value: value, expires: now + int64(ttl)})
	return nil
}

// Get implements Store.
func (s *memoryStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	sh, _ := s.lock(key)
	defer sh.mu.Unlock()
	it, ok := sh.m[key]
	if !ok {
		return nil, false, nil
	}
	return append([]byte{}, it.value...), true, nil
}

func (sh *memShard) insert(it *memItem) {
	sh.m[it.key] = it
	sh.push(expiry{it.expires, it})
}

// len returns the number of entries, expired ones not yet dropped
// included.
func (s *memoryStore) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// push adds e to the heap.
func (sh *memShard) push(e expiry) {
	h := append(sh.exp, e)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if h[parent].at <= h[i].at {
			break
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
	sh.exp = h
}

// pop removes and returns the soonest entry of the heap.
func (sh *memShard) pop() expiry {
	h := sh.exp
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = expiry{}
	h = h[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h[l].at < h[small].at {
			small = l
		}
		if r < len(h) && h[r].at < h[small].at {
			small = r
		}
		if small == i {
			break
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
	sh.exp = h
	return top
}

// rebuild makes the heap anew from the items, without stale entries.
func (sh *memShard) rebuild() {
	sh.exp = sh.exp[:0]
	for _, it := range sh.m {
		sh.push(expiry{it.expires, it})
	}
}
