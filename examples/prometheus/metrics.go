// Command prometheus protects a FHIR API and exports the Guard's metrics
// (smartmw.Config.Hooks.Metrics) to Prometheus, with its Go client, at /metrics.
package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	smartmw "github.com/smartguard/smartguard/middleware"
)

// Metrics implements smartmw.Metrics with Prometheus collectors:
//
//	smartguard_requests_total{outcome,kind}      answered requests
//	smartguard_request_duration_seconds{outcome} time in the Guard, handler included
//	smartguard_tokens_total{result}              tokens: cached, verified, refused
//	smartguard_guarded_bytes                     sizes of responses the guard held
//	smartguard_withheld_entries_total            entries the guard withheld
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	tokens   *prometheus.CounterVec
	guarded  prometheus.Histogram
	withheld prometheus.Counter
}

// NewMetrics makes the collectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smartguard_requests_total", Help: "Requests answered by the Guard, by outcome and kind of refusal.",
		}, []string{"outcome", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "smartguard_request_duration_seconds", Help: "Time in the Guard, handler included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}, []string{"outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smartguard_tokens_total", Help: "Tokens presented, by result: cached, verified, refused.",
		}, []string{"result"}),
		guarded: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "smartguard_guarded_bytes", Help: "Sizes of the responses the response guard held.",
			Buckets: prometheus.ExponentialBuckets(1024, 4, 8),
		}),
		withheld: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smartguard_withheld_entries_total", Help: "Entries the response guard withheld.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.tokens, m.guarded, m.withheld)
	return m
}

var _ smartmw.Metrics = (*Metrics)(nil)

// Request counts one answered request.
func (m *Metrics) Request(o smartmw.Outcome, kind string, d time.Duration) {
	m.requests.WithLabelValues(string(o), kind).Inc()
	m.duration.WithLabelValues(string(o)).Observe(d.Seconds())
}

// Token counts one token presented.
func (m *Metrics) Token(result string) { m.tokens.WithLabelValues(result).Inc() }

// Guarded records one response the guard held.
func (m *Metrics) Guarded(bytes, withheld int) {
	m.guarded.Observe(float64(bytes))
	m.withheld.Add(float64(withheld))
}
