package middleware

import (
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// parseJWS reads token, a JWS in compact serialization (RFC 7515 §7.1),
// as jwt.Parser's ParseUnverified does, and checks its algorithm as
// jwt.WithValidMethods does: three segments of base64url (strict, with
// the parser's DecodeSegment), a header and a payload that are JSON, an
// "alg" that golang-jwt knows and that Tokens.Algorithms allows. It
// returns the token, its Method, Header and Signature set, for the key
// lookup and the signature check (jwt.SigningMethod.Verify), and its
// decoded claims.
//
// claimsDecoder reads both JSON objects, so that JSON is read once and
// without reflection: through jwt.Parser, encoding/json read the claims
// three times (its check, its skip to the value's end, the decoding) and
// the header by reflection, a tenth of the cost of a token seen the first
// time. A header that is not UTF-8 is refused here; claims that are not
// are refused by claims.Validate, naming the claim error.
func (g *Guard) parseJWS(token string) (*jwt.Token, *payload, error) {
	h64, rest, _ := strings.Cut(token, ".")
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(s64, '.') >= 0 {
		return nil, nil, jwsError(jwt.ErrTokenMalformed, "token contains an invalid number of segments", nil)
	}
	hb, err := g.parser.DecodeSegment(h64)
	if err != nil {
		return nil, nil, jwsError(jwt.ErrTokenMalformed, "could not base64 decode header", err)
	}
	hd := claimsDecoder{data: hb}
	header, err := hd.decode()
	if err != nil || hd.replaced {
		return nil, nil, jwsError(jwt.ErrTokenMalformed, "could not JSON decode header", err)
	}
	pb, err := g.parser.DecodeSegment(p64)
	if err != nil {
		return nil, nil, jwsError(jwt.ErrTokenMalformed, "could not base64 decode claim", err)
	}
	pd := claimsDecoder{data: pb}
	claims, err := pd.decode()
	if err != nil {
		return nil, nil, jwsError(jwt.ErrTokenMalformed, "could not JSON decode claim", err)
	}
	pl := &payload{MapClaims: claims, replaced: pd.replaced}
	alg, ok := header["alg"].(string)
	if !ok {
		return nil, nil, jwsError(jwt.ErrTokenUnverifiable, "signing method (alg) is unspecified", nil)
	}
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		return nil, nil, jwsError(jwt.ErrTokenUnverifiable, "signing method (alg) is unavailable", nil)
	}
	sig, err := g.parser.DecodeSegment(s64)
	if err != nil {
		return nil, nil, jwsError(jwt.ErrTokenMalformed, "could not base64 decode signature", err)
	}
	if !slices.Contains(g.algorithms, method.Alg()) {
		return nil, nil, jwsError(jwt.ErrTokenSignatureInvalid, "token signature is using an unexpected method", nil)
	}
	t := &jwt.Token{Raw: token, Method: method, Header: header, Claims: pl, Signature: sig}
	return t, pl, nil
}

// verifySignature checks t's signature with key, or with each key of a
// jwt.VerificationKeySet until one verifies it, as jwt.Parser does.
func verifySignature(t *jwt.Token, key any) error {
	signed := t.Raw[:strings.LastIndexByte(t.Raw, '.')]
	var err error
	switch k := key.(type) {
	case jwt.VerificationKeySet:
		if len(k.Keys) == 0 {
			return jwsError(jwt.ErrTokenUnverifiable, "keyfunc returned empty verification key set", nil)
		}
		for _, one := range k.Keys {
			if err = t.Method.Verify(signed, t.Signature, one); err == nil {
				return nil
			}
		}
	default:
		err = t.Method.Verify(signed, t.Signature, k)
	}
	if err != nil {
		return jwsError(jwt.ErrTokenSignatureInvalid, "", err)
	}
	return nil
}

// jwsError is an error of kind (one of jwt's ErrToken errors), saying
// what, wrapping cause: what jwt.Parser would have returned.
func jwsError(kind error, what string, cause error) error {
	switch {
	case what == "" && cause == nil:
		return kind
	case what == "":
		return fmt.Errorf("%w: %w", kind, cause)
	case cause == nil:
		return fmt.Errorf("%w: %s", kind, what)
	}
	return fmt.Errorf("%w: %s: %w", kind, what, cause)
}
