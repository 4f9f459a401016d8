package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	smartctx "github.com/smartguard/smartguard/context"
	"github.com/smartguard/smartguard/scope"
)

// Outcome is how the Guard answered a request, as audited.
type Outcome string

// The outcomes of a request.
const (
	// OutcomeAllowed: the request reached the handler and its answer
	// reached the client whole.
	OutcomeAllowed Outcome = "allowed"
	// OutcomeFiltered: the request reached the handler, and the response
	// guard withheld some of its answer (Bundle entries, batch entries).
	OutcomeFiltered Outcome = "filtered"
	// OutcomeRefused: the client got a refusal (an *Error), from
	// authentication, authorization or the response guard.
	OutcomeRefused Outcome = "refused"
)

// AuditEvent is what the Guard reports of one request to Config.Hooks.Audit: who
// asked, for what, about which patient, and what was answered. It never
// holds the token, the query string or resource contents: only ids.
type AuditEvent struct {
	Time      time.Time     // when the request arrived
	Duration  time.Duration // until the Guard answered
	RequestID string        // the request's X-Request-Id header, if any

	Outcome Outcome
	Status  int    // the HTTP status answered
	Kind    error  // for a refusal, its sentinel (ErrInsufficientScope, ...)
	Reason  string // for a refusal, the description the client got

	// Who: from the verified token, empty when there was none.
	Issuer, Subject, ClientID, FHIRUser string

	// What: the request, as classified.
	Method      string
	Interaction scope.Interaction
	Type, ID    string
	Operation   string
	Context     scope.Context // the scope context that allowed it

	// Patient is the patient whose compartment limited the request, else
	// the token's patient in context, or "".
	Patient string
	// Withheld counts the entries the response guard removed or refused.
	Withheld int

	// RefusedBy says who refused a FHIR request: "scope" or "policy"
	// (see Error.RefusedBy); Rule names the AccessPolicy rules that
	// applied when the policy refused.
	RefusedBy, Rule string

	// PurposeOfUse and Organization are the UDAP B2B authorization
	// extension's claims of the token (extensions.hl7-b2b.purpose_of_use
	// and organization_id), when it has them.
	PurposeOfUse []string
	Organization string
}

// Metrics receives counters and latencies from the Guard, for export to a
// metrics system (see the Prometheus example in the examples module). Its
// methods are called on the request path: they must be fast and safe for
// concurrent use.
type Metrics interface {
	// Request counts one answered request: its outcome, the kind of a
	// refusal ("insufficient_scope", "invalid_token", ... as KindName
	// gives it; "" otherwise) and how long the Guard took, handler
	// included.
	Request(outcome Outcome, kind string, d time.Duration)
	// Token counts one token presented: "cached" (found among verified
	// tokens), "verified" (checked now) or "refused".
	Token(result string)
	// Guarded counts one response the guard held: its size in bytes and
	// the entries it withheld.
	Guarded(bytes, withheld int)
}

// KindName is the short name of a refusal's sentinel, for logs and
// metrics: "missing_token", "invalid_request", "invalid_token",
// "invalid_dpop_proof", "insufficient_scope", "not_found", "method_not_allowed", "too_large",
// "unchecked_response", "unavailable", "misconfigured"; "" for nil.
func KindName(kind error) string {
	switch kind {
	case nil:
		return ""
	case ErrMissingToken:
		return "missing_token"
	case ErrInvalidRequest:
		return "invalid_request"
	case ErrInvalidToken:
		return "invalid_token"
	case ErrInvalidProof:
		return "invalid_dpop_proof"
	case ErrInsufficientScope:
		return "insufficient_scope"
	case ErrNotFound:
		return "not_found"
	case ErrMethodNotAllowed:
		return "method_not_allowed"
	case ErrTooLarge:
		return "too_large"
	case ErrUncheckedResponse:
		return "unchecked_response"
	case ErrUnavailable:
		return "unavailable"
	}
	return "misconfigured"
}

// auditRecord collects what the stages learn of one request, when an
// Audit hook or Metrics is set.
type auditRecord struct {
	start    time.Time
	grant    *smartctx.Grant
	request  *smartctx.Request // as classified, also when then refused
	decided  *smartctx.Request // as decided (a rewritten query, say)
	limits   *smartctx.Limits  // what the decision left to enforce
	err      *Error
	withheld int
	status   int
}

type auditKey struct{}

func recordOf(ctx context.Context) *auditRecord {
	rec, _ := ctx.Value(auditKey{}).(*auditRecord)
	return rec
}

// statusWriter notes the status a response is answered with.
type statusWriter struct {
	http.ResponseWriter
	rec *auditRecord
}

func (s *statusWriter) WriteHeader(code int) {
	if s.rec.status == 0 && code >= 200 {
		s.rec.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.rec.status == 0 {
		s.rec.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController the writer underneath.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// audited returns h reporting each request to Config.Hooks.Audit and Metrics;
// h itself when neither is set, so that auditing costs nothing then.
// Every stage that serves is audited (Handler, AuthenticateOnly,
// Authorize); in a chain of them the outermost reports, once, what all
// of them learnt.
func (g *Guard) audited(h http.Handler) http.Handler {
	if g.audit == nil && g.metrics == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if recordOf(r.Context()) != nil {
			h.ServeHTTP(w, r) // an outer stage reports
			return
		}
		rec := &auditRecord{start: g.now()}
		r = r.WithContext(context.WithValue(r.Context(), auditKey{}, rec))
		h.ServeHTTP(&statusWriter{ResponseWriter: w, rec: rec}, r)
		g.report(r, rec)
	})
}

// auditError wraps an ErrorHandler to note the refusal on the request's
// audit record.
func auditError(onError ErrorHandler) ErrorHandler {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if rec := recordOf(r.Context()); rec != nil {
			var e *Error
			if errors.As(err, &e) {
				rec.err = e
			}
		}
		onError(w, r, err)
	}
}

func (g *Guard) report(r *http.Request, rec *auditRecord) {
	e := AuditEvent{
		Time:      rec.start,
		Duration:  g.now().Sub(rec.start),
		RequestID: r.Header.Get("X-Request-Id"),
		Status:    rec.status,
		Method:    r.Method,
		Withheld:  rec.withheld,
	}
	if e.Status == 0 {
		e.Status = http.StatusOK
	}
	switch {
	case rec.err != nil:
		e.Outcome, e.Kind, e.Reason = OutcomeRefused, rec.err.Kind(), rec.err.Description
		e.RefusedBy, e.Rule = rec.err.RefusedBy, rec.err.Rule
	case rec.withheld > 0:
		e.Outcome = OutcomeFiltered
	default:
		e.Outcome = OutcomeAllowed
	}
	if grant := rec.grant; grant != nil {
		e.Issuer, e.Subject, e.ClientID, e.FHIRUser, e.Patient = grant.Issuer(), grant.Subject(), grant.ClientID(), grant.FHIRUser(), grant.Patient()
		e.PurposeOfUse, e.Organization = b2b(grant)
	}
	if q := rec.request; q != nil {
		e.Interaction, e.Type, e.ID, e.Operation = q.Interaction, q.Type, q.ID, q.Operation
	}
	if d, l := rec.decided, rec.limits; d != nil && l != nil {
		e.Interaction, e.Type, e.ID, e.Operation, e.Context = d.Interaction, d.Type, d.ID, d.Operation, l.Context
		if l.Patient != "" {
			e.Patient = l.Patient
		}
	}
	if g.metrics != nil {
		g.metrics.Request(e.Outcome, KindName(e.Kind), e.Duration)
	}
	if g.audit != nil {
		g.audit(r.Context(), e)
	}
}

// SlogAudit returns an Audit hook that logs each event to l: refusals at
// level Warn, the others at Info, with the attributes "outcome", "status",
// "kind", "reason", "iss", "sub", "client_id", "fhir_user", "method",
// "interaction", "type", "id", "operation", "scope_context", "patient",
// "withheld", "request_id", "duration", "refused_by", "rule",
// "purpose_of_use" and "organization", whose names are stable.
func SlogAudit(l *slog.Logger) func(context.Context, AuditEvent) {
	return func(ctx context.Context, e AuditEvent) {
		level := slog.LevelInfo
		if e.Outcome == OutcomeRefused {
			level = slog.LevelWarn
		}
		var sc string
		if e.Context != 0 {
			sc = e.Context.String()
		}
		l.LogAttrs(ctx, level, "smartguard: "+string(e.Outcome),
			slog.String("outcome", string(e.Outcome)),
			slog.Int("status", e.Status),
			slog.String("kind", KindName(e.Kind)),
			slog.String("reason", e.Reason),
			slog.String("iss", e.Issuer),
			slog.String("sub", e.Subject),
			slog.String("client_id", e.ClientID),
			slog.String("fhir_user", e.FHIRUser),
			slog.String("method", e.Method),
			slog.String("interaction", string(e.Interaction)),
			slog.String("type", e.Type),
			slog.String("id", e.ID),
			slog.String("operation", e.Operation),
			slog.String("scope_context", sc),
			slog.String("patient", e.Patient),
			slog.Int("withheld", e.Withheld),
			slog.String("request_id", e.RequestID),
			slog.Duration("duration", e.Duration),
			slog.String("refused_by", e.RefusedBy),
			slog.String("rule", e.Rule),
			slog.Any("purpose_of_use", e.PurposeOfUse),
			slog.String("organization", e.Organization),
		)
	}
}

// FHIRAuditEvent renders e as a FHIR R4 AuditEvent following the IHE
// Basic Audit Log Patterns for a RESTful activity (type "rest", subtype
// the FHIR interaction; the client and the user as agents; this server,
// named observer, as source; the resource and the patient as entities).
// It holds ids only: no query, no resource contents, no token.
func FHIRAuditEvent(e AuditEvent, observer string) []byte {
	ev := map[string]any{
		"resourceType": "AuditEvent",
		"type":         auditCoding{System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest", Display: "Restful Operation"},
		"action":       auditAction(e.Interaction),
		"recorded":     e.Time.UTC().Format(time.RFC3339Nano),
		"outcome":      auditOutcome(e),
		"source":       map[string]any{"observer": auditReference{Display: observer}},
		"agent":        auditAgents(e),
	}
	if e.Interaction != "" {
		ev["subtype"] = []auditCoding{{System: "http://hl7.org/fhir/restful-interaction", Code: string(e.Interaction)}}
	}
	if e.Reason != "" {
		ev["outcomeDesc"] = e.Reason
	}
	if entities := auditEntities(e); len(entities) > 0 {
		ev["entity"] = entities
	}
	b, err := json.Marshal(ev)
	if err != nil { // cannot happen with these types
		return []byte(`{"resourceType":"AuditEvent"}`)
	}
	return b
}

// auditCoding, auditReference, auditAgent and auditEntity are the JSON
// shapes of the FHIR R4 Coding, Reference, AuditEvent.agent and
// AuditEvent.entity that FHIRAuditEvent writes, with only the elements it
// fills.
type auditCoding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type auditReference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

type auditAgent struct {
	Who       auditReference `json:"who"`
	Requestor bool           `json:"requestor"`
}

type auditEntity struct {
	What auditReference `json:"what"`
	Type *auditCoding   `json:"type,omitempty"`
	Role *auditCoding   `json:"role,omitempty"`
}

// auditOutcome is the AuditEvent.outcome code of e: "0" (success) for a
// request allowed or filtered, "4" (minor failure) for a refusal, "8"
// (serious failure) for a refusal the server caused (a 5xx status, such
// as no signing key available yet) rather than the client.
func auditOutcome(e AuditEvent) string {
	switch {
	case e.Outcome == OutcomeRefused && e.Status >= 500:
		return "8"
	case e.Outcome == OutcomeRefused:
		return "4"
	}
	return "0"
}

// auditAction is the AuditEvent.action code of the interaction i, from
// the SMART permission it needs: C, R, U or D for create, read, update and
// delete. Searches, and what needs no single permission (operations,
// batches, capabilities, or no interaction at all), are E (execute), as
// IHE Basic Audit Log Patterns code a query.
func auditAction(i scope.Interaction) string {
	switch i.Permission() {
	case scope.Create:
		return "C"
	case scope.Read:
		return "R"
	case scope.Update:
		return "U"
	case scope.Delete:
		return "D"
	}
	return "E"
}

// auditAgents lists the agents of e: the client (by client_id) and the
// user (a reference to fhirUser when the token names one, with the sub as
// display). The last of them is the requestor, so the user when there is
// one. A request without a token still needs an agent, as AuditEvent
// requires one: it is "unauthenticated".
func auditAgents(e AuditEvent) []auditAgent {
	agents := []auditAgent{}
	if e.ClientID != "" {
		agents = append(agents, auditAgent{Who: auditReference{Display: e.ClientID}})
	}
	if who := e.FHIRUser; who != "" || e.Subject != "" {
		r := auditReference{Display: e.Subject}
		if who != "" {
			r = auditReference{Reference: who, Display: e.Subject}
		}
		agents = append(agents, auditAgent{Who: r, Requestor: true})
	}
	if len(agents) == 0 {
		return []auditAgent{{Who: auditReference{Display: "unauthenticated"}, Requestor: true}}
	}
	agents[len(agents)-1].Requestor = true
	return agents
}

// auditEntities lists the entities of e: the resource acted on (its type,
// and its id for an instance interaction) as a system object, and the
// patient as a person in the patient role, so that the events about one
// patient can be found. A request on every type ("*") or none names no
// resource.
func auditEntities(e AuditEvent) []auditEntity {
	var entities []auditEntity
	if e.Type != "" && e.Type != "*" {
		what := e.Type
		if e.ID != "" {
			what += "/" + e.ID
		}
		entities = append(entities, auditEntity{What: auditReference{Reference: what},
			Type: &auditCoding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "2", Display: "System Object"}})
	}
	if e.Patient != "" {
		entities = append(entities, auditEntity{What: auditReference{Reference: "Patient/" + e.Patient},
			Type: &auditCoding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "1", Display: "Person"},
			Role: &auditCoding{System: "http://terminology.hl7.org/CodeSystem/object-role", Code: "1", Display: "Patient"}})
	}
	return entities
}

// FHIRAudit returns an Audit hook that writes each event to w as a FHIR R4
// AuditEvent (FHIRAuditEvent), one JSON object per line (NDJSON), safe
// for concurrent requests. A failed write is lost; to store the events in
// a FHIR server, hand FHIRAuditEvent's bytes to it from a hook of your
// own.
func FHIRAudit(w io.Writer, observer string) func(context.Context, AuditEvent) {
	var mu sync.Mutex
	return func(_ context.Context, e AuditEvent) {
		b := FHIRAuditEvent(e, observer)
		mu.Lock()
		defer mu.Unlock()
		w.Write(append(b, '\n'))
	}
}

// b2b returns the UDAP B2B extension's purpose of use and organization id
// of g's token ("extensions": {"hl7-b2b": {...}}), when it has them.
func b2b(g *smartctx.Grant) (purpose []string, org string) {
	ext, ok := g.Claim("extensions")
	if !ok {
		return nil, ""
	}
	m, _ := ext.(map[string]any)
	b, _ := m["hl7-b2b"].(map[string]any)
	if b == nil {
		return nil, ""
	}
	if list, ok := b["purpose_of_use"].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok {
				purpose = append(purpose, s)
			}
		}
	} else if s, ok := b["purpose_of_use"].(string); ok {
		purpose = []string{s}
	}
	org, _ = b["organization_id"].(string)
	return purpose, org
}
