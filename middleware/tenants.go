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
// URL, or Config.Base's path for Config.Issuer.Audience. A request is matched to
// a base by its path, as long as the path tells the bases apart; where it
// does not (two bases on different hosts whose paths are the same, or one
// under the other), by its host too. See Config.Issuer.Audiences.

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
// header (r.URL.Host when it is empty) or, with Config.TrustForwardedHost,
// the host the proxy forwarded. It returns "" when the forwarded host
// cannot be read, so that r matches no base that needs its host.
func (g *Guard) requestHost(r *http.Request) string {
	h := r.Host
	if h == "" {
		h = r.URL.Host
	}
	if g.forwardedHost {
		f, ok := forwardedHost(r.Header)
		switch {
		case !ok:
			return ""
		case f != "":
			h = f
		}
	}
	return hostKey(h)
}

// forwardedHost returns the host named by the proxy in front of this
// server: the host parameter of the last element of Forwarded (RFC 7239),
// or the last value of X-Forwarded-Host, the ones that proxy added; ""
// when there is neither. It reports false when a header cannot be read,
// or when both are present and name different hosts (the proxy sets one;
// the other may be the client's).
func forwardedHost(h http.Header) (string, bool) {
	var fwd, xfh string
	if vs := h.Values("Forwarded"); len(vs) > 0 {
		v, ok := lastForwardedHost(vs[len(vs)-1])
		if !ok {
			return "", false
		}
		fwd = v
	}
	if vs := h.Values("X-Forwarded-Host"); len(vs) > 0 {
		v := vs[len(vs)-1]
		if i := strings.LastIndexByte(v, ','); i >= 0 {
			v = v[i+1:]
		}
		if xfh = strings.TrimSpace(v); xfh == "" || strings.ContainsAny(xfh, " \t\"/") {
			return "", false
		}
	}
	switch {
	case fwd != "" && xfh != "" && hostKey(fwd) != hostKey(xfh):
		return "", false
	case fwd != "":
		return fwd, true
	}
	return xfh, true
}

// lastForwardedHost returns the host parameter of the last element of a
// Forwarded header value ("" when it has none), reporting false when the
// value is malformed.
func lastForwardedHost(v string) (string, bool) {
	// Split into elements (",") and pairs (";"), minding quoted strings.
	var elems [][]string
	pairs := []string{}
	var cur strings.Builder
	quoted, escaped := false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case escaped:
			escaped = false
			cur.WriteByte(c)
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
			cur.WriteByte(c)
		case !quoted && (c == ';' || c == ','):
			pairs = append(pairs, cur.String())
			cur.Reset()
			if c == ',' {
				elems = append(elems, pairs)
				pairs = []string{}
			}
		default:
			cur.WriteByte(c)
		}
	}
	if quoted || escaped {
		return "", false
	}
	elems = append(elems, append(pairs, cur.String()))
	host := ""
	for _, p := range elems[len(elems)-1] {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		name, val, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return "", false
		}
		if !strings.EqualFold(strings.TrimSpace(name), "host") {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		if host != "" || val == "" || strings.ContainsAny(val, " \t\"/") {
			return "", false // twice, empty, or not a host
		}
		host = val
	}
	return host, true
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
