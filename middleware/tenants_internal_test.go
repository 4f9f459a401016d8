package middleware

import "testing"

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
