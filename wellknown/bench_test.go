package wellknown

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// nopWriter is a ResponseWriter that keeps its header map between requests,
// so that the benchmark measures the handler, not the recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func BenchmarkHandler(b *testing.B) {
	h, err := Handler(load(b, "ig-sample.json"))
	if err != nil {
		b.Fatal(err)
	}
	etag := serveBench(h, httptest.NewRequest(http.MethodGet, "/.well-known/smart-configuration", nil)).Get("Etag")
	for _, bc := range []struct {
		name   string
		header map[string]string
	}{
		{"get", nil},
		{"get-cors", map[string]string{"Origin": "https://app.example.net"}},
		{"not-modified", map[string]string{"If-None-Match": etag}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/.well-known/smart-configuration", nil)
			for k, v := range bc.header {
				r.Header.Set(k, v)
			}
			w := &nopWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}

func serveBench(h http.Handler, r *http.Request) http.Header {
	w := &nopWriter{h: make(http.Header)}
	h.ServeHTTP(w, r)
	return w.h
}

func BenchmarkValidate(b *testing.B) {
	c := load(b, "ig-sample.json")
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProtectedResourceHandler(b *testing.B) {
	docs := []ProtectedResource{
		{Resource: "https://a.example.org/fhir"},
		{Resource: "https://b.example.org/fhir"},
		{Resource: "https://example.org/t/42/fhir"},
	}
	h, err := ProtectedResourceHandler(docs...)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, target string }{
		{"one-at-path", "https://example.org/.well-known/oauth-protected-resource/t/42/fhir"},
		{"by-host", "https://b.example.org/.well-known/oauth-protected-resource/fhir"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, bc.target, nil)
			w := &nopWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}
