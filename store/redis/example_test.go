package smartredis_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	smartmw "github.com/smartguard/smartguard/middleware"
	smartredis "github.com/smartguard/smartguard/store/redis"
)

// TestDocWiring runs the wiring of the package doc and docs/replicas.md
// verbatim (internal/doctest checks it), against a redis-server of its
// own, and uses the store as two replicas would.
func TestDocWiring(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://"+smartredis.StartServer(t)+"/0")

	opt, err := redis.ParseURL(os.Getenv("REDIS_URL")) // such as redis://127.0.0.1:6379/0
	if err != nil {
		log.Fatal(err)
	}
	opt.ContextTimeoutEnabled = true // New refuses a client that ignores deadlines
	client := redis.NewClient(opt)
	defer client.Close()
	store, err := smartredis.New(client, smartredis.Options{Prefix: "fhir-prod:"})
	if err != nil {
		log.Fatal(err)
	}

	replica := redis.NewClient(opt) // another replica, with a client of its own
	defer replica.Close()
	other, err := smartredis.New(replica, smartredis.Options{Prefix: "fhir-prod:"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := store.Add(t.Context(), "dpop:jti:abc", time.Minute); !ok || err != nil {
		t.Fatalf("Add = %v, %v; want true", ok, err)
	}
	if ok, err := other.Add(t.Context(), "dpop:jti:abc", time.Minute); ok || err != nil {
		t.Fatalf("the other replica's Add = %v, %v; want false: the proof was used", ok, err)
	}
	if n, err := client.Exists(t.Context(), "fhir-prod:dpop:jti:abc").Result(); n != 1 || err != nil {
		t.Errorf("EXISTS fhir-prod:dpop:jti:abc = %d, %v", n, err)
	}
}

// TestDocSharedState runs the snippets of docs/replicas.md that share
// revocations and introspection answers verbatim: a token introspected by
// one replica is not introspected again by the other, and revoked through
// one it is refused by both.
func TestDocSharedState(t *testing.T) {
	addr := smartredis.StartServer(t)
	var calls atomic.Int32
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"active":true,"iss":"https://as.example.org","aud":"https://fhir.example.org/r4","client_id":"app",`+
			`"scope":"patient/Observation.rs","patient":"123","exp":%d}`, time.Now().Add(time.Hour).Unix())
	}))
	defer as.Close()
	var replicas []*smartmw.Guard
	for range 2 {
		client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, DisableIdentity: true})
		defer client.Close()
		store, err := smartredis.New(client, smartredis.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := smartmw.Config{Issuer: smartmw.Issuer{URL: "https://as.example.org", Audience: "https://fhir.example.org/r4",
			Format: smartmw.TokensIntrospect, Introspection: smartmw.Introspection{Endpoint: as.URL}}}

		revocations := smartmw.NewStoreRevocations(store, smartmw.StoreRevocationsOptions{})
		cfg.Tokens.Revocations = revocations // the same Store on every replica

		cfg.Issuer.Introspection.Store = store // and StoreTimeout, default 1 s

		guard, err := smartmw.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, guard)
	}
	for _, g := range replicas {
		if _, err := g.Verify(t.Context(), "opaque-token"); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d introspection calls for two replicas, want 1", n)
	}
	if err := replicas[0].Revoke(t.Context(), "opaque-token"); err != nil {
		t.Fatal(err)
	}
	for i, g := range replicas {
		if _, err := g.Verify(t.Context(), "opaque-token"); !errors.Is(err, smartmw.ErrRevoked) {
			t.Errorf("replica %d after the revocation: %v, want ErrRevoked", i, err)
		}
	}
}
