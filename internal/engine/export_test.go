package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/fhirjson"
	"github.com/smartguard/smartguard/scope"
)

const (
	exBase   = "https://fhir.example.org/fhir"
	exIssuer = "https://auth.example.org"
	labScope = "system/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
	labQuery = "category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Claboratory"
)

var exKey = []byte("0123456789abcdef0123456789abcdef")

// exClock is a settable clock for the tests' tokens.
type exClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *exClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *exClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// exportEngine returns an Engine for exBase with export enabled; change
// adjusts its options.
func exportEngine(t testing.TB, clock *exClock, change ...func(*Options)) *Engine {
	t.Helper()
	return testEngine(t, func(opt *Options) {
		opt.BaseURL, opt.Operations = exBase, nil
		opt.MaxBodyBytes, opt.MaxResponseBytes, opt.MaxStoredBytes = 1<<20, 1<<20, 1<<20
		opt.MaxBundleEntries, opt.MaxStoredReads = 100, 10
		opt.OnError = func(w http.ResponseWriter, r *http.Request, err error) {
			var e *Error
			if !errors.As(err, &e) {
				e = &Error{Status: 500, Description: err.Error()}
			}
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(e.Status)
			json.NewEncoder(w).Encode(map[string]any{"resourceType": "OperationOutcome",
				"issue": []map[string]string{{"severity": "error", "code": "x", "diagnostics": e.Description + " [" + e.Scope + "]"}}})
		}
		opt.Outcome = func(e *Error) []byte { return []byte(`{"resourceType":"OperationOutcome"}`) }
		opt.Export = ExportOptions{Enabled: true, Key: exKey, Now: clock.now}
		for _, c := range change {
			c(opt)
		}
	})
}

// exGrant is a token of exIssuer for client with scopes.
func exGrant(scopes, client, sub string) *smartctx.Grant {
	return smartctx.NewGrant(smartctx.Claims{Issuer: exIssuer, Audience: []string{exBase}, ClientID: client, Subject: sub,
		Scopes: scope.Parse(scopes)})
}

// bulkServer is a Bulk Data handler for the tests: it records the
// kick-offs it gets and serves one job's status and files, the latter
// only to the Guard's forwards.
type bulkServer struct {
	mu       sync.Mutex
	kickoffs []*http.Request
	bodies   []string
	forwards []*http.Request

	kickStatus      int    // default 202
	contentLocation string // default exBase + "/bulk/job1"
	manifest        string // default: one Observation file, one Patient file
	files           map[string]string
	deleted         bool
}

func (b *bulkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !IsExportForward(r) {
		if strings.HasPrefix(r.URL.Path, "/fhir/bulk/") {
			http.Error(w, "not forwarded by the guard", http.StatusTeapot)
			return
		}
		body, _ := io.ReadAll(r.Body)
		b.kickoffs = append(b.kickoffs, r)
		b.bodies = append(b.bodies, string(body))
		status := b.kickStatus
		if status == 0 {
			status = http.StatusAccepted
		}
		loc := b.contentLocation
		if loc == "" {
			loc = exBase + "/bulk/job1"
		}
		w.Header().Set("Content-Location", loc)
		w.WriteHeader(status)
		return
	}
	b.forwards = append(b.forwards, r)
	switch {
	case r.URL.Path == "/fhir/bulk/job1" && r.Method == http.MethodDelete:
		b.deleted = true
		w.WriteHeader(http.StatusAccepted)
	case r.URL.Path == "/fhir/bulk/job1" && b.deleted:
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`)
	case r.URL.Path == "/fhir/bulk/job1":
		m := b.manifest
		if m == "" {
			m = `{"transactionTime":"2024-01-02T03:04:05Z","request":"` + exBase + `/$export","requiresAccessToken":true,` +
				`"output":[{"type":"Observation","url":"` + exBase + `/bulk/job1/Observation.ndjson","count":3},` +
				`{"type":"Patient","url":"` + exBase + `/bulk/job1/Patient.ndjson","count":1}],"error":[]}`
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, m)
	default:
		f, ok := b.files[strings.TrimPrefix(r.URL.Path, "/fhir/bulk/job1/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+ndjson")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, f)
	}
}

func obs(id, category, patient string) string {
	return `{"resourceType":"Observation","id":"` + id + `","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"` +
		category + `"}]}],"code":{"text":"x"},"subject":{"reference":"Patient/` + patient + `"}}`
}

// exDo serves one request through e for grant g (nil: no grant) to h.
func exDo(e *Engine, g *smartctx.Grant, h http.Handler, method, target string, body string, header ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.Serve(w, r, g, true, h)
	return w
}

// pollPath returns the path of the status URL of a 202 answer.
func pollPath(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if w.Code != http.StatusAccepted {
		t.Fatalf("kick-off: %d %s", w.Code, w.Body)
	}
	loc := w.Header().Get("Content-Location")
	rest, ok := strings.CutPrefix(loc, exBase+"/$export-poll/")
	if !ok || rest == "" {
		t.Fatalf("Content-Location %q is not the guard's status URL", loc)
	}
	return "/fhir/$export-poll/" + rest
}

type kickoffCase struct {
	name     string
	scopes   string
	fhirUser string
	client   string // default "c1"
	method   string // default GET
	target   string
	body     string
	header   []string
	change   func(*Options)
	want     int
	query    string // the query the handler gets (GET), when want is 202
	inBody   string // a string the handler's Parameters must hold (POST)
	diag     string // a string the refusal must hold
}

func kickoffCases() []kickoffCase {
	postBody := func(params ...string) string {
		return `{"resourceType":"Parameters","parameter":[` + strings.Join(params, ",") + `]}`
	}
	return []kickoffCase{
		{name: "system every type, nothing added", scopes: "system/*.rs", target: "/fhir/$export", want: 202, query: ""},
		{name: "system v1 read", scopes: "system/*.read", target: "/fhir/$export", want: 202, query: ""},
		{name: "named types become _type", scopes: "system/Observation.rs system/Patient.read", target: "/fhir/$export",
			want: 202, query: "_type=Observation%2CPatient"},
		{name: "read without search covers nothing", scopes: "system/Observation.r", target: "/fhir/$export", want: 403},
		{name: "_type uncovered is refused, named", scopes: "system/Observation.rs", target: "/fhir/$export?_type=Observation,Patient",
			want: 403, diag: "Patient"},
		{name: "_type repeated is one list", scopes: "system/*.rs", target: "/fhir/$export?_type=Observation&_type=Patient",
			want: 202, query: "_type=Observation%2CPatient"},
		{name: "_type unknown", scopes: "system/*.rs", target: "/fhir/$export?_type=Nope", want: 400},
		{name: "granular scope becomes _typeFilter", scopes: labScope, target: "/fhir/$export", want: 202,
			query: "_type=Observation&_typeFilter=" + url.QueryEscape("Observation?"+labQuery)},
		{name: "client _typeFilter ANDed with each alternative", scopes: labScope + " " + strings.Replace(labScope, "laboratory", "vital-signs", 1),
			target: "/fhir/$export?_typeFilter=" + url.QueryEscape("Observation?status=final"), want: 202,
			query: "_type=Observation&_typeFilter=" + url.QueryEscape("Observation?"+labQuery+"&status=final") +
				"&_typeFilter=" + url.QueryEscape("Observation?"+strings.Replace(labQuery, "laboratory", "vital-signs", 1)+"&status=final")},
		{name: "client _typeFilter of an unconstrained type kept", scopes: "system/Observation.rs",
			target: "/fhir/$export?_typeFilter=" + url.QueryEscape("Observation?status=final"), want: 202,
			query: "_type=Observation&_typeFilter=" + url.QueryEscape("Observation?status=final")},
		{name: "_typeFilter of a type not exported", scopes: "system/Observation.rs",
			target: "/fhir/$export?_typeFilter=" + url.QueryEscape("Patient?name=x"), want: 400},
		{name: "_typeFilter with _include", scopes: "system/*.rs",
			target: "/fhir/$export?_typeFilter=" + url.QueryEscape("Observation?_include=Observation:subject"), want: 400},
		{name: "_typeFilter not a query", scopes: "system/*.rs", target: "/fhir/$export?_typeFilter=Observation", want: 400},
		{name: "too many _typeFilter combinations", scopes: labScope, target: "/fhir/$export?_typeFilter=" +
			strings.Repeat(url.QueryEscape("Observation?status=final")+",", 70) + "Observation%3Fstatus%3Dfinal", want: 400},
		{name: "patient scopes refused", scopes: "patient/*.rs", target: "/fhir/$export", want: 403, diag: "patient/ scopes"},
		{name: "user scopes refused by default", scopes: "user/*.rs", target: "/fhir/$export", want: 403},
		{name: "user scopes with the opt-in", scopes: "user/*.rs", target: "/fhir/$export", want: 202,
			change: func(o *Options) { o.Export.UserScopes = true }},
		{name: "a patient's own user scopes refused", scopes: "user/*.rs", fhirUser: "Patient/p1", target: "/fhir/$export", want: 403,
			change: func(o *Options) { o.Export.UserScopes = true }},
		{name: "no client_id", scopes: "system/*.rs", client: "-", target: "/fhir/$export", want: 403},
		{name: "export off: undeclared operation", scopes: "system/*.rs", target: "/fhir/$export", want: 403,
			change: func(o *Options) { o.Export.Enabled = false }},
		{name: "patient on GET", scopes: "system/*.rs", target: "/fhir/Patient/$export?patient=Patient/1", want: 400},
		{name: "patient at system level", scopes: "system/*.rs", method: "POST", target: "/fhir/$export",
			body: postBody(`{"name":"patient","valueReference":{"reference":"Patient/1"}}`), want: 400},
		{name: "patient in a POST at Patient level", scopes: "system/*.rs", method: "POST", target: "/fhir/Patient/$export",
			body: postBody(`{"name":"patient","valueReference":{"reference":"Patient/1"}}`, `{"name":"_since","valueInstant":"2024-01-02T03:04:05+01:00"}`),
			want: 202, inBody: `{"name":"patient","valueReference":{"reference":"Patient/1"}}`},
		{name: "POST re-emits the checked parameters", scopes: "system/Observation.rs", method: "POST", target: "/fhir/Group/g1/$export",
			body: postBody(`{"name":"_outputFormat","valueString":"ndjson"}`), want: 202,
			inBody: `{"resourceType":"Parameters","parameter":[{"name":"_outputFormat","valueString":"ndjson"},{"name":"_type","valueString":"Observation"}]}`},
		{name: "POST with a query", scopes: "system/*.rs", method: "POST", target: "/fhir/$export?_type=Patient", body: postBody(), want: 400},
		{name: "POST not Parameters", scopes: "system/*.rs", method: "POST", target: "/fhir/$export", body: `{"resourceType":"Patient"}`, want: 400},
		{name: "POST parameter with two values", scopes: "system/*.rs", method: "POST", target: "/fhir/$export",
			body: postBody(`{"name":"_type","valueString":"Patient","valueCode":"Patient"}`), want: 400},
		{name: "POST duplicate keys", scopes: "system/*.rs", method: "POST", target: "/fhir/$export",
			body: `{"resourceType":"Parameters","parameter":[],"parameter":[{"name":"_type","valueString":"Patient"}]}`, want: 400},
		{name: "POST form body", scopes: "system/*.rs", method: "POST", target: "/fhir/$export", body: "_method=DELETE",
			header: []string{"Content-Type", "application/x-www-form-urlencoded"}, want: 415},
		{name: "_since not an instant", scopes: "system/*.rs", target: "/fhir/$export?_since=2024-01-02", want: 400},
		{name: "_since with a raw plus", scopes: "system/*.rs", target: "/fhir/$export?_since=2024-01-02T03:04:05+01:00", want: 202,
			query: "_since=2024-01-02T03%3A04%3A05%2B01%3A00"},
		{name: "_outputFormat unknown", scopes: "system/*.rs", target: "/fhir/$export?_outputFormat=text/csv", want: 400},
		{name: "_outputFormat ndjson", scopes: "system/*.rs", target: "/fhir/$export?_outputFormat=ndjson", want: 202, query: "_outputFormat=ndjson"},
		{name: "unknown parameter", scopes: "system/*.rs", target: "/fhir/$export?_count=10", want: 400},
		{name: "unknown parameter, lenient: dropped", scopes: "system/*.rs", target: "/fhir/$export?_count=10&_type=Patient",
			header: []string{"Prefer", "respond-async, handling=lenient"}, want: 202, query: "_type=Patient"},
		{name: "Patient level: a type about no patient", scopes: "system/*.rs", target: "/fhir/Patient/$export?_type=Medication", want: 400},
		{name: "Patient level: only patient types handed", scopes: "system/Observation.rs system/Medication.rs",
			target: "/fhir/Patient/$export", want: 202, query: "_type=Observation"},
		{name: "_elements keeps what a granular scope reads", scopes: labScope, target: "/fhir/$export?_elements=id,code", want: 202,
			query: "_type=Observation&_elements=id%2Ccode%2CObservation.category&_typeFilter=" + url.QueryEscape("Observation?"+labQuery)},
		{name: "_elements malformed", scopes: "system/*.rs", target: "/fhir/$export?_elements=a.b.c", want: 400},
		{name: "includeAssociatedData needs Provenance", scopes: "system/Observation.rs",
			target: "/fhir/$export?includeAssociatedData=LatestProvenanceResources", want: 403, diag: "Provenance"},
		{name: "includeAssociatedData custom", scopes: "system/*.rs", target: "/fhir/$export?includeAssociatedData=_mine", want: 400},
		{name: "constrained star needs _type", scopes: "system/*.rs?_security=x", target: "/fhir/$export", want: 400},
		{name: "HEAD starts nothing", scopes: "system/*.rs", method: "HEAD", target: "/fhir/$export", want: 405},
		{name: "other operations stay undeclared", scopes: "system/*.rs", target: "/fhir/Observation/$export", want: 403},
		{name: "Policy refuses a Group", scopes: "system/*.rs", target: "/fhir/Group/g2/$export", want: 403,
			change: func(o *Options) {
				o.Policy = func(_ context.Context, _ *smartctx.Grant, req *Request) error {
					if req.Type == "Group" && req.ID != "g1" {
						return errors.New("not attributed")
					}
					return nil
				}
			}},
	}
}

func TestExportKickoffDecisions(t *testing.T) {
	for _, tc := range kickoffCases() {
		t.Run(tc.name, func(t *testing.T) { runKickoffCase(t, tc) })
	}
}

func runKickoffCase(t *testing.T, tc kickoffCase) {
	clock := &exClock{t: time.Unix(1700000000, 0)}
	var change []func(*Options)
	if tc.change != nil {
		change = append(change, tc.change)
	}
	e := exportEngine(t, clock, change...)
	client := tc.client
	switch client {
	case "":
		client = "c1"
	case "-":
		client = ""
	}
	g := smartctx.NewGrant(smartctx.Claims{Issuer: exIssuer, ClientID: client, Subject: "s1", FHIRUser: tc.fhirUser, Scopes: scope.Parse(tc.scopes)})
	method := tc.method
	if method == "" {
		method = http.MethodGet
	}
	header := tc.header
	if method == http.MethodPost && len(header) == 0 {
		header = []string{"Content-Type", "application/fhir+json"}
	}
	b := &bulkServer{}
	w := exDo(e, g, b, method, tc.target, tc.body, header...)
	if w.Code != tc.want {
		t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
	}
	if tc.diag != "" && !strings.Contains(w.Body.String(), tc.diag) {
		t.Errorf("refusal %s does not name %q", w.Body, tc.diag)
	}
	if tc.want != http.StatusAccepted {
		if len(b.kickoffs) > 0 {
			t.Errorf("a refused kick-off reached the handler")
		}
		return
	}
	pollPath(t, w)
	if len(b.kickoffs) != 1 {
		t.Fatalf("the handler got %d kick-offs", len(b.kickoffs))
	}
	if method == http.MethodGet && b.kickoffs[0].URL.RawQuery != tc.query {
		t.Errorf("handler's query\n%s, want\n%s", b.kickoffs[0].URL.RawQuery, tc.query)
	}
	if tc.inBody != "" && !strings.Contains(b.bodies[0], tc.inBody) {
		t.Errorf("handler's body %s does not hold %s", b.bodies[0], tc.inBody)
	}
}

// TestExportKickoffAnswers: the handler's answer to a kick-off must be
// 202 with a Content-Location under the base; errors pass.
func TestExportKickoffAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		loc    string
		want   int
	}{
		{name: "accepted", status: 202, loc: exBase + "/bulk/job1", want: 202},
		{name: "off base", status: 202, loc: "https://elsewhere.example.org/fhir/bulk/job1", want: 502},
		{name: "another base on the host", status: 202, loc: "https://fhir.example.org/fhir2/bulk/job1", want: 502},
		{name: "relative", status: 202, loc: "/fhir/bulk/job1", want: 502},
		{name: "dot segments", status: 202, loc: exBase + "/bulk/../Patient/1", want: 502},
		{name: "escapes", status: 202, loc: exBase + "/bulk/%2e%2e/x", want: 502},
		{name: "a control byte", status: 202, loc: exBase + "/bulk/\x01x", want: 502},
		{name: "a semicolon", status: 202, loc: exBase + "/bulk/x;jsessionid=1", want: 502},
		{name: "a query", status: 202, loc: exBase + "/bulk/status?job=1", want: 202},
		{name: "the guard's own", status: 202, loc: exBase + "/$export-poll/x", want: 502},
		{name: "none", status: 202, loc: "-", want: 502},
		{name: "synchronous 200", status: 200, loc: exBase + "/bulk/job1", want: 502},
		{name: "429 passes", status: 429, loc: exBase + "/bulk/job1", want: 429},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := exportEngine(t, &exClock{t: time.Unix(1700000000, 0)})
			b := &bulkServer{kickStatus: tc.status, contentLocation: tc.loc}
			if tc.loc == "-" {
				b.contentLocation = " "
			}
			w := exDo(e, exGrant("system/*.rs", "c1", "s1"), b, "GET", "/fhir/$export", "")
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want == 202 {
				pollPath(t, w)
			} else if strings.Contains(w.Header().Get("Content-Location"), "bulk") {
				t.Errorf("the handler's Content-Location leaked: %q", w.Header().Get("Content-Location"))
			}
		})
	}
}

// kickoff starts a job for g on e and returns its status path.
func kickoff(t *testing.T, e *Engine, g *smartctx.Grant, b *bulkServer, target string) string {
	t.Helper()
	return pollPath(t, exDo(e, g, b, "GET", target, ""))
}

// manifestFiles polls path for g and returns the manifest's file paths by
// type, and the manifest.
func manifestFiles(t *testing.T, e *Engine, g *smartctx.Grant, b *bulkServer, path string) (map[string]string, map[string]any) {
	t.Helper()
	w := exDo(e, g, b, "GET", path, "")
	if w.Code != http.StatusOK {
		t.Fatalf("poll: %d %s", w.Code, w.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("manifest %s: %v", w.Body, err)
	}
	files := map[string]string{}
	for _, list := range []string{"output", "error", "deleted"} {
		items, _ := m[list].([]any)
		for i, it := range items {
			item := it.(map[string]any)
			u := item["url"].(string)
			rest, ok := strings.CutPrefix(u, exBase+"/$export-file/")
			if !ok {
				t.Fatalf("manifest URL %q is not the guard's", u)
			}
			key := list + ":" + item["type"].(string)
			if list == "error" {
				key = fmt.Sprintf("error:%d", i)
			}
			files[key] = "/fhir/$export-file/" + rest
		}
	}
	return files, m
}

// TestExportJobBinding: status URLs are the starting client's, signed,
// expiring, and need scopes that still cover the job.
func TestExportJobBinding(t *testing.T) {
	owner := exGrant("system/Observation.rs system/Patient.rs", "c1", "s1")
	tests := []struct {
		name   string
		caller *smartctx.Grant
		method string
		edit   func(path string) string
		later  time.Duration
		change func(*Options)
		want   int
	}{
		{name: "owner polls", caller: owner, want: 200},
		{name: "owner cancels", caller: owner, method: "DELETE", want: 202},
		{name: "another client polls", caller: exGrant("system/Observation.rs system/Patient.rs", "c2", "s1"), want: 404},
		{name: "another client cancels", caller: exGrant("system/*.rs", "c2", "s1"), method: "DELETE", want: 404},
		{name: "another user of the client", caller: exGrant("system/Observation.rs system/Patient.rs", "c1", "s2"), want: 404},
		{name: "another issuer", caller: smartctx.NewGrant(smartctx.Claims{Issuer: "https://evil.example.org", ClientID: "c1", Subject: "s1",
			Scopes: scope.Parse("system/*.rs")}), want: 404},
		{name: "scope shrunk", caller: exGrant("system/Observation.rs", "c1", "s1"), want: 404},
		{name: "scope shrunk, 403 asked for", caller: exGrant("system/Observation.rs", "c1", "s1"), want: 403,
			change: func(o *Options) { o.Export.ForbiddenForScope = true }},
		{name: "granular scopes still cover", caller: exGrant(labScope+" system/Patient.rs", "c1", "s1"), want: 200},
		{name: "patient scopes", caller: smartctx.NewGrant(smartctx.Claims{Issuer: exIssuer, ClientID: "c1", Subject: "s1", Patient: "p1",
			Scopes: scope.Parse("patient/*.rs")}), want: 404},
		{name: "tampered payload", caller: owner, want: 404, edit: func(p string) string {
			i := strings.LastIndexByte(p, '.')
			c := p[i-3]
			if c == 'A' {
				c = 'B'
			} else {
				c = 'A'
			}
			return p[:i-3] + string(c) + p[i-2:]
		}},
		{name: "tampered signature", caller: owner, want: 404, edit: func(p string) string { return p[:len(p)-2] + "AA" }},
		{name: "no signature", caller: owner, want: 404, edit: func(p string) string { return p[:strings.LastIndexByte(p, '.')] }},
		{name: "a query added", caller: owner, want: 404, edit: func(p string) string { return p + "?x=1" }},
		{name: "expired", caller: owner, later: 25 * time.Hour, want: 404},
		{name: "not yet expired", caller: owner, later: 23 * time.Hour, want: 200},
		{name: "another key", caller: owner, want: 404, change: func(o *Options) { o.Export.Key = []byte("another key, also 32 bytes long!") }},
		{name: "another base", caller: owner, want: 404, change: func(o *Options) { o.BaseURL = "https://fhir.example.org/other"; o.BasePath = "/fhir" }},
		{name: "POST", caller: owner, method: "POST", want: 405},
		{name: "export turned off", caller: owner, want: 404, change: func(o *Options) { o.Export.Enabled = false }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &exClock{t: time.Unix(1700000000, 0)}
			b := &bulkServer{}
			path := kickoff(t, exportEngine(t, clock), owner, b, "/fhir/$export")
			var change []func(*Options)
			if tc.change != nil {
				change = append(change, tc.change)
			}
			e := exportEngine(t, clock, change...) // another replica, same key unless changed
			clock.add(tc.later)
			if tc.edit != nil {
				path = tc.edit(path)
			}
			method := tc.method
			if method == "" {
				method = "GET"
			}
			w := exDo(e, tc.caller, b, method, path, "")
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want >= 400 && len(b.forwards) > 0 {
				t.Errorf("a refused request reached the handler")
			}
		})
	}
}

// TestExportManifest: the manifest's URLs become the guard's, bound to
// the caller; requiresAccessToken must be true, URLs under the base.
func TestExportManifest(t *testing.T) {
	owner := exGrant("system/Observation.rs system/Patient.rs", "c1", "s1")
	file := func(typ, u string) string { return `{"type":"` + typ + `","url":"` + u + `"}` }
	manifest := func(requires string, output ...string) string {
		return `{"transactionTime":"2024-01-02T03:04:05Z","request":"x","requiresAccessToken":` + requires +
			`,"output":[` + strings.Join(output, ",") + `],"error":[` + file("OperationOutcome", exBase+"/bulk/job1/err.ndjson") + `],"extension":{"a":1}}`
	}
	tests := []struct {
		name     string
		caller   *smartctx.Grant
		manifest string
		want     int
		types    []string // the manifest's file keys
		report   bool
		count    bool
	}{
		{name: "rewritten", caller: owner, manifest: manifest("true", file("Observation", exBase+"/bulk/job1/o.ndjson")), want: 200,
			types: []string{"output:Observation", "error:0", "error:1"}, report: true},
		{name: "requiresAccessToken false", caller: owner, manifest: manifest("false", file("Observation", exBase+"/bulk/job1/o.ndjson")), want: 502},
		{name: "a URL off the base", caller: owner, manifest: manifest("true", file("Observation", "https://s3.example.org/o.ndjson")), want: 502},
		{name: "a file of a type outside the job is left out", caller: owner,
			manifest: manifest("true", file("Observation", exBase+"/bulk/job1/o.ndjson"), file("Condition", exBase+"/bulk/job1/c.ndjson")), want: 200,
			types: []string{"output:Observation", "error:0", "error:1"}, report: true},
		{name: "not a manifest", caller: owner, manifest: `{"resourceType":"Patient","id":"1"}`, want: 502},
		{name: "keys read two ways", caller: owner, manifest: `{"transactionTime":"x","request":"x","requiresAccessToken":true,"output":[],"Output":[]}`, want: 502},
		{name: "everything allowed: counts kept, no report", caller: exGrant("system/*.rs", "c1", "s1"),
			manifest: `{"transactionTime":"x","request":"x","requiresAccessToken":true,"output":[{"type":"Observation","url":"` + exBase + `/bulk/job1/o.ndjson","count":3}],"error":[]}`,
			want:     200, types: []string{"output:Observation"}, count: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &exClock{t: time.Unix(1700000000, 0)}
			e := exportEngine(t, clock)
			b := &bulkServer{manifest: tc.manifest}
			target := "/fhir/$export?_type=Observation,Patient"
			if tc.count {
				target = "/fhir/$export"
			}
			path := kickoff(t, e, tc.caller, b, target)
			w := exDo(e, tc.caller, b, "GET", path, "")
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want != 200 {
				if strings.Contains(w.Body.String(), "/bulk/") {
					t.Errorf("the refusal shows the handler's URLs: %s", w.Body)
				}
				return
			}
			if strings.Contains(w.Body.String(), "/bulk/") {
				t.Errorf("the manifest still holds the handler's URLs: %s", w.Body)
			}
			files, m := manifestFiles(t, e, tc.caller, b, path)
			if m["requiresAccessToken"] != true {
				t.Errorf("requiresAccessToken %v", m["requiresAccessToken"])
			}
			for _, k := range tc.types {
				if files[k] == "" {
					t.Errorf("no %s file in %v", k, files)
				}
			}
			errs, _ := m["error"].([]any)
			if hasReport := strings.Contains(tc.manifest, `"OperationOutcome"`) && len(errs) == 2 ||
				!strings.Contains(tc.manifest, `"OperationOutcome"`) && len(errs) == 1; hasReport != tc.report {
				t.Errorf("report in the manifest: %v, want %v (%v)", hasReport, tc.report, m["error"])
			}
			_, hasCount := m["output"].([]any)[0].(map[string]any)["count"]
			if hasCount != tc.count {
				t.Errorf("count kept: %v, want %v", hasCount, tc.count)
			}
			if len(files) != len(tc.types) {
				t.Errorf("files %v, want %v", files, tc.types)
			}
		})
	}
}

// TestExportFileBrokenAnswers: what cannot be checked never leaves: a
// line too long aborts the transfer (or is refused before any byte),
// encoded or resource-carrying error answers are refused.
func TestExportFileBrokenAnswers(t *testing.T) {
	lab := obs("o1", "laboratory", "p1")
	long := `{"resourceType":"Observation","id":"big","note":[{"text":"` + strings.Repeat("a", 300) + `"}]}`
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    int
		aborted bool
		body    string
	}{
		{name: "too long a first line: 502", handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, long+"\n") }, want: 502},
		{name: "too long a later line: aborted", handler: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, lab+"\n")
			w.(http.Flusher).Flush()
			io.WriteString(w, long+"\n"+lab+"\n")
		}, aborted: true},
		{name: "too long a line without newline, written in pieces", handler: func(w http.ResponseWriter, r *http.Request) {
			for range 100 {
				io.WriteString(w, "aaaaaaaaaa")
			}
		}, want: 502},
		{name: "gzip", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, lab+"\n")
		}, want: 502},
		{name: "an error with a resource", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			io.WriteString(w, lab)
		}, want: 502},
		{name: "an error with an OperationOutcome passes", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(410)
			io.WriteString(w, `{"resourceType":"OperationOutcome"}`)
		}, want: 410, body: `{"resourceType":"OperationOutcome"}`},
		{name: "a handler's panic goes on", handler: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, lab+"\n")
			panic(http.ErrAbortHandler)
		}, aborted: true},
		{name: "last line without newline", handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, lab) }, want: 200, body: lab + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &exClock{t: time.Unix(1700000000, 0)}
			e := exportEngine(t, clock, func(o *Options) { o.Export.MaxLineBytes = 256 })
			b := &bulkServer{}
			owner := exGrant(labScope, "c1", "s1")
			path := kickoff(t, e, owner, b, "/fhir/$export")
			files, _ := manifestFiles(t, e, owner, b, path)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if IsExportForward(r) {
					tc.handler(w, r)
				}
			})
			var w *httptest.ResponseRecorder
			panicked := func() (p any) {
				defer func() { p = recover() }()
				w = exDo(e, owner, h, "GET", files["output:Observation"], "")
				return nil
			}()
			if tc.aborted {
				if panicked != http.ErrAbortHandler {
					t.Fatalf("not aborted: %v", panicked)
				}
				return
			}
			if panicked != nil {
				t.Fatalf("panic: %v", panicked)
			}
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("body %q, want %q", w.Body, tc.body)
			}
			if tc.want == 502 && strings.Contains(w.Body.String(), "aaaa") {
				t.Errorf("unchecked bytes left: %s", w.Body)
			}
		})
	}
}

// TestExportDeletedFiles: a "deleted" file's transaction Bundles name
// ids; they pass only for types allowed without constraint.
func TestExportDeletedFiles(t *testing.T) {
	del := func(urls ...string) string {
		var es []string
		for _, u := range urls {
			es = append(es, `{"request":{"method":"DELETE","url":"`+u+`"}}`)
		}
		return `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(es, ",") + `]}`
	}
	okLine, patientLine, put := del("Observation/1"), del("Observation/2", "Patient/1"), strings.Replace(del("Observation/3"), "DELETE", "PUT", 1)
	manifest := `{"transactionTime":"x","request":"x","requiresAccessToken":true,"output":[],"deleted":[{"type":"Bundle","url":"` + exBase + `/bulk/job1/del.ndjson"}],"error":[]}`
	for _, tc := range []struct {
		name, scopes, want string
	}{
		{name: "type grant", scopes: "system/Observation.rs", want: okLine + "\n"},
		{name: "granular grant: nothing", scopes: labScope, want: ""},
		{name: "every type", scopes: "system/*.rs", want: okLine + "\n" + patientLine + "\n" + put + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := exportEngine(t, &exClock{t: time.Unix(1700000000, 0)})
			b := &bulkServer{manifest: manifest, files: map[string]string{"del.ndjson": okLine + "\n" + patientLine + "\n" + put + "\n"}}
			g := exGrant(tc.scopes, "c1", "s1")
			files, _ := manifestFiles(t, e, g, b, kickoff(t, e, g, b, "/fhir/$export"))
			w := exDo(e, g, b, "GET", files["deleted:Bundle"], "")
			if w.Code != 200 || w.Body.String() != tc.want {
				t.Errorf("%d %q, want %q", w.Code, w.Body, tc.want)
			}
		})
	}
}

// TestExportHandlerPathsNotReachable: the handler's job URLs are not
// FHIR requests the guard passes, and the guard's own paths without a
// valid token reach nothing.
func TestExportHandlerPathsNotReachable(t *testing.T) {
	e := exportEngine(t, &exClock{t: time.Unix(1700000000, 0)})
	b := &bulkServer{files: map[string]string{"Observation.ndjson": "x"}}
	g := exGrant("system/*.rs", "c1", "s1")
	for _, target := range []string{"/fhir/bulk/job1", "/fhir/bulk/job1/Observation.ndjson", "/fhir/$export-poll/", "/fhir/$export-file/x.y",
		"/fhir/$export-poll", "/fhir/$export-status?job=1"} {
		w := exDo(e, g, b, "GET", target, "")
		if w.Code < 400 || w.Code == http.StatusTeapot {
			t.Errorf("%s: %d %s", target, w.Code, w.Body)
		}
	}
	if len(b.forwards) > 0 {
		t.Errorf("forwarded %d", len(b.forwards))
	}
}

func TestExportTokenRoundTrip(t *testing.T) {
	tok := &jobToken{kind: tokenFile, ctx: scope.System, exp: 123, iss: "i", client: "c", user: "u", job: "j", level: "Group/1",
		path: "bulk/x?y=1", types: "Observation,Patient", scopes: labScope, fileType: "Observation"}
	s := tok.encode(exKey, exBase)
	got, err := decodeJobToken(s, exKey, exBase)
	if err != nil || *got != *tok {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, bad := range []struct{ s, base string }{{s, exBase + "x"}, {s + "A", exBase}, {"A" + s, exBase}, {strings.Replace(s, ".", "..", 1), exBase}} {
		if _, err := decodeJobToken(bad.s, exKey, bad.base); err == nil {
			t.Errorf("accepted %q for %q", bad.s, bad.base)
		}
	}
	if _, err := decodeJobToken(s, nil, exBase); err == nil {
		t.Errorf("accepted without a key")
	}
}

func FuzzDecodeJobToken(f *testing.F) {
	f.Add((&jobToken{kind: tokenPoll, ctx: scope.System, exp: 1, types: "*"}).encode(exKey, exBase))
	f.Add("")
	f.Add("a.b")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := decodeJobToken(s, exKey, exBase)
		if err != nil {
			return
		}
		if again := tok.encode(exKey, exBase); again != s {
			t.Errorf("accepted %q, which encodes as %q", s, again)
		}
	})
}

func FuzzReadParameters(f *testing.F) {
	f.Add(`{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient"},{"name":"patient","valueReference":{"reference":"Patient/1"}}]}`)
	f.Add(`{"resourceType":"Parameters","parameter":[{"name":"_since","valueInstant":"2024-01-02T03:04:05Z"}]}`)
	f.Add(`{"resourceType":"Parameters"}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		var p exportParams
		if err := readParameters([]byte(body), &p); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Errorf("error %v is not a 400", err)
			}
			return
		}
		// What was read re-emits as Parameters that read the same.
		plan := &exportPlan{query: exportQuery(&p, p.types, p.elements, p.typeFilters)}
		var again exportParams
		if err := readParameters(plan.parameters(), &again); err != nil {
			t.Fatalf("re-emitted %s: %v", plan.parameters(), err)
		}
		if q := exportQuery(&again, again.types, again.elements, again.typeFilters); q != plan.query {
			t.Errorf("re-read %q, want %q", q, plan.query)
		}
	})
}

func FuzzLineCheck(f *testing.F) {
	f.Add([]byte(obs("o1", "laboratory", "p1")))
	f.Add([]byte(obs("o1", "vital-signs", "p1")))
	f.Add([]byte(`{"resourceType":"Patient","id":"1"}`))
	f.Add([]byte(`{"resourceType":"Observation","resourceType":"Patient"}`))
	e := exportEngine(f, &exClock{t: time.Unix(1700000000, 0)})
	g := exGrant(labScope, "c1", "s1")
	check := e.lineCheck(g, &jobToken{kind: tokenFile, ctx: scope.System, types: "Observation", scopes: labScope, fileType: "Observation"}, nil)
	f.Fuzz(func(t *testing.T, line []byte) {
		got := check(line)
		// The line check is the one rule for a read of the line's
		// resource, with the file's type.
		res, err := scanType(line)
		want := err == nil && res == "Observation" && e.allowsUnder(g, nil, scope.System, "", "Observation", line, scope.Read) == allowed
		if got != want {
			t.Errorf("check %v, the one rule %v: %q", got, want, line)
		}
	})
}

func scanType(line []byte) (string, error) {
	r, err := fhirjson.Scan(line)
	if err != nil {
		return "", err
	}
	return r.Type, nil
}

// TestExportErrorFileLines: a handler's OperationOutcome files pass only
// outcomes that hold no resource.
func TestExportErrorFileLines(t *testing.T) {
	e := exportEngine(t, &exClock{t: time.Unix(1700000000, 0)})
	check := e.lineCheck(exGrant(labScope, "c1", "s1"), &jobToken{kind: tokenFile, ctx: scope.System, types: "Observation", fileType: "OperationOutcome"}, nil)
	for line, want := range map[string]bool{
		`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing"}]}`:           true,
		`{"resourceType":"OperationOutcome","contained":[{"resourceType":"Patient","id":"1"}],"issue":[]}`: false,
		`{"resourceType":"Patient","id":"1"}`:                                                              false,
		`{"resourceType":"OperationOutcome","resourceType":"Patient"}`:                                     false,
		`{"resourceType":"OperationOutcome","Contained":[{"resourceType":"Patient","id":"1"}],"issue":[]}`: false,
	} {
		if got := check([]byte(line)); got != want {
			t.Errorf("%s: %v, want %v", line, got, want)
		}
	}
}

// TestExportFiles: downloads are the job's client's, streamed, and
// checked line by line whenever the caller's grant is narrower than
// every type.
type fileCase struct {
	name     string
	kick     string // kick-off scopes
	kickoff  string // kick-off target
	caller   string // download scopes; default kick
	client   string
	file     string // the manifest key
	method   string
	header   []string
	want     int
	body     string
	withheld int64
}

// The files of TestExportFiles: an Observation file holding two
// laboratory results, a vital sign, a Patient, a blank line and junk.
var (
	fileLab1, fileLab2, fileVital = obs("o1", "laboratory", "p1"), obs("o2", "laboratory", "p2"), obs("o3", "vital-signs", "p1")
	filePatient                   = `{"resourceType":"Patient","id":"p1","name":[{"family":"X"}]}`
	fileObservations              = fileLab1 + "\n" + fileVital + "\r\n" + filePatient + "\n\n" + "not json\n" + fileLab2
)

func fileCases() []fileCase {
	lab1, lab2, vital, obsFile := fileLab1, fileLab2, fileVital, fileObservations
	return []fileCase{
		{name: "granular: only lab lines", kick: labScope, kickoff: "/fhir/$export", file: "output:Observation",
			want: 200, body: lab1 + "\n" + lab2 + "\n", withheld: 3},
		{name: "type grant: other types and junk withheld", kick: "system/Observation.rs system/Patient.rs", kickoff: "/fhir/$export?_type=Observation,Patient",
			file: "output:Observation", want: 200, body: lab1 + "\n" + vital + "\n" + lab2 + "\n", withheld: 2},
		{name: "scope narrowed after the kick-off", kick: "system/Observation.rs system/Patient.rs", kickoff: "/fhir/$export?_type=Observation,Patient",
			caller: labScope + " system/Patient.rs", file: "output:Observation", want: 200, body: lab1 + "\n" + lab2 + "\n", withheld: 3},
		{name: "scope widened after the kick-off: the job's granular scopes still apply", kick: labScope, kickoff: "/fhir/$export",
			caller: "system/Observation.rs", file: "output:Observation", want: 200, body: lab1 + "\n" + lab2 + "\n", withheld: 3},
		{name: "every type: passed through as it is", kick: "system/*.rs", kickoff: "/fhir/$export", file: "output:Observation",
			want: 200, body: obsFile},
		{name: "every type: conditional requests reach the handler", kick: "system/*.rs", kickoff: "/fhir/$export", file: "output:Observation",
			header: []string{"If-None-Match", `"v1"`}, want: 304},
		{name: "checked: conditional requests do not", kick: labScope, kickoff: "/fhir/$export", file: "output:Observation",
			header: []string{"If-None-Match", `"v1"`}, want: 200, body: lab1 + "\n" + lab2 + "\n", withheld: 3},
		{name: "checked: HEAD", kick: labScope, kickoff: "/fhir/$export", file: "output:Observation", method: "HEAD", want: 200},
		{name: "another client", kick: labScope, kickoff: "/fhir/$export", client: "c2", file: "output:Observation", want: 404},
		{name: "file scopes shrunk below the job", kick: "system/Observation.rs system/Patient.rs", kickoff: "/fhir/$export?_type=Observation,Patient",
			caller: "system/Observation.rs", file: "output:Observation", want: 404},
		{name: "DELETE of a file", kick: labScope, kickoff: "/fhir/$export", file: "output:Observation", method: "DELETE", want: 405},
		{name: "the status URL is no file", kick: labScope, kickoff: "/fhir/$export", file: "poll", want: 404},
		{name: "a file URL is no status URL", kick: labScope, kickoff: "/fhir/$export", file: "as-poll", want: 404},
	}
}

func TestExportFiles(t *testing.T) {
	for _, tc := range fileCases() {
		t.Run(tc.name, func(t *testing.T) { runFileCase(t, tc) })
	}
}

func runFileCase(t *testing.T, tc fileCase) {
	clock := &exClock{t: time.Unix(1700000000, 0)}
	e := exportEngine(t, clock)
	b := &bulkServer{files: map[string]string{"Observation.ndjson": fileObservations, "Patient.ndjson": filePatient + "\n"}}
	owner := exGrant(tc.kick, "c1", "s1")
	path := kickoff(t, e, owner, b, tc.kickoff)
	files, _ := manifestFiles(t, e, owner, b, path)
	target := files[tc.file]
	switch tc.file {
	case "poll":
		target = strings.Replace(path, "$export-poll", "$export-file", 1)
	case "as-poll":
		target = strings.Replace(files["output:Observation"], "$export-file", "$export-poll", 1)
	}
	if target == "" {
		t.Fatalf("no %s in %v", tc.file, files)
	}
	caller, client := tc.caller, tc.client
	if caller == "" {
		caller = tc.kick
	}
	if client == "" {
		client = "c1"
	}
	method := tc.method
	if method == "" {
		method = "GET"
	}
	n := len(b.forwards)
	w := exDo(e, exGrant(caller, client, "s1"), b, method, target, "", tc.header...)
	if w.Code != tc.want {
		t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
	}
	if tc.want >= 400 {
		if len(b.forwards) != n {
			t.Errorf("a refused download reached the handler")
		}
		return
	}
	if tc.body != "" && w.Body.String() != tc.body {
		t.Errorf("body\n%q, want\n%q", w.Body, tc.body)
	}
	if method == "HEAD" && (w.Body.Len() != 0 || w.Header().Get("Content-Length") != "") {
		t.Errorf("HEAD answered a body or a length: %q %q", w.Body, w.Header().Get("Content-Length"))
	}
	if tc.withheld > 0 {
		if w.Header().Get("ETag") != "" {
			t.Errorf("a checked file keeps the handler's ETag")
		}
		rep := exDo(e, exGrant(caller, client, "s1"), b, "GET", files["error:0"], "")
		if rep.Code != 200 || !strings.Contains(rep.Body.String(), fmt.Sprintf(`"%d resources were withheld`, tc.withheld)) {
			t.Errorf("report: %d %s, want %d withheld", rep.Code, rep.Body, tc.withheld)
		}
	}
}

// staticRelations answers every relationship with the same patients.
type staticRelations []string

func (s staticRelations) Patients(context.Context, string, string) ([]string, error) { return s, nil }

// TestExportAccessPolicy: the access policy limits exports as it limits
// searches: the job's types need a policy grant, a Group's attribution
// holds the files to the attributed patients line by line.
func TestExportAccessPolicy(t *testing.T) {
	attributed := &AccessPolicy{
		Relationships: []Relationship{{Name: "attributed", Search: "Group?_id=cohort", Path: "member.entity"}},
		Rules: []AccessRule{{Name: "payer", ClientID: "c1", Grants: []AccessGrant{
			{Types: []string{"*"}, Interactions: "rs", Patients: "attributed"}}}},
		Relations: staticRelations{"p1"},
	}
	observationsOnly := &AccessPolicy{Rules: []AccessRule{{Name: "labs", ClientID: "c1", Grants: []AccessGrant{
		{Types: []string{"Observation"}, Interactions: "rs"}}}}}
	everything := &AccessPolicy{Rules: []AccessRule{{Name: "all", ClientID: "c1", Grants: []AccessGrant{
		{Types: []string{"*"}, Interactions: "rs"}}}}}
	p1, p2 := obs("o1", "laboratory", "p1"), obs("o2", "laboratory", "p2")
	file := p1 + "\n" + p2 + "\n"
	tests := []struct {
		name    string
		policy  *AccessPolicy
		client  string
		kickoff string
		want    int
		query   string
		body    string // the Observation file the client gets
	}{
		{name: "attributed patients only", policy: attributed, kickoff: "/fhir/Group/cohort/$export", want: 202, body: p1 + "\n"},
		{name: "a type the policy names", policy: observationsOnly, kickoff: "/fhir/$export", want: 202, query: "_type=Observation", body: file},
		{name: "a type the policy does not grant", policy: observationsOnly, kickoff: "/fhir/$export?_type=Patient", want: 403},
		{name: "no rule for the client", policy: everything, client: "c2", kickoff: "/fhir/$export", want: 403},
		{name: "everything granted: passed through", policy: everything, kickoff: "/fhir/$export", want: 202, body: file},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := exportEngine(t, &exClock{t: time.Unix(1700000000, 0)}, func(o *Options) { o.AccessPolicy = tc.policy })
			client := tc.client
			if client == "" {
				client = "c1"
			}
			g := exGrant("system/*.rs", client, "s1")
			b := &bulkServer{files: map[string]string{"Observation.ndjson": file},
				manifest: `{"transactionTime":"x","request":"x","requiresAccessToken":true,"output":[{"type":"Observation","url":"` + exBase + `/bulk/job1/Observation.ndjson"}],"error":[]}`}
			w := exDo(e, g, b, "GET", tc.kickoff, "")
			if w.Code != tc.want {
				t.Fatalf("kick-off %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want != 202 {
				return
			}
			if b.kickoffs[0].URL.RawQuery != tc.query {
				t.Errorf("handler's query %q, want %q", b.kickoffs[0].URL.RawQuery, tc.query)
			}
			files, _ := manifestFiles(t, e, g, b, pollPath(t, w))
			got := exDo(e, g, b, "GET", files["output:Observation"], "")
			if got.Code != 200 || got.Body.String() != tc.body {
				t.Errorf("file %d %q, want %q", got.Code, got.Body, tc.body)
			}
		})
	}
}
