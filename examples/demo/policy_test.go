package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startDemoWith runs the demo with options o on a free loopback port.
func startDemoWith(t *testing.T, o options) *demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	o.addr = "127.0.0.1:0"
	d, err := start(ctx, o, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		d.srv.Close()
	})
	return d
}

// tokenAs is a client_credentials token of the development token
// endpoint with user/*.rs scopes, signed in as fhirUser.
func tokenAs(t *testing.T, d *demo, fhirUser string) string {
	t.Helper()
	return tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"user/*.rs"}, "fhirUser": {fhirUser}})
}

// TestExamplePolicy: with -policy policy.example.json, a practitioner's
// user/*.rs reach the patients whose generalPractitioner or active
// CareTeam names them, and what is in their compartments, in reads and
// searches: Dr Jones reaches example (whose general practitioner she is)
// and other (whose care team she is on; his general practitioner is Dr
// Lee), not third (Dr Lee's; the care team of his that names her is
// inactive); Dr Lee reaches other and third, not example. A refusal names
// the policy's rule.
func TestExamplePolicy(t *testing.T) {
	d := startDemoWith(t, options{policyFile: "policy.example.json"})
	tests := []struct {
		user         string
		reach, never []string // patient ids
	}{
		{user: "Practitioner/dr-jones", reach: []string{"example", "other"}, never: []string{"third"}},
		{user: "Practitioner/dr-lee", reach: []string{"other", "third"}, never: []string{"example"}},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			tok := tokenAs(t, d, tc.user)
			for _, id := range tc.reach {
				for _, target := range []string{"/Patient/" + id, "/Observation?patient=" + id, "/Condition?patient=Patient/" + id} {
					if code, body := get(t, d.audience+target, tok); code != 200 || !strings.Contains(body, "Patient/"+id) && !strings.Contains(body, `"id":"`+id+`"`) {
						t.Errorf("GET %s: %d %.300s, want 200 with the patient's data", target, code, body)
					}
				}
			}
			for _, id := range tc.never {
				for _, target := range []string{"/Patient/" + id, "/Observation/" + id + "-hba1c", "/Condition/" + id + "-asthma"} {
					code, body := get(t, d.audience+target, tok)
					if code == 200 || code == 403 && (!strings.Contains(body, "access policy") || !strings.Contains(body, "practitioner-panel")) {
						t.Errorf("GET %s: %d %.300s, want a refusal naming the rule", target, code, body)
					}
				}
			}
			// Searches are narrowed to the panel, not refused.
			for _, target := range []string{"/Patient", "/Observation?category=laboratory", "/CareTeam"} {
				code, body := get(t, d.audience+target, tok)
				if code != 200 {
					t.Fatalf("GET %s: %d %s", target, code, body)
				}
				for _, id := range tc.never {
					if strings.Contains(body, `"id":"`+id+`"`) || strings.Contains(body, "Patient/"+id+`"`) {
						t.Errorf("GET %s holds patient %s: %.500s", target, id, body)
					}
				}
				for _, id := range tc.reach {
					if !strings.Contains(body, `"id":"`+id+`"`) && !strings.Contains(body, "Patient/"+id+`"`) {
						t.Errorf("GET %s lacks patient %s: %.500s", target, id, body)
					}
				}
			}
			// Shared resources without a patient: the rs grant.
			if code, body := get(t, d.audience+"/Practitioner/dr-lee", tok); code != 200 {
				t.Errorf("GET /Practitioner/dr-lee: %d %s", code, body)
			}
		})
	}

	// A patient login's user/ scopes keep its own record, and only that.
	amy := tokenAs(t, d, "Patient/example")
	if code, body := get(t, d.audience+"/Observation?patient=example", amy); code != 200 {
		t.Errorf("a patient's own search: %d %s", code, body)
	}
	if code, body := get(t, d.audience+"/Patient/other", amy); code != 403 {
		t.Errorf("a patient reads another: %d %s, want 403", code, body)
	}

	// A token that no rule names gets nothing from its system/ scopes.
	sys := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"}})
	if code, body := get(t, d.audience+"/Patient/example", sys); code != 403 {
		t.Errorf("system/*.rs without a rule: %d %s, want 403", code, body)
	}

	// Without the policy, the same token reads every patient.
	open := startDemoWith(t, options{})
	if code, body := get(t, open.audience+"/Patient/third", tokenAs(t, open, "Practitioner/dr-jones")); code != 200 {
		t.Errorf("without a policy: %d %s, want 200", code, body)
	}
}

// TestExamplePolicyInactiveCareTeamGrantsNothing: third's care team
// names Dr Jones but is inactive, which is what keeps third from her:
// the same policy without "status=active" in its CareTeam relationship
// gives her third.
func TestExamplePolicyInactiveCareTeamGrantsNothing(t *testing.T) {
	data, err := os.ReadFile("policy.example.json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "&status=active") {
		t.Fatal("the example policy's CareTeam relationship does not ask for active teams")
	}
	anyStatus := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(anyStatus, []byte(strings.Replace(string(data), "&status=active", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]int{"policy.example.json": 403, anyStatus: 200} {
		d := startDemoWith(t, options{policyFile: file})
		if code, body := get(t, d.audience+"/Patient/third", tokenAs(t, d, "Practitioner/dr-jones")); code != want {
			t.Errorf("%s: Dr Jones reads third: %d %.300s, want %d", filepath.Base(file), code, body, want)
		}
	}
}

// TestExamplePolicyAnalyticsClient: client analytics may only read and
// search Observations, whatever its system/ scopes: a search of
// Observations passes, a read of a Patient, a search of another type, a
// system search and a write are refused by the rule "analytics".
func TestExamplePolicyAnalyticsClient(t *testing.T) {
	d := startDemoWith(t, options{policyFile: "policy.example.json"})
	tok := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.cruds"}, "client_id": {"analytics"}})
	for _, target := range []string{"/Observation?category=laboratory", "/Observation/third-hba1c", "/Observation?patient=other"} {
		if code, body := get(t, d.audience+target, tok); code != 200 || !strings.Contains(body, `"resourceType":"Observation"`) {
			t.Errorf("GET %s: %d %.300s, want 200", target, code, body)
		}
	}
	for _, target := range []string{"/Patient/example", "/Patient", "/Condition?patient=example", "/?_type=Observation"} {
		if code, body := get(t, d.audience+target, tok); code != 403 || !strings.Contains(body, `rule \"analytics\"`) {
			t.Errorf("GET %s: %d %.300s, want 403 naming the rule", target, code, body)
		}
	}
	obs := `{"resourceType":"Observation","id":"example-hba1c","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/example"}}`
	for _, w := range []struct{ method, target string }{
		{"POST", "/Observation"}, {"PUT", "/Observation/example-hba1c"}, {"DELETE", "/Observation/example-hba1c"},
	} {
		resp, body := request(t, w.method, d.audience+w.target, tok, obs, "Content-Type", "application/fhir+json")
		if resp.StatusCode != 403 || !strings.Contains(body, "analytics") {
			t.Errorf("%s %s: %d %.300s, want 403 naming the rule", w.method, w.target, resp.StatusCode, body)
		}
	}
	if code, body := get(t, d.audience+"/Observation/example-hba1c", tok); code != 200 || !strings.Contains(body, `"value":7.1`) {
		t.Errorf("the Observation changed: %d %.300s", code, body)
	}
	// Another client with the same scopes gets nothing.
	other := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.cruds"}, "client_id": {"reporting"}})
	if code, body := get(t, d.audience+"/Observation?category=laboratory", other); code != 403 {
		t.Errorf("client reporting: %d %.300s, want 403", code, body)
	}
}

// TestPolicyFlagRefusesBadFiles: a -policy file that is missing, not a
// policy, or that New cannot evaluate stops the demo at start.
func TestPolicyFlagRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, path := range map[string]string{
		"missing":       filepath.Join(dir, "none.json"),
		"unknown field": write("field.json", `{"rulez":[]}`),
		"bad criteria":  write("criteria.json", `{"rules":[{"name":"bad-rule","clientId":"x","grants":[{"types":["Observation"],"interactions":"rs","criteria":"nosuchparam=1"}]}]}`),
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			d, err := start(ctx, options{addr: "127.0.0.1:0", policyFile: path}, io.Discard)
			if err == nil {
				d.srv.Close()
				t.Fatal("the demo started")
			}
			if name == "bad criteria" && !strings.Contains(err.Error(), "bad-rule") {
				t.Errorf("the error does not name the rule: %v", err)
			}
		})
	}
}

// TestEHRPageSignsInAsEitherPractitioner: under the example policy the
// EHR page lists the patients of the practitioner it signs in as (Dr
// Jones: Amy Shaw and Peter Chalmers; Dr Lee: Peter Chalmers and Kenji
// Nakamura), launches only those, and the app's token of a launch is the
// practitioner's: it reads their patient and not another's.
func TestEHRPageSignsInAsEitherPractitioner(t *testing.T) {
	d := startDemoWith(t, options{policyFile: "policy.example.json"})
	tests := []struct {
		user, launch, outside string
		lists, hides          []string
	}{
		{user: "Practitioner/dr-jones", launch: "other", outside: "third",
			lists: []string{"Amy Shaw", "Peter Chalmers"}, hides: []string{"Kenji Nakamura"}},
		{user: "Practitioner/dr-lee", launch: "third", outside: "example",
			lists: []string{"Peter Chalmers", "Kenji Nakamura"}, hides: []string{"Amy Shaw"}},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			ehr := fetch(t, http.MethodGet, d.root+"/ehr/?"+url.Values{"user": {tc.user}}.Encode(), nil)
			if ehr.status != 200 || !strings.Contains(ehr.body, `<option value="`+tc.user+`" selected>`) {
				t.Fatalf("EHR page: %d, want signed in as %s:\n%s", ehr.status, tc.user, ehr.body)
			}
			for _, name := range tc.lists {
				if !strings.Contains(ehr.body, name) {
					t.Errorf("the EHR page of %s lacks %s", tc.user, name)
				}
			}
			for _, name := range tc.hides {
				if strings.Contains(ehr.body, name) {
					t.Errorf("the EHR page of %s lists %s", tc.user, name)
				}
			}
			if l := fetch(t, http.MethodPost, d.root+"/ehr/launch", url.Values{"patient": {tc.outside}, "user": {tc.user}}); l.status != 400 {
				t.Errorf("launch for a patient outside the panel: %d, want 400", l.status)
			}
			l := fetch(t, http.MethodPost, d.root+"/ehr/launch", url.Values{"patient": {tc.launch}, "user": {tc.user}})
			loc, _ := url.Parse(l.header.Get("Location"))
			if l.status != http.StatusSeeOther || loc == nil {
				t.Fatalf("launch: %d %q", l.status, l.header.Get("Location"))
			}
			p, id := consentFor(t, authorizeURL(d, "launch openid fhirUser user/Patient.rs", "s-9", loc.Query().Get("launch")))
			if !strings.Contains(p.body, "<code>"+tc.user+"</code>") {
				t.Errorf("the consent page does not sign in as %s:\n%s", tc.user, p.body)
			}
			resp := redeem(t, d, fetch(t, http.MethodPost, d.issuer+"/consent",
				url.Values{"request": {id}, "decision": {"approve"}, "scope": {"launch", "openid", "fhirUser", "user/Patient.rs"}}), "s-9")
			tok, _ := resp["access_token"].(string)
			if code, body := get(t, d.audience+"/Patient/"+tc.launch, tok); code != 200 {
				t.Errorf("the app reads the launch patient: %d %.300s", code, body)
			}
			if code, _ := get(t, d.audience+"/Patient/"+tc.outside, tok); code != 403 {
				t.Errorf("the app reads %s: %d, want 403", tc.outside, code)
			}
		})
	}
	if p := fetch(t, http.MethodGet, d.root+"/ehr/?user=Practitioner/dr-nobody", nil); p.status != 400 {
		t.Errorf("signing in as a practitioner not listed: %d, want 400", p.status)
	}
}

// TestExamplePolicyAnalyticsExport: under the example policy a Bulk Data
// export of client analytics holds Observations only: without _type the
// job's type is the one the rule grants, every line of its files is an
// Observation, and a kick-off naming Patient is refused by the rule.
func TestExamplePolicyAnalyticsExport(t *testing.T) {
	d := startDemoWith(t, options{policyFile: "policy.example.json"})
	tok := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"}, "client_id": {"analytics"}})
	async := []string{"Accept", "application/fhir+json", "Prefer", "respond-async"}
	if resp, body := request(t, "GET", d.audience+"/$export?_type=Patient,Observation", tok, "", async...); resp.StatusCode != 403 || !strings.Contains(body, "analytics") {
		t.Errorf("a kick-off naming Patient: %d %.300s, want 403 naming the rule", resp.StatusCode, body)
	}
	resp, body := request(t, "GET", d.audience+"/$export", tok, "", async...)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("kick-off: %d %s", resp.StatusCode, body)
	}
	m := waitManifest(t, resp.Header.Get("Content-Location"), tok)
	lines := 0
	for _, f := range m.Output {
		if f.Type != "Observation" {
			t.Errorf("a %s file in the manifest", f.Type)
			continue
		}
		resp, body := request(t, "GET", f.URL, tok, "")
		if resp.StatusCode != 200 {
			t.Fatalf("file: %d %s", resp.StatusCode, body)
		}
		for line := range strings.SplitSeq(strings.TrimSpace(body), "\n") {
			lines++
			if !strings.HasPrefix(line, `{"resourceType":"Observation"`) {
				t.Errorf("a line that is not an Observation: %.200s", line)
			}
		}
	}
	if lines == 0 {
		t.Error("the export holds no Observation")
	}
}
