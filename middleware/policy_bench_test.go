package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// BenchmarkPolicyCriterion measures, in one run, json.Valid over a
// 20-entry searchset and the whole protection of a system/ search whose
// AccessPolicy rule holds the client to a criterion
// ("category=laboratory"), checked by the response guard on every entry.
// The ratio sub-benchmark alternates the two in one loop: the figure to
// quote (target ≤ 1.0).
func BenchmarkPolicyCriterion(b *testing.B) {
	is := smarttest.NewIssuer(b)
	cfg := is.Config()
	p, err := smartmw.LoadAccessPolicy(strings.NewReader(`{"rules":[{"name":"lab-only","clientId":"analytics","grants":[
		{"types":["Observation"],"interactions":"rs","criteria":"category=laboratory"}]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	cfg.AccessPolicy = p
	guard, err := smartmw.New(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	tok := is.Token(b, smarttest.Scopes("system/Observation.rs"), smarttest.ClientID("analytics"))
	body := labSearchset(20, 0)
	if !json.Valid(body) {
		b.Fatal("fixture is not JSON")
	}
	h := guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(body)
	}))
	r := httptest.NewRequest("GET", "/r4/Observation?category=laboratory", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	if w.status != 200 || w.n != len(body) {
		b.Fatalf("the guard answered %d with %d bytes of %d", w.status, w.n, len(body))
	}
	b.Run("json.Valid", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			json.Valid(body)
		}
	})
	b.Run("protection", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			w.reset()
			h.ServeHTTP(w, r)
		}
	})
	b.Run("ratio", func(b *testing.B) {
		var valid, guarded time.Duration
		for b.Loop() {
			t0 := time.Now()
			json.Valid(body)
			t1 := time.Now()
			w.reset()
			h.ServeHTTP(w, r)
			valid, guarded = valid+t1.Sub(t0), guarded+time.Since(t1)
		}
		b.ReportMetric(float64(guarded)/float64(valid), "x-json.Valid")
	})
}
