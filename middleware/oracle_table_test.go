package middleware_test

// With NotFoundForDenied, nothing a client gets may tell another
// patient's existing resource from a missing one. Each row sends the same
// request twice, to two stores that differ only in that: in world (a) the
// store holds Observation/x of patient p2, in world (b) it holds no
// Observation/x. The client's answers (status, headers but Date, body)
// must be byte for byte the same.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
	"github.com/smartguard/smartguard/smarttest"
)

const oracleLastModified = "Mon, 02 Nov 2026 10:00:00 GMT"

// oracleStore is a small FHIR server for Observations under /r4, that
// knows nothing of SMART but knows HTTP: read, vread, instance history,
// search (patient, _include=Observation:has-member), update (creating
// when updateCreate, else 405 for a missing id), JSON Patch (replace and
// add of top-level elements), delete, the instance operation $validate,
// and batches of those. It honours If-Match (412), If-None-Match and
// If-Modified-Since (304), and _format or Accept asking for XML. A missing
// resource is answered 404 with its own OperationOutcome naming it.
type oracleStore struct {
	updateCreate bool

	mu       sync.Mutex
	versions map[string][]map[string]any // id → versions, oldest first
}

func newOracleStore(withTarget, updateCreate bool) *oracleStore {
	obs := func(id, patient string, extra map[string]any) map[string]any {
		m := map[string]any{"resourceType": "Observation", "id": id, "status": "final",
			"code": map[string]any{"text": "glucose"}, "subject": map[string]any{"reference": "Patient/" + patient}}
		maps.Copy(m, extra)
		return m
	}
	s := &oracleStore{updateCreate: updateCreate, versions: map[string][]map[string]any{
		"o1": {obs("o1", "p1", map[string]any{"hasMember": []any{map[string]any{"reference": "Observation/x"}}})},
		"o3": {obs("o3", "p1", nil)},
	}}
	if withTarget {
		s.versions["x"] = []map[string]any{
			obs("x", "p2", map[string]any{"valueString": "first"}),
			obs("x", "p2", map[string]any{"valueString": "second"}),
		}
	}
	for _, vs := range s.versions {
		for i, v := range vs {
			v["meta"] = map[string]any{"versionId": strconv.Itoa(i + 1), "lastUpdated": "2026-11-02T10:00:00Z"}
		}
	}
	return s
}

// snapshot is the store's Observation/x, to tell whether a request
// changed it.
func (s *oracleStore) snapshot() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(s.versions["x"])
	return string(b)
}

func (s *oracleStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serve(w, r)
}

func (s *oracleStore) serve(w http.ResponseWriter, r *http.Request) {
	xml := r.URL.Query().Get("_format") == "xml" || strings.Contains(r.Header.Get("Accept"), "xml")
	path := strings.Trim(strings.TrimPrefix(r.URL.Path, "/r4"), "/")
	seg := strings.Split(path, "/")
	if path == "" && r.Method == http.MethodPost {
		s.batch(w, r)
		return
	}
	if seg[0] != "Observation" {
		oracleOutcome(w, xml, http.StatusNotFound, "not-found", "unknown type "+seg[0])
		return
	}
	if len(seg) == 1 {
		s.search(w, r)
		return
	}
	id := seg[1]
	vs, ok := s.versions[id]
	if !ok {
		if r.Method == http.MethodPut && len(seg) == 2 {
			if !s.updateCreate {
				oracleOutcome(w, xml, http.StatusMethodNotAllowed, "not-supported", "Observation/"+id+" does not exist and update as create is not supported")
				return
			}
			s.update(w, r, id, xml, true)
			return
		}
		oracleOutcome(w, xml, http.StatusNotFound, "not-found", "Observation/"+id+" is not known")
		return
	}
	cur := vs[len(vs)-1]
	etag := fmt.Sprintf(`W/"%d"`, len(vs))
	if im := r.Header.Get("If-Match"); im != "" && im != etag {
		oracleOutcome(w, xml, http.StatusPreconditionFailed, "conflict", "Observation/"+id+" is at version "+strconv.Itoa(len(vs)))
		return
	}
	switch {
	case len(seg) == 2 && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		inm, ims := r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
		if inm == "*" || inm == etag || inm == "" && oracleNotModifiedSince(ims) {
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		oracleResource(w, r, xml, http.StatusOK, cur, etag)
	case len(seg) == 2 && r.Method == http.MethodPut:
		s.update(w, r, id, xml, false)
	case len(seg) == 2 && r.Method == http.MethodPatch:
		var ops []struct {
			Op, Path string
			Value    any
		}
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &ops) != nil {
			oracleOutcome(w, xml, http.StatusBadRequest, "invalid", "not a JSON Patch")
			return
		}
		next := maps.Clone(cur)
		for _, op := range ops {
			key := strings.TrimPrefix(op.Path, "/")
			if op.Op != "replace" && op.Op != "add" || strings.Contains(key, "/") {
				oracleOutcome(w, xml, http.StatusUnprocessableEntity, "not-supported", "patch operation not supported")
				return
			}
			next[key] = op.Value
		}
		next["meta"] = map[string]any{"versionId": strconv.Itoa(len(vs) + 1), "lastUpdated": "2026-11-02T10:00:00Z"}
		s.versions[id] = append(vs, next)
		oracleResource(w, r, xml, http.StatusOK, next, fmt.Sprintf(`W/"%d"`, len(vs)+1))
	case len(seg) == 2 && r.Method == http.MethodDelete:
		delete(s.versions, id)
		w.WriteHeader(http.StatusNoContent)
	case len(seg) == 3 && seg[2] == "_history" && r.Method == http.MethodGet:
		var entries []any
		for i := len(vs) - 1; i >= 0; i-- {
			entries = append(entries, map[string]any{"fullUrl": smarttest.DefaultAudience + "/Observation/" + id,
				"resource": vs[i], "request": map[string]any{"method": "PUT", "url": "Observation/" + id},
				"response": map[string]any{"status": "200 OK", "etag": fmt.Sprintf(`W/"%d"`, i+1)}})
		}
		oracleJSON(w, http.StatusOK, map[string]any{"resourceType": "Bundle", "type": "history", "total": len(vs), "entry": entries})
	case len(seg) == 4 && seg[2] == "_history" && r.Method == http.MethodGet:
		v, err := strconv.Atoi(seg[3])
		if err != nil || v < 1 || v > len(vs) {
			oracleOutcome(w, xml, http.StatusNotFound, "not-found", "Observation/"+id+"/_history/"+seg[3]+" is not known")
			return
		}
		oracleResource(w, r, xml, http.StatusOK, vs[v-1], fmt.Sprintf(`W/"%d"`, v))
	case len(seg) == 3 && seg[2] == "$validate" && r.Method == http.MethodPost:
		oracleOutcome(w, xml, http.StatusOK, "informational", "Observation/"+id+" may be deleted")
	default:
		oracleOutcome(w, xml, http.StatusMethodNotAllowed, "not-supported", r.Method+" "+path)
	}
}

func (s *oracleStore) update(w http.ResponseWriter, r *http.Request, id string, xml, create bool) {
	var res map[string]any
	body, _ := io.ReadAll(r.Body)
	if json.Unmarshal(body, &res) != nil || res["id"] != id {
		oracleOutcome(w, xml, http.StatusBadRequest, "invalid", "the body is not Observation/"+id)
		return
	}
	n := len(s.versions[id]) + 1
	res["meta"] = map[string]any{"versionId": strconv.Itoa(n), "lastUpdated": "2026-11-02T10:00:00Z"}
	s.versions[id] = append(s.versions[id], res)
	status := http.StatusOK
	if create {
		status = http.StatusCreated
		w.Header().Set("Location", smarttest.DefaultAudience+"/Observation/"+id+"/_history/1")
	}
	oracleResource(w, r, xml, status, res, fmt.Sprintf(`W/"%d"`, n))
}

// search answers patient=, subject= and _include=Observation:has-member;
// other parameters are ignored.
func (s *oracleStore) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	want := ""
	for _, p := range []string{"patient", "subject"} {
		if v := q.Get(p); v != "" {
			want = "Patient/" + strings.TrimPrefix(v, "Patient/")
		}
	}
	var entries []any
	var included []string
	for _, id := range slices.Sorted(maps.Keys(s.versions)) {
		cur := s.versions[id][len(s.versions[id])-1]
		if want != "" && cur["subject"].(map[string]any)["reference"] != want {
			continue
		}
		entries = append(entries, map[string]any{"fullUrl": smarttest.DefaultAudience + "/Observation/" + id, "resource": cur, "search": map[string]any{"mode": "match"}})
		if slices.Contains(q["_include"], "Observation:has-member") {
			members, _ := cur["hasMember"].([]any)
			for _, m := range members {
				ref, _ := m.(map[string]any)["reference"].(string)
				if mid, ok := strings.CutPrefix(ref, "Observation/"); ok && s.versions[mid] != nil && !slices.Contains(included, mid) {
					included = append(included, mid)
				}
			}
		}
	}
	matches := len(entries)
	for _, id := range included {
		vs := s.versions[id]
		entries = append(entries, map[string]any{"fullUrl": smarttest.DefaultAudience + "/Observation/" + id, "resource": vs[len(vs)-1], "search": map[string]any{"mode": "include"}})
	}
	oracleJSON(w, http.StatusOK, map[string]any{"resourceType": "Bundle", "type": "searchset", "total": matches, "entry": entries})
}

// batch runs each entry through the store as a request of its own and
// answers a batch-response.
func (s *oracleStore) batch(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Type  string `json:"type"`
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
			Request  struct {
				Method, URL, IfNoneMatch, IfMatch, IfModifiedSince string
			} `json:"request"`
		} `json:"entry"`
	}
	body, _ := io.ReadAll(r.Body)
	if json.Unmarshal(body, &b) != nil {
		oracleOutcome(w, false, http.StatusBadRequest, "invalid", "not a Bundle")
		return
	}
	var entries []any
	for _, e := range b.Entry {
		var rb io.Reader
		if len(e.Resource) > 0 {
			rb = bytes.NewReader(e.Resource)
		}
		sub := httptest.NewRequest(e.Request.Method, "/r4/"+e.Request.URL, rb)
		for k, v := range map[string]string{"If-None-Match": e.Request.IfNoneMatch, "If-Match": e.Request.IfMatch, "If-Modified-Since": e.Request.IfModifiedSince} {
			if v != "" {
				sub.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		s.serve(rec, sub)
		resp := map[string]any{"status": fmt.Sprintf("%d %s", rec.Code, http.StatusText(rec.Code))}
		if et := rec.Header().Get("ETag"); et != "" {
			resp["etag"] = et
		}
		entry := map[string]any{"response": resp}
		var res map[string]any
		if rec.Body.Len() > 0 && json.Unmarshal(rec.Body.Bytes(), &res) == nil {
			if rec.Code >= 400 {
				resp["outcome"] = res
			} else {
				entry["resource"] = res
			}
		}
		entries = append(entries, entry)
	}
	oracleJSON(w, http.StatusOK, map[string]any{"resourceType": "Bundle", "type": b.Type + "-response", "entry": entries})
}

// oracleNotModifiedSince reports whether the store's resources were last
// modified at or before ims, an HTTP date.
func oracleNotModifiedSince(ims string) bool {
	since, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	lm, _ := http.ParseTime(oracleLastModified)
	return !lm.After(since)
}

func oracleJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	w.Write(b)
}

func oracleResource(w http.ResponseWriter, r *http.Request, xml bool, status int, res map[string]any, etag string) {
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Last-Modified", oracleLastModified)
	if xml {
		body := fmt.Sprintf(`<Observation xmlns="http://hl7.org/fhir"><id value="%s"/><status value="%s"/><subject><reference value="%s"/></subject></Observation>`,
			res["id"], res["status"], res["subject"].(map[string]any)["reference"])
		h.Set("Content-Type", "application/fhir+xml")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			io.WriteString(w, body)
		}
		return
	}
	b, _ := json.Marshal(res)
	h.Set("Content-Type", "application/fhir+json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

func oracleOutcome(w http.ResponseWriter, xml bool, status int, code, diagnostics string) {
	if xml {
		w.Header().Set("Content-Type", "application/fhir+xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<OperationOutcome xmlns="http://hl7.org/fhir"><issue><severity value="error"/><code value="%s"/><diagnostics value="%s"/></issue></OperationOutcome>`, code, diagnostics)
		return
	}
	severity := "error"
	if status < 400 {
		severity = "information"
	}
	oracleJSON(w, status, map[string]any{"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{"severity": severity, "code": code, "diagnostics": diagnostics}}})
}

// oracleAnswer is what the client got, Date left out.
type oracleAnswer struct {
	status int
	header http.Header
	body   string
}

func (a oracleAnswer) String() string {
	var h []string
	for _, k := range slices.Sorted(maps.Keys(a.header)) {
		h = append(h, k+": "+strings.Join(a.header[k], ", "))
	}
	return fmt.Sprintf("%d [%s] %s", a.status, strings.Join(h, "; "), a.body)
}

// TestNoExistenceOracleTable: for each request shape, another patient's
// existing Observation/x and a missing Observation/x get the same answer
// under NotFoundForDenied, and the existing one is not changed.
func TestNoExistenceOracleTable(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, func(cfg *smartmw.Config) {
		cfg.FHIR.NotFoundForDenied = true
		cfg.FHIR.Operations = map[string]smartmw.Operation{"Observation/[id]/$validate": {Permission: scope.Read}}
	})
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.cruds"), smarttest.Patient("p1"))
	own := `{"resourceType":"Observation","id":"x","status":"final","code":{"text":"glucose"},"subject":{"reference":"Patient/p1"}}`
	batch := func(request string) string {
		return `{"resourceType":"Bundle","type":"batch","entry":[{"request":` + request + `}]}`
	}
	tests := []struct {
		name           string
		method, target string
		header         map[string]string
		body           string
		updateCreate   bool // the store creates on update; else 405 for a missing id
	}{
		{name: "read", method: "GET", target: "/r4/Observation/x"},
		{name: "vread of an older version", method: "GET", target: "/r4/Observation/x/_history/1"},
		{name: "instance history", method: "GET", target: "/r4/Observation/x/_history"},
		{name: "HEAD", method: "HEAD", target: "/r4/Observation/x"},
		{name: "If-None-Match * answered 304 for what exists", method: "GET", target: "/r4/Observation/x", header: map[string]string{"If-None-Match": "*"}},
		{name: "If-Modified-Since answered 304 for what exists", method: "GET", target: "/r4/Observation/x", header: map[string]string{"If-Modified-Since": oracleLastModified}},
		{name: "If-Match on a GET answered 412 for what exists", method: "GET", target: "/r4/Observation/x", header: map[string]string{"If-Match": `W/"1"`}},
		{name: "_format=xml answered in XML for what exists", method: "GET", target: "/r4/Observation/x?_format=xml"},
		{name: "Accept fhir+xml answered in XML for what exists", method: "GET", target: "/r4/Observation/x", header: map[string]string{"Accept": "application/fhir+xml"}},
		{name: "PUT by id, the store creating on update", method: "PUT", target: "/r4/Observation/x", body: own, updateCreate: true},
		{name: "PUT by id, the store refusing update as create", method: "PUT", target: "/r4/Observation/x", body: own},
		{name: "PATCH by id", method: "PATCH", target: "/r4/Observation/x", header: map[string]string{"Content-Type": "application/json-patch+json"},
			body: `[{"op":"replace","path":"/status","value":"amended"}]`},
		{name: "DELETE by id", method: "DELETE", target: "/r4/Observation/x"},
		{name: "instance operation $validate", method: "POST", target: "/r4/Observation/x/$validate",
			body: `{"resourceType":"Parameters","parameter":[{"name":"mode","valueCode":"delete"}]}`},
		{name: "batch GET entry with ifNoneMatch *", method: "POST", target: "/r4",
			body: batch(`{"method":"GET","url":"Observation/x","ifNoneMatch":"*"}`)},
		{name: "batch GET entry", method: "POST", target: "/r4", body: batch(`{"method":"GET","url":"Observation/x"}`)},
		{name: "own search including has-member x", method: "GET", target: "/r4/Observation?patient=p1&_include=Observation:has-member"},
	}
	serve := func(store *oracleStore, method, target, body string, header map[string]string) oracleAnswer {
		var rb io.Reader
		if body != "" {
			rb = strings.NewReader(body)
		}
		r := httptest.NewRequest(method, target, rb)
		if body != "" {
			r.Header.Set("Content-Type", "application/fhir+json")
		}
		for k, v := range header {
			r.Header.Set(k, v)
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		guard.Handler(store).ServeHTTP(w, r)
		res := w.Result()
		res.Header.Del("Date")
		return oracleAnswer{status: res.StatusCode, header: res.Header, body: w.Body.String()}
	}
	// The store and the token work: the patient's own Observation is
	// read, so that the rows below compare answers of the Guard and the
	// store, not two refusals of the token.
	if got := serve(newOracleStore(true, false), "GET", "/r4/Observation/o1", "", nil); got.status != http.StatusOK || !strings.Contains(got.body, `"id":"o1"`) {
		t.Fatalf("own Observation/o1: %s", got)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			existing := newOracleStore(true, tc.updateCreate)
			before := existing.snapshot()
			a := serve(existing, tc.method, tc.target, tc.body, tc.header)
			b := serve(newOracleStore(false, tc.updateCreate), tc.method, tc.target, tc.body, tc.header)
			if a.status != b.status || fmt.Sprint(a.header) != fmt.Sprint(b.header) || a.body != b.body {
				t.Errorf("another patient's Observation/x and a missing one are told apart:\n(a) existing: %s\n(b) missing:  %s", a, b)
			}
			if after := existing.snapshot(); after != before {
				t.Errorf("another patient's Observation/x was changed: %s", after)
			}
			if a.status == http.StatusOK && strings.Contains(a.body, "Patient/p2") {
				t.Errorf("another patient's data reached the client: %s", a.body)
			}
		})
	}
}
