package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// store is the FHIR server the in-process runs protect: an in-memory R4
// API of Patients and Observations that knows nothing of SMART, like the
// servers smartguard is put in front of. It serves reads by id, searches
// of Observations by patient, subject and code (with _count), creates and
// updates, with or without a Guard in front. Its answers are built from
// stored bytes, so that it costs little next to the protection measured.
type store struct {
	path string // where the API is served: "/fhir"
	base string // the full base URL, for fullUrl

	mu        sync.RWMutex
	res       map[string][]byte   // "Type/id" → the resource
	byPatient map[string][]string // patient id → its seeded Observations' keys
	byCode    map[string][]string // code → seeded Observations' keys
	created   []string            // keys of created resources, oldest first
	next      int                 // the number of the next created resource
}

// maxCreated bounds the resources a run can create; older ones are
// forgotten first.
const maxCreated = 1000

// Seed data: patients p00 … p19, each with 20 laboratory Observations of
// five codes, so that a patient search answers 20 entries.
const (
	seedPatients     = 20
	obsPerPatient    = 20
	loinc            = "http://loinc.org"
	observationCodes = 5
)

func patientID(i int) string { return fmt.Sprintf("p%02d", i) }

func obsCode(i int) string { return strconv.Itoa(2339 + i) }

// newStore returns a store with the seed data, serving under path of the
// base URL base.
func newStore(base, path string) *store {
	s := &store{path: path, base: base, res: map[string][]byte{}, byPatient: map[string][]string{}, byCode: map[string][]string{}}
	for p := range seedPatients {
		id := patientID(p)
		s.res["Patient/"+id] = mustJSON(map[string]any{
			"resourceType": "Patient", "id": id, "active": true,
			"name":                []any{map[string]any{"family": "Load", "given": []string{id}}},
			"gender":              "unknown",
			"birthDate":           "1980-01-01",
			"generalPractitioner": []any{map[string]any{"reference": "Practitioner/dr-load"}},
		})
		for o := range obsPerPatient {
			oid := fmt.Sprintf("obs-%s-%02d", id, o)
			code := obsCode(o % observationCodes)
			key := "Observation/" + oid
			s.res[key] = observation(oid, id, code)
			s.byPatient[id] = append(s.byPatient[id], key)
			s.byCode[code] = append(s.byCode[code], key)
		}
	}
	return s
}

// observation is a laboratory result of patient pat, about 0.6 KiB.
func observation(id, pat, code string) []byte {
	return mustJSON(map[string]any{
		"resourceType": "Observation", "id": id, "status": "final",
		"meta": map[string]any{"versionId": "1", "lastUpdated": "2026-10-02T09:30:00Z"},
		"category": []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory", "display": "Laboratory"}}}},
		"code":              map[string]any{"coding": []any{map[string]any{"system": loinc, "code": code}}, "text": "test " + code},
		"subject":           map[string]any{"reference": "Patient/" + pat},
		"effectiveDateTime": "2026-10-02T09:30:00Z",
		"performer":         []any{map[string]any{"reference": "Practitioner/dr-load"}},
		"valueQuantity":     map[string]any{"value": 100, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (s *store) outcome(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	w.Write(mustJSON(map[string]any{"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{"severity": "error", "code": code, "diagnostics": msg}}}))
}

func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel, ok := strings.CutPrefix(r.URL.Path, s.path+"/")
	if !ok {
		s.outcome(w, http.StatusNotFound, "not-found", "not under the FHIR base")
		return
	}
	parts := strings.Split(rel, "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 2:
		s.read(w, parts[0]+"/"+parts[1])
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "Observation":
		s.search(w, r.URL.Query())
	case r.Method == http.MethodPost && len(parts) == 1:
		s.write(w, r, parts[0], "")
	case r.Method == http.MethodPut && len(parts) == 2:
		s.write(w, r, parts[0], parts[1])
	default:
		s.outcome(w, http.StatusMethodNotAllowed, "not-supported", "not supported by the load-test store")
	}
}

func (s *store) read(w http.ResponseWriter, key string) {
	s.mu.RLock()
	b, ok := s.res[key]
	s.mu.RUnlock()
	if !ok {
		s.outcome(w, http.StatusNotFound, "not-found", key+" is not known")
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Write(b)
}

// search answers Observation searches by patient or subject (one id,
// "Patient/id" or a full URL) and by code ("code" or "system|code"),
// ANDed, at most _count entries (default 20).
func (s *store) search(w http.ResponseWriter, q url.Values) {
	count := 20
	if c := q.Get("_count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 {
			s.outcome(w, http.StatusBadRequest, "invalid", "bad _count")
			return
		}
		count = n
	}
	var keys []string
	var code string
	for name, vals := range q {
		switch name {
		case "patient", "subject":
			v := vals[0]
			v = v[strings.LastIndexByte(v, '/')+1:]
			keys = s.byPatient[v]
		case "code":
			_, code, _ = strings.Cut(vals[0], "|")
			if code == "" {
				code = vals[0]
			}
		case "_count":
		default:
			s.outcome(w, http.StatusBadRequest, "not-supported", "the load-test store does not search by "+name)
			return
		}
	}
	if !q.Has("patient") && !q.Has("subject") {
		keys = s.byCode[code]
		code = ""
	}
	buf := make([]byte, 0, 64+count*700)
	buf = append(buf, `{"resourceType":"Bundle","type":"searchset","entry":[`...)
	n := 0
	s.mu.RLock()
	for _, k := range keys {
		if n == count {
			break
		}
		b := s.res[k]
		if code != "" && !strings.Contains(string(b), `"code":"`+code+`"`) {
			continue
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"fullUrl":"`...)
		buf = append(buf, s.base...)
		buf = append(buf, '/')
		buf = append(buf, k...)
		buf = append(buf, `","resource":`...)
		buf = append(buf, b...)
		buf = append(buf, `,"search":{"mode":"match"}}`...)
		n++
	}
	s.mu.RUnlock()
	buf = append(buf, "]}"...)
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Write(buf)
}

// write creates (id "") or updates typ/id with the request body, which
// must be a JSON resource of that type (with that id for an update).
func (s *store) write(w http.ResponseWriter, r *http.Request, typ, id string) {
	var res map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&res); err != nil {
		s.outcome(w, http.StatusBadRequest, "invalid", "the body is not a JSON resource")
		return
	}
	if res["resourceType"] != typ || id != "" && res["id"] != id {
		s.outcome(w, http.StatusBadRequest, "invalid", "the body is not the "+typ+" named by the URL")
		return
	}
	status := http.StatusCreated
	s.mu.Lock()
	if id == "" {
		s.next++
		id = fmt.Sprintf("new-%d", s.next)
		res["id"] = id
	}
	key := typ + "/" + id
	if _, ok := s.res[key]; ok {
		status = http.StatusOK
	} else {
		s.created = append(s.created, key)
		if len(s.created) > maxCreated {
			delete(s.res, s.created[0])
			s.created = s.created[1:]
		}
	}
	b := mustJSON(res)
	s.res[key] = b
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Header().Set("Location", s.base+"/"+key)
	w.WriteHeader(status)
	w.Write(b)
}
