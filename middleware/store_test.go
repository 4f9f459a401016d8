package middleware

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// storeClock is a settable clock for the memory store.
type storeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *storeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *storeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClockedStore(maxEntries int) (*memoryStore, *storeClock) {
	c := &storeClock{t: testNow}
	return newMemoryStore(maxEntries, c.now), c
}

func TestMemoryStoreAddRecordsOnceUntilExpiry(t *testing.T) {
	s, c := newClockedStore(10)
	ctx := context.Background()
	for _, step := range []struct {
		advance time.Duration
		want    bool
	}{
		{0, true},                 // recorded
		{0, false},                // already recorded
		{59 * time.Second, false}, // still unexpired
		{time.Second, true},       // expired at its ttl: recorded anew
		{time.Second, false},
	} {
		c.advance(step.advance)
		got, err := s.Add(ctx, "k", time.Minute)
		if err != nil || got != step.want {
			t.Fatalf("after %v: Add = %v, %v; want %v", step.advance, got, err, step.want)
		}
	}
	if ok, _ := s.Add(ctx, "other", time.Minute); !ok {
		t.Error("Add of another key refused")
	}
}

func TestMemoryStorePutGet(t *testing.T) {
	s, c := newClockedStore(10)
	ctx := context.Background()
	if _, ok, err := s.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("Get of a missing key = %v, %v", ok, err)
	}
	v := []byte("one")
	if err := s.Put(ctx, "k", v, time.Minute); err != nil {
		t.Fatal(err)
	}
	v[0] = 'X' // the store keeps its own copy
	got, ok, err := s.Get(ctx, "k")
	if string(got) != "one" || !ok || err != nil {
		t.Fatalf("Get = %q, %v, %v", got, ok, err)
	}
	got[0] = 'Y' // and gives out copies
	if err := s.Put(ctx, "k", []byte("two"), 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	c.advance(90 * time.Second) // past the first ttl, within the second
	if got, ok, _ := s.Get(ctx, "k"); string(got) != "two" || !ok {
		t.Fatalf("Get after replacing = %q, %v; want two", got, ok)
	}
	if ok, _ := s.Add(ctx, "k", time.Minute); ok {
		t.Error("Add of a key Put holds reported true")
	}
	c.advance(31 * time.Second)
	if _, ok, _ := s.Get(ctx, "k"); ok {
		t.Error("Get returned an expired value")
	}
	if s.len() != 0 {
		t.Errorf("%d entries left after expiry", s.len())
	}
}

// TestMemoryStoreFullRefusesRatherThanForgets: a store full of unexpired
// records refuses new keys, never drops a record early (a dropped record
// of a used proof would let the proof be used again), and takes new keys
// again once records expire.
func TestMemoryStoreFullRefusesRatherThanForgets(t *testing.T) {
	const size = 40
	s, c := newClockedStore(size)
	ctx := context.Background()
	var refused []string
	for i := range 4 * size {
		k := fmt.Sprint("k", i)
		ok, err := s.Add(ctx, k, time.Minute)
		switch {
		case errors.Is(err, ErrStoreFull):
			refused = append(refused, k)
		case err != nil || !ok:
			t.Fatalf("Add(%s) = %v, %v", k, ok, err)
		}
		if err := s.Put(ctx, "p"+k, nil, time.Minute); err != nil && !errors.Is(err, ErrStoreFull) {
			t.Fatal(err)
		}
	}
	if len(refused) == 0 || s.len() != size {
		t.Fatalf("%d refused, %d held; want refusals and exactly %d held", len(refused), s.len(), size)
	}
	for i := range 4 * size {
		k := fmt.Sprint("k", i)
		ok, err := s.Add(ctx, k, time.Minute)
		if ok {
			t.Fatalf("a full store forgot %s", k)
		}
		if err == nil && !recorded(refused, k) {
			continue // recorded before: a replay
		}
		if !errors.Is(err, ErrStoreFull) {
			t.Fatalf("Add(%s) of a full store = %v, %v", k, ok, err)
		}
	}
	c.advance(time.Minute)
	if ok, err := s.Add(ctx, refused[0], time.Minute); !ok || err != nil {
		t.Fatalf("Add after expiry = %v, %v", ok, err)
	}
}

func recorded(list []string, k string) bool {
	for _, s := range list {
		if s == k {
			return true
		}
	}
	return false
}

func TestMemoryStoreRefusesBadCalls(t *testing.T) {
	s, _ := newClockedStore(10)
	if _, err := s.Add(context.Background(), "k", 0); err == nil {
		t.Error("Add with ttl 0 accepted")
	}
	if err := s.Put(context.Background(), "k", nil, -time.Second); err == nil {
		t.Error("Put with a negative ttl accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := s.Add(ctx, "k", time.Minute); ok || err == nil {
		t.Errorf("Add with a done context = %v, %v", ok, err)
	}
	if _, _, err := s.Get(ctx, "k"); err == nil {
		t.Error("Get with a done context succeeded")
	}
}

func TestNewMemoryStoreSizes(t *testing.T) {
	for _, tc := range []struct{ in, want, shards int }{
		{0, DefaultStoreSize, storeShards}, {-1, DefaultStoreSize, storeShards}, {1, 1, 1}, {17, 17, 1},
		{shardedStoreSize - 1, shardedStoreSize - 1, 1}, {shardedStoreSize + 5, shardedStoreSize + 5, storeShards},
	} {
		s := NewMemoryStore(tc.in).(*memoryStore)
		total := 0
		for i := range s.shards {
			total += s.shards[i].max
		}
		if total != tc.want || len(s.shards) != tc.shards {
			t.Errorf("NewMemoryStore(%d) holds %d in %d shards, want %d in %d", tc.in, total, len(s.shards), tc.want, tc.shards)
		}
	}
}

// TestMemoryStoreAddIsAtomic: of many concurrent Adds of one key, one
// reports true (run with -race).
func TestMemoryStoreAddIsAtomic(t *testing.T) {
	s := NewMemoryStore(1000)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := s.Add(context.Background(), "same", time.Minute); ok && err == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d concurrent Adds of one key reported true, want 1", wins.Load())
	}
}

func BenchmarkMemoryStoreAdd(b *testing.B) {
	s := NewMemoryStore(1 << 20)
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprintf("dpop:jti:%043d", i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(ctx, keys[i&(len(keys)-1)], time.Second)
		i++
	}
}

// TestMemoryStorePutChangesExpiry: a Put that lengthens or shortens an
// entry's life is what counts, whatever the heap still holds of the
// earlier one; many Puts of one key do not grow the heap without bound.
func TestMemoryStorePutChangesExpiry(t *testing.T) {
	s, c := newClockedStore(10)
	ctx := context.Background()
	s.Put(ctx, "longer", []byte("1"), time.Minute)
	s.Put(ctx, "longer", []byte("2"), time.Hour)
	s.Put(ctx, "shorter", []byte("1"), time.Hour)
	s.Put(ctx, "shorter", []byte("2"), time.Minute)
	c.advance(2 * time.Minute)
	if v, ok, _ := s.Get(ctx, "longer"); !ok || string(v) != "2" {
		t.Errorf("a lengthened entry expired at its first ttl: %q, %v", v, ok)
	}
	if _, ok, _ := s.Get(ctx, "shorter"); ok {
		t.Error("a shortened entry outlived its new ttl")
	}
	// Dropped, then added anew: the old heap entry must not drop the new one.
	s.Put(ctx, "again", nil, time.Minute)
	c.advance(time.Minute)
	s.Add(ctx, "again", 3*time.Minute)
	c.advance(time.Minute)
	if ok, _ := s.Add(ctx, "again", time.Minute); ok {
		t.Error("a key added anew was forgotten")
	}
	for i := range 1000 {
		s.Put(ctx, "hot", []byte{byte(i)}, time.Duration(i+1)*time.Second)
	}
	if n := s.shards[0].held(); n > 2*len(s.shards[0].m)+64 {
		t.Errorf("the heap holds %d entries for %d items", n, len(s.shards[0].m))
	}
	if v, ok, _ := s.Get(ctx, "hot"); !ok || v[0] != byte(999%256) {
		t.Errorf("Get after many Puts = %v, %v", v, ok)
	}
}
