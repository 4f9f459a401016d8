package smartredis

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/smartguard/smartguard/middleware"
)

// The Guards of these tests: replicas of one FHIR server, each with a
// redis client and Store of its own on one redis-server.
const (
	issuerURL = "https://auth.example.org"
	audience  = "https://fhir.example.org/r4"
)

var signingKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// token mints a SMART access token with jti.
func token(tb testing.TB, jti string) string {
	tb.Helper()
	now := time.Now()
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": issuerURL, "aud": audience, "sub": "alice", "client_id": "app", "jti": jti,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "patient/Observation.rs", "patient": "123",
	})
	t.Header["typ"] = "at+jwt"
	s, err := t.SignedString(signingKey())
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// replica returns the handler of a Guard after adjust, whose issuer's key
// is signingKey, in front of a handler answering 200.
func replica(tb testing.TB, adjust func(*middleware.Config)) (*middleware.Guard, http.Handler) {
	tb.Helper()
	cfg := middleware.Config{Issuer: middleware.Issuer{URL: issuerURL, Audience: audience,
		Keyfunc: func(*jwt.Token) (any, error) { return &signingKey().PublicKey, nil }}}
	adjust(&cfg)
	g, err := middleware.New(tb.Context(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return g, g.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[]}`))
	}))
}

// search sends GET /r4/Observation?patient=123 with tok to h.
func search(h http.Handler, tok string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=123", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// revocations returns a replica's Revocations on srv.
func revocations(tb testing.TB, srv *server, opts Options) middleware.Revocations {
	return middleware.NewStoreRevocations(srv.newStore(tb, opts), middleware.StoreRevocationsOptions{})
}

// TestRevocationSharedThroughRedis: a token revoked through one replica is
// refused by the other, which had cached it; another token still passes.
func TestRevocationSharedThroughRedis(t *testing.T) {
	srv := startServer(t)
	a, ha := replica(t, func(c *middleware.Config) { c.Tokens.Revocations = revocations(t, srv, Options{}) })
	_, hb := replica(t, func(c *middleware.Config) { c.Tokens.Revocations = revocations(t, srv, Options{}) })
	tok, other := token(t, "r1"), token(t, "r2")
	for _, h := range []http.Handler{ha, hb} {
		if c := search(h, tok).Code; c != http.StatusOK {
			t.Fatalf("before the revocation: %d", c)
		}
	}
	if err := a.Revoke(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	for i, h := range []http.Handler{ha, hb} {
		if c := search(h, tok).Code; c != http.StatusUnauthorized {
			t.Errorf("replica %d after the revocation: %d, want 401", i, c)
		}
		if c := search(h, other).Code; c != http.StatusOK {
			t.Errorf("replica %d, another token: %d, want 200", i, c)
		}
	}
	// The records expire on the server with the token (plus MaxLeeway).
	keys, err := srv.rawClient(t).Keys(t.Context(), DefaultPrefix+"revoked:*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v, %v; want the jti's and the token's", keys, err)
	}
	for _, k := range keys {
		ttl, err := srv.rawClient(t).PTTL(t.Context(), k).Result()
		if err != nil || ttl < time.Hour || ttl > time.Hour+middleware.MaxLeeway+time.Second {
			t.Errorf("%s expires in %v (%v), want the token's hour plus MaxLeeway", k, ttl, err)
		}
	}
}

// TestRevocationsFailClosedOnRedis: a paused redis-server (no answer within
// the timeout) makes every request 503 with Retry-After.
func TestRevocationsFailClosedOnRedis(t *testing.T) {
	srv := startServer(t)
	_, h := replica(t, func(c *middleware.Config) {
		c.Tokens.Revocations = revocations(t, srv, Options{Timeout: 100 * time.Millisecond})
	})
	tok := token(t, "f1")
	if c := search(h, tok).Code; c != http.StatusOK {
		t.Fatalf("before the pause: %d", c)
	}
	if err := srv.rawClient(t).Do(t.Context(), "client", "pause", 1000, "all").Err(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		rec := search(h, tok)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("paused: %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
		}
	}
}

// introspectionEndpoint answers token active (counting its calls) and
// every other token inactive.
func introspectionEndpoint(t *testing.T, tok string, active *atomic.Bool, calls *atomic.Int32) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		answer := map[string]any{"active": false}
		if r.PostFormValue("token") == tok && active.Load() {
			answer = map[string]any{"active": true, "iss": issuerURL, "aud": audience, "client_id": "app",
				"scope": "patient/Observation.rs", "patient": "123", "exp": time.Now().Add(time.Hour).Unix()}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/introspect"
}

// TestIntrospectionSharedThroughRedis: replicas sharing the server ask the
// introspection endpoint once for a token; an entry altered on the server
// is not trusted (the endpoint, which now says inactive, decides).
func TestIntrospectionSharedThroughRedis(t *testing.T) {
	srv := startServer(t)
	const tok = "opaque-token-" + "of-alice"
	var active atomic.Bool
	active.Store(true)
	var calls atomic.Int32
	endpoint := introspectionEndpoint(t, tok, &active, &calls)
	newReplica := func() http.Handler {
		_, h := replica(t, func(c *middleware.Config) {
			c.Issuer.Format = middleware.TokensJWTOrIntrospect
			c.Issuer.Introspection = middleware.Introspection{Endpoint: endpoint, ClientID: "fhir", ClientSecret: "s3cret",
				Store: srv.newStore(t, Options{})}
		})
		return h
	}
	for i := range 3 {
		if c := search(newReplica(), tok).Code; c != http.StatusOK {
			t.Fatalf("replica %d: %d", i, c)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d introspection calls for 3 replicas, want 1", n)
	}
	raw := srv.rawClient(t)
	keys, err := raw.Keys(t.Context(), DefaultPrefix+"introspect:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	ttl, err := raw.PTTL(t.Context(), keys[0]).Result()
	if err != nil || ttl <= 0 || ttl > middleware.DefaultIntrospectionCacheTTL {
		t.Errorf("the entry expires in %v (%v), want within CacheTTL", ttl, err)
	}
	v, err := raw.Get(t.Context(), keys[0]).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	v[len(v)/2] ^= 1
	if err := raw.Set(t.Context(), keys[0], v, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	active.Store(false) // revoked at the authorization server
	if c := search(newReplica(), tok).Code; c != http.StatusUnauthorized {
		t.Errorf("altered entry: %d, want 401 from the endpoint's answer", c)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2: the altered entry must send the replica to the endpoint", n)
	}
}

// TestStoreKeysOnServer: the keys StoreRevocations writes for the longest
// names fit the Store contract (printable, at most 128 bytes).
func TestStoreKeysOnServer(t *testing.T) {
	srv := startServer(t)
	r := revocations(t, srv, Options{})
	long := string(make([]byte, middleware.MaxRevocationNameLen))
	if err := r.Revoke(t.Context(), middleware.TokenRef{Issuer: long, JTI: long, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	keys, err := srv.rawClient(t).Keys(context.Background(), "*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	if k := keys[0]; len(k) > len(DefaultPrefix)+128 || strconv.Quote(k) != `"`+k+`"` {
		t.Errorf("key %q", k)
	}
}
