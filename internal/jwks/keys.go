package jwks

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"

	"github.com/MicahParks/jwkset"
)

// Select returns the key of store that may verify a token with header
// alg and kid: the key with that kid (an unknown kid makes store refresh,
// rate-limited), or when kid is "" every fitting key. A key is used only
// when its "alg" (if any) is alg, its "use" (if any) is "sig", its
// "key_ops" (if any) include "verify", and its type fits alg (see Fits).
// kid must already have been checked by ValidKID.
func Select(ctx context.Context, store jwkset.Storage, alg, kid string) ([]any, error) {
	if kid != "" {
		jwk, err := store.KeyRead(ctx, kid)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoKey, err)
		}
		k, ok := usable(jwk, alg)
		if !ok {
			return nil, fmt.Errorf("%w: key %q does not fit %s", ErrNoKey, kid, alg)
		}
		return []any{k}, nil
	}
	all, err := store.KeyReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoKey, err)
	}
	var keys []any
	for _, jwk := range all {
		if k, ok := usable(jwk, alg); ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.Join(ErrNoKey, fmt.Errorf("no key fits %s", alg))
	}
	return keys, nil
}

func usable(jwk jwkset.JWK, alg string) (any, bool) {
	m := jwk.Marshal()
	if m.ALG != "" && string(m.ALG) != alg {
		return nil, false
	}
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, false
	}
	if len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify) {
		return nil, false
	}
	key := jwk.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public()
	}
	return key, Fits(key, alg)
}

// ValidKID reports whether a token's "kid" header may be looked up: 1 to
// MaxKIDLength printable ASCII characters. The kid comes from the token,
// so an attacker chooses it (RFC 8725 §3.10); it is only ever compared
// with the kids of the issuer's own keys.
func ValidKID(kid string) bool {
	if kid == "" || len(kid) > MaxKIDLength {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if c := kid[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
