// Package context carries the SMART grant of a verified access token on a
// request's context.Context, so that FHIR handlers can enforce the launch
// context (patient, encounter, fhirUser) and the scopes.
//
// Its name is the product's; import it with the alias smartctx, beside the
// standard library's context:
//
//	import smartctx "github.com/smartguard/smartguard/context"
//
//	func observations(w http.ResponseWriter, r *http.Request) {
//		g, ok := smartctx.FromContext(r.Context())
//		if !ok {
//			http.Error(w, "no grant", http.StatusUnauthorized)
//			return
//		}
//		patient := g.Patient() // "" when the token has no patient in context
//		...
//	}
//
// The middleware puts a [Grant] on every request it lets through. Tests and
// non-HTTP code can make one with [NewGrant] and [NewContext]. A Grant is
// immutable, and every getter is safe on a nil *Grant.
//
// [Grant.Access] adds to the scopes' own answer the rule SMART's launch
// context needs: patient/ scopes grant nothing when no patient is in
// context. Missing context denies; it never widens access.
package context
