// Package ctxkey holds the keys under which package context (smartctx)
// carries a Grant and a Decision on a context.Context. They live here so
// that the engine can carry both on a request with one context value of
// its own, answering each key as context.WithValue would; no package
// outside this module can name them.
package ctxkey

// Grant is the key of the *smartctx.Grant.
type Grant struct{}

// Decision is the key of the *smartctx.Decision.
type Decision struct{}
