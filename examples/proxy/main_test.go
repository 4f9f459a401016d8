package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/smartguard/smartguard/examples/internal/fhirstore"
	"github.com/smartguard/smartguard/smarttest"
	"github.com/smartguard/smartguard/wellknown"
)

// upstream is a FHIR server that knows nothing of SMART: it answers every
// search with every resource of the type, whatever the query, and records
// what it was asked.
type upstream struct {
	mu    sync.Mutex
	seen  []string
	auths []string
	data  map[string]map[string]json.RawMessage
}

func newUpstream(t *testing.T) (*upstream, *httptest.Server) {
	u := &upstream{data: map[string]map[string]json.RawMessage{}}
	for _, r := range fhirstore.Seed() {
		var h struct{ ResourceType, ID string }
		json.Unmarshal(r, &h)
		if u.data[h.ResourceType] == nil {
			u.data[h.ResourceType] = map[string]json.RawMessage{}
		}
		u.data[h.ResourceType][h.ID] = r
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Method+" "+r.URL.RequestURI())
		u.auths = append(u.auths, r.Header.Get("Authorization"))
		u.mu.Unlock()
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/base/"), "/")
		w.Header().Set("Content-Type", "application/fhir+json")
		switch {
		case len(parts) == 1 && r.Method == http.MethodGet:
			var entries []any
			for _, res := range u.data[parts[0]] {
				entries = append(entries, map[string]any{"resource": res, "search": map[string]string{"mode": "match"}})
			}
			json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": "searchset", "entry": entries})
		case len(parts) == 2 && r.Method == http.MethodGet:
			res, ok := u.data[parts[0]][parts[1]]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`)
				return
			}
			w.Write(res)
		case len(parts) == 2 && r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	t.Cleanup(srv.Close)
	return u, srv
}

func (u *upstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

func TestProxyEnforcesSMARTInFrontOfAServerThatDoesNot(t *testing.T) {
	up, srv := newUpstream(t)
	is := smarttest.NewIssuer(t, smarttest.ForAudience("https://fhir.example.org/fhir"))
	doc := wellknown.Configuration{TokenEndpoint: is.URL() + "/token", GrantTypesSupported: []string{"client_credentials"},
		CodeChallengeMethodsSupported: []string{"S256"}, Capabilities: []wellknown.Capability{wellknown.PermissionPatient}}
	h, err := newProxy(t.Context(), is.Config(), doc, options{upstream: srv.URL + "/base"})
	if err != nil {
		t.Fatal(err)
	}
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rds patient/Patient.r"), smarttest.Patient("example"))
	do := func(method, path string) (int, string) {
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}

	t.Run("a search without the patient is rewritten, and what comes back is filtered", func(t *testing.T) {
		code, body := do("GET", "/fhir/Observation?category=laboratory")
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		if strings.Contains(body, "Patient/other") || strings.Contains(body, "Patient/third") || !strings.Contains(body, "Patient/example") {
			t.Errorf("the answer holds other patients' data, or none of the patient's: %s", body)
		}
		last := up.requests()[len(up.requests())-1]
		if !strings.Contains(last, "patient=Patient%2Fexample") || !strings.HasPrefix(last, "GET /base/Observation?") {
			t.Errorf("upstream saw %q, want the search with the patient compartment added", last)
		}
	})
	t.Run("another patient's resource by id is refused", func(t *testing.T) {
		if code, body := do("GET", "/fhir/Observation/other-glucose"); code != 403 || strings.Contains(body, "Patient/other") {
			t.Errorf("%d %s", code, body)
		}
	})
	t.Run("a search naming another patient is refused before upstream", func(t *testing.T) {
		before := len(up.requests())
		code, body := do("GET", "/fhir/Observation?patient=other")
		if code != 403 || strings.Contains(body, "Patient/other") {
			t.Errorf("%d %s", code, body)
		}
		if n := len(up.requests()); n != before {
			t.Errorf("upstream saw %q", up.requests()[before:])
		}
	})
	t.Run("deleting another patient's resource is refused before upstream deletes it", func(t *testing.T) {
		if code, _ := do("DELETE", "/fhir/Observation/other-glucose"); code != 403 {
			t.Errorf("status %d, want 403", code)
		}
		for _, r := range up.requests() {
			if strings.HasPrefix(r, "DELETE") {
				t.Errorf("upstream was asked to %s", r)
			}
		}
		if code, _ := do("DELETE", "/fhir/Observation/example-glucose"); code != 204 {
			t.Errorf("deleting the patient's own Observation: %d, want 204", code)
		}
	})
	t.Run("the bearer token is not forwarded", func(t *testing.T) {
		up.mu.Lock()
		defer up.mu.Unlock()
		for _, a := range up.auths {
			if a != "" {
				t.Errorf("upstream received Authorization %q", a)
			}
		}
	})
	t.Run("without a token nothing is forwarded", func(t *testing.T) {
		before := len(up.requests())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/fhir/Observation?patient=example", nil))
		if w.Code != 401 || len(up.requests()) != before {
			t.Errorf("status %d, upstream asked %d more times", w.Code, len(up.requests())-before)
		}
	})
}
