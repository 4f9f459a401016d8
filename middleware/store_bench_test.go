package middleware

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/smartguard/smartguard/internal/dpop"
)

// replayTarget is the URL of the proofs whose records are benchmarked.
const replayTarget = "https://fhir.example.org/r4/Patient/1"

// steadyKeys are replay keys of distinct proofs, as the Guard records
// them: more than the live records of any case, so that a key comes back
// only long after its record expired.
func steadyKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = dpop.Proof{JTI: strconv.Itoa(i), Thumbprint: "t", Method: "GET", URL: replayTarget}.ReplayKey()
	}
	return keys
}

// BenchmarkReplayRecordSteady is the record of one fresh DPoP proof in
// the memory store at steady state: live records are held, and each
// Add, on a clock that advances by ttl/live, finds one record expired.
// "map" is the baseline: a bare Go map keeping the same live keys (insert
// one, delete the oldest), without lock, clock, expiry or bound. cpu-ns/op
// is the process's CPU time per operation (the garbage collector's
// included), which other processes of a loaded machine change much less
// than ns/op.
//
//	go test -run '^$' -bench BenchmarkReplayRecordSteady -count 6 ./middleware
func BenchmarkReplayRecordSteady(b *testing.B) {
	keys := steadyKeys(1 << 20)
	for _, live := range []int{10_000, 100_000} {
		b.Run("live="+strconv.Itoa(live)+"/map", func(b *testing.B) {
			m := make(map[string]int64)
			for i := range live {
				m[keys[i]] = int64(i)
			}
			i := live
			b.ReportAllocs()
			defer reportCPU(b, processCPU())
			for b.Loop() {
				k := keys[i%len(keys)]
				if _, ok := m[k]; ok {
					b.Fatal("a live key came back")
				}
				m[k] = int64(i)
				delete(m, keys[(i-live)%len(keys)])
				i++
			}
		})
		b.Run("live="+strconv.Itoa(live)+"/store", func(b *testing.B) { steadyStore(b, keys, live, false) })
		b.Run("live="+strconv.Itoa(live)+"/store-late", func(b *testing.B) { steadyStore(b, keys, live, true) })
	}
}

// steadyStore is BenchmarkReplayRecordSteady of the memory store. With
// late, expiries are those of DPoP records: the proof's iat (whole
// seconds, of 120 in the window) plus the window, and one proof in ten
// arrives one or two seconds late, out of expiry order.
func steadyStore(b *testing.B, keys []string, live int, late bool) {
	const step = time.Microsecond
	t := testNow
	s := newMemoryStore(DefaultStoreSize, func() time.Time { return t })
	window := time.Duration(live) * step
	second := window / 120
	ctx := context.Background()
	i := 0
	var elapsed time.Duration // since testNow
	add := func() {
		t, elapsed = t.Add(step), elapsed+step
		ttl := window
		if late {
			iat := elapsed - elapsed%second
			if i%10 == 0 {
				iat -= time.Duration(1+i%20/10) * second
			}
			ttl = iat + window - elapsed
		}
		if ok, err := s.Add(ctx, keys[i%len(keys)], ttl); !ok || err != nil {
			b.Fatal(ok, err)
		}
		i++
	}
	for range 2 * live { // fill, then expire one per Add
		add()
	}
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		add()
	}
	reportCPU(b, cpu)
	if n := s.len(); n > live+live/10 { // expired ones linger until their shard is next used
		b.Fatalf("%d records held, want %d", n, live)
	}
}

// reportCPU reports the process CPU time since start per operation.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}
