package middleware_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// countingKey is a Keyfunc that counts how often a signature is checked.
type countingKey struct {
	pub any // the key it returns
	mu  sync.Mutex
	n   int
}

func (c *countingKey) key(*jwt.Token) (any, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.pub, nil
}

func (c *countingKey) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestCacheSkipsVerificationOfRepeatedToken(t *testing.T) {
	is := newIssuer(t)
	k := countingKey{pub: issuerRSAKey(t, is)}
	m := newGuard(t, is, func(c *smartmw.Config) { c.Issuer.Keyfunc, c.Issuer.JWKSURL = k.key, "" })
	tok := sign(t, is, goodClaims(is))
	for range 3 {
		if _, err := m.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if k.count() != 1 {
		t.Errorf("token verified %d times", k.count())
	}
}

func TestCacheOffVerifiesEveryTime(t *testing.T) {
	is := newIssuer(t)
	k := countingKey{pub: issuerRSAKey(t, is)}
	m := newGuard(t, is, func(c *smartmw.Config) { c.Issuer.Keyfunc, c.Issuer.JWKSURL = k.key, ""; c.Cache.Disable = true })
	tok := sign(t, is, goodClaims(is))
	for range 3 {
		if _, err := m.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if k.count() != 3 {
		t.Errorf("token verified %d times, want 3", k.count())
	}
}

// TestCacheRechecksExpiryOnHit: a cached token is refused once expired.
func TestCacheRechecksExpiryOnHit(t *testing.T) {
	is := newIssuer(t)
	now := testNow
	m := newGuard(t, is, func(c *smartmw.Config) { c.Tokens.Now = func() time.Time { return now } })
	c := goodClaims(is)
	c["exp"] = testNow.Add(time.Minute).Unix()
	tok := sign(t, is, c)
	if _, err := m.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	now = testNow.Add(time.Minute)
	if m.CachedGrant(tok, now) != nil {
		t.Error("cache returns a grant at its expiry")
	}
	now = testNow.Add(2 * time.Minute) // beyond exp + leeway
	wantInvalid(t, m, tok, jwt.ErrTokenExpired)
}

func TestCacheEntryLivesAtMostTTL(t *testing.T) {
	is := newIssuer(t)
	k := countingKey{pub: issuerRSAKey(t, is)}
	now := testNow
	m := newGuard(t, is, func(c *smartmw.Config) {
		c.Issuer.Keyfunc, c.Issuer.JWKSURL, c.Cache.TTL, c.Tokens.Now = k.key, "", time.Minute, func() time.Time { return now }
	})
	tok := sign(t, is, goodClaims(is)) // expires in an hour
	m.Verify(context.Background(), tok)
	now = now.Add(59 * time.Second)
	m.Verify(context.Background(), tok)
	if k.count() != 1 {
		t.Fatalf("verified %d times within the TTL", k.count())
	}
	now = now.Add(time.Second)
	m.Verify(context.Background(), tok)
	if k.count() != 2 {
		t.Errorf("verified %d times, want a new verification after the TTL", k.count())
	}
}

func TestCacheNeverHoldsFailures(t *testing.T) {
	is := newIssuer(t)
	k := countingKey{pub: issuerRSAKey(t, is)}
	m := newGuard(t, is, func(c *smartmw.Config) { c.Issuer.Keyfunc, c.Issuer.JWKSURL = k.key, "" })
	tok := sign(t, is, goodClaims(is), smarttest.BadSignature()) // a signature that fails
	for range 2 {
		wantInvalid(t, m, tok)
	}
	if k.count() != 2 || m.CachedTokens() != 0 {
		t.Errorf("failure cached: %d verifications, %d entries", k.count(), m.CachedTokens())
	}
}

func TestCacheConcurrent(t *testing.T) {
	is := newIssuer(t)
	m := newGuard(t, is, func(c *smartmw.Config) { c.Cache.Size = 8 })
	toks := make([]string, 16)
	for i := range toks {
		c := goodClaims(is)
		c["jti"] = fmt.Sprint(i)
		toks[i] = sign(t, is, c)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				tok := toks[(w+i)%len(toks)]
				g, err := m.Verify(context.Background(), tok)
				if err != nil {
					t.Error(err)
					return
				}
				if v, _ := g.Claim("jti"); v != fmt.Sprint((w+i)%len(toks)) {
					t.Errorf("grant of another token: jti %v", v)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestCacheMemoryPerEntry measures what a cached token costs; the figure
// is quoted in the Config doc.
func TestCacheMemoryPerEntry(t *testing.T) {
	is := newIssuer(t)
	if testing.Short() {
		t.Skip("memory measurement")
	}
	m := newGuard(t, is, func(c *smartmw.Config) { c.Cache.Size = 1 << 20 })
	const n = 2000
	toks := make([]string, n)
	for i := range toks {
		c := goodClaims(is)
		c["jti"] = fmt.Sprint("jti-", i)
		c["scope"] = "launch/patient openid fhirUser patient/Patient.rs patient/Observation.rs patient/Condition.rs patient/MedicationRequest.rs patient/AllergyIntolerance.rs patient/Encounter.rs offline_access"
		toks[i] = sign(t, is, c)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, tok := range toks {
		if _, err := m.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	t.Logf("%.0f bytes per cached token (token of %d bytes)", per, len(toks[0]))
	// The README's figure is about 2.9 KiB an entry for a grant of this
	// size; the race detector's shadow memory is not in HeapAlloc.
	const bound = 4 << 10
	if per > bound {
		t.Errorf("%.0f bytes per cached token, more than %d", per, bound)
	}
	runtime.KeepAlive(toks)
	runtime.KeepAlive(m)
}
