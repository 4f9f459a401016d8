package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The kinds of refusal. Every error the Guard hands to an ErrorHandler is
// an *Error that matches exactly one of them with errors.Is; the status
// and the OperationOutcome issue code follow the kind.
var (
	// ErrMissingToken: the request carries no credentials (or a scheme
	// other than Bearer, and DPoP where it is accepted). Answered 401
	// with a bare Bearer challenge (and DPoP one where it is accepted).
	ErrMissingToken = errors.New("middleware: no access token")
	// ErrInvalidRequest: the credentials or the FHIR request are
	// malformed, or the token was sent more than one way. Answered 400
	// invalid_request.
	ErrInvalidRequest = errors.New("middleware: malformed request")
	// ErrInvalidToken: the token is expired, badly signed, for another
	// audience or otherwise not acceptable. Answered 401 invalid_token.
	ErrInvalidToken = errors.New("middleware: invalid access token")
	// ErrInvalidProof: the token is DPoP-bound and its DPoP proof is
	// missing, malformed, for another request, already used, or lacks a
	// current nonce (RFC 9449). Answered 401 invalid_dpop_proof, or
	// use_dpop_nonce with a DPoP-Nonce header.
	ErrInvalidProof = errors.New("middleware: invalid DPoP proof")
	// ErrInsufficientScope: the token is good but does not allow the
	// request. Answered 403 insufficient_scope.
	ErrInsufficientScope = errors.New("middleware: insufficient scope")
	// ErrNotFound: no such FHIR endpoint here, or (with
	// Config.FHIR.NotFoundForDenied) a resource the token may not see, which
	// is answered exactly as a missing one. Answered 404.
	ErrNotFound = errors.New("middleware: not found")
	// ErrMethodNotAllowed: the method is not one FHIR allows on the
	// endpoint. Answered 405.
	ErrMethodNotAllowed = errors.New("middleware: method not allowed")
	// ErrTooLarge: a body or a bundle exceeds a configured bound.
	// Answered 413.
	ErrTooLarge = errors.New("middleware: request too large")
	// ErrUncheckedResponse: the response guard could not check what the
	// handler answered (not FHIR JSON, compressed, too large), so the
	// client gets none of it. Answered 502.
	ErrUncheckedResponse = errors.New("middleware: response could not be checked")
	// ErrUnavailable: the server cannot decide now (no key of the token's
	// issuer held, its introspection endpoint unreachable or slow).
	// Answered 503 temporarily_unavailable with Retry-After; never
	// allowed.
	ErrUnavailable = errors.New("middleware: temporarily unavailable")
	// ErrMisconfigured: the chain is wired wrong (Authorize without a
	// grant on the context). Answered 500.
	ErrMisconfigured = errors.New("middleware: misconfigured")
)

// Error codes: RFC 6750's three, RFC 9449's two for DPoP proofs, and
// OAuth's temporarily_unavailable (RFC 6749 §4.1.2.1) for a request that
// cannot be decided now.
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidToken           = "invalid_token"
	CodeInsufficientScope      = "insufficient_scope"
	CodeInvalidDPoPProof       = "invalid_dpop_proof"
	CodeUseDPoPNonce           = "use_dpop_nonce"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
)

// Error is the error the Guard reports for a request it refuses. errors.Is
// matches it against the sentinel of its kind (ErrInvalidToken, ...), one
// only, and against its cause (such as jwt.ErrTokenExpired); errors.As
// gives the status and the challenge.
type Error struct {
	// Status is the HTTP status: 400, 401, 403, 404, 405, 413, 500, 502
	// or 503.
	Status int
	// Code is the RFC 6750 error code, or "" for a request without
	// credentials.
	Code string
	// Description is a short text safe to show to the client. It never
	// holds token contents.
	Description string
	// Scope is the scope that would allow the request, for
	// insufficient_scope.
	Scope string
	// RetryAfter, for a 503, is when the client may try again; WriteError
	// sends it as Retry-After in whole seconds (at least 1).
	RetryAfter time.Duration
	// RefusedBy says who refused a FHIR request: "scope" (the token's
	// scopes), "policy" (Config.AccessPolicy or Config.Policy), or ""
	// for any other refusal.
	RefusedBy string
	// Rule names the AccessPolicy rules that applied to the user or
	// client, comma-separated, when the policy refused.
	Rule string
	// ResourceMetadata is the URL of the RFC 9728 metadata of the FHIR
	// base the request was under, sent as resource_metadata in the
	// challenge (RFC 9728 §5.1). The Guard sets it on 401 answers with
	// Config.Hooks.ResourceMetadata.
	ResourceMetadata string
	// Err is the cause. It may hold detail not fit for the client.
	Err error
	// DPoP, when not nil, makes the challenge name the DPoP scheme too
	// (RFC 9449 §7.1): the Guard sets it on the 400, 401 and 403 of a
	// FHIR base whose issuers accept DPoP-bound tokens (Issuer.DPoP).
	DPoP *DPoPChallenge
}

// Error returns the class, the description and the cause.
func (e *Error) Error() string {
	msg := "middleware: " + e.Description
	if e.Code != "" {
		msg = "middleware: " + e.Code + ": " + e.Description
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches e against the sentinel of its kind.
func (e *Error) Is(target error) bool { return target == e.Kind() }

// Kind returns the sentinel of e's kind, from its Code and Status.
func (e *Error) Kind() error {
	switch {
	case e.Code == CodeInvalidRequest:
		return ErrInvalidRequest
	case e.Code == CodeInvalidToken:
		return ErrInvalidToken
	case e.Code == CodeInsufficientScope:
		return ErrInsufficientScope
	case e.Code == CodeInvalidDPoPProof, e.Code == CodeUseDPoPNonce:
		return ErrInvalidProof
	}
	switch e.Status {
	case http.StatusUnauthorized:
		return ErrMissingToken
	case http.StatusBadRequest:
		return ErrInvalidRequest
	case http.StatusForbidden:
		return ErrInsufficientScope
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusMethodNotAllowed:
		return ErrMethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case http.StatusBadGateway:
		return ErrUncheckedResponse
	case http.StatusServiceUnavailable:
		return ErrUnavailable
	}
	return ErrMisconfigured
}

// ErrorHandler answers a request the middleware refuses. err is an *Error.
// A custom ErrorHandler must write a response; it must not call the next
// handler.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

// DefaultErrorHandler is the ErrorHandler a Guard uses when
// Config.Hooks.ErrorHandler is nil and Config.Hooks.Realm is the default: it answers
// per RFC 6750 §3 with realm "fhir" (see WriteError), and a HEAD with the
// status and headers of the GET, without a body.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	writeErrorFor(w, r, DefaultRealm, err)
}

// writeErrorFor is WriteError for request r: no body for a HEAD.
func writeErrorFor(w http.ResponseWriter, r *http.Request, realm string, err error) {
	if r.Method == http.MethodHead {
		w = headWriter{w} // the status and headers of the GET, no body
	}
	WriteError(w, realm, err)
}

// WriteError answers with the status of err, the RFC 6750 WWW-Authenticate
// challenge for realm (for 400, 401 and 403), Retry-After (for 503), and a
// FHIR OperationOutcome (application/fhir+json) whose text is err's
// Description, never its cause. An err that is not an *Error is answered
// 500 without detail.
func WriteError(w http.ResponseWriter, realm string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Description: "internal error"}
	}
	h := w.Header()
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusBadRequest {
		h.Set("WWW-Authenticate", Challenge(realm, e))
	}
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.FormatInt(int64(max(time.Second, e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	h.Set("Content-Type", "application/fhir+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	w.Write(operationOutcome(e))
}

// Challenge returns the RFC 6750 WWW-Authenticate value for e: a bare
// `Bearer realm="..."` when no token was presented, else the realm, the
// error code, a sanitised description, and for insufficient_scope the
// scope needed; then, when e has one, resource_metadata (RFC 9728 §5.1).
// With e.DPoP it names the DPoP scheme too, with its algs (RFC 9449 §7.1):
// `Bearer realm="...", DPoP realm="...", algs="ES256"` (the error in the
// challenge of the scheme the request used, resource_metadata in both), or
// the DPoP challenge alone where Bearer tokens are not accepted.
func Challenge(realm string, e *Error) string {
	if e.DPoP != nil {
		return e.DPoP.challenge(realm, e)
	}
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(quotable(realm))
	b.WriteByte('"')
	if e.Code == "" {
		return b.String() + resourceMetadata(e)
	}
	fmt.Fprintf(&b, `, error="%s"`, quotable(e.Code))
	if e.Description != "" {
		fmt.Fprintf(&b, `, error_description="%s"`, quotable(e.Description))
	}
	if e.Scope != "" {
		fmt.Fprintf(&b, `, scope="%s"`, quotable(e.Scope))
	}
	return b.String() + resourceMetadata(e)
}

// resourceMetadata is the resource_metadata auth-param of e's challenge,
// after a comma, or "" when e has none.
func resourceMetadata(e *Error) string {
	if e.ResourceMetadata == "" {
		return ""
	}
	return `, resource_metadata="` + quotable(e.ResourceMetadata) + `"`
}

// DPoPChallenge is how an Error's challenge names the DPoP scheme (RFC
// 9449 §7.1), for a request under a FHIR base whose issuers accept
// DPoP-bound tokens (Issuer.DPoP). The Guard sets it on the errors it
// hands to the ErrorHandler; Challenge reads it.
type DPoPChallenge struct {
	// Algs are the accepted proof algorithms, space-separated: the algs
	// parameter.
	Algs string
	// Bearer: Bearer tokens are accepted there too, so the challenge
	// names both schemes, Bearer first.
	Bearer bool
	// Used: the request used the DPoP scheme, so the error goes in the
	// DPoP challenge (RFC 9449 §7.2); else in the Bearer one, when there
	// is one.
	Used bool
}

// challenge returns the WWW-Authenticate value of e with c: "Bearer ...,
// DPoP ..., algs=..." or "DPoP ..., algs=...", the error in the scheme the
// request used.
func (c *DPoPChallenge) challenge(realm string, e *Error) string {
	var b strings.Builder
	inDPoP := c.Used || !c.Bearer
	if c.Bearer {
		b.WriteString("Bearer ")
		writeParams(&b, realm, e, !inDPoP)
		b.WriteString(resourceMetadata(e))
		b.WriteString(", ")
	}
	b.WriteString("DPoP ")
	writeParams(&b, realm, e, inDPoP)
	fmt.Fprintf(&b, `, algs="%s"`, quotable(c.Algs))
	b.WriteString(resourceMetadata(e))
	return b.String()
}

// writeParams writes the realm and, with withError, the error parameters
// of e (RFC 6750 §3).
func writeParams(b *strings.Builder, realm string, e *Error, withError bool) {
	fmt.Fprintf(b, `realm="%s"`, quotable(realm))
	if !withError || e.Code == "" {
		return
	}
	fmt.Fprintf(b, `, error="%s"`, quotable(e.Code))
	if e.Description != "" {
		fmt.Fprintf(b, `, error_description="%s"`, quotable(e.Description))
	}
	if e.Scope != "" {
		fmt.Fprintf(b, `, scope="%s"`, quotable(e.Scope))
	}
}

// quotable keeps the bytes RFC 6750 §3 allows inside a quoted auth-param
// (%x20-21 / %x23-5B / %x5D-7E) and drops the others.
func quotable(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
			b = append(b, c)
		}
	}
	return string(b)
}

type outcomeIssue struct {
	Severity    string `json:"severity"`
	Code        string `json:"code"`
	Diagnostics string `json:"diagnostics,omitempty"`
}

type outcome struct {
	ResourceType string         `json:"resourceType"`
	Issue        []outcomeIssue `json:"issue"`
}

// operationOutcome renders e as a FHIR R4 OperationOutcome. The issue
// code (FHIR IssueType) follows e's kind.
func operationOutcome(e *Error) []byte {
	code := "exception"
	switch e.Kind() {
	case ErrMissingToken:
		code = "login"
	case ErrInvalidRequest:
		code = "invalid"
	case ErrInvalidToken:
		code = "security"
		if errors.Is(e.Err, jwt.ErrTokenExpired) {
			code = "expired"
		}
	case ErrInvalidProof:
		code = "security"
	case ErrInsufficientScope:
		code = "forbidden"
	case ErrNotFound:
		code = "not-found"
	case ErrMethodNotAllowed:
		code = "not-supported"
	case ErrTooLarge:
		code = "too-costly"
	case ErrUnavailable:
		code = "transient"
	}
	out, err := json.Marshal(outcome{
		ResourceType: "OperationOutcome",
		Issue:        []outcomeIssue{{Severity: "error", Code: code, Diagnostics: e.Description}},
	})
	if err != nil { // cannot happen with these types
		return []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception"}]}`)
	}
	return out
}
