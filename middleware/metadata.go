package middleware

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/smartguard/smartguard/wellknown"
)

// ProtectedResources returns the RFC 9728 metadata of every FHIR base the
// Guard serves, sorted by resource: the base URL as its tokens name it in
// "aud" (the resource), the issuers whose tokens it takes (the
// authorization servers), how it reads a bearer token ("header", and
// "body" with Config.Tokens.FormBody) and, where its issuers accept
// DPoP-bound tokens (Issuer.DPoP), the proof algorithms, with
// dpop_bound_access_tokens_required and no bearer method where none
// accepts bearer tokens. Add what the Guard does not know, such as
// the scopes and a name, then serve them with
// wellknown.ProtectedResourceHandler:
//
//	docs := guard.ProtectedResources() // each base: its resource, issuers and bearer methods
//	for i := range docs {
//		docs[i].ScopesSupported = []string{"launch/patient", "patient/*.rs", "offline_access"}
//	}
//	prm, err := wellknown.ProtectedResourceHandler(docs...)
//	if err != nil { ... }
//	mux.Handle("/.well-known/oauth-protected-resource/", prm) // at the host's root, not under the base
//
// With Config.Hooks.ResourceMetadata, the Guard's 401 answers name the
// URL of these documents.
func (g *Guard) ProtectedResources() []wellknown.ProtectedResource {
	methods := []string{"header"}
	if g.form {
		methods = append(methods, "body")
	}
	out := make([]wellknown.ProtectedResource, 0, len(g.bases))
	for _, b := range g.bases {
		var servers []string
		for _, a := range b.auds {
			if !slices.Contains(servers, a.issuer) {
				servers = append(servers, a.issuer)
			}
		}
		doc := wellknown.ProtectedResource{
			Resource:               b.auds[0].url, // every audience of a base is one URL
			AuthorizationServers:   servers,
			BearerMethodsSupported: slices.Clone(methods),
		}
		g.describeDPoP(&doc, b)
		out = append(out, doc)
	}
	slices.SortFunc(out, func(x, y wellknown.ProtectedResource) int { return strings.Compare(x.Resource, y.Resource) })
	return out
}

// withResourceMetadata returns onError with, on a 401, the URL of the
// metadata of the request's base as the Error's ResourceMetadata (see
// Config.Hooks.ResourceMetadata). A request under no base gets none.
func (g *Guard) withResourceMetadata(onError ErrorHandler) ErrorHandler {
	urls := make(map[*base]string, len(g.bases))
	for _, b := range g.bases {
		urls[b], _ = wellknown.ProtectedResourceURL(b.auds[0].url) // checked by checkResourceMetadata
	}
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if e, ok := err.(*Error); ok && e.Status == http.StatusUnauthorized && e.ResourceMetadata == "" {
			if u := urls[g.baseOf(r)]; u != "" {
				c := *e // a copy: errors such as errNoToken are shared
				c.ResourceMetadata = u
				err = &c
			}
		}
		onError(w, r, err)
	}
}

// checkResourceMetadata refuses, with Config.Hooks.ResourceMetadata, an
// audience that cannot be an RFC 9728 resource identifier (http on a host
// that is not loopback, say): its metadata could not be served, and
// challenges would name a document that does not exist.
func checkResourceMetadata(cfg *Config, all []Issuer) []error {
	if !cfg.Hooks.ResourceMetadata {
		return nil
	}
	var errs []error
	for _, is := range all {
		for _, a := range append([]string{is.Audience}, is.Audiences...) {
			if a == "" || checkAudience(a) != nil {
				continue // reported by checkIssuers
			}
			if err := (wellknown.ProtectedResource{Resource: a}).Validate(); err != nil {
				errs = append(errs, fmt.Errorf("Hooks.ResourceMetadata: audience %q is not a protected resource: %w", a, err))
			}
		}
	}
	return errs
}
