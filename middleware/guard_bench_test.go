package middleware_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// labSearchset returns a searchset Bundle of n laboratory Observations of
// Patient/123 of about size bytes each (at least about 420: codes, a
// value, references), padded with notes.
func labSearchset(n, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"resourceType":"Bundle","type":"searchset","total":%d,"entry":[`, n)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		var e strings.Builder
		fmt.Fprintf(&e, `{"fullUrl":"https://fhir.example.org/r4/Observation/o123-%d","resource":{"resourceType":"Observation","id":"o123-%d",`+
			`"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],`+
			`"code":{"coding":[{"system":"http://loinc.org","code":"2339-0"}],"text":"Glucose"},"subject":{"reference":"Patient/123"},`+
			`"effectiveDateTime":"2026-11-30T08:%02d:00Z","valueQuantity":{"value":%d.5,"unit":"mg/dL"}`, i, i, i%60, 70+i%50)
		if e.Len() < size-60 {
			e.WriteString(`,"note":[`)
			for j := 0; e.Len() < size-60; j++ {
				if j > 0 {
					e.WriteByte(',')
				}
				fmt.Fprintf(&e, `{"text":"Reviewed by the laboratory; sample %d of run %d within range."}`, j, i)
			}
			e.WriteString(`]`)
		}
		e.WriteString(`},"search":{"mode":"match"}}`)
		b.WriteString(e.String())
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkGuard measures, side by side in one run, json.Valid over a
// searchset (one JSON pass: the floor) and the whole protection of a
// patient/ search answered with it (cached token: authentication,
// authorization and the response guard checking every entry), for 20
// and 100 Observations of about 420 bytes and 100 of about 3 KB; then the
// same under a granular scope (patient/Observation.rs?category=...), each
// entry also matched against the category.
func BenchmarkGuard(b *testing.B) {
	is := smarttest.NewIssuer(b)
	guard := newBenchGuard(b, is)
	const lab = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
	for _, sc := range []struct{ name, scopes, query string }{
		{"", "launch/patient patient/Observation.rs", "patient=123"},
		{"-granular", "launch/patient patient/Observation.rs?category=" + lab, "patient=123&category=" + url.QueryEscape(lab)},
	} {
		tok := is.Token(b, smarttest.Scopes(sc.scopes), smarttest.Patient("123"))
		for _, sz := range []struct {
			name    string
			n, size int
		}{{"20", 20, 0}, {"100", 100, 0}, {"100x3KB", 100, 3000}} {
			body := labSearchset(sz.n, sz.size)
			if !json.Valid(body) {
				b.Fatal("fixture is not JSON")
			}
			benchGuard(b, guard, tok, sc.name, sz.name, sc.query, body)
		}
	}
}

// benchGuard runs BenchmarkGuard's sub-benchmarks for one token and body.
func benchGuard(b *testing.B, guard *smartmw.Guard, tok, kind, size, query string, body []byte) {
	h := guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(body)
	}))
	r := httptest.NewRequest("GET", "/r4/Observation?"+query, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	if w.status != 200 || w.n != len(body) {
		b.Fatalf("the guard answered %d with %d bytes of %d", w.status, w.n, len(body))
	}
	if kind == "" {
		b.Run("json.Valid/"+size, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				json.Valid(body)
			}
		})
	}
	b.Run("protection"+kind+"/"+size, func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			w.reset()
			h.ServeHTTP(w, r)
		}
	})
	// The two, alternated in one loop, so that a shared machine's
	// load weighs on both alike: the ratio to quote, of the wall times
	// and of the CPU times of the thread that runs both (which other
	// processes change less; the garbage collector's background work
	// on other threads is not in it). Reading the thread's clock costs
	// CPU time too (a system call, over a microsecond in a virtual
	// machine): what one reading costs, measured before the loop, is
	// taken off each CPU time.
	b.Run("ratio"+kind+"/"+size, func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		start := threadCPU()
		for range 1000 {
			threadCPU()
		}
		clock := (threadCPU() - start) / 1001
		var valid, guarded, validCPU, guardedCPU time.Duration
		for b.Loop() {
			c0, t0 := threadCPU(), time.Now()
			json.Valid(body)
			c1, t1 := threadCPU(), time.Now()
			w.reset()
			h.ServeHTTP(w, r)
			c2, t2 := threadCPU(), time.Now()
			valid, guarded = valid+t1.Sub(t0), guarded+t2.Sub(t1)
			validCPU, guardedCPU = validCPU+c1-c0-clock, guardedCPU+c2-c1-clock
		}
		b.ReportMetric(float64(guarded)/float64(valid), "x-json.Valid")
		if validCPU > 0 {
			b.ReportMetric(float64(guardedCPU)/float64(validCPU), "cpu-x-json.Valid")
		}
		b.ReportMetric(float64(len(body)), "body-bytes")
	})
}

// discardWriter is a ResponseWriter that counts what it is sent, so that
// the benchmark measures the Guard and not a recorder.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}
func (d *discardWriter) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = 200
	}
	d.n += len(p)
	return len(p), nil
}
func (d *discardWriter) reset() {
	clear(d.h)
	d.status, d.n = 0, 0
}

func newBenchGuard(b *testing.B, is *smarttest.Issuer) *smartmw.Guard {
	b.Helper()
	g, err := smartmw.New(b.Context(), is.Config())
	if err != nil {
		b.Fatal(err)
	}
	return g
}

// BenchmarkBatch measures the whole protection of a batch (cached token)
// whose answer the guard changes: one refused entry answered in its
// place among 20 reads; a search entry whose searchset of 100
// Observations loses another patient's; 99 DELETEs of one stored 64 KB
// Observation, read once to check them, and a refused entry.
func BenchmarkBatch(b *testing.B) {
	is := smarttest.NewIssuer(b)
	guard := newBenchGuard(b, is)
	tok := is.Token(b, smarttest.Scopes("launch/patient patient/Observation.rds"), smarttest.Patient("123"))
	entry := func(m, u string) string { return fmt.Sprintf(`{"request":{"method":%q,"url":%q}}`, m, u) }
	batch := func(entries []string) string {
		return `{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(entries, ",") + `]}`
	}
	answer := func(entries []string) []byte {
		return []byte(`{"resourceType":"Bundle","type":"batch-response","entry":[` + strings.Join(entries, ",") + `]}`)
	}
	var reads, searchEntries, deletes []string
	var readAnswers, deleteAnswers []string
	for i := range 20 {
		reads = append(reads, entry("GET", fmt.Sprintf("Observation/o123-%d", i)))
		readAnswers = append(readAnswers, fmt.Sprintf(`{"resource":{"resourceType":"Observation","id":"o123-%d","status":"final",`+
			`"subject":{"reference":"Patient/123"},"valueQuantity":{"value":%d,"unit":"mg/dL"}},"response":{"status":"200 OK"}}`, i, 70+i))
	}
	reads = append(reads, entry("GET", "Condition/c1"))
	search := labSearchset(100, 0)
	foreign := strings.Replace(string(search), `"subject":{"reference":"Patient/123"}`, `"subject":{"reference":"Patient/456"}`, 1)
	searchEntries = append(searchEntries, entry("GET", "Observation?patient=123"))
	for range 99 {
		deletes = append(deletes, entry("DELETE", "Observation/o123-1"))
		deleteAnswers = append(deleteAnswers, `{"response":{"status":"204 No Content"}}`)
	}
	deletes = append(deletes, entry("DELETE", "Condition/c1"))
	var stored strings.Builder
	stored.WriteString(`{"resourceType":"Observation","id":"o123-1","subject":{"reference":"Patient/123"},"note":[`)
	for i := 0; stored.Len() < 64<<10; i++ {
		if i > 0 {
			stored.WriteByte(',')
		}
		fmt.Fprintf(&stored, `{"text":"Reviewed; sample %d within range."}`, i)
	}
	stored.WriteString(`]}`)
	for _, tc := range []struct {
		name   string
		body   string
		answer []byte
	}{
		{"refused-entry", batch(reads), answer(readAnswers)},
		{"filtered-search", batch(searchEntries), answer([]string{`{"resource":` + foreign + `,"response":{"status":"200 OK"}}`})},
		{"deletes", batch(deletes), answer(deleteAnswers)},
	} {
		h := guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/fhir+json")
			if r.Method == http.MethodGet {
				io.WriteString(w, stored.String())
				return
			}
			w.Write(tc.answer)
		}))
		r := httptest.NewRequest("POST", "/r4", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "application/fhir+json")
		w := &discardWriter{h: http.Header{}}
		serve := func() {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(tc.body)), int64(len(tc.body))
			w.reset()
			h.ServeHTTP(w, r)
		}
		serve()
		if w.status != 200 {
			b.Fatalf("%s: the guard answered %d", tc.name, w.status)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.answer)))
			for b.Loop() {
				serve()
			}
		})
	}
}
