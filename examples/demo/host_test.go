package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/smartguard/smartguard/smarttest"
)

// do sends method target with Host host (the URL's when empty) over the
// network, and returns the status and body.
func do(t *testing.T, method, target, host, form string) (int, string) {
	t.Helper()
	var header []string
	if form != "" {
		header = append(header, "Content-Type", "application/x-www-form-urlencoded")
	}
	if host != "" {
		header = append(header, "Host", host)
	}
	resp, b := request(t, method, target, "", form, header...)
	return resp.StatusCode, b
}

// A web page whose name an attacker rebinds to 127.0.0.1 sends its own
// name as the Host: every route of the demo refuses it with 421, the
// token endpoint first (it hands a system/*.cruds token to anyone).
func TestRefusesForeignHostOnEveryRoute(t *testing.T) {
	d, _ := startDemo(t)
	own := strings.TrimPrefix(d.root, "http://")
	_, port, _ := strings.Cut(own, ":")
	token := url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.cruds"}}.Encode()
	routes := []struct {
		name, method, path, form string
		ownStatus                int // with the demo's own Host
	}{
		{"token endpoint", http.MethodPost, "/auth/token", token, 200},
		{"issuer metadata", http.MethodGet, "/auth/.well-known/openid-configuration", "", 200},
		{"issuer keys", http.MethodGet, "/auth/jwks.json", "", 200},
		{"FHIR read", http.MethodGet, "/fhir/Patient/example", "", 401},
		{"FHIR search", http.MethodGet, "/fhir/Observation?patient=example", "", 401},
		{"discovery", http.MethodGet, "/fhir/.well-known/smart-configuration", "", 200},
		{"metadata", http.MethodGet, "/fhir/metadata", "", 200},
		{"home page", http.MethodGet, "/", "", 200},
		{"EHR page", http.MethodGet, "/ehr/", "", 200},
		{"consent", http.MethodPost, "/auth/consent", "request=x&decision=approve", 400},
		{"app file", http.MethodGet, "/app/app.js", "", 200},
		{"app config", http.MethodGet, "/app/config.json", "", 200},
		{"unknown path", http.MethodGet, "/nothing", "", 404},
	}
	foreign := []string{
		"rebound.example:" + port,
		"rebound.example",
		"localhost:" + port,
		"LOCALHOST:" + port,
		"[::1]:" + port,
		"127.0.0.1",
		"127.0.0.2:" + port,
		own + ".rebound.example",
	}
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			for _, host := range foreign {
				if code, body := do(t, rt.method, d.root+rt.path, host, rt.form); code != http.StatusMisdirectedRequest || strings.Contains(body, "access_token") {
					t.Errorf("Host %q: %d %.80s, want 421", host, code, body)
				}
			}
			if code, body := do(t, rt.method, d.root+rt.path, own, rt.form); code != rt.ownStatus {
				t.Errorf("own Host %q: %d %.200s, want %d", own, code, body, rt.ownStatus)
			}
		})
	}
	// No Host at all (HTTP/1.0) is not the demo's either.
	req := httptest.NewRequest(http.MethodPost, "/auth/token", strings.NewReader(token))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Host = ""
	w := httptest.NewRecorder()
	d.srv.Handler.ServeHTTP(w, req)
	if w.Code != http.StatusMisdirectedRequest {
		t.Errorf("no Host: %d, want 421", w.Code)
	}
}

// With -issuer and an -audience under another host name (a proxy in
// front), the demo answers under that name too, and under its own address.
func TestAcceptsTheAudienceHostWithExternalIssuer(t *testing.T) {
	is := smarttest.NewIssuer(t, smarttest.ForAudience("http://fhir.example.test/r4"))
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	d, err := start(ctx, options{addr: "127.0.0.1:0", issuer: is.URL(), audience: is.Audience()}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		d.srv.Close()
	})
	target := d.root + "/r4/.well-known/smart-configuration"
	for host, want := range map[string]int{
		"":                      200, // the address it listens on
		"fhir.example.test":     200,
		"FHIR.example.test:80":  200,
		"fhir.example.test:443": 421,
		"rebound.example":       421,
	} {
		if code, body := do(t, http.MethodGet, target, host, ""); code != want {
			t.Errorf("Host %q: %d %.80s, want %d", host, code, body, want)
		}
	}
}

func TestAuthorities(t *testing.T) {
	tests := []struct {
		url  string
		want []string
	}{
		{"http://127.0.0.1:8080", []string{"127.0.0.1:8080"}},
		{"http://127.0.0.1:80/fhir", []string{"127.0.0.1:80", "127.0.0.1"}},
		{"http://Localhost:8080/fhir", []string{"localhost:8080"}},
		{"https://FHIR.example.org/r4", []string{"fhir.example.org:443", "fhir.example.org"}},
		{"http://[::1]:8080", []string{"[::1]:8080"}},
		{"http://[::1]/fhir", []string{"[::1]:80", "[::1]"}},
		{"/fhir", nil},
	}
	for _, tc := range tests {
		got, err := authorities(tc.url)
		if tc.want == nil {
			if err == nil {
				t.Errorf("authorities(%q) = %v, want an error", tc.url, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("authorities(%q) = %v, %v; want %v", tc.url, got, err, tc.want)
		}
	}
}
