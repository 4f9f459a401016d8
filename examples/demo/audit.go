package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// auditRecord is one decision of the guard, as the demo app's audit panel
// lists it.
type auditRecord struct {
	Time    time.Time `json:"time"`
	Method  string    `json:"method"`
	Path    string    `json:"path"`
	Status  int       `json:"status"`
	Client  string    `json:"client,omitempty"`
	Patient string    `json:"patient,omitempty"`
	Reason  string    `json:"reason,omitempty"` // why it was allowed or refused
}

// auditLog keeps the last records in a ring. Nothing fills it until the
// guard reports its decisions (smartmw.Config.Audit, when the middleware
// has it): setup then passes each event to add, and wired says so.
type auditLog struct {
	mu    sync.Mutex
	ring  []auditRecord
	next  int  // where the next record goes
	full  bool // the ring has wrapped
	wired bool // something fills the log
}

func newAuditLog(size int) *auditLog { return &auditLog{ring: make([]auditRecord, size)} }

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
