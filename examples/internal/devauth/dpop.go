package devauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of ProofConfig.
const (
	DefaultProofMaxAge = time.Minute
	DefaultProofLeeway = 30 * time.Second
)

// maxProofSize bounds the DPoP header a token request may carry.
const maxProofSize = 8 << 10

// maxJTI bounds the jti of a proof (RFC 9449 §11.1: refuse large ones).
const maxJTI = 256

// Replays records the proofs the token endpoint accepted, so that each
// is used once: Add reports false for a key already recorded and
// unexpired. A middleware.Store is one (the demo gives it the Store of
// its Guard: memory, or Redis with -redis).
type Replays interface {
	Add(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// ProofConfig configures a ProofChecker.
type ProofConfig struct {
	// TokenEndpoint is the token endpoint's URL as clients address it: the
	// htu of every proof. Required.
	TokenEndpoint string
	// Algorithms are the accepted proof algorithms: ES256, ES384, ES512.
	// Default ["ES256"].
	Algorithms []string
	// MaxAge is how long after its iat a proof is accepted, and Leeway
	// the clock skew allowed both ways. Defaults DefaultProofMaxAge and
	// DefaultProofLeeway.
	MaxAge, Leeway time.Duration
	// Replays records used proofs. Required.
	Replays Replays
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// ProofChecker checks the DPoP proofs (RFC 9449) that clients send to
// the token endpoint to have their tokens bound to a key: the checks of
// RFC 9449 §4.3 that apply there (no access token, so no ath; no nonce:
// this server does not ask for one). It is safe for concurrent use.
type ProofChecker struct {
	cfg ProofConfig
	htu string
}

// curves are the curves of the accepted algorithms.
var curves = map[string]struct {
	crv   string
	curve elliptic.Curve
	size  int
}{
	"ES256": {"P-256", elliptic.P256(), 32},
	"ES384": {"P-384", elliptic.P384(), 48},
	"ES512": {"P-521", elliptic.P521(), 66},
}

// NewProofChecker returns a ProofChecker, or an error for a ProofConfig
// it cannot work with.
func NewProofChecker(cfg ProofConfig) (*ProofChecker, error) {
	htu, err := normalURL(cfg.TokenEndpoint)
	if err != nil {
		return nil, fmt.Errorf("devauth: ProofConfig.TokenEndpoint: %w", err)
	}
	if cfg.Replays == nil {
		return nil, errors.New("devauth: ProofConfig.Replays is required")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{"ES256"}
	}
	for _, a := range cfg.Algorithms {
		if _, ok := curves[a]; !ok {
			return nil, fmt.Errorf("devauth: proof algorithm %q: only ES256, ES384 and ES512", a)
		}
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultProofMaxAge
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultProofLeeway
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &ProofChecker{cfg: cfg, htu: htu}, nil
}

// Algorithms returns the accepted proof algorithms, as the metadata's
// dpop_signing_alg_values_supported lists them.
func (c *ProofChecker) Algorithms() []string { return slices.Clone(c.cfg.Algorithms) }

// normalURL returns u without query and fragment, its scheme and host in
// lower case and its default port dropped: what htu is compared as.
func normalURL(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil {
		return "", errors.New("not an absolute http(s) URL")
	}
	p.Scheme, p.Host = strings.ToLower(p.Scheme), strings.ToLower(p.Host)
	if port := p.Port(); port == "80" && p.Scheme == "http" || port == "443" && p.Scheme == "https" {
		p.Host = p.Hostname()
		if strings.Contains(p.Host, ":") {
			p.Host = "[" + p.Host + "]"
		}
	}
	p.RawQuery, p.Fragment, p.RawFragment, p.ForceQuery = "", "", "", false
	if p.Path == "" {
		p.Path = "/"
	}
	return p.String(), nil
}

func invalidProof(desc string) *TokenError {
	return &TokenError{Status: http.StatusBadRequest, Code: "invalid_dpop_proof", Description: desc}
}

// Check reads the DPoP header of a token request r: "" and nil when r
// has none; the RFC 7638 thumbprint of the proof's key (the jkt the
// tokens are bound to) when the proof passes every check, once; else a
// TokenError: invalid_dpop_proof (400, RFC 9449 §5), or
// temporarily_unavailable (503) when the record of used proofs cannot be
// reached, never a token.
func (c *ProofChecker) Check(r *http.Request) (string, error) {
	vals := r.Header.Values("DPoP")
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1:
		return "", invalidProof("more than one DPoP header")
	case len(vals[0]) > maxProofSize:
		return "", invalidProof("DPoP proof too large")
	}
	var thumb string
	cl := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods(c.cfg.Algorithms), jwt.WithoutClaimsValidation()).
		ParseWithClaims(vals[0], cl, func(t *jwt.Token) (any, error) {
			if t.Header["typ"] != "dpop+jwt" {
				return nil, errors.New("typ is not dpop+jwt")
			}
			if _, ok := t.Header["crit"]; ok {
				return nil, errors.New("crit is not supported")
			}
			key, tp, err := publicKey(t.Header["jwk"], t.Method.Alg())
			thumb = tp
			return key, err
		})
	if err != nil {
		return "", invalidProof("DPoP proof refused: " + err.Error())
	}
	jti, err := c.claims(cl)
	if err != nil {
		return "", invalidProof("DPoP proof refused: " + err.Error())
	}
	ok, err := c.cfg.Replays.Add(r.Context(), replayKey(thumb, jti), c.cfg.MaxAge+2*c.cfg.Leeway+time.Second)
	switch {
	case err != nil:
		return "", &TokenError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "the record of used DPoP proofs cannot be reached"}
	case !ok:
		return "", invalidProof("DPoP proof already used (jti)")
	}
	return thumb, nil
}

// claims checks htm, htu, iat and jti, and returns jti.
func (c *ProofChecker) claims(cl jwt.MapClaims) (string, error) {
	jti, _ := cl["jti"].(string)
	htm, _ := cl["htm"].(string)
	htu, _ := cl["htu"].(string)
	iat, ok := cl["iat"].(float64)
	switch {
	case jti == "" || htm == "" || htu == "" || !ok:
		return "", errors.New("jti, htm, htu or iat missing")
	case len(jti) > maxJTI:
		return "", errors.New("jti too long")
	case htm != http.MethodPost:
		return "", errors.New("htm is not POST")
	}
	if u, err := normalURL(htu); err != nil || u != c.htu {
		return "", errors.New("htu is not this token endpoint")
	}
	now := c.cfg.Now()
	at := time.Unix(0, int64(iat*1e9))
	switch {
	case at.After(now.Add(c.cfg.Leeway)):
		return "", errors.New("iat in the future")
	case at.Before(now.Add(-c.cfg.MaxAge - c.cfg.Leeway)):
		return "", errors.New("iat too old")
	}
	return jti, nil
}

// replayKey is the key under which a proof is recorded: a hash of its
// key's thumbprint and jti, apart from the Guard's records.
func replayKey(thumb, jti string) string {
	var b []byte
	for _, s := range []string{thumb, jti} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	sum := sha256.Sum256(b)
	return "dpop:as:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// publicKey returns the EC public key of a proof's jwk header for alg,
// and its RFC 7638 thumbprint. It refuses a private key, another curve
// than alg's, and coordinates that are not the curve's canonical size or
// not on it.
func publicKey(v any, alg string) (*ecdsa.PublicKey, string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, "", errors.New("no jwk")
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
		if _, ok := m[private]; ok {
			return nil, "", errors.New("jwk holds a private key")
		}
	}
	spec := curves[alg]
	kty, _ := m["kty"].(string)
	crv, _ := m["crv"].(string)
	xs, _ := m["x"].(string)
	ys, _ := m["y"].(string)
	if kty != "EC" || crv != spec.crv {
		return nil, "", fmt.Errorf("jwk is not an EC key on %s", spec.crv)
	}
	strict := base64.RawURLEncoding.Strict()
	x, err1 := strict.DecodeString(xs)
	y, err2 := strict.DecodeString(ys)
	if err1 != nil || err2 != nil || len(x) != spec.size || len(y) != spec.size {
		return nil, "", errors.New("jwk x or y is not a canonical coordinate")
	}
	key, err := ecdsa.ParseUncompressedPublicKey(spec.curve, append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, "", errors.New("jwk is not a point on its curve")
	}
	return key, Thumbprint(crv, xs, ys), nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the EC public key
// with members crv, x and y (base64url, as in its JWK): the cnf.jkt of
// the tokens bound to it.
func Thumbprint(crv, x, y string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, `{"crv":%q,"kty":"EC","x":%q,"y":%q}`, crv, x, y))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
