package main

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ownHostOnly wraps the demo's whole mux: a request whose Host header is
// not a name the demo is addressed by gets 421 Misdirected Request, on
// every route (token endpoint, FHIR API, discovery, metadata, pages, app
// files).
//
// The reason is DNS rebinding: a web page served from a name the attacker
// then points at 127.0.0.1 is same-origin with the demo, so without this
// check it could mint a system/*.cruds token at /auth/token and read
// everything. Such a request carries the attacker's name as its Host.
//
// The names accepted, compared without case, are exactly the authority of
// root (the address the demo listens on, as it prints it, such as
// 127.0.0.1:8080) and that of the FHIR base URL audience (the same, unless
// -audience names the host clients reach the API under, behind a proxy),
// each also without its port where the port is its scheme's default.
// Nothing else: not localhost:PORT for a demo on 127.0.0.1 (its pages,
// issuer and redirect URIs are on 127.0.0.1, so they would half work
// there), not [::1]:PORT (the demo does not listen there), not an empty
// Host.
//
// Requests the demo makes to itself in-process (the Guard fetching the
// embedded issuer's keys, the consent page listing patients) reach the mux
// directly, not through this check.
func ownHostOnly(next http.Handler, root, audience string) (http.Handler, error) {
	hosts := map[string]bool{}
	for _, raw := range []string{root, audience} {
		names, err := authorities(raw)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			hosts[n] = true
		}
	}
	refusal := "421 Misdirected Request: this demo answers at " + root + "/ only. " +
		"A request naming another host could come from a web page through DNS rebinding.\n"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hosts[strings.ToLower(r.Host)] {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusMisdirectedRequest)
			fmt.Fprint(w, refusal)
			return
		}
		next.ServeHTTP(w, r)
	}), nil
}

// authorities returns the Host header values that address rawURL:
// "127.0.0.1:8080"; "host:80" and "host" for http://host or
// http://host:80.
func authorities(rawURL string) ([]string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute URL", rawURL)
	}
	def := map[string]string{"http": "80", "https": "443"}[u.Scheme]
	host := strings.ToLower(u.Hostname())
	bare := host
	if strings.Contains(host, ":") {
		bare = "[" + host + "]"
	}
	port := u.Port()
	if port == "" {
		port = def
	}
	if port == "" {
		return []string{bare}, nil
	}
	names := []string{net.JoinHostPort(host, port)}
	if port == def {
		names = append(names, bare)
	}
	return names, nil
}
