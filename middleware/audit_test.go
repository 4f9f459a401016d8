package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/scope"
	"github.com/smartguard/smartguard/smarttest"
)

type countingMetrics struct {
	mu       sync.Mutex
	requests map[string]int
	tokens   map[string]int
	guarded  int
	withheld int
}

func (c *countingMetrics) Request(o smartmw.Outcome, kind string, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests[string(o)+"/"+kind]++
}

func (c *countingMetrics) Token(result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens[result]++
}

func (c *countingMetrics) Guarded(_, withheld int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.guarded++
	c.withheld += withheld
}

// TestAuditReportsEveryDecision: each request answered is reported once,
// with who, what, which patient, the outcome and its reason, and never
// the token, the query or resource contents, by Handler and by a chain of
// AuthenticateOnly and Authorize alike.
func TestAuditReportsEveryDecision(t *testing.T) {
	for _, chain := range []string{"Handler", "AuthenticateOnly+Authorize"} {
		t.Run(chain, func(t *testing.T) { testAuditReportsEveryDecision(t, chain) })
	}
}

func testAuditReportsEveryDecision(t *testing.T, chain string) {
	is := smarttest.NewIssuer(t)
	var events []smartmw.AuditEvent
	metrics := &countingMetrics{requests: map[string]int{}, tokens: map[string]int{}}
	guard := newGuard(t, is, func(cfg *smartmw.Config) {
		cfg.Hooks.Audit = func(_ context.Context, e smartmw.AuditEvent) { events = append(events, e) }
		cfg.Hooks.Metrics = metrics
	})
	h := guard.Handler(&anyPatientStore{})
	if chain != "Handler" {
		h = guard.AuthenticateOnly(guard.Authorize(&anyPatientStore{}))
	}
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient("123"),
		smarttest.Subject("alice"), smarttest.ClientID("growth-chart"), smarttest.FHIRUser("Patient/123"))
	tests := []struct {
		target, token string
		want          smartmw.AuditEvent
	}{
		{"/r4/Observation/o123", tok, smartmw.AuditEvent{Outcome: smartmw.OutcomeAllowed, Status: 200, Interaction: scope.InteractionRead, Type: "Observation", ID: "o123", Patient: "123", Context: scope.Patient}},
		{"/r4/Observation/o456", tok, smartmw.AuditEvent{Outcome: smartmw.OutcomeRefused, Status: 403, Kind: smartmw.ErrInsufficientScope, Reason: "the token does not allow this resource", Interaction: scope.InteractionRead, Type: "Observation", ID: "o456", Patient: "123", Context: scope.Patient}},
		{"/r4/Observation?patient=123&code=secret-code", tok, smartmw.AuditEvent{Outcome: smartmw.OutcomeFiltered, Status: 200, Interaction: scope.InteractionSearchType, Type: "Observation", Patient: "123", Withheld: 1, Context: scope.Patient}},
		{"/r4/Condition/c1", tok, smartmw.AuditEvent{Outcome: smartmw.OutcomeRefused, Status: 403, Kind: smartmw.ErrInsufficientScope, Reason: "the token has no scope for this request", Patient: "123", Interaction: scope.InteractionRead, Type: "Condition", ID: "c1"}},
		{"/r4/Observation/o123", "", smartmw.AuditEvent{Outcome: smartmw.OutcomeRefused, Status: 401, Kind: smartmw.ErrMissingToken, Reason: "access token required"}},
	}
	for _, tc := range tests {
		events = nil
		r := httptest.NewRequest("GET", tc.target, nil)
		r.Header.Set("X-Request-Id", "req-1")
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if len(events) != 1 {
			t.Fatalf("GET %s: %d events", tc.target, len(events))
		}
		e := events[0]
		if e.Outcome != tc.want.Outcome || e.Status != tc.want.Status || e.Kind != tc.want.Kind || e.Reason != tc.want.Reason ||
			e.Interaction != tc.want.Interaction || e.Type != tc.want.Type || e.ID != tc.want.ID || e.Patient != tc.want.Patient ||
			e.Withheld != tc.want.Withheld || e.Context != tc.want.Context || e.RequestID != "req-1" || e.Method != "GET" {
			t.Errorf("GET %s: event %+v, want %+v", tc.target, e, tc.want)
		}
		if tc.token != "" && (e.Subject != "alice" || e.ClientID != "growth-chart" || e.FHIRUser != "Patient/123" || e.Issuer != is.URL()) {
			t.Errorf("GET %s: who = %q %q %q %q", tc.target, e.Subject, e.ClientID, e.FHIRUser, e.Issuer)
		}
		dump := fmt.Sprintf("%+v", e)
		for _, secret := range []string{tok, "secret-code", `"subject"`} {
			if strings.Contains(dump, secret) {
				t.Errorf("GET %s: the event holds %q", tc.target, secret)
			}
		}
	}
	if metrics.requests["allowed/"] != 1 || metrics.requests["refused/insufficient_scope"] != 2 || metrics.requests["filtered/"] != 1 ||
		metrics.requests["refused/missing_token"] != 1 || metrics.tokens["verified"] != 1 || metrics.tokens["cached"] != 3 ||
		metrics.guarded != 3 || metrics.withheld != 1 {
		t.Errorf("metrics %+v", metrics)
	}
}

// TestAuditSinks: the slog sink logs stable attribute names, refusals at
// Warn; the FHIR sink writes one R4 AuditEvent per line with the patient
// as an entity.
func TestAuditSinks(t *testing.T) {
	e := smartmw.AuditEvent{Time: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), Outcome: smartmw.OutcomeRefused, Status: 403,
		Kind: smartmw.ErrInsufficientScope, Reason: "no", Subject: "alice", ClientID: "app", FHIRUser: "Patient/123",
		Method: "GET", Interaction: scope.InteractionRead, Type: "Observation", ID: "o1", Patient: "123", Context: scope.Patient}
	var logs bytes.Buffer
	smartmw.SlogAudit(slog.New(slog.NewJSONHandler(&logs, nil)))(context.Background(), e)
	var rec map[string]any
	if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"level": "WARN", "outcome": "refused", "status": 403.0, "kind": "insufficient_scope",
		"sub": "alice", "client_id": "app", "fhir_user": "Patient/123", "interaction": "read", "type": "Observation",
		"id": "o1", "patient": "123", "scope_context": "patient"} {
		if rec[k] != v {
			t.Errorf("slog %s = %v, want %v", k, rec[k], v)
		}
	}
	var out bytes.Buffer
	sink := smartmw.FHIRAudit(&out, "https://fhir.example.org/r4")
	sink(context.Background(), e)
	e.Outcome, e.Status, e.Kind, e.Reason = smartmw.OutcomeAllowed, 200, nil, ""
	sink(context.Background(), e)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, want := range []string{"4", "0"} {
		var ev struct {
			ResourceType string `json:"resourceType"`
			Outcome      string `json:"outcome"`
			Action       string `json:"action"`
			Subtype      []struct{ Code string }
			Agent        []struct {
				Who       struct{ Reference, Display string }
				Requestor bool
			}
			Entity []struct {
				What struct{ Reference string }
				Role *struct{ Code string }
			}
		}
		if err := json.Unmarshal([]byte(lines[i]), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.ResourceType != "AuditEvent" || ev.Outcome != want || ev.Action != "R" || len(ev.Subtype) != 1 || ev.Subtype[0].Code != "read" ||
			len(ev.Entity) != 2 || ev.Entity[1].What.Reference != "Patient/123" || ev.Entity[1].Role == nil || ev.Entity[1].Role.Code != "1" ||
			len(ev.Agent) != 2 || !ev.Agent[1].Requestor || ev.Agent[1].Who.Reference != "Patient/123" {
			t.Errorf("AuditEvent %s", lines[i])
		}
	}
}

// BenchmarkAudit compares the cached-token chain without an Audit hook
// (the default, which must cost nothing) and with one.
func BenchmarkAudit(b *testing.B) {
	is := smarttest.NewIssuer(b)
	tok := is.Token(b, smarttest.Scopes("user/Observation.rs"))
	for _, on := range []bool{false, true} {
		cfg := is.Config()
		if on {
			cfg.Hooks.Audit = func(context.Context, smartmw.AuditEvent) {}
		}
		guard, err := smartmw.New(b.Context(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		h := guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
		r := httptest.NewRequest("GET", "/r4/Observation?code=x", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		b.Run(fmt.Sprintf("hook=%v", on), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
}
