package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartguard/smartguard/examples/internal/exampletest"
	smartmw "github.com/smartguard/smartguard/middleware"
	"github.com/smartguard/smartguard/smarttest"
)

func TestProtectedLikeEveryExample(t *testing.T) {
	exampletest.Check(t, func(ctx context.Context, cfg smartmw.Config, origins []string) (http.Handler, error) {
		cfg.AllowedOrigins = origins
		return setup(ctx, cfg, prometheus.NewRegistry())
	})
}

// TestMetricsExported: the Guard's counters reach /metrics.
func TestMetricsExported(t *testing.T) {
	is := smarttest.NewIssuer(t, smarttest.ForAudience("https://fhir.example.org/fhir"))
	h, err := setup(t.Context(), is.Config(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	tok := is.Token(t, smarttest.Scopes("launch/patient patient/Observation.rs"), smarttest.Patient("example"))
	for _, target := range []string{"/fhir/Observation?patient=example", "/fhir/Observation?patient=other", "/fhir/Patient/example"} {
		r := httptest.NewRequest("GET", target, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`smartguard_requests_total{kind="",outcome="allowed"} 1`,
		`smartguard_requests_total{kind="insufficient_scope",outcome="refused"} 2`,
		`smartguard_tokens_total{result="cached"} 2`,
		`smartguard_tokens_total{result="verified"} 1`,
		`smartguard_guarded_bytes_count 1`,
	} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
