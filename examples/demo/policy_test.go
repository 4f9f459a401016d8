package main

import (
	"context"
	"io"
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

// TestExamplePolicy: with -policy policy.example.json, Dr Jones's
// user/*.rs reach his patient (example, whose generalPractitioner he is)
// and what is in her compartment, not Dr Lee's patient (other), in reads
// and searches; a refusal names the policy's rule.
func TestExamplePolicy(t *testing.T) {
	d := startDemoWith(t, options{policyFile: "policy.example.json"})
	jones := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"},
		"scope": {"user/*.rs"}, "fhirUser": {"Practitioner/dr-jones"}})

	for _, target := range []string{"/Patient/example", "/Observation?patient=example", "/Practitioner/dr-lee"} {
		if code, body := get(t, d.audience+target, jones); code != 200 {
			t.Errorf("GET %s: %d %s, want 200", target, code, body)
		}
	}
	for _, target := range []string{"/Patient/other", "/Observation/other-glucose"} {
		code, body := get(t, d.audience+target, jones)
		if code != 403 || !strings.Contains(body, "access policy") || !strings.Contains(body, "practitioner-panel") {
			t.Errorf("GET %s: %d %s, want 403 naming the rule", target, code, body)
		}
	}
	code, body := get(t, d.audience+"/Patient", jones)
	if code != 200 || !strings.Contains(body, `"id":"example"`) || !strings.Contains(body, `"id":"third"`) || strings.Contains(body, `"id":"other"`) {
		t.Errorf("GET /Patient: %d %s, want example and third (Dr Jones's), not other", code, body)
	}

	// Dr Lee's token reaches other, not example.
	lee := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"},
		"scope": {"user/*.rs"}, "fhirUser": {"Practitioner/dr-lee"}})
	if code, body := get(t, d.audience+"/Patient/other", lee); code != 200 {
		t.Errorf("Dr Lee reads other: %d %s", code, body)
	}
	if code, body := get(t, d.audience+"/Patient/example", lee); code != 403 {
		t.Errorf("Dr Lee reads example: %d %s, want 403", code, body)
	}

	// A patient login's user/ scopes keep its own record, and only that.
	amy := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"},
		"scope": {"user/*.rs"}, "fhirUser": {"Patient/example"}})
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
	jones = tokenFor(t, open, url.Values{"grant_type": {"client_credentials"},
		"scope": {"user/*.rs"}, "fhirUser": {"Practitioner/dr-jones"}})
	if code, body := get(t, open.audience+"/Patient/other", jones); code != 200 {
		t.Errorf("without a policy: %d %s, want 200", code, body)
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
