package middleware_test

// Behaviours of the security checks that a mutation run found no test
// pinned: changing the code that makes them did not fail any test.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/smartguard/smartguard/smarttest"
)

// pinStore is a FHIR handler for one Observation: a GET answers getStatus
// with stored (or an OperationOutcome when getStatus is not 2xx), with
// ETag W/"3"; any other method is counted and answered 200 with the
// stored resource (204 for a DELETE).
type pinStore struct {
	stored    string
	getStatus int

	mu     sync.Mutex
	seen   []string // method of every request, in order
	writes []*http.Request
}

func (s *pinStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seen = append(s.seen, r.Method)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writes = append(s.writes, r)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/fhir+json")
	switch {
	case r.Method == http.MethodGet && s.getStatus != 0 && s.getStatus != http.StatusOK:
		w.WriteHeader(s.getStatus)
		fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception","diagnostics":"store says %d"}]}`, s.getStatus)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("ETag", `W/"3"`)
		fmt.Fprint(w, s.stored)
	}
}

func pinRequest(method, target, token, contentType, body string) *http.Request {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

const (
	pinLab         = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
	pinJSONPatch   = "application/json-patch+json"
	pinStatusPatch = `[{"op":"replace","path":"/status","value":"amended"}]`
)

// pinObservation is an Observation o1 of patient in category (a code of
// the observation-category system).
func pinObservation(patient, category string) string {
	return `{"resourceType":"Observation","id":"o1","status":"final","category":[{"coding":[{"system":` +
		`"http://terminology.hl7.org/CodeSystem/observation-category","code":"` + category + `"}]}],` +
		`"code":{"text":"glucose"},"subject":{"reference":"Patient/` + patient + `"}}`
}

// TestPinGranularUpdateWithoutPatientGuardsTheConstrainedElement: a
// granular u scope with no patient in context (user/ scopes of a
// practitioner, or of no fhirUser) allows a patch only if it leaves the
// constrained element alone: a patch of /category could move a laboratory
// Observation out of the scope (to social-history, say), so it is refused
// before anything reaches the handler. A patch of another element reaches
// the handler, after the Guard read the stored resource and found it in
// the scope, and carries that version in If-Match.
func TestPinGranularUpdateWithoutPatientGuardsTheConstrainedElement(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, nil)
	const socialHistory = `{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"social-history"}]}`
	users := map[string][]smarttest.TokenOption{
		"practitioner": {smarttest.FHIRUser("Practitioner/pr1")},
		"no fhirUser":  nil,
	}
	tests := []struct {
		name, patch, stored string
		want                int
		wantSeen            string // the methods the handler saw
	}{
		{"patch of status, stored laboratory", pinStatusPatch, pinObservation("p1", "laboratory"), 200, "GET PATCH"},
		{"patch replacing category", `[{"op":"replace","path":"/category","value":[` + socialHistory + `]}]`, pinObservation("p1", "laboratory"), 403, ""},
		{"patch replacing a category code", `[{"op":"replace","path":"/category/0/coding/0/code","value":"social-history"}]`, pinObservation("p1", "laboratory"), 403, ""},
		{"patch removing category", `[{"op":"remove","path":"/category"}]`, pinObservation("p1", "laboratory"), 403, ""},
		{"patch adding a category", `[{"op":"add","path":"/category/-","value":` + socialHistory + `}]`, pinObservation("p1", "laboratory"), 403, ""},
		{"patch moving status onto category", `[{"op":"move","from":"/status","path":"/category"}]`, pinObservation("p1", "laboratory"), 403, ""},
		{"patch of status, stored vital-signs", pinStatusPatch, pinObservation("p1", "vital-signs"), 403, "GET"},
	}
	for user, opts := range users {
		tok := is.Token(t, append([]smarttest.TokenOption{smarttest.Scopes("openid fhirUser user/Observation.u?category=" + pinLab)}, opts...)...)
		for _, tc := range tests {
			t.Run(user+"/"+tc.name, func(t *testing.T) {
				store := &pinStore{stored: tc.stored}
				w := httptest.NewRecorder()
				guard.Handler(store).ServeHTTP(w, pinRequest("PATCH", "/r4/Observation/o1", tok, pinJSONPatch, tc.patch))
				if w.Code != tc.want {
					t.Errorf("status %d, want %d: %s", w.Code, tc.want, w.Body)
				}
				if got := strings.Join(store.seen, " "); got != tc.wantSeen {
					t.Errorf("the handler saw %q, want %q", got, tc.wantSeen)
				}
				if tc.want == 200 && len(store.writes) == 1 {
					if im := store.writes[0].Header.Get("If-Match"); im != `W/"3"` {
						t.Errorf("the patch reached the handler with If-Match %q, want the version read", im)
					}
				}
			})
		}
	}
}

// TestPinStoredReadFailureRefusesTheWrite: before an update, patch or
// delete by id under patient/ scopes, the Guard asks the handler for the
// stored resource. When that read fails (400, 401, 403, 500, 503), the
// Guard cannot know whose resource it would change: the write is refused
// with 502 and never reaches the handler.
func TestPinStoredReadFailureRefusesTheWrite(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, nil)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.cruds"), smarttest.Patient("p1"))
	writes := []struct{ method, contentType, body string }{
		{"PUT", "application/fhir+json", pinObservation("p1", "laboratory")},
		{"PATCH", pinJSONPatch, pinStatusPatch},
		{"DELETE", "", ""},
	}
	for _, wr := range writes {
		for _, status := range []int{400, 401, 403, 500, 503} {
			t.Run(fmt.Sprintf("%s, stored read answered %d", wr.method, status), func(t *testing.T) {
				store := &pinStore{stored: pinObservation("p1", "laboratory"), getStatus: status}
				w := httptest.NewRecorder()
				guard.Handler(store).ServeHTTP(w, pinRequest(wr.method, "/r4/Observation/o1", tok, wr.contentType, wr.body))
				if w.Code != http.StatusBadGateway {
					t.Errorf("status %d, want 502: %s", w.Code, w.Body)
				}
				if len(store.writes) != 0 {
					t.Errorf("%d writes reached the handler", len(store.writes))
				}
				if strings.Contains(w.Body.String(), "store says") {
					t.Errorf("the handler's answer to the stored read reached the client: %s", w.Body)
				}
			})
		}
		// The same write, the stored read answered 200 with the
		// patient's own resource: it goes through, so the rows above
		// are refused for the read's status and nothing else.
		t.Run(wr.method+", stored read answered 200 (control)", func(t *testing.T) {
			store := &pinStore{stored: pinObservation("p1", "laboratory")}
			w := httptest.NewRecorder()
			guard.Handler(store).ServeHTTP(w, pinRequest(wr.method, "/r4/Observation/o1", tok, wr.contentType, wr.body))
			if w.Code >= 300 || len(store.writes) != 1 {
				t.Errorf("status %d, %d writes reached the handler; want it through once: %s", w.Code, len(store.writes), w.Body)
			}
		})
	}
}
