package fhirstore

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// testBase is the FHIR base URL the store is tested under.
const testBase = "https://fhir.example.org/fhir"

// server is a Store behind a real Guard, with tokens from a smarttest
// issuer: the store is tested as the examples run it, the Guard deciding
// each request.
type server struct {
	t     *testing.T
	is    *smarttest.Issuer
	store *Store
	h     http.Handler
	all   string // a token for every interaction on every type
}

// clock is a fake clock that moves one second each time it is read.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func newServer(t *testing.T) *server {
	t.Helper()
	is := smarttest.NewIssuer(t, smarttest.ForAudience(testBase))
	cfg := is.Config()
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)}
	st, err := newStore(testBase, Seed(), c.now)
	if err != nil {
		t.Fatal(err)
	}
	return &server{t: t, is: is, store: st, h: guard.Handler(st),
		all: is.Token(t, smarttest.Scopes("system/*.cruds"))}
}

// response is what the server answered.
type response struct {
	status int
	header http.Header
	body   string
}

// json decodes the body into a map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.body)
	}
	return m
}

// do sends a request with token tok (none when ""); headers are
// name, value pairs.
func (s *server) do(tok, method, path, body string, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return response{status: w.Code, header: w.Header(), body: w.Body.String()}
}

// must sends a request with the all-powerful token and fails the test
// unless the status is want.
func (s *server) must(want int, method, path, body string, headers ...string) response {
	s.t.Helper()
	res := s.do(s.all, method, path, body, headers...)
	if res.status != want {
		s.t.Fatalf("%s %s: %d, want %d\n%s", method, path, res.status, want, res.body)
	}
	return res
}

// ids returns "Type/id" of the entries of a Bundle of mode (any when "").
func ids(t *testing.T, bundle map[string]any, mode string) []string {
	t.Helper()
	var out []string
	entries, _ := bundle["entry"].([]any)
	for _, e := range entries {
		em := e.(map[string]any)
		if mode != "" {
			search, _ := em["search"].(map[string]any)
			if search["mode"] != mode {
				continue
			}
		}
		r, _ := em["resource"].(map[string]any)
		if r == nil {
			out = append(out, "(none)")
			continue
		}
		out = append(out, r["resourceType"].(string)+"/"+r["id"].(string))
	}
	return out
}

// linkURL returns the url of a Bundle's link of relation rel, or "".
func linkURL(bundle map[string]any, rel string) string {
	links, _ := bundle["link"].([]any)
	for _, l := range links {
		lm := l.(map[string]any)
		if lm["relation"] == rel {
			return lm["url"].(string)
		}
	}
	return ""
}

// relative cuts the base URL off an absolute URL of the server.
func relative(t *testing.T, u string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(u, "https://fhir.example.org")
	if !ok {
		t.Fatalf("%q is not on the server", u)
	}
	return rest
}

// outcome checks that res is an OperationOutcome with status want.
func outcome(t *testing.T, res response, want int) {
	t.Helper()
	if res.status != want {
		t.Errorf("status %d, want %d\n%s", res.status, want, res.body)
		return
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("Content-Type %q, want application/fhir+json", ct)
	}
	if m := res.json(t); m["resourceType"] != "OperationOutcome" {
		t.Errorf("body is not an OperationOutcome: %s", res.body)
	}
}

// found returns the resources of a searchset of mode ("" for any),
// decoded.
func found(t *testing.T, bundle map[string]any, mode string) []map[string]any {
	t.Helper()
	var out []map[string]any
	entries, _ := bundle["entry"].([]any)
	for _, e := range entries {
		em := e.(map[string]any)
		if search, _ := em["search"].(map[string]any); mode != "" && search["mode"] != mode {
			continue
		}
		out = append(out, em["resource"].(map[string]any))
	}
	return out
}
