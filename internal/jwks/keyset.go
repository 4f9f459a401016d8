package jwks

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
)

// Bounds on how long a fetched JWKS is used before it is fetched again
// when its response says so with Cache-Control: max-age (or no-store,
// no-cache, which count as 0).
const (
	MinMaxAge = time.Minute
	MaxMaxAge = 24 * time.Hour
)

// maxBackoff bounds the wait between two failed fetches.
const maxBackoff = 5 * time.Minute

// ErrUnavailable means the set holds no key: none could be fetched yet, or
// the ones held were dropped after Options.MaxStale without a successful
// fetch. Errors matching it are *UnavailableError.
var ErrUnavailable = errors.New("jwks: no key held")

// UnavailableError is the error of a Set that holds no key.
type UnavailableError struct {
	URL        string
	RetryAfter time.Duration // until the next fetch is due
	Err        error         // the last fetch's failure, if any
}

// Error names the JWKS URL and the last failure.
func (e *UnavailableError) Error() string {
	msg := "jwks: no key held from " + e.URL
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is matches ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the last fetch's failure.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Options configure a Set. Zero durations are not defaults: the caller
// (middleware.Config) sets them all.
type Options struct {
	URL    string
	Client *http.Client // made safe with Client by the caller

	// Algorithms is the allow-list of JWS algorithms, in order of
	// preference: a key without "alg" is bound to the first of them its
	// type can verify (see Bind).
	Algorithms []string

	// RefreshInterval is when the JWKS is fetched again after a fetch
	// whose response has no Cache-Control max-age.
	RefreshInterval time.Duration
	// UnknownKIDInterval is the least time between two fetches caused by
	// tokens (an unknown kid, or no key held).
	UnknownKIDInterval time.Duration
	// MaxStale is how long keys are used without a successful fetch.
	MaxStale time.Duration
	// LogInterval is the least time between two log records of one
	// outage.
	LogInterval time.Duration

	Logger *slog.Logger
}

// Set holds the public keys of one issuer, as its JWKS listed them at the
// last successful fetch, and keeps them fresh: in the background (after
// the response's Cache-Control max-age within [MinMaxAge, MaxMaxAge], else
// after RefreshInterval; sooner, with backoff, after a failure), and on
// demand for a token with an unknown kid (or while no key is held), at
// most once per UnknownKIDInterval; a token arriving while a fetch of any
// cause is under way waits for that fetch instead. A key the JWKS no
// longer lists is dropped at the first successful fetch without it; when
// no fetch has succeeded for MaxStale, every key is dropped and the set
// reports ErrUnavailable until a fetch succeeds.
//
// The caller decides when a token may cause a fetch: Keys is only called
// for tokens that passed every check that needs no key.
type Set struct {
	o    Options
	keys atomic.Pointer[snapshot]

	mu         sync.Mutex
	inflight   *fetchCall // the fetch under way, if any
	lastDemand time.Time  // start of the last fetch caused by a token
	next       time.Time  // when the background fetch is due
	failures   int        // consecutive failed fetches
	lastErr    error
	down       bool      // the last fetch failed
	lastLog    time.Time // last outage log record
	wake       chan struct{}
	first      chan struct{} // closed after the first fetch
}

// snapshot is what one successful fetch gave.
type snapshot struct {
	byKID   map[string][]*key
	all     []*key
	fetched time.Time
}

// key is one usable public key, bound to one algorithm.
type key struct {
	kid string
	alg string
	pub crypto.PublicKey
}

type fetchCall struct {
	done chan struct{}
	err  error
}

// NewSet returns a Set for o.URL and starts fetching its JWKS in the
// background; Settled waits for the first fetch. A failed fetch is
// logged and retried with backoff, never returned. ctx bounds the
// background refresh.
func NewSet(ctx context.Context, o Options) *Set {
	s := &Set{o: o, wake: make(chan struct{}, 1), first: make(chan struct{})}
	go func() {
		s.fetch(ctx)
		close(s.first)
		s.loop(ctx)
	}()
	return s
}

// Settled waits until the first fetch is over (whatever its outcome) or
// ctx is done.
func (s *Set) Settled(ctx context.Context) {
	select {
	case <-s.first:
	case <-ctx.Done():
	}
}

// Ready reports whether s holds at least one key.
func (s *Set) Ready() bool { return s.current() != nil }

// Check returns nil when s holds a key. Else it fetches the JWKS when the
// last fetch caused by a caller is UnknownKIDInterval old (or waits for
// the fetch under way), and returns an *UnavailableError when there is
// still no key.
func (s *Set) Check(ctx context.Context) error {
	if s.Ready() {
		return nil
	}
	s.refreshOnDemand(ctx)
	if s.Ready() {
		return nil
	}
	return s.unavailable()
}

// Wait waits until s holds a key or ctx is done, fetching again as soon
// as the backoff allows. It returns the last failure when ctx ends first.
func (s *Set) Wait(ctx context.Context) error {
	for {
		if s.Ready() {
			return nil
		}
		s.mu.Lock()
		due := time.Until(s.next)
		s.mu.Unlock()
		t := time.NewTimer(max(due, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return s.unavailable()
		case <-t.C:
		}
		s.fetch(ctx)
	}
}

// current returns the keys in use, or nil when none are held or they are
// older than MaxStale.
func (s *Set) current() *snapshot {
	snap := s.keys.Load()
	if snap == nil || len(snap.all) == 0 || time.Since(snap.fetched) >= s.o.MaxStale {
		return nil
	}
	return snap
}

// Keys returns the keys that may verify a token signed with alg whose
// header has kid ("" for none): with a kid, the keys with that kid; else
// every key. Either way only keys bound to alg (see Bind) are returned.
// An unknown kid, or an empty set, makes s fetch the JWKS again when
// UnknownKIDInterval has passed since the last fetch (or wait for the
// fetch under way). It fails with ErrNoKey when no key fits, or with an
// *UnavailableError when s holds no key at all. kid must have passed
// ValidKID.
func (s *Set) Keys(ctx context.Context, alg, kid string) ([]any, error) {
	snap := s.current()
	if snap == nil || kid != "" && snap.byKID[kid] == nil {
		s.refreshOnDemand(ctx)
		if snap = s.current(); snap == nil {
			return nil, s.unavailable()
		}
	}
	cands := snap.all
	if kid != "" {
		if cands = snap.byKID[kid]; cands == nil {
			return nil, fmt.Errorf("%w: unknown kid", ErrNoKey)
		}
	}
	var out []any
	for _, k := range cands {
		if k.alg == alg {
			out = append(out, k.pub)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no key for %s", ErrNoKey, alg)
	}
	return out, nil
}

func (s *Set) unavailable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &UnavailableError{URL: s.o.URL, RetryAfter: max(time.Until(s.next), time.Second), Err: s.lastErr}
}

// refreshOnDemand fetches the JWKS for a token when the last fetch
// caused by a token is at least UnknownKIDInterval old, or waits for the
// fetch under way (of any cause).
func (s *Set) refreshOnDemand(ctx context.Context) {
	s.mu.Lock()
	c := s.inflight
	if c == nil {
		if !s.lastDemand.IsZero() && time.Since(s.lastDemand) < s.o.UnknownKIDInterval {
			s.mu.Unlock()
			return
		}
		s.lastDemand = time.Now()
	}
	s.mu.Unlock()
	if c != nil {
		select {
		case <-c.done:
		case <-ctx.Done():
		}
		return
	}
	s.fetch(ctx)
}

// fetch fetches the JWKS, or joins the fetch under way, and waits for it
// within ctx. The fetch itself is not cancelled with ctx: other callers
// may be waiting for it.
func (s *Set) fetch(ctx context.Context) {
	s.mu.Lock()
	c := s.inflight
	if c == nil {
		c = &fetchCall{done: make(chan struct{})}
		s.inflight = c
		go s.run(context.WithoutCancel(ctx), c)
	}
	s.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
	}
}

// run performs one fetch and records its outcome.
func (s *Set) run(ctx context.Context, c *fetchCall) {
	snap, maxAge, err := s.get(ctx)
	now := time.Now()
	s.mu.Lock()
	if err == nil {
		s.keys.Store(snap)
		s.next = now.Add(maxAge)
		if s.down {
			s.o.Logger.Info("smartguard: JWKS fetched again after an outage", "url", s.o.URL, "keys", len(snap.all))
		}
		s.failures, s.lastErr, s.down = 0, nil, false
	} else {
		s.failures++
		s.lastErr = err
		backoff := min(time.Second, s.o.RefreshInterval) << min(s.failures-1, 16)
		s.next = now.Add(min(backoff, maxBackoff, s.o.RefreshInterval))
		if !s.down || now.Sub(s.lastLog) >= s.o.LogInterval {
			held := 0
			if cur := s.current(); cur != nil {
				held = len(cur.all)
			}
			s.o.Logger.Error("smartguard: fetching JWKS failed", "url", s.o.URL, "error", err,
				"keys_held", held, "failures", s.failures)
			s.lastLog = now
		}
		s.down = true
	}
	s.inflight = nil
	c.err = err
	close(c.done)
	s.mu.Unlock()
	select { // let the loop see the new schedule
	case s.wake <- struct{}{}:
	default:
	}
}

// loop fetches the JWKS when due, until ctx is done. Keys older than
// MaxStale are dropped when the set is next read.
func (s *Set) loop(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		due := time.Until(s.next)
		s.mu.Unlock()
		t.Reset(max(due, 0))
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			continue
		case <-t.C:
		}
		s.fetch(ctx)
	}
}

// get fetches and parses the JWKS. It returns the keys and how long they
// may be used before the next fetch.
func (s *Set) get(ctx context.Context) (*snapshot, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.o.URL, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	snap, err := parseSet(body, s.o.Algorithms)
	if err != nil {
		return nil, 0, err
	}
	snap.fetched = time.Now()
	return snap, MaxAge(resp.Header, min(s.o.RefreshInterval, MinMaxAge), s.o.RefreshInterval), nil
}

// MaxAge returns how long a response with header h may be used: its
// Cache-Control max-age (no-store and no-cache count as 0) within
// [lo, MaxMaxAge], or def when it states none.
func MaxAge(h http.Header, lo, def time.Duration) time.Duration {
	age, ok := time.Duration(0), false
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return lo
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				age, ok = time.Duration(min(n, int64(MaxMaxAge/time.Second)))*time.Second, true
			}
		}
	}
	if !ok {
		return def
	}
	return min(max(age, lo), MaxMaxAge)
}

// parseSet reads a JWK Set and keeps its usable signature keys, each
// bound to one algorithm. A key that cannot be read, or is not for
// signatures, or fits none of algs, is skipped; a set without one usable
// key is an error (keys already held are then kept).
func parseSet(body []byte, algs []string) (*snapshot, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("reading the JWK Set: %w", err)
	}
	snap := &snapshot{byKID: map[string][]*key{}}
	for _, raw := range doc.Keys {
		kf, err := keyfunc.NewJWKJSON(raw)
		if err != nil {
			continue // unsupported or malformed: other keys still count
		}
		jwks, err := kf.Storage().KeyReadAll(context.Background())
		if err != nil || len(jwks) != 1 {
			continue
		}
		k, ok := usable(jwks[0], algs)
		if !ok {
			continue
		}
		snap.all = append(snap.all, k)
		if k.kid != "" {
			snap.byKID[k.kid] = append(snap.byKID[k.kid], k)
		}
	}
	if len(snap.all) == 0 {
		return nil, fmt.Errorf("%w: the JWK Set has no usable signature key", ErrNoKey)
	}
	return snap, nil
}

// usable returns jwk as a key bound to one algorithm, unless its "use"
// (if any) is not "sig", its "key_ops" (if any) lack "verify", or no
// algorithm can be bound (see Bind).
func usable(jwk jwkset.JWK, algs []string) (*key, bool) {
	m := jwk.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, false
	}
	if len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify) {
		return nil, false
	}
	pub := jwk.Key()
	if pk, ok := pub.(interface{ Public() crypto.PublicKey }); ok {
		pub = pk.Public()
	}
	alg, ok := Bind(pub, string(m.ALG), algs)
	if !ok {
		return nil, false
	}
	return &key{kid: m.KID, alg: alg, pub: pub}, true
}

// Bind returns the one algorithm key may verify (RFC 8725 §3.1): the
// JWK's own "alg" when it has one (which must be in algs and fit the
// key), else the first algorithm of algs that fits the key. The curve of
// an EC key and an Ed25519 key each fit one algorithm only; an RSA key
// without "alg" is bound to the first RS* or PS* algorithm of algs (with
// the default list, RS256), so that it never verifies PS256 and RS512
// tokens alike.
func Bind(key any, jwkAlg string, algs []string) (string, bool) {
	if jwkAlg != "" {
		return jwkAlg, slices.Contains(algs, jwkAlg) && Fits(key, jwkAlg)
	}
	for _, a := range algs {
		if Fits(key, a) {
			return a, true
		}
	}
	return "", false
}
