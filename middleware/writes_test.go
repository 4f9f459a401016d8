package middleware_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"testing"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
	"github.com/smartguard/smartguard/smarttest"
)

// TestWritesNeverReachAnotherPatient: under patient/ scopes no write
// reaches a stored resource of another patient, whatever names it: a
// conditional update's body id, an instance-level write operation, a
// transaction or batch entry.
func TestWritesNeverReachAnotherPatient(t *testing.T) {
	is := smarttest.NewIssuer(t)
	cfg := is.Config()
	cfg.FHIR.Operations = map[string]smartmw.Operation{
		"Observation/[id]/$meta-delete": {Permission: scope.Update},
		"Observation/[id]/$lastn":       {Permission: scope.Read},
	}
	guard, err := smartmw.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.cruds"), smarttest.Patient("123"))
	obs := func(id string) string {
		return `{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"}}`
	}
	bundle := func(typ, method, url, resource string) string {
		e := `{"request":{"method":"` + method + `","url":"` + url + `"}`
		if resource != "" {
			e += `,"resource":` + resource
		}
		return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + e + `}]}`
	}
	tests := []struct {
		name, method, target, body string
		want                       int
	}{
		{"conditional update naming another patient's id", "PUT", "/r4/Observation?patient=123&code=nothing-matches", obs("o456"), 403},
		{"conditional update naming its own patient's id", "PUT", "/r4/Observation?patient=123&code=nothing-matches", obs("o123"), 200},
		{"conditional update without id", "PUT", "/r4/Observation?patient=123&code=nothing-matches", strings.Replace(obs("x"), `"id":"x",`, "", 1), 200},
		{"instance write operation on another patient's", "POST", "/r4/Observation/o456/$meta-delete", `{"resourceType":"Parameters"}`, 403},
		{"instance write operation on its own patient's", "POST", "/r4/Observation/o123/$meta-delete", `{"resourceType":"Parameters"}`, 200},
		{"transaction conditional update naming another patient's id", "POST", "/r4", bundle("transaction", "PUT", "Observation?patient=123&code=x", obs("o456")), 403},
		{"batch conditional update naming another patient's id", "POST", "/r4", bundle("batch", "PUT", "Observation?patient=123&code=x", obs("o456")), 403},
		{"transaction delete of another patient's", "POST", "/r4", bundle("transaction", "DELETE", "Observation/o456", ""), 403},
		{"update by id of another patient's", "PUT", "/r4/Observation/o456", obs("o456"), 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &anyPatientStore{}
			w := do(t, guard.Handler(store), tc.method, tc.target, tok, tc.body)
			if w.Code != tc.want {
				t.Fatalf("%d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want != 200 && len(store.writes) > 0 {
				t.Errorf("refused, yet the store wrote: %v", store.writes)
			}
		})
	}
}

// TestBundleLimits: a bundle beyond MaxBundleEntries, or whose writes by
// id need more stored reads than MaxStoredReads, is refused with 413
// before any entry reaches the handler; writes of one resource under
// equal decisions need one read.
func TestBundleLimits(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, func(cfg *smartmw.Config) {
		cfg.Bounds.MaxBundleEntries = 5
		cfg.Bounds.MaxStoredReads = 2
	})
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.cruds"), smarttest.Patient("123"))
	batch := func(n int, method string) string {
		var es []string
		for i := range n {
			es = append(es, fmt.Sprintf(`{"request":{"method":%q,"url":"Observation/o123-%d"}}`, method, i))
		}
		return `{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(es, ",") + `]}`
	}
	deletes := func(ids ...string) string {
		var es []string
		for _, id := range ids {
			es = append(es, fmt.Sprintf(`{"request":{"method":"DELETE","url":"Observation/%s"}}`, id))
		}
		return `{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(es, ",") + `]}`
	}
	for _, tc := range []struct {
		name string
		body string
		want int
	}{
		{"entries at the limit", batch(5, "GET"), 200},
		{"entries past the limit", batch(6, "GET"), 413},
		{"stored reads past the limit", batch(3, "DELETE"), 413},
		{"one write by id repeated: one read", deletes("o123-0", "o123-0", "o123-0"), 200},
		{"a repeated write and two others", deletes("o123-0", "o123-1", "o123-0", "o123-2"), 413},
	} {
		store := &anyPatientStore{}
		w := do(t, guard.Handler(store), "POST", "/r4", tok, tc.body)
		if w.Code != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, w.Code, tc.want, w.Body)
		}
		if tc.want == 413 && len(store.writes) > 0 {
			t.Errorf("%s: the store wrote %v", tc.name, store.writes)
		}
	}
}

// TestConnectionHeaderCannotDropIfMatch: a client's "Connection: If-Match"
// would have a reverse proxy drop, as hop-by-hop, the If-Match the guard
// adds to pin the version it checked.
func TestConnectionHeaderCannotDropIfMatch(t *testing.T) {
	var got []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		if r.Method == http.MethodGet {
			w.Header().Set("ETag", `W/"7"`)
			fmt.Fprint(w, `{"resourceType":"Observation","id":"o123","subject":{"reference":"Patient/123"}}`)
			return
		}
		got = append(got, r.Header.Get("If-Match"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, nil)
	h := guard.Handler(httputil.NewSingleHostReverseProxy(u))
	tok := is.Token(t, smarttest.Scopes("patient/Observation.rd"), smarttest.Patient("123"))
	for _, conn := range []string{"If-Match", "keep-alive, if-match", "If-Match, Accept-Encoding"} {
		r := httptest.NewRequest("DELETE", "/r4/Observation/o123", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Connection", conn)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNoContent {
			t.Fatalf("Connection %q: %d %s", conn, w.Code, w.Body)
		}
	}
	if len(got) != 3 || got[0] != `W/"7"` || got[1] != `W/"7"` || got[2] != `W/"7"` {
		t.Errorf("upstream If-Match %q, want the version the guard checked each time", got)
	}
}

// batchStore answers a batch entry by entry, as a FHIR server would: a
// GET of Type/id returns the resource (owned by the patient its id names),
// anything else is recorded as a write.
type batchStore struct{ got []string }

func (s *batchStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Entry []struct {
			Request struct{ Method, URL string } `json:"request"`
		} `json:"entry"`
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	var out []string
	for _, e := range b.Entry {
		s.got = append(s.got, e.Request.Method+" "+e.Request.URL)
		typ, id, _ := strings.Cut(e.Request.URL, "/")
		if e.Request.Method != "GET" {
			out = append(out, `{"response":{"status":"204 No Content"}}`)
			continue
		}
		owner, _, _ := strings.Cut(strings.TrimPrefix(id, "o"), "-")
		out = append(out, fmt.Sprintf(`{"resource":{"resourceType":%q,"id":%q,"subject":{"reference":"Patient/%s"}},"response":{"status":"200 OK"}}`, typ, id, owner))
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	fmt.Fprintf(w, `{"resourceType":"Bundle","type":"batch-response","entry":[%s]}`, strings.Join(out, ","))
}

// TestBatchAnsweredEntryByEntry: a batch is forwarded without its refused
// entries and answered in its own order, each refused entry (refused by
// the scopes, or found outside the compartment in the answer) answered by
// its own 403; a batch whose every entry is refused never reaches the
// handler.
func TestBatchAnsweredEntryByEntry(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, nil)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient("123"))
	batch := func(reqs ...string) string {
		var es []string
		for _, r := range reqs {
			m, u, _ := strings.Cut(r, " ")
			es = append(es, fmt.Sprintf(`{"request":{"method":%q,"url":%q}}`, m, u))
		}
		return `{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(es, ",") + `]}`
	}
	statuses := func(t *testing.T, body string) []string {
		var b struct {
			Type  string `json:"type"`
			Entry []struct {
				Resource *struct{ ID string } `json:"resource"`
				Response struct {
					Status  string `json:"status"`
					Outcome *struct {
						ResourceType string `json:"resourceType"`
					} `json:"outcome"`
				} `json:"response"`
			} `json:"entry"`
		}
		if err := json.Unmarshal([]byte(body), &b); err != nil || b.Type != "batch-response" {
			t.Fatalf("not a batch-response: %v %s", err, body)
		}
		var out []string
		for _, e := range b.Entry {
			s := e.Response.Status
			if e.Resource != nil {
				s += " " + e.Resource.ID
			}
			if e.Response.Outcome != nil {
				s += " " + e.Response.Outcome.ResourceType
			}
			out = append(out, s)
		}
		return out
	}
	tests := []struct {
		name      string
		body      string
		want      []string
		forwarded []string
	}{
		{"mixed", batch("GET Observation/o123", "GET Observation/o456", "GET Condition/c1", "DELETE Observation/o123", "GET Observation/o123-2"),
			[]string{"200 OK o123", "403 Forbidden OperationOutcome", "403 Forbidden OperationOutcome", "403 Forbidden OperationOutcome", "200 OK o123-2"},
			[]string{"GET Observation/o123", "GET Observation/o456", "GET Observation/o123-2"}},
		{"all refused", batch("GET Condition/c1", "DELETE Observation/o123"),
			[]string{"403 Forbidden OperationOutcome", "403 Forbidden OperationOutcome"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &batchStore{}
			w := do(t, guard.Handler(store), "POST", "/r4", tok, tc.body)
			if w.Code != 200 {
				t.Fatalf("%d: %s", w.Code, w.Body)
			}
			if got := statuses(t, w.Body.String()); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("entries %q, want %q", got, tc.want)
			}
			if strings.Join(store.got, "|") != strings.Join(tc.forwarded, "|") {
				t.Errorf("forwarded %q, want %q", store.got, tc.forwarded)
			}
			if strings.Contains(w.Body.String(), "Patient/456") {
				t.Errorf("another patient's resource in the answer: %s", w.Body)
			}
		})
	}
	// A transaction stays all or nothing.
	store := &batchStore{}
	tx := strings.Replace(batch("GET Observation/o123", "GET Condition/c1"), `"batch"`, `"transaction"`, 1)
	if w := do(t, guard.Handler(store), "POST", "/r4", tok, tx); w.Code != 403 || len(store.got) != 0 {
		t.Errorf("transaction with a refused entry: %d, forwarded %q", w.Code, store.got)
	}
}

// TestTypeListBounded: a _type list longer than R4 has types is refused
// at once, in a query or a form body, without a decision per name.
func TestTypeListBounded(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, func(cfg *smartmw.Config) {
		cfg.Bounds.MaxBodyBytes = 4 << 20
	})
	tok := is.Token(t, smarttest.Scopes("system/*.rs"))
	h := guard.Handler(&anyPatientStore{})
	long := "_type=" + strings.TrimSuffix(strings.Repeat("Observation,", 100_000), ",")
	r := httptest.NewRequest("POST", "/r4/_search", strings.NewReader(long))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", "Bearer "+tok)
	allocs := testing.AllocsPerRun(1, func() {
		w := httptest.NewRecorder()
		r.Body = io.NopCloser(strings.NewReader(long))
		h.ServeHTTP(w, r)
		if w.Code != 400 || !strings.Contains(w.Body.String(), "more than 200") {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
	if allocs > 200 {
		t.Errorf("%v allocations for a refused _type list", allocs)
	}
	if w := do(t, h, "GET", "/r4/?_type=Observation,Condition", tok, ""); w.Code != 200 {
		t.Errorf("a short _type list: %d %s", w.Code, w.Body)
	}
}

// TestHugeBatchRefusedCheaply: a 10 MiB batch of 200,000 GETs is refused
// (413) before any entry is decided, with memory bounded by a small
// multiple of the body.
func TestHugeBatchRefusedCheaply(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, func(cfg *smartmw.Config) {
		cfg.Bounds.MaxBodyBytes = 16 << 20
	})
	tok := is.Token(t, smarttest.Scopes("system/*.rs"))
	h := guard.Handler(&anyPatientStore{})
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"batch","entry":[`)
	for i := range 200_000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"request":{"method":"GET","url":"Patient/%d"}}`, i)
	}
	b.WriteString(`]}`)
	body := b.String()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := do(t, h, "POST", "/r4", tok, body)
	runtime.ReadMemStats(&after)
	if w.Code != 413 {
		t.Fatalf("%d: %.200s", w.Code, w.Body)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(4*len(body)) {
		t.Errorf("a refused %d-byte batch allocated %d bytes", len(body), alloc)
	}
}

// TestBatchSearchEntryFiltered: a search inside a batch answers with a
// searchset of its own, which the guard checks as it would alone: the
// patient's entries stay, another patient's go.
func TestBatchSearchEntryFiltered(t *testing.T) {
	is := smarttest.NewIssuer(t)
	guard := newGuard(t, is, nil)
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient("123"))
	store := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprint(w, `{"resourceType":"Bundle","type":"batch-response","entry":[`+
			`{"resource":{"resourceType":"Bundle","type":"searchset","total":2,"entry":[`+
			`{"resource":{"resourceType":"Observation","id":"o123","subject":{"reference":"Patient/123"}},"search":{"mode":"match"}},`+
			`{"resource":{"resourceType":"Observation","id":"o456","subject":{"reference":"Patient/456"}},"search":{"mode":"match"}}]},`+
			`"response":{"status":"200 OK"}},`+
			`{"resource":{"resourceType":"Observation","id":"o123","subject":{"reference":"Patient/123"}},"response":{"status":"200 OK"}}]}`)
	})
	body := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation?patient=123"}},` +
		`{"request":{"method":"GET","url":"Observation/o123"}}]}`
	w := do(t, guard.Handler(store), "POST", "/r4", tok, body)
	if w.Code != 200 {
		t.Fatalf("%d: %s", w.Code, w.Body)
	}
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || len(b.Entry) != 2 {
		t.Fatalf("%v %s", err, w.Body)
	}
	if got := strings.Join(entryIDs(t, string(b.Entry[0].Resource)), ","); got != "o123,withheld" || strings.Contains(w.Body.String(), "Patient/456") {
		t.Errorf("the search entry answers %s: %s", got, b.Entry[0].Resource)
	}
}
