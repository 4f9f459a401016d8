package middleware_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// pagedPanel is a FHIR server whose search of a practitioner's panel
// ("Patient?general-practitioner=...") answers one patient a page: page
// n holds Patient/p<n> and links to next(n) (none when next returns "").
// Reads of Patient/p<n> answer the patient.
type pagedPanel struct {
	next func(n int) string

	mu    sync.Mutex
	pages int // the pages of the panel served
}

func (s *pagedPanel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/fhir+json")
	if id, ok := strings.CutPrefix(r.URL.Path, "/r4/Patient/"); ok {
		w.Write([]byte(`{"resourceType":"Patient","id":"` + id + `"}`))
		return
	}
	if !smartmw.IsStoredRead(r) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	n := 1
	if p := r.URL.Query().Get("_page"); p != "" {
		n, _ = strconv.Atoi(p)
	}
	if n == 500 {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	s.pages++
	s.mu.Unlock()
	link := ""
	if next := s.next(n); next != "" {
		link = `,"link":[{"relation":"self","url":"x"},{"relation":"next","url":"` + next + `"}]`
	}
	w.Write([]byte(`{"resourceType":"Bundle","type":"searchset"` + link + `,"entry":[{"resource":{"resourceType":"Patient","id":"p` +
		strconv.Itoa(n) + `","generalPractitioner":[{"reference":"Practitioner/dr-jones"}]}}]}`))
}

// TestRelationshipLookupFollowsPages: the Guard's lookup of a
// relationship through the handler follows the searchset's "next" links
// under this FHIR base (a resource path or the base with a query, as
// servers page), up to MaxLookupIDs patients and 100 pages, which can
// only narrow what the policy grants; a next link elsewhere (another
// origin, another base, relative), a loop or a page that fails fails the
// whole lookup (503), never granting the pages read before.
func TestRelationshipLookupFollowsPages(t *testing.T) {
	page := func(n int) string { return testAudience + "/Patient?general-practitioner=x&_page=" + strconv.Itoa(n) }
	upTo := func(last int, link func(int) string) func(int) string {
		return func(n int) string {
			if n >= last {
				return ""
			}
			return link(n + 1)
		}
	}
	tests := []struct {
		name      string
		next      func(n int) string
		maxIDs    int
		reach     []string // patients read with 200
		refused   []string // patients refused with 403
		failed    bool     // every read 503
		wantPages int      // the pages served for the lookup (0: not checked)
	}{
		{name: "one page", next: upTo(1, page), reach: []string{"p1"}, refused: []string{"p2"}, wantPages: 1},
		{name: "next links under the base followed", next: upTo(3, page), reach: []string{"p1", "p2", "p3"}, refused: []string{"p4"}, wantPages: 3},
		{name: "paging at the base, with a query", next: upTo(2, func(n int) string { return testAudience + "?_getpages=abc&_page=" + strconv.Itoa(n) }),
			reach: []string{"p1", "p2"}, refused: []string{"p3"}},
		{name: "next link to another origin", next: upTo(2, func(n int) string { return "https://evil.example/r4/Patient?_page=" + strconv.Itoa(n) }),
			failed: true, wantPages: 1},
		{name: "next link to another base of the origin", next: upTo(2, func(n int) string { return "https://fhir.example.org/r5/Patient?_page=" + strconv.Itoa(n) }),
			failed: true},
		{name: "next link to a longer base", next: upTo(2, func(n int) string { return testAudience + "x/Patient?_page=" + strconv.Itoa(n) }),
			failed: true},
		{name: "relative next link", next: upTo(2, func(n int) string { return "Patient?_page=" + strconv.Itoa(n) }), failed: true},
		{name: "next link to a page already read", next: func(int) string { return page(2) }, failed: true, wantPages: 2},
		{name: "a page that fails", next: upTo(2, func(int) string { return page(500) }), failed: true},
		{name: "MaxLookupIDs reached: the rest dropped", next: upTo(5, page), maxIDs: 2,
			reach: []string{"p1", "p2"}, refused: []string{"p3", "p5"}, wantPages: 2},
		{name: "100 pages at most: the rest dropped", next: upTo(1000, page),
			reach: []string{"p1", "p100"}, refused: []string{"p101", "p1000"}, wantPages: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := &pagedPanel{next: tc.next}
			is := newIssuer(t)
			g := newGuard(t, is, func(c *smartmw.Config) {
				p, err := smartmw.LoadAccessPolicy(strings.NewReader(`{"relationships":[{"name":"gp","search":"Patient?general-practitioner=%fhirUser"}],
					"rules":[{"name":"panel","fhirUserType":"Practitioner","grants":[{"types":["*"],"interactions":"rs","patients":"gp"}]}]}`))
				if err != nil {
					t.Fatal(err)
				}
				p.MaxLookupIDs = tc.maxIDs
				c.AccessPolicy = p
			})
			f := &policyFixture{is: is, h: g.Handler(srv)}
			jones := policyClaims(is, "Practitioner/dr-jones", "user/*.rs", "app-1")
			for _, id := range append(append([]string{}, tc.reach...), tc.refused...) {
				want := 200
				if !slices.Contains(tc.reach, id) {
					want = 403
				}
				if tc.failed {
					want = 503
				}
				if w := f.do(t, jones, "GET", "/Patient/"+id, ""); w.Code != want {
					t.Errorf("read %s: %d %s, want %d", id, w.Code, w.Body, want)
				}
			}
			if tc.failed {
				if w := f.do(t, jones, "GET", "/Patient/p1", ""); w.Code != 503 {
					t.Errorf("read p1 of the first page: %d, want 503", w.Code)
				}
			}
			if tc.wantPages != 0 && srv.pages != tc.wantPages {
				t.Errorf("%d pages served, want %d", srv.pages, tc.wantPages)
			}
		})
	}
}

// TestPolicyCriteriaVariablesPerToken: criteria with a variable are
// evaluated with each token's value, those without one are compiled once
// for every token: two practitioners on the same Guard, one after the
// other and in turn, each get the Observations they performed, in reads
// and in searches, never the other's.
func TestPolicyCriteriaVariablesPerToken(t *testing.T) {
	performed := func(id, by, category string) string {
		return strings.Replace(policyObs(id, "p1", category), `"subject"`, `"performer":[{"reference":"Practitioner/`+by+`"}],"subject"`, 1)
	}
	store := newPolicyStore(performed("j1", "dr-jones", "laboratory"), performed("j2", "dr-jones", "vital-signs"),
		performed("l1", "dr-lee", "laboratory"), performed("l2", "dr-lee", "vital-signs"))
	is := newIssuer(t)
	g := newGuard(t, is, func(c *smartmw.Config) {
		p, err := smartmw.LoadAccessPolicy(strings.NewReader(`{"rules":[
			{"name":"performed","fhirUserType":"Practitioner","grants":[{"types":["Observation"],"interactions":"rs","criteria":"performer=%fhirUser"}]},
			{"name":"labs","clientId":"lab-app","grants":[{"types":["Observation"],"interactions":"rs","criteria":"category=laboratory"}]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		c.AccessPolicy = p
	})
	f := &policyFixture{is: is, store: store, h: g.Handler(store)}
	tests := []struct {
		who        jwt.MapClaims
		see, never []string
	}{
		{policyClaims(is, "Practitioner/dr-jones", "user/Observation.rs", "app-1"), []string{"j1", "j2"}, []string{"l1", "l2"}},
		{policyClaims(is, "Practitioner/dr-lee", "user/Observation.rs", "app-1"), []string{"l1", "l2"}, []string{"j1", "j2"}},
		{policyClaims(is, "", "system/Observation.rs", "lab-app"), []string{"j1", "l1"}, []string{"j2", "l2"}},
	}
	for round := range 2 {
		for _, tc := range tests {
			w := f.do(t, tc.who, "GET", "/Observation", "")
			got := strings.Join(policyEntryIDs(t, w.Body.Bytes()), " ")
			want := "Observation/" + tc.see[0] + " Observation/" + tc.see[1]
			if w.Code != 200 || got != want {
				t.Errorf("round %d, %v: search %d %q, want %q", round, tc.who["fhirUser"], w.Code, got, want)
			}
			for _, id := range tc.see {
				if w := f.do(t, tc.who, "GET", "/Observation/"+id, ""); w.Code != 200 {
					t.Errorf("round %d, %v: read %s %d", round, tc.who["fhirUser"], id, w.Code)
				}
			}
			for _, id := range tc.never {
				if w := f.do(t, tc.who, "GET", "/Observation/"+id, ""); w.Code != 403 {
					t.Errorf("round %d, %v: read %s %d, want 403", round, tc.who["fhirUser"], id, w.Code)
				}
			}
		}
	}
}
