// Package fhirapi is the small FHIR R4 API the framework examples protect:
// two patients and their Observations in memory, read by id and searched
// by patient. Its handlers show what a user's handler does with the
// decision smartguard puts on the request context: they check what they
// load with smartmw.Permits before returning it.
package fhirapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
)

// Base is the path the examples serve the FHIR API under.
const Base = "/fhir"

// Patient ids of the sample data.
const (
	Patient1 = "example-patient-1"
	Patient2 = "example-patient-2"
)

// Store holds the sample resources, keyed by type and then id. It is
// read-only once built, so it is safe for concurrent use.
type Store struct {
	res map[string]map[string][]byte
}

// New returns a Store seeded with two patients and one laboratory
// Observation each.
func New() *Store {
	s := &Store{res: map[string]map[string][]byte{}}
	for _, p := range []struct{ id, family string }{{Patient1, "Rivera"}, {Patient2, "Okafor"}} {
		s.put("Patient", p.id, map[string]any{"resourceType": "Patient", "id": p.id,
			"name": []any{map[string]any{"family": p.family}}})
		s.put("Observation", "obs-"+p.id, map[string]any{"resourceType": "Observation", "id": "obs-" + p.id,
			"status":        "final",
			"category":      []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}}}},
			"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "2339-0", "display": "Glucose [Mass/volume] in Blood"}}},
			"subject":       map[string]any{"reference": "Patient/" + p.id},
			"valueQuantity": map[string]any{"value": 95, "unit": "mg/dL"}})
	}
	return s
}

func (s *Store) put(typ, id string, v map[string]any) {
	b, _ := json.Marshal(v)
	if s.res[typ] == nil {
		s.res[typ] = map[string][]byte{}
	}
	s.res[typ][id] = b
}

// Read returns the status and body of a read of typ/id for the request
// context's decision. A resource the decision does not permit is answered
// 404, like one that does not exist.
func (s *Store) Read(r *http.Request, typ, id string) (int, []byte) {
	d, _ := smartctx.DecisionFromContext(r.Context())
	b, ok := s.res[typ][id]
	if !ok {
		return http.StatusNotFound, outcome("not-found", "no such resource")
	}
	if ok, err := smartmw.Permits(d, b); err != nil || !ok {
		return http.StatusNotFound, outcome("not-found", "no such resource")
	}
	return http.StatusOK, b
}

// Search returns a searchset Bundle of the resources of typ matching the
// "patient", "subject" and "_id" parameters of q that the request
// context's decision permits.
func (s *Store) Search(r *http.Request, typ string, q url.Values) (int, []byte) {
	d, _ := smartctx.DecisionFromContext(r.Context())
	entries := []any{}
	for id, b := range s.res[typ] {
		if v := q.Get("_id"); v != "" && v != id {
			continue
		}
		if !matchesPatient(typ, id, b, q) {
			continue
		}
		if ok, err := smartmw.Permits(d, b); err != nil || !ok {
			continue
		}
		entries = append(entries, map[string]any{"fullUrl": typ + "/" + id, "resource": json.RawMessage(b)})
	}
	out, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries})
	return http.StatusOK, out
}

func matchesPatient(typ, id string, b []byte, q url.Values) bool {
	want := q.Get("patient")
	if want == "" {
		want = q.Get("subject")
	}
	if want == "" {
		return true
	}
	want = strings.TrimPrefix(want, "Patient/")
	if typ == "Patient" {
		return id == want
	}
	var v struct {
		Subject struct{ Reference string } `json:"subject"`
	}
	_ = json.Unmarshal(b, &v)
	return v.Subject.Reference == "Patient/"+want
}

// ServeHTTP serves GET Base/{type}/{id} and GET Base/{type}?params for
// net/http and chi.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		Write(w, http.StatusMethodNotAllowed, outcome("not-supported", "this example API only reads"))
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, Base), "/"), "/")
	switch len(parts) {
	case 1:
		status, body := s.Search(r, parts[0], r.URL.Query())
		Write(w, status, body)
	case 2:
		status, body := s.Read(r, parts[0], parts[1])
		Write(w, status, body)
	default:
		Write(w, http.StatusNotFound, outcome("not-found", "unknown path"))
	}
}

// Write writes a FHIR JSON response.
func Write(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func outcome(code, text string) []byte {
	b, _ := json.Marshal(map[string]any{"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{"severity": "error", "code": code, "diagnostics": text}}})
	return b
}
