package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
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

func TestAuditHook(t *testing.T) {
	var none *auditLog
	if none.hook() != nil {
		t.Error("a nil log gives a hook")
	}
	l := newAuditLog(4)
	h := l.hook()
	h(context.Background(), smartmw.AuditEvent{Method: "GET", Type: "Patient", ID: "other", Interaction: scope.InteractionRead,
		Status: 403, Outcome: smartmw.OutcomeRefused, Kind: smartmw.ErrInsufficientScope, Reason: "patient scopes reach only the patient in context",
		ClientID: "demo-app", Patient: "example"})
	h(context.Background(), smartmw.AuditEvent{Method: "GET", Type: "Patient", ID: "example", Operation: "$everything",
		Status: 200, Outcome: smartmw.OutcomeFiltered, Context: scope.Patient, Withheld: 2, ClientID: "demo-app"})
	h(context.Background(), smartmw.AuditEvent{Method: "GET", Type: "Patient", Status: 200, ClientID: ehrClientID})
	w := httptest.NewRecorder()
	l.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/demo/audit", nil))
	var out struct {
		Wired   bool          `json:"wired"`
		Records []auditRecord `json:"records"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || !out.Wired || len(out.Records) != 2 {
		t.Fatalf("log: %s", w.Body)
	}
	ev, refused := out.Records[0], out.Records[1]
	if refused.What != "Patient/other" || refused.Kind != "insufficient_scope" || refused.Outcome != "refused" || refused.Patient != "example" || refused.Interaction != "read" {
		t.Errorf("refusal record %+v", refused)
	}
	if ev.What != "Patient/example/$everything" || ev.Context != "patient" || ev.Withheld != 2 || ev.Outcome != "filtered" {
		t.Errorf("filtered record %+v", ev)
	}
}

// TestAuditPanelShowsTheGuardsDecisions: the demo wires the guard's audit
// hook to the panel's log.
func TestAuditPanelShowsTheGuardsDecisions(t *testing.T) {
	d, _ := startDemo(t)
	fetch(t, http.MethodGet, d.root+"/ehr/", nil) // the EHR's own reads are left out
	tok := tokenFor(t, d, url.Values{"grant_type": {"client_credentials"}, "scope": {"launch/patient patient/Patient.r"}, "patient": {"example"}})
	for i, target := range []string{"/Patient/example", "/Patient/other"} {
		req, _ := http.NewRequest(http.MethodGet, d.audience+target, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Request-Id", fmt.Sprintf("r-%d", i+1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var out struct {
		Wired   bool          `json:"wired"`
		Records []auditRecord `json:"records"`
	}
	if err := json.Unmarshal([]byte(fetch(t, http.MethodGet, d.root+"/demo/audit", nil).body), &out); err != nil || !out.Wired {
		t.Fatalf("audit: %v %+v", err, out)
	}
	if len(out.Records) != 2 || out.Records[0].RequestID != "r-2" || out.Records[0].Kind != "insufficient_scope" ||
		out.Records[1].What != "Patient/example" || out.Records[1].Outcome != "allowed" || out.Records[1].Client != "demo-app" {
		t.Errorf("records %+v", out.Records)
	}
}

// TestAuditLines: the demo writes each decision as a slog line, without
// the token, beside the panel's record.
func TestAuditLines(t *testing.T) {
	var out strings.Builder
	l := newAuditLog(2)
	h := l.hooks(&out)
	h(context.Background(), smartmw.AuditEvent{Outcome: smartmw.OutcomeRefused, Status: 403, Kind: smartmw.ErrInsufficientScope,
		Method: "GET", Type: "Patient", ID: "other", ClientID: "demo-app"})
	if line := out.String(); !strings.Contains(line, "outcome=refused") || !strings.Contains(line, "kind=insufficient_scope") || !strings.Contains(line, "id=other") {
		t.Errorf("slog line %q", line)
	}
	if got := l.last(10); len(got) != 1 || got[0].What != "Patient/other" {
		t.Errorf("panel records %v", got)
	}
}
