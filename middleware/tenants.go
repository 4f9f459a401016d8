package middleware

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/internal/fhirrest"
)

// A FHIR base served here is a host and a path: those of its audience
// URL, or Config.Base's path for Config.Audience. A request is matched to
// a base by its path, as long as the path tells the bases apart; where it
// does not (two bases on different hosts whose paths are the same, or one
// under the other), by its host too. See Config.Audiences.

// hostKey is the host of a base or of a request as they are compared: in
// lower case, with the port kept unless it is 80 or 443 (the defaults of
// http and https). The scheme is not compared: behind a proxy that ends
// TLS the server cannot see it, so https://a.example.org/fhir and
// http://a.example.org/fhir are one base (and New refuses them as two).
func hostKey(hostport string) string {
	h := strings.ToLower(hostport)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		if port := h[i+1:]; port == "" || port == "80" || port == "443" {
			h = h[:i]
		}
	}
	return h
}

// baseAt returns the host and path of the FHIR base of audience aud, the
// j-th of issuer i in cfg.Issuers (aud checked by checkAudience).
func baseAt(cfg *Config, i, j int, aud string) (host, path string) {
	u, _ := url.Parse(aud)
	return hostKey(u.Host), basePath(cfg, i, j, aud)
}

// overlap reports whether a request path can be under both base paths p
// and q: they are the same, or one is under the other.
func overlap(p, q string) bool {
	_, pq := fhirrest.Rel(p, q)
	_, qp := fhirrest.Rel(q, p)
	return pq || qp
}

// indistinguishableBases refuses two audiences that would be served under
// one base (the same host and path, as hostKey compares them): a request
// under it could not be told which one it is for, so a token for either
// would be accepted for both. One audience shared by several issuers (one
// FHIR server trusting several authorization servers) is one base, not
// two.
func indistinguishableBases(cfg *Config, all []Issuer) []error {
	type key struct{ host, path string }
	var errs []error
	seen := map[key]string{} // → the first audience served there
	for i, is := range all {
		if is.URL == "" {
			continue
		}
		for j, a := range append([]string{is.Audience}, is.Audiences...) {
			if a == "" || checkAudience(a) != nil {
				continue
			}
			host, path := baseAt(cfg, i, j, a)
			k := key{host, path}
			switch other, ok := seen[k]; {
			case !ok:
				seen[k] = a
			case other != a:
				shown := path
				if shown == "" {
					shown = "/"
				}
				errs = append(errs, fmt.Errorf("audiences %q and %q would be served under one base (host %q, path %q) and could not be told apart: give each FHIR base its own host or path (see Base)", other, a, host, shown))
			}
		}
	}
	return errs
}

// requestHost returns the host of r as hostKey compares it: the Host
// header, or r.URL.Host when it is empty.
func (m *Guard) requestHost(r *http.Request) string {
	h := r.Host
	if h == "" {
		h = r.URL.Host
	}
	return hostKey(h)
}

// admits reports whether grant g may be served under b: it is bound to b
// (see bound), or it names neither an issuer nor an audience. Every grant
// the Guard makes from a token names both; a grant without either was
// made by the application itself (smartctx.NewGrant, smarttest.Grant) and
// is tied to no base.
func (b *base) admits(g *smartctx.Grant) bool {
	if g.Issuer() == "" && len(g.Audience()) == 0 {
		return true
	}
	return b.bound(g)
}
