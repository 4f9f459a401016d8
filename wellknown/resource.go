package wellknown

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ProtectedResourceWellKnown is the well-known path of RFC 9728 protected
// resource metadata. Unlike SMART's, it is inserted between the host and
// the path of the resource: see [ProtectedResourcePath].
const ProtectedResourceWellKnown = "/.well-known/oauth-protected-resource"

// ProtectedResource is the RFC 9728 metadata of one protected resource, a
// FHIR base: where its tokens come from, which scopes exist for it and how
// tokens are presented to it. The JSON names are those of RFC 9728 §2;
// empty members are omitted, as §3.2 requires. Check it with
// [ProtectedResource.Validate] ([ProtectedResourceHandler] does).
//
// middleware.Guard's ProtectedResources fills in what the Guard enforces
// (the resource, its authorization servers, the bearer methods); add the
// scopes and a name.
type ProtectedResource struct {
	// Resource is the resource identifier: the FHIR base URL, exactly as
	// tokens name it in "aud" (the Guard's Issuer.Audience), such as
	// "https://fhir.example.org/r4". A client compares it, code point by
	// code point, with the URL it derived the metadata URL from (RFC 9728
	// §3.3), so it must be the base and nothing else. Required.
	Resource string `json:"resource"`
	// AuthorizationServers lists the issuer identifiers (RFC 8414) of the
	// authorization servers whose tokens the resource accepts.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	// ScopesSupported lists the scopes used to request access to the
	// resource (recommended); as in [Configuration], each must be one this
	// library enforces.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported lists how a token may be sent (RFC 6750 §2):
	// "header", and "body" when the Guard reads form bodies
	// (Config.Tokens.FormBody). Never "query": the Guard never reads a
	// token from the URL.
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	// ResourceName is a name for end users (recommended).
	ResourceName string `json:"resource_name,omitempty"`
	// ResourceDocumentation is the URL of documentation for developers.
	ResourceDocumentation string `json:"resource_documentation,omitempty"`
	// ResourcePolicyURI is the URL of the resource's data-use policy.
	ResourcePolicyURI string `json:"resource_policy_uri,omitempty"`
	// ResourceTOSURI is the URL of the resource's terms of service.
	ResourceTOSURI string `json:"resource_tos_uri,omitempty"`
	// DPoPSigningAlgValuesSupported lists the JWS algorithms accepted for
	// DPoP proofs (RFC 9449): asymmetric ones only.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// DPoPBoundAccessTokensRequired says the resource accepts
	// DPoP-bound tokens only. It needs DPoPSigningAlgValuesSupported.
	DPoPBoundAccessTokensRequired bool `json:"dpop_bound_access_tokens_required,omitempty"`
}

// Validate checks p and returns every problem at once, as
// [Configuration.Validate] does: an errors.Join of [*FieldError], each
// matching [ErrInvalid]. The rules:
//   - resource is present, an absolute https URL (http only for a
//     loopback host), without user information, query, fragment or a
//     trailing "/" (a FHIR base URL as tokens name it);
//   - each authorization server is an issuer identifier: the same URL
//     rules, no query; none is listed twice;
//   - every scope parses and is enforced, as in Configuration;
//   - bearer methods are "header" or "body", each once;
//   - the documentation, policy and terms URLs follow the URL rules;
//   - DPoP algorithms are not "none" nor symmetric (RFC 9449 §4.2), and
//     are listed when DPoP-bound tokens are required;
//   - list items are not empty strings.
func (p ProtectedResource) Validate() error {
	var v validator
	switch {
	case p.Resource == "":
		v.add("resource", "is required")
	default:
		v.url("resource", p.Resource)
		if strings.ContainsRune(p.Resource, '?') {
			v.add("resource", "%q has a query; a FHIR base URL has none", p.Resource)
		}
		if u, err := url.Parse(p.Resource); err == nil && strings.HasSuffix(u.Path, "/") {
			v.add("resource", "%q ends with \"/\": give the FHIR base URL without it, as tokens name it", p.Resource)
		}
	}
	v.strings("authorization_servers", p.AuthorizationServers)
	for i, s := range p.AuthorizationServers {
		field := fmt.Sprintf("authorization_servers[%d]", i)
		if s != "" {
			v.issuer(field, s)
		}
		if slices.Index(p.AuthorizationServers, s) < i {
			v.add(field, "%q is listed twice", s)
		}
	}
	v.scopes(p.ScopesSupported)
	for i, m := range p.BearerMethodsSupported {
		field := fmt.Sprintf("bearer_methods_supported[%d]", i)
		switch {
		case m == "query":
			v.add(field, `"query" is not supported: a token in the URL ends up in logs (RFC 6750 §2.3)`)
		case m != "header" && m != "body":
			v.add(field, `%q is not "header" or "body" (RFC 6750 §2)`, m)
		case slices.Index(p.BearerMethodsSupported, m) < i:
			v.add(field, "%q is listed twice", m)
		}
	}
	for _, f := range []struct{ name, value string }{
		{"resource_documentation", p.ResourceDocumentation},
		{"resource_policy_uri", p.ResourcePolicyURI},
		{"resource_tos_uri", p.ResourceTOSURI},
	} {
		if f.value != "" {
			v.url(f.name, f.value)
		}
	}
	v.strings("dpop_signing_alg_values_supported", p.DPoPSigningAlgValuesSupported)
	for i, a := range p.DPoPSigningAlgValuesSupported {
		if a == "none" || strings.HasPrefix(a, "HS") {
			v.add(fmt.Sprintf("dpop_signing_alg_values_supported[%d]", i), "%q is not an asymmetric algorithm (RFC 9449 §4.2)", a)
		}
	}
	if p.DPoPBoundAccessTokensRequired && len(p.DPoPSigningAlgValuesSupported) == 0 {
		v.add("dpop_signing_alg_values_supported", "is required when dpop_bound_access_tokens_required is true")
	}
	return errors.Join(v.errs...)
}

// ProtectedResourcePath returns the path at which to serve the metadata of
// the resource whose identifier is resource: [ProtectedResourceWellKnown]
// inserted before the resource's path, the "/" right after the host
// dropped when it is all the path (RFC 9728 §3.1). A query is kept after
// it. resource may also be a path ("/r4").
//
//	"https://fhir.example.org/r4"    → "/.well-known/oauth-protected-resource/r4"
//	"https://fhir.example.org/t/42"  → "/.well-known/oauth-protected-resource/t/42"
//	"https://fhir.example.org"       → "/.well-known/oauth-protected-resource"
//
// The path is at the host's root, outside the FHIR base: mount the handler
// there, not under the base.
func ProtectedResourcePath(resource string) (string, error) {
	_, rest, err := splitResource(resource, false)
	if err != nil {
		return "", err
	}
	return ProtectedResourceWellKnown + rest, nil
}

// ProtectedResourceURL returns the URL of the metadata of the resource
// whose identifier is resource, an absolute URL: its scheme and host, then
// [ProtectedResourcePath] ("https://fhir.example.org/r4" gives
// "https://fhir.example.org/.well-known/oauth-protected-resource/r4").
// This is the resource_metadata of RFC 9728 §5.1 challenges.
func ProtectedResourceURL(resource string) (string, error) {
	origin, rest, err := splitResource(resource, true)
	if err != nil {
		return "", err
	}
	return origin + ProtectedResourceWellKnown + rest, nil
}

// splitResource splits a resource identifier into its scheme and host,
// byte for byte as written, and what follows the host, without the "/"
// RFC 9728 §3.1 drops (the one right after the host when nothing but a
// query follows it). Without abs, resource may be a path alone.
func splitResource(resource string, abs bool) (origin, rest string, err error) {
	u, err := url.Parse(resource)
	switch {
	case err != nil:
		return "", "", fmt.Errorf("wellknown: resource %q is not a URL", resource)
	case strings.ContainsRune(resource, '#'):
		return "", "", fmt.Errorf("wellknown: resource %q has a fragment", resource)
	case u.IsAbs() && (u.Host == "" || u.Opaque != ""):
		return "", "", fmt.Errorf("wellknown: resource %q has no host", resource)
	case !u.IsAbs() && (abs || !strings.HasPrefix(resource, "/") || strings.HasPrefix(resource, "//")):
		return "", "", fmt.Errorf("wellknown: resource %q is not an absolute URL", resource)
	}
	rest = resource
	if u.IsAbs() {
		after := strings.Index(resource, "//") + 2
		end := strings.IndexAny(resource[after:], "/?")
		if end < 0 {
			end = len(resource) - after
		}
		origin, rest = resource[:after+end], resource[after+end:]
	}
	if rest == "/" || strings.HasPrefix(rest, "/?") {
		rest = rest[1:]
	}
	return origin, rest, nil
}

// ProtectedResourceHandler validates each document and returns a handler
// serving each at its [ProtectedResourcePath], or the errors of
// [ProtectedResource.Validate]. It serves several FHIR bases (tenants) at
// once: documents whose paths are equal (bases on different hosts) are told
// apart by the request's Host header, compared in lower case without a
// port of 80 or 443; a path that only one document has is served whatever
// the host. Any other path is answered 404. Two documents for the same
// host and path are an error.
//
// Each document is encoded once, here, and served like [Handler] serves
// the SMART document: without a token, application/json, cacheable for
// [MaxAge] seconds with an ETag, open to any origin.
//
// Mount it at the root of the host, not under the FHIR base: at
// ProtectedResourcePath(doc.Resource) for one document, or at
// ProtectedResourceWellKnown+"/" for every document with a path.
func ProtectedResourceHandler(docs ...ProtectedResource) (http.Handler, error) {
	if len(docs) == 0 {
		return nil, errors.New("wellknown: no protected resource")
	}
	rt := &resourceRouter{byPath: make(map[string][]resourceEntry, len(docs))}
	var errs []error
	for i, doc := range docs {
		if err := doc.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("resource %d (%q): %w", i, doc.Resource, err))
			continue
		}
		path, _ := ProtectedResourcePath(doc.Resource) // valid: Validate passed
		u, _ := url.Parse(doc.Resource)
		host := hostKey(u.Host)
		for _, e := range rt.byPath[path] {
			if e.host == host {
				errs = append(errs, fmt.Errorf("wellknown: resources %q and %q have one metadata URL", e.resource, doc.Resource))
			}
		}
		h, err := newHandler(doc)
		if err != nil {
			return nil, err
		}
		rt.byPath[path] = append(rt.byPath[path], resourceEntry{host: host, resource: doc.Resource, h: h})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return openCORS(rt), nil
}

// resourceRouter serves the metadata of several resources, by path, then
// by host where paths are shared.
type resourceRouter struct {
	byPath map[string][]resourceEntry // ProtectedResourcePath → documents
}

type resourceEntry struct {
	host     string // as hostKey gives it
	resource string
	h        *handler
}

func (rt *resourceRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	entries := rt.byPath[r.URL.EscapedPath()]
	switch len(entries) {
	case 0:
		http.NotFound(w, r)
	case 1:
		entries[0].h.ServeHTTP(w, r)
	default:
		host := r.Host
		if host == "" {
			host = r.URL.Host
		}
		host = hostKey(host)
		for _, e := range entries {
			if e.host == host {
				e.h.ServeHTTP(w, r)
				return
			}
		}
		http.NotFound(w, r)
	}
}

// hostKey is a host as resources and requests are compared: in lower
// case, without a port of 80 or 443.
func hostKey(hostport string) string {
	h := strings.ToLower(hostport)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		if port := h[i+1:]; port == "" || port == "80" || port == "443" {
			h = h[:i]
		}
	}
	return h
}
