package search

import (
	"strings"
	"testing"
)

// bigObservation is an Observation of about 5 KB, with the searched
// category after most of the other elements.
func bigObservation(tb testing.TB) []byte {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`{"resourceType":"Observation","id":"big","status":"final","subject":{"reference":"Patient/123"},`)
	b.WriteString(`"effectiveDateTime":"2013-01-14T10:00:00Z","component":[`)
	for i := 0; len(b.String()) < 4700; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}]},` +
			`"valueQuantity":{"value":107,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}`)
	}
	b.WriteString(`],"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]},`)
	b.WriteString(`{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}]}`)
	return []byte(b.String())
}

func BenchmarkMatch(b *testing.B) {
	res := bigObservation(b)
	for _, bc := range []struct{ name, query string }{
		{"token", "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"},
		{"token-miss", "category=http://terminology.hl7.org/CodeSystem/observation-category|social-history"},
		{"date", "date=ge2013-01-01"},
		{"reference", "subject=Patient/123"},
		{"quantity", "component-value-quantity=gt100|http://unitsofmeasure.org|mm[Hg]"},
	} {
		q, err := Parse("Observation", bc.query, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(res)))
			for b.Loop() {
				if _, err := q.Match(res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTokenMatchDoesNotAllocate pins the zero-allocation token path.
func TestTokenMatchDoesNotAllocate(t *testing.T) {
	res := bigObservation(t)
	q := mustParse(t, "Observation", "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory&status=final")
	ok, err := q.Match(res)
	if !ok || err != nil {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = q.Match(res) }); n != 0 {
		t.Fatalf("Match allocates %v times, want 0", n)
	}
}
