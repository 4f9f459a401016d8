package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/smartguard/smartguard/internal/search"
	"github.com/smartguard/smartguard/scope"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

// policyServer is a small FHIR server for the policy tests: read, search
// (evaluated with internal/search), create, update, delete. With leaky
// set, a search with _include or _revinclude adds every resource of
// every other type, as a careless server might.
type policyServer struct {
	mu      sync.Mutex
	res     map[string][]byte // "Type/id" → JSON
	queries []string          // the queries of the searches served
	lookups int               // the Guard's own reads (IsStoredRead)
}

func newPolicyStore(resources ...string) *policyServer {
	s := &policyServer{res: map[string][]byte{}}
	for _, r := range resources {
		s.put([]byte(r))
	}
	return s
}

func (s *policyServer) put(b []byte) {
	var m struct{ ResourceType, ID string }
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	s.mu.Lock()
	s.res[m.ResourceType+"/"+m.ID] = b
	s.mu.Unlock()
}

func (s *policyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if smartmw.IsStoredRead(r) {
		s.lookups++
	}
	rel := strings.Trim(strings.TrimPrefix(r.URL.Path, "/r4"), "/")
	parts := strings.Split(rel, "/")
	if rel == "" && r.Method == http.MethodPost {
		s.mu.Unlock()
		s.batch(w, r)
		s.mu.Lock()
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	switch {
	case r.Method == http.MethodGet && len(parts) == 2:
		b, ok := s.res[rel]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`))
			return
		}
		w.Write(b)
	case r.Method == http.MethodGet && len(parts) == 1:
		s.queries = append(s.queries, r.URL.RawQuery)
		s.search(w, parts[0], r.URL.Query())
	case r.Method == http.MethodPut && len(parts) == 2, r.Method == http.MethodPost && len(parts) == 1:
		b, _ := io.ReadAll(r.Body)
		s.mu.Unlock()
		s.put(b)
		s.mu.Lock()
		w.WriteHeader(http.StatusCreated)
		w.Write(b)
	case r.Method == http.MethodDelete && len(parts) == 2:
		delete(s.res, rel)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

// batch answers a batch entry by entry.
func (s *policyServer) batch(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Entry []struct {
			Request  struct{ Method, URL string }
			Resource json.RawMessage
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var out []string
	for _, e := range b.Entry {
		sub := httptest.NewRequest(e.Request.Method, "/r4/"+e.Request.URL, bytes.NewReader(e.Resource))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, sub)
		res := rec.Body.String()
		if res == "" {
			res = "null"
		}
		out = append(out, `{"resource":`+res+`,"response":{"status":"`+strconv.Itoa(rec.Code)+`"}}`)
	}
	w.Write([]byte(`{"resourceType":"Bundle","type":"batch-response","entry":[` + strings.Join(out, ",") + `]}`))
}

func (s *policyServer) search(w http.ResponseWriter, typ string, q url.Values) {
	var c scope.Constraint
	include := false
	for k, vs := range q {
		if strings.HasPrefix(k, "_include") || strings.HasPrefix(k, "_revinclude") {
			include = true
			continue
		}
		if k == "_count" {
			continue
		}
		for _, v := range vs {
			c = append(c, scope.Param{Name: k, Value: v})
		}
	}
	var query *search.Query
	if len(c) > 0 {
		var err error
		if query, err = search.Compile(typ, c, search.Options{Base: testAudience}); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
	}
	keys := make([]string, 0, len(s.res))
	for k := range s.res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var entries []string
	for _, k := range keys {
		b := s.res[k]
		if strings.HasPrefix(k, typ+"/") {
			if query != nil {
				if ok, err := query.Match(b); err != nil || !ok {
					continue
				}
			}
			entries = append(entries, `{"fullUrl":"`+testAudience+"/"+k+`","resource":`+string(b)+`,"search":{"mode":"match"}}`)
		} else if include {
			entries = append(entries, `{"fullUrl":"`+testAudience+"/"+k+`","resource":`+string(b)+`,"search":{"mode":"include"}}`)
		}
	}
	w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[` + strings.Join(entries, ",") + `]}`))
}

// The sample data: dr-jones is p1's general practitioner and on p2's
// active CareTeam; p3 is dr-lee's only. The Group "attributed" holds p1.
var policyData = []string{
	`{"resourceType":"Practitioner","id":"dr-jones"}`,
	`{"resourceType":"Practitioner","id":"dr-lee"}`,
	`{"resourceType":"Patient","id":"p1","generalPractitioner":[{"reference":"Practitioner/dr-jones"}]}`,
	`{"resourceType":"Patient","id":"p2","generalPractitioner":[{"reference":"Practitioner/dr-lee"}]}`,
	`{"resourceType":"Patient","id":"p3","generalPractitioner":[{"reference":"Practitioner/dr-lee"}]}`,
	`{"resourceType":"CareTeam","id":"ct2","status":"active","subject":{"reference":"Patient/p2"},"participant":[{"member":{"reference":"Practitioner/dr-jones"}}]}`,
	`{"resourceType":"Group","id":"attributed","type":"person","actual":true,"member":[{"entity":{"reference":"Patient/p1"}}]}`,
	policyObs("o1", "p1", "laboratory"),
	policyObs("o2", "p2", "laboratory"),
	policyObs("o3", "p3", "laboratory"),
	policyObs("o3v", "p3", "vital-signs"),
}

func policyObs(id, patient, category string) string {
	return `{"resourceType":"Observation","id":"` + id + `","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"` + category + `"}]}],"code":{"text":"x"},"subject":{"reference":"Patient/` + patient + `"}}`
}

const policyJSON = `{
  "relationships": [
    {"name": "gp", "search": "Patient?general-practitioner=%fhirUser"},
    {"name": "careteam", "search": "CareTeam?participant=%fhirUser&status=active", "path": "subject"},
    {"name": "attributed", "search": "Group?_id=attributed", "path": "member.entity"}
  ],
  "rules": [
    {"name": "practitioner-panel", "fhirUserType": "Practitioner", "grants": [
      {"types": ["*"], "interactions": "cruds", "patients": "gp"},
      {"types": ["*"], "interactions": "cruds", "patients": "careteam"},
      {"types": ["Practitioner", "Organization"], "interactions": "rs"}
    ]},
    {"name": "lab-tech", "claim": "realm_access.roles", "value": "lab", "grants": [
      {"types": ["Observation"], "interactions": "rs", "criteria": "category=laboratory"}
    ]},
    {"name": "analytics", "clientId": "analytics", "grants": [
      {"types": ["Observation"], "interactions": "rs"}
    ]},
    {"name": "b2b-treatment", "clientId": "partner", "claim": "extensions.hl7-b2b.purpose_of_use", "value": "TREAT", "grants": [
      {"types": ["*"], "interactions": "rs", "patients": "attributed"}
    ]}
  ]
}`

func loadTestPolicy(t testing.TB) *smartmw.AccessPolicy {
	t.Helper()
	p, err := smartmw.LoadAccessPolicy(strings.NewReader(policyJSON))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type policyFixture struct {
	is     *smarttest.Issuer
	store  *policyServer
	h      http.Handler
	events []smartmw.AuditEvent
	now    time.Time
	mu     sync.Mutex
}

func newPolicyFixture(t *testing.T, is *smarttest.Issuer, adjust func(*smartmw.Config)) *policyFixture {
	t.Helper()
	f := &policyFixture{is: is, store: newPolicyStore(policyData...), now: testNow}
	g := newGuard(t, is, func(c *smartmw.Config) {
		c.AccessPolicy = loadTestPolicy(t)
		c.Tokens.Now = func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
		c.Hooks.Audit = func(_ context.Context, e smartmw.AuditEvent) {
			f.mu.Lock()
			f.events = append(f.events, e)
			f.mu.Unlock()
		}
		if adjust != nil {
			adjust(c)
		}
	})
	f.h = g.Handler(f.store)
	return f
}

func (f *policyFixture) advance(d time.Duration) { f.mu.Lock(); f.now = f.now.Add(d); f.mu.Unlock() }

func (f *policyFixture) lastEvent() smartmw.AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.events[len(f.events)-1]
}

// token returns claims for a user with fhirUser user (or none), scopes
// and client.
func policyClaims(is *smarttest.Issuer, user, scopes, client string) jwt.MapClaims {
	c := goodClaims(is)
	delete(c, "patient")
	c["scope"] = scopes
	c["client_id"] = client
	if user != "" {
		c["fhirUser"] = user
	}
	return c
}

func (f *policyFixture) do(t *testing.T, claims jwt.MapClaims, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, testAudience+target, rd)
	r.Header.Set("Authorization", "Bearer "+sign(t, f.is, claims))
	if body != "" {
		r.Header.Set("Content-Type", "application/fhir+json")
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// policyEntryIDs returns the "Type/id" of a searchset's resources, outcomes left out.
func policyEntryIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource struct{ ResourceType, ID string }
		}
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var ids []string
	for _, e := range b.Entry {
		if e.Resource.ResourceType != "OperationOutcome" {
			ids = append(ids, e.Resource.ResourceType+"/"+e.Resource.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// TestScopesAndPolicyTable: a request is allowed only when the scopes and
// the policy both allow it, and a refusal says which refused (cases of
// our own, modelled on Firely Server's AccessPolicy documentation).
func TestScopesAndPolicyTable(t *testing.T) {
	is := newIssuer(t)
	lab := policyClaims(is, "Practitioner/tech-1", "user/*.rs", "app-1")
	lab["realm_access"] = map[string]any{"roles": []any{"lab"}}
	cases := []struct {
		name      string
		claims    jwt.MapClaims
		method    string
		target    string
		body      string
		status    int
		refusedBy string
		rule      string
	}{
		{name: "panel patient read", claims: policyClaims(is, "Practitioner/dr-jones", "user/*.rs", "app-1"), method: "GET", target: "/Patient/p1", status: 200},
		{name: "care team patient read", claims: policyClaims(is, "Practitioner/dr-jones", "user/*.rs", "app-1"), method: "GET", target: "/Patient/p2", status: 200},
		{name: "patient outside the panel", claims: policyClaims(is, "Practitioner/dr-jones", "user/*.rs", "app-1"), method: "GET", target: "/Patient/p3", status: 403, refusedBy: "policy", rule: "practitioner-panel"},
		{name: "observation outside the panel", claims: policyClaims(is, "Practitioner/dr-jones", "user/*.rs", "app-1"), method: "GET", target: "/Observation/o3", status: 403, refusedBy: "policy", rule: "practitioner-panel"},
		{name: "policy allows, scope does not", claims: policyClaims(is, "Practitioner/dr-jones", "user/Observation.rs", "app-1"), method: "GET", target: "/Patient/p1", status: 403, refusedBy: "scope"},
		{name: "scope allows read only, no write", claims: policyClaims(is, "Practitioner/dr-jones", "user/*.rs", "app-1"), method: "PUT", target: "/Observation/o1", body: policyObs("o1", "p1", "laboratory"), status: 403, refusedBy: "scope"},
		{name: "both allow a write", claims: policyClaims(is, "Practitioner/dr-jones", "user/*.cruds", "app-1"), method: "PUT", target: "/Observation/o1", body: policyObs("o1", "p1", "laboratory"), status: 201},
		{name: "no rule for the user", claims: policyClaims(is, "RelatedPerson/rp1", "user/*.rs", "app-1"), method: "GET", target: "/Observation/o1", status: 403, refusedBy: "policy"},
		{name: "no rule for a user without fhirUser", claims: policyClaims(is, "", "user/*.rs", "app-1"), method: "GET", target: "/Observation/o1", status: 403, refusedBy: "policy"},
		{name: "claim rule criteria match", claims: lab, method: "GET", target: "/Observation/o3", status: 200},
		{name: "claim rule criteria do not match", claims: lab, method: "GET", target: "/Observation/o3v", status: 403, refusedBy: "policy", rule: "practitioner-panel,lab-tech"},
		{name: "claim rule type not granted", claims: lab, method: "GET", target: "/Patient/p3", status: 403, refusedBy: "policy", rule: "practitioner-panel,lab-tech"},
		{name: "client rule read", claims: policyClaims(is, "", "system/*.rs", "analytics"), method: "GET", target: "/Observation/o3", status: 200},
		{name: "client rule other type", claims: policyClaims(is, "", "system/*.rs", "analytics"), method: "GET", target: "/Patient/p1", status: 403, refusedBy: "policy", rule: "analytics"},
		{name: "client rule write", claims: policyClaims(is, "", "system/*.cruds", "analytics"), method: "POST", target: "/Observation", body: policyObs("new", "p1", "laboratory"), status: 403, refusedBy: "policy", rule: "analytics"},
		{name: "unknown client", claims: policyClaims(is, "", "system/*.rs", "other"), method: "GET", target: "/Observation/o1", status: 403, refusedBy: "policy"},
		{name: "patient scopes are not the policy's", claims: func() jwt.MapClaims {
			c := policyClaims(is, "Practitioner/dr-jones", "launch/patient patient/*.rs", "app-1")
			c["patient"] = "p3"
			return c
		}(), method: "GET", target: "/Observation/o3", status: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newPolicyFixture(t, is, nil)
			w := f.do(t, tc.claims, tc.method, tc.target, tc.body)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			e := f.lastEvent()
			if e.RefusedBy != tc.refusedBy {
				t.Errorf("audit RefusedBy %q, want %q (%s)", e.RefusedBy, tc.refusedBy, e.Reason)
			}
			if tc.rule != "" && e.Rule != tc.rule {
				t.Errorf("audit Rule %q, want %q", e.Rule, tc.rule)
			}
			if tc.refusedBy == "policy" {
				if !strings.Contains(w.Body.String(), "access policy") || !strings.Contains(w.Header().Get("WWW-Authenticate"), "access policy") {
					t.Errorf("the refusal does not name the policy: %s %s", w.Header().Get("WWW-Authenticate"), w.Body)
				}
				for _, rule := range strings.Split(tc.rule, ",") {
					if rule != "" && !strings.Contains(w.Body.String(), rule) {
						t.Errorf("the OperationOutcome does not name rule %q: %s", rule, w.Body)
					}
				}
			}
		})
	}
}

// TestPolicyNotFoundForDeniedHidesBoth: with NotFoundForDenied a read the
// policy refuses is answered as a missing resource is.
func TestPolicyNotFoundForDeniedHidesBoth(t *testing.T) {
	is := newIssuer(t)
	f := newPolicyFixture(t, is, func(c *smartmw.Config) { c.FHIR.NotFoundForDenied = true })
	jones := policyClaims(is, "Practitioner/dr-jones", "user/*.rs", "app-1")
	refused := f.do(t, jones, "GET", "/Observation/o3", "")
	missing := f.do(t, jones, "GET", "/Observation/nope", "")
	if refused.Code != 404 || missing.Code != 404 {
		t.Fatalf("refused %d, missing %d; want 404 both", refused.Code, missing.Code)
	}
	if e := f.lastEvent(); e.Status != 404 {
		t.Errorf("audit status %d", e.Status)
	}
}

// TestPractitionerPanel: dr-jones reaches p1 (general practitioner) and
// p2 (active CareTeam) in reads, searches, includes, batches and writes,
// and never p3.
func TestPractitionerPanel(t *testing.T) {
	is := newIssuer(t)
	f := newPolicyFixture(t, is, nil)
	jones := policyClaims(is, "Practitioner/dr-jones", "user/*.cruds", "app-1")

	t.Run("search narrowed", func(t *testing.T) {
		w := f.do(t, jones, "GET", "/Observation?category=laboratory", "")
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if got := strings.Join(policyEntryIDs(t, w.Body.Bytes()), " "); got != "Observation/o1 Observation/o2" {
			t.Errorf("entries %q", got)
		}
		q := f.store.queries[len(f.store.queries)-1]
		if !strings.Contains(q, "patient=Patient%2Fp1,Patient%2Fp2") { // the list's commas as FHIR writes them
			t.Errorf("the search was not narrowed to the panel: %s", q)
		}
	})
	t.Run("includes filtered", func(t *testing.T) {
		w := f.do(t, jones, "GET", "/Patient?_revinclude=Observation:subject", "")
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		for _, id := range policyEntryIDs(t, w.Body.Bytes()) {
			switch id {
			case "Patient/p1", "Patient/p2", "Observation/o1", "Observation/o2", "Practitioner/dr-jones", "Practitioner/dr-lee",
				"CareTeam/ct2", "Group/attributed": // p2's CareTeam, a Group of p1 only
			default:
				t.Errorf("%s left", id)
			}
		}
	})
	t.Run("write outside the panel", func(t *testing.T) {
		if w := f.do(t, jones, "POST", "/Observation", policyObs("n3", "p3", "laboratory")); w.Code != 403 {
			t.Errorf("create for p3: %d %s", w.Code, w.Body)
		}
		if w := f.do(t, jones, "PUT", "/Observation/o3", policyObs("o3", "p1", "laboratory")); w.Code != 403 {
			t.Errorf("update of p3's Observation: %d %s", w.Code, w.Body)
		}
		if w := f.do(t, jones, "DELETE", "/Observation/o3", ""); w.Code != 403 {
			t.Errorf("delete of p3's Observation: %d %s", w.Code, w.Body)
		}
		if _, ok := f.store.res["Observation/o3"]; !ok {
			t.Error("o3 deleted")
		}
		if w := f.do(t, jones, "POST", "/Observation", policyObs("n1", "p1", "laboratory")); w.Code != 201 {
			t.Errorf("create for p1: %d %s", w.Code, w.Body)
		}
	})
	t.Run("batch", func(t *testing.T) {
		batch := `{"resourceType":"Bundle","type":"batch","entry":[
			{"request":{"method":"GET","url":"Observation/o1"}},
			{"request":{"method":"GET","url":"Observation/o3"}},
			{"request":{"method":"POST","url":"Observation"},"resource":` + policyObs("b3", "p3", "laboratory") + `}]}`
		w := f.do(t, jones, "POST", "/", batch)
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		var b struct {
			Entry []struct{ Response struct{ Status string } }
		}
		json.Unmarshal(w.Body.Bytes(), &b)
		if len(b.Entry) != 3 || !strings.HasPrefix(b.Entry[0].Response.Status, "200") ||
			!strings.HasPrefix(b.Entry[1].Response.Status, "403") || !strings.HasPrefix(b.Entry[2].Response.Status, "403") {
			t.Errorf("batch answer %s", w.Body)
		}
		if _, ok := f.store.res["Observation/b3"]; ok {
			t.Error("the batch created an Observation for p3")
		}
	})
}

// TestCareTeamChangeWithinCacheBound: removing dr-jones from p2's CareTeam
// takes effect once the cached relationship expires.
func TestCareTeamChangeWithinCacheBound(t *testing.T) {
	is := newIssuer(t)
	f := newPolicyFixture(t, is, func(c *smartmw.Config) { c.AccessPolicy.CacheTTL = 30 * time.Second })
	jones := policyClaims(is, "Practitioner/dr-jones", "user/*.rs", "app-1")
	if w := f.do(t, jones, "GET", "/Patient/p2", ""); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	lookups := f.store.lookups
	f.store.put([]byte(`{"resourceType":"CareTeam","id":"ct2","status":"inactive","subject":{"reference":"Patient/p2"},"participant":[{"member":{"reference":"Practitioner/dr-jones"}}]}`))
	if w := f.do(t, jones, "GET", "/Patient/p2", ""); w.Code != 200 {
		t.Fatalf("within the bound: %d", w.Code)
	}
	if f.store.lookups != lookups {
		t.Errorf("the relationships were looked up again within the bound (%d → %d)", lookups, f.store.lookups)
	}
	f.advance(31 * time.Second)
	if w := f.do(t, jones, "GET", "/Patient/p2", ""); w.Code != 403 {
		t.Fatalf("after the bound: %d %s", w.Code, w.Body)
	}
}

// TestGroupAttributionForB2BClient: a client whose token carries the UDAP
// hl7-b2b purpose of use reaches the Group's members only; the audit
// event records the purpose and the organization.
func TestGroupAttributionForB2BClient(t *testing.T) {
	is := newIssuer(t)
	f := newPolicyFixture(t, is, nil)
	c := policyClaims(is, "", "system/*.rs", "partner")
	c["extensions"] = map[string]any{"hl7-b2b": map[string]any{"version": "1", "purpose_of_use": []any{"TREAT"}, "organization_id": "https://org.example/1"}}
	if w := f.do(t, c, "GET", "/Observation/o1", ""); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	e := f.lastEvent()
	if len(e.PurposeOfUse) != 1 || e.PurposeOfUse[0] != "TREAT" || e.Organization != "https://org.example/1" {
		t.Errorf("audit %+v", e)
	}
	if w := f.do(t, c, "GET", "/Observation/o2", ""); w.Code != 403 {
		t.Errorf("outside the group: %d", w.Code)
	}
	w := f.do(t, c, "GET", "/Observation", "")
	if got := strings.Join(policyEntryIDs(t, w.Body.Bytes()), " "); got != "Observation/o1" {
		t.Errorf("search %q", got)
	}
	c["extensions"] = map[string]any{"hl7-b2b": map[string]any{"purpose_of_use": []any{"HPAYMT"}}}
	if w := f.do(t, c, "GET", "/Observation/o1", ""); w.Code != 403 {
		t.Errorf("another purpose: %d", w.Code)
	}
}

// TestClientLimits: client analytics may read and search Observations
// and nothing else, whatever its system/ scopes.
func TestClientLimits(t *testing.T) {
	is := newIssuer(t)
	f := newPolicyFixture(t, is, nil)
	c := policyClaims(is, "", "system/*.cruds", "analytics")
	for _, tc := range []struct {
		method, target, body string
		status               int
	}{
		{"GET", "/Observation?category=laboratory", "", 200},
		{"GET", "/Observation/o1", "", 200},
		{"GET", "/Patient/p1", "", 403},
		{"GET", "/Patient?name=x", "", 403},
		{"DELETE", "/Observation/o1", "", 403},
		{"GET", "/Observation?_include=Observation:subject", "", 200},
	} {
		w := f.do(t, c, tc.method, tc.target, tc.body)
		if w.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.target, w.Code, tc.status)
		}
		if strings.Contains(tc.target, "_include") {
			for _, id := range policyEntryIDs(t, w.Body.Bytes()) {
				if !strings.HasPrefix(id, "Observation/") {
					t.Errorf("included %s", id)
				}
			}
		}
	}
}

// TestNewRefusesPolicyThatCannotBeEvaluated names the rule at fault.
func TestNewRefusesPolicyThatCannotBeEvaluated(t *testing.T) {
	is := newIssuer(t)
	for _, tc := range []struct{ name, policy, want string }{
		{"unknown param", `{"rules":[{"name":"bad-param","clientId":"x","grants":[{"types":["Observation"],"interactions":"rs","criteria":"nosuch=1"}]}]}`, "bad-param"},
		{"letters", `{"rules":[{"name":"bad-letters","clientId":"x","grants":[{"types":["Observation"],"interactions":"sr"}]}]}`, "bad-letters"},
		{"type", `{"rules":[{"name":"bad-type","clientId":"x","grants":[{"types":["Nope"],"interactions":"r"}]}]}`, "bad-type"},
		{"no subject", `{"rules":[{"name":"nobody","grants":[{"types":["*"],"interactions":"r"}]}]}`, "nobody"},
		{"relationship", `{"rules":[{"name":"no-rel","clientId":"x","grants":[{"types":["*"],"interactions":"r","patients":"panel"}]}]}`, "no-rel"},
		{"variable", `{"rules":[{"name":"bad-var","clientId":"x","grants":[{"types":["Observation"],"interactions":"r","criteria":"subject=%nobody"}]}]}`, "bad-var"},
		{"escaped percent", `{"rules":[{"name":"pct","clientId":"x","grants":[{"types":["Observation"],"interactions":"r","criteria":"subject=%25patient"}]}]}`, "pct"},
		{"criteria on every type", `{"rules":[{"name":"star","clientId":"x","grants":[{"types":["*"],"interactions":"r","criteria":"_id=1"}]}]}`, "star"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := smartmw.LoadAccessPolicy(strings.NewReader(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			_, err = smartmw.New(context.Background(), smartmw.Config{Issuer: smartmw.Issuer{URL: is.URL(), Audience: testAudience, Keyfunc: noKeys}, AccessPolicy: p})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v; want an error naming %q", err, tc.want)
			}
		})
	}
	if _, err := smartmw.LoadAccessPolicy(strings.NewReader(`{"rules":[],"extra":1}`)); err == nil {
		t.Error("unknown field accepted")
	}
}

// TestPolicyRelationsInterface: a user's own Relations answers instead of
// the handler, and its error refuses (503).
func TestPolicyRelationsInterface(t *testing.T) {
	is := newIssuer(t)
	rel := relationsFunc(func(_ context.Context, search, path string) ([]string, error) {
		if strings.HasPrefix(search, "CareTeam") {
			return nil, errors.New("down")
		}
		return []string{"p3"}, nil
	})
	f := newPolicyFixture(t, is, func(c *smartmw.Config) { c.AccessPolicy.Relations = rel })
	jones := policyClaims(is, "Practitioner/dr-jones", "user/*.rs", "app-1")
	if w := f.do(t, jones, "GET", "/Patient/p3", ""); w.Code != 503 {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	if f.store.lookups != 0 {
		t.Errorf("the handler was searched %d times", f.store.lookups)
	}
}

type relationsFunc func(ctx context.Context, search, path string) ([]string, error)

func (f relationsFunc) Patients(ctx context.Context, search, path string) ([]string, error) {
	return f(ctx, search, path)
}

// FuzzLoadAccessPolicy: any input is loaded or refused, and a loaded
// policy is checked or refused by New, without a panic.
func FuzzLoadAccessPolicy(f *testing.F) {
	f.Add(policyJSON)
	f.Add(`{"rules":[{"name":"a","clientId":"x","grants":[{"types":["Observation"],"interactions":"rs","criteria":"category=laboratory&subject=%patient"}]}]}`)
	f.Add(`{"rules":[{"name":"a","claim":"a..b","value":"v","grants":[]}]}`)
	f.Add(`{"relationships":[{"name":"r","search":"CareTeam?participant=%fhirUser","path":"subject"}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := smartmw.LoadAccessPolicy(strings.NewReader(s))
		if err != nil {
			return
		}
		_ = p.Check(testAudience)
	})
}
