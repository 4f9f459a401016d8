package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

type manifest struct {
	RequiresAccessToken bool `json:"requiresAccessToken"`
	Output              []struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int    `json:"count"`
	} `json:"output"`
	Error []struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"error"`
}

// waitManifest polls status with token until the export is complete.
func waitManifest(t *testing.T, status, token string) manifest {
	t.Helper()
	for range 100 {
		resp, body := request(t, "GET", status, token, "", "Accept", "application/json")
		switch resp.StatusCode {
		case http.StatusAccepted:
			if !strings.HasPrefix(resp.Header.Get("X-Progress"), "in progress") {
				t.Errorf("X-Progress %q", resp.Header.Get("X-Progress"))
			}
			time.Sleep(200 * time.Millisecond)
			continue
		case http.StatusOK:
			var m manifest
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatalf("manifest %s: %v", body, err)
			}
			return m
		}
		t.Fatalf("poll: %d %s", resp.StatusCode, body)
	}
	t.Fatal("the export did not finish")
	return manifest{}
}

// TestBulkExportLevels: the demo exports at system, Patient and Group
// level for a backend client of its development token endpoint; the
// Group holds only the attributed patient; another client is refused the
// job (404) and a request without a token is 401.
func TestBulkExportLevels(t *testing.T) {
	d, _ := startDemo(t)
	tokenOf := func(client, scopes string) string {
		return tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "scope": {scopes}})
	}
	a, b := tokenOf("backend-a", "system/*.rs"), tokenOf("backend-b", "system/*.rs")
	kick := func(target, token string) string {
		resp, body := request(t, "GET", d.audience+target, token, "", "Accept", "application/fhir+json", "Prefer", "respond-async")
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %d %s", target, resp.StatusCode, body)
		}
		return resp.Header.Get("Content-Location")
	}
	patientsIn := func(m manifest, token string) map[string]bool {
		seen := map[string]bool{}
		for _, f := range m.Output {
			if f.Type != "Patient" {
				continue
			}
			resp, body := request(t, "GET", f.URL, token, "")
			if resp.StatusCode != 200 {
				t.Fatalf("file: %d %s", resp.StatusCode, body)
			}
			for line := range strings.SplitSeq(strings.TrimSpace(body), "\n") {
				var p struct{ ID string }
				json.Unmarshal([]byte(line), &p)
				seen[p.ID] = true
			}
		}
		return seen
	}
	for _, tc := range []struct {
		target string
		want   []string
		exact  bool
	}{
		{"/$export", []string{"example", "other"}, false},
		{"/Patient/$export?_type=Patient,Observation", []string{"example", "other"}, false},
		{"/Group/bulk-cohort/$export", []string{"example"}, true}, // the Group's members only
	} {
		status := kick(tc.target, a)
		if resp, _ := request(t, "GET", status, b, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: another client's poll %d", tc.target, resp.StatusCode)
		}
		if resp, _ := request(t, "GET", status, "", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: poll without token %d", tc.target, resp.StatusCode)
		}
		m := waitManifest(t, status, a)
		if !m.RequiresAccessToken || len(m.Output) == 0 {
			t.Fatalf("%s: manifest %+v", tc.target, m)
		}
		for _, f := range m.Output {
			if resp, _ := request(t, "GET", f.URL, b, ""); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: another client's download %d", tc.target, resp.StatusCode)
			}
		}
		seen := patientsIn(m, a)
		if tc.exact && len(seen) != len(tc.want) {
			t.Errorf("%s: patients %v, want %v", tc.target, seen, tc.want)
		}
		for _, id := range tc.want {
			if !seen[id] {
				t.Errorf("%s: patients %v, want %v", tc.target, seen, tc.want)
			}
		}
		if resp, _ := request(t, "DELETE", status, b, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: another client's cancel %d", tc.target, resp.StatusCode)
		}
		if resp, body := request(t, "DELETE", status, a, ""); resp.StatusCode != http.StatusAccepted {
			t.Errorf("%s: cancel %d %s", tc.target, resp.StatusCode, body)
		}
		if resp, body := request(t, "GET", status, a, ""); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "OperationOutcome") {
			t.Errorf("%s: poll after cancel %d %s", tc.target, resp.StatusCode, body)
		}
	}
}

// TestBulkExportGranular: a client limited to laboratory Observations
// gets only those, whether the store applies the _typeFilter the Guard
// adds or not, and the Guard's report in the manifest's error list.
func TestBulkExportGranular(t *testing.T) {
	d, _ := startDemo(t)
	const lab = "system/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
	tok := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "client_id": {"lab-client"}, "scope": {lab}})
	resp, body := request(t, "POST", d.audience+"/$export", tok, `{"resourceType":"Parameters","parameter":[{"name":"_outputFormat","valueString":"application/fhir+ndjson"}]}`,
		"Content-Type", "application/fhir+json", "Prefer", "respond-async")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("kick-off: %d %s", resp.StatusCode, body)
	}
	m := waitManifest(t, resp.Header.Get("Content-Location"), tok)
	if len(m.Output) != 1 || m.Output[0].Type != "Observation" || len(m.Error) != 1 {
		t.Fatalf("manifest %+v", m)
	}
	_, obs := request(t, "GET", m.Output[0].URL, tok, "")
	lines := strings.Split(strings.TrimSpace(obs), "\n")
	for _, l := range lines {
		if !strings.Contains(l, `"code":"laboratory"`) {
			t.Errorf("a line outside the scope: %s", l)
		}
	}
	if len(lines) < 2 {
		t.Errorf("lab lines: %d", len(lines))
	}
	if resp, rep := request(t, "GET", m.Error[0].URL, tok, ""); resp.StatusCode != 200 || !strings.Contains(rep, "OperationOutcome") {
		t.Errorf("report: %d %s", resp.StatusCode, rep)
	}
	// A patient/ token cannot start an export.
	pt := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"patient/*.rs"}, "patient": {"example"}})
	if resp, body := request(t, "GET", d.audience+"/$export", pt, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("patient/ kick-off: %d %s", resp.StatusCode, body)
	}
}
