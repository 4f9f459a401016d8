package smartredis

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkAdd records a new key per operation, as the Guard records each
// fresh DPoP proof, on a loopback redis-server; p99-ns is the 99th
// percentile of one call.
func BenchmarkAdd(b *testing.B) {
	s := startServer(b).newStore(b, Options{})
	ctx := b.Context()
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		start := time.Now()
		ok, err := s.Add(ctx, "dpop:jti:"+strconv.Itoa(i), time.Minute) // b.Loop runs this body once: i is unique
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
		if err != nil || !ok {
			b.Fatalf("Add = %v, %v", ok, err)
		}
		i++
	}
	reportP99(b, lat)
}

// BenchmarkGet reads a value present, as the Guard reads a shared
// introspection answer.
func BenchmarkGet(b *testing.B) {
	s := startServer(b).newStore(b, Options{})
	ctx := b.Context()
	if err := s.Put(ctx, "intro:k", []byte(`{"active":true,"scope":"patient/*.rs","exp":1900000000}`), time.Hour); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		_, ok, err := s.Get(ctx, "intro:k")
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
		if err != nil || !ok {
			b.Fatalf("Get = %v, %v", ok, err)
		}
	}
	reportP99(b, lat)
}

// BenchmarkAddParallel is BenchmarkAdd from GOMAXPROCS goroutines, as
// concurrent requests of one replica.
func BenchmarkAddParallel(b *testing.B) {
	s := startServer(b).newStore(b, Options{})
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		prefix := "dpop:jti:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
		i := 0
		for pb.Next() {
			if ok, err := s.Add(ctx, prefix+strconv.Itoa(i), time.Minute); err != nil || !ok {
				b.Errorf("Add = %v, %v", ok, err)
				return
			}
			i++
		}
	})
}

func reportP99(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
