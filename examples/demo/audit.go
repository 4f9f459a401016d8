package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// auditRecord is one decision of the guard, as the demo app's audit panel
// lists it: what smartmw.AuditEvent says, without the token.
type auditRecord struct {
	Time        time.Time `json:"time"`
	Method      string    `json:"method"`
	What        string    `json:"what"` // "Patient/other", "Observation", "Patient/example/$everything"
	Interaction string    `json:"interaction,omitempty"`
	Status      int       `json:"status"`
	Outcome     string    `json:"outcome"`              // allowed, filtered, refused
	Context     string    `json:"context,omitempty"`    // the scope context that allowed it: patient, user, system
	Kind        string    `json:"kind,omitempty"`       // a refusal's kind: insufficient_scope, invalid_token, ...
	Reason      string    `json:"reason,omitempty"`     // a refusal's description
	Client      string    `json:"client,omitempty"`     // client_id
	Patient     string    `json:"patient,omitempty"`    // whose compartment limited it
	Withheld    int       `json:"withheld,omitempty"`   // entries the response guard removed
	RequestID   string    `json:"request_id,omitempty"` // the request's X-Request-Id
}

// auditLog keeps the guard's last decisions in a ring, for the panel.
type auditLog struct {
	mu    sync.Mutex
	ring  []auditRecord
	next  int  // where the next record goes
	full  bool // the ring has wrapped
	wired bool // the guard reports to it (hook was called)
}

func newAuditLog(size int) *auditLog { return &auditLog{ring: make([]auditRecord, size)} }

// hook is the Guard's Config.Hooks.Audit that fills l; nil (no hook, at no
// cost) when l is nil.
func (l *auditLog) hook() func(context.Context, smartmw.AuditEvent) {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	l.wired = true
	l.mu.Unlock()
	return func(_ context.Context, e smartmw.AuditEvent) { l.add(recordOf(e)) }
}

// hooks is the demo's Config.Hooks.Audit: every decision as a slog line on w
// (when not nil) and into l (when not nil) for the app's panel.
func (l *auditLog) hooks(w io.Writer) func(context.Context, smartmw.AuditEvent) {
	panel := l.hook()
	if w == nil {
		return panel
	}
	line := smartmw.SlogAudit(slog.New(slog.NewTextHandler(w, nil)))
	return func(ctx context.Context, e smartmw.AuditEvent) {
		line(ctx, e)
		if panel != nil {
			panel(ctx, e)
		}
	}
}

// recordOf is the panel's view of an audit event.
func recordOf(e smartmw.AuditEvent) auditRecord {
	what := e.Type
	if e.ID != "" {
		what += "/" + e.ID
	}
	if e.Operation != "" {
		if what != "" {
			what += "/"
		}
		what += e.Operation
	}
	// What stays empty when the guard refused the request before it
	// could classify it (no token, a malformed URL): the panel then labels
	// it by its X-Request-Id.
	return auditRecord{Time: e.Time, Method: e.Method, What: what, Interaction: string(e.Interaction),
		Status: e.Status, Outcome: string(e.Outcome), Context: e.Context.String(), Kind: smartmw.KindName(e.Kind),
		Reason: e.Reason, Client: e.ClientID, Patient: e.Patient, Withheld: e.Withheld, RequestID: e.RequestID}
}

// add keeps r, dropping the oldest record when the ring is full. Records
// of the EHR's own reads (client demo-ehr) are left out: the panel is
// about the app.
func (l *auditLog) add(r auditRecord) {
	if r.Client == ehrClientID {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = r
	l.next = (l.next + 1) % len(l.ring)
	if l.next == 0 {
		l.full = true
	}
}

// last returns up to n records, newest first.
func (l *auditLog) last(n int) []auditRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	count := l.next
	if l.full {
		count = len(l.ring)
	}
	n = min(n, count)
	out := make([]auditRecord, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, l.ring[(l.next-i+len(l.ring))%len(l.ring)])
	}
	return out
}

// ServeHTTP answers the panel: {"wired": bool, "records": [...]}.
func (l *auditLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	wired := l.wired
	l.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"wired": wired, "records": l.last(20)})
}
