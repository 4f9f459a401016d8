package middleware

import (
	"container/heap"
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
	exp expiries // the items of m, soonest expiry first
}

type memItem struct {
	key     string
	value   []byte
	expires int64 // Unix nanoseconds
	index   int   // in the shard's expiries
}

func (s *memoryStore) shard(key string) *memShard {
	return &s.shards[maphash.String(s.seed, key)%uint64(len(s.shards))]
}

// lock locks the shard of key and drops its expired items.
func (s *memoryStore) lock(key string) (*memShard, int64) {
	sh := s.shard(key)
	now := s.now().UnixNano()
	sh.mu.Lock()
	for len(sh.exp) > 0 && sh.exp[0].expires <= now {
		it := heap.Pop(&sh.exp).(*memItem)
		delete(sh.m, it.key)
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
		heap.Fix(&sh.exp, it.index)
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
	heap.Push(&sh.exp, it)
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

// expiries is a min-heap of items by expiry (container/heap).
type expiries []*memItem

func (h expiries) Len() int           { return len(h) }
func (h expiries) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h expiries) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *expiries) Push(x any) {
	it := x.(*memItem)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *expiries) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}
