package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
)

// Revocations is a list of revoked access tokens. When
// Config.Tokens.Revocations is set, the Guard asks it about every token on
// every request, once the token is verified or found among the verified
// tokens it caches: a token it lists is refused at once (401
// invalid_token, "the token has been revoked", with ErrRevoked as cause),
// whether it was cached or not.
//
// A token is named by its issuer and "jti", and by the SHA-256 of the
// token string (the only name of an opaque token); either names it. Both
// methods take a TokenRef, so that one implementation can back many
// replicas (a shared store such as Redis: set each name with an expiry at
// ExpiresAt plus a leeway, and ask whether either exists).
//
// Implementations must be safe for concurrent use and fail closed: when
// Revoked cannot answer (the store unreachable, a timeout, ctx done) it
// must return an error, which the Guard answers with 503
// temporarily_unavailable and Retry-After (ErrUnavailable), never with an
// allow; and Revoke must return an error unless the revocation is
// recorded. The Guard passes the request's context to Revoked: an
// implementation that calls the network must bound the call itself, as
// the request's context may have no deadline. NewRevocationList returns
// one held in memory.
type Revocations interface {
	// Revoked reports whether the token t names is revoked: by t.Issuer
	// and t.JTI (when t.JTI is not empty), or by t.SHA256.
	Revoked(ctx context.Context, t TokenRef) (bool, error)
	// Revoke records the token t names as revoked, under each name t
	// gives (t.Issuer and t.JTI when t.JTI is not empty, t.SHA256 when
	// it is not zero), at least until t.ExpiresAt plus MaxLeeway, after
	// which the token is refused as expired anyway. It returns nil only
	// once the revocation is recorded.
	Revoke(ctx context.Context, t TokenRef) error
}

// TokenRef names an access token to Revocations.
type TokenRef struct {
	// Issuer is the token's "iss": for an introspected token, the
	// issuer (Issuer.URL) whose endpoint introspected it. Compared
	// exactly. Required with JTI.
	Issuer string
	// JTI is the token's "jti" claim (a JWT's, or an introspection
	// answer's), or "" when it has none or it is not a string. A jti is
	// unique among one issuer's tokens only: the same jti of another
	// issuer names another token.
	JTI string
	// SHA256 is the SHA-256 of the token string, exactly as presented
	// (sha256.Sum256([]byte(token))), or zero when unknown (a revocation
	// event that gives the jti alone). The Guard always sets it.
	SHA256 [32]byte
	// ExpiresAt is the token's "exp". A revocation need not be kept
	// after ExpiresAt plus MaxLeeway: the Guard refuses the token as
	// expired by then. Required by Revoke.
	ExpiresAt time.Time
}

// ErrRevoked is the cause (Error.Err) of the refusal of a revoked token,
// whose kind is ErrInvalidToken: errors.Is(err, ErrRevoked) tells a
// revoked token from other invalid ones.
var ErrRevoked = errors.New("middleware: token revoked")

// ErrRevocationListFull is the error of RevocationList.Revoke when the
// list holds RevocationListOptions.Size revocations, none of them past
// its token's expiry: the revocation is not recorded.
var ErrRevocationListFull = errors.New("middleware: revocation list full")

// DefaultRevocationListSize is the default RevocationListOptions.Size.
const DefaultRevocationListSize = 100000

// MaxRevocationNameLen is the longest Issuer or JTI a RevocationList
// records: 512 bytes.
const MaxRevocationNameLen = 512

// revocationRetry is the Retry-After of a 503 caused by Revocations.
const revocationRetry = 5 * time.Second

// revocationSweep is the least time between two sweeps of a
// RevocationList's expired entries made by Revoke while the list is not
// full.
const revocationSweep = time.Minute

// RevocationListOptions configure a RevocationList. The zero value is
// ready to use.
type RevocationListOptions struct {
	// Size is the most revocations the list holds: a token revoked both
	// by jti and by SHA-256 counts twice. Default
	// DefaultRevocationListSize (100000). An entry costs about 150 bytes
	// with a 36-byte jti and a 40-byte issuer (more with longer ones, up
	// to MaxRevocationNameLen each), so the default bounds the list near
	// 15 MiB. Past Size, Revoke first drops the entries past their
	// token's expiry, and when none is, refuses the new revocation with
	// ErrRevocationListFull: no revocation is ever forgotten before its
	// token expires.
	Size int
	// Now returns the current time, against which entries expire.
	// Default time.Now. Give it the Guard's Config.Tokens.Now when that
	// is not time.Now (a test clock): an entry is dropped once this
	// clock passes its token's expiry plus MaxLeeway.
	Now func() time.Time
}

// RevocationList is a Revocations held in memory, for one process: a
// Guard's own RFC 7009 endpoint, or the revocation events of an
// authorization server delivered to each replica. It is bounded (see
// RevocationListOptions.Size), keeps each revocation until its token's
// expiry plus MaxLeeway and drops it at the first sweep after that (once a
// minute at most, made by Revoke or Revoked), and is safe for concurrent
// use. Checking a token against an empty list takes one atomic load;
// otherwise a read of the clock, a read lock and two map look-ups. Make
// one with NewRevocationList.
type RevocationList struct {
	size int
	now  func() time.Time

	// n is the number of entries, read without the lock so that an
	// empty list costs nothing to check.
	n atomic.Int64

	// swept is when the entries past their time were last dropped
	// (Unix ns).
	swept atomic.Int64

	mu     sync.RWMutex
	byJTI  map[jtiKey]int64   // → when the entry may be dropped (Unix ns)
	byHash map[[32]byte]int64 // → the same
}

type jtiKey struct{ issuer, jti string }

// errNilList is the error of a nil *RevocationList (given as
// Config.Tokens.Revocations by mistake): every token is answered 503.
var errNilList = errors.New("middleware: nil *RevocationList (make one with NewRevocationList)")

var _ Revocations = (*RevocationList)(nil)

// NewRevocationList returns an empty RevocationList configured by o.
func NewRevocationList(o RevocationListOptions) *RevocationList {
	if o.Size <= 0 {
		o.Size = DefaultRevocationListSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &RevocationList{size: o.Size, now: o.Now, byJTI: map[jtiKey]int64{}, byHash: map[[32]byte]int64{}}
}

// Revoked reports whether the list holds t by t.Issuer and t.JTI, or by
// t.SHA256. It never fails. Once a minute at most, and only when no other
// call holds the list, it first drops the entries past their time.
func (l *RevocationList) Revoked(_ context.Context, t TokenRef) (bool, error) {
	if l == nil {
		return false, errNilList
	}
	if l.n.Load() == 0 {
		return false, nil
	}
	if now := l.now(); now.UnixNano()-l.swept.Load() >= int64(revocationSweep) && l.mu.TryLock() {
		l.sweep(now)
		l.mu.Unlock()
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if t.JTI != "" {
		if _, ok := l.byJTI[jtiKey{t.Issuer, t.JTI}]; ok {
			return true, nil
		}
	}
	if t.SHA256 != ([32]byte{}) {
		if _, ok := l.byHash[t.SHA256]; ok {
			return true, nil
		}
	}
	return false, nil
}

// Revoke records t under each name it gives (t.Issuer and t.JTI, t.SHA256)
// until t.ExpiresAt plus MaxLeeway. A token already past that is not
// recorded (it is refused as expired). It returns an error, and records
// nothing, when t has no ExpiresAt, names no token, has a JTI without
// Issuer or a name longer than MaxRevocationNameLen, or when the list is
// full of unexpired revocations (ErrRevocationListFull).
func (l *RevocationList) Revoke(_ context.Context, t TokenRef) error {
	if l == nil {
		return errNilList
	}
	if err := t.check(); err != nil {
		return err
	}
	now := l.now()
	until := t.ExpiresAt.Add(MaxLeeway)
	if !now.Before(until) {
		return nil
	}
	u := until.UnixNano()
	hasHash := t.SHA256 != ([32]byte{})
	l.mu.Lock()
	defer l.mu.Unlock()
	need := 0
	if _, ok := l.byJTI[jtiKey{t.Issuer, t.JTI}]; t.JTI != "" && !ok {
		need++
	}
	if _, ok := l.byHash[t.SHA256]; hasHash && !ok {
		need++
	}
	if l.len()+need > l.size || now.UnixNano()-l.swept.Load() >= int64(revocationSweep) {
		l.sweep(now)
	}
	if l.len()+need > l.size {
		return fmt.Errorf("%w: %d revocations held, none past its token's expiry", ErrRevocationListFull, l.len())
	}
	if t.JTI != "" {
		k := jtiKey{t.Issuer, t.JTI}
		if old, ok := l.byJTI[k]; !ok {
			l.byJTI[jtiKey{strings.Clone(t.Issuer), strings.Clone(t.JTI)}] = u
		} else if old < u {
			l.byJTI[k] = u
		}
	}
	if hasHash {
		if old, ok := l.byHash[t.SHA256]; !ok || old < u {
			l.byHash[t.SHA256] = u
		}
	}
	l.n.Store(int64(l.len()))
	return nil
}

// RevokeJTI revokes the token of issuer whose "jti" is jti and which
// expires at exp: for an authorization server's revocation event or
// webhook, which names the token by its jti. See Revoke.
func (l *RevocationList) RevokeJTI(issuer, jti string, exp time.Time) error {
	return l.Revoke(context.Background(), TokenRef{Issuer: issuer, JTI: jti, ExpiresAt: exp})
}

// RevokeToken revokes the token string token, which expires at exp, by its
// SHA-256: for an opaque token, or any token whose exp is known to the
// caller. To revoke a token the Guard can verify, reading its expiry and
// jti from it, use Guard.Revoke. See Revoke.
func (l *RevocationList) RevokeToken(token string, exp time.Time) error {
	return l.Revoke(context.Background(), TokenRef{SHA256: cacheKey(token), ExpiresAt: exp})
}

// Len returns the number of revocations held (a token revoked both by
// jti and by SHA-256 counts twice), expired ones not yet dropped
// included.
func (l *RevocationList) Len() int {
	if l == nil {
		return 0
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.len()
}

// len is Len with l.mu held.
func (l *RevocationList) len() int { return len(l.byJTI) + len(l.byHash) }

// sweep drops the entries past their time at now; l.mu is held.
func (l *RevocationList) sweep(now time.Time) {
	t := now.UnixNano()
	for k, u := range l.byJTI {
		if t >= u {
			delete(l.byJTI, k)
		}
	}
	for k, u := range l.byHash {
		if t >= u {
			delete(l.byHash, k)
		}
	}
	l.swept.Store(t)
	l.n.Store(int64(l.len()))
}

// check refuses a TokenRef that Revoke cannot record.
func (t TokenRef) check() error {
	switch {
	case t.ExpiresAt.IsZero():
		return errors.New("middleware: a revocation needs the token's expiry (ExpiresAt)")
	case t.JTI == "" && t.SHA256 == ([32]byte{}):
		return errors.New("middleware: a revocation needs a JTI (with its Issuer) or a SHA256")
	case t.JTI != "" && t.Issuer == "":
		return errors.New("middleware: a revocation by JTI needs the Issuer")
	case len(t.JTI) > MaxRevocationNameLen || len(t.Issuer) > MaxRevocationNameLen:
		return fmt.Errorf("middleware: a revocation's JTI and Issuer are at most %d bytes (revoke by SHA256 instead)", MaxRevocationNameLen)
	}
	return nil
}

// tokenRef names the token whose grant is grant and whose SHA-256 is key.
func tokenRef(grant *smartctx.Grant, key [32]byte) TokenRef {
	jti, _ := grant.Claim("jti")
	s, _ := jti.(string)
	return TokenRef{Issuer: grant.Issuer(), JTI: s, SHA256: key, ExpiresAt: grant.ExpiresAt()}
}

// checkRevoked asks Config.Tokens.Revocations (set) about token, whose
// grant is grant and whose SHA-256 is key (zero: not computed yet). A
// revoked token is refused as invalid, and its grant noted on the
// request's audit record, so that the event says whose token it was; an
// error of the list is a 503, never an allow.
func (g *Guard) checkRevoked(ctx context.Context, token string, grant *smartctx.Grant, key [32]byte) error {
	if key == ([32]byte{}) {
		key = cacheKey(token)
	}
	revoked, err := g.revocations.Revoked(ctx, tokenRef(grant, key))
	switch {
	case err != nil:
		return unavailable("the token's revocation status could not be checked", revocationRetry, err)
	case revoked:
		if rec := recordOf(ctx); rec != nil {
			rec.grant = grant
		}
		return errRevoked()
	}
	return nil
}

func errRevoked() *Error { return invalidToken("the token has been revoked", ErrRevoked) }

// Revoke verifies token as Verify does and records it in
// Config.Tokens.Revocations, by its SHA-256 and (when it has a string
// "jti") by its issuer and jti, until its expiry: from then on the Guard,
// and every Guard that consults the same Revocations, refuses it (401
// invalid_token, "the token has been revoked"), cached or not. Put it
// behind an endpoint of your own that takes RFC 7009 revocation requests
// (the "token" parameter) from your clients, or call it from your
// authorization server's revocation events when they carry the token.
//
// A token that is not valid (malformed, badly signed, expired, of an
// untrusted issuer, inactive at introspection) is not recorded, as it is
// refused anyway: Revoke returns its *Error, of kind ErrInvalidToken, and
// an RFC 7009 endpoint answers 200 for it (RFC 7009 §2.2). An error of
// kind ErrUnavailable (no key of the token's issuer held, its
// introspection endpoint or the Revocations failing or full) means that
// nothing was recorded: answer 503 and let the client try again. Without
// Config.Tokens.Revocations, Revoke returns an error of kind
// ErrMisconfigured. An opaque token is introspected as Verify does, so
// only when exactly one issuer introspects opaque tokens. ctx bounds the
// calls Revoke makes.
func (g *Guard) Revoke(ctx context.Context, token string) error {
	if g.revocations == nil {
		return &Error{Status: http.StatusInternalServerError, Description: "no revocation list configured",
			Err: errors.New("middleware: Config.Tokens.Revocations is not set")}
	}
	if len(token) > g.maxSize {
		return invalidToken("token too large", nil)
	}
	grant, err := g.verifyOrRecall(ctx, token, nil, false)
	if err != nil {
		return err
	}
	if err := g.revocations.Revoke(ctx, tokenRef(grant, cacheKey(token))); err != nil {
		return unavailable("the revocation could not be recorded", revocationRetry, err)
	}
	return nil
}
