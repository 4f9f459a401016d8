package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestAuditLogKeepsTheLastRecords(t *testing.T) {
	l := newAuditLog(3)
	if got := l.last(10); len(got) != 0 {
		t.Fatalf("empty log: %v", got)
	}
	for i := 1; i <= 5; i++ {
		l.add(auditRecord{Time: time.Unix(int64(i), 0), Status: 200 + i})
	}
	l.add(auditRecord{Status: 999, Client: ehrClientID}) // the EHR's own reads are not the app's
	got := l.last(10)
	if len(got) != 3 || got[0].Status != 205 || got[1].Status != 204 || got[2].Status != 203 {
		t.Errorf("last: %v, want 205, 204, 203", got)
	}
	if got := l.last(1); len(got) != 1 || got[0].Status != 205 {
		t.Errorf("last(1): %v", got)
	}
}

func TestAuditLogHandler(t *testing.T) {
	l := newAuditLog(4)
	w := httptest.NewRecorder()
	l.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/demo/audit", nil))
	var out struct {
		Wired   bool          `json:"wired"`
		Records []auditRecord `json:"records"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Wired || len(out.Records) != 0 {
		t.Errorf("unwired log: %s", w.Body)
	}
	l.wired = true
	l.add(auditRecord{Method: "GET", Path: "/fhir/Patient/other", Status: 403, Reason: "insufficient_scope"})
	w = httptest.NewRecorder()
	l.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/demo/audit", nil))
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || !out.Wired || len(out.Records) != 1 || out.Records[0].Status != 403 {
		t.Errorf("wired log: %s", w.Body)
	}
}
