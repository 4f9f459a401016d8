package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// send makes one request to the running demo; headers are name, value
// pairs.
func send(t *testing.T, method, target, token, body string, headers ...string) (int, string) {
	t.Helper()
	if body != "" {
		headers = append([]string{"Content-Type", "application/fhir+json"}, headers...)
	}
	resp, b := request(t, method, target, token, body, headers...)
	return resp.StatusCode, b
}

const jsonPatch = "application/json-patch+json"

// TestEveryInteractionOverHTTP walks each FHIR interaction the demo
// serves, over real HTTP, with a token from the demo's own token
// endpoint that allows it and one that does not.
func TestEveryInteractionOverHTTP(t *testing.T) {
	d, _ := startDemo(t)
	patch := `[{"op":"replace","path":"/status","value":"amended"}]`
	newObs := `{"resourceType":"Observation","status":"final","code":{"text":"Note"},"subject":{"reference":"Patient/example"},` +
		`"identifier":[{"system":"urn:demo","value":"one"}]}`
	weight := `{"resourceType":"Observation","id":"example-weight","status":"final","code":{"text":"Body weight"},` +
		`"subject":{"reference":"Patient/example"},"valueQuantity":{"value":67.5,"unit":"kg"}}`
	batch := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/example"}},` +
		`{"request":{"method":"GET","url":"Observation/example-hba1c"}}]}`
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"fullUrl":"urn:uuid:5f0d7d1e-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","name":[{"family":"Newborn"}]},"request":{"method":"POST","url":"Patient"}},` +
		`{"resource":{"resourceType":"Observation","status":"final","code":{"text":"Apgar"},"subject":{"reference":"urn:uuid:5f0d7d1e-0000-4000-8000-000000000001"}},"request":{"method":"POST","url":"Observation"}}]}`

	tests := []struct {
		name, method, path, body string
		headers                  []string
		allow, deny              string // scopes; patient/ scopes get patient "example"
		want                     int    // with allow
		contains                 string // in the allowed answer
		denied                   string // in the refused answer, which is then a 200 (a batch answers entry by entry); else a 403
	}{
		{name: "read", method: "GET", path: "/Observation/example-glucose",
			allow: "patient/Observation.r", deny: "patient/Condition.r", want: 200, contains: `"id":"example-glucose"`},
		{name: "vread", method: "GET", path: "/Observation/example-glucose/_history/1",
			allow: "patient/Observation.r", deny: "patient/Observation.s", want: 200, contains: `"versionId":"1"`},
		{name: "instance history", method: "GET", path: "/Observation/example-glucose/_history",
			allow: "patient/Observation.r", deny: "patient/Patient.r", want: 200, contains: `"type":"history"`},
		{name: "type history", method: "GET", path: "/Observation/_history?_count=2",
			allow: "system/Observation.s", deny: "system/Observation.r", want: 200, contains: `"relation":"next"`},
		{name: "system history", method: "GET", path: "/_history?_since=2000-01-01T00:00:00Z&_count=1",
			allow: "system/*.s", deny: "system/Observation.s", want: 200, contains: `"type":"history"`},
		{name: "type search", method: "GET", path: "/Observation?patient=example&category=laboratory",
			allow: "patient/Observation.s", deny: "patient/Observation.r", want: 200, contains: `"total":3`},
		{name: "granular search", method: "GET", path: "/Observation?patient=example&category=" + url.QueryEscape(labCategory),
			allow: "patient/Observation.rs?category=" + labCategory, deny: "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
			want: 200, contains: `"total":3`,
			// Narrowed to the granted category, ANDed with the one asked
			// for: an empty searchset, exact (SPEC 124), not a 403.
			denied: `"total":0`},
		{name: "compartment search", method: "GET", path: "/Patient/example/Condition",
			allow: "patient/Condition.s", deny: "patient/Goal.s", want: 200, contains: `"total":3`},
		{name: "system search", method: "GET", path: "?_type=Goal,Encounter",
			allow: "system/Goal.s system/Encounter.s", deny: "system/Goal.s", want: 200, contains: `"total":4`},
		{name: "search with _include", method: "GET", path: "/Condition?patient=example&_include=Condition:encounter",
			allow: "patient/Condition.s patient/Encounter.r", deny: "patient/Encounter.rs", want: 200, contains: `"mode":"include"`},
		{name: "search paged", method: "GET", path: "/Observation?patient=example&_count=2",
			allow: "patient/Observation.s", deny: "patient/Condition.s", want: 200, contains: `"relation":"next"`},
		{name: "search counted", method: "GET", path: "/Goal?patient=example&_summary=count",
			allow: "patient/Goal.s", deny: "patient/Condition.s", want: 200, contains: `"total":1`},
		{name: "create", method: "POST", path: "/Observation", body: newObs,
			allow: "patient/Observation.c", deny: "patient/Observation.rs", want: 201, contains: `"versionId":"1"`},
		{name: "conditional create", method: "POST", path: "/Observation", body: newObs,
			headers: []string{"If-None-Exist", "patient=example&identifier=urn:demo|cond"},
			allow:   "patient/Observation.cs", deny: "patient/Observation.c", want: 201},
		{name: "update", method: "PUT", path: "/Observation/example-weight", body: weight,
			allow: "patient/Observation.u", deny: "patient/Observation.r", want: 200, contains: `"versionId":"2"`},
		{name: "conditional update", method: "PUT", path: "/Observation?patient=example&code=http://loinc.org|8480-6", body: strings.ReplaceAll(weight, "example-weight", "example-systolic"),
			allow: "patient/Observation.us", deny: "patient/Observation.u", want: 200, contains: `"id":"example-systolic"`},
		{name: "patch", method: "PATCH", path: "/Observation/example-heart-rate", body: patch, headers: []string{"Content-Type", jsonPatch},
			allow: "patient/Observation.u", deny: "patient/Observation.r", want: 200, contains: `"status":"amended"`},
		{name: "delete", method: "DELETE", path: "/Observation/example-ldl",
			allow: "patient/Observation.d", deny: "patient/Observation.r", want: 204},
		{name: "conditional delete", method: "DELETE", path: "/Observation?patient=example&code=http://loinc.org|29463-7",
			allow: "patient/Observation.ds", deny: "patient/Observation.d", want: 204},
		{name: "batch", method: "POST", path: "", body: batch,
			allow: "patient/Patient.r patient/Observation.r", deny: "patient/Patient.r", want: 200, contains: `"type":"batch-response"`,
			denied: `"status":"403 Forbidden"`},
		{name: "transaction", method: "POST", path: "", body: tx,
			allow: "system/Patient.c system/Observation.c", deny: "system/Observation.c", want: 200, contains: `"201 Created"`},
		{name: "$everything", method: "GET", path: "/Patient/example/$everything",
			allow: "patient/*.rs", deny: "patient/Observation.rs", want: 200, contains: `"id":"example-food-insecurity"`},
	}
	token := func(t *testing.T, scopes string) string {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {scopes}}
		if strings.HasPrefix(scopes, "patient/") {
			form.Set("patient", "example")
			form.Set("scope", "launch/patient "+scopes)
		}
		return tokenFor(t, d, form)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Refused first, so that the allowed request finds the data
			// as seeded.
			code, body := send(t, tc.method, d.audience+tc.path, token(t, tc.deny), tc.body, tc.headers...)
			if tc.denied == "" && code != 403 || tc.denied != "" && (code != 200 || !strings.Contains(body, tc.denied)) {
				t.Errorf("with %q: %d, want a refusal\n%s", tc.deny, code, body)
			}
			code, body = send(t, tc.method, d.audience+tc.path, token(t, tc.allow), tc.body, tc.headers...)
			if code != tc.want || !strings.Contains(body, tc.contains) {
				t.Errorf("with %q: %d, want %d with %s\n%s", tc.allow, code, tc.want, tc.contains, body)
			}
		})
	}
}

func TestTransactionOverHTTPResolvesReferences(t *testing.T) {
	d, _ := startDemo(t)
	tok := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Patient.crs system/Observation.crs"}})
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"fullUrl":"urn:uuid:5f0d7d1e-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","name":[{"family":"Newborn"}]},"request":{"method":"POST","url":"Patient"}},` +
		`{"resource":{"resourceType":"Observation","status":"final","code":{"text":"Apgar"},"subject":{"reference":"urn:uuid:5f0d7d1e-0000-4000-8000-000000000001"}},"request":{"method":"POST","url":"Observation"}}]}`
	code, body := send(t, "POST", d.audience, tok, tx)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var b struct {
		Entry []struct{ Response struct{ Location string } }
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil || len(b.Entry) != 2 {
		t.Fatalf("%v %s", err, body)
	}
	patient := strings.TrimPrefix(b.Entry[0].Response.Location, d.audience+"/")
	patient = patient[:strings.Index(patient, "/_history")]
	if code, obs := send(t, "GET", b.Entry[1].Response.Location, tok, ""); code != 200 || !strings.Contains(obs, `"reference":"`+patient+`"`) {
		t.Errorf("the Observation does not refer to %s: %d %s", patient, code, obs)
	}
}

// TestRefusalsAreOperationOutcomes checks the statuses of requests the
// demo's FHIR server refuses, each with an OperationOutcome.
func TestRefusalsAreOperationOutcomes(t *testing.T) {
	d, _ := startDemo(t)
	tok := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.cruds"}})
	binary := base64.StdEncoding.EncodeToString([]byte(`[{"op":"test","path":"/status","value":"draft"}]`))
	tests := []struct {
		name, method, path, body string
		headers                  []string
		want                     int
	}{
		{"malformed body", "POST", "/Observation", `{"resourceType":"Observation",`, nil, 400},
		{"unsupported search parameter", "GET", "/Observation?_filter=status%20eq%20final", "", nil, 400},
		{"unknown search parameter", "GET", "/Observation?colour=blue", "", nil, 400},
		{"unknown resource", "GET", "/Observation/nope", "", nil, 404},
		{"method not allowed", "PUT", "/Observation/_history", `{}`, nil, 405},
		{"patch that does not apply", "PATCH", "/Observation/third-hba1c", `[{"op":"test","path":"/status","value":"draft"}]`, []string{"Content-Type", jsonPatch}, 409},
		{"transaction whose patch does not apply", "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Binary","contentType":"` +
			jsonPatch + `","data":"` + binary + `"},"request":{"method":"PATCH","url":"Observation/third-hba1c"}}]}`, nil, 409},
		{"stale If-Match", "PUT", "/Observation/third-weight", `{"resourceType":"Observation","id":"third-weight","status":"final","code":{"text":"x"}}`, []string{"If-Match", `W/"42"`}, 412},
		{"conditional delete of several", "DELETE", "/Observation?patient=example", "", nil, 412},
		{"patch in another format", "PATCH", "/Observation/third-hba1c", `{"resourceType":"Parameters"}`, nil, 415},
		{"patch that changes the id", "PATCH", "/Observation/third-hba1c", `[{"op":"replace","path":"/id","value":"x"}]`, []string{"Content-Type", jsonPatch}, 422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := send(t, tc.method, d.audience+tc.path, tok, tc.body, tc.headers...)
			var oo struct{ ResourceType string }
			if code != tc.want || json.Unmarshal([]byte(body), &oo) != nil || oo.ResourceType != "OperationOutcome" {
				t.Errorf("%d %s, want %d with an OperationOutcome", code, body, tc.want)
			}
		})
	}
}

func TestMetadataNeedsNoToken(t *testing.T) {
	d, _ := startDemo(t)
	code, body := get(t, d.audience+"/metadata", "")
	if code != 200 {
		t.Fatalf("metadata without a token: %d %s", code, body)
	}
	var cs struct {
		ResourceType string
		Rest         []struct {
			Security struct {
				Service []struct{ Coding []struct{ Code string } }
			}
			Resource []struct{ Type string }
		}
	}
	if err := json.Unmarshal([]byte(body), &cs); err != nil || cs.ResourceType != "CapabilityStatement" || len(cs.Rest) != 1 {
		t.Fatalf("not a CapabilityStatement: %v %s", err, body)
	}
	if sec := cs.Rest[0].Security.Service; len(sec) == 0 || sec[0].Coding[0].Code != "SMART-on-FHIR" {
		t.Errorf("no SMART security service: %s", body)
	}
	if len(cs.Rest[0].Resource) < 8 {
		t.Errorf("only %d resource types listed", len(cs.Rest[0].Resource))
	}
	// Only GET is public: anything else at metadata goes through the Guard.
	if code, _ := send(t, "POST", d.audience+"/metadata", "", `{}`); code != 401 {
		t.Errorf("POST metadata without a token: %d, want 401", code)
	}
}

// TestTheBaseItselfIsServed: a batch posted to the base URL and a system
// search of it reach the Guard, not a redirect to the base with a slash,
// which clients that do not follow a redirect on POST fail on.
func TestTheBaseItselfIsServed(t *testing.T) {
	d, _ := startDemo(t)
	tok := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Patient.rs system/Observation.rs"}})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ method, target, body string }{
		{"POST", d.audience, `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/example"}}]}`},
		{"GET", d.audience + "?_type=Patient,Observation", ""},
	} {
		var rd io.Reader
		if tc.body != "" {
			rd = strings.NewReader(tc.body)
		}
		req, err := http.NewRequest(tc.method, tc.target, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/fhir+json")
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"resourceType":"Bundle"`) {
			t.Errorf("%s %s: %d %s %s", tc.method, tc.target, resp.StatusCode, resp.Header.Get("Location"), b)
		}
	}
}
