package smartredis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestAddIsAtomicAcrossReplicas: of many callers adding one key at once,
// through several clients (replicas), exactly one gets true.
func TestAddIsAtomicAcrossReplicas(t *testing.T) {
	srv := startServer(t)
	replicas := []*Store{srv.newStore(t, Options{}), srv.newStore(t, Options{}), srv.newStore(t, Options{})}
	const keys, callers = 20, 48
	for k := range keys {
		key := fmt.Sprintf("dpop:jti:%d", k)
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range callers {
			wg.Go(func() {
				<-start
				ok, err := replicas[i%len(replicas)].Add(t.Context(), key, time.Minute)
				if err != nil {
					t.Errorf("Add: %v", err)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("key %s: %d callers got true, want exactly 1", key, n)
		}
	}
}

func TestAddExpires(t *testing.T) {
	srv := startServer(t)
	s := srv.newStore(t, Options{})
	ctx := t.Context()
	if ok, err := s.Add(ctx, "k", 150*time.Millisecond); !ok || err != nil {
		t.Fatalf("first Add = %v, %v; want true", ok, err)
	}
	if ok, err := s.Add(ctx, "k", 150*time.Millisecond); ok || err != nil {
		t.Fatalf("second Add = %v, %v; want false: recorded and unexpired", ok, err)
	}
	if ok, err := s.Add(ctx, "other", 150*time.Millisecond); !ok || err != nil {
		t.Fatalf("Add of another key = %v, %v; want true", ok, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := s.Add(ctx, "k", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the record did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTTLIsRoundedUp: a record never lives shorter than asked. What is
// sent is read from the client's own hook.
func TestTTLIsRoundedUp(t *testing.T) {
	srv := startServer(t)
	c := srv.rawClient(t)
	var sent [][]any
	var mu sync.Mutex
	c.AddHook(recorder{func(args []any) {
		if args[0] == "set" { // not the connection's handshake
			mu.Lock()
			sent = append(sent, args)
			mu.Unlock()
		}
	}})
	s, err := New(c, Options{Prefix: "p:"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	tests := []struct {
		ttl  time.Duration
		want []any // after "set", key, value
	}{
		{ttl: time.Nanosecond, want: []any{"px", int64(1), "nx"}},
		{ttl: time.Millisecond, want: []any{"px", int64(1), "nx"}},
		{ttl: 1500 * time.Microsecond, want: []any{"px", int64(2), "nx"}},
		{ttl: 10*time.Second + time.Nanosecond, want: []any{"px", int64(10001), "nx"}},
		{ttl: 5 * time.Minute, want: []any{"ex", int64(300), "nx"}},
	}
	for i, tc := range tests {
		t.Run(tc.ttl.String(), func(t *testing.T) {
			mu.Lock()
			sent = nil
			mu.Unlock()
			key := fmt.Sprintf("k%d", i)
			if _, err := s.Add(ctx, key, tc.ttl); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			want := append([]any{"set", "p:" + key, "1"}, tc.want...)
			if len(sent) != 1 || !slices.Equal(sent[0], want) {
				t.Errorf("sent %v, want %v", sent, want)
			}
		})
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		mu.Lock()
		sent = nil
		mu.Unlock()
		if ok, err := s.Add(ctx, "bad", ttl); ok || !errors.Is(err, ErrBadTTL) {
			t.Errorf("Add with ttl %v = %v, %v; want ErrBadTTL", ttl, ok, err)
		}
		if err := s.Put(ctx, "bad", []byte("v"), ttl); !errors.Is(err, ErrBadTTL) {
			t.Errorf("Put with ttl %v = %v; want ErrBadTTL", ttl, err)
		}
		mu.Lock()
		if len(sent) != 0 {
			t.Errorf("ttl %v: sent %v, want nothing", ttl, sent)
		}
		mu.Unlock()
	}
}

// recorder is a go-redis hook that reports the arguments of each command.
type recorder struct{ f func([]any) }

func (recorder) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r recorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.f(cmd.Args())
		return next(ctx, cmd)
	}
}
func (recorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestPutGet(t *testing.T) {
	srv := startServer(t)
	s := srv.newStore(t, Options{})
	other := srv.newStore(t, Options{}) // another replica
	ctx := t.Context()
	if v, ok, err := s.Get(ctx, "missing"); v != nil || ok || err != nil {
		t.Errorf("Get of a missing key = %q, %v, %v; want nil, false, nil", v, ok, err)
	}
	for _, v := range [][]byte{[]byte(`{"active":true}`), {}, {0, 0xff, '\r', '\n', 0}} {
		if err := s.Put(ctx, "intro:abc", v, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, ok, err := other.Get(ctx, "intro:abc")
		if !ok || err != nil || !bytes.Equal(got, v) {
			t.Errorf("Get = %q, %v, %v; want %q", got, ok, err, v)
		}
	}
	if err := s.Put(ctx, "short", []byte("x"), 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, ok, err := other.Get(ctx, "short")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the value did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Add and Put share the key space: a key added is not free for Add.
	if err := s.Put(ctx, "shared", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Add(ctx, "shared", time.Minute); ok || err != nil {
		t.Errorf("Add of a key Put = %v, %v; want false", ok, err)
	}
}

func TestPrefixSeparatesDeployments(t *testing.T) {
	srv := startServer(t)
	raw := srv.rawClient(t)
	a := srv.newStore(t, Options{Prefix: "a:"})
	b := srv.newStore(t, Options{Prefix: "b:"})
	def := srv.newStore(t, Options{})
	ctx := t.Context()
	for _, s := range []*Store{a, b, def} {
		if ok, err := s.Add(ctx, "dpop:jti:1", time.Minute); !ok || err != nil {
			t.Errorf("Add = %v, %v; want true: each prefix is its own space", ok, err)
		}
	}
	keys, err := raw.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if want := []string{"a:dpop:jti:1", "b:dpop:jti:1", "smartguard:dpop:jti:1"}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
}

// TestSlowServerFailsClosed: a server that does not answer makes every
// call fail within the timeout, with an error matching
// context.DeadlineExceeded, and Add never report true; the store works
// again when the server does.
func TestSlowServerFailsClosed(t *testing.T) {
	srv := startServer(t)
	raw := srv.rawClient(t)
	const timeout = 150 * time.Millisecond
	s := srv.newStore(t, Options{Timeout: timeout})
	ctx := t.Context()
	if ok, err := s.Add(ctx, "warm", time.Minute); !ok || err != nil { // a connection in the pool
		t.Fatalf("Add = %v, %v", ok, err)
	}
	if err := raw.Do(ctx, "client", "pause", 1500, "all").Err(); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func(context.Context) (bool, error)
	}{
		{"Add", func(ctx context.Context) (bool, error) { return s.Add(ctx, "fresh", time.Minute) }},
		{"Put", func(ctx context.Context) (bool, error) { return false, s.Put(ctx, "p", []byte("v"), time.Minute) }},
		{"Get", func(ctx context.Context) (bool, error) {
			v, ok, err := s.Get(ctx, "warm")
			if v != nil {
				t.Errorf("Get returned %q with its error", v)
			}
			return ok, err
		}},
	}
	for _, c := range calls {
		start := time.Now()
		ok, err := c.call(ctx)
		took := time.Since(start)
		if ok || err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a paused server = %v, %v; want false and a deadline error", c.name, ok, err)
		}
		if took < timeout-10*time.Millisecond || took > timeout+500*time.Millisecond {
			t.Errorf("%s took %v, want about %v", c.name, took, timeout)
		}
	}
	// The caller's deadline, when shorter, bounds the call too.
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	if ok, err := s.Add(short, "fresh2", time.Minute); ok || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > timeout {
		t.Errorf("Add with a 30 ms context = %v, %v after %v; want a deadline error sooner than %v", ok, err, time.Since(start), timeout)
	}
	// Once the pause ends, the store answers again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := s.Add(ctx, "after", time.Minute)
		if err == nil {
			if !ok {
				t.Error("Add after the pause = false, want true")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The timed-out Add was never reported true; it may have been applied
	// when the server resumed, and then reports false, which refuses.
	if ok, err := s.Add(ctx, "fresh", time.Minute); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("Add of the timed-out key after the pause: %v", ok)
	}
}

func TestConnectionRefusedIsAnError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	// One dial attempt: go-redis's default, five with 100 ms between them
	// and three more for the command, takes 1.7 s (the Timeout caps it).
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, DialerRetries: 1})
	t.Cleanup(func() { c.Close() })
	s, err := New(c, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	start := time.Now()
	if ok, err := s.Add(ctx, "k", time.Minute); ok || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Add = %v, %v; want false and connection refused", ok, err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("Add took %v: a refused connection must not wait for the timeout", took)
	}
	if err := s.Put(ctx, "k", []byte("v"), time.Minute); err == nil {
		t.Error("Put = nil, want an error")
	}
	if v, ok, err := s.Get(ctx, "k"); v != nil || ok || err == nil {
		t.Errorf("Get = %q, %v, %v; want nil, false and an error", v, ok, err)
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name   string
		client redis.UniversalClient
		opts   Options
	}{
		{name: "no client"},
		{name: "client ignoring deadlines", client: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})},
		{name: "cluster client ignoring deadlines", client: redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})},
		{name: "negative timeout", client: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true}), opts: Options{Timeout: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.client != nil {
				t.Cleanup(func() { tc.client.Close() })
			}
			if s, err := New(tc.client, tc.opts); s != nil || err == nil {
				t.Errorf("New = %v, %v; want an error", s, err)
			}
		})
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	s, err := New(c, Options{})
	if err != nil || s.prefix != DefaultPrefix || s.timeout != DefaultTimeout {
		t.Errorf("New = %+v, %v; want the defaults", s, err)
	}
}
