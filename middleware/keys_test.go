package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// newFromAS returns a Middleware that gets its keys from as, discovering
// them unless adjust sets JWKSURL.
func newFromAS(t *testing.T, as *fakeAS, adjust func(*smartmw.Config)) *smartmw.Guard {
	t.Helper()
	return newGuard(t, as, func(c *smartmw.Config) {
		c.Hooks.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if adjust != nil {
			adjust(c)
		}
	})
}

func asToken(t *testing.T, as *fakeAS, method jwt.SigningMethod, key any, hdr map[string]any) string {
	return forge(t, method, key, goodClaims(as), hdr)
}

func TestDiscoversOpenIDConfiguration(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
	m := newFromAS(t, as, nil)
	if _, err := m.Verify(context.Background(), asToken(t, as, jwt.SigningMethodRS256, rsaKey(), nil)); err != nil {
		t.Fatal(err)
	}
}

func TestDiscoversRFC8414Metadata(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
	as.oidc, as.rfc8414 = false, true
	m := newFromAS(t, as, nil)
	if _, err := m.Verify(context.Background(), asToken(t, as, jwt.SigningMethodRS256, rsaKey(), nil)); err != nil {
		t.Fatal(err)
	}
}

func TestRejectsMetadataOfAnotherIssuer(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
	as.metaIss = "https://evil.example.org"
	_, err := smartmw.New(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{
		URL:      as.issuer(),
		Audience: testAudience,
	}})
	if err == nil {
		t.Fatal("New trusted metadata naming another issuer")
	}
}

// TestRejectsKeyWithOtherAlg: a JWK marked "alg":"RS256" cannot verify a
// PS256 token, though the key would do it (RFC 8725 §3.1: one algorithm
// per key).
func TestRejectsKeyWithOtherAlg(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "k1", map[string]any{"alg": "RS256"}))
	m := newFromAS(t, as, nil)
	if _, err := m.Verify(context.Background(), asToken(t, as, jwt.SigningMethodRS256, rsaKey(), nil)); err != nil {
		t.Fatal(err)
	}
	wantInvalid(t, m, asToken(t, as, jwt.SigningMethodPS256, rsaKey(), nil))
	wantInvalid(t, m, asToken(t, as, jwt.SigningMethodPS256, rsaKey(), map[string]any{"kid": nil}))
}

func TestRejectsEncryptionKey(t *testing.T) {
	for _, extra := range []map[string]any{{"use": "enc"}, {"key_ops": []string{"encrypt"}}} {
		as := newFakeAS(t, jwk(rsaKey(), "k1", extra), jwk(otherRSAKey(), "k2", nil))
		m := newFromAS(t, as, nil)
		wantInvalid(t, m, asToken(t, as, jwt.SigningMethodRS256, rsaKey(), nil))
	}
}

func TestRejectsKeyOfOtherType(t *testing.T) {
	// An EC key under the kid of an RS256 token, and a P-256 key for ES384.
	as := newFakeAS(t, jwk(ecKey256(), "k1", nil))
	m := newFromAS(t, as, nil)
	wantInvalid(t, m, asToken(t, as, jwt.SigningMethodRS256, rsaKey(), nil))
	wantInvalid(t, m, asToken(t, as, jwt.SigningMethodES384, ecKey384(), nil))
	if _, err := m.Verify(context.Background(), asToken(t, as, jwt.SigningMethodES256, ecKey256(), nil)); err != nil {
		t.Fatal(err)
	}
}

// TestRejectsECDSAPsychicSignature pins CVE-2022-21449: an ECDSA
// signature with r = s = 0 verifies nothing.
func TestRejectsECDSAPsychicSignature(t *testing.T) {
	as := newFakeAS(t, jwk(ecKey256(), "k1", nil))
	m := newFromAS(t, as, nil)
	good := asToken(t, as, jwt.SigningMethodES256, ecKey256(), nil)
	signed := good[:strings.LastIndexByte(good, '.')]
	for _, sig := range [][]byte{make([]byte, 64), append(make([]byte, 32), bytes.Repeat([]byte{1}, 32)...), append(bytes.Repeat([]byte{1}, 32), make([]byte, 32)...)} {
		wantInvalid(t, m, signed+"."+b64(sig), jwt.ErrTokenSignatureInvalid)
	}
}

// TestKeysAreBoundToTheirIssuer: with two trusted issuers, a token naming
// issuer A but signed with issuer B's key is refused, and so is a token
// of A for B's audience.
func TestKeysAreBoundToTheirIssuer(t *testing.T) {
	a := newFakeAS(t, jwk(rsaKey(), "ka", nil))
	b := newFakeAS(t, jwk(otherRSAKey(), "kb", nil))
	const audB = "https://fhir.example.org/tenant-b"
	m := newFromAS(t, a, func(c *smartmw.Config) {
		c.Issuers = []smartmw.Issuer{{URL: b.issuer(), Audience: audB}}
	})
	tokA := forge(t, jwt.SigningMethodRS256, rsaKey(), goodClaims(a), map[string]any{"kid": "ka"})
	cb := goodClaims(b)
	cb["aud"] = audB
	tokB := forge(t, jwt.SigningMethodRS256, otherRSAKey(), cb, map[string]any{"kid": "kb"})
	for _, tok := range []string{tokA, tokB} {
		if _, err := m.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	// B's key, A's name: by kid and without a kid.
	wantInvalid(t, m, forge(t, jwt.SigningMethodRS256, otherRSAKey(), goodClaims(a), map[string]any{"kid": "kb"}))
	wantInvalid(t, m, forge(t, jwt.SigningMethodRS256, otherRSAKey(), goodClaims(a), map[string]any{"kid": nil}))
	// B's token for A's audience.
	wantInvalid(t, m, forge(t, jwt.SigningMethodRS256, otherRSAKey(), goodClaims(b), map[string]any{"kid": "kb"}), jwt.ErrTokenInvalidAudience)
	// The issuer is chosen by the exact claim name.
	cc := goodClaims(a)
	delete(cc, "iss")
	cc["ISS"] = a.issuer()
	wantInvalid(t, m, forge(t, jwt.SigningMethodRS256, rsaKey(), cc, map[string]any{"kid": "ka"}), jwt.ErrTokenInvalidIssuer)
	// An issuer trusted by nobody.
	wantInvalid(t, m, forge(t, jwt.SigningMethodRS256, rsaKey(), withIss(goodClaims(a), "https://evil.example.org"), map[string]any{"kid": "ka"}), jwt.ErrTokenInvalidIssuer)
}

// TestRefreshesOnUnknownKID: after a key rotation the new kid makes the
// JWKS be fetched again, at most once per UnknownKIDInterval.
func TestRefreshesOnUnknownKID(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
	m := newFromAS(t, as, func(c *smartmw.Config) { c.Keys.UnknownKIDInterval = time.Hour })
	hits := as.jwksHits.Load()
	as.setKeys(jwk(rsaKey(), "k1", nil), jwk(otherRSAKey(), "k2", nil))
	tok2 := asToken(t, as, jwt.SigningMethodRS256, otherRSAKey(), map[string]any{"kid": "k2"})
	if _, err := m.Verify(context.Background(), tok2); err != nil {
		t.Fatalf("rotated key not fetched: %v", err)
	}
	if got := as.jwksHits.Load() - hits; got != 1 {
		t.Errorf("JWKS fetched %d times for one unknown kid", got)
	}
	// A flood of unknown kids does not flood the authorization server,
	// and is refused without waiting for the next allowed refresh.
	ctx := context.Background()
	start := time.Now()
	for i := range 5 {
		tok := asToken(t, as, jwt.SigningMethodRS256, otherRSAKey(), map[string]any{"kid": "unknown" + string(rune('a'+i))})
		if _, err := m.Verify(ctx, tok); err == nil {
			t.Fatal("unknown kid accepted")
		}
	}
	if got := as.jwksHits.Load() - hits; got != 1 {
		t.Errorf("JWKS fetched %d times, want no more within the interval", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("unknown kids held for %v", d)
	}
}

// wantUnavailable checks that Verify answers tok with 503: no key held.
func wantUnavailable(t *testing.T, m *smartmw.Guard, tok string) {
	t.Helper()
	g, err := m.Verify(context.Background(), tok)
	var e *smartmw.Error
	if g != nil || !errors.Is(err, smartmw.ErrUnavailable) || !errors.As(err, &e) || e.Status != 503 || e.RetryAfter <= 0 {
		t.Fatalf("Verify = %v, %v; want a 503 ErrUnavailable with RetryAfter", g, err)
	}
}

// TestFirstJWKSFetchFails: New succeeds, tokens are answered 503 (not
// 401: the client is not at fault) until the keys can be fetched, then
// accepted.
func TestFirstJWKSFetchFails(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
	as.failJWKS.Store(true)
	m := newFromAS(t, as, func(c *smartmw.Config) { c.Keys.UnknownKIDInterval = time.Millisecond })
	tok := asToken(t, as, jwt.SigningMethodRS256, rsaKey(), nil)
	wantUnavailable(t, m, tok)
	as.failJWKS.Store(false)
	time.Sleep(5 * time.Millisecond)
	if _, err := m.Verify(context.Background(), tok); err != nil {
		t.Fatalf("keys not fetched once available: %v", err)
	}
}

// TestKeepsKeysWhenRefreshFails: a failing periodic refresh keeps the keys.
func TestKeepsKeysWhenRefreshFails(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
	m := newFromAS(t, as, func(c *smartmw.Config) { c.Keys.RefreshInterval = 5 * time.Millisecond; c.Cache.Disable = true })
	as.failJWKS.Store(true)
	hits := as.jwksHits.Load()
	for as.jwksHits.Load() < hits+2 {
		time.Sleep(time.Millisecond)
	}
	if _, err := m.Verify(context.Background(), asToken(t, as, jwt.SigningMethodRS256, rsaKey(), nil)); err != nil {
		t.Fatalf("keys lost after a failed refresh: %v", err)
	}
}

func TestRejectsOversizedJWKS(t *testing.T) {
	as := newFakeAS(t)
	key, err := json.Marshal(jwk(rsaKey(), "k1", nil))
	if err != nil {
		t.Fatal(err)
	}
	// The key comes first: only the size bound can make this fail.
	as.jwksBytes = []byte(`{"keys":[` + string(key) + `],"pad":"` + strings.Repeat("x", 2<<20) + `"}`)
	m := newFromAS(t, as, nil)
	wantUnavailable(t, m, asToken(t, as, jwt.SigningMethodRS256, rsaKey(), nil))
}

func TestStopsRefreshWhenContextDone(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
	ctx, cancel := context.WithCancel(context.Background())
	_, err := smartmw.New(ctx, smartmw.Config{Issuer: smartmw.Issuer{
		URL:      as.issuer(),
		Audience: testAudience,
	}, Keys: smartmw.KeyOptions{RefreshInterval: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(10 * time.Millisecond)
	n := as.jwksHits.Load()
	time.Sleep(20 * time.Millisecond)
	if got := as.jwksHits.Load(); got != n {
		t.Errorf("JWKS still fetched after ctx was cancelled: %d → %d", n, got)
	}
}

func TestDiscoveryFailureFailsNew(t *testing.T) {
	as := newFakeAS(t)
	as.oidc = false
	_, err := smartmw.New(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{
		URL:      as.issuer(),
		Audience: testAudience,
	}})
	if err == nil || errors.Is(err, smartmw.ErrInvalidToken) {
		t.Fatalf("err = %v", err)
	}
}

// TestKeyfuncKeyMustFitAlg: keys from a caller's Keyfunc are held to the
// same rule as JWKS keys: an HMAC secret verifies HS* tokens only (and
// only when allowed), a public key only its own family.
func TestKeyfuncKeyMustFitAlg(t *testing.T) {
	is := newIssuer(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	m := newGuard(t, is, func(c *smartmw.Config) {
		c.Tokens.Algorithms = []string{"HS256", "ES256"}
		c.Issuer.JWKSURL, c.Issuer.Keyfunc = "", func(*jwt.Token) (any, error) { return secret, nil }
	})
	if _, err := m.Verify(context.Background(), forge(t, jwt.SigningMethodHS256, secret, goodClaims(is), nil)); err != nil {
		t.Fatalf("HS256 with an allowed secret: %v", err)
	}
	m = newGuard(t, is, func(c *smartmw.Config) {
		c.Tokens.Algorithms = []string{"ES256", "RS256"}
		c.Issuer.JWKSURL, c.Issuer.Keyfunc = "", func(*jwt.Token) (any, error) {
			return jwt.VerificationKeySet{Keys: []jwt.VerificationKey{&rsaKey().PublicKey, secret}}, nil
		}
	})
	wantInvalid(t, m, forge(t, jwt.SigningMethodES256, ecKey256(), goodClaims(is), nil))
	if _, err := m.Verify(context.Background(), forge(t, jwt.SigningMethodRS256, rsaKey(), goodClaims(is), nil)); err != nil {
		t.Fatalf("RS256 with the RSA key of the set: %v", err)
	}
}

// TestTokenWithoutKidIsTriedAgainstEachKey: a token without a kid, under
// an issuer publishing two keys that fit its algorithm, verifies with
// either key (the Guard tries each, as jwt.Parser does with a
// VerificationKeySet); signed by neither, or by either under a body it
// did not sign, it is refused as a bad signature.
func TestTokenWithoutKidIsTriedAgainstEachKey(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "ka", nil), jwk(otherRSAKey(), "kb", nil))
	m := newFromAS(t, as, nil)
	noKid := map[string]any{"kid": nil}
	for name, key := range map[string]any{"the first key": rsaKey(), "the second key": otherRSAKey()} {
		t.Run("signed by "+name, func(t *testing.T) {
			if _, err := m.Verify(context.Background(), asToken(t, as, jwt.SigningMethodRS256, key, noKid)); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
	t.Run("signed by neither", func(t *testing.T) {
		third := genRSA()
		wantInvalid(t, m, asToken(t, as, jwt.SigningMethodRS256, third, noKid), jwt.ErrTokenSignatureInvalid)
	})
	t.Run("a signature of another body", func(t *testing.T) {
		signed := asToken(t, as, jwt.SigningMethodRS256, otherRSAKey(), noKid)
		c := goodClaims(as)
		c["patient"] = "other"
		other := forge(t, jwt.SigningMethodRS256, otherRSAKey(), c, noKid)
		spliced := other[:strings.LastIndexByte(other, '.')] + signed[strings.LastIndexByte(signed, '.'):]
		wantInvalid(t, m, spliced, jwt.ErrTokenSignatureInvalid)
	})
}
