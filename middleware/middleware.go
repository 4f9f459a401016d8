package middleware

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/asmeta"
	"github.com/smartguard/smartguard/internal/bearer"
	"github.com/smartguard/smartguard/internal/engine"
	"github.com/smartguard/smartguard/internal/fhirrest"
	"github.com/smartguard/smartguard/internal/jwks"
)

// maxFormBody bounds the form body read for Config.Tokens.FormBody.
const maxFormBody = 1 << 20

// Guard protects a FHIR API with SMART on FHIR: its Handler authenticates
// each request's bearer token, decides the FHIR REST request from the
// token's scopes and launch context, and holds the handler's response
// until it has checked it against that decision. It is safe for
// concurrent use. Make one with New.
type Guard struct {
	issuers map[string]*issuer
	list    []*issuer   // in Config order
	parser  *jwt.Parser // its DecodeSegment only: see parseJWS
	// algorithms are Tokens.Algorithms, the only ones parseJWS accepts.
	algorithms []string
	strict     bool
	maxSize    int
	form       bool
	now        func() time.Time
	cache      *cache
	onError    ErrorHandler
	bases      []*base // longest path first
	cors       func(http.Handler) http.Handler
	audit      func(context.Context, AuditEvent)
	metrics    Metrics
	// opaque is the issuer that introspects opaque tokens outside any
	// base (Verify), when exactly one does.
	opaque *issuer
	// introspectAll: some issuer has TokensIntrospect.
	introspectAll bool
	// forwardedHost: Config.TrustForwardedHost.
	forwardedHost bool
	// publicMetadata: not Config.FHIR.MetadataNeedsToken.
	publicMetadata bool
	// revocations: Config.Tokens.Revocations, nil for none.
	revocations Revocations
	// dpop checks DPoP proofs; nil when no issuer accepts DPoP.
	dpop *dpopState
}

// issuer is one trusted authorization server with its keys and the
// checks of its tokens.
type issuer struct {
	url       string
	names     ClaimNames
	auds      []string       // Audience, then Audiences
	slashes   bool           // DecodeScopeSlashes
	validator *jwt.Validator // the registered claims, then the SMART ones
	key       func(ctx context.Context, t *jwt.Token) (any, error)
	keys      *jwks.Set // nil with a Keyfunc, or when every token is introspected
	tokens    TokenFormat
	intro     *introspector // nil with TokensJWT
	dpop      DPoPMode
}

// base is one FHIR base served here: a host and a path, the audiences
// (and their issuers) a token must name to be used under it, and its
// engine (internal/engine), which decides and guards its requests.
type base struct {
	az     *engine.Engine
	auds   []audience
	opaque *issuer // the issuer that introspects opaque tokens here, if any
	host   string  // as hostKey gives it
	// byHost: another base, on another host, has this path or one over
	// or under it, so a request is matched to this base only on its host.
	byHost bool
}

type audience struct{ url, issuer string }

// New checks cfg and returns a Guard. It reports every problem of cfg at
// once. Unless an issuer has a Keyfunc, it discovers the JWKS URL of each
// issuer that has none (New fails when discovery fails) and fetches the
// keys, waiting for the first fetch (within the HTTPClient's timeout). A
// failed first JWKS fetch does not fail New unless cfg.WaitForKeys is set:
// it is logged, retried in the background, and tokens are answered 503
// (ErrUnavailable) until keys arrive. ctx bounds discovery and the
// background refresh of the keys: cancel it to stop them.
func New(ctx context.Context, cfg Config) (*Guard, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Guard{
		issuers: make(map[string]*issuer, len(cfg.Issuers)),
		strict:  cfg.Tokens.RequireATJWT,
		maxSize: cfg.Bounds.MaxTokenSize,
		form:    cfg.Tokens.FormBody,
		now:     cfg.Tokens.Now,
		onError: cfg.Hooks.ErrorHandler,
		// parseJWS decodes a token's segments with this parser's
		// DecodeSegment. Strict decoding refuses base64url whose unused
		// trailing bits are set (RFC 4648 §3.5): else one signed token
		// has many spellings, each a different cache key and a
		// different string to deny-list. The claims are checked before
		// the key is looked up (checkJWT), by the issuer's validator
		// (registered claims, then, through claims.Validate, the SMART
		// ones).
		parser:     jwt.NewParser(jwt.WithStrictDecoding()),
		algorithms: cfg.Tokens.Algorithms,
	}
	if g.onError == nil {
		realm := cfg.Hooks.Realm
		g.onError = func(w http.ResponseWriter, r *http.Request, err error) { writeErrorFor(w, r, realm, err) }
	}
	if len(cfg.AllowedOrigins) > 0 {
		g.cors = CORS(cfg.AllowedOrigins...)
	}
	g.audit, g.metrics = cfg.Hooks.Audit, cfg.Hooks.Metrics
	g.forwardedHost = cfg.TrustForwardedHost
	g.publicMetadata = !cfg.FHIR.MetadataNeedsToken
	if g.auditing() {
		g.onError = auditError(g.onError)
	}
	if g.dpop, err = newDPoP(&cfg); err != nil {
		return nil, err
	}
	g.onError = g.dpopChallenges(g.onError)
	if !cfg.Cache.Disable {
		g.cache = newCache(cfg.Cache.Size, cfg.Cache.TTL)
	}
	g.revocations = cfg.Tokens.Revocations
	g.bases = newBases(&cfg, g.onError)
	if cfg.Hooks.ResourceMetadata {
		g.onError = g.withResourceMetadata(g.onError)
	}
	client := jwks.Client(cfg.HTTPClient)
	for _, c := range cfg.Issuers {
		is, err := newIssuer(ctx, c, &cfg, client)
		if err != nil {
			return nil, err
		}
		g.introspectAll = g.introspectAll || c.Format == TokensIntrospect
		g.issuers[c.URL] = is
		g.list = append(g.list, is)
	}
	g.linkOpaque()
	if err := g.waitForKeys(ctx, cfg.Keys.Wait); err != nil {
		return nil, err
	}
	return g, nil
}

// newIssuer makes the validator, the key look-up and the introspection
// of the issuer c, discovering its endpoints where they are not given.
func newIssuer(ctx context.Context, c Issuer, cfg *Config, client *http.Client) (*issuer, error) {
	is := &issuer{url: c.URL, names: c.Claims, slashes: c.DecodeScopeSlashes, tokens: c.Format,
		auds: append([]string{c.Audience}, c.Audiences...), dpop: c.DPoP}
	is.validator = jwt.NewValidator(
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(c.URL),
		jwt.WithAudience(append([]string{c.Audience}, c.Audiences...)...),
		jwt.WithLeeway(cfg.Tokens.Leeway),
		jwt.WithTimeFunc(cfg.Tokens.Now),
	)
	jwksURL := c.JWKSURL
	if c.Format != TokensJWT {
		endpoint := c.Introspection.Endpoint
		if endpoint == "" {
			var err error
			if endpoint, jwksURL, err = discoverIntrospection(ctx, client, c); err != nil {
				return nil, err
			}
		}
		is.intro = newIntrospector(is, &c, endpoint, client, cfg)
	}
	switch {
	case c.Format == TokensIntrospect:
		is.key = func(context.Context, *jwt.Token) (any, error) {
			return nil, fmt.Errorf("%w: the issuer's tokens are introspected", jwks.ErrNoKey)
		}
	case c.Keyfunc != nil:
		kf := c.Keyfunc
		is.key = func(_ context.Context, t *jwt.Token) (any, error) {
			k, err := kf(t)
			if err != nil {
				return nil, err
			}
			return fitKeys(k, t.Method.Alg())
		}
	default:
		if jwksURL == "" {
			var err error
			if jwksURL, err = jwks.Discover(ctx, client, c.URL); err != nil {
				return nil, fmt.Errorf("middleware: discovering the keys of %q: %w", c.URL, err)
			}
		}
		is.keys = jwks.NewSet(ctx, jwks.Options{
			URL:                jwksURL,
			Client:             client,
			Algorithms:         cfg.Tokens.Algorithms,
			RefreshInterval:    cfg.Keys.RefreshInterval,
			UnknownKIDInterval: cfg.Keys.UnknownKIDInterval,
			MaxStale:           cfg.Keys.MaxStaleness,
			LogInterval:        outageLogInterval,
			Logger:             cfg.Hooks.Logger.With("issuer", c.URL),
		})
		is.key = is.keyFromSet
	}
	return is, nil
}

// discoverIntrospection reads the introspection endpoint of c from its
// metadata, and, for an issuer whose JWTs are verified too and whose JWKS
// is not given, the jwks_uri of the same document.
func discoverIntrospection(ctx context.Context, client *http.Client, c Issuer) (endpoint, jwksURL string, err error) {
	meta, err := asmeta.Discover(ctx, client, c.URL)
	if err != nil {
		return "", "", fmt.Errorf("middleware: discovering the introspection endpoint of %q: %w", c.URL, err)
	}
	if endpoint = meta.IntrospectionEndpoint; endpoint == "" {
		return "", "", fmt.Errorf("middleware: the metadata of %q has no introspection_endpoint: set Introspection.Endpoint", c.URL)
	}
	if err := jwks.CheckURL(endpoint); err != nil {
		return "", "", fmt.Errorf("middleware: introspection_endpoint of %q: %w", c.URL, err)
	}
	jwksURL = c.JWKSURL
	if jwksURL == "" && meta.JWKSURI != "" && c.Format == TokensJWTOrIntrospect && c.Keyfunc == nil {
		if err := jwks.CheckURL(meta.JWKSURI); err != nil {
			return "", "", fmt.Errorf("middleware: jwks_uri of %q: %w", c.URL, err)
		}
		jwksURL = meta.JWKSURI
	}
	return endpoint, jwksURL, nil
}

// keyFromSet returns the keys of the issuer's JWKS that fit the token's
// algorithm and kid: one key, or a set that jwt tries in turn.
func (is *issuer) keyFromSet(ctx context.Context, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	keys, err := is.keys.Keys(ctx, t.Method.Alg(), kid)
	if err != nil {
		return nil, err
	}
	if len(keys) == 1 {
		return keys[0], nil
	}
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k
	}
	return set, nil
}

// linkOpaque names the issuer that introspects opaque tokens: for the
// whole Guard when there is one only, and for each base (one at most per
// base, as withDefaults checks).
func (g *Guard) linkOpaque() {
	var opaque []*issuer
	for _, is := range g.list {
		if is.intro != nil {
			opaque = append(opaque, is)
		}
	}
	if len(opaque) == 1 {
		g.opaque = opaque[0]
	}
	for _, b := range g.bases {
		for _, a := range b.auds {
			if is := g.issuers[a.issuer]; is.intro != nil {
				b.opaque = is
			}
		}
	}
}

// outageLogInterval is the least time between two log records of one
// outage of a JWKS or an introspection endpoint.
const outageLogInterval = time.Minute

// waitForKeys waits for the first JWKS fetch of every issuer and, when
// bound > 0, up to bound for every issuer to hold a key.
func (g *Guard) waitForKeys(ctx context.Context, bound time.Duration) error {
	var wg sync.WaitGroup
	errs := make([]error, len(g.list))
	for i, is := range g.list {
		if is.keys == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			is.keys.Settled(ctx)
			if bound > 0 {
				wctx, cancel := context.WithTimeout(ctx, bound)
				defer cancel()
				if err := is.keys.Wait(wctx); err != nil {
					errs[i] = fmt.Errorf("no key of issuer %q within %v: %w", is.url, bound, err)
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("middleware: %w", err)
	}
	return nil
}

// Ready reports whether the Guard can verify tokens now: nil when every
// issuer whose tokens are verified with a JWKS holds at least one key.
// Otherwise it fetches the missing JWKS (at most once per
// Config.Keys.UnknownKIDInterval, as a token would) and returns an *Error of
// kind ErrUnavailable (503 temporarily_unavailable, with RetryAfter)
// naming no URL, whose cause lists the issuers without keys. Mount it as
// a readiness check (see ReadyHandler) so that a load balancer sends no
// traffic to a replica that would answer every token with 503. ctx bounds
// the fetches.
func (g *Guard) Ready(ctx context.Context) error {
	var errs []error
	var retry time.Duration
	for _, is := range g.list {
		if is.keys == nil {
			continue
		}
		if err := is.keys.Check(ctx); err != nil {
			var u *jwks.UnavailableError
			if errors.As(err, &u) {
				retry = max(retry, u.RetryAfter)
			}
			errs = append(errs, fmt.Errorf("issuer %q: %w", is.url, err))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return unavailable("no signing key available yet", max(retry, time.Second), errors.Join(errs...))
}

// ReadyHandler answers a readiness probe: 200 with "ready" when Ready
// returns nil, else the 503 of Ready's error, with Retry-After and an
// OperationOutcome, through the Guard's ErrorHandler.
func (g *Guard) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.Ready(r.Context()); err != nil {
			g.onError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ready\n")
	})
}

// newBases groups the audiences of every issuer by the host and path
// they are served under (withDefaults has refused two audiences under
// one), marks the bases that only the host tells apart, and orders them
// longest path first.
func newBases(cfg *Config, onError ErrorHandler) []*base {
	type key struct{ host, path string }
	var bases []*base
	byKey := map[key]*base{}
	for i, is := range cfg.Issuers {
		for j, a := range append([]string{is.Audience}, is.Audiences...) {
			host, path := baseAt(cfg, i, j, a) // a checked by withDefaults
			b := byKey[key{host, path}]
			if b == nil {
				b = &base{az: newEngine(cfg, path, a, onError), host: host}
				byKey[key{host, path}] = b
				bases = append(bases, b)
			}
			b.auds = append(b.auds, audience{url: a, issuer: is.URL})
		}
	}
	for _, b := range bases {
		for _, o := range bases {
			if o.host != b.host && overlap(b.az.BasePath(), o.az.BasePath()) {
				b.byHost = true
			}
		}
	}
	slices.SortStableFunc(bases, func(x, y *base) int { return len(y.az.BasePath()) - len(x.az.BasePath()) })
	return bases
}

// baseOf returns the FHIR base r is under, or nil. The first base, longest
// path first, whose path r is under is r's base, unless its path does not
// tell it apart from a base on another host (byHost): then r's base is the
// one of those whose host is r's (see requestHost), and there is none
// when r's host is not one of theirs.
func (g *Guard) baseOf(r *http.Request) *base {
	p := r.URL.EscapedPath()
	var host string
	byHost := false
	for _, b := range g.bases {
		if _, ok := fhirrest.Rel(b.az.BasePath(), p); !ok {
			continue
		}
		if !b.byHost {
			if byHost {
				// Not reached: every base over a byHost one that r is
				// under is byHost too. Refuse rather than guess.
				return nil
			}
			return b
		}
		if !byHost {
			host, byHost = g.requestHost(r), true
		}
		if host != "" && host == b.host {
			return b
		}
	}
	return nil
}

// bound reports whether grant g may be used under b: its issuer serves
// b, and its "aud" names b as one of that issuer's audiences. Every stage
// that serves a request under b checks it (Handler and AuthenticateOnly
// through authenticate, Authorize and Decide through admits).
func (b *base) bound(g *smartctx.Grant) bool {
	for _, a := range b.auds {
		if a.issuer == g.Issuer() && g.HasAudience(a.url) {
			return true
		}
	}
	return false
}

// boundTo is bound for a token of issuer iss with audiences aud, before
// it is verified.
func (b *base) boundTo(iss string, aud []string) bool {
	for _, a := range b.auds {
		if a.issuer == iss && slices.Contains(aud, a.url) {
			return true
		}
	}
	return false
}

// headWriter answers a HEAD request: it keeps the headers and status and
// drops the body.
type headWriter struct{ http.ResponseWriter }

func (headWriter) Write(p []byte) (int, error) { return len(p), nil }

// fitKeys keeps, of the keys a caller's Keyfunc returned, those whose
// type fits alg (see jwks.Fits); a []byte secret fits the HMAC
// algorithms only, which must be in Config.Tokens.Algorithms to get here.
func fitKeys(k any, alg string) (any, error) {
	fits := func(k any) bool {
		if _, ok := k.([]byte); ok {
			return strings.HasPrefix(alg, "HS")
		}
		return jwks.Fits(k, alg)
	}
	if set, ok := k.(jwt.VerificationKeySet); ok {
		var keep []jwt.VerificationKey
		for _, k := range set.Keys {
			if fits(k) {
				keep = append(keep, k)
			}
		}
		if len(keep) == 0 {
			return nil, jwks.ErrNoKey
		}
		return jwt.VerificationKeySet{Keys: keep}, nil
	}
	if !fits(k) {
		return nil, jwks.ErrNoKey
	}
	return k, nil
}

// Handler returns next protected: CORS (when Config.AllowedOrigins is
// set) → authentication → authorization → the response guard.
//
// A request outside every FHIR base of the Config is answered 404: its
// path is under none, or, where only the host tells bases apart (see
// Config.Issuer.Audiences), its host is none of theirs. Then the bearer token is
// authenticated (401 without error code when there is none, 400
// invalid_request when it is malformed or sent more than one way, 401
// invalid_token when it is not acceptable or not issued for this base by
// this base's issuer), and the FHIR REST request is decided from the
// token's scopes and launch context (403 insufficient_scope, or 404 with
// NotFoundForDenied).
// An allowed request reaches next with the Grant and the Decision on its
// context (smartctx.FromContext, smartctx.DecisionFromContext) and, when
// the query was rewritten, with the rewritten URL. When the decision
// leaves something to enforce, the response guard checks what next writes
// before the client sees it (see Config.FHIR.SkipResponseGuard).
//
// "GET [base]/metadata" is allowed for any valid token. SMART wants the
// CapabilityStatement public: serve it outside the Guard (on its own
// route) if clients call it without a token.
func (g *Guard) Handler(next http.Handler) http.Handler {
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := g.baseOf(r)
		if b == nil {
			g.onError(w, r, errNotFHIR())
			return
		}
		if g.publicMetadata && b.az.IsMetadata(r) {
			b.az.ServeMetadata(w, r, next)
			return
		}
		grant, r, err := g.authenticate(w, r, b)
		if err != nil {
			g.onError(w, r, err)
			return
		}
		if g.auditing() {
			if rec := recordOf(r.Context()); rec != nil {
				rec.grant = grant
			}
		}
		b.az.Serve(w, r, grant, true, next)
	}))
	h = g.audited(h)
	if g.cors != nil {
		h = g.cors(h)
	}
	if g.publicMetadata {
		h = g.metadataPreflight(h)
	}
	return h
}

// metadataPreflight answers a CORS preflight of [base]/metadata for any
// origin: the CapabilityStatement is public (Config.FHIR.MetadataNeedsToken).
func (g *Guard) metadataPreflight(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if b := g.baseOf(r); b != nil {
				probe := *r
				probe.Method = r.Header.Get("Access-Control-Request-Method")
				if b.az.IsMetadata(&probe) {
					hd := w.Header()
					hd.Set("Access-Control-Allow-Origin", "*")
					hd.Set("Access-Control-Allow-Methods", "GET, HEAD")
					if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
						hd.Set("Access-Control-Allow-Headers", rh)
					}
					hd.Set("Access-Control-Max-Age", "600")
					w.WriteHeader(http.StatusNoContent)
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// auditing reports whether requests are reported to Config.Hooks.Audit or
// Config.Hooks.Metrics.
func (g *Guard) auditing() bool { return g.audit != nil || g.metrics != nil }

// AuthenticateOnly returns next behind CORS (when configured) and
// authentication alone: the grant goes on the request context, and no
// FHIR decision is made. Every handler behind it must enforce the scopes
// and the launch context itself, including the patient compartment; use
// it only for endpoints that are not FHIR REST (a custom API that reads
// smartctx.FromContext), or before Authorize in a chain of your own.
func (g *Guard) AuthenticateOnly(next http.Handler) http.Handler {
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		grant, r, err := g.authenticate(w, r, g.baseOf(r))
		if err != nil {
			g.onError(w, r, err)
			return
		}
		if rec := recordOf(r.Context()); rec != nil {
			rec.grant = grant
		}
		next.ServeHTTP(w, r.WithContext(smartctx.NewContext(r.Context(), grant)))
	}))
	h = g.audited(h)
	if g.cors != nil {
		h = g.cors(h)
	}
	return h
}

// Authorize returns next behind authorization and the response guard,
// for a chain that authenticates with AuthenticateOnly and does something
// of its own in between. The grant must be on the request context; a
// request without one is refused with 500, never let through. The base is
// the one r is under when it reaches Authorize (after an
// http.StripPrefix, say), and the grant must be bound to it as Handler
// requires: its "aud" names that base, as an audience of the issuer that
// made it, else 401 invalid_token. A grant naming neither an issuer nor an
// audience, which no token yields (smartctx.NewGrant in a test or a job),
// is tied to no base and is decided as it is.
func (g *Guard) Authorize(next http.Handler) http.Handler {
	return g.audited(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		grant, ok := smartctx.FromContext(r.Context())
		if !ok {
			g.onError(w, r, errNoGrant())
			return
		}
		if rec := recordOf(r.Context()); rec != nil && rec.grant == nil {
			rec.grant = grant
		}
		b := g.baseOf(r)
		if b == nil {
			g.onError(w, r, errNotFHIR())
			return
		}
		if !b.admits(grant) {
			g.onError(w, r, errNotForBase())
			return
		}
		b.az.Serve(w, r, grant, false, next)
	}))
}

// Decide classifies r and decides it for grant g, as Handler would after
// authentication, without calling any handler: for tests of an
// application's own rules, or for non-HTTP callers. Like Authorize, it
// refuses (invalid_token) a grant that is not bound to r's base, unless
// the grant names neither an issuer nor an audience. A body it reads is
// given back to r. For a batch with refused entries it returns the first
// refusal, where Handler forwards the other entries and answers each
// refused one in its place.
func (g *Guard) Decide(ctx context.Context, grant *smartctx.Grant, r *http.Request) (*smartctx.Decision, error) {
	if grant == nil {
		return nil, errNoGrant()
	}
	b := g.baseOf(r)
	if b == nil {
		return nil, errNotFHIR()
	}
	if !b.admits(grant) {
		return nil, errNotForBase()
	}
	d, err := b.az.Decide(ctx, grant, r)
	return d, fromEngine(err)
}

// authenticate extracts and verifies r's token and, when r is under base
// b, checks that the token may be used there, then its DPoP proof (or
// that it needs none). It returns the grant and r, or a copy whose body
// can be read again; the caller puts the grant on the context. w gets the
// response headers of DPoP.
func (g *Guard) authenticate(w http.ResponseWriter, r *http.Request, b *base) (*smartctx.Grant, *http.Request, error) {
	tok, isDPoP, unchecked, r, xerr := g.extract(r)
	if xerr != nil {
		e := *xerr // a copy: the ErrorHandler may keep or change it
		return nil, r, &e
	}
	grant, err := g.verifyCached(r.Context(), tok, b, unchecked)
	if err != nil {
		return nil, r, err
	}
	if b != nil && !b.bound(grant) {
		return nil, r, errNotForBase()
	}
	if err := g.checkDPoP(w, r, b, tok, isDPoP, grant); err != nil {
		return nil, r, err
	}
	return grant, r, nil
}

func errNotForBase() *Error {
	return invalidToken("token not issued for this server", jwt.ErrTokenInvalidAudience)
}

// Errors of token extraction.
var (
	errNoToken       = &Error{Status: http.StatusUnauthorized, Description: "access token required", Err: ErrMissingToken}
	errTwoHeaders    = invalidRequest("more than one Authorization header")
	errMalformed     = invalidRequest("malformed Bearer credentials")
	errTwoMethods    = invalidRequest("access token sent more than one way")
	errQueryToken    = invalidRequest("access_token in the URI query is not supported")
	errFormToken     = invalidRequest("malformed access_token form parameter")
	errBodyTooLarge  = invalidRequest("form body too large")
	errFormBodyOnGET = invalidRequest("access_token in a GET body is not allowed")
)

func invalidRequest(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: desc, Err: ErrInvalidRequest}
}

// extract finds the one access token of r (RFC 6750 §2), and whether it
// came with the DPoP scheme (RFC 9449 §7.1). It returns r, or a copy
// whose body can be read again. unchecked reports that the token, a Bearer
// one of the Authorization header, has not had its characters checked
// (bearer.Valid): verifyCached checks them unless the cache knows the
// token, which saves reading a 1 KB token on every request. Where another
// error could come first, extract checks them itself, so that a malformed
// token is refused first whatever else is wrong.
func (g *Guard) extract(r *http.Request) (tok string, isDPoP, unchecked bool, _ *http.Request, _ *Error) {
	vals := r.Header["Authorization"]
	switch len(vals) {
	case 0:
	case 1:
		t, err := bearer.Cut(vals[0])
		switch {
		case errors.Is(err, bearer.ErrMalformed):
			return "", false, false, r, errMalformed
		case err == nil:
			tok, unchecked = t, true
		default: // another scheme: DPoP, where it is accepted
			t, xerr := g.dpopCredentials(vals[0])
			if xerr != nil {
				return "", false, false, r, xerr
			}
			tok, isDPoP = t, t != ""
		}
	default:
		return "", false, false, r, errTwoHeaders
	}
	mayQuery := mayNameParam(r.URL.RawQuery, "access_token")
	if unchecked && (mayQuery || g.form) {
		if !bearer.Valid(tok) {
			return "", false, false, r, errMalformed
		}
		unchecked = false
	}
	tok, r, xerr := g.otherTokens(r, tok, mayQuery)
	return tok, isDPoP, unchecked && xerr == nil, r, xerr
}

// otherTokens refuses an access_token in the query (mayQuery: the query
// may hold one), and reads one from a form body (Config.FormToken), which
// must come alone. tok is the Authorization header's, or "".
func (g *Guard) otherTokens(r *http.Request, tok string, mayQuery bool) (string, *http.Request, *Error) {
	// The fast path must not miss a percent-encoded name such as
	// %61ccess_token, which Query decodes to access_token.
	if mayQuery {
		if _, ok := r.URL.Query()["access_token"]; ok {
			if tok != "" {
				return "", r, errTwoMethods
			}
			return "", r, errQueryToken
		}
	}
	if g.form {
		ft, r2, err := formToken(r)
		if err != nil {
			return "", r, err
		}
		r = r2
		if ft != "" {
			if tok != "" {
				return "", r, errTwoMethods
			}
			tok = ft
		}
	}
	if tok == "" {
		return "", r, errNoToken
	}
	return tok, r, nil
}

// formToken reads the access_token parameter of an
// application/x-www-form-urlencoded body and puts the body back.
func formToken(r *http.Request) (string, *http.Request, *Error) {
	if r.Body == nil || r.Body == http.NoBody {
		return "", r, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return "", r, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody+1))
	r.Body.Close()
	r2 := new(http.Request)
	*r2 = *r
	r2.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return "", r2, invalidRequest("form body unreadable")
	}
	if len(body) > maxFormBody {
		return "", r2, errBodyTooLarge
	}
	if !bytes.Contains(body, []byte("access_token")) {
		return "", r2, nil
	}
	form, perr := url.ParseQuery(string(body))
	if perr != nil {
		return "", r2, errFormToken
	}
	v, ok := form["access_token"]
	switch {
	case !ok:
		return "", r2, nil
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return "", r2, errFormBodyOnGET
	case len(v) != 1:
		return "", r2, errTwoMethods
	case !bearer.Valid(v[0]):
		return "", r2, errFormToken
	}
	return v[0], r2, nil
}

// Verify checks an access token and returns its grant: a JWT with its
// issuer's keys, an opaque token by introspection (at the only issuer
// that introspects opaque tokens; Handler picks the one of the request's
// base). It does not check which base the token is for (Handler does).
// Errors are *Error of kind ErrInvalidToken, wrapping the cause (such as
// jwt.ErrTokenExpired, or ErrRevoked for a token Config.Tokens.Revocations
// lists), or ErrUnavailable when the token cannot be checked now (no key
// of its issuer held, its introspection endpoint or the Revocations down).
// ctx bounds a JWKS fetch, an introspection call or a revocation check
// the token may cause.
// A DPoP-bound token is refused (invalid_token): its proof belongs to a
// request, which only Handler and AuthenticateOnly see.
func (g *Guard) Verify(ctx context.Context, token string) (*smartctx.Grant, error) {
	grant, err := g.verifyCached(ctx, token, nil, false)
	if _, bound := boundKey(grant); err == nil && bound {
		return nil, errBoundNoProof
	}
	return grant, err
}

// verifyCached is Verify through the cache, then the revocation check
// (Config.Tokens.Revocations), which a cached token passes too. b, when
// not nil, is the base the token is presented to; see verify. unchecked:
// token is a header's whose characters extract left unchecked; a token
// the cache knows passed that check (bearer.Valid) when it was cached,
// and any other is checked first, before every other check, as extract
// would have.
func (g *Guard) verifyCached(ctx context.Context, token string, b *base, unchecked bool) (*smartctx.Grant, error) {
	grant, err := g.verifyOrRecall(ctx, token, b, unchecked)
	if err == nil && g.revocations != nil {
		err = g.checkRevoked(ctx, token, grant, [32]byte{})
	}
	if err != nil {
		return nil, err
	}
	return grant, nil
}

// verifyOrRecall returns the grant of token from the cache, or verifies
// it and caches it; unchecked as for verifyCached.
func (g *Guard) verifyOrRecall(ctx context.Context, token string, b *base, unchecked bool) (*smartctx.Grant, error) {
	if unchecked && (len(token) > g.maxSize || g.cache == nil) && !bearer.Valid(token) {
		e := *errMalformed
		return nil, &e
	}
	if len(token) > g.maxSize {
		return nil, invalidToken("token too large", nil)
	}
	if g.cache == nil {
		grant, _, err := g.verify(ctx, token, b, nil)
		return grant, err
	}
	key := g.cache.mac.key(token)
	now := g.now()
	if grant := g.cache.get(key, now); grant != nil {
		if g.metrics != nil {
			g.metrics.Token("cached")
		}
		return grant, nil
	}
	if unchecked && !bearer.Valid(token) {
		e := *errMalformed
		return nil, &e
	}
	grant, ttl, err := g.verify(ctx, token, b, nil)
	if g.metrics != nil {
		if err != nil {
			g.metrics.Token("refused")
		} else {
			g.metrics.Token("verified")
		}
	}
	if err != nil {
		return nil, err
	}
	if set := grant.Scopes(); set.Len()+set.InvalidLen() <= MaxCachedScopes {
		g.cache.put(key, grant, now, ttl)
	}
	return grant, nil
}

// MaxCachedScopes is the most scopes a token may carry for its grant to be
// cached: the cache is bounded in entries, and a grant holds its parsed
// scopes, so tokens with more (an authorization server's mistake, or an
// unusual client) are verified every time instead of holding much memory.
const MaxCachedScopes = 256

func invalidToken(desc string, err error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: desc, Err: err}
}

// Causes for a token whose "iss" names no configured issuer, or that has
// none (or not a string).
var (
	errUntrusted = fmt.Errorf("%w: no configured issuer", jwt.ErrTokenInvalidIssuer)
	errNoIssuer  = fmt.Errorf("%w: %w: iss", jwt.ErrTokenInvalidIssuer, jwt.ErrTokenRequiredClaimMissing)
)

// verify checks token without the cache, and returns how long its grant
// may be cached (0: Config.Cache.TTL). key, when not nil, is the token's
// cache key.
//
// A token that is not a JWT is introspected by the issuer that
// introspects opaque tokens for b (or, for Verify, the only such issuer),
// and refused as malformed when there is none; a JWT naming an issuer
// whose tokens are all introspected is introspected there.
//
// A JWT is verified with every check that needs no key first (parseJWS,
// then checkJWT): the header, then the issuer (even when only one is
// configured), then the claims (expiry, audience, SMART claims), then,
// when b is not nil, that the token's audience names b for that issuer.
// Only a token that passes them all has its key looked up, so only such a
// token can make the issuer's JWKS be fetched again (for an unknown kid,
// at most once per Config.Keys.UnknownKIDInterval): a forged token for another
// issuer, another base, or past its expiry cannot spend that fetch.
func (g *Guard) verify(ctx context.Context, token string, b *base, key *[32]byte) (*smartctx.Grant, time.Duration, error) {
	intro := func(is *issuer) (*smartctx.Grant, time.Duration, error) {
		if key == nil {
			k := cacheKey(token)
			key = &k
		}
		return is.intro.introspect(ctx, *key, token, b)
	}
	if !looksJWT(token) {
		is := g.opaque
		if b != nil {
			is = b.opaque
		}
		if is == nil {
			return nil, 0, invalidToken("token malformed", jwt.ErrTokenMalformed)
		}
		return intro(is)
	}
	if g.introspectAll {
		if is := g.issuers[unverifiedIssuer(token)]; is != nil && is.tokens == TokensIntrospect {
			return intro(is)
		}
	}
	c, err := g.verifyJWT(ctx, token, b)
	if err != nil {
		var u *jwks.UnavailableError
		if errors.As(err, &u) {
			return nil, 0, unavailable("no signing key of the token's issuer is available yet", u.RetryAfter, err)
		}
		return nil, 0, invalidToken(describe(err), err)
	}
	return smartctx.NewGrant(c.out), 0, nil
}

// verifyJWT verifies a JWT in the order verify's comment gives, and
// returns its checked claims.
func (g *Guard) verifyJWT(ctx context.Context, token string, b *base) (*claims, error) {
	t, pl, err := g.parseJWS(token)
	if err != nil {
		return nil, err
	}
	c, key, err := g.checkJWT(ctx, t, pl, b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", jwt.ErrTokenUnverifiable, err)
	}
	if err := verifySignature(t, key); err != nil {
		return nil, err
	}
	if err := c.readScopes(&c.out); err != nil {
		return nil, fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err)
	}
	return c, nil
}

// checkJWT makes every check of t that needs no key (the header, the
// issuer, the claims, the base), then looks its key up.
func (g *Guard) checkJWT(ctx context.Context, t *jwt.Token, pl *payload, b *base) (*claims, any, error) {
	if err := g.checkHeader(t.Header); err != nil {
		return nil, nil, err
	}
	iss, _ := pl.MapClaims["iss"].(string)
	is := g.issuers[iss]
	switch {
	case iss == "":
		return nil, nil, errNoIssuer
	case is == nil:
		return nil, nil, errUntrusted
	}
	c := &claims{MapClaims: pl.MapClaims, decoded: true, replaced: pl.replaced, names: &is.names, strict: g.strict,
		slashes: is.slashes, deferScopes: true, auds: is.auds, dpop: is.dpop != DPoPOff}
	if err := is.validator.Validate(c); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err)
	}
	if b != nil && !b.boundTo(is.url, c.out.Audience) {
		return nil, nil, fmt.Errorf("%w: not for this base", jwt.ErrTokenInvalidAudience)
	}
	key, err := is.key(ctx, t)
	return c, key, err
}

// unavailable is the error for a request that cannot be decided now.
func unavailable(desc string, retry time.Duration, err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable, Description: desc, RetryAfter: retry, Err: err}
}

// Header errors.
var (
	errTyp  = errors.New("typ header is not an access token's")
	errCrit = errors.New("crit header names an extension this server does not support")
	errCty  = errors.New("nested or typed-content JWTs are not supported")
	errKID  = errors.New("kid header is not a short printable string")
)

// checkHeader applies the header rules that the jwt package does not:
// typ (RFC 9068 §4), crit (RFC 7515 §4.1.11), cty, and a sane kid. The
// jku, x5u, jwk and x5c headers are never read.
func (g *Guard) checkHeader(h map[string]any) error {
	switch typ, ok := h["typ"]; {
	case !ok:
		if g.strict {
			return errTyp
		}
	default:
		s, _ := typ.(string)
		if !typeOK(s, g.strict) {
			return errTyp
		}
	}
	if _, ok := h["crit"]; ok {
		return errCrit
	}
	if _, ok := h["cty"]; ok {
		return errCty
	}
	if kid, ok := h["kid"]; ok {
		s, _ := kid.(string)
		if !jwks.ValidKID(s) {
			return errKID
		}
	}
	return nil
}

func typeOK(typ string, strict bool) bool {
	if strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt") {
		return true
	}
	return !strict && strings.EqualFold(typ, "JWT")
}

// describe returns a short text for the client, free of token contents.
func describe(err error) string {
	var launch launchError
	switch {
	case errors.Is(err, errNoAudience):
		return "token has no audience (aud)"
	case errors.Is(err, errNoIssuer):
		return "token has no issuer (iss)"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token not yet valid"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token malformed"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token not issued for this server"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "untrusted issuer"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwks.ErrNoKey):
		return "token signature not verified"
	case errors.Is(err, errTyp):
		return "not an access token"
	case errors.As(err, &launch):
		return string(launch)
	case errors.Is(err, errClaim):
		return "token claims invalid"
	}
	return "token invalid"
}
