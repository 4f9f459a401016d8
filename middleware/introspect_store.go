package middleware

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
)

// DefaultIntrospectionStoreTimeout is the default
// Introspection.StoreTimeout.
const DefaultIntrospectionStoreTimeout = time.Second

// introspectionPrefix starts the Store keys of introspection answers.
const introspectionPrefix = "introspect:"

// sealVersion is the first byte of a sealed answer: its format.
const sealVersion = 1

// sharedAnswers keeps the active introspection answers of one issuer in
// Introspection.Store, sealed, so that replicas sharing the Store ask the
// authorization server once per token and CacheTTL.
//
// An entry is named by a hash of the token and sealed (AES-256-GCM) under
// a key derived from the token by HKDF with another label, so that it is
// read, and written, only by one who holds the token: whoever can write
// the Store but does not hold a token cannot forge an answer for it, nor
// read what the authorization server said of it. The sealed plaintext
// holds when the answer was given, so that an old entry written again is
// not taken past CacheTTL; the answer is checked again, as a fresh one
// is, on every read.
type sharedAnswers struct {
	store   Store
	timeout time.Duration
	ttl     time.Duration // Introspection.CacheTTL
	leeway  time.Duration
	now     func() time.Time
	// info binds names and keys to the issuer (and the Guard's client
	// secret at it, when it has one): one issuer's answers are never read
	// as another's.
	info   string
	outage outageLog
}

// newSharedAnswers returns the shared answers of issuer c (with its
// defaults), nil without Introspection.Store.
func newSharedAnswers(c *Issuer, cfg *Config) *sharedAnswers {
	in := c.Introspection
	if in.Store == nil {
		return nil
	}
	info := c.URL
	if in.ClientSecret != "" {
		sum := sha256.Sum256([]byte(in.ClientSecret))
		info += "\x00" + string(sum[:])
	}
	return &sharedAnswers{
		store: in.Store, timeout: in.StoreTimeout, ttl: in.CacheTTL, leeway: cfg.Tokens.Leeway, now: cfg.Tokens.Now, info: info,
		outage: outageLog{log: cfg.Hooks.Logger.With("issuer", c.URL), what: "introspection cache store (Introspection.Store)"},
	}
}

// names returns the Store key of token's answer and the key sealing it.
func (s *sharedAnswers) names(token string) (string, []byte) {
	name, err := hkdf.Key(sha256.New, []byte(token), nil, "smartguard introspection name\x00"+s.info, 32)
	if err != nil {
		panic(err) // only for lengths beyond 255 × 32 bytes
	}
	seal, err := hkdf.Key(sha256.New, []byte(token), nil, "smartguard introspection seal\x00"+s.info, 32)
	if err != nil {
		panic(err)
	}
	return introspectionPrefix + base64.RawURLEncoding.EncodeToString(name), seal
}

// recall returns the grant of token's answer in the Store, and how much
// longer it may be cached; nil when there is none that opens with the
// token, checks, and is younger than CacheTTL. A Store error is logged
// (once a minute) and is a miss: the authorization server is asked.
func (s *sharedAnswers) recall(ctx context.Context, in *introspector, token string) (*smartctx.Grant, time.Duration) {
	key, seal := s.names(token)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	sealed, ok, err := s.store.Get(ctx, key)
	if err != nil {
		s.outage.fail(err)
		return nil, 0
	}
	s.outage.ok()
	if !ok {
		return nil, 0
	}
	at, answer, err := open(seal, key, sealed)
	if err != nil {
		return nil, 0 // tampered with, or another's: not trusted
	}
	age := s.now().Sub(at)
	if age < -s.leeway || age >= s.ttl {
		return nil, 0
	}
	var a map[string]any
	if json.Unmarshal(answer, &a) != nil {
		return nil, 0
	}
	g, err := in.check(a)
	if err != nil {
		return nil, 0 // expired since, say: the authorization server decides
	}
	return g, s.ttl - max(age, 0)
}

// keep writes the active answer of token, whose grant is g, to the Store
// until CacheTTL or g's expiry, whichever is first. A Store error is
// logged (once a minute) and otherwise ignored.
func (s *sharedAnswers) keep(ctx context.Context, token string, answer map[string]any, g *smartctx.Grant) {
	now := s.now()
	ttl := min(s.ttl, g.ExpiresAt().Sub(now))
	if ttl <= 0 {
		return
	}
	plain, err := json.Marshal(answer)
	if err != nil {
		return
	}
	key, seal := s.names(token)
	sealed := sealAnswer(seal, key, now, plain)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.store.Put(ctx, key, sealed, ttl); err != nil {
		s.outage.fail(err)
		return
	}
	s.outage.ok()
}

// sealAnswer seals answer, given at, under key seal, bound to the Store
// key name: the version, a random nonce, then AES-256-GCM of the time (Unix
// ns) and the answer.
func sealAnswer(seal []byte, name string, at time.Time, answer []byte) []byte {
	aead := newAEAD(seal)
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+8+len(answer)+aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:]) // never fails (crypto/rand)
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(answer)), uint64(at.UnixNano()))
	plain = append(plain, answer...)
	return aead.Seal(out, out[1:], plain, []byte(name))
}

// errSealed refuses a sealed answer that does not open.
var errSealed = errors.New("introspection cache: entry does not open with this token")

// open opens what sealAnswer sealed, returning when the answer was given
// and the answer.
func open(seal []byte, name string, sealed []byte) (time.Time, []byte, error) {
	aead := newAEAD(seal)
	n := aead.NonceSize()
	if len(sealed) < 1+n+aead.Overhead()+8 || sealed[0] != sealVersion {
		return time.Time{}, nil, errSealed
	}
	plain, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(name))
	if err != nil || len(plain) < 8 {
		return time.Time{}, nil, errSealed
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(plain))), plain[8:], nil
}

// newAEAD returns AES-256-GCM under key (32 bytes).
func newAEAD(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // only for a key that is not 16, 24 or 32 bytes
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}
