package middleware

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/smartguard/smartguard/internal/engine"
)

// ExportOptions turn on FHIR Bulk Data Access 2.0 export; see
// Config.FHIR.Export. The zero value leaves it off: every $export is
// refused (403) as an undeclared operation.
//
// With Enabled, the Guard decides the kick-offs ($export at system,
// Patient and Group level) from system/ scopes (user/ ones with
// UserScopes, patient/ ones never) and the AccessPolicy: every type in
// _type must be granted read and search (403 naming it otherwise), and
// without _type the handler is given exactly the granted types, granular
// scopes as _typeFilter entries. The client gets status and file URLs
// signed with Key and bound to the issuer, client and user that started
// the job (anyone else gets 404), and each NDJSON line of a file is
// checked as a read of its resource unless the grant covers every type.
// Handlers serve their job and file URLs only to requests for which
// IsExportForward reports true; never declare those paths as Operations.
// Every rule and answer is in docs/bulk-data.md.
type ExportOptions struct {
	// Enabled turns export on. Default: off.
	Enabled bool

	// Key signs the status and file URLs: at least 32 random bytes,
	// the same on every replica (a URL minted by one is checked by any
	// other), kept secret. Required when Enabled; New refuses a shorter
	// one. Changing it invalidates every job URL handed out.
	Key []byte

	// UserScopes lets user/ scopes start exports (limited by the Policy
	// to what the user may see). Default: only system/ scopes.
	UserScopes bool

	// LinkLifetime is how long a status or file URL stays valid after
	// it was handed out. Default 24 h.
	LinkLifetime time.Duration

	// MaxLineBytes bounds one NDJSON line the Guard checks, and the
	// memory a download holds for it; a longer line aborts the download.
	// Default 16 MiB.
	MaxLineBytes int

	// ForbiddenForScope answers 403 insufficient_scope, naming a type,
	// instead of 404 when a status or file URL is used by its job's
	// client with scopes that no longer cover every type of the job.
	// Default 404, as for any URL that is not the caller's, so that a
	// client learns nothing of jobs it cannot use.
	ForbiddenForScope bool
}

// exportOperations are the Operations keys of the kick-offs that
// FHIR.Export decides when it is enabled.
var exportOperations = []string{"$export", "Patient/$export", "Group/[id]/$export", "*/$export", "*/[id]/$export"}

// withDefaults checks e and sets its defaults; ops are the declared
// Operations.
func (e *ExportOptions) withDefaults(ops map[string]Operation) []error {
	var errs []error
	for _, k := range exportOperations {
		if _, ok := ops[k]; ok && e.Enabled {
			errs = append(errs, fmt.Errorf("FHIR.Operations declares %q, which FHIR.Export decides when it is enabled: remove it", k))
		}
	}
	if e.Enabled && len(e.Key) < engine.MinExportKey {
		errs = append(errs, fmt.Errorf("FHIR.Export.Key must hold at least %d bytes (random, the same on every replica)", engine.MinExportKey))
	}
	if e.LinkLifetime < 0 {
		errs = append(errs, fmt.Errorf("FHIR.Export.LinkLifetime %v is negative", e.LinkLifetime))
	}
	if e.MaxLineBytes < 0 {
		errs = append(errs, fmt.Errorf("FHIR.Export.MaxLineBytes %d is negative", e.MaxLineBytes))
	}
	if e.LinkLifetime == 0 {
		e.LinkLifetime = 24 * time.Hour
	}
	if e.MaxLineBytes == 0 {
		e.MaxLineBytes = engine.DefaultMaxLineBytes
	}
	return errs
}

// engine returns the engine's options; now is the Guard's clock (nil for
// time.Now).
func (e *ExportOptions) engine(now func() time.Time) engine.ExportOptions {
	return engine.ExportOptions{
		Enabled:           e.Enabled,
		Key:               slices.Clone(e.Key),
		UserScopes:        e.UserScopes,
		LinkTTL:           e.LinkLifetime,
		MaxLineBytes:      e.MaxLineBytes,
		ForbiddenForScope: e.ForbiddenForScope,
		Now:               now,
	}
}

// IsExportForward reports whether r is the Guard forwarding a Bulk Data
// status poll, cancel or file download to the handler, at the URL the
// handler gave for it (the kick-off's Content-Location, a manifest's
// file URL), after it checked that the caller is the job's client. A
// handler serves its job and file URLs to such requests only; a client
// cannot make a request for which it reports true. The request's
// Decision is an operation "$export-poll" or "$export-file" in the job's
// context.
func IsExportForward(r *http.Request) bool { return engine.IsExportForward(r) }
