package engine

import (
	"net/http"
	"testing"
)

// TestMethodOverrideHeadersAreRefusedInAnyCase: a request naming a method
// override header is refused (400) before it is decided, whether the
// header's name is canonical, as net/http makes it, or was set on the
// map directly in another case by a framework or an adapter. Names that
// only look like one pass.
func TestMethodOverrideHeadersAreRefusedInAnyCase(t *testing.T) {
	a := testEngine(t, nil)
	g := testGrant("user/*.cruds", "", "")
	for _, tc := range []struct {
		name string
		key  string
		want int
	}{
		{"canonical X-Http-Method-Override", "X-Http-Method-Override", http.StatusBadRequest},
		{"canonical X-Http-Method", "X-Http-Method", http.StatusBadRequest},
		{"canonical X-Method-Override", "X-Method-Override", http.StatusBadRequest},
		{"lower case, set on the map", "x-http-method-override", http.StatusBadRequest},
		{"upper case, set on the map", "X-HTTP-METHOD", http.StatusBadRequest},
		{"mixed case, set on the map", "x-Method-OVERRIDE", http.StatusBadRequest},
		{"a longer name", "X-Http-Method-Overrides", http.StatusOK},
		{"a shorter name", "X-Http-Metho", http.StatusOK},
		{"another X- header", "X-Request-Id", http.StatusOK},
		{"no X- prefix", "Http-Method-Override", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(http.MethodGet, "Observation/1", "")
			r.Header["Accept"] = []string{"application/fhir+json"}
			r.Header[tc.key] = []string{"DELETE"}
			if _, got, err := decideStatus(t, a, g, r); got != tc.want {
				t.Errorf("%s: DELETE: got %d (%v), want %d", tc.key, got, err, tc.want)
			}
		})
	}
}

// TestHasMethodOverrideReadsEveryName: the override header is found
// wherever it sits among many headers (a map of more than one group).
func TestHasMethodOverrideReadsEveryName(t *testing.T) {
	h := http.Header{}
	for i := range 40 {
		h[string(rune('A'+i%26))+"-Filler-"+string(rune('a'+i/26))] = []string{"x"}
	}
	if hasMethodOverride(h) {
		t.Fatal("found an override among fillers")
	}
	h["x-http-method"] = []string{"PUT"}
	if !hasMethodOverride(h) {
		t.Fatal("missed x-http-method among 40 other headers")
	}
}
