package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkCachedToken compares, in one run and on one Guard, a request
// whose token is a JWT verified before with one whose token is opaque and
// was introspected before (the DESIGN target: a cached introspection
// result costs no more than a cached JWT). Both authenticate and decide a
// user/ search around a no-op handler.
func BenchmarkCachedToken(b *testing.B) {
	is := newIssuer(b)
	f := newFakeIntrospection(b)
	answer := activeAnswer(is)
	answer["scope"] = "user/Observation.rs"
	f.set("opaque-token-0123456789abcdefghijklmnopqrstuvwxyz", answer)
	m := newIntrospecting(b, is, f, nil)
	h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	user := goodClaims(is)
	user["scope"] = "user/Observation.rs"
	for _, bc := range []struct{ name, token string }{
		{"jwt", sign(b, is, user)},
		{"introspection", "opaque-token-0123456789abcdefghijklmnopqrstuvwxyz"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/r4/Observation?patient=123", nil)
			req.Header.Set("Authorization", "Bearer "+bc.token)
			w := &nopWriter{h: http.Header{}}
			h.ServeHTTP(w, req) // verify or introspect once: cached from now on
			calls := f.calls.Load()
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
			if f.calls.Load() != calls {
				b.Fatal("the endpoint was asked again: not cached")
			}
		})
	}
}
