package middleware

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/dpop"
)

// Test hooks: unexported values that the external tests (package
// middleware_test, which mint tokens with smarttest) check against. Only
// this file of package middleware's tests may name them for the others;
// tests of unexported functions stay in package middleware and mint no
// tokens.

// The Errors the Guard answers with when no token is sent, and when the
// Authorization header is malformed.
var (
	NoTokenError   = errNoToken
	MalformedError = errMalformed
)

// InvalidToken is the Error of a refused token.
var InvalidToken = invalidToken

// ErrClaim is the cause of every SMART claim a token gets wrong.
var ErrClaim = errClaim

// The causes of a token refused for its JOSE header: a crit extension, a
// cty of a nested JWT, a kid that is not a short printable string.
var (
	ErrCrit = errCrit
	ErrCty  = errCty
	ErrKID  = errKID
)

// Extract is the Guard's extraction of r's access token.
func (g *Guard) Extract(r *http.Request) (string, bool, *http.Request, *Error) {
	tok, isDPoP, _, r, err := g.extract(r)
	return tok, isDPoP, r, err
}

// Authenticate is the Guard's authentication of r at the base r is under.
func (g *Guard) Authenticate(w http.ResponseWriter, r *http.Request) (*smartctx.Grant, *http.Request, error) {
	return g.authenticate(w, r, g.baseOf(r))
}

// WithDefaults is c with its defaults filled in, or why it is invalid.
func (c Config) WithDefaults() (Config, error) { return c.withDefaults() }

// MaxIntrospections bounds the calls in flight to one introspection
// endpoint.
const MaxIntrospections = maxIntrospections

// CachedTokens is the number of tokens the Guard's cache holds.
func (g *Guard) CachedTokens() int { return g.cache.len() }

// CacheGrant caches gr for tok as of now, as a verification would.
func (g *Guard) CacheGrant(tok string, gr *smartctx.Grant, now time.Time) {
	g.cache.put(g.cache.mac.key(tok), gr, now, 0)
}

// DPoPVerifier is the Guard's verifier of DPoP proofs.
func (g *Guard) DPoPVerifier() *dpop.Verifier { return g.dpop.verifier }

// RecordDPoPProof records a proof's replay key, as a request does: false
// when it was recorded already.
func (g *Guard) RecordDPoPProof(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return g.dpop.record(ctx, key, ttl)
}

// CachedGrant is the grant the Guard's cache holds for tok at now, or nil.
func (g *Guard) CachedGrant(tok string, now time.Time) *smartctx.Grant {
	return g.cache.get(g.cache.mac.key(tok), now)
}

// Check is New's check of the policy for the FHIR base.
func (p *AccessPolicy) Check(base string) error { return p.check(base) }

// SharedAnswerNames returns the Store name of token's shared
// introspection answer at the Guard's issuer iss, and the key sealing it.
func (g *Guard) SharedAnswerNames(iss, token string) (string, []byte) {
	return g.issuers[iss].intro.shared.names(token)
}

// SharedAnswerNamesFor is SharedAnswerNames of an issuer iss whose
// introspection client secret is secret.
func SharedAnswerNamesFor(iss, secret string, store Store, token string) (string, []byte) {
	c := Issuer{URL: iss, Introspection: Introspection{Store: store, ClientSecret: secret}}
	return newSharedAnswers(&c, &Config{Tokens: TokenOptions{Now: time.Now}, Hooks: Hooks{Logger: slog.New(slog.DiscardHandler)}}).names(token)
}

// SealAnswer seals an introspection answer as a Guard stores it.
func SealAnswer(seal []byte, name string, at time.Time, answer []byte) []byte {
	return sealAnswer(seal, name, at, answer)
}

// SealVersion is the first byte of a sealed answer.
const SealVersion = sealVersion

// MemoryStoreValues returns the values a memory store (NewMemoryStore)
// holds.
func MemoryStoreValues(s Store) [][]byte {
	m := s.(*memoryStore)
	var out [][]byte
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for k := range sh.m {
			out = append(out, append([]byte{}, sh.vals[k]...))
		}
		sh.mu.Unlock()
	}
	return out
}

// MemoryStoreValue returns the value a memory store holds under name.
func MemoryStoreValue(s Store, name string) ([]byte, bool) {
	m := s.(*memoryStore)
	k := m.key(name)
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		v, ok := sh.vals[k]
		sh.mu.Unlock()
		if ok {
			return append([]byte{}, v...), true
		}
	}
	return nil, false
}
