package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// startDemo runs the demo on a free loopback port for the test.
func startDemo(t *testing.T) (*demo, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	d, err := start(ctx, options{addr: "127.0.0.1:0"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		d.srv.Close()
	})
	return d, out.String()
}

// request sends method target to the demo over HTTP, with a Bearer
// token unless token is "", body, and header's name/value pairs ("Host"
// sets the request's host), and returns the response and its body: the
// demo tests' one way to send a request.
func request(t *testing.T, method, target, token, body string, header ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// get is a GET of target with token: its status and body.
func get(t *testing.T, target, token string) (int, string) {
	t.Helper()
	resp, body := request(t, http.MethodGet, target, token, "")
	return resp.StatusCode, body
}

// tokenFor asks the embedded token endpoint as the printed curl command
// does, and cuts the token out as its sed does.
func tokenFor(t *testing.T, d *demo, form url.Values) string {
	t.Helper()
	resp, err := http.PostForm(d.issuer+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`^\{"access_token":"([^"]+)"`).FindSubmatch(b)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("token endpoint: %d %s", resp.StatusCode, b)
	}
	return string(m[1])
}

func TestPrintedFlowWorks(t *testing.T) {
	d, printed := startDemo(t)
	for _, want := range []string{d.issuer + "/token", d.audience + "/Patient/example", "patient=other", "scope=launch/patient patient/Patient.r patient/Observation.rs"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the welcome text lacks %q:\n%s", want, printed)
		}
	}
	tok := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"},
		"scope": {"launch/patient patient/Patient.r patient/Observation.rs"}, "patient": {"example"}})

	if code, body := get(t, d.audience+"/Patient/example", tok); code != 200 || !strings.Contains(body, `"id":"example"`) {
		t.Errorf("read own patient: %d %s", code, body)
	}
	code, body := get(t, d.audience+"/Observation?patient=example&category=laboratory", tok)
	if code != 200 {
		t.Fatalf("lab search: %d %s", code, body)
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				ID      string
				Subject struct{ Reference string }
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &bundle); err != nil {
		t.Fatal(err)
	}
	if len(bundle.Entry) != 3 {
		t.Errorf("lab search found %d Observations, want example's 3 laboratory results", len(bundle.Entry))
	}
	for _, e := range bundle.Entry {
		if e.Resource.Subject.Reference != "Patient/example" || !strings.HasPrefix(e.Resource.ID, "example-") {
			t.Errorf("lab search returned %s of %s", e.Resource.ID, e.Resource.Subject.Reference)
		}
	}
	for _, target := range []string{
		"/Observation?patient=other", // another patient's search
		"/Patient/other",             // another patient
		"/Observation/other-glucose", // another patient's resource by id (response guard)
		"/Condition?patient=example", // a type the token does not name
	} {
		if code, body := get(t, d.audience+target, tok); code != 403 {
			t.Errorf("GET %s: %d %s, want 403", target, code, body)
		}
	}
	if code, _ := get(t, d.audience+"/Patient/example", ""); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
}

func TestBackendTokenSearchesAllPatientsButCannotWrite(t *testing.T) {
	d, _ := startDemo(t)
	tok := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Observation.rs"}})
	code, body := get(t, d.audience+"/Observation", tok)
	if code != 200 || !strings.Contains(body, "other-glucose") || !strings.Contains(body, "example-glucose") {
		t.Errorf("system search: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodPost, d.audience+"/Observation", strings.NewReader(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("create with system/Observation.rs: %d, want 403", resp.StatusCode)
	}
}

func TestPatientAppCannotOverwriteAnotherPatientsResource(t *testing.T) {
	d, _ := startDemo(t)
	tok := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"patient/Observation.cruds"}, "patient": {"example"}})
	// The body is in the patient's compartment; the stored resource is not.
	body := `{"resourceType":"Observation","id":"other-glucose","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/example"}}`
	for _, method := range []string{http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, d.audience+"/Observation/other-glucose", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("%s of another patient's Observation: %d, want 403", method, resp.StatusCode)
		}
	}
	sys := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Observation.rs"}})
	if code, b := get(t, d.audience+"/Observation/other-glucose", sys); code != 200 || !strings.Contains(b, "Patient/other") {
		t.Errorf("the other patient's Observation changed: %d %s", code, b)
	}
}

func TestTokenEndpointRefusesBadRequests(t *testing.T) {
	d, _ := startDemo(t)
	for _, form := range []url.Values{
		{"grant_type": {"authorization_code"}},
		{"grant_type": {"client_credentials"}, "scope": {"patient/Observation.sr"}},
		{"grant_type": {"client_credentials"}, "patient": {"../other"}},
		{"grant_type": {"client_credentials"}, "fhirUser": {"Organization/1"}},
	} {
		resp, err := http.PostForm(d.issuer+"/token", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("token request %v: %d, want 400", form, resp.StatusCode)
		}
	}
}

func TestEmbeddedAuthorizationServerListensOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8080", "example.org:80"} {
		if _, err := start(context.Background(), options{addr: addr}, io.Discard); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("start on %q: err = %v, want a loopback refusal", addr, err)
		}
	}
}
