package middleware

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartctx "github.com/smartguard/smartguard/context"
)

// maxIntrospections bounds the calls in flight to one introspection
// endpoint: random opaque tokens each cost a call (they cannot be told
// from real ones without asking), and a flood of them must not become a
// flood at the authorization server. Beyond it requests get 503.
const maxIntrospections = 64

// introspectionRetry is the Retry-After of a 503 caused by an
// introspection endpoint.
const introspectionRetry = 5 * time.Second

// introspector asks one issuer's introspection endpoint about opaque
// tokens (RFC 7662).
type introspector struct {
	is       *issuer
	endpoint string
	client   *http.Client
	cfg      Introspection
	auds     []string // the issuer's audiences
	leeway   time.Duration
	now      func() time.Time
	sem      chan struct{}
	flight   flight
	outage   outageLog
	shared   *sharedAnswers // nil without Introspection.Store
}

// newIntrospector returns the introspector of issuer is, configured by c
// (whose defaults are set), discovering the endpoint from meta when c has
// none.
func newIntrospector(is *issuer, c *Issuer, endpoint string, client *http.Client, cfg *Config) *introspector {
	cl := *client
	cl.Timeout = c.Introspection.Timeout
	// Credentials and tokens are never sent to a URL the configuration
	// did not name.
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &introspector{
		is:       is,
		endpoint: endpoint,
		client:   &cl,
		cfg:      c.Introspection,
		auds:     append([]string{c.Audience}, c.Audiences...),
		leeway:   cfg.Tokens.Leeway,
		now:      cfg.Tokens.Now,
		sem:      make(chan struct{}, maxIntrospections),
		flight:   flight{calls: map[[32]byte]*flightCall{}},
		outage:   outageLog{log: cfg.Hooks.Logger.With("issuer", c.URL, "endpoint", endpoint), what: "introspection endpoint"},
		shared:   newSharedAnswers(c, cfg),
	}
}

// introspect returns the grant of token, asking the endpoint unless a
// call for the same token is under way, and how long the grant may be
// cached. b, when not nil, is the base the token is presented to.
func (in *introspector) introspect(ctx context.Context, key [32]byte, token string, b *base) (*smartctx.Grant, time.Duration, error) {
	g, ttl, err := in.flight.do(ctx, key, func(ctx context.Context) (*smartctx.Grant, time.Duration, error) {
		// The bound covers the read of the shared answers too: random
		// tokens must not pile up on a slow Store either.
		select {
		case in.sem <- struct{}{}:
			defer func() { <-in.sem }()
		default:
			return nil, 0, unavailable("too many token introspections in flight", introspectionRetry, errors.New("introspection: concurrency bound reached"))
		}
		if in.shared != nil {
			if g, ttl := in.shared.recall(ctx, in, token); g != nil {
				return g, ttl, nil
			}
		}
		answer, g, err := in.call(ctx, token)
		if err == nil && in.shared != nil {
			in.shared.keep(ctx, token, answer, g)
		}
		return g, in.cfg.CacheTTL, err
	})
	if err != nil {
		return nil, 0, err
	}
	if b != nil && !b.boundTo(in.is.url, g.Audience()) {
		return nil, 0, errNotForBase()
	}
	return g, ttl, nil
}

// call makes one introspection request and checks the answer; it returns
// the answer and its grant. The caller holds a place of in.sem.
func (in *introspector) call(ctx context.Context, token string) (map[string]any, *smartctx.Grant, error) {
	ctx, cancel := context.WithTimeout(ctx, in.cfg.Timeout)
	defer cancel()
	answer, err := in.post(ctx, token)
	if err != nil {
		in.outage.fail(err)
		return nil, nil, unavailable("the authorization server could not be asked about the token", introspectionRetry, err)
	}
	in.outage.ok()
	g, err := in.check(answer)
	return answer, g, err
}

// post sends token to the endpoint and returns the decoded answer.
func (in *introspector) post(ctx context.Context, token string) (map[string]any, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	var bearer string
	switch in.cfg.Auth {
	case IntrospectionClientSecretPost:
		form.Set("client_id", in.cfg.ClientID)
		form.Set("client_secret", in.cfg.ClientSecret)
	case IntrospectionBearer:
		t, err := in.cfg.BearerToken(ctx)
		if err != nil {
			return nil, fmt.Errorf("introspection: getting the bearer token: %w", err)
		}
		bearer = t
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	switch in.cfg.Auth {
	case IntrospectionClientSecretBasic:
		// RFC 6749 §2.3.1: both are form-encoded before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(in.cfg.ClientID), url.QueryEscape(in.cfg.ClientSecret))
	case IntrospectionBearer:
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("introspection: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("introspection: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("introspection: reading the answer: %w", err)
	}
	var answer map[string]any
	if err := json.Unmarshal(body, &answer); err != nil || answer == nil {
		// Never repaired: SMART's own example answer has a trailing comma.
		return nil, fmt.Errorf("introspection: the answer is not a JSON object: %w", err)
	}
	return answer, nil
}

// Errors of introspection answers.
var (
	errInactive  = errors.New("introspection: token not active")
	errNotAccess = errors.New("introspection: not an access token")
	errNoAudIntr = fmt.Errorf("%w: the introspection answer has no audience (aud)", jwt.ErrTokenInvalidAudience)
)

// check turns an answer into a grant: the token must be active, unexpired,
// an access token of this issuer for one of its audiences, with the claims
// SMART requires of introspection.
func (in *introspector) check(a map[string]any) (*smartctx.Grant, error) {
	if active, _ := a["active"].(bool); !active {
		return nil, invalidToken("token not active", errInactive)
	}
	mc := jwt.MapClaims(a)
	now := in.now()
	if use, ok := a["token_use"]; ok && use != "access_token" {
		return nil, invalidToken("not an access token", errNotAccess)
	}
	if tt, ok := a["token_type"]; ok {
		// Bearer (RFC 6750) for a token that is not bound, DPoP (RFC 9449
		// §6.2) for one bound with cnf, where the issuer accepts DPoP (its
		// proof: see checkDPoP); in any case (RFC 6749 §5.1).
		s, _ := tt.(string)
		_, bound := a["cnf"]
		if !(strings.EqualFold(s, "Bearer") && !bound || strings.EqualFold(s, "DPoP") && bound && in.is.dpop != DPoPOff) {
			return nil, invalidToken("not an access token", fmt.Errorf("%w: token_type %v", errNotAccess, tt))
		}
	}
	exp, err := mc.GetExpirationTime()
	switch {
	case err != nil || exp == nil:
		return nil, invalidToken("token claims invalid", fmt.Errorf("%w: the introspection answer has no exp", errClaim))
	case !now.Before(exp.Add(in.leeway)):
		return nil, invalidToken("token expired", jwt.ErrTokenExpired)
	}
	if nbf, err := mc.GetNotBefore(); err != nil || nbf != nil && now.Add(in.leeway).Before(nbf.Time) {
		return nil, invalidToken("token not yet valid", jwt.ErrTokenNotValidYet)
	}
	if iss, ok := a["iss"]; ok && iss != in.is.url {
		return nil, invalidToken("untrusted issuer", errUntrusted)
	}
	c := &claims{MapClaims: mc, names: &in.is.names, slashes: in.is.slashes, issuer: in.is.url, auds: in.auds, dpop: in.is.dpop != DPoPOff}
	if _, ok := a["aud"]; ok {
		aud, err := mc.GetAudience()
		if err != nil || !slices.ContainsFunc(in.auds, func(s string) bool { return slices.Contains(aud, s) }) {
			return nil, invalidToken("token not issued for this server", jwt.ErrTokenInvalidAudience)
		}
	} else if in.cfg.SkipMissingAudience {
		c.defaultAud = in.auds[:1]
	} else {
		return nil, invalidToken("token not issued for this server", errNoAudIntr)
	}
	if !present(a, in.is.names.ClientID) || !present(a, in.is.names.Scope) {
		return nil, invalidToken("token claims invalid", fmt.Errorf("%w: SMART requires client_id and scope in introspection answers", errClaim))
	}
	if err := c.Validate(); err != nil {
		return nil, invalidToken(describe(err), fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err))
	}
	return smartctx.NewGrant(c.out), nil
}

// looksJWT reports whether token has a JOSE header: two or four dots
// (JWS, JWE) and a first part that is base64url of a JSON object. Other
// tokens are opaque.
func looksJWT(token string) bool {
	dots := strings.Count(token, ".")
	if dots != 2 && dots != 4 {
		return false
	}
	head, _, _ := strings.Cut(token, ".")
	if len(head) < 4 || len(head) > 4096 {
		return false
	}
	var buf [3]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], []byte(head[:4]))
	return err == nil && n == 3 && buf[0] == '{'
}

// unverifiedIssuer reads the "iss" claim of a JWS without verifying it,
// to choose an issuer whose tokens are all introspected.
func unverifiedIssuer(token string) string {
	_, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return ""
	}
	// A map, not a struct: encoding/json matches struct fields ignoring
	// case, and "ISS" must not choose the issuer.
	var v map[string]json.RawMessage
	var iss string
	if json.Unmarshal(b, &v) != nil || json.Unmarshal(v["iss"], &iss) != nil {
		return ""
	}
	return iss
}

// flight makes concurrent calls for one key share one call.
type flight struct {
	mu    sync.Mutex
	calls map[[32]byte]*flightCall
}

type flightCall struct {
	done chan struct{}
	g    *smartctx.Grant
	ttl  time.Duration
	err  error
}

// do runs fn once for all the callers asking for key at the same time,
// and gives each its result (an *Error is copied for each, as an
// ErrorHandler may change it). fn runs without ctx's cancellation, as
// other callers may be waiting for it; a caller whose ctx ends first gets
// a 503.
func (f *flight) do(ctx context.Context, key [32]byte, fn func(context.Context) (*smartctx.Grant, time.Duration, error)) (*smartctx.Grant, time.Duration, error) {
	f.mu.Lock()
	c, ok := f.calls[key]
	if !ok {
		c = &flightCall{done: make(chan struct{})}
		f.calls[key] = c
		go func() {
			c.g, c.ttl, c.err = fn(context.WithoutCancel(ctx))
			f.mu.Lock()
			delete(f.calls, key)
			f.mu.Unlock()
			close(c.done)
		}()
	}
	f.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, 0, unavailable("the request ended before the token could be checked", introspectionRetry, ctx.Err())
	}
	if c.err != nil {
		var e *Error
		if errors.As(c.err, &e) {
			cp := *e
			return nil, 0, &cp
		}
		return nil, 0, c.err
	}
	return c.g, c.ttl, nil
}

// outageLog logs an endpoint's outage once per outageLogInterval, and its
// end once.
type outageLog struct {
	log  *slog.Logger
	what string

	mu      sync.Mutex
	down    bool
	lastLog time.Time
}

func (o *outageLog) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.down || time.Since(o.lastLog) >= outageLogInterval {
		o.log.Error("smartguard: "+o.what+" failed; its tokens are answered 503", "error", err)
		o.lastLog = time.Now()
	}
	o.down = true
}

func (o *outageLog) ok() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		o.log.Info("smartguard: " + o.what + " answers again")
		o.down = false
	}
}
