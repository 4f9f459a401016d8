package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"
)

// MinNonceKeySize is the least size of a nonce key, in bytes.
const MinNonceKeySize = 32

// Nonce errors.
var (
	// ErrNonceMissing: the server requires a nonce and the proof has none.
	ErrNonceMissing = errors.New("dpop: the proof has no nonce")
	// ErrNonce: the proof's nonce is not one this server issued, or has
	// expired.
	ErrNonce = errors.New("dpop: the proof's nonce is not a current one")
)

// nonceLabel separates the HMAC input of nonces from any other use of the
// key.
const nonceLabel = "smartguard DPoP-Nonce v1\x00"

// Nonces issues and checks server nonces (RFC 9449 §9) without state: a
// nonce is a time step (the current time divided by an interval) with an
// HMAC of it under a secret key. Every replica with the same key and
// interval issues the same nonce in the same step and accepts the others'.
// A nonce is accepted during its own step and the next, and, for clocks
// of replicas that differ a little, from leeway before its step begins.
// It is safe for concurrent use.
type Nonces struct {
	key      []byte
	interval time.Duration
	leeway   time.Duration
	cur      atomic.Pointer[issued]
}

type issued struct {
	step  int64
	nonce string
}

// NewNonces returns Nonces with key (at least MinNonceKeySize bytes,
// secret, the same on every replica) and interval (positive).
func NewNonces(key []byte, interval, leeway time.Duration) (*Nonces, error) {
	if len(key) < MinNonceKeySize {
		return nil, errors.New("dpop: nonce key shorter than 32 bytes")
	}
	if interval <= 0 || leeway < 0 {
		return nil, errors.New("dpop: nonce interval must be positive and leeway not negative")
	}
	return &Nonces{key: append([]byte(nil), key...), interval: interval, leeway: leeway}, nil
}

func (n *Nonces) step(t time.Time) int64 { return t.UnixNano() / int64(n.interval) }

// Current returns the nonce of the step of now.
func (n *Nonces) Current(now time.Time) string {
	s := n.step(now)
	if c := n.cur.Load(); c != nil && c.step == s {
		return c.nonce
	}
	c := &issued{step: s, nonce: n.make(s)}
	n.cur.Store(c)
	return c.nonce
}

// make returns the nonce of step s: base64url(step ‖ HMAC(step)[:16]).
func (n *Nonces) make(s int64) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], uint64(s))
	copy(b[8:], n.mac(b[:8]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (n *Nonces) mac(step []byte) []byte {
	m := hmac.New(sha256.New, n.key)
	m.Write([]byte(nonceLabel))
	m.Write(step)
	return m.Sum(nil)[:16]
}

// Check reports whether nonce is acceptable at now, and whether it is the
// current one (when it is not, the client should be given Current).
func (n *Nonces) Check(nonce string, now time.Time) (current bool, err error) {
	if nonce == "" {
		return false, ErrNonceMissing
	}
	cur := n.step(now)
	if c := n.cur.Load(); c != nil && c.step == cur && subtle.ConstantTimeCompare([]byte(nonce), []byte(c.nonce)) == 1 {
		return true, nil
	}
	var b [24]byte
	if len(nonce) != 32 {
		return false, ErrNonce
	}
	if k, err := strict.Decode(b[:], []byte(nonce)); err != nil || k != 24 {
		return false, ErrNonce
	}
	s := int64(binary.BigEndian.Uint64(b[:8]))
	if s != cur && s != cur-1 && !(s == cur+1 && n.step(now.Add(n.leeway)) == s) {
		return false, ErrNonce
	}
	if !hmac.Equal(b[8:], n.mac(b[:8])) {
		return false, ErrNonce
	}
	return s >= cur, nil
}
