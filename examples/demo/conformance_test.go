package main

// The conformance suite: what the ONC (g)(10), SMART App Launch STU2.2 and
// US Core test kits check of a resource server, written from their public
// descriptions (our own tests, not theirs) and run against the demo, over
// HTTP and in-process. docs/conformance.md maps each test to the kit
// behaviour it stands for; TestConformanceDocListsEveryCheck keeps the two
// in step.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// kitTarget reaches the demo's FHIR API one way: over HTTP, or by calling
// its handler in-process.
type kitTarget struct {
	name string
	do   func(t *testing.T, method, path, token string, hdr ...string) (int, http.Header, []byte)
}

// kitTargets starts the demo and returns both ways to reach it, paths
// being relative to the FHIR base.
func kitTargets(t *testing.T) (*demo, []kitTarget) {
	d, _ := startDemo(t)
	base := d.audience
	over := func(t *testing.T, method, path, token string, hdr ...string) (int, http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Accept", "application/fhir+json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	in := func(t *testing.T, method, path, token string, hdr ...string) (int, http.Header, []byte) {
		t.Helper()
		req := httptest.NewRequest(method, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Accept", "application/fhir+json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		d.srv.Handler.ServeHTTP(w, req)
		return w.Code, w.Header(), w.Body.Bytes()
	}
	return d, []kitTarget{{"http", over}, {"in-process", in}}
}

// kitToken is a token of the demo's development token endpoint.
func kitToken(t *testing.T, d *demo, scopes, patient, fhirUser string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scopes}}
	if patient != "" {
		form.Set("patient", patient)
	}
	if fhirUser != "" {
		form.Set("fhirUser", fhirUser)
	}
	return tokenFor(t, d, form)
}

// kitResource is what the checks read of a returned resource.
type kitResource struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Category     []struct {
		Coding []struct{ System, Code string } `json:"coding"`
	} `json:"category"`
}

// hasCategory reports whether r has a category Coding with that system
// and code, as the kits' granular checks match.
func (r kitResource) hasCategory(system, code string) bool {
	for _, c := range r.Category {
		for _, cd := range c.Coding {
			if cd.System == system && cd.Code == code {
				return true
			}
		}
	}
	return false
}

// searchIDs runs a search and returns the status and the resources of
// its match entries, by type/id.
func searchIDs(t *testing.T, tg kitTarget, path, token string) (int, map[string]kitResource) {
	t.Helper()
	status, _, body := tg.do(t, "GET", path, token)
	if status != http.StatusOK {
		return status, nil
	}
	var b struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource json.RawMessage       `json:"resource"`
			Search   struct{ Mode string } `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" {
		t.Fatalf("%s: not a Bundle: %s", path, body)
	}
	out := map[string]kitResource{}
	for _, e := range b.Entry {
		var r kitResource
		if err := json.Unmarshal(e.Resource, &r); err != nil {
			t.Fatalf("%s: entry: %v", path, err)
		}
		if e.Search.Mode == "" || e.Search.Mode == "match" {
			out[r.ResourceType+"/"+r.ID] = r
		}
	}
	return status, out
}

func keys(m map[string]kitResource) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// kitGranular are the granular scopes (g)(10) requires (SPEC §12.1), and
// Clinical Test's attested procedure category.
var kitGranular = []struct{ name, typ, system, code string }{
	{"encounter-diagnosis", "Condition", "http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis"},
	{"problem-list-item", "Condition", "http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item"},
	{"health-concern", "Condition", "http://hl7.org/fhir/us/core/CodeSystem/condition-category", "health-concern"},
	{"laboratory", "Observation", "http://terminology.hl7.org/CodeSystem/observation-category", "laboratory"},
	{"social-history", "Observation", "http://terminology.hl7.org/CodeSystem/observation-category", "social-history"},
	{"survey", "Observation", "http://terminology.hl7.org/CodeSystem/observation-category", "survey"},
	{"vital-signs", "Observation", "http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs"},
	{"sdoh", "Observation", "http://hl7.org/fhir/us/core/CodeSystem/us-core-category", "sdoh"},
	{"procedure", "Observation", "http://terminology.hl7.org/CodeSystem/observation-category", "procedure"},
}

// TestKitGranularScopes: under one granular scope, a search carrying the
// granted category answers exactly the matching resources of the
// baseline (what the resource-level scope answers), a search without
// category answers the same (narrowed, not refused), a search on another
// category returns nothing it should not, and a read answers a matching
// resource and refuses (403 or 404) any other.
func TestKitGranularScopes(t *testing.T) {
	d, targets := kitTargets(t)
	for _, g := range kitGranular {
		full := kitToken(t, d, "launch/patient patient/"+g.typ+".rs", "example", "")
		granular := kitToken(t, d, "launch/patient patient/"+g.typ+".rs?category="+g.system+"|"+g.code, "example", "")
		for _, tg := range targets {
			t.Run(g.name+"/"+tg.name, func(t *testing.T) {
				status, all := searchIDs(t, tg, "/"+g.typ+"?patient=example&_count=200", full)
				if status != 200 {
					t.Fatalf("baseline: %d", status)
				}
				want := map[string]kitResource{}
				for k, r := range all {
					if r.hasCategory(g.system, g.code) {
						want[k] = r
					}
				}
				if len(want) == 0 || len(want) == len(all) {
					t.Fatalf("the demo's data cannot tell the scope apart: %d of %d match", len(want), len(all))
				}
				cat := url.QueryEscape(g.system + "|" + g.code)
				for _, q := range []string{
					"/" + g.typ + "?patient=example&category=" + cat + "&_count=200",
					"/" + g.typ + "?patient=example&_count=200",
				} {
					status, got := searchIDs(t, tg, q, granular)
					if status != 200 || !slices.Equal(keys(got), keys(want)) {
						t.Errorf("%s: %d %v, want 200 %v", q, status, keys(got), keys(want))
					}
				}
				other := url.QueryEscape("http://terminology.hl7.org/CodeSystem/observation-category|no-such-category")
				if status, got := searchIDs(t, tg, "/"+g.typ+"?patient=example&category="+other, granular); status == 200 && len(got) > 0 {
					t.Errorf("another category: %v", keys(got))
				}
				for k := range all {
					status, _, _ := tg.do(t, "GET", "/"+k, granular)
					_, match := want[k]
					switch {
					case match && status != 200:
						t.Errorf("read of matching %s: %d", k, status)
					case !match && status != 403 && status != 404:
						t.Errorf("read of non-matching %s: %d, want 403 or 404", k, status)
					}
				}
			})
		}
	}
}

// TestKitGranularUnion: the four scopes of a kit's first launch together
// answer the union of their categories, for a search without category.
func TestKitGranularUnion(t *testing.T) {
	d, targets := kitTargets(t)
	group1 := kitGranular[0:1]
	group1 = append(group1, kitGranular[2], kitGranular[3], kitGranular[4])
	var scopes []string
	for _, g := range group1 {
		scopes = append(scopes, "patient/"+g.typ+".rs?category="+g.system+"|"+g.code)
	}
	tok := kitToken(t, d, "launch/patient openid fhirUser offline_access "+strings.Join(scopes, " "), "example", "")
	for _, typ := range []string{"Condition", "Observation"} {
		full := kitToken(t, d, "launch/patient patient/"+typ+".rs", "example", "")
		for _, tg := range targets {
			t.Run(typ+"/"+tg.name, func(t *testing.T) {
				_, all := searchIDs(t, tg, "/"+typ+"?patient=example&_count=200", full)
				want := map[string]kitResource{}
				for k, r := range all {
					for _, g := range group1 {
						if g.typ == typ && r.hasCategory(g.system, g.code) {
							want[k] = r
						}
					}
				}
				status, got := searchIDs(t, tg, "/"+typ+"?patient=example&_count=200", tok)
				if status != 200 || !slices.Equal(keys(got), keys(want)) {
					t.Errorf("%d %v, want 200 %v", status, keys(got), keys(want))
				}
			})
		}
	}
}

// TestKitLimitedAccess: a token granted Patient, Condition and Observation
// only is answered for those types' first US Core search and refused (401
// or 403, never an empty 200) for every other type the kit tries.
func TestKitLimitedAccess(t *testing.T) {
	d, targets := kitTargets(t)
	tok := kitToken(t, d, "launch/patient openid fhirUser patient/Patient.rs patient/Condition.rs patient/Observation.rs", "example", "")
	for _, tg := range targets {
		for _, tc := range []struct {
			query   string
			granted bool
		}{
			{"/Patient?_id=example", true},
			{"/Condition?patient=example", true},
			{"/Observation?patient=example&code=" + url.QueryEscape("http://loinc.org|4548-4"), true},
			{"/AllergyIntolerance?patient=example", false},
			{"/CarePlan?patient=example&category=assess-plan", false},
			{"/CareTeam?patient=example&status=active", false},
			{"/Device?patient=example", false},
			{"/DiagnosticReport?patient=example", false},
			{"/DocumentReference?patient=example", false},
			{"/Goal?patient=example", false},
			{"/Immunization?patient=example", false},
			{"/MedicationRequest?patient=example&intent=order", false},
			{"/Procedure?patient=example", false},
			{"/Encounter?patient=example", false},
			{"/ServiceRequest?patient=example", false},
			{"/Coverage?patient=example", false},
			{"/MedicationDispense?patient=example", false},
		} {
			t.Run(tg.name+tc.query, func(t *testing.T) {
				status, _, body := tg.do(t, "GET", tc.query, tok)
				switch {
				case tc.granted && status != 200:
					t.Errorf("granted: %d %s", status, body)
				case !tc.granted && status != 401 && status != 403:
					t.Errorf("not granted: %d, want 401 or 403", status)
				}
			})
		}
	}
}

// TestKitSearchesNotNamingThePatient: the US Core searches that do not
// name the patient are answered under patient/ scopes, narrowed to the
// patient in context: they find the patient's own resources and no one
// else's.
func TestKitSearchesNotNamingThePatient(t *testing.T) {
	d, targets := kitTargets(t)
	tok := kitToken(t, d, "launch/patient patient/Patient.rs patient/Observation.rs", "example", "")
	system := kitToken(t, d, "system/Patient.rs system/Observation.rs", "", "")
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			_, _, pb := tg.do(t, "GET", "/Patient/example", tok)
			var p struct {
				Name       []struct{ Family string }
				Identifier []struct{ System, Value string }
				BirthDate  string
			}
			if err := json.Unmarshal(pb, &p); err != nil || len(p.Name) == 0 || len(p.Identifier) == 0 {
				t.Fatalf("Patient/example: %s", pb)
			}
			for _, tc := range []struct{ query, typ string }{
				{"/Patient?identifier=" + url.QueryEscape(p.Identifier[0].System+"|"+p.Identifier[0].Value), "Patient"},
				{"/Patient?name=" + url.QueryEscape(p.Name[0].Family), "Patient"},
				{"/Patient?name=" + url.QueryEscape(p.Name[0].Family) + "&birthdate=" + p.BirthDate, "Patient"},
				{"/Observation?code=" + url.QueryEscape("http://loinc.org|4548-4"), "Observation"},
				{"/Observation?category=laboratory", "Observation"},
			} {
				status, got := searchIDs(t, tg, tc.query, tok)
				if status != 200 || len(got) == 0 {
					t.Errorf("%s: %d, %d found; want 200 with the patient's own", tc.query, status, len(got))
					continue
				}
				_, everyone := searchIDs(t, tg, tc.query, system)
				for k := range got {
					if _, ok := everyone[k]; !ok {
						t.Errorf("%s: %s is not a result of the search", tc.query, k)
					}
					if tc.typ == "Patient" && k != "Patient/example" {
						t.Errorf("%s: another patient %s", tc.query, k)
					}
				}
				if tc.typ == "Observation" {
					_, own := searchIDs(t, tg, tc.query+"&patient=example", system)
					if !slices.Equal(keys(got), keys(own)) {
						t.Errorf("%s: %v, want the patient's own %v", tc.query, keys(got), keys(own))
					}
				}
			}
		})
	}
}

// TestKitIncludes: the includes US Core requires are answered, each
// included resource decided as a read of it.
func TestKitIncludes(t *testing.T) {
	d, targets := kitTargets(t)
	tok := kitToken(t, d, "launch/patient patient/MedicationRequest.rs patient/Medication.rs patient/Condition.rs patient/Provenance.rs", "example", "")
	for _, tg := range targets {
		for _, tc := range []struct{ query, want string }{
			{"/MedicationRequest?patient=example&intent=order&_include=MedicationRequest:medication", `"resourceType":"Medication"`},
			{"/Condition?patient=example&_revinclude=Provenance:target", `"resourceType":"Provenance"`},
		} {
			t.Run(tg.name+tc.query, func(t *testing.T) {
				status, _, body := tg.do(t, "GET", tc.query, tok)
				if status != 200 || !strings.Contains(compact(body), tc.want) || !strings.Contains(compact(body), `"mode":"include"`) {
					t.Errorf("%d %s", status, body)
				}
			})
		}
	}
}

// compact removes the JSON whitespace of b, for substring checks.
func compact(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// TestKitMetadataWithoutToken: the CapabilityStatement is read without a
// token, from any browser origin.
func TestKitMetadataWithoutToken(t *testing.T) {
	_, targets := kitTargets(t)
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			status, hdr, body := tg.do(t, "GET", "/metadata", "", "Origin", "https://inferno.example.org")
			if status != 200 || !strings.Contains(compact(body), `"resourceType":"CapabilityStatement"`) {
				t.Errorf("%d %s", status, body)
			}
			if got := hdr.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin %q, want *", got)
			}
		})
	}
}

// TestKitFHIRUserRead: with the fhirUser scope, the user reads its own
// fhirUser resource, and only that one, whatever its other scopes.
func TestKitFHIRUserRead(t *testing.T) {
	d, targets := kitTargets(t)
	tok := kitToken(t, d, "launch/patient openid fhirUser patient/*.rs", "example", "Practitioner/dr-jones")
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			if status, _, body := tg.do(t, "GET", "/Practitioner/dr-jones", tok); status != 200 {
				t.Errorf("own fhirUser: %d %s", status, body)
			}
			if status, _, _ := tg.do(t, "GET", "/Patient/other", tok); status != 403 && status != 404 {
				t.Errorf("another patient: %d", status)
			}
		})
	}
}

// TestKitTokenRevocation: a token revoked at the authorization server's
// RFC 7009 endpoint is refused at once (the kit accepts 401, 403 or 404),
// while another token of the same app still reads.
func TestKitTokenRevocation(t *testing.T) {
	d, targets := kitTargets(t)
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			tok := kitToken(t, d, "launch/patient patient/Patient.rs", "example", "")
			other := kitToken(t, d, "launch/patient patient/Patient.rs", "example", "")
			if status, _, _ := tg.do(t, "GET", "/Patient/example", tok); status != 200 {
				t.Fatalf("before revocation: %d", status)
			}
			if p := revokeAt(t, d, url.Values{"client_id": {"demo-app"}, "token": {tok}}); p.status != 200 {
				t.Fatalf("revocation endpoint: %d", p.status)
			}
			if status, _, _ := tg.do(t, "GET", "/Patient/example", tok); status != 401 && status != 403 && status != 404 {
				t.Errorf("revoked token: %d, want 401, 403 or 404", status)
			}
			if status, _, _ := tg.do(t, "GET", "/Patient/example", other); status != 200 {
				t.Errorf("another token: %d", status)
			}
		})
	}
}

// TestConformanceDocListsEveryCheck: docs/conformance.md names every
// TestKit function of this file, and nothing else.
func TestConformanceDocListsEveryCheck(t *testing.T) {
	src, err := os.ReadFile("conformance_test.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/conformance.md")
	if err != nil {
		t.Fatal(err)
	}
	tests := regexp.MustCompile(`(?m)^func (TestKit\w+)\(`).FindAllStringSubmatch(string(src), -1)
	named := regexp.MustCompile("`(TestKit\\w+)`").FindAllStringSubmatch(string(doc), -1)
	var have, want []string
	for _, m := range tests {
		want = append(want, m[1])
	}
	for _, m := range named {
		if !slices.Contains(have, m[1]) {
			have = append(have, m[1])
		}
	}
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Errorf("docs/conformance.md names %v; the tests are %v", have, want)
	}
}
