package jwks

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
