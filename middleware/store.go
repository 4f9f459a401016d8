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
// may refuse a little before it holds maxEntries. Keys are held as 128
// bits of seeded hash, not as strings: an entry costs about 64 bytes
// plus its value, whatever its key's length (two keys could share an
// entry with a chance of about 2^-110 per call at the default size).
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
	s := &memoryStore{now: now, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, shards: make([]memShard, n)}
	for i := range s.shards {
		s.shards[i].max = maxEntries / n
		if i < maxEntries%n {
			s.shards[i].max++
		}
		s.shards[i].m = map[memKey]int64{}
		s.shards[i].vals = map[memKey][]byte{}
	}
	return s
}

type memoryStore struct {
	now    func() time.Time
	seeds  [2]maphash.Seed
	shards []memShard
}

// memKey names an entry of a memory store: two 64-bit hashes of its key
// with random seeds of the process. A fixed-size key held inline in the
// map makes a look-up compare 16 bytes in place, with no key string to
// fetch from elsewhere in memory, and keeps the maps free of pointers for
// the garbage collector (DPoP records have no value). Two keys of one
// store share a memKey with a chance of about n/2^128 per call for n
// entries (the seeds never leave the process, so a caller cannot aim at
// one): Add then reports the key recorded, and Get and Put see the other
// key's entry.
type memKey [2]uint64

type memShard struct {
	mu  sync.Mutex
	max int
	// m holds when each entry expires (Unix ns), vals the value of those
	// that have one (Put).
	m    map[memKey]int64
	vals map[memKey][]byte
	// fifo and exp hold when the entries of m expire, soonest first: fifo
	// (from fifo[head]) those that came in expiry order, as records of
	// one lifetime do, in O(1) and in sequence in memory; exp, a min-heap,
	// the others. Both also hold stale entries of items whose expiry Put
	// changed since, of which there are at most stale: while there are
	// none, each entry is the one of its key, and dropping it needs no
	// look-up.
	fifo  []expiry
	head  int
	exp   []expiry
	stale int
}

// next returns the soonest expiry held, if any.
func (sh *memShard) next() (expiry, bool) {
	switch f, h := sh.head < len(sh.fifo), len(sh.exp) > 0; {
	case f && (!h || sh.fifo[sh.head].at <= sh.exp[0].at):
		return sh.fifo[sh.head], true
	case h:
		return sh.exp[0], true
	}
	return expiry{}, false
}

// drop removes the soonest expiry held (next's).
func (sh *memShard) drop() {
	if sh.head < len(sh.fifo) && (len(sh.exp) == 0 || sh.fifo[sh.head].at <= sh.exp[0].at) {
		sh.head++
		if sh.head == len(sh.fifo) {
			sh.fifo, sh.head = sh.fifo[:0], 0
		} else if sh.head >= 1024 && sh.head*2 >= len(sh.fifo) {
			n := copy(sh.fifo, sh.fifo[sh.head:])
			sh.fifo, sh.head = sh.fifo[:n], 0
		}
		return
	}
	sh.pop()
}

// add holds e: at the end of fifo when it expires no sooner than its
// last, else in the heap.
func (sh *memShard) add(e expiry) {
	if n := len(sh.fifo); n == sh.head || sh.fifo[n-1].at <= e.at {
		sh.fifo = append(sh.fifo, e)
		return
	}
	sh.push(e)
}

// held is the number of expiries held, stale ones included.
func (sh *memShard) held() int { return len(sh.fifo) - sh.head + len(sh.exp) }

// expiry is an entry of a shard's expiry queue or heap.
type expiry struct {
	at int64
	k  memKey
}

func (s *memoryStore) key(key string) memKey {
	return memKey{maphash.String(s.seeds[0], key), maphash.String(s.seeds[1], key)}
}

func (s *memoryStore) shard(k memKey) *memShard {
	if len(s.shards) == 1 {
		return &s.shards[0]
	}
	return &s.shards[k[0]%uint64(len(s.shards))]
}

// lock locks the shard of k and drops its expired entries.
func (s *memoryStore) lock(k memKey) (*memShard, int64) {
	sh := s.shard(k)
	now := s.now().UnixNano()
	sh.mu.Lock()
	for {
		e, ok := sh.next()
		if !ok || e.at > now {
			break
		}
		sh.drop()
		if sh.stale > 0 {
			// A stale entry (Put changed the entry's expiry since) is
			// only dropped from the queue or heap.
			if at, ok := sh.m[e.k]; !ok || at != e.at {
				sh.stale--
				continue
			}
		}
		delete(sh.m, e.k)
		if len(sh.vals) > 0 {
			delete(sh.vals, e.k)
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
	k := s.key(key)
	sh, now := s.lock(k)
	defer sh.mu.Unlock()
	if _, ok := sh.m[k]; ok {
		return false, nil
	}
	if len(sh.m) >= sh.max {
		return false, fmt.Errorf("%w: %d unexpired entries", ErrStoreFull, sh.max)
	}
	sh.insert(k, now+int64(ttl))
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
	k := s.key(key)
	sh, now := s.lock(k)
	defer sh.mu.Unlock()
	if _, ok := sh.m[k]; ok {
		sh.stale++ // its expiry entry
	} else if len(sh.m) >= sh.max {
		return fmt.Errorf("%w: %d unexpired entries", ErrStoreFull, sh.max)
	}
	sh.insert(k, now+int64(ttl))
	sh.vals[k] = value
	if sh.held() > 2*len(sh.m)+64 { // stale entries of many Puts
		sh.rebuild()
	}
	return nil
}

// Get implements Store.
func (s *memoryStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	k := s.key(key)
	sh, _ := s.lock(k)
	defer sh.mu.Unlock()
	if _, ok := sh.m[k]; !ok {
		return nil, false, nil
	}
	return append([]byte{}, sh.vals[k]...), true, nil
}

// insert records k until at, replacing any expiry it had.
func (sh *memShard) insert(k memKey, at int64) {
	sh.m[k] = at
	sh.add(expiry{at, k})
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

// The heap of a shard is 4-ary: half the levels of a binary heap, and
// the children of an entry side by side in memory, so that a pop, which
// walks the new root down to a leaf, touches fewer cache lines.
const heapArity = 4

// push adds e to the heap.
func (sh *memShard) push(e expiry) {
	h := append(sh.exp, e)
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / heapArity
		if h[parent].at <= e.at {
			break
		}
		h[i] = h[parent]
		i = parent
	}
	h[i] = e
	sh.exp = h
}

// pop removes and returns the soonest entry of the heap.
func (sh *memShard) pop() expiry {
	h := sh.exp
	top := h[0]
	last := len(h) - 1
	e := h[last]
	h[last] = expiry{}
	h = h[:last]
	i := 0
	for {
		first := heapArity*i + 1
		if first >= len(h) {
			break
		}
		small := first
		for c := first + 1; c < min(first+heapArity, len(h)); c++ {
			if h[c].at < h[small].at {
				small = c
			}
		}
		if h[small].at >= e.at {
			break
		}
		h[i] = h[small]
		i = small
	}
	if i < len(h) {
		h[i] = e
	}
	sh.exp = h
	return top
}

// rebuild makes the heap anew from the items, without stale entries.
func (sh *memShard) rebuild() {
	sh.fifo, sh.head, sh.exp, sh.stale = sh.fifo[:0], 0, sh.exp[:0], 0
	for k, at := range sh.m {
		sh.push(expiry{at, k})
	}
}
