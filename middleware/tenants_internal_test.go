package middleware

import (
	"net/http"
	"testing"
)

// TestHostKey: hosts are compared in lower case, without the default
// ports; any other port is kept.
func TestHostKey(t *testing.T) {
	for in, want := range map[string]string{
		"a.example.org":       "a.example.org",
		"A.Example.ORG":       "a.example.org",
		"a.example.org:443":   "a.example.org",
		"a.example.org:80":    "a.example.org",
		"a.example.org:":      "a.example.org",
		"a.example.org:8443":  "a.example.org:8443",
		"a.example.org:0443":  "a.example.org:0443",
		"[::1]":               "[::1]",
		"[::1]:443":           "[::1]",
		"[::1]:8080":          "[::1]:8080",
		"127.0.0.1:8080":      "127.0.0.1:8080",
		"":                    "",
		"xn--bcher-kva.ch:80": "xn--bcher-kva.ch",
	} {
		if got := hostKey(in); got != want {
			t.Errorf("hostKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestForwardedHostHeaders: the host the nearest proxy forwarded, or a
// refusal when it cannot be read or two headers disagree.
func TestForwardedHostHeaders(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    string
		ok      bool
	}{
		{name: "none", ok: true},
		{name: "X-Forwarded-Host", headers: []string{"X-Forwarded-Host", "a.example.org"}, want: "a.example.org", ok: true},
		{name: "X-Forwarded-Host list", headers: []string{"X-Forwarded-Host", "b.example.org , a.example.org"}, want: "a.example.org", ok: true},
		{name: "X-Forwarded-Host empty last", headers: []string{"X-Forwarded-Host", "a.example.org,"}},
		{name: "X-Forwarded-Host with a path", headers: []string{"X-Forwarded-Host", "a.example.org/x"}},
		{name: "Forwarded", headers: []string{"Forwarded", "for=192.0.2.1;Host=a.example.org;proto=https"}, want: "a.example.org", ok: true},
		{name: "Forwarded quoted", headers: []string{"Forwarded", `host="[::1]:8443"`}, want: "[::1]:8443", ok: true},
		{name: "Forwarded quoted comma", headers: []string{"Forwarded", `for="a,b";host=b.example.org, host="a.example.org"`}, want: "a.example.org", ok: true},
		{name: "Forwarded last element without host", headers: []string{"Forwarded", "host=b.example.org, for=192.0.2.1"}, want: "", ok: true},
		{name: "Forwarded unterminated quote", headers: []string{"Forwarded", `host="a.example.org`}},
		{name: "Forwarded pair without =", headers: []string{"Forwarded", "host"}},
		{name: "Forwarded empty host", headers: []string{"Forwarded", `host=""`}},
		{name: "Forwarded host twice", headers: []string{"Forwarded", "host=a.example.org;host=a.example.org"}},
		{name: "both agree", headers: []string{"Forwarded", "host=a.example.org", "X-Forwarded-Host", "A.example.org:443"}, want: "a.example.org", ok: true},
		{name: "both disagree", headers: []string{"Forwarded", "host=a.example.org", "X-Forwarded-Host", "b.example.org"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for i := 0; i+1 < len(tc.headers); i += 2 {
				h.Add(tc.headers[i], tc.headers[i+1])
			}
			got, ok := forwardedHost(h)
			if got != tc.want || ok != tc.ok {
				t.Errorf("forwardedHost = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
