package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// recordLog is a slog.Handler that keeps the records.
type recordLog struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r)
	h.mu.Unlock()
	return nil
}
func (h *recordLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordLog) WithGroup(string) slog.Handler      { return h }

// count returns the number of records at level.
func (h *recordLog) count(level slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if r.Level == level {
			n++
		}
	}
	return n
}

// TestWaitForKeys: with WaitForKeys, New fails when no key can be fetched
// within the bound and succeeds once one can; without it New succeeds
// and Ready says the Guard is not ready.
func TestWaitForKeys(t *testing.T) {
	tests := []struct {
		name   string
		wait   time.Duration
		downMS int // the JWKS fails this long, -1 for ever
		newErr bool
		ready  bool
	}{
		{name: "keys at once", wait: time.Second, ready: true},
		{name: "JWKS down, bound passes", wait: 300 * time.Millisecond, downMS: -1, newErr: true},
		{name: "JWKS up within the bound", wait: 3 * time.Second, downMS: 150, ready: true},
		{name: "no wait: New succeeds, not ready", downMS: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
			if tc.downMS != 0 {
				as.failJWKS.Store(true)
			}
			if tc.downMS > 0 {
				time.AfterFunc(time.Duration(tc.downMS)*time.Millisecond, func() { as.failJWKS.Store(false) })
			}
			cfg := smartmw.Config{Issuer: smartmw.Issuer{
				URL:      as.issuer(),
				Audience: testAudience,
			}, Keys: smartmw.KeyOptions{
				Wait:            tc.wait,
				RefreshInterval: 50 * time.Millisecond,
			}, Hooks: smartmw.Hooks{Logger: slog.New(&recordLog{})}}
			start := time.Now()
			m, err := smartmw.New(t.Context(), cfg)
			if tc.newErr {
				if err == nil {
					t.Fatal("New succeeded without keys")
				}
				if !containsAll(err.Error(), as.issuer(), "no key") {
					t.Errorf("error %q does not say which issuer has no key", err)
				}
				if d := time.Since(start); d > tc.wait+2*time.Second {
					t.Errorf("New took %v, bound %v", d, tc.wait)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = m.Ready(t.Context())
			if (err == nil) != tc.ready {
				t.Fatalf("Ready = %v, want ready %v", err, tc.ready)
			}
			if err != nil && !errors.Is(err, smartmw.ErrUnavailable) {
				t.Errorf("Ready error %v is not ErrUnavailable", err)
			}
		})
	}
}

// TestNoKeyHeld503: while no key is held, a token that passes every
// keyless check is answered 503 temporarily_unavailable with Retry-After
// and an OperationOutcome (not 401: the client is not at fault), a token
// that fails one is still 401, the readiness handler says 503; once the
// JWKS answers, both recover.
func TestNoKeyHeld503(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
	as.failJWKS.Store(true)
	m := newFromAS(t, as, func(c *smartmw.Config) { c.Keys.UnknownKIDInterval = 20 * time.Millisecond })
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[]}`))
	}))
	good := asToken(t, as, jwt.SigningMethodRS256, rsaKey(), nil)
	expired := goodClaims(as)
	expired["exp"] = testNow.Add(-time.Hour).Unix()
	get := func(h http.Handler, target, tok string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	rec := get(h, "/r4/Observation?patient=123", good)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", rec.Code, rec.Body)
	}
	if s, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q", rec.Header().Get("Retry-After"))
	}
	if rec.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("a 503 challenges the client: %q", rec.Header().Get("WWW-Authenticate"))
	}
	var oo struct {
		ResourceType string
		Issue        []struct{ Code, Diagnostics string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 || oo.Issue[0].Code != "transient" {
		t.Errorf("body %s, want an OperationOutcome with a transient issue", rec.Body)
	}
	if rec := get(h, "/r4/Observation?patient=123", forge(t, jwt.SigningMethodRS256, rsaKey(), expired, nil)); rec.Code != http.StatusUnauthorized {
		t.Errorf("expired token: %d, want 401 even without keys", rec.Code)
	}
	if rec := get(m.ReadyHandler(), "/ready", ""); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("ReadyHandler: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}

	as.failJWKS.Store(false)
	time.Sleep(30 * time.Millisecond)
	if rec := get(m.ReadyHandler(), "/ready", ""); rec.Code != http.StatusOK || rec.Body.String() != "ready\n" {
		t.Errorf("ReadyHandler after recovery: %d %q", rec.Code, rec.Body)
	}
	if rec := get(h, "/r4/Observation?patient=123", good); rec.Code != http.StatusOK {
		t.Errorf("after recovery: %d %s", rec.Code, rec.Body)
	}
}

// TestOutageLoggedOncePerInterval: an unreachable JWKS, retried in the
// background and on demand by many requests, is logged once per
// interval (one minute), and its end once.
func TestOutageLoggedOncePerInterval(t *testing.T) {
	as := newFakeAS(t, jwk(rsaKey(), "k1", nil))
	as.failJWKS.Store(true)
	logs := &recordLog{}
	m := newFromAS(t, as, func(c *smartmw.Config) {
		c.Hooks.Logger = slog.New(logs)
		c.Keys.RefreshInterval = 10 * time.Millisecond // background retries every 10 ms
		c.Keys.UnknownKIDInterval = time.Millisecond
	})
	tok := asToken(t, as, jwt.SigningMethodRS256, rsaKey(), nil)
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		m.Verify(context.Background(), tok)
		time.Sleep(5 * time.Millisecond)
	}
	if hits := as.jwksHits.Load(); hits < 10 {
		t.Fatalf("only %d fetches: the test does not test", hits)
	}
	if n := logs.count(slog.LevelError); n != 1 {
		t.Errorf("%d error records for one outage within a minute, want 1", n)
	}
	as.failJWKS.Store(false)
	for i := 0; i < 100 && m.Ready(context.Background()) != nil; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if n := logs.count(slog.LevelInfo); n != 1 {
		t.Errorf("%d info records for the recovery, want 1", n)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
