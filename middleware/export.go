package middleware

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/smartguard/smartguard/internal/engine"
)

// ExportOptions turn on FHIR Bulk Data Access 2.0 export; see
// Config.FHIR.Export and docs/bulk-data.md. The zero value leaves it off:
// every $export is refused (403) as an undeclared operation.
//
// With Enabled, the Guard decides the kick-offs
// (GET or POST [base]/$export, [base]/Patient/$export,
// [base]/Group/[id]/$export):
//
//   - system/ scopes may start an export; user/ scopes only with
//     UserScopes (and never those of a patient's own login); patient/
//     scopes never (403).
//   - Every type in _type must be granted read and search ("rs", v1
//     ".read"), granular scopes included; one that is not refuses the
//     kick-off with 403 insufficient_scope naming it: types are never
//     silently left out. Without _type the handler is given, in _type,
//     exactly the types the scopes grant (nothing is added for a "*"
//     scope without constraint); at Patient and Group level only types
//     that can belong to a patient.
//   - Granular scopes become _typeFilter entries (each alternative ANDed
//     with each of the client's own entries for the type); the lines of
//     the files are checked against them anyway.
//   - patient only in a POST and not at system level, _since a FHIR
//     instant, _outputFormat one of the three NDJSON names, _elements
//     element names (the elements granular scopes need are added),
//     includeAssociatedData the two Provenance values (Provenance must be
//     granted); any other parameter is refused (400) unless the request
//     says Prefer: handling=lenient, when it is dropped. The handler gets
//     the parameters as the Guard checked them: a new query, or a new
//     Parameters body.
//   - The AccessPolicy limits exports as it limits searches: each type
//     of the job needs a policy grant of read and search, and a grant
//     with criteria or patients (a Group's attributed members) holds
//     every line of the files to them. The Policy function is called
//     with the kick-off (Operation "$export", Request.Query holding the
//     checked parameters, patient among them), and with each poll and
//     download ("$export-poll", "$export-file").
//
// The handler answers 202 with an absolute Content-Location under the
// base (anything else is 502). The client gets instead
// [base]/$export-poll/<token>, the token signed with Key and naming the
// handler's URL, the issuer, the client (client_id, which the token must
// have), the user (fhirUser, else sub), the job's types and granular
// scopes and an expiry. Polls (GET) and cancels (DELETE) of that URL are
// forwarded to the handler's URL only for a caller of the same issuer,
// client and user whose scopes still cover every type of the job (404
// otherwise, or 403 with ForbiddenForScope when only the scopes fall
// short; 401 without a token). A complete manifest's file URLs become
// [base]/$export-file/<token>, bound the same way and to the file's
// type; requiresAccessToken must be true and every URL under the base
// (502 otherwise).
//
// Files are streamed. Unless the caller's scopes (and the job's, and the
// AccessPolicy) grant every type without constraint, each NDJSON line is
// checked as a read of its resource (the response guard's one rule): a
// line of another type than the file's, outside the granular scopes or
// the policy, or unreadable, is withheld, and counted in an OperationOutcome file the Guard adds to the
// manifest's error list. A line longer than MaxLineBytes aborts the
// download (a broken transfer, never a shorter file).
//
// Handlers serve their job and file URLs only to requests for which
// IsExportForward reports true; never declare those paths as Operations.
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
