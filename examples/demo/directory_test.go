package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/internal/testissuer"
)

// fakeFHIR answers the two searches of fhirDirectory with fixed bundles,
// and checks it is called with a system/ token of the EHR.
func fakeFHIR(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Errorf("%s without a token", r.URL)
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		switch r.URL.Path {
		case "/fhir/Patient":
			w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[
				{"resource":{"resourceType":"Patient","id":"b","name":[{"text":"Bea Text"}]}},
				{"resource":{"resourceType":"Patient","id":"a","name":[{"given":["Ann","Marie"],"family":"Lee"}],"gender":"female","birthDate":"1990-01-01"}},
				{"resource":{"resourceType":"Patient","id":"c"}}]}`))
		case "/fhir/Encounter":
			w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[
				{"resource":{"resourceType":"Encounter","id":"a-2","status":"finished","subject":{"reference":"Patient/a"},
					"type":[{"coding":[{"display":"Check up"}]}],"period":{"start":"2026-10-02T09:00:00Z"}}},
				{"resource":{"resourceType":"Encounter","id":"a-1","status":"finished","subject":{"reference":"Patient/a"},
					"class":{"display":"ambulatory"},"period":{"start":"2025-01-05"}}},
				{"resource":{"resourceType":"Encounter","id":"x","subject":{"reference":"Group/g"}}}]}`))
		default:
			http.Error(w, "not found", 404)
		}
	})
}

func TestFHIRDirectoryReadsPatientsAndEncounters(t *testing.T) {
	dev, err := testissuer.New("ES256")
	if err != nil {
		t.Fatal(err)
	}
	dev.SetURL("http://127.0.0.1:1/auth")
	dir := &fhirDirectory{api: fakeFHIR(t), base: "http://127.0.0.1:1/fhir", dev: dev}
	ps, err := dir.Patients(context.Background(), devUser)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[0].ID != "a" || ps[1].ID != "b" || ps[2].ID != "c" {
		t.Fatalf("patients %+v, want a, b, c", ps)
	}
	if ps[0].Name != "Ann Marie Lee" || ps[1].Name != "Bea Text" || ps[2].Name != "c" || ps[0].Gender != "female" {
		t.Errorf("names %q %q %q", ps[0].Name, ps[1].Name, ps[2].Name)
	}
	if len(ps[0].Encounters) != 2 || ps[0].Encounters[0].ID != "a-1" || ps[0].Encounters[1].Label != "2026-10-02 Check up (finished) · a-2" {
		t.Errorf("encounters of a: %+v", ps[0].Encounters)
	}
	if !ps[0].hasEncounter("a-2") || ps[1].hasEncounter("a-2") {
		t.Error("hasEncounter")
	}
	if _, ok := findPatient(ps, "nobody"); ok {
		t.Error("findPatient found nobody")
	}
}

// TestEncounterPick: with encounters in the store, the consent page offers
// them, and the picked one (of the picked patient) is in the token.
func TestEncounterPick(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	auth, err := newEmbeddedAuth(srv.URL, srv.URL+"/fhir", 0, 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth.mount(mux)
	(&browser{auth: auth, root: srv.URL, audience: srv.URL + "/fhir", audit: newAuditLog(4),
		dir: &fhirDirectory{api: fakeFHIR(t), base: srv.URL + "/fhir", dev: auth.dev}}).routes(mux)
	d := &demo{root: srv.URL, audience: srv.URL + "/fhir", issuer: auth.dev.URL()}

	p, id := consentFor(t, authorizeURL(d, "launch/patient launch/encounter patient/Encounter.r", "s-e", ""))
	if !strings.Contains(p.body, `<optgroup label="Ann Marie Lee (a)">`) || !strings.Contains(p.body, `value="a-2"`) {
		t.Fatalf("no encounter picker:\n%s", p.body)
	}
	wrong := url.Values{"request": {id}, "decision": {"approve"}, "scope": {"launch/patient", "launch/encounter"},
		"patient": {"b"}, "encounter": {"a-2"}}
	if p := fetch(t, http.MethodPost, d.issuer+"/consent", wrong); p.status != 400 {
		t.Errorf("another patient's encounter: %d", p.status)
	}
	good := url.Values{"request": {id}, "decision": {"approve"}, "scope": {"launch/patient", "launch/encounter", "patient/Encounter.r"},
		"patient": {"a"}, "encounter": {"a-2"}}
	resp := redeem(t, d, fetch(t, http.MethodPost, d.issuer+"/consent", good), "s-e")
	if resp["patient"] != "a" || resp["encounter"] != "a-2" {
		t.Errorf("token response %v", resp)
	}
	if c := claims(t, resp["access_token"].(string)); c["encounter"] != "a-2" {
		t.Errorf("access token %v", c)
	}
	// An EHR launch with an encounter puts it in context too.
	l := fetch(t, http.MethodPost, srv.URL+"/ehr/launch", url.Values{"patient": {"a"}, "encounter": {"a-1"}})
	loc, _ := url.Parse(l.header.Get("Location"))
	if l.status != 303 || loc == nil {
		t.Fatalf("EHR launch: %d", l.status)
	}
	_, id = consentFor(t, authorizeURL(d, "launch patient/Encounter.r", "s-f", loc.Query().Get("launch")))
	resp = redeem(t, d, fetch(t, http.MethodPost, d.issuer+"/consent",
		url.Values{"request": {id}, "decision": {"approve"}, "scope": {"launch", "patient/Encounter.r"}}), "s-f")
	if resp["patient"] != "a" || resp["encounter"] != "a-1" {
		t.Errorf("EHR launch token response %v", resp)
	}
}
