package smartredis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smartguard/smartguard/middleware"
)

// DefaultPrefix is the default Options.Prefix.
const DefaultPrefix = "smartguard:"

// DefaultTimeout is the default Options.Timeout.
const DefaultTimeout = time.Second

// Options configure a Store. Each zero field takes its default.
type Options struct {
	// Prefix is put before every key, so that several deployments (or
	// other applications) can share one server. Default "smartguard:".
	Prefix string

	// Timeout bounds each call, on top of the caller's context: a call
	// that has no answer by then fails with an error that matches
	// context.DeadlineExceeded, and the Guard answers 503. Default 1 s.
	Timeout time.Duration
}

// Store is a middleware.Store kept in a server that speaks the Redis
// protocol (Redis, Valkey, ...), shared by every replica that uses it.
// Make one with New. It is safe for concurrent use.
type Store struct {
	c       redis.UniversalClient
	prefix  string
	timeout time.Duration
}

// A Store is what Config.DPoP.Store, Introspection.Store and
// middleware.NewStoreRevocations take.
var _ middleware.Store = (*Store)(nil)

// ErrBadTTL is the error of a call whose ttl is not positive: a record
// that expires at once, or never, is a mistake of the caller. Nothing is
// sent to the server.
var ErrBadTTL = errors.New("smartredis: ttl must be positive")

// New returns a Store that keeps its records through client. The client
// must honour context deadlines (redis.Options.ContextTimeoutEnabled; New
// checks it for *redis.Client, *redis.ClusterClient and *redis.Ring): go-
// redis otherwise waits for its own ReadTimeout, 3 s by default, and a
// slow server would hold requests that long. Closing the client is the
// caller's business.
//
//	opt, err := redis.ParseURL(os.Getenv("REDIS_URL")) // rediss:// for TLS
//	opt.ContextTimeoutEnabled = true
//	store, err := smartredis.New(redis.NewClient(opt), smartredis.Options{})
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("smartredis: no client")
	}
	var honours bool
	switch c := client.(type) {
	case *redis.Client:
		honours = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		honours = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		honours = c.Options().ContextTimeoutEnabled
	default:
		honours = true // cannot be checked: documented
	}
	if !honours {
		return nil, errors.New("smartredis: the client ignores context deadlines: set ContextTimeoutEnabled in its options")
	}
	switch {
	case opts.Timeout < 0:
		return nil, fmt.Errorf("smartredis: Timeout %v is negative", opts.Timeout)
	case opts.Timeout == 0:
		opts.Timeout = DefaultTimeout
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	return &Store{c: client, prefix: opts.Prefix, timeout: opts.Timeout}, nil
}

// Add records key until ttl has passed and reports true, atomically; it
// reports false when key is already recorded and unexpired. It is one
// SET key 1 NX PX ms, ttl rounded up to a whole millisecond (at least 1).
//
// Of several replicas adding one key at once, exactly one gets true. An
// error never means true: the key may or may not be recorded, and the
// caller must refuse what it guards. A call the client retries after a
// lost reply may find its own record and report false, which refuses a
// fresh proof rather than accepting a used one.
func (s *Store) Add(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	d, err := roundTTL(ttl)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ok, err := s.c.SetNX(ctx, s.prefix+key, "1", d).Result()
	if err != nil {
		return false, s.fail(ctx, "Add", err)
	}
	return ok, nil
}

// Put stores value under key for ttl, replacing any value: SET key value
// PX ms, ttl rounded up to a whole millisecond (at least 1).
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	d, err := roundTTL(ttl)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.c.Set(ctx, s.prefix+key, value, d).Err(); err != nil {
		return s.fail(ctx, "Put", err)
	}
	return nil
}

// Get returns the value under key, if recorded and unexpired: GET key.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b, err := s.c.Get(ctx, s.prefix+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, s.fail(ctx, "Get", err)
	}
	return b, true, nil
}

// fail wraps err, the error of call op, and the context's error when the
// deadline (or the caller) ended the call: go-redis reports a deadline as
// a network timeout, and callers test for context.DeadlineExceeded. The
// key is left out: it says nothing useful and may be long.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("smartredis: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("smartredis: %s: %w", op, err)
}

// roundTTL returns ttl rounded up to a whole millisecond, the unit of PX:
// a record never lives shorter than asked.
func roundTTL(ttl time.Duration) (time.Duration, error) {
	if ttl <= 0 {
		return 0, ErrBadTTL
	}
	ms := ttl / time.Millisecond
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms * time.Millisecond, nil
}
