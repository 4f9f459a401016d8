package smartredis_test

import (
	"log"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
