package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// RSA key sizes a proof may use, in bits.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// privateMembers are the JWK members of private and symmetric keys (RFC
// 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2): a proof whose jwk holds one
// is refused (RFC 9449 §4.3, check 7).
var privateMembers = [...]string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// parseJWK reads the jwk header of a proof signed with alg: a public key
// of the type alg needs, in its one canonical encoding (unpadded
// base64url, coordinates of the curve's size, RSA integers without
// leading zeros), so that one key has one thumbprint. It returns the key
// and its RFC 7638 SHA-256 thumbprint.
func parseJWK(raw json.RawMessage, alg string, spec algorithm) (crypto.PublicKey, string, error) {
	var m map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil || m == nil {
		return nil, "", fmt.Errorf("%w: not a JSON object", ErrKey)
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return nil, "", ErrPrivateKey
		}
	}
	if kty, _ := str(m["kty"]); kty != spec.kty {
		return nil, "", errKeyDoesNotFitAlg
	}
	if a, ok := m["alg"]; ok {
		if s, _ := str(a); s != alg {
			return nil, "", fmt.Errorf("%w: its alg is not the proof's", ErrKey)
		}
	}
	if u, ok := m["use"]; ok {
		if s, _ := str(u); s != "sig" {
			return nil, "", fmt.Errorf("%w: its use is not sig", ErrKey)
		}
	}
	switch spec.kty {
	case "EC":
		return ecKey(m, spec.crv)
	case "RSA":
		return rsaKey(m)
	default:
		return okpKey(m, spec.crv)
	}
}

func ecKey(m map[string]json.RawMessage, want string) (crypto.PublicKey, string, error) {
	if crv, _ := str(m["crv"]); crv != want {
		return nil, "", errKeyDoesNotFitAlg
	}
	var curve elliptic.Curve
	var size int
	switch want {
	case "P-256":
		curve, size = elliptic.P256(), 32
	case "P-384":
		curve, size = elliptic.P384(), 48
	default:
		curve, size = elliptic.P521(), 66
	}
	x64, _ := str(m["x"])
	y64, _ := str(m["y"])
	x, err1 := strict.DecodeString(x64)
	y, err2 := strict.DecodeString(y64)
	if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
		return nil, "", fmt.Errorf("%w: x and y must be %d bytes of unpadded base64url", ErrKey, size)
	}
	point := make([]byte, 1+2*size)
	point[0] = 4 // uncompressed (SEC 1 §2.3.3)
	copy(point[1:], x)
	copy(point[1+size:], y)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, "", fmt.Errorf("%w: not a point of %s", ErrKey, want)
	}
	return pub, thumbprint(`{"crv":"`, want, `","kty":"EC","x":"`, x64, `","y":"`, y64, `"}`), nil
}

func rsaKey(m map[string]json.RawMessage) (crypto.PublicKey, string, error) {
	n64, _ := str(m["n"])
	e64, _ := str(m["e"])
	n, err1 := strict.DecodeString(n64)
	e, err2 := strict.DecodeString(e64)
	if err1 != nil || err2 != nil || len(n) == 0 || n[0] == 0 || n[len(n)-1]&1 == 0 || len(e) == 0 || len(e) > 4 || e[0] == 0 {
		return nil, "", fmt.Errorf("%w: n and e must be odd unsigned integers in unpadded base64url, without leading zeros", ErrKey)
	}
	N := new(big.Int).SetBytes(n)
	if bits := N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, "", ErrWeakKey
	}
	var E uint64
	for _, b := range e {
		E = E<<8 | uint64(b)
	}
	if E < 3 || E&1 == 0 || E > 1<<31-1 {
		return nil, "", fmt.Errorf("%w: e must be odd, at least 3", ErrKey)
	}
	return &rsa.PublicKey{N: N, E: int(E)}, thumbprint(`{"e":"`, e64, `","kty":"RSA","n":"`, n64, `"}`), nil
}

func okpKey(m map[string]json.RawMessage, want string) (crypto.PublicKey, string, error) {
	if crv, _ := str(m["crv"]); crv != want {
		return nil, "", errKeyDoesNotFitAlg
	}
	x64, _ := str(m["x"])
	x, err := strict.DecodeString(x64)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return nil, "", fmt.Errorf("%w: x must be %d bytes of unpadded base64url", ErrKey, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(x), thumbprint(`{"crv":"`, want, `","kty":"OKP","x":"`, x64, `"}`), nil
}

// thumbprint returns the unpadded base64url SHA-256 of the concatenation
// of parts: the canonical JSON of a key's required members (RFC 7638 §3),
// which the callers build from canonical member values.
func thumbprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
}

// PublicJWK returns the public JWK members of pub (an *ecdsa.PublicKey on
// P-256, P-384 or P-521, an *rsa.PublicKey or an ed25519.PublicKey), as a
// client puts them in a proof's jwk header, and their RFC 7638 SHA-256
// thumbprint, the cnf.jkt of tokens bound to the key.
func PublicJWK(pub crypto.PublicKey) (map[string]string, string, error) {
	enc := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			return nil, "", err
		}
		size := (len(raw) - 1) / 2
		crv := map[int]string{32: "P-256", 48: "P-384", 66: "P-521"}[size]
		if crv == "" {
			return nil, "", fmt.Errorf("dpop: unsupported curve")
		}
		jwk := map[string]string{"kty": "EC", "crv": crv, "x": enc(raw[1 : 1+size]), "y": enc(raw[1+size:])}
		return jwk, thumbprint(`{"crv":"`, crv, `","kty":"EC","x":"`, jwk["x"], `","y":"`, jwk["y"], `"}`), nil
	case *rsa.PublicKey:
		e := big.NewInt(int64(k.E)).Bytes()
		jwk := map[string]string{"kty": "RSA", "n": enc(k.N.Bytes()), "e": enc(e)}
		return jwk, thumbprint(`{"e":"`, jwk["e"], `","kty":"RSA","n":"`, jwk["n"], `"}`), nil
	case ed25519.PublicKey:
		jwk := map[string]string{"kty": "OKP", "crv": "Ed25519", "x": enc(k)}
		return jwk, thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"`, jwk["x"], `"}`), nil
	}
	return nil, "", fmt.Errorf("dpop: unsupported key type %T", pub)
}
