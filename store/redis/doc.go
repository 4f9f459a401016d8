// Package smartredis is a middleware.Store kept in Redis, or any server
// that speaks its protocol (Valkey, ...): state that the replicas of a
// resource server share, such as the record of used DPoP proofs, so that
// a proof replayed to another replica is refused.
//
// It is its own Go module, so that the core module does not depend on a
// Redis client (it uses github.com/redis/go-redis/v9). Its directory is
// named after Redis; import it as smartredis:
//
//	import smartredis "github.com/smartguard/smartguard/store/redis"
//
// # Wiring
//
//	opt, err := redis.ParseURL(os.Getenv("REDIS_URL")) // such as redis://127.0.0.1:6379/0
//	if err != nil {
//		log.Fatal(err)
//	}
//	opt.ContextTimeoutEnabled = true // New refuses a client that ignores deadlines
//	client := redis.NewClient(opt)
//	defer client.Close()
//	store, err := smartredis.New(client, smartredis.Options{Prefix: "fhir-prod:"})
//	if err != nil {
//		log.Fatal(err)
//	}
//
// Give the same store (the same server and Prefix) to the Guard of every
// replica.
//
// # Failing closed
//
// Every call is bounded by Options.Timeout and the caller's context. A
// call that fails or times out returns an error, never a guess: Add never
// reports true unless the server recorded the key, and the Guard answers a
// request it cannot check 503 with Retry-After. Records expire on the
// server (PX, rounded up to a whole millisecond), so the server needs no
// persistence and no cleaning; one whose memory is full must refuse writes
// (maxmemory-policy noeviction, Redis's default) rather than evict
// records before they expire.
package smartredis
