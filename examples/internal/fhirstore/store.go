// Package fhirstore is the examples' in-memory FHIR R4 server: read,
// search, create, update and delete of JSON resources, seeded with sample
// patients. It shows what a handler behind smartguard does with the
// decision on its request context.
package fhirstore

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	smartctx "github.com/smartguard/smartguard/context"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
)

// Store is an in-memory FHIR R4 server: read, search, create, update and
// delete of JSON resources. It trusts the authorizer in front of it for
// what may be asked, and reads the decision to enforce what only it can
// see: the stored version of a resource before it changes it.
type Store struct {
	mu   sync.RWMutex
	data map[string]map[string]json.RawMessage // type → id → resource
	base string                                // the FHIR base URL, for fullUrl and Location
	path string                                // its path, such as "/fhir"
}

// New returns a Store for the FHIR base URL base, holding the sample data.
func New(base string) (*Store, error) { return newStore(base, Seed()) }

func newStore(base string, resources []json.RawMessage) (*Store, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	s := &Store{data: map[string]map[string]json.RawMessage{}, base: strings.TrimSuffix(base, "/"),
		path: strings.TrimSuffix(u.Path, "/")}
	for _, r := range resources {
		var head struct{ ResourceType, ID string }
		if err := json.Unmarshal(r, &head); err != nil {
			return nil, err
		}
		s.put(head.ResourceType, head.ID, r)
	}
	return s, nil
}

func (s *Store) put(typ, id string, r json.RawMessage) {
	if s.data[typ] == nil {
		s.data[typ] = map[string]json.RawMessage{}
	}
	s.data[typ][id] = r
}

func (s *Store) get(typ, id string) (json.RawMessage, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.data[typ][id]
	return r, ok
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func outcome(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{"severity": "error", "code": code, "diagnostics": msg}}})
}

// ServeHTTP answers a request the authorizer let through, by the decision
// it put on the context.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d, ok := smartctx.DecisionFromContext(r.Context())
	if !ok {
		outcome(w, http.StatusInternalServerError, "exception", "no authorization decision")
		return
	}
	switch d.Interaction() {
	case scope.InteractionRead:
		s.read(w, d)
	case scope.InteractionSearchType:
		s.search(w, r, d)
	case scope.InteractionCreate:
		s.create(w, r, d)
	case scope.InteractionUpdate:
		s.update(w, r, d)
	case scope.InteractionDelete:
		s.delete(w, d)
	default:
		outcome(w, http.StatusNotImplemented, "not-supported", fmt.Sprintf("the demo server does not do %s", d.Interaction()))
	}
}

func (s *Store) read(w http.ResponseWriter, d *smartctx.Decision) {
	res, ok := s.get(d.Type(), d.ID())
	if !ok {
		outcome(w, http.StatusNotFound, "not-found", d.Type()+"/"+d.ID()+" is not known")
		return
	}
	// The authorizer's response guard checks that res is in the patient's
	// compartment and matches any granular scope before it goes out.
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Write(res)
}

// search supports patient, subject, category, code and _id, each a
// ","-list of alternatives, the parameters ANDed; and compartment
// searches (Patient/{id}/{type}).
func (s *Store) search(w http.ResponseWriter, r *http.Request, d *smartctx.Decision) {
	q, err := url.ParseQuery(d.Query())
	if err != nil {
		outcome(w, http.StatusBadRequest, "invalid", "bad query")
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, s.path+"/Patient/"); ok { // compartment search
		if id, _, ok := strings.Cut(rest, "/"); ok {
			q.Add("patient", id)
		}
	}
	for name := range q {
		switch name {
		case "patient", "subject", "category", "code", "_id", "_count":
		default:
			outcome(w, http.StatusBadRequest, "not-supported", "the demo server does not search by "+name)
			return
		}
	}
	s.mu.RLock()
	var ids []string
	for id := range s.data[d.Type()] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var entries []any
	for _, id := range ids {
		res := s.data[d.Type()][id]
		if matches(res, id, q) {
			entries = append(entries, map[string]any{"fullUrl": s.base + "/" + d.Type() + "/" + id,
				"resource": res, "search": map[string]any{"mode": "match"}})
		}
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"resourceType": "Bundle", "type": "searchset",
		"total": len(entries), "entry": entries})
}

// matches reports whether resource res with the given id satisfies every
// search parameter of q.
func matches(res json.RawMessage, id string, q url.Values) bool {
	var r struct {
		Subject  *struct{ Reference string } `json:"subject"`
		Patient  *struct{ Reference string } `json:"patient"`
		Category json.RawMessage             `json:"category"`
		Code     json.RawMessage             `json:"code"`
	}
	if json.Unmarshal(res, &r) != nil {
		return false
	}
	for name, values := range q {
		for _, v := range values { // repeated parameters are ANDed
			alts := strings.Split(v, ",")
			var ok bool
			switch name {
			case "_count":
				ok = true
			case "_id":
				ok = slices.Contains(alts, id)
			case "patient", "subject":
				ref := ""
				if r.Subject != nil {
					ref = r.Subject.Reference
				} else if r.Patient != nil {
					ref = r.Patient.Reference
				}
				for _, a := range alts {
					if ref != "" && (ref == a || ref == "Patient/"+a || strings.HasSuffix(a, "/"+ref)) {
						ok = true
					}
				}
			case "category", "code":
				field := r.Code
				if name == "category" {
					field = r.Category
				}
				for _, a := range alts {
					if tokenMatch(field, a) {
						ok = true
					}
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// tokenMatch matches a CodeableConcept (or a list of them) against a FHIR
// token search value: "code", "system|code", "|code" or "system|".
func tokenMatch(field json.RawMessage, value string) bool {
	if len(field) == 0 {
		return false
	}
	var concepts []struct {
		Coding []struct{ System, Code string } `json:"coding"`
	}
	if field[0] == '{' {
		field = append(append(json.RawMessage("["), field...), ']')
	}
	if json.Unmarshal(field, &concepts) != nil {
		return false
	}
	system, code, hasSystem := strings.Cut(value, "|")
	if !hasSystem {
		system, code = "", value
	}
	for _, c := range concepts {
		for _, cd := range c.Coding {
			switch {
			case !hasSystem && cd.Code == code:
				return true
			case hasSystem && code == "" && cd.System == system:
				return true
			case hasSystem && cd.System == system && cd.Code == code:
				return true
			}
		}
	}
	return false
}

func readResource(r *http.Request, typ string) (map[string]any, json.RawMessage, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, nil, err
	}
	if m["resourceType"] != typ {
		return nil, nil, fmt.Errorf("resourceType must be %s", typ)
	}
	return m, body, nil
}

func (s *Store) create(w http.ResponseWriter, r *http.Request, d *smartctx.Decision) {
	m, _, err := readResource(r, d.Type())
	if err != nil {
		outcome(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	id := strings.ToLower(rand.Text()[:16])
	m["id"] = id
	b, _ := json.Marshal(m)
	s.mu.Lock()
	s.put(d.Type(), id, b)
	s.mu.Unlock()
	w.Header().Set("Location", s.base+"/"+d.Type()+"/"+id)
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(http.StatusCreated)
	w.Write(b)
}

// permitted checks a stored resource against the decision before the
// store changes it: the one thing the authorizer cannot see.
func permitted(w http.ResponseWriter, d *smartctx.Decision, stored json.RawMessage) bool {
	if !d.Restricted() {
		return true
	}
	if ok, err := smartmw.Permits(d, stored); err != nil || !ok {
		outcome(w, http.StatusForbidden, "forbidden", "the token does not allow this resource")
		return false
	}
	return true
}

func (s *Store) update(w http.ResponseWriter, r *http.Request, d *smartctx.Decision) {
	m, _, err := readResource(r, d.Type())
	if err != nil || m["id"] != d.ID() {
		outcome(w, http.StatusBadRequest, "invalid", "the body must be the "+d.Type()+" with id "+d.ID())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.data[d.Type()][d.ID()]
	if exists && !permitted(w, d, old) {
		return
	}
	b, _ := json.Marshal(m)
	s.put(d.Type(), d.ID(), b)
	status := http.StatusOK
	if !exists {
		status = http.StatusCreated
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Store) delete(w http.ResponseWriter, d *smartctx.Decision) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.data[d.Type()][d.ID()]
	if exists && !permitted(w, d, old) {
		return
	}
	delete(s.data[d.Type()], d.ID())
	w.WriteHeader(http.StatusNoContent)
}
