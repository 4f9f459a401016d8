// Package dpop checks DPoP proofs (RFC 9449) on the resource server: the
// proof JWT of a request's DPoP header against the request's method and
// URL, the access token it comes with and the key that token is bound to.
//
// It is pure: it keeps no state of its own and does no I/O. What needs
// state (the record of used proofs, shared by replicas) is the caller's;
// Proof.ReplayKey and Verifier.Retain say what to record and for how long.
// Server nonces (Nonces) are stateless: an HMAC of a time step.
//
// Every check fails closed: a proof is accepted only when each of the
// checks of RFC 9449 §4.3 passed, and each refusal is one of the errors
// below, which say why.
package dpop

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// MaxSize bounds the length of a proof in bytes. A proof holds a public
// key, so one with an 8192-bit RSA key stays well under it.
const MaxSize = 8 << 10

// MaxJTILength bounds the length of a proof's jti in bytes (RFC 9449
// §11.1: servers should reject unnecessarily large values).
const MaxJTILength = 256

// Reasons a proof is refused. Verify wraps exactly one of them.
var (
	ErrTooLarge         = errors.New("dpop: proof too large")
	ErrMalformed        = errors.New("dpop: proof is not one well-formed JWT")
	ErrType             = errors.New("dpop: typ is not dpop+jwt")
	ErrAlgorithm        = errors.New("dpop: alg is not an accepted asymmetric algorithm")
	ErrCritical         = errors.New("dpop: crit names an extension this server does not support")
	ErrKey              = errors.New("dpop: jwk is not a usable public key for alg")
	ErrPrivateKey       = errors.New("dpop: jwk holds a private key")
	ErrWeakKey          = errors.New("dpop: jwk is an RSA key shorter than 2048 bits (or longer than 8192)")
	ErrSignature        = errors.New("dpop: signature does not verify with jwk")
	ErrClaims           = errors.New("dpop: a required claim (jti, htm, htu, iat, ath) is missing or of the wrong type")
	ErrJTI              = errors.New("dpop: jti too long")
	ErrMethod           = errors.New("dpop: htm is not the request's method")
	ErrURL              = errors.New("dpop: htu is not the request's URL")
	ErrStale            = errors.New("dpop: iat too old")
	ErrFuture           = errors.New("dpop: iat in the future")
	ErrAccessTokenHash  = errors.New("dpop: ath is not the hash of the access token")
	ErrBinding          = errors.New("dpop: the proof's key is not the key the access token is bound to")
	errNoBinding        = fmt.Errorf("%w: no key thumbprint to compare with", ErrBinding)
	errNoAccessToken    = fmt.Errorf("%w: no access token to compare ath with", ErrAccessTokenHash)
	errNotObject        = fmt.Errorf("%w: header or claims are not a JSON object", ErrMalformed)
	errNotUTF8          = fmt.Errorf("%w: header or claims are not UTF-8", ErrMalformed)
	errEncoding         = fmt.Errorf("%w: a part is not unpadded base64url", ErrMalformed)
	errNoJWK            = fmt.Errorf("%w: no jwk header", ErrKey)
	errKeyDoesNotFitAlg = fmt.Errorf("%w: kty or crv does not fit alg", ErrKey)
)

// algorithm is an accepted proof algorithm: its jwt signing method and
// the key it needs.
type algorithm struct {
	method   jwt.SigningMethod
	kty, crv string
}

// algorithms are the asymmetric JWS algorithms a proof may use (RFC 9449
// §4.2: not none, not a MAC). "Ed25519" is the fully-specified name of
// EdDSA with Ed25519 (RFC 9864), which some clients send.
var algorithms = map[string]algorithm{
	"ES256":   {jwt.SigningMethodES256, "EC", "P-256"},
	"ES384":   {jwt.SigningMethodES384, "EC", "P-384"},
	"ES512":   {jwt.SigningMethodES512, "EC", "P-521"},
	"RS256":   {jwt.SigningMethodRS256, "RSA", ""},
	"RS384":   {jwt.SigningMethodRS384, "RSA", ""},
	"RS512":   {jwt.SigningMethodRS512, "RSA", ""},
	"PS256":   {jwt.SigningMethodPS256, "RSA", ""},
	"PS384":   {jwt.SigningMethodPS384, "RSA", ""},
	"PS512":   {jwt.SigningMethodPS512, "RSA", ""},
	"EdDSA":   {jwt.SigningMethodEdDSA, "OKP", "Ed25519"},
	"Ed25519": {jwt.SigningMethodEdDSA, "OKP", "Ed25519"},
}

// Supported reports whether alg is an asymmetric JWS algorithm this
// package can check proofs of.
func Supported(alg string) bool {
	_, ok := algorithms[alg]
	return ok
}

// Options configure a Verifier.
type Options struct {
	// Algorithms are the accepted proof algorithms; each must be
	// Supported. Required.
	Algorithms []string
	// MaxAge is how long after its iat a proof is accepted. Required.
	MaxAge time.Duration
	// Leeway is the clock skew allowed both ways: a proof is accepted
	// from Leeway before its iat until MaxAge + Leeway after it.
	Leeway time.Duration
}

// Verifier checks proofs. It is immutable and safe for concurrent use.
type Verifier struct {
	algs           map[string]algorithm
	maxAge, leeway time.Duration
}

// NewVerifier returns a Verifier, or an error for Options it cannot
// work with.
func NewVerifier(o Options) (*Verifier, error) {
	if len(o.Algorithms) == 0 {
		return nil, errors.New("dpop: no algorithm")
	}
	if o.MaxAge <= 0 || o.Leeway < 0 {
		return nil, errors.New("dpop: MaxAge must be positive and Leeway not negative")
	}
	v := &Verifier{algs: make(map[string]algorithm, len(o.Algorithms)), maxAge: o.MaxAge, leeway: o.Leeway}
	for _, a := range o.Algorithms {
		spec, ok := algorithms[a]
		if !ok {
			return nil, fmt.Errorf("dpop: algorithm %q is not supported", a)
		}
		v.algs[a] = spec
	}
	return v, nil
}

// Request is what a proof is checked against.
type Request struct {
	// Method is the request's method, compared exactly with htm.
	Method string
	// URL is the request's URL as the client addressed it, normalised
	// (see Base.URL, NormalizeURL), without query or fragment: htu,
	// normalised the same way, must equal it.
	URL string
	// AccessToken is the access token the proof comes with: ath must be
	// its hash. Required.
	AccessToken string
	// Thumbprint is the RFC 7638 SHA-256 thumbprint of the key the access
	// token is bound to (its cnf.jkt): the proof's jwk must have it.
	// Required.
	Thumbprint string
	// Now is the current time.
	Now time.Time
}

// Proof is what a verified proof says.
type Proof struct {
	// JTI is the proof's unique identifier.
	JTI string
	// Nonce is its nonce claim, "" when it has none.
	Nonce string
	// Thumbprint is the RFC 7638 SHA-256 thumbprint of its key.
	Thumbprint string
	// Method and URL are htm and htu, htu normalised.
	Method, URL string
	// IssuedAt is its iat.
	IssuedAt time.Time
}

// ReplayKey returns the key under which the proof is recorded to refuse a
// second use: a hash of its key's thumbprint, method, URL and jti (RFC
// 9449 §11.1), so that the record is small whatever the jti's size, and a
// client's jti cannot collide with another client's.
func (p Proof) ReplayKey() string {
	const prefix = "dpop:jti:"
	var buf [512]byte
	b := buf[:0]
	for _, s := range [...]string{p.Thumbprint, p.Method, p.URL, p.JTI} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	sum := sha256.Sum256(b)
	var key [len(prefix) + 43]byte
	copy(key[:], prefix)
	base64.RawURLEncoding.Encode(key[len(prefix):], sum[:])
	return string(key[:])
}

// Retain returns how long, from now, p must be remembered: until no copy
// of it can be accepted any more, on this server (its iat + MaxAge +
// Leeway) or on another whose clock is up to Leeway behind, plus a second
// for rounding.
func (v *Verifier) Retain(p Proof, now time.Time) time.Duration {
	return max(p.IssuedAt.Add(v.maxAge+2*v.leeway).Sub(now), 0) + time.Second
}

// Algorithms returns the accepted algorithms, in no particular order.
func (v *Verifier) Algorithms() []string {
	out := make([]string, 0, len(v.algs))
	for a := range v.algs {
		out = append(out, a)
	}
	return out
}

var strict = base64.RawURLEncoding.Strict()

// Verify checks proof, the value of a request's one DPoP header, against
// req: the checks of RFC 9449 §4.3, and the binding of §6 and §7. The
// cheap checks come first, the signature last, so that a forged proof
// costs little. The error wraps exactly one of the Err values of this
// package.
func (v *Verifier) Verify(proof string, req Request) (Proof, error) {
	if len(proof) > MaxSize {
		return Proof{}, ErrTooLarge
	}
	if req.AccessToken == "" {
		return Proof{}, errNoAccessToken
	}
	if req.Thumbprint == "" {
		return Proof{}, errNoBinding
	}
	d, err := decodeProof(proof)
	if err != nil {
		return Proof{}, err
	}
	spec, key, thumb, err := v.header(d.hdr)
	if err != nil {
		return Proof{}, err
	}
	p, err := v.claims(d.cl, req)
	if err != nil {
		return Proof{}, err
	}
	if subtle.ConstantTimeCompare([]byte(thumb), []byte(req.Thumbprint)) != 1 {
		return Proof{}, ErrBinding
	}
	// The signature, with the proof's own key.
	if err := spec.method.Verify(d.signed, d.sig, key); err != nil {
		return Proof{}, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	p.Thumbprint = thumb
	return p, nil
}

// decoded is a proof cut into its parts: the header and claims as JSON
// members, the signed bytes and the signature.
type decoded struct {
	hdr, cl map[string]json.RawMessage
	signed  string
	sig     []byte
}

// decodeProof cuts a compact JWS into its parts: three base64url
// segments, strictly encoded, whose first two are UTF-8 JSON objects.
func decodeProof(proof string) (decoded, error) {
	var d decoded
	h64, rest, ok1 := strings.Cut(proof, ".")
	c64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || h64 == "" || c64 == "" || s64 == "" || strings.IndexByte(s64, '.') >= 0 {
		return d, ErrMalformed
	}
	hb, err1 := strict.DecodeString(h64)
	cb, err2 := strict.DecodeString(c64)
	sig, err3 := strict.DecodeString(s64)
	if err1 != nil || err2 != nil || err3 != nil {
		return d, errEncoding
	}
	if !utf8.Valid(hb) || !utf8.Valid(cb) { // RFC 8725 §3.7
		return d, errNotUTF8
	}
	if json.Unmarshal(hb, &d.hdr) != nil || d.hdr == nil || json.Unmarshal(cb, &d.cl) != nil || d.cl == nil {
		return d, errNotObject
	}
	d.signed, d.sig = proof[:len(h64)+1+len(c64)], sig
	return d, nil
}

// header checks the proof's header (typ, alg, crit, jwk) and returns the
// algorithm, the public key and its RFC 7638 thumbprint.
func (v *Verifier) header(hdr map[string]json.RawMessage) (spec algorithm, key any, thumb string, err error) {
	if typ, ok := str(hdr["typ"]); !ok || !strings.EqualFold(typ, "dpop+jwt") && !strings.EqualFold(typ, "application/dpop+jwt") {
		return spec, nil, "", ErrType
	}
	alg, _ := str(hdr["alg"])
	spec, ok := v.algs[alg]
	if !ok {
		return spec, nil, "", ErrAlgorithm
	}
	if _, ok := hdr["crit"]; ok {
		return spec, nil, "", ErrCritical
	}
	raw, ok := hdr["jwk"]
	if !ok {
		return spec, nil, "", errNoJWK
	}
	key, thumb, err = parseJWK(raw, alg, spec)
	return spec, key, thumb, err
}

// claims checks the proof's claims against req: jti, htm, htu, iat
// within the window, ath the hash of the access token, and a nonce's
// type when there is one.
func (v *Verifier) claims(cl map[string]json.RawMessage, req Request) (Proof, error) {
	jti, ok1 := str(cl["jti"])
	htm, ok2 := str(cl["htm"])
	htu, ok3 := str(cl["htu"])
	iat, ok4 := number(cl["iat"])
	ath, ok5 := str(cl["ath"])
	nonce, ok6 := str(cl["nonce"])
	if _, present := cl["nonce"]; !present {
		ok6 = true
	}
	if !ok1 || jti == "" || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return Proof{}, ErrClaims
	}
	if len(jti) > MaxJTILength {
		return Proof{}, ErrJTI
	}
	if htm != req.Method {
		return Proof{}, ErrMethod
	}
	u, err := NormalizeURL(htu)
	if err != nil {
		return Proof{}, fmt.Errorf("%w: %w", ErrURL, err)
	}
	if u != req.URL {
		return Proof{}, ErrURL
	}
	now := float64(req.Now.UnixNano()) / 1e9
	switch {
	case iat > now+v.leeway.Seconds():
		return Proof{}, ErrFuture
	case iat < now-(v.maxAge+v.leeway).Seconds():
		return Proof{}, ErrStale
	}
	if !hashEquals(ath, req.AccessToken) {
		return Proof{}, ErrAccessTokenHash
	}
	sec, frac := math.Modf(iat)
	return Proof{JTI: jti, Nonce: nonce, Method: htm, URL: u, IssuedAt: time.Unix(int64(sec), int64(frac*1e9))}, nil
}

// AccessTokenHash returns the ath of a proof for token: the unpadded
// base64url SHA-256 of its ASCII bytes (RFC 9449 §4.2).
func AccessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// hashEquals reports, in constant time, whether ath is the hash of token.
func hashEquals(ath, token string) bool {
	sum := sha256.Sum256([]byte(token))
	var want [43]byte
	base64.RawURLEncoding.Encode(want[:], sum[:])
	return subtle.ConstantTimeCompare([]byte(ath), want[:]) == 1
}

// str returns the JSON string raw, which json.Unmarshal has validated as
// part of a document; false when raw is absent or not a string.
func str(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return string(inner), true
}

// number returns the JSON number raw; false when raw is absent or not a
// number.
func number(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
