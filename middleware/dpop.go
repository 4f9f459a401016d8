package middleware

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/bearer"
	"github.com/smartguard/smartguard/internal/dpop"
	"github.com/smartguard/smartguard/wellknown"
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
// DPoP header, a proof JWT. The token is checked (and cached) as a bearer
// token is; the proof, on every request after it, must pass every check
// of RFC 9449 §4.3, its htu compared with the URL built from the
// configured base, never from the Host header. A refused proof is
// answered 401 "invalid_dpop_proof" ("use_dpop_nonce" for a nonce,
// "invalid_token" for a key that is not the token's), naming the check
// that failed. The checks, the htu rules and the answers are in
// docs/dpop.md.
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

	// Store keeps the record of used proofs, so that a proof is used
	// once. Default: NewMemoryStore(DefaultStoreSize), for this Guard
	// alone (about 2,180 DPoP requests per second). Replicas must share
	// one Store, or a proof replayed to another replica is accepted
	// there. A Store that errs, is full or exceeds StoreTimeout fails the
	// request with 503 (ErrUnavailable), never open. See
	// docs/dpop.md#replicas.
	Store Store

	// StoreTimeout bounds each call to Store (not to the memory store,
	// which does not wait). Default 1 s.
	StoreTimeout time.Duration

	// NonceKey, when set, makes every proof carry a server nonce (RFC
	// 9449 §9): one missing or stale is answered 401 "use_dpop_nonce"
	// with the current nonce in DPoP-Nonce. It is at least 32 random
	// bytes, secret, the same on every replica, whose clocks must agree
	// within Tokens.Leeway. Default: no nonces. See docs/dpop.md#nonces.
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

// dpopState is what a Guard that accepts DPoP-bound tokens needs to check
// proofs.
type dpopState struct {
	verifier *dpop.Verifier
	algs     string       // for challenges: the algorithms, space-separated
	nonces   *dpop.Nonces // nil: no nonces
	store    Store
	timeout  time.Duration // of a store call; 0: the memory store, no timeout
	// bases are the external URLs of the FHIR bases, by audience.
	bases map[string]dpop.Base
	// origin is the one origin of every audience, for requests outside
	// every base; nil when there is none (several origins, or a
	// Config.Base that rewrites paths).
	origin *dpop.Base
}

// newDPoP returns the DPoP state of cfg (with its defaults), nil when no
// issuer accepts DPoP.
func newDPoP(cfg *Config) (*dpopState, error) {
	if !slices.ContainsFunc(cfg.Issuers, func(is Issuer) bool { return is.DPoP != DPoPOff }) {
		return nil, nil
	}
	o := cfg.DPoP
	v, err := dpop.NewVerifier(dpop.Options{Algorithms: o.Algorithms, MaxAge: o.MaxAge, Leeway: cfg.Tokens.Leeway})
	if err != nil {
		return nil, fmt.Errorf("middleware: %w", err)
	}
	d := &dpopState{verifier: v, algs: strings.Join(o.Algorithms, " "), store: o.Store, timeout: o.StoreTimeout, bases: map[string]dpop.Base{}}
	if o.NonceKey != nil {
		if d.nonces, err = dpop.NewNonces(o.NonceKey, o.NonceInterval, cfg.Tokens.Leeway); err != nil {
			return nil, fmt.Errorf("middleware: %w", err)
		}
	}
	if d.store == nil {
		d.store = newMemoryStore(DefaultStoreSize, time.Now)
	}
	if _, ok := d.store.(*memoryStore); ok {
		d.timeout = 0
	}
	origins := map[string]bool{}
	for _, is := range cfg.Issuers {
		for _, a := range append([]string{is.Audience}, is.Audiences...) {
			b, err := dpop.NewBase(a)
			if err != nil {
				return nil, fmt.Errorf("middleware: audience %q: %w", a, err)
			}
			d.bases[a] = b
			u, _ := url.Parse(a)
			origins[u.Scheme+"://"+u.Host] = true
		}
	}
	if len(origins) == 1 && cfg.Base == "" {
		for o := range origins {
			b, err := dpop.NewBase(o)
			if err != nil {
				return nil, fmt.Errorf("middleware: %w", err)
			}
			d.origin = &b
		}
	}
	return d, nil
}

// requestURL returns the normalised URL the client addressed with r,
// under base b (nil: under no base), from the configuration; false when
// there is none.
func (d *dpopState) requestURL(r *http.Request, b *base) (string, bool) {
	p := r.URL.EscapedPath()
	if b == nil {
		if d.origin == nil {
			return "", false
		}
		return d.origin.URL(p), true
	}
	ext, ok := d.bases[b.auds[0].url]
	rest, under := strings.CutPrefix(p, b.az.BasePath())
	if !ok || !under {
		return "", false
	}
	return ext.URL(rest), true
}

// record records a used proof in the store, within the store timeout.
func (d *dpopState) record(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if d.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.timeout)
		defer cancel()
	}
	return d.store.Add(ctx, key, ttl)
}

// dpopCredentials reads the value of an Authorization header that is
// not Bearer credentials: the token of DPoP credentials, when the Guard
// accepts DPoP; "" for another scheme.
func (g *Guard) dpopCredentials(v string) (string, *Error) {
	if g.dpop == nil {
		return "", nil // the DPoP scheme is not known here: no credentials
	}
	tok, err := bearer.ParseDPoP(v)
	if errors.Is(err, bearer.ErrMalformed) {
		return "", errMalformedDPoP
	}
	return tok, nil
}

// Refusals of DPoP requests, and of DPoP-bound tokens.
var (
	errMalformedDPoP = invalidRequest("malformed DPoP credentials")
	errBoundAsBearer = invalidToken("DPoP-bound token presented as a bearer token", errors.New("the token has a cnf binding: RFC 9449 §7.2"))
	errBoundNoProof  = invalidToken("DPoP-bound token presented without a proof", errors.New("the token has a cnf binding, and Verify checks no proof"))
	errNotBound      = invalidToken("token is not DPoP-bound", errors.New("DPoP scheme with a token that has no cnf.jkt"))
	errDPoPRequired  = invalidToken("this server requires DPoP-bound tokens", errors.New("the issuer's Issuer.DPoP is DPoPRequired"))
	errDPoPIssuerOff = invalidToken("DPoP is not accepted for this token's issuer", errors.New("the issuer's Issuer.DPoP is DPoPOff"))
	errNoProof       = invalidProof("DPoP proof required", errors.New("no DPoP header"))
	errTwoProofs     = invalidProof("more than one DPoP header", errors.New("RFC 9449 §4.3 check 1"))
	errNoProofURL    = invalidProof("DPoP proofs are not accepted on this path", errors.New("the request is under no FHIR base, and the audiences do not give one origin"))
	errReplay        = invalidProof("DPoP proof already used", errors.New("its jti was recorded within the acceptance window"))
)

func invalidProof(desc string, err error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidDPoPProof, Description: desc, Err: err}
}

// proofReasons are the descriptions of the proofs Verify refuses, by
// reason: safe to show, naming the check that failed.
var proofReasons = []struct {
	err  error
	desc string
}{
	{dpop.ErrTooLarge, "DPoP proof too large"},
	{dpop.ErrMalformed, "DPoP proof malformed"},
	{dpop.ErrType, "DPoP proof typ is not dpop+jwt"},
	{dpop.ErrAlgorithm, "DPoP proof algorithm not accepted"},
	{dpop.ErrCritical, "DPoP proof has a critical header this server does not support"},
	{dpop.ErrPrivateKey, "DPoP proof jwk holds a private key"},
	{dpop.ErrWeakKey, "DPoP proof key too short"},
	{dpop.ErrKey, "DPoP proof jwk is not a usable public key for its alg"},
	{dpop.ErrSignature, "DPoP proof signature invalid"},
	{dpop.ErrClaims, "DPoP proof lacks jti, htm, htu, iat or ath"},
	{dpop.ErrJTI, "DPoP proof jti too long"},
	{dpop.ErrMethod, "DPoP proof is for another method (htm)"},
	{dpop.ErrURL, "DPoP proof is for another URL (htu)"},
	{dpop.ErrStale, "DPoP proof too old (iat)"},
	{dpop.ErrFuture, "DPoP proof issued in the future (iat)"},
	{dpop.ErrAccessTokenHash, "DPoP proof is for another access token (ath)"},
}

// proofError is the refusal of a proof Verify refused with err.
func proofError(err error) *Error {
	if errors.Is(err, dpop.ErrBinding) {
		// RFC 9449 §7.1's own example: the token's binding failed.
		return invalidToken("Invalid DPoP key binding", err)
	}
	for _, r := range proofReasons {
		if errors.Is(err, r.err) {
			return invalidProof(r.desc, err)
		}
	}
	return invalidProof("DPoP proof invalid", err)
}

// checkDPoP applies RFC 9449 to a request whose access token tok,
// presented with the DPoP scheme when isDPoP, verified as grant, under
// base b (nil: none): a DPoP-bound token needs the DPoP scheme and a
// valid proof of its key; a token that is not bound needs the Bearer
// scheme and an issuer that does not require DPoP. w receives the
// DPoP-Nonce header of a nonce about to expire.
func (g *Guard) checkDPoP(w http.ResponseWriter, r *http.Request, b *base, tok string, isDPoP bool, grant *smartctx.Grant) error {
	jkt, bound := boundKey(grant)
	if !isDPoP {
		switch {
		case bound:
			return errBoundAsBearer
		case g.dpop != nil && g.dpopMode(grant) == DPoPRequired:
			return errDPoPRequired
		}
		return nil
	}
	d := g.dpop
	switch {
	case d == nil || g.dpopMode(grant) == DPoPOff:
		return errDPoPIssuerOff
	case !bound:
		return errNotBound
	}
	var proof string
	switch vals := r.Header["Dpop"]; len(vals) {
	case 0:
		return errNoProof
	case 1:
		proof = vals[0]
	default:
		return errTwoProofs
	}
	htu, ok := d.requestURL(r, b)
	if !ok {
		return errNoProofURL
	}
	now := g.now()
	p, err := d.verifier.Verify(proof, dpop.Request{Method: r.Method, URL: htu, AccessToken: tok, Thumbprint: jkt, Now: now})
	if err != nil {
		return proofError(err)
	}
	current := true
	if d.nonces != nil {
		if current, err = d.nonces.Check(p.Nonce, now); err != nil {
			desc := "DPoP proof nonce is not current"
			if errors.Is(err, dpop.ErrNonceMissing) {
				desc = "Resource server requires nonce in DPoP proof" // RFC 9449 §9's text
			}
			return &Error{Status: http.StatusUnauthorized, Code: CodeUseDPoPNonce, Description: desc, Err: err}
		}
	}
	// Last: a proof is recorded only once every other check passed.
	first, err := d.record(r.Context(), p.ReplayKey(), d.verifier.Retain(p, now))
	switch {
	case err != nil:
		return unavailable("the record of used DPoP proofs cannot be reached", time.Second, fmt.Errorf("DPoP replay store: %w", err))
	case !first:
		return errReplay
	}
	if !current {
		h := w.Header()
		h.Set("DPoP-Nonce", d.nonces.Current(now))
		h.Set("Cache-Control", "no-store")
	}
	return nil
}

// dpopMode returns the DPoPMode of the issuer of grant; DPoPOff for an
// issuer that is not configured.
func (g *Guard) dpopMode(grant *smartctx.Grant) DPoPMode {
	if is := g.issuers[grant.Issuer()]; is != nil {
		return is.dpop
	}
	return DPoPOff
}

// boundKey returns the key the token of grant is bound to (cnf.jkt), and
// whether it is bound at all (has a cnf claim): a cnf without a usable
// jkt is bound to a key no proof can match.
func boundKey(grant *smartctx.Grant) (jkt string, bound bool) {
	v, ok := grant.Claim("cnf")
	if !ok {
		return "", false
	}
	m, _ := v.(map[string]any)
	jkt, _ = m["jkt"].(string)
	return jkt, true
}

// dpopChallenges returns h, which, for a Guard that accepts DPoP, first
// gives each 400, 401 and 403 under a base where DPoP is accepted its
// DPoP challenge (Error.DPoP), and each such 401 the current nonce
// (DPoP-Nonce) when nonces are on.
func (g *Guard) dpopChallenges(h ErrorHandler) ErrorHandler {
	d := g.dpop
	if d == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request, err error) {
		var e *Error
		if errors.As(err, &e) && e.DPoP == nil && (e.Status == http.StatusBadRequest || e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden) {
			b := g.baseOf(r)
			if bearerOK, dpopOK := g.schemes(b); dpopOK && (b != nil || d.origin != nil) {
				cp := *e
				cp.DPoP = &DPoPChallenge{Algs: d.algs, Bearer: bearerOK, Used: usesDPoP(r)}
				err = &cp
				if e.Status == http.StatusUnauthorized && d.nonces != nil {
					w.Header().Set("DPoP-Nonce", d.nonces.Current(g.now()))
				}
			}
		}
		h(w, r, err)
	}
}

// schemes reports which schemes the issuers of base b (every issuer when
// b is nil) accept.
func (g *Guard) schemes(b *base) (bearerOK, dpopOK bool) {
	mode := func(m DPoPMode) {
		bearerOK = bearerOK || m != DPoPRequired
		dpopOK = dpopOK || m != DPoPOff
	}
	if b == nil {
		for _, is := range g.list {
			mode(is.dpop)
		}
		return
	}
	for _, a := range b.auds {
		if is := g.issuers[a.issuer]; is != nil {
			mode(is.dpop)
		}
	}
	return
}

// usesDPoP reports whether r's one Authorization header is of the DPoP
// scheme, well-formed or not.
func usesDPoP(r *http.Request) bool {
	vals := r.Header["Authorization"]
	if len(vals) != 1 {
		return false
	}
	_, err := bearer.ParseDPoP(vals[0])
	return !errors.Is(err, bearer.ErrNotDPoP)
}

// describeDPoP adds to doc, the RFC 9728 metadata of base b, what b
// accepts of DPoP (RFC 9728 §2): the proof algorithms where an issuer of b
// accepts DPoP-bound tokens and, where none accepts bearer tokens,
// dpop_bound_access_tokens_required and no bearer method.
func (g *Guard) describeDPoP(doc *wellknown.ProtectedResource, b *base) {
	bearerOK, dpopOK := g.schemes(b)
	if g.dpop == nil || !dpopOK {
		return
	}
	doc.DPoPSigningAlgValuesSupported = strings.Fields(g.dpop.algs)
	if !bearerOK {
		doc.BearerMethodsSupported = nil
		doc.DPoPBoundAccessTokensRequired = true
	}
}
