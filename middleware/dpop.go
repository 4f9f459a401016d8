package middleware

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/smartguard/smartguard/internal/dpop"
)

// DPoPMode says whether the access tokens of an issuer may, or must, be
// DPoP-bound (RFC 9449): bound to a key of the client (the token's
// cnf.jkt, in a JWT or an introspection answer), which the client proves
// it holds with a proof in the DPoP header of every request.
type DPoPMode int

const (
	// DPoPOff accepts bearer tokens only: a token bound to a key (with a
	// cnf claim) is refused, as is the DPoP scheme. The default.
	DPoPOff DPoPMode = iota
	// DPoPAllowed accepts bearer tokens, and DPoP-bound tokens sent as
	// "Authorization: DPoP <token>" with a valid proof. A DPoP-bound
	// token sent as a bearer token is refused (RFC 9449 §7.2).
	DPoPAllowed
	// DPoPRequired accepts DPoP-bound tokens with a valid proof only: a
	// token that is not bound is refused, whichever the scheme.
	DPoPRequired
)

// Defaults of DPoPOptions.
const (
	// DefaultDPoPMaxAge is the default DPoPOptions.MaxAge.
	DefaultDPoPMaxAge = time.Minute
	// MaxDPoPMaxAge is the largest DPoPOptions.MaxAge New accepts.
	MaxDPoPMaxAge = 10 * time.Minute
	// DefaultDPoPStoreTimeout is the default DPoPOptions.StoreTimeout.
	DefaultDPoPStoreTimeout = time.Second
	// DefaultDPoPNonceInterval is the default DPoPOptions.NonceInterval.
	DefaultDPoPNonceInterval = 5 * time.Minute
)

// DefaultDPoPAlgorithms are the proof algorithms accepted when
// DPoPOptions.Algorithms is empty.
var DefaultDPoPAlgorithms = []string{"ES256"}

// DPoPOptions say how DPoP proofs are checked, for the issuers whose
// Issuer.DPoP is DPoPAllowed or DPoPRequired; see Config.DPoP. New
// refuses them set while no issuer accepts DPoP.
//
// A DPoP request carries "Authorization: DPoP <token>" and exactly one
// DPoP header, a proof JWT, which must pass every check of RFC 9449 §4.3:
// typ "dpop+jwt"; an alg of Algorithms; a public jwk (never a private
// or symmetric key; RSA of 2048 to 8192 bits), in its one canonical
// encoding; the signature by that key; htm equal to the request's method;
// htu equal to the request's URL (see below) without query and fragment;
// iat within MaxAge in the past and Config.Tokens.Leeway either way; a
// jti (at most 256 bytes) never seen before within that window (Store);
// ath equal to the hash of the access token; the thumbprint (RFC 7638) of
// the jwk equal to the token's cnf.jkt; and, with NonceKey, a current
// nonce. The token itself is checked (and cached) as a bearer token is;
// the proof is checked on every request, after the token.
//
// htu is compared with the URL the client addressed, built from the
// configuration, never from the Host header: the audience of the FHIR
// base the request is under (Issuer.Audience, or Audiences) followed by
// the request's path under that base (so Config.Base maps it back). Both
// are normalised as RFC 3986 §6.2.2 and §6.2.3 say: scheme and host in
// lower case, the default port dropped, percent-encodings of unreserved
// characters decoded and the others' hex digits in upper case; dot
// segments are not removed, so a path holding them must be sent as it is
// signed. A request outside every FHIR base (AuthenticateOnly on another
// path) is compared with its own path on the one origin (scheme, host and
// port) of every audience, and its proof is refused when the audiences
// have several origins or Config.Base is set.
//
// A refused proof is answered 401 with error "invalid_dpop_proof" in the
// DPoP challenge ("use_dpop_nonce" for a nonce, "invalid_token" for a key
// that is not the token's), and a description naming the check that
// failed.
type DPoPOptions struct {
	// Algorithms is the allow-list of proof "alg" values, separate from
	// Tokens.Algorithms: any of ES256, ES384, ES512, PS256, PS384, PS512,
	// RS256, RS384, RS512, EdDSA and Ed25519 (EdDSA's RFC 9864 name).
	// Challenges list them (algs="..."). Default DefaultDPoPAlgorithms.
	Algorithms []string

	// MaxAge is how long after its iat a proof is accepted, on top of
	// Config.Tokens.Leeway, which also allows an iat that far in the
	// future. Default 1 min; at most MaxDPoPMaxAge.
	MaxAge time.Duration

	// Store keeps the record of used proofs (a hash of their key, method,
	// URL and jti) for as long as each could be accepted, so that a proof
	// is used once. Default: a memory store of DefaultStoreSize entries
	// (NewMemoryStore) for this Guard alone. With several replicas, give
	// them one Store they share, or a proof replayed to another replica
	// is accepted there. A Store that errors, is full, or does not answer
	// within StoreTimeout fails the request with 503 (ErrUnavailable) and
	// Retry-After. The memory store holds each record for MaxAge + Leeway
	// (90 s by default), so its size bounds the DPoP requests per second
	// it can take: DefaultStoreSize / 90 s is about 1,450.
	Store Store

	// StoreTimeout bounds each call to Store (not to the memory store,
	// which does not wait). Default 1 s.
	StoreTimeout time.Duration

	// NonceKey, when set, makes every proof carry a server nonce (RFC 9449
	// §9): a proof without one, or with one this server did not issue
	// within the last NonceInterval or two, is answered 401
	// "use_dpop_nonce" with a DPoP-Nonce header holding the current
	// nonce, which every 401 to a DPoP request carries too, and a
	// successful response when the client's nonce is about to expire
	// (with Cache-Control: no-store). A nonce is an HMAC of the time step
	// with this key, so replicas need no shared state, only the same key
	// (at least 32 random bytes, kept secret) and clocks within
	// Tokens.Leeway. Default: no nonces.
	NonceKey []byte

	// NonceInterval is how often the nonce changes; a nonce is accepted
	// in its interval and the next. Default 5 min.
	NonceInterval time.Duration
}

// withDefaults checks o against the issuers (all, Config.Issuer first)
// and sets its defaults.
func (o *DPoPOptions) withDefaults(all []Issuer) []error {
	var errs []error
	on := false
	for _, is := range all {
		switch is.DPoP {
		case DPoPOff:
		case DPoPAllowed, DPoPRequired:
			on = true
		default:
			errs = append(errs, fmt.Errorf("issuer %q: DPoP %d is not a DPoPMode", is.URL, is.DPoP))
		}
	}
	if !on {
		if len(o.Algorithms) > 0 || o.MaxAge != 0 || o.Store != nil || o.StoreTimeout != 0 || o.NonceKey != nil || o.NonceInterval != 0 {
			errs = append(errs, errors.New("DPoP is set but no issuer accepts DPoP-bound tokens: set Issuer.DPoP"))
		}
		return errs
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = DefaultDPoPAlgorithms
	}
	o.Algorithms = slices.Compact(slices.Sorted(slices.Values(o.Algorithms)))
	for _, a := range o.Algorithms {
		if !dpop.Supported(a) {
			errs = append(errs, fmt.Errorf("DPoP.Algorithms: %q is not an asymmetric algorithm this server checks proofs of", a))
		}
	}
	errs = append(errs,
		orDefault("DPoP.MaxAge", &o.MaxAge, DefaultDPoPMaxAge),
		orDefault("DPoP.StoreTimeout", &o.StoreTimeout, DefaultDPoPStoreTimeout),
		orDefault("DPoP.NonceInterval", &o.NonceInterval, DefaultDPoPNonceInterval))
	if o.MaxAge > MaxDPoPMaxAge {
		errs = append(errs, fmt.Errorf("DPoP.MaxAge %v is more than %v", o.MaxAge, MaxDPoPMaxAge))
	}
	if o.NonceKey != nil && len(o.NonceKey) < dpop.MinNonceKeySize {
		errs = append(errs, fmt.Errorf("DPoP.NonceKey has %d bytes, fewer than %d", len(o.NonceKey), dpop.MinNonceKeySize))
	}
	return errs
}

// errCNF refuses a cnf claim that is not a DPoP binding of a SHA-256 JWK
// thumbprint.
var errCNF = fmt.Errorf("%w: cnf is not one jkt, a SHA-256 JWK thumbprint", errClaim)

// checkCNF checks the cnf claim of a token whose issuer accepts DPoP:
// exactly a "jkt" member holding a SHA-256 JWK thumbprint (RFC 9449 §6).
// Another confirmation method (an mTLS certificate's x5t#S256, say) is
// one this server cannot check, so it is refused, even beside a jkt.
func checkCNF(v any) error {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return errCNF
	}
	jkt, ok := m["jkt"].(string)
	if !ok || len(jkt) != 43 {
		return errCNF
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(jkt); err != nil {
		return errCNF
	}
	return nil
}
