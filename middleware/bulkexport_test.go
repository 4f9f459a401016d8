package middleware_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

var exportKey = []byte("a key of 32 bytes, for the tests")

// bulkHandler is a FHIR server's Bulk Data side: one job, its status and
// one Observation file, served only to the Guard's forwards.
func bulkHandler(base string) http.Handler {
	deleted := false
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !smartmw.IsExportForward(r) && strings.HasSuffix(r.URL.Path, "/$export"):
			w.Header().Set("Content-Location", base+"/jobs/1")
			w.WriteHeader(http.StatusAccepted)
		case !smartmw.IsExportForward(r):
			http.NotFound(w, r)
		case r.Method == http.MethodDelete:
			deleted = true
			w.WriteHeader(http.StatusAccepted)
		case deleted:
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`)
		case strings.HasSuffix(r.URL.Path, "/jobs/1"):
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"transactionTime":"2026-03-01T12:00:00Z","request":"`+base+`/$export","requiresAccessToken":true,`+
				`"output":[{"type":"Observation","url":"`+base+`/jobs/1/Observation.ndjson"}],"error":[]}`)
		default:
			w.Header().Set("Content-Type", "application/fhir+ndjson")
			io.WriteString(w, `{"resourceType":"Observation","id":"1","status":"final","code":{"text":"x"}}`+"\n"+
				`{"resourceType":"Patient","id":"1"}`+"\n")
		}
	})
}

func TestExportConfig(t *testing.T) {
	is := smarttest.NewIssuer(t)
	for _, tc := range []struct {
		name string
		opt  smartmw.FHIROptions
		ok   bool
	}{
		{name: "off", ok: true},
		{name: "on with a key", opt: smartmw.FHIROptions{Export: smartmw.ExportOptions{Enabled: true, Key: exportKey}}, ok: true},
		{name: "on without a key", opt: smartmw.FHIROptions{Export: smartmw.ExportOptions{Enabled: true}}},
		{name: "on with a short key", opt: smartmw.FHIROptions{Export: smartmw.ExportOptions{Enabled: true, Key: exportKey[:31]}}},
		{name: "on, and $export declared", opt: smartmw.FHIROptions{Export: smartmw.ExportOptions{Enabled: true, Key: exportKey},
			Operations: map[string]smartmw.Operation{"$export": {Permission: 1}}}},
		{name: "negative lifetime", opt: smartmw.FHIROptions{Export: smartmw.ExportOptions{Enabled: true, Key: exportKey, LinkLifetime: -1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := is.Config()
			cfg.FHIR = tc.opt
			_, err := smartmw.New(t.Context(), cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestExportThroughTheGuard: a backend client's export, end to end
// through Handler with real tokens: status and files need a token (401),
// and are the starting client's alone (404 for another).
func TestExportThroughTheGuard(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, func(cfg *smartmw.Config) {
		cfg.FHIR.Export = smartmw.ExportOptions{Enabled: true, Key: exportKey}
	})
	base := is.Audience()
	h := guard.Handler(bulkHandler(base))
	path := strings.TrimPrefix(base, "https://fhir.example.org") // the base's path
	if path == base {
		t.Fatalf("unexpected audience %s", base)
	}
	tokA := is.Token(t, smarttest.Scopes("system/Observation.rs"), smarttest.ClientID("backend-a"), smarttest.Subject("backend-a"))
	tokB := is.Token(t, smarttest.Scopes("system/*.rs"), smarttest.ClientID("backend-b"), smarttest.Subject("backend-b"))
	do := func(method, target, tok string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, nil)
		r.Host = "fhir.example.org"
		r.Header.Set("Accept", "application/fhir+json")
		r.Header.Set("Prefer", "respond-async")
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	k := do("GET", path+"/$export", tokA)
	if k.Code != http.StatusAccepted {
		t.Fatalf("kick-off: %d %s", k.Code, k.Body)
	}
	status := strings.TrimPrefix(k.Header().Get("Content-Location"), "https://fhir.example.org")
	if !strings.HasPrefix(status, path+"/$export-poll/") {
		t.Fatalf("status URL %q", k.Header().Get("Content-Location"))
	}
	for _, c := range []struct {
		name, method, tok string
		want              int
	}{
		{"no token", "GET", "", 401},
		{"another client", "GET", tokB, 404},
		{"another client cancels", "DELETE", tokB, 404},
	} {
		if w := do(c.method, status, c.tok); w.Code != c.want {
			t.Errorf("status URL, %s: %d, want %d", c.name, w.Code, c.want)
		}
	}
	m := do("GET", status, tokA)
	if m.Code != http.StatusOK {
		t.Fatalf("poll: %d %s", m.Code, m.Body)
	}
	var manifest struct {
		RequiresAccessToken bool `json:"requiresAccessToken"`
		Output              []struct{ Type, URL string }
	}
	if err := json.Unmarshal(m.Body.Bytes(), &manifest); err != nil || len(manifest.Output) != 1 || !manifest.RequiresAccessToken {
		t.Fatalf("manifest %s: %v", m.Body, err)
	}
	file := strings.TrimPrefix(manifest.Output[0].URL, "https://fhir.example.org")
	if w := do("GET", file, ""); w.Code != 401 {
		t.Errorf("file without a token: %d", w.Code)
	}
	if w := do("GET", file, tokB); w.Code != 404 {
		t.Errorf("file, another client: %d", w.Code)
	}
	w := do("GET", file, tokA)
	if w.Code != 200 || strings.Contains(w.Body.String(), "Patient") || !strings.Contains(w.Body.String(), "Observation") {
		t.Errorf("file: %d %q (the Patient line must be withheld)", w.Code, w.Body)
	}
	if w := do("DELETE", status, tokA); w.Code != http.StatusAccepted {
		t.Errorf("cancel: %d %s", w.Code, w.Body)
	}
	w = do("GET", status, tokA)
	var e struct{ ResourceType string }
	if w.Code != 404 || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.ResourceType != "OperationOutcome" {
		t.Errorf("poll after cancel: %d %s", w.Code, w.Body)
	}
}

// TestBulkDataDocConfig runs the configuration of docs/bulk-data.md
// verbatim against an OpenID-style authorization server: a kick-off is
// answered with the Guard's own status URL.
func TestBulkDataDocConfig(t *testing.T) {
	dev := fakeAuthServer(t)
	ctx := t.Context()
	exportKey := exportKey
	const issuer, base = "https://auth.example.org/realms/fhir", "https://fhir.example.org/r4"

	// docs/bulk-data.md's configuration, verbatim:
	guard, err := smartmw.New(ctx, smartmw.Config{
		Issuer: smartmw.Issuer{URL: issuer, Audience: base},
		FHIR: smartmw.FHIROptions{Export: smartmw.ExportOptions{
			Enabled: true,
			Key:     exportKey, // at least 32 random bytes, the same on every replica
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := devToken(t, dev, base, map[string]any{"scope": "system/*.rs", "client_id": "backend"})
	r := httptest.NewRequest("GET", "https://fhir.example.org/r4/$export", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	guard.Handler(bulkHandler(base)).ServeHTTP(w, r)
	if w.Code != http.StatusAccepted || !strings.HasPrefix(w.Header().Get("Content-Location"), base+"/$export-poll/") {
		t.Fatalf("kick-off: %d %q %s", w.Code, w.Header().Get("Content-Location"), w.Body)
	}
}
