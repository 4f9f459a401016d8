package fhirjson_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/internal/compartment"
	"github.com/smartguard/smartguard/internal/fhirjson"
)

var sink int

// BenchmarkSearchset measures, side by side on the same searchset
// Bundles, encoding/json's Valid (one JSON pass, the floor), Scan with a
// look at each entry's resource type (what the guard reads of every
// entry), and what the response guard does for a patient/ search: Scan,
// the compartment check of each entry's resource, and writing the body
// (whole, or without the entries dropped). The Bundles hold 20 and 100
// Observations of about 470 bytes an entry (9.6 and 47 KB), 100 of about
// 3 KB (313 KB), and 20 of which 10 are another patient's, which the
// guard drops (written, or rewritten in memory).
func BenchmarkSearchset(b *testing.B) {
	for _, size := range []struct {
		name string
		body []byte
	}{
		{"20", searchset(20, false)},
		{"100", searchset(100, false)},
		{"100-large", searchset(100, true)},
		{"20-half-dropped", halfOtherPatient(searchset(20, false))},
	} {
		body := size.body
		b.Run(size.name+"/json.Valid", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if !json.Valid(body) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run(size.name+"/Scan", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := fhirjson.Scan(body)
				if err != nil {
					b.Fatal(err)
				}
				bundle, err := r.Bundle()
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range bundle.Entries {
					sink += len(e.ResourceType)
				}
			}
		})
		b.Run(size.name+"/Scan+Member+WriteRewrite", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := guard(b, body, "123").WriteRewrite(io.Discard, fhirjson.NoTotal, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		if size.name == "20-half-dropped" {
			b.Run(size.name+"/Scan+Member+Rewrite", func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					out, err := guard(b, body, "123").Rewrite(fhirjson.NoTotal, nil)
					if err != nil {
						b.Fatal(err)
					}
					sink += len(out)
				}
			})
		}
	}
}

// guard does what the response guard does with body for a patient/
// search of Patient/patient: it drops the entries outside the
// compartment.
func guard(b *testing.B, body []byte, patient string) *fhirjson.Bundle {
	r, err := fhirjson.Scan(body)
	if err != nil {
		b.Fatal(err)
	}
	bundle, err := r.Bundle()
	if err != nil {
		b.Fatal(err)
	}
	for i, e := range bundle.Entries {
		if e.ResourcePresence != fhirjson.Present {
			continue
		}
		if e.ResourceType != "Observation" {
			bundle.Drop(i)
			continue
		}
		if in, err := compartment.Member(e.Resource.Of(body), patient); err != nil || !in {
			bundle.Drop(i)
		}
	}
	return bundle
}

// halfOtherPatient returns body with every other Observation moved to
// Patient/456.
func halfOtherPatient(body []byte) []byte {
	parts := strings.Split(string(body), `"reference":"Patient/123"`)
	var s strings.Builder
	for i, p := range parts {
		if i > 0 {
			s.WriteString(`"reference":"Patient/` + map[bool]string{true: "456", false: "123"}[i%2 == 0] + `"`)
		}
		s.WriteString(p)
	}
	return []byte(s.String())
}
