package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

const (
	labCategory   = `{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}`
	vitalCategory = `{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}`
	labScope      = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
)

func observation(id, patient, category string) string {
	return `{"resourceType":"Observation","id":"` + id + `","status":"final","category":[` + category +
		`],"code":{"text":"x"},"subject":{"reference":"Patient/` + patient + `"}}`
}

func searchset(entries ...string) string {
	return `{"resourceType":"Bundle","type":"searchset","total":` + itoa(len(entries)) + `,"entry":[` + strings.Join(entries, ",") + `]}`
}

func match(resource string) string { return `{"resource":` + resource + `,"search":{"mode":"match"}}` }
func include(resource string) string {
	return `{"resource":` + resource + `,"search":{"mode":"include"}}`
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func patientResource(id string) string {
	return `{"resourceType":"Patient","id":"` + id + `"}`
}

// entryIDs lists the ids of the resources in a Bundle body.
// entryIDs returns the ids of a Bundle's entries, and "withheld" for the
// OperationOutcome entry (search.mode outcome) the guard adds when it
// removed some.
func entryIDs(t *testing.T, body string) []string {
	t.Helper()
	var b struct {
		Total *int `json:"total"`
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
			Search struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, body)
	}
	ids := []string{}
	for _, e := range b.Entry {
		if e.Search.Mode == "outcome" && e.Resource.ResourceType == "OperationOutcome" {
			ids = append(ids, "withheld")
			continue
		}
		ids = append(ids, e.Resource.ID)
	}
	return ids
}

func TestResponseGuard(t *testing.T) {
	type response struct {
		status int
		ctype  string
		header map[string]string
		body   string
	}
	tests := []struct {
		name       string
		scopes     string
		patient    string
		target     string
		cfg        func(*smartmw.Config)
		resp       response
		wantStatus int
		wantIDs    []string // for a Bundle answer
		wantTotal  string   // the "total" kept, when only includes were left out
		wantBody   string   // exact body, when set
	}{
		{
			name: "read of the context patient's Observation passes", scopes: "patient/Observation.rs", patient: "123",
			target:     "/fhir/Observation/o1",
			resp:       response{status: 200, body: observation("o1", "123", labCategory)},
			wantStatus: 200, wantBody: observation("o1", "123", labCategory),
		},
		{
			name: "read of another patient's Observation by id is refused", scopes: "patient/Observation.rs", patient: "123",
			target:     "/fhir/Observation/o2",
			resp:       response{status: 200, body: observation("o2", "456", labCategory)},
			wantStatus: 403,
		},
		{
			name: "read of another patient's Observation is a 404 when configured", scopes: "patient/Observation.rs", patient: "123",
			target: "/fhir/Observation/o2", cfg: func(c *smartmw.Config) { c.FHIR.NotFoundForDenied = true },
			resp:       response{status: 200, body: observation("o2", "456", labCategory)},
			wantStatus: 404,
		},
		{
			name: "a resource of another type than asked for is refused", scopes: "patient/*.rs", patient: "123",
			target:     "/fhir/Observation/o1",
			resp:       response{status: 200, body: `{"resourceType":"Condition","id":"o1","subject":{"reference":"Patient/123"}}`},
			wantStatus: 403,
		},
		{
			name: "the patient's own Patient passes", scopes: "patient/Patient.r", patient: "123",
			target:     "/fhir/Patient/123",
			resp:       response{status: 200, body: patientResource("123")},
			wantStatus: 200, wantBody: patientResource("123"),
		},
		{
			name: "a Patient answered for the context id but with another id is refused", scopes: "patient/Patient.r", patient: "123",
			target:     "/fhir/Patient/123",
			resp:       response{status: 200, body: patientResource("456")},
			wantStatus: 403,
		},
		{
			name: "search results of other patients are dropped", scopes: "patient/Observation.rs", patient: "123",
			target: "/fhir/Observation?patient=123",
			resp: response{status: 200, body: searchset(
				match(observation("a", "123", labCategory)),
				match(observation("b", "456", labCategory)),
				match(observation("c", "123", vitalCategory)))},
			wantStatus: 200, wantIDs: []string{"a", "c", "withheld"},
		},
		{
			name: "granular scope: a vital-signs Observation read is refused", scopes: labScope, patient: "123",
			target:     "/fhir/Observation/v1",
			resp:       response{status: 200, body: observation("v1", "123", vitalCategory)},
			wantStatus: 403,
		},
		{
			name: "granular scope: a laboratory Observation read passes", scopes: labScope, patient: "123",
			target:     "/fhir/Observation/l1",
			resp:       response{status: 200, body: observation("l1", "123", labCategory)},
			wantStatus: 200, wantBody: observation("l1", "123", labCategory),
		},
		{
			name: "granular scope: search keeps laboratory results only", scopes: labScope, patient: "123",
			target: "/fhir/Observation?patient=123&category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
			resp: response{status: 200, body: searchset(
				match(observation("l1", "123", labCategory)),
				match(observation("v1", "123", vitalCategory)))},
			wantStatus: 200, wantIDs: []string{"l1", "withheld"},
		},
		{
			name: "included resources: the patient's own Patient stays, another patient goes", scopes: "patient/Observation.rs patient/Patient.r", patient: "123",
			target: "/fhir/Observation?patient=123&_include=Observation:subject",
			resp: response{status: 200, body: searchset(
				match(observation("a", "123", labCategory)),
				include(patientResource("123")),
				include(patientResource("456")))},
			// Withheld includes are not announced: that one was there
			// would tell that the resource it refers to exists.
			wantStatus: 200, wantIDs: []string{"a", "123"}, wantTotal: `"total":3`,
		},
		{
			name: "included resources of a type the scopes do not reach go", scopes: "patient/Observation.rs", patient: "123",
			target: "/fhir/Observation?patient=123&_include=Observation:subject",
			resp: response{status: 200, body: searchset(
				match(observation("a", "123", labCategory)),
				include(patientResource("123")))},
			wantStatus: 200, wantIDs: []string{"a"}, wantTotal: `"total":2`,
		},
		{
			name: "$everything keeps the patient's resources of every type and drops the others", scopes: "patient/*.rs", patient: "123",
			target: "/fhir/Patient/123/$everything",
			resp: response{status: 200, body: searchset(
				match(patientResource("123")),
				match(observation("a", "123", labCategory)),
				match(observation("b", "456", labCategory)),
				match(`{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/123"}}`))},
			wantStatus: 200, wantIDs: []string{"123", "a", "c", "withheld"},
		},
		{
			name: "a body that is not JSON cannot be checked", scopes: "patient/Observation.rs", patient: "123",
			target:     "/fhir/Observation/o1",
			resp:       response{status: 200, ctype: "application/fhir+xml", body: `<Observation xmlns="http://hl7.org/fhir"/>`},
			wantStatus: 502,
		},
		{
			name: "a compressed body cannot be checked", scopes: "patient/Observation.rs", patient: "123",
			target:     "/fhir/Observation/o1",
			resp:       response{status: 200, header: map[string]string{"Content-Encoding": "gzip"}, body: observation("o1", "123", labCategory)},
			wantStatus: 502,
		},
		{
			name: "an error answer passes as it is", scopes: "patient/Observation.rs", patient: "123",
			target:     "/fhir/Observation/missing",
			resp:       response{status: 404, body: `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`},
			wantStatus: 404, wantBody: `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`,
		},
		{
			name: "SkipResponseGuard lets the handler answer alone", scopes: "patient/Observation.rs", patient: "123",
			target: "/fhir/Observation/o2", cfg: func(c *smartmw.Config) { c.FHIR.SkipResponseGuard = true },
			resp:       response{status: 200, body: observation("o2", "456", labCategory)},
			wantStatus: 200, wantBody: observation("o2", "456", labCategory),
		},
		{
			name: "an unrestricted decision is not held", scopes: "user/Observation.rs",
			target:     "/fhir/Observation/o2",
			resp:       response{status: 200, ctype: "text/plain", body: "not JSON, not checked"},
			wantStatus: 200, wantBody: "not JSON, not checked",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smartmw.Config{Base: "/fhir"}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			authz, err := newAuthz(cfg)
			if err != nil {
				t.Fatal(err)
			}
			fhir := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ct := tc.resp.ctype
				if ct == "" {
					ct = "application/fhir+json"
				}
				w.Header().Set("Content-Type", ct)
				w.Header().Set("ETag", `W/"1"`)
				for k, v := range tc.resp.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.resp.status)
				w.Write([]byte(tc.resp.body))
			})
			g := smartctx.NewGrant(smartctx.Claims{Scopes: scope.Parse(tc.scopes), Patient: tc.patient})
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			r = r.WithContext(smartctx.NewContext(r.Context(), g))
			w := httptest.NewRecorder()
			w.Header().Set("Access-Control-Allow-Origin", "https://app.example.org") // set by CORS before
			authz.Authorize(fhir).ServeHTTP(w, r)

			if w.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.wantStatus, w.Body)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got == "" {
				t.Error("the CORS header set before the authorizer was lost")
			}
			if tc.wantStatus >= 400 && tc.wantStatus != tc.resp.status {
				if strings.Contains(w.Body.String(), `"456"`) || w.Header().Get("ETag") != "" {
					t.Errorf("a refused response leaks the handler's answer: %v %s", w.Header(), w.Body)
				}
			}
			if tc.wantBody != "" && w.Body.String() != tc.wantBody {
				t.Errorf("body = %s, want %s", w.Body, tc.wantBody)
			}
			if tc.wantIDs != nil {
				got := entryIDs(t, w.Body.String())
				if strings.Join(got, ",") != strings.Join(tc.wantIDs, ",") {
					t.Errorf("entries = %v, want %v", got, tc.wantIDs)
				}
				switch {
				case tc.wantTotal != "" && !strings.Contains(w.Body.String(), tc.wantTotal):
					t.Errorf("the total of the matches was not kept (%s): %s", tc.wantTotal, w.Body)
				case tc.wantTotal == "" && len(got) < strings.Count(tc.resp.body, `"resource"`) && strings.Contains(w.Body.String(), `"total"`):
					t.Error("a filtered Bundle still carries the handler's total")
				}
			}
		})
	}
}

func TestResponseGuardRefusesResponsesOverTheBound(t *testing.T) {
	authz, err := newAuthz(smartmw.Config{Base: "/fhir", Bounds: smartmw.Bounds{MaxResponseBytes: 64}})
	if err != nil {
		t.Fatal(err)
	}
	fhir := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(observation("o1", "123", labCategory)))
	})
	g := smartctx.NewGrant(smartctx.Claims{Scopes: scope.Parse("patient/Observation.rs"), Patient: "123"})
	r := httptest.NewRequest(http.MethodGet, "/fhir/Observation/o1", nil)
	r = r.WithContext(smartctx.NewContext(r.Context(), g))
	w := httptest.NewRecorder()
	authz.Authorize(fhir).ServeHTTP(w, r)
	if w.Code != http.StatusBadGateway {
		t.Errorf("status = %d, want 502", w.Code)
	}
}

func TestStoredResourceIsReadWithAReadDecisionBeforeAWrite(t *testing.T) {
	authz, err := newAuthz(smartmw.Config{Base: "/fhir"})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	fhir := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := smartctx.DecisionFromContext(r.Context())
		seen = append(seen, r.Method+" "+string(d.Request().Interaction))
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/fhir+json")
			w.Header().Set("ETag", `W/"7"`)
			w.Write([]byte(observation("o1", "123", labCategory)))
			return
		}
		if got := r.Header.Get("If-Match"); got != `W/"7"` {
			t.Errorf("the write reached the handler with If-Match %q, want the version read", got)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	g := smartctx.NewGrant(smartctx.Claims{Scopes: scope.Parse("patient/Observation.rd"), Patient: "123"})
	r := httptest.NewRequest(http.MethodDelete, "/fhir/Observation/o1", nil)
	r = r.WithContext(smartctx.NewContext(r.Context(), g))
	w := httptest.NewRecorder()
	authz.Authorize(fhir).ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d, want 204", w.Code)
	}
	if strings.Join(seen, ", ") != "GET read, DELETE delete" {
		t.Errorf("the handler saw %v, want the stored resource read as a read, then the delete", seen)
	}
}
