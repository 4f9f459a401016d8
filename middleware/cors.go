package middleware

import (
	"net/http"

	"github.com/rs/cors"
)

// CORS returns a middleware that answers cross-origin requests to a FHIR
// API the way SMART apps running in a browser need, with
// github.com/rs/cors:
//
//   - origins: exactly those given (scheme://host[:port]); none when none
//     are given. "*" allows any origin and must be given on purpose.
//   - methods: GET, HEAD, POST, PUT, PATCH, DELETE.
//   - request headers: Authorization, DPoP, Content-Type, Accept, Prefer,
//     If-Match, If-None-Match, If-None-Exist, If-Modified-Since.
//   - exposed headers: WWW-Authenticate, DPoP-Nonce, Location,
//     Content-Location, ETag, Last-Modified, so that apps can read
//     challenges, DPoP nonces (RFC 9449 §8) and versions.
//   - no credentials (cookies): SMART apps send bearer tokens.
//
// Preflight (OPTIONS) requests are answered here and never passed on, so
// put CORS before the Middleware's Handler: a preflight never needs a
// token.
func CORS(origins ...string) func(http.Handler) http.Handler {
	opts := cors.Options{
		AllowedOrigins: append([]string{}, origins...),
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "DPoP", "Content-Type", "Accept", "Prefer", "If-Match", "If-None-Match", "If-None-Exist", "If-Modified-Since"},
		ExposedHeaders: []string{"WWW-Authenticate", "DPoP-Nonce", "Location", "Content-Location", "ETag", "Last-Modified"},
		MaxAge:         600,
	}
	if len(origins) == 0 {
		// rs/cors reads an empty list as "any origin".
		opts.AllowOriginFunc = func(string) bool { return false }
	}
	return cors.New(opts).Handler
}
