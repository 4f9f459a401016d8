package devauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// RevocationPath is the RFC 7009 revocation endpoint, relative to the
// issuer URL, that the issuer's metadata advertises once Flows are
// attached; mount RevocationHandler there.
const RevocationPath = "/revoke"

// RevokedToken is an access token the revocation endpoint revoked: what a
// resource server needs to refuse it.
type RevokedToken struct {
	Issuer    string
	JTI       string
	ExpiresAt time.Time
}

// issuedToken is an access token issued from a code or a refresh token.
type issuedToken struct {
	family  string
	expires time.Time
}

// revocationRetry is the Retry-After of a revocation that could not be
// passed on.
const revocationRetry = 5 * time.Second

// Revoke answers a revocation request (RFC 7009 §2.1; the parsed form
// body): nil when the token is revoked, or was not a token of this server
// to revoke (unknown, expired, an id token: RFC 7009 §2.2), else a
// *TokenError.
//
// The client authenticates as at the token endpoint: a public client
// gives its registered client_id (else 401 invalid_client), and may
// revoke only the tokens issued to it (else 400 invalid_request). The
// token_type_hint is accepted and not needed: access tokens are JWTs and
// refresh tokens are not. Revoking a refresh token revokes every refresh
// token of its grant and the unexpired access tokens issued from it
// (RFC 7009 §2.1). An access token is revoked by telling
// FlowsConfig.Revoked; when that fails, the answer is 503
// temporarily_unavailable, and the client must try again.
func (f *Flows) Revoke(ctx context.Context, form url.Values) error {
	for name := range form {
		if len(form[name]) > 1 {
			return badRequest("invalid_request", fmt.Sprintf("parameter %s is repeated", name))
		}
	}
	clientID, token := form.Get("client_id"), form.Get("token")
	if !slices.ContainsFunc(f.cfg.Clients, func(c Client) bool { return c.ID == clientID }) {
		return &TokenError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "client_id is missing or not registered here"}
	}
	if token == "" {
		return badRequest("invalid_request", "token is required")
	}
	if revoked, found, err := f.revokeRefresh(clientID, token); found {
		if err != nil {
			return err
		}
		return f.tell(ctx, revoked)
	}
	at, err := f.accessToken(token)
	switch {
	case err != nil:
		return nil // not a token of this server, or expired: nothing to revoke
	case at.client != clientID:
		return badRequest("invalid_request", "the token was not issued to this client")
	case f.cfg.Revoked == nil:
		return badRequest("unsupported_token_type", "this server cannot revoke its access tokens (JWTs)")
	}
	return f.tell(ctx, []RevokedToken{at.RevokedToken})
}

// revokeRefresh revokes the grant of the refresh token rt of client, and
// returns the unexpired access tokens issued from it; found is false when
// rt is not a refresh token of this server. The grant's refresh tokens
// are kept, marked revoked, until they expire, and the access tokens are
// returned again when rt is revoked again: a revocation whose access
// tokens could not be passed on (503) can be asked again.
func (f *Flows) revokeRefresh(client, rt string) (revoked []RevokedToken, found bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweep()
	t, ok := f.refresh[rt]
	if !ok {
		return nil, false, nil
	}
	if t.client != client {
		return nil, true, badRequest("invalid_request", "the token was not issued to this client")
	}
	for _, v := range f.refresh {
		if v.family == t.family {
			v.revoked = true
		}
	}
	for jti, it := range f.issued {
		if it.family == t.family {
			revoked = append(revoked, RevokedToken{Issuer: f.iss.URL(), JTI: jti, ExpiresAt: it.expires})
		}
	}
	return revoked, true, nil
}

// access is an access token of this server.
type access struct {
	RevokedToken
	client string
}

// accessToken verifies token as an access token of this server, unexpired.
func (f *Flows) accessToken(token string) (access, error) {
	claims := jwt.MapClaims{}
	t, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return f.iss.PublicKey(), nil },
		jwt.WithValidMethods([]string{f.iss.Algorithm()}), jwt.WithIssuer(f.iss.URL()),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(f.cfg.Now))
	if err != nil {
		return access{}, err
	}
	jti, _ := claims["jti"].(string)
	client, _ := claims["client_id"].(string)
	exp, _ := claims.GetExpirationTime()
	if typ, _ := t.Header["typ"].(string); typ != "at+jwt" || jti == "" || exp == nil {
		return access{}, errors.New("devauth: not an access token") // an id token, say
	}
	return access{RevokedToken: RevokedToken{Issuer: f.iss.URL(), JTI: jti, ExpiresAt: exp.Time}, client: client}, nil
}

// tell passes the revoked access tokens on to FlowsConfig.Revoked.
func (f *Flows) tell(ctx context.Context, revoked []RevokedToken) error {
	if f.cfg.Revoked == nil {
		return nil
	}
	var errs []error
	for _, r := range revoked {
		errs = append(errs, f.cfg.Revoked(ctx, r))
	}
	if err := errors.Join(errs...); err != nil {
		return &TokenError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
			Description: "the revocation could not be passed on to the resource server: try again"}
	}
	return nil
}

// RevocationHandler serves the revocation endpoint (RFC 7009): 200 with
// no body when the token is revoked or there was nothing to revoke, else
// an error response as the token endpoint's, with Retry-After on a 503.
func (f *Flows) RevocationHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			writeTokenJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "the body must be application/x-www-form-urlencoded"})
			return
		}
		var te *TokenError
		if err := f.Revoke(r.Context(), r.PostForm); errors.As(err, &te) {
			if te.Status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", fmt.Sprint(int(revocationRetry/time.Second)))
			}
			writeTokenJSON(w, te.Status, map[string]any{"error": te.Code, "error_description": te.Description})
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	})
}
