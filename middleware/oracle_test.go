package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// conditionalStore is a FHIR server that knows nothing of SMART but knows
// HTTP: it answers HEAD, sets ETag, Last-Modified and Content-Length,
// answers 304 to a matching If-None-Match or If-Modified-Since, and 404
// (with its own OperationOutcome and headers) to a missing resource.
type conditionalStore struct{}

const lastModified = "Mon, 02 Nov 2026 10:00:00 GMT"

func (conditionalStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	if id == "missing" {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Header().Set("X-Upstream", "store")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"Observation/missing is not known"}]}`)
		return
	}
	body := fmt.Sprintf(`{"resourceType":"Observation","id":%q,"meta":{"versionId":"3"},"subject":{"reference":"Patient/%s"}}`, id, strings.TrimPrefix(id, "o"))
	h := w.Header()
	h.Set("Content-Type", "application/fhir+json")
	h.Set("ETag", `W/"3"`)
	h.Set("Last-Modified", lastModified)
	if inm := r.Header.Get("If-None-Match"); inm == `W/"3"` || r.Header.Get("If-Modified-Since") == lastModified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprint(w, body)
}

// TestNoExistenceOracle: under a patient/ scope, HEAD and conditional GETs
// of another patient's resource say no more than a GET would, and with
// NotFoundForDenied a refused resource and a missing one are answered
// alike: status, headers and body.
func TestNoExistenceOracle(t *testing.T) {
	is := smarttest.NewIssuer(t)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient("123"))
	for _, notFound := range []bool{false, true} {
		guard := newGuard(t, is, func(cfg *smartmw.Config) {
			cfg.FHIR.NotFoundForDenied = notFound
		})
		h := guard.Handler(conditionalStore{})
		refused := 403
		if notFound {
			refused = 404
		}
		tests := []struct {
			name, method, target string
			header               map[string]string
			want                 int
			wantBody             bool
		}{
			{"HEAD own", "HEAD", "/r4/Observation/o123", nil, 200, false},
			{"HEAD other", "HEAD", "/r4/Observation/o456", nil, refused, false},
			{"If-None-Match own", "GET", "/r4/Observation/o123", map[string]string{"If-None-Match": `W/"3"`}, 304, false},
			{"If-None-Match other", "GET", "/r4/Observation/o456", map[string]string{"If-None-Match": `W/"3"`}, refused, true},
			{"If-None-Match other, stale tag", "GET", "/r4/Observation/o456", map[string]string{"If-None-Match": `W/"1"`}, refused, true},
			{"If-Modified-Since own", "GET", "/r4/Observation/o123", map[string]string{"If-Modified-Since": lastModified}, 304, false},
			{"If-Modified-Since other", "GET", "/r4/Observation/o456", map[string]string{"If-Modified-Since": lastModified}, refused, true},
			{"HEAD with If-None-Match other", "HEAD", "/r4/Observation/o456", map[string]string{"If-None-Match": `W/"3"`}, refused, false},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("NotFoundForDenied=%v/%s", notFound, tc.name), func(t *testing.T) {
				r := httptest.NewRequest(tc.method, tc.target, nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				for k, v := range tc.header {
					r.Header.Set(k, v)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tc.want {
					t.Fatalf("%d, want %d", w.Code, tc.want)
				}
				if tc.want != 200 && tc.want != 304 {
					for _, leak := range []string{"ETag", "Last-Modified"} {
						if v := w.Header().Get(leak); v != "" {
							t.Errorf("refusal carries %s: %s", leak, v)
						}
					}
					if cl := w.Header().Get("Content-Length"); cl != "" && cl != fmt.Sprint(w.Body.Len()) {
						t.Errorf("refusal carries the resource's Content-Length %s", cl)
					}
				}
				if (w.Body.Len() > 0) != tc.wantBody && tc.method == "GET" {
					t.Errorf("body %q", w.Body)
				}
				if tc.method == "HEAD" && w.Body.Len() > 0 {
					t.Errorf("HEAD answered a body")
				}
			})
		}
	}

	// With NotFoundForDenied, missing and refused are the same answer.
	guard := newGuard(t, is, func(cfg *smartmw.Config) {
		cfg.FHIR.NotFoundForDenied = true
	})
	h := guard.Handler(conditionalStore{})
	answer := func(method, target string) (int, http.Header, string) {
		r := httptest.NewRequest(method, target, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Header(), w.Body.String()
	}
	for _, method := range []string{"GET", "HEAD"} {
		c1, h1, b1 := answer(method, "/r4/Observation/o456")
		c2, h2, b2 := answer(method, "/r4/Observation/missing")
		if c1 != 404 || c1 != c2 || b1 != b2 || fmt.Sprint(h1) != fmt.Sprint(h2) {
			t.Errorf("%s refused %d %v %s\n%s missing %d %v %s", method, c1, h1, b1, method, c2, h2, b2)
		}
	}
}
