package engine

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// setRelations answers every relationship with the patients it holds
// now: a panel that changes.
type setRelations struct {
	mu  sync.Mutex
	ids []string
}

func (s *setRelations) Patients(context.Context, string, string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids, nil
}

func (s *setRelations) set(ids ...string) { s.mu.Lock(); s.ids = ids; s.mu.Unlock() }

// typeFilterQuery is the handler's query for one _type and the
// _typeFilter entries given (each "Type?query", escaped once more).
func typeFilterQuery(typ string, filters ...string) string {
	q := "_type=" + url.QueryEscape(typ)
	for _, f := range filters {
		q += "&_typeFilter=" + url.QueryEscape(f)
	}
	return q
}

// policyExportCase is a kick-off under an access policy and the files
// the client then gets.
type policyExportCase struct {
	name        string
	policy      *AccessPolicy
	scopes      string // default system/*.rs
	kickoff     string
	query       string
	obsFile     string            // the handler's Observation file; default lab, vital, survey
	patFile     string            // the handler's Patient file
	want        map[string]string // the files the client gets, by type; a type absent is left out of the manifest
	wantRefused int               // the kick-off's status, when refused
}

// TestExportUnderPolicyCriteria: a Bulk Data export under an access
// policy whose grants have criteria is narrowed into _typeFilter where
// that is exact (every grant of the type has criteria and no patients;
// ANDed with granular scopes and the client's own filters, ORed between
// grants), and every line of its files is still checked against the
// policy: a handler that ignores _typeFilter, exports a patient outside
// the panel, a type the rule does not grant or a resource holding
// another patient's gets those lines withheld.
func TestExportUnderPolicyCriteria(t *testing.T) {
	for _, tc := range policyExportCases() {
		t.Run(tc.name, func(t *testing.T) { runPolicyExportCase(t, tc) })
	}
}

// policyExportCases are TestExportUnderPolicyCriteria's: the handler's
// Observation file is lab, vital, survey unless a case says otherwise.
func policyExportCases() []policyExportCase {
	rule := func(grants ...AccessGrant) *AccessPolicy {
		return &AccessPolicy{Rules: []AccessRule{{Name: "r", ClientID: "c1", Grants: grants}}}
	}
	obsGrant := func(criteria string) AccessGrant {
		return AccessGrant{Types: []string{"Observation"}, Interactions: "rs", Criteria: criteria}
	}
	lab, vital, survey := obs("o1", "laboratory", "p1"), obs("o2", "vital-signs", "p1"), obs("o3", "survey", "p2")
	labP2 := obs("o4", "laboratory", "p2")
	// An Observation of p1 that names p2 too (its performer).
	mixed := strings.Replace(obs("o5", "laboratory", "p1"), `"subject"`, `"performer":[{"reference":"Patient/p2"}],"subject"`, 1)
	pat := func(id string) string { return `{"resourceType":"Patient","id":"` + id + `"}` }
	attributed := func(ids ...string) *AccessPolicy {
		return &AccessPolicy{Relationships: []Relationship{{Name: "panel", Search: "Patient?general-practitioner=Practitioner/x"}},
			Rules:     []AccessRule{{Name: "r", ClientID: "c1", Grants: []AccessGrant{{Types: []string{"*"}, Interactions: "rs", Patients: "panel"}}}},
			Relations: staticRelations(ids)}
	}
	manyGrants := []AccessGrant{obsGrant("category=laboratory")}
	for i := range maxTypeFilters {
		manyGrants = append(manyGrants, obsGrant("category=c"+strconv.Itoa(i)))
	}
	cases := []policyExportCase{
		{name: "criteria become _typeFilter; lines outside them withheld", policy: rule(obsGrant("category=laboratory")),
			kickoff: "/fhir/$export", query: typeFilterQuery("Observation", "Observation?category=laboratory"),
			want: map[string]string{"Observation": lab + "\n"}},
		{name: "criteria ANDed with a granular scope", policy: rule(obsGrant("subject=Patient/p1")), scopes: labScope,
			kickoff: "/fhir/$export?_type=Observation", obsFile: lab + "\n" + labP2 + "\n" + vital + "\n",
			query: typeFilterQuery("Observation", "Observation?"+labQuery+"&subject=Patient%2Fp1"),
			want:  map[string]string{"Observation": lab + "\n"}},
		{name: "two grants' criteria ORed", policy: rule(obsGrant("category=laboratory"), obsGrant("category=vital-signs")),
			kickoff: "/fhir/$export?_type=Observation",
			query:   typeFilterQuery("Observation", "Observation?category=laboratory", "Observation?category=vital-signs"),
			want:    map[string]string{"Observation": lab + "\n" + vital + "\n"}},
		{name: "criteria ANDed with the client's own filter", policy: rule(obsGrant("category=laboratory")),
			kickoff: "/fhir/$export?_type=Observation&_typeFilter=" + url.QueryEscape("Observation?status=final"),
			query:   typeFilterQuery("Observation", "Observation?category=laboratory&status=final"),
			want:    map[string]string{"Observation": lab + "\n"}},
		{name: "a grant without criteria: nothing to narrow", policy: rule(obsGrant("category=laboratory"), obsGrant("")),
			kickoff: "/fhir/$export?_type=Observation", query: typeFilterQuery("Observation"),
			want: map[string]string{"Observation": lab + "\n" + vital + "\n" + survey + "\n"}},
		{name: "more criteria than _typeFilter entries: not narrowed, lines checked", policy: rule(manyGrants...),
			kickoff: "/fhir/$export?_type=Observation", query: typeFilterQuery("Observation"),
			want: map[string]string{"Observation": lab + "\n"}},
		{name: "a type the rule does not grant is refused", policy: rule(obsGrant("category=laboratory")),
			kickoff: "/fhir/$export?_type=Observation,Patient", wantRefused: 403},
		{name: "a type the rule does not grant, exported anyway: left out, and its lines in another file withheld",
			policy: rule(obsGrant("")), kickoff: "/fhir/$export", query: typeFilterQuery("Observation"),
			obsFile: lab + "\n" + pat("p1") + "\n", patFile: pat("p1") + "\n",
			want: map[string]string{"Observation": lab + "\n"}},
		{name: "a patient outside the panel in a Patient-level export", policy: attributed("p1"),
			kickoff: "/fhir/Patient/$export?_type=Observation,Patient", query: typeFilterQuery("Observation,Patient"),
			obsFile: lab + "\n" + labP2 + "\n" + mixed + "\n" + survey + "\n", patFile: pat("p1") + "\n" + pat("p2") + "\n",
			want: map[string]string{"Observation": lab + "\n", "Patient": pat("p1") + "\n"}},
		{name: "an empty panel exports nothing", policy: attributed(),
			kickoff: "/fhir/Patient/$export?_type=Observation,Patient", query: typeFilterQuery("Observation,Patient"),
			patFile: pat("p1") + "\n", want: map[string]string{"Observation": "", "Patient": ""}},
	}
	for i := range cases {
		if cases[i].obsFile == "" {
			cases[i].obsFile = lab + "\n" + vital + "\n" + survey + "\n"
		}
	}
	return cases
}

func runPolicyExportCase(t *testing.T, tc policyExportCase) {
	e := exportEngine(t, &exClock{t: time.Unix(1700000000, 0)}, func(o *Options) { o.AccessPolicy = tc.policy })
	scopes := tc.scopes
	if scopes == "" {
		scopes = "system/*.rs"
	}
	g := exGrant(scopes, "c1", "s1")
	b := &bulkServer{files: map[string]string{"Observation.ndjson": tc.obsFile, "Patient.ndjson": tc.patFile}}
	w := exDo(e, g, b, "GET", tc.kickoff, "")
	if tc.wantRefused != 0 {
		if w.Code != tc.wantRefused || len(b.kickoffs) > 0 {
			t.Fatalf("kick-off %d (handler called %d times), want %d", w.Code, len(b.kickoffs), tc.wantRefused)
		}
		return
	}
	if w.Code != 202 {
		t.Fatalf("kick-off %d: %s", w.Code, w.Body)
	}
	if got := b.kickoffs[0].URL.RawQuery; got != tc.query {
		t.Errorf("handler's query\n%s, want\n%s", got, tc.query)
	}
	files, _ := manifestFiles(t, e, g, b, pollPath(t, w))
	for _, typ := range []string{"Observation", "Patient"} {
		want, listed := tc.want[typ]
		path, ok := files["output:"+typ]
		if ok != listed {
			t.Errorf("%s file in the manifest: %v, want %v", typ, ok, listed)
			continue
		}
		if !ok {
			continue
		}
		if got := exDo(e, g, b, "GET", path, ""); got.Code != 200 || got.Body.String() != want {
			t.Errorf("%s file: %d\n%s, want\n%s", typ, got.Code, got.Body, want)
		}
	}
}

// TestExportPanelShrinksAfterKickoff: the lines of a file are checked
// against the panel as it is when the file is downloaded: a patient who
// left it after the kick-off (the relationship cache expired) is
// withheld.
func TestExportPanelShrinksAfterKickoff(t *testing.T) {
	clock := &exClock{t: time.Unix(1700000000, 0)}
	rel := &setRelations{ids: []string{"p1", "p2"}}
	e := exportEngine(t, clock, func(o *Options) {
		o.AccessPolicy = &AccessPolicy{Relationships: []Relationship{{Name: "panel", Search: "Group?_id=cohort", Path: "member.entity"}},
			Rules: []AccessRule{{Name: "payer", ClientID: "c1", Grants: []AccessGrant{
				{Types: []string{"*"}, Interactions: "rs", Patients: "panel"}}}},
			Relations: rel, CacheTTL: time.Minute, Now: clock.now}
	})
	g := exGrant("system/*.rs", "c1", "s1")
	p1, p2 := obs("o1", "laboratory", "p1"), obs("o2", "laboratory", "p2")
	b := &bulkServer{files: map[string]string{"Observation.ndjson": p1 + "\n" + p2 + "\n"},
		manifest: `{"transactionTime":"x","request":"x","requiresAccessToken":true,"output":[{"type":"Observation","url":"` + exBase + `/bulk/job1/Observation.ndjson"}],"error":[]}`}
	files, _ := manifestFiles(t, e, g, b, kickoff(t, e, g, b, "/fhir/Group/cohort/$export"))
	if got := exDo(e, g, b, "GET", files["output:Observation"], ""); got.Body.String() != p1+"\n"+p2+"\n" {
		t.Fatalf("before: %q, want both patients", got.Body)
	}
	rel.set("p1")
	clock.add(2 * time.Minute)
	if got := exDo(e, g, b, "GET", files["output:Observation"], ""); got.Code != 200 || got.Body.String() != p1+"\n" {
		t.Errorf("after p2 left the panel: %d %q, want p1's line only", got.Code, got.Body)
	}
}
