package wellknown

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// serve sends one request to a handler of the IG sample document.
func serve(t *testing.T, h http.Handler, method string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "https://fhir.example.com/r4/.well-known/smart-configuration", nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func sampleHandler(t *testing.T) (http.Handler, []byte) {
	t.Helper()
	doc := load(t, "ig-sample.json")
	h, err := Handler(doc)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return h, body
}

func TestHandlerRefusesInvalidDocument(t *testing.T) {
	h, err := Handler(Configuration{TokenEndpoint: "https://as.example.com/token"})
	if h != nil || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Handler() = %v, %v; want nil, ErrInvalid", h, err)
	}
}

func TestHandlerServesJSONWhateverAccept(t *testing.T) {
	h, body := sampleHandler(t)
	for _, accept := range []string{"", "application/json", "application/fhir+json", "text/html", "application/xml;q=0.9, */*;q=0.1"} {
		t.Run(accept, func(t *testing.T) {
			w := serve(t, h, http.MethodGet, map[string]string{"Accept": accept})
			if w.Code != http.StatusOK {
				t.Fatalf("status %d, want 200", w.Code)
			}
			if got := w.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q, want application/json", got)
			}
			if !bytes.Equal(w.Body.Bytes(), body) {
				t.Errorf("body %s, want %s", w.Body, body)
			}
			if got := w.Header().Get("Cache-Control"); got != "public, max-age=3600" {
				t.Errorf("Cache-Control %q", got)
			}
			if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
		})
	}
}

func TestHandlerNeedsNoToken(t *testing.T) {
	h, _ := sampleHandler(t)
	if w := serve(t, h, http.MethodGet, map[string]string{"Authorization": "Bearer nonsense"}); w.Code != http.StatusOK {
		t.Errorf("with a bad token: status %d, want 200", w.Code)
	}
}

func TestHandlerMethods(t *testing.T) {
	h, body := sampleHandler(t)
	tests := []struct {
		method    string
		status    int
		bodyLen   int
		allow     string
		hasLength bool
	}{
		{http.MethodGet, http.StatusOK, len(body), "", true},
		{http.MethodHead, http.StatusOK, 0, "", true},
		{http.MethodOptions, http.StatusNoContent, 0, "GET, HEAD, OPTIONS", false},
		{http.MethodPost, http.StatusMethodNotAllowed, 0, "GET, HEAD, OPTIONS", false},
		{http.MethodPut, http.StatusMethodNotAllowed, 0, "GET, HEAD, OPTIONS", false},
		{http.MethodDelete, http.StatusMethodNotAllowed, 0, "GET, HEAD, OPTIONS", false},
		{"PATCH", http.StatusMethodNotAllowed, 0, "GET, HEAD, OPTIONS", false},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			w := serve(t, h, tc.method, nil)
			if w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
			if w.Body.Len() != tc.bodyLen {
				t.Errorf("body of %d bytes, want %d", w.Body.Len(), tc.bodyLen)
			}
			if got := w.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if got := w.Header().Get("Content-Length"); (got != "") != tc.hasLength {
				t.Errorf("Content-Length %q", got)
			}
		})
	}
}

func TestHandlerCORSPreflightFromAnyOrigin(t *testing.T) {
	h, _ := sampleHandler(t)
	w := serve(t, h, http.MethodOptions, map[string]string{
		"Origin":                         "https://app.example.net",
		"Access-Control-Request-Method":  "GET",
		"Access-Control-Request-Headers": "authorization, x-custom",
	})
	if w.Code != http.StatusNoContent {
		t.Errorf("status %d, want 204", w.Code)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":      "*",
		"Access-Control-Allow-Methods":     "GET",
		"Access-Control-Allow-Headers":     "authorization, x-custom",
		"Access-Control-Allow-Credentials": "",
		"Access-Control-Max-Age":           "3600",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
}

func TestHandlerCORSPreflightForPostIsNotAllowed(t *testing.T) {
	h, _ := sampleHandler(t)
	w := serve(t, h, http.MethodOptions, map[string]string{
		"Origin":                        "https://app.example.net",
		"Access-Control-Request-Method": "POST",
	})
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("Access-Control-Allow-Origin %q, want none", got)
	}
}

func TestHandlerCORSGetFromAnyOrigin(t *testing.T) {
	h, _ := sampleHandler(t)
	for _, origin := range []string{"https://app.example.net", "http://localhost:3000", "null"} {
		w := serve(t, h, http.MethodGet, map[string]string{"Origin": origin})
		if w.Code != http.StatusOK {
			t.Errorf("%s: status %d", origin, w.Code)
		}
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want *", origin, got)
		}
		if got := w.Header().Get("Access-Control-Allow-Credentials"); got != "" {
			t.Errorf("%s: Access-Control-Allow-Credentials %q, want none", origin, got)
		}
		if got := w.Header().Get("Access-Control-Expose-Headers"); got != "Etag" {
			t.Errorf("%s: Access-Control-Expose-Headers %q, want Etag", origin, got)
		}
	}
}

func TestHandlerETag(t *testing.T) {
	h, _ := sampleHandler(t)
	etag := serve(t, h, http.MethodGet, nil).Header().Get("ETag")
	if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Fatalf("ETag %q is not a strong entity tag", etag)
	}
	other, _ := Handler(load(t, "backend-services.json"))
	if e := serve(t, other, http.MethodGet, nil).Header().Get("ETag"); e == etag {
		t.Errorf("two documents share ETag %q", e)
	}

	tests := []struct {
		name        string
		ifNoneMatch string
		status      int
	}{
		{"same tag", etag, http.StatusNotModified},
		{"weak tag", "W/" + etag, http.StatusNotModified},
		{"in a list", `"a", ` + etag + `, "b"`, http.StatusNotModified},
		{"in a list without spaces", `"a",W/` + etag, http.StatusNotModified},
		{"star", "*", http.StatusNotModified},
		{"other tag", `"other"`, http.StatusOK},
		{"tag with a comma inside", `"x,` + etag[1:], http.StatusOK},
		{"unquoted", etag[1 : len(etag)-1], http.StatusOK},
		{"unterminated", `"abc`, http.StatusOK},
		{"empty", "", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				w := serve(t, h, method, map[string]string{"If-None-Match": tc.ifNoneMatch})
				if w.Code != tc.status {
					t.Fatalf("%s: status %d, want %d", method, w.Code, tc.status)
				}
				if got := w.Header().Get("ETag"); got != etag {
					t.Errorf("%s: ETag %q, want %q", method, got, etag)
				}
				if w.Header().Get("Cache-Control") == "" {
					t.Errorf("%s: no Cache-Control", method)
				}
				if tc.status == http.StatusNotModified && (w.Body.Len() != 0 || w.Header().Get("Content-Type") != "") {
					t.Errorf("%s: 304 with a body or Content-Type", method)
				}
			}
		})
	}
}

func TestHandlerIfNoneMatchOverSeveralFieldLines(t *testing.T) {
	h, _ := sampleHandler(t)
	etag := serve(t, h, http.MethodGet, nil).Header().Get("ETag")
	r := httptest.NewRequest(http.MethodGet, "/.well-known/smart-configuration", nil)
	r.Header.Add("If-None-Match", `"a"`)
	r.Header.Add("If-None-Match", etag)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotModified {
		t.Errorf("status %d, want 304", w.Code)
	}
}

func TestHandlerServesTheBytesOfConstruction(t *testing.T) {
	doc := load(t, "ig-sample.json")
	h, err := Handler(doc)
	if err != nil {
		t.Fatal(err)
	}
	before := serve(t, h, http.MethodGet, nil).Body.String()
	doc.Capabilities[0] = "changed"
	doc.TokenEndpoint = "https://evil.example.com"
	if after := serve(t, h, http.MethodGet, nil).Body.String(); after != before {
		t.Errorf("the response changed with the document after Handler")
	}
}

func TestPath(t *testing.T) {
	tests := []struct {
		base, want string
		err        bool
	}{
		{base: "https://ehr.example.com/r4", want: "/r4/.well-known/smart-configuration"},
		{base: "https://ehr.example.com/r4/", want: "/r4/.well-known/smart-configuration"},
		{base: "https://www.ehr.example.com/apis/fhir", want: "/apis/fhir/.well-known/smart-configuration"},
		{base: "https://fhir.ehr.example.com", want: "/.well-known/smart-configuration"},
		{base: "https://fhir.ehr.example.com/", want: "/.well-known/smart-configuration"},
		{base: "/r4", want: "/r4/.well-known/smart-configuration"},
		{base: "", want: "/.well-known/smart-configuration"},
		{base: "https://ehr.example.com/a%20b", want: "/a%20b/.well-known/smart-configuration"},
		{base: "r4", err: true},
		{base: "ehr.example.com/r4", err: true},
		{base: "https://ehr.example.com/r4?x=1", err: true},
		{base: "https://ehr.example.com/r4#x", err: true},
		{base: "https://ehr.example.com/%zz", err: true},
		{base: "urn:x:y", err: true},
	}
	for _, tc := range tests {
		got, err := Path(tc.base)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Path(%q) = %q, %v; want %q, error %v", tc.base, got, err, tc.want, tc.err)
		}
	}
}
