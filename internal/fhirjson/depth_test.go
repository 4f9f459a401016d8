package fhirjson_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/internal/fhirjson"
)

// Six megabytes of nesting, which overflowed the stack of the recursive
// readers before, are ErrDepth at every entry point, wherever they sit.
func TestRefusesDeepNesting(t *testing.T) {
	const size = 6 << 20
	brackets := strings.Repeat("[", size)
	objects := strings.Repeat(`{"a":`, size/5)
	closed := strings.Repeat("[", size/2) + strings.Repeat("]", size/2)
	bodies := []struct{ name, body string }{
		{"brackets", brackets},
		{"objects", objects},
		{"closed brackets", closed},
		{"brackets in a member", `{"resourceType":"Patient","a":` + brackets},
		{"objects in a member", `{"resourceType":"Patient","a":` + objects},
		{"brackets in resourceType", `{"resourceType":` + brackets},
		{"brackets in type", `{"resourceType":"Bundle","type":` + brackets},
		{"brackets in total", `{"resourceType":"Bundle","total":` + brackets},
		{"brackets in entry", `{"resourceType":"Bundle","entry":[` + brackets},
		{"objects in entry", `{"resourceType":"Bundle","entry":[` + objects},
		{"brackets in a resource", `{"resourceType":"Bundle","entry":[{"resource":{"a":` + brackets},
		{"objects in a resource", `{"resourceType":"Bundle","entry":[{"resource":{"a":` + objects},
		{"brackets in search", `{"resourceType":"Bundle","entry":[{"search":{"mode":` + brackets},
		{"closed brackets in a resource", `{"resourceType":"Bundle","entry":[{"resource":{"a":` + closed + `}}]}`},
	}
	entryPoints := []struct {
		name string
		call func(data []byte) error
	}{
		{"Scan", func(d []byte) error { _, err := fhirjson.Scan(d); return err }},
		{"SkipValue", func(d []byte) error { _, err := fhirjson.SkipValue(d, 0, 0); return err }},
		{"Rewrite", func(d []byte) error {
			b := scanBundle(t, searchset(1, false))
			b.Drop(0)
			_, err := b.Rewrite(fhirjson.NoTotal, d)
			return err
		}},
	}
	for _, ep := range entryPoints {
		for _, b := range bodies {
			t.Run(ep.name+"/"+b.name, func(t *testing.T) {
				if err := ep.call([]byte(b.body)); !errors.Is(err, fhirjson.ErrDepth) {
					t.Fatalf("err = %v, want ErrDepth", err)
				}
			})
		}
	}
}

// nested returns s inside n arrays.
func nested(n int, s string) string {
	return strings.Repeat("[", n) + s + strings.Repeat("]", n)
}

// MaxDepth levels are read, one more is not, counted from the body's
// top-level value, in every part of a Bundle.
func TestDepthBound(t *testing.T) {
	const limit = fhirjson.MaxDepth
	tests := []struct {
		name string
		body string
		want error
	}{
		{"arrays at the bound", nested(limit, ""), fhirjson.ErrUnreadable},
		{"arrays past the bound", nested(limit+1, ""), fhirjson.ErrDepth},
		{"in a member at the bound", `{"a":` + nested(limit-1, "") + `}`, nil},
		{"in a member past the bound", `{"a":` + nested(limit, "") + `}`, fhirjson.ErrDepth},
		{"in an entry at the bound", `{"resourceType":"Bundle","entry":[` + nested(limit-2, "") + `]}`, nil},
		{"in an entry past the bound", `{"resourceType":"Bundle","entry":[` + nested(limit-1, "") + `]}`, fhirjson.ErrDepth},
		{"in a resource at the bound", `{"resourceType":"Bundle","entry":[{"resource":{"a":` + nested(limit-4, "") + `}}]}`, nil},
		{"in a resource past the bound", `{"resourceType":"Bundle","entry":[{"resource":{"a":` + nested(limit-3, "") + `}}]}`, fhirjson.ErrDepth},
		{"in a resourceType at the bound", `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":` + nested(limit-4, "") + `}}]}`, nil},
		{"in a resourceType past the bound", `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":` + nested(limit-3, "") + `}}]}`, fhirjson.ErrDepth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fhirjson.Scan([]byte(tc.body)); !errors.Is(err, tc.want) {
				t.Fatalf("Scan = %v, want %v", err, tc.want)
			}
		})
	}
}
