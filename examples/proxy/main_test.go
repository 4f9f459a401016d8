package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/smartguard/smartguard/smarttest"
)

const (
	audience = "https://proxy.example.org/fhir"
	patient1 = "example-patient-1"
	patient2 = "example-patient-2"
)

// upstream is a fake FHIR server that records what it was asked and
// answers every Observation search with one Observation of each patient
// (a careless upstream: the response guard must drop the other's), reads of Patient
// with that patient.
type upstream struct {
	mu   sync.Mutex
	seen []*http.Request
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.seen = append(u.seen, r.Clone(r.Context()))
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/fhir+json")
	switch {
	case strings.HasPrefix(r.URL.Path, "/base/Observation"):
		io.WriteString(w, `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/`+patient1+`"}}},`+
			`{"resource":{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/`+patient2+`"}}}]}`)
	case r.URL.Path == "/base/Patient/"+patient1:
		io.WriteString(w, `{"resourceType":"Patient","id":"`+patient1+`"}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`)
	}
}

func (u *upstream) requests() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.seen...)
}

func setup(t *testing.T, forward bool) (*smarttest.Issuer, *upstream, http.Handler) {
	t.Helper()
	is := smarttest.NewIssuer(t, smarttest.WithAudience(audience))
	up := &upstream{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	h, err := newServer(t.Context(), options{
		upstream: srv.URL + "/base", issuer: is.URL(), audience: audience,
		forwardAuthorization: forward, auth: is.Config(), client: is.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return is, up, h
}

func get(h http.Handler, path, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestSearchIsRewrittenToThePatientsCompartment(t *testing.T) {
	is, up, h := setup(t, false)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient(patient1))
	rec := get(h, "/fhir/Observation?category=laboratory", tok)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), patient2) {
		t.Errorf("another patient's Observation reached the client: %s", rec.Body)
	}
	if !strings.Contains(rec.Body.String(), `"o1"`) {
		t.Errorf("own Observation missing: %s", rec.Body)
	}
	seen := up.requests()
	if len(seen) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(seen))
	}
	got := seen[0]
	if got.URL.Path != "/base/Observation" {
		t.Errorf("upstream path = %q", got.URL.Path)
	}
	q, _ := url.ParseQuery(got.URL.RawQuery)
	if q.Get("category") != "laboratory" || !strings.Contains(got.URL.RawQuery, patient1) {
		t.Errorf("upstream query = %q, want the category and the patient compartment", got.URL.RawQuery)
	}
	if a := got.Header.Get("Authorization"); a != "" {
		t.Errorf("Authorization forwarded upstream: %q", a)
	}
}

func TestDeniedRequestsNeverReachTheUpstream(t *testing.T) {
	is, up, h := setup(t, false)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Patient.rs patient/Observation.rs"), smarttest.Patient(patient1))
	tests := []struct {
		name, path, token string
		want              int
	}{
		{name: "other patient", path: "/fhir/Patient/" + patient2, token: tok, want: 403},
		{name: "type without scope", path: "/fhir/Condition?patient=" + patient1, token: tok, want: 403},
		{name: "no token", path: "/fhir/Patient/" + patient1, want: 401},
		{name: "wrong audience", path: "/fhir/Patient/" + patient1, token: is.Token(t, smarttest.Scopes("patient/*.rs"), smarttest.Patient(patient1), smarttest.WrongAudience()), want: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if rec := get(h, tc.path, tc.token); rec.Code != tc.want {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
		})
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
}

// A search naming another patient is narrowed, not refused: the upstream
// is asked for the intersection with the context patient's compartment
// (repeated FHIR search parameters are ANDed), which is empty.
func TestOtherPatientsSearchIsNarrowed(t *testing.T) {
	is, up, h := setup(t, false)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient(patient1))
	rec := get(h, "/fhir/Observation?patient="+patient2, tok)
	seen := up.requests()
	if rec.Code == 200 && len(seen) == 1 {
		q := seen[0].URL.RawQuery
		if !strings.Contains(q, patient1) {
			t.Errorf("upstream query = %q, want the context patient's compartment added", q)
		}
		t.Logf("status %d, upstream query %q", rec.Code, q)
		return
	}
	if rec.Code != 403 || len(seen) != 0 {
		t.Errorf("status %d with %d upstream requests: want 403 and none, or a narrowed search", rec.Code, len(seen))
	}
}

func TestOwnPatientReadPasses(t *testing.T) {
	is, up, h := setup(t, false)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Patient.rs"), smarttest.Patient(patient1))
	rec := get(h, "/fhir/Patient/"+patient1, tok)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var p struct{ ID string }
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.ID != patient1 {
		t.Errorf("body %s: %v", rec.Body, err)
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("upstream saw %d requests, want 1", n)
	}
}

func TestAuthorizationForwardedOnlyWhenAsked(t *testing.T) {
	is, up, h := setup(t, true)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Patient.rs"), smarttest.Patient(patient1))
	if rec := get(h, "/fhir/Patient/"+patient1, tok); rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := up.requests()[0].Header.Get("Authorization"); got != "Bearer "+tok {
		t.Errorf("upstream Authorization = %q, want the client's", got)
	}
}

func TestDiscoveryFromTheIssuer(t *testing.T) {
	is, up, h := setup(t, false)
	rec := get(h, "/fhir/.well-known/smart-configuration", "")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var doc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc.TokenEndpoint == "" {
		t.Fatalf("discovery %s: %v", rec.Body, err)
	}
	if doc.Issuer != "" && doc.Issuer != is.URL() {
		t.Errorf("issuer = %q, want %q", doc.Issuer, is.URL())
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
}

func TestNewServerRefusesMissingSettings(t *testing.T) {
	if _, err := newServer(t.Context(), options{issuer: "https://auth.example.org", audience: audience}); err == nil {
		t.Error("no -upstream: want an error")
	}
}
