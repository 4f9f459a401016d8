package middleware

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// DefaultStoreRevocationsTimeout is the default
// StoreRevocationsOptions.Timeout.
const DefaultStoreRevocationsTimeout = time.Second

// StoreRevocationsOptions configure a StoreRevocations. The zero value is
// ready to use.
type StoreRevocationsOptions struct {
	// Timeout bounds each call to the Store, on top of the caller's
	// context: a Revoked call that has no answer by then fails, and the
	// Guard answers 503 with Retry-After. Default 1 s.
	Timeout time.Duration
	// Now returns the current time, from which the records' lifetimes
	// are computed. Default time.Now. Give it the Guard's
	// Config.Tokens.Now when that is not time.Now (a test clock).
	Now func() time.Time
}

// StoreRevocations is a Revocations kept in a Store, shared by the
// replicas that share the Store: a token revoked through one replica
// (Guard.Revoke, or Revoke, RevokeJTI and RevokeToken here) is refused by
// every replica from the next request on. Make one with
// NewStoreRevocations and give it as Config.Tokens.Revocations to each
// replica's Guard.
//
// Each name of a revoked token is one record: "revoked:jti:" followed by
// the base64url SHA-256 of the issuer and jti, and "revoked:sha256:"
// followed by the base64url SHA-256 of the token (never the token itself),
// kept until the token's expiry plus MaxLeeway (the record's TTL), after
// which the token is refused as expired anyway. Revoked reads the records
// (one Get per name, the jti first, stopping at the first found), so a
// token costs the Guard one or two Store round trips per request.
//
// It fails closed: a Store error, or a call that outlasts Timeout, is an
// error of Revoked, which the Guard answers 503 temporarily_unavailable
// with Retry-After, never an allow; Revoke returns nil only once every
// record is written. Whoever can write the Store can revoke any token, or
// drop a revocation: give the Store's credentials to the replicas alone.
type StoreRevocations struct {
	store   Store
	timeout time.Duration
	now     func() time.Time
}

var _ Revocations = (*StoreRevocations)(nil)

// NewStoreRevocations returns the Revocations kept in store, configured
// by o. It panics when store is nil.
func NewStoreRevocations(store Store, o StoreRevocationsOptions) *StoreRevocations {
	if store == nil {
		panic("middleware: NewStoreRevocations: nil Store")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultStoreRevocationsTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &StoreRevocations{store: store, timeout: o.Timeout, now: o.Now}
}

// Revoked reports whether the Store holds a record of t by t.Issuer and
// t.JTI (when t.JTI is not empty), or by t.SHA256 (when not zero). An error
// of the Store, or a call that outlasts the timeout, is returned as is:
// the Guard then answers 503.
func (s *StoreRevocations) Revoked(ctx context.Context, t TokenRef) (bool, error) {
	for _, key := range revocationKeys(t) {
		ok, err := s.has(ctx, key)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// has reports whether key is recorded, within the timeout.
func (s *StoreRevocations) has(ctx context.Context, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, ok, err := s.store.Get(ctx, key)
	if err != nil {
		return false, err
	}
	return ok, nil
}

// Revoke records t under each name it gives until t.ExpiresAt plus
// MaxLeeway; a name already recorded until later keeps its later expiry.
// A token already past that time is not recorded (it is refused as
// expired). It returns an error, and may have recorded one name of two,
// when t has no ExpiresAt, names no token, has a JTI without Issuer or a
// name longer than MaxRevocationNameLen, or when the Store fails: call it
// again.
func (s *StoreRevocations) Revoke(ctx context.Context, t TokenRef) error {
	if err := t.check(); err != nil {
		return err
	}
	until := t.ExpiresAt.Add(MaxLeeway)
	ttl := until.Sub(s.now())
	if ttl <= 0 {
		return nil
	}
	var val [8]byte
	binary.BigEndian.PutUint64(val[:], uint64(until.UnixNano()))
	for _, key := range revocationKeys(t) {
		if err := s.record(ctx, key, val[:], ttl); err != nil {
			return err
		}
	}
	return nil
}

// record writes key with val (when it expires, Unix ns) for ttl, unless
// it is recorded until later already. Two concurrent calls for one key
// with different expiries may leave the earlier; Guard.Revoke always
// gives a token's own expiry.
func (s *StoreRevocations) record(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	old, ok, err := s.store.Get(ctx, key)
	if err != nil {
		return err
	}
	if ok && len(old) == 8 && binary.BigEndian.Uint64(old) >= binary.BigEndian.Uint64(val) {
		return nil
	}
	return s.store.Put(ctx, key, val, ttl)
}

// RevokeJTI revokes the token of issuer whose "jti" is jti and which
// expires at exp: for an authorization server's revocation event. See
// Revoke.
func (s *StoreRevocations) RevokeJTI(ctx context.Context, issuer, jti string, exp time.Time) error {
	if jti == "" {
		return errors.New("middleware: RevokeJTI needs a jti")
	}
	return s.Revoke(ctx, TokenRef{Issuer: issuer, JTI: jti, ExpiresAt: exp})
}

// RevokeToken revokes the token string token, which expires at exp, by its
// SHA-256. To revoke a token the Guard can verify, reading its expiry and
// jti from it, use Guard.Revoke. See Revoke.
func (s *StoreRevocations) RevokeToken(ctx context.Context, token string, exp time.Time) error {
	return s.Revoke(ctx, TokenRef{SHA256: cacheKey(token), ExpiresAt: exp})
}

// Key prefixes of the records of StoreRevocations.
const (
	revokedJTIPrefix  = "revoked:jti:"
	revokedHashPrefix = "revoked:sha256:"
)

// revocationKeys returns the Store keys of the names t gives: by issuer
// and jti first, then by the token's SHA-256. Each is printable ASCII of
// at most 58 bytes, whatever the issuer and jti hold.
func revocationKeys(t TokenRef) []string {
	keys := make([]string, 0, 2)
	if t.JTI != "" {
		h := sha256.New()
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(t.Issuer)))
		h.Write([]byte("smartguard revoked jti\x00"))
		h.Write(n[:]) // the issuer's length: no issuer and jti pair reads as another
		h.Write([]byte(t.Issuer))
		h.Write([]byte(t.JTI))
		keys = append(keys, revokedJTIPrefix+base64.RawURLEncoding.EncodeToString(h.Sum(nil)))
	}
	if t.SHA256 != ([32]byte{}) {
		keys = append(keys, revokedHashPrefix+base64.RawURLEncoding.EncodeToString(t.SHA256[:]))
	}
	return keys
}
