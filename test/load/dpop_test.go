package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// dpopRun runs the DPoP phase for d over conns connections, skipping t
// without a redis-server (failing it when SMARTGUARD_REQUIRE_REDIS=1).
func dpopRun(t *testing.T, conns int, d time.Duration, wrap func(smartmw.Store) smartmw.Store) *dpopResult {
	t.Helper()
	res, err := runDPoP(t.Context(), logWriter{t}, conns, d, 1_000_000, wrap)
	if errors.Is(err, errNoRedis) {
		if os.Getenv(requireRedis) == "1" {
			t.Fatalf("%v, and %s=1", err, requireRedis)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	res.report(logWriter{t})
	return res
}

// TestDPoPMixWithRedisAnswersRight runs the DPoP phase briefly (CI runs
// it with the race detector): two replicas recording used proofs in one
// redis-server answer every exchange as RFC 9449 decides, a proof
// replayed to the other replica included, and the replay check's latency
// is measured. Its 1 ms target is reported, not held: a short run on a
// shared machine says little about it.
func TestDPoPMixWithRedisAnswersRight(t *testing.T) {
	res := dpopRun(t, 64, 3*time.Second, nil)
	n, failed := res.total()
	if n == 0 || failed > 0 {
		t.Errorf("%d wrong answers of %d", failed, n)
	}
	for i, c := range res.count {
		if c == 0 {
			t.Errorf("the mix never sent %q", dpopCases[i].name)
		}
	}
	if res.p99 <= 0 || res.probeN == 0 || res.probe99 <= 0 {
		t.Errorf("replay check not measured: p99 %v, probe of %d, p99 %v", res.p99, res.probeN, res.probe99)
	}
}

// forgetfulStore records nothing: every proof is new to it.
type forgetfulStore struct{ smartmw.Store }

func (s forgetfulStore) Add(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	s.Store.Add(ctx, key, ttl) // timed as usual
	return true, nil
}

// TestDPoPMixCatchesAReplayStoreThatForgets: the checks are not vacuous.
// With replay stores that never report a proof used, the replayed proofs
// are accepted, and the mix counts each as a wrong answer; nothing else
// is.
func TestDPoPMixCatchesAReplayStoreThatForgets(t *testing.T) {
	res := dpopRun(t, 8, time.Second, func(s smartmw.Store) smartmw.Store { return forgetfulStore{s} })
	for i, c := range dpopCases {
		replay := strings.Contains(c.name, "replayed")
		switch {
		case res.count[i] == 0:
			t.Errorf("%s: never sent", c.name)
		case replay && res.failed[i] != res.count[i]:
			t.Errorf("%s: %d of %d replays were refused by a store that forgets", c.name, res.count[i]-res.failed[i], res.count[i])
		case !replay && res.failed[i] != 0:
			t.Errorf("%s: %d wrong answers", c.name, res.failed[i])
		}
	}
}
