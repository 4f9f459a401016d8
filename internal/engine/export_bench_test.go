package engine

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/smartguard/smartguard/scope"
)

// cpuTime returns the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// observationsNDJSON returns about size bytes of NDJSON Observations,
// US Core-shaped, half laboratory and half vital signs.
func observationsNDJSON(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 4096)
	for i := 0; b.Len() < size; i++ {
		cat, code := "laboratory", "2345-7"
		if i%2 == 1 {
			cat, code = "vital-signs", "8867-4"
		}
		fmt.Fprintf(&b, `{"resourceType":"Observation","id":"obs-%d","meta":{"lastUpdated":"2024-01-02T03:04:05Z","profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab"]},`+
			`"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"%s","display":"%s"}]}],`+
			`"code":{"coding":[{"system":"http://loinc.org","code":"%s","display":"Glucose [Mass/volume] in Serum or Plasma"}],"text":"Glucose"},`+
			`"subject":{"reference":"Patient/p%d"},"effectiveDateTime":"2024-01-02T03:04:05Z","issued":"2024-01-02T03:04:05.000Z",`+
			`"valueQuantity":{"value":%d.5,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"},`+
			`"referenceRange":[{"low":{"value":70,"unit":"mg/dL"},"high":{"value":99,"unit":"mg/dL"}}]}`+"\n", i, cat, cat, code, i%1000, i%200)
	}
	return b.Bytes()
}

// BenchmarkExportLineCheck measures the streaming check of a 100 MB
// NDJSON file of Observations, written by the handler in 32 KiB pieces,
// under a granular grant (laboratory only: every line matched against
// the scope, half withheld) and under a type grant (every line read and
// its type checked). Memory does not grow with the file: the filter
// holds one line and a 64 KiB buffer.
func BenchmarkExportLineCheck(b *testing.B) {
	data := observationsNDJSON(100 << 20)
	for _, bc := range []struct{ name, scopes string }{
		{"granular", labScope},
		{"type", "system/Observation.rs"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := exportEngine(b, &exClock{t: time.Unix(1700000000, 0)})
			g := exGrant(bc.scopes, "c1", "s1")
			t := &jobToken{kind: tokenFile, ctx: scope.System, types: "Observation", fileType: "Observation", job: "j"}
			r := httptest.NewRequest("GET", "/fhir/$export-file/x", nil)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				lf := e.newLineFilter(&discardWriter{h: http.Header{}}, g, t, nil)
				for p := data; len(p) > 0; {
					n := min(len(p), 32<<10)
					lf.Write(p[:n])
					p = p[n:]
				}
				lf.finish(r)
				if lf.passed == 0 {
					b.Fatal("nothing passed")
				}
			}
			b.StopTimer()
			// The machine may be shared: MB per second of this
			// process's CPU time (every thread, the collector's too)
			// is the speed per core.
			b.ReportMetric(float64(b.N)*float64(len(data))/1e6/(cpuTime()-cpu0).Seconds(), "MB/cpu-s")
		})
	}
}
